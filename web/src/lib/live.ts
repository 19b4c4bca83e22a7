// The live view's receiver (docs/formats.md "Live view"; Go:
// internal/seal/live.go, internal/keys/live.go). porchlightd relays the hub's
// messages unchanged: first a text hello, signed by the camera's hub, with a
// session key sealed to this device; then binary messages
//
//   0x01 | seq (uint64 BE) | AES-256-GCM(key, nonce = 4 zero bytes ‖ seq, aad = "porchlight-live-v1" 0x00 session)
//
// numbered from 0: seq 0 is the init segment, later ones 8 bytes of capture
// time (Unix ms) ‖ moof+mdat. Anything out of order, replayed, altered or
// for another session breaks the stream for good.

import { decrypt } from './agex';
import { buf, concat, readU64be, utf8 } from './bytes';
import { deviceSecrets } from './device';
import { decodeStrict, int, MalformedError, obj, str, time, bytes as bytesDec, type Dec } from './json';
import { decodeBody, FormatVersion, MaxSigned, parseSigned, SignatureError, TypeLive, validID, verifySigned, VersionError } from './signed';
import type { Household } from './household';
import { api, ApiError } from './api';

export interface LiveHandlers {
  onInit(mime: string, init: Uint8Array): void;
  onFragment(data: Uint8Array, capturedMs: number): void;
  onStatus(state: string): void;
  onClose(code: number, reason: string): void;
}

/** seal.MaxLiveMessage */
export const MaxLiveMessage = 32 << 20;
const headerSize = 9;

/** The stream cannot be trusted any further: close it and open a new live session. */
export class LiveStreamError extends Error {
  constructor(msg: string) { super('live stream broken: ' + msg); this.name = 'LiveStreamError'; }
}

/** What the viewer asked for: a hello naming anything else is refused (keys.LiveWant). */
export interface LiveWant { household: string; camera: string; session: string; device: string; hub: { id: string; sign: Uint8Array } }

export interface LiveHello { household: string; camera: string; hub: string; session: string; device: string; mime: string; created: Date }

const helloDec = obj({ v: int, household: str, camera: str, hub: str, session: str, device: str, key: bytesDec, mime: str, created: time });
const signedDec: Dec<{ v: number; type: string; signer: string; body: string; sig: string }> = obj({ v: int, type: str, signer: str, body: str, sig: str });

/**
 * LiveReceiver opens one session's messages: hello() first, then open() for
 * each binary message, in order. After any error it refuses everything.
 */
export class LiveReceiver {
  private key?: CryptoKey;
  private aad: Uint8Array;
  private next = 0n;
  private broken?: Error;
  private want: LiveWant;
  private kem: string;
  hello?: LiveHello;

  constructor(want: LiveWant, deviceKem: string) {
    this.want = want;
    this.kem = deviceKem;
    this.aad = utf8('porchlight-live-v1\x00' + want.session);
  }

  /** Verifies the hello text message and unwraps the session key (keys.OpenLiveHello). */
  async openHello(text: string): Promise<LiveHello> {
    if (this.key || this.broken) throw this.fail(new LiveStreamError('a second hello'));
    try {
      if (text.length > MaxSigned) throw new MalformedError(`live hello larger than ${MaxSigned} bytes`);
      const m = decodeStrict(text, obj({ type: str, signed: (v: unknown) => v }), 'live hello');
      if (m.type !== 'hello') throw new MalformedError(`live message type "${m.type}", want "hello"`);
      signedDec(m.signed, 'live hello.signed'); // strict shape of the raw envelope
      const env = parseSigned(utf8(JSON.stringify(m.signed)), TypeLive);
      if (env.signer !== this.want.hub.id) throw new SignatureError(`live hello signed by ${env.signer}, not a trusted hub`);
      verifySigned(env, this.want.hub.sign);
      const h = decodeBody(env, helloDec);
      if (h.v !== FormatVersion) throw new VersionError(`live hello v${h.v}`);
      if (![h.household, h.camera, h.hub, h.session, h.device].every(validID)) throw new MalformedError('live hello needs household, camera, hub, session and device ids');
      if (!h.mime.startsWith('video/mp4') || h.created.isZero) throw new MalformedError('live hello needs a video/mp4 MIME type and a creation time');
      if (h.hub !== env.signer) throw new SignatureError(`live hello names hub ${h.hub} but is signed by ${env.signer}`);
      const w = this.want;
      if (h.household !== w.household || h.camera !== w.camera || h.session !== w.session || h.device !== w.device) {
        throw new SignatureError('live hello is for another household, camera, session or device');
      }
      let raw: Uint8Array;
      try {
        raw = await decrypt(h.key, this.kem);
      } catch (e) {
        throw new Error(`unwrap the session key: ${(e as Error).message}`);
      }
      if (raw.length !== 32) throw new MalformedError(`live key of ${raw.length} bytes, want 32`);
      this.key = await crypto.subtle.importKey('raw', buf(raw), 'AES-GCM', false, ['decrypt']);
      this.hello = { household: h.household, camera: h.camera, hub: h.hub, session: h.session, device: h.device, mime: h.mime, created: h.created.date };
      return this.hello;
    } catch (e) {
      throw this.fail(new LiveStreamError('live hello: ' + (e as Error).message));
    }
  }

  /** Decrypts the next binary message: seq 0's plaintext is the init segment, later ones capture time ‖ media. */
  async open(msg: Uint8Array): Promise<{ seq: number; plaintext: Uint8Array }> {
    if (this.broken) throw new LiveStreamError(`an earlier message was refused (${this.broken.message})`);
    if (!this.key) throw this.fail(new LiveStreamError('media before the hello'));
    if (msg.length > MaxLiveMessage) throw this.fail(new LiveStreamError(`live message of ${msg.length} bytes`));
    if (msg.length < headerSize + 16) throw this.fail(new LiveStreamError('live message too short'));
    if (msg[0] !== 0x01) throw this.fail(new LiveStreamError(`unsupported format version: live message version ${msg[0]}`));
    const seq = readU64be(msg, 1);
    if (seq !== this.next) throw this.fail(new LiveStreamError(`message ${seq} where ${this.next} was due`));
    const iv = concat(new Uint8Array(4), msg.subarray(1, 9));
    let pt: Uint8Array;
    try {
      pt = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: buf(iv), additionalData: buf(this.aad) }, this.key, buf(msg.subarray(headerSize))));
    } catch {
      throw this.fail(new LiveStreamError(`message ${seq} does not authenticate`));
    }
    if (seq > 0n && pt.length < 8) throw this.fail(new LiveStreamError(`message ${seq}: malformed`));
    this.next++;
    return { seq: Number(seq), plaintext: pt };
  }

  private fail(e: Error): Error {
    this.broken ??= e;
    return e;
  }
}

/** Splits a media message's plaintext (seq ≥ 1): capture time in Unix ms, then moof+mdat. */
export function parseLiveFragment(pt: Uint8Array): { capturedMs: number; media: Uint8Array } {
  if (pt.length < 8) throw new MalformedError('live fragment shorter than its timestamp');
  return { capturedMs: Number(readU64be(pt, 0)), media: pt.subarray(8) };
}

/** Close code the browser uses when it refuses the stream (a verification failure). */
export const CloseRefused = 4100;
/** Close code reported when the session could not be started (the reason says why). */
export const CloseStartFailed = 4101;

/**
 * openLive starts a live session of camera for this device (POST
 * /v1/cameras/{id}/live), opens its WebSocket, verifies the hello against the
 * camera's hub from the verified roster, and calls the handlers in order.
 * onClose is called once: with porchlightd's close code (4001
 * session_ended, 4002 hub_unreachable, 4003 camera_offline, 4004 too_slow),
 * CloseRefused with the reason when this browser refused the stream, or
 * CloseStartFailed when the session could not be started (a 401 is
 * reported as 4001 session_ended).
 * close() ends it without calling onClose.
 */
export function openLive(h: Household, camera: string, handlers: LiveHandlers): { close(): void } {
  let ws: WebSocket | undefined;
  let closed = false;
  let ended = false;
  const end = (code: number, reason: string) => {
    if (ended || closed) return;
    ended = true;
    handlers.onClose(code, reason);
  };
  const start = async () => {
    const hub = await h.cameraHub(camera);
    const sess = await api<{ id: string; camera: string; url: string; expires_at: string }>('POST', `/v1/cameras/${encodeURIComponent(camera)}/live`, { device_id: h.device.id });
    if (closed) return;
    if (!validID(sess.id) || sess.camera !== camera) throw new Error('porchlightd answered a live session for another camera');
    const rx = new LiveReceiver({ household: hub.household, camera, session: sess.id, device: h.device.id, hub }, deviceSecrets(h.device).kem);
    const url = new URL(sess.url, location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const sock = new WebSocket(url.href);
    ws = sock;
    sock.binaryType = 'arraybuffer';
    handlers.onStatus('connecting');
    // Messages are handled strictly in order, one after the other.
    let chain = Promise.resolve();
    const refuse = (e: unknown) => {
      const msg = (e as Error).message ?? String(e);
      end(CloseRefused, msg);
      try {
        sock.close(CloseRefused, 'refused');
      } catch {
        // already closing
      }
    };
    sock.onmessage = (ev: MessageEvent) => {
      chain = chain.then(async () => {
        if (ended || closed) return;
        if (typeof ev.data === 'string') {
          let m: { type?: unknown; state?: unknown };
          try {
            m = JSON.parse(ev.data) as { type?: unknown; state?: unknown };
          } catch {
            throw new LiveStreamError('a text message that is not JSON');
          }
          // porchlightd's own status messages carry nothing secret; the
          // hub's hello is verified strictly.
          if (m.type === 'status') {
            if (typeof m.state === 'string') handlers.onStatus(m.state);
            return;
          }
          await rx.openHello(ev.data);
          return;
        }
        const { seq, plaintext } = await rx.open(new Uint8Array(ev.data as ArrayBuffer));
        if (seq === 0) {
          handlers.onInit(rx.hello!.mime, plaintext);
          return;
        }
        const f = parseLiveFragment(plaintext);
        handlers.onFragment(f.media, f.capturedMs);
      }).catch(refuse);
    };
    sock.onclose = (ev: CloseEvent) => {
      chain.then(() => end(ev.code, ev.reason || (ev.code === 1006 ? 'connection lost' : '')));
    };
    sock.onerror = () => {
      // onclose follows with the code.
    };
  };
  start().catch((e: unknown) => {
    if (e instanceof ApiError && e.status === 401) end(4001, 'session_ended');
    else end(CloseStartFailed, (e as Error).message ?? String(e));
  });
  return {
    close() {
      if (closed) return;
      closed = true;
      try {
        ws?.close(1000, 'viewer left');
      } catch {
        // not open yet
      }
    },
  };
}

