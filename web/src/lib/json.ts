// Strict JSON decoding, mirroring Go's encoding/json with
// DisallowUnknownFields: unknown fields are errors, types must match, a
// missing or null field is its zero value. Signed bodies are decoded this
// way so that what verifies is exactly what Go would accept.

import { b64decode, fromUtf8 } from './bytes';

/** A decoder turns a parsed JSON value into T, or throws naming the path. */
export type Dec<T> = (v: unknown, path: string) => T;

export class MalformedError extends Error {
  constructor(msg: string) { super('malformed object: ' + msg); this.name = 'MalformedError'; }
}

function fail(path: string, want: string, v: unknown): never {
  throw new MalformedError(`${path}: want ${want}, got ${v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v}`);
}

export const str: Dec<string> = (v, p) => (v === undefined || v === null ? '' : typeof v === 'string' ? v : fail(p, 'string', v));
export const bool: Dec<boolean> = (v, p) => (v === undefined || v === null ? false : typeof v === 'boolean' ? v : fail(p, 'boolean', v));
export const float: Dec<number> = (v, p) => (v === undefined || v === null ? 0 : typeof v === 'number' ? v : fail(p, 'number', v));
export const int: Dec<number> = (v, p) => {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(p, 'integer', v);
  return v as number;
};
export const uint: Dec<number> = (v, p) => {
  const n = int(v, p);
  if (n < 0) throw new MalformedError(`${p}: negative value for an unsigned field`);
  return n;
};
/** []byte: standard base64. */
export const bytes: Dec<Uint8Array> = (v, p) => {
  if (v === undefined || v === null) return new Uint8Array(0);
  if (typeof v !== 'string') fail(p, 'base64 string', v);
  try {
    return b64decode(v as string);
  } catch (e) {
    throw new MalformedError(`${p}: ${(e as Error).message}`);
  }
};

export function arr<T>(d: Dec<T>): Dec<T[]> {
  return (v, p) => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) fail(p, 'array', v);
    return (v as unknown[]).map((x, i) => d(x, `${p}[${i}]`));
  };
}

/** An optional (pointer) field: undefined when absent or null. */
export function opt<T>(d: Dec<T>): Dec<T | undefined> {
  return (v, p) => (v === undefined || v === null ? undefined : d(v, p));
}

type Fields = Record<string, Dec<unknown>>;
type Out<F extends Fields> = { [K in keyof F]: ReturnType<F[K]> };

/** A struct: every key must be one of fields (Go's DisallowUnknownFields). */
export function obj<F extends Fields>(fields: F): Dec<Out<F>> {
  return (v, p) => {
    if (v === undefined || v === null) v = {};
    if (typeof v !== 'object' || Array.isArray(v)) fail(p, 'object', v);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!Object.prototype.hasOwnProperty.call(fields, k)) throw new MalformedError(`${p}: unknown field "${k}"`);
    }
    const out: Record<string, unknown> = {};
    for (const [k, d] of Object.entries(fields)) out[k] = d(o[k], p ? `${p}.${k}` : k);
    return out as Out<F>;
  };
}

/** Parses JSON text (or UTF-8 bytes) and decodes it strictly. */
export function decodeStrict<T>(data: string | Uint8Array, d: Dec<T>, what: string): T {
  const text = typeof data === 'string' ? data : fromUtf8(data);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new MalformedError(`${what}: ${(e as Error).message}`);
  }
  return d(v, what);
}

// Times. Go writes time.Time as RFC 3339 with up to nine fractional
// digits; comparisons (a sealed header's start against its manifest's)
// must be exact, so times keep nanoseconds.

const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** An instant with nanosecond precision, as Go's time.Time carries it. */
export class GoTime {
  /** Nanoseconds since the Unix epoch. */
  readonly ns: bigint;
  constructor(ns: bigint) { this.ns = ns; }
  static fromDate(d: Date): GoTime { return new GoTime(BigInt(d.getTime()) * 1_000_000n); }
  static parse(s: string): GoTime {
    const m = rfc3339.exec(s);
    if (!m) throw new MalformedError(`time ${JSON.stringify(s)} is not RFC 3339`);
    const [y, mo, d, h, mi, se] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) throw new MalformedError(`time ${JSON.stringify(s)} out of range`);
    const days = BigInt(Math.floor(Date.UTC(y, mo - 1, d) / 86400000));
    if (y < 100) throw new MalformedError(`time ${JSON.stringify(s)}: year before 100 is not supported`);
    let sec = days * 86400n + BigInt(h * 3600 + mi * 60 + se);
    if (m[9]) sec -= BigInt((m[9] === '-' ? -1 : 1) * (Number(m[10]) * 3600 + Number(m[11]) * 60));
    const frac = BigInt((m[7] ?? '').padEnd(9, '0') || '0');
    return new GoTime(sec * 1_000_000_000n + frac);
  }
  get date(): Date { return new Date(Number(this.ns / 1_000_000n)); }
  get ms(): number { return Number(this.ns / 1_000_000n); }
  equal(o: GoTime): boolean { return this.ns === o.ns; }
  before(o: GoTime): boolean { return this.ns < o.ns; }
  after(o: GoTime): boolean { return this.ns > o.ns; }
  addMs(ms: number): GoTime { return new GoTime(this.ns + BigInt(Math.round(ms)) * 1_000_000n); }
  get isZero(): boolean { return this.ns === zeroNs; }
  /** RFC 3339 in UTC with the shortest fraction, as Go's MarshalJSON writes it. */
  toJSON(): string {
    let sec = this.ns / 1_000_000_000n;
    let frac = this.ns % 1_000_000_000n;
    if (frac < 0n) { frac += 1_000_000_000n; sec -= 1n; }
    const base = new Date(Number(sec) * 1000).toISOString().slice(0, 19);
    const f = frac === 0n ? '' : '.' + frac.toString().padStart(9, '0').replace(/0+$/, '');
    return base + f + 'Z';
  }
}

// Go's zero time.Time, 0001-01-01T00:00:00Z.
const zeroNs = -62135596800n * 1_000_000_000n;
export const zeroTime = new GoTime(zeroNs);

/** time.Time: RFC 3339; missing or null is the zero time. */
export const time: Dec<GoTime> = (v, p) => {
  if (v === undefined || v === null) return zeroTime;
  if (typeof v !== 'string') fail(p, 'RFC 3339 time', v);
  if (v === '0001-01-01T00:00:00Z') return zeroTime;
  try {
    return GoTime.parse(v as string);
  } catch (e) {
    throw new MalformedError(`${p}: ${(e as Error).message}`);
  }
};
