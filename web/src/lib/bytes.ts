// Byte helpers shared by the library: base64 (standard, as Go's
// encoding/json writes []byte), the lowercase unpadded base32 of
// Porchlight ids, hex, UTF-8 and big-endian integers.

const enc = new TextEncoder();
const dec = new TextDecoder();

export function utf8(s: string): Uint8Array { return enc.encode(s); }
export function fromUtf8(b: Uint8Array): string { return dec.decode(b); }

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64IDX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64IDX[B64.charCodeAt(i)] = i;

/** Standard padded base64, as Go's encoding/json writes []byte. */
export function b64encode(b: Uint8Array): string {
  let s = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const v = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    s += B64[v >> 18] + B64[(v >> 12) & 63] + B64[(v >> 6) & 63] + B64[v & 63];
  }
  if (i < b.length) {
    const v = (b[i] << 16) | ((i + 1 < b.length ? b[i + 1] : 0) << 8);
    s += B64[v >> 18] + B64[(v >> 12) & 63] + (i + 1 < b.length ? B64[(v >> 6) & 63] : '=') + '=';
  }
  return s;
}

/**
 * Strict standard base64 (padding required, as Go's encoding/json reads
 * []byte; \r and \n are skipped like Go does). Throws on anything else.
 */
export function b64decode(s: string): Uint8Array {
  if (s.indexOf('\n') >= 0 || s.indexOf('\r') >= 0) s = s.replace(/[\r\n]/g, '');
  if (s.length % 4 !== 0) throw new Error('malformed base64: length is not a multiple of 4');
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  const val = (i: number) => {
    const c = s.charCodeAt(i);
    const v = c < 128 ? B64IDX[c] : -1;
    if (v < 0) throw new Error('malformed base64: invalid character');
    return v;
  };
  const full = s.length - (pad ? 4 : 0);
  let o = 0;
  for (let i = 0; i < full; i += 4) {
    const v = (val(i) << 18) | (val(i + 1) << 12) | (val(i + 2) << 6) | val(i + 3);
    out[o++] = v >> 16;
    out[o++] = (v >> 8) & 255;
    out[o++] = v & 255;
  }
  if (pad) {
    const i = full;
    const a = val(i), b = val(i + 1), c = pad === 1 ? val(i + 2) : 0;
    const v = (a << 18) | (b << 12) | (c << 6);
    // Go ignores non-zero padding bits; refusing them keeps encodings unique.
    if ((pad === 1 && (v & 0xff) !== 0) || (pad === 2 && (v & 0xffff) !== 0)) throw new Error('malformed base64: non-canonical padding bits');
    out[o++] = v >> 16;
    if (pad === 1) out[o++] = (v >> 8) & 255;
  }
  return out;
}

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** Lowercase RFC 4648 base32 without padding (Porchlight ids). */
export function b32encode(b: Uint8Array): string {
  let s = '';
  let bits = 0;
  let acc = 0;
  for (const x of b) {
    acc = (acc << 8) | x;
    bits += 8;
    while (bits >= 5) {
      s += B32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) s += B32[(acc << (5 - bits)) & 31];
  return s;
}

export function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error('malformed hex');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

export function u64be(n: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n);
  return b;
}

export function readU64be(b: Uint8Array, off = 0): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off);
}

export function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return b;
}

/** An ArrayBuffer-backed copy, as WebCrypto and Blob want (TS 5.9 typing). */
export function buf(b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(new ArrayBuffer(b.length));
  out.set(b);
  return out;
}
