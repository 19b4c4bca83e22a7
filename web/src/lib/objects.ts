// Porchlight's signed and sealed objects (docs/formats.md), checked as
// internal/seal and internal/keys check them: epoch announcements, epoch-key
// wraps, manifests, sealed segments, camera descriptors and events.

import { utf8 } from './bytes';
import { arr, decodeStrict, float, GoTime, int, MalformedError, obj, str, time, uint, type Dec } from './json';
import {
  decodeBody, FormatVersion, parseSigned, SignatureError, TypeCamera, TypeEpoch, TypeEvent, TypeManifest, validID,
  verifyFrom, verifySigned, VersionError, type Signers,
} from './signed';
import { decrypt, recipientOf } from './agex';

// Epoch announcement (porchlight.epoch).

export interface EpochAnnouncement {
  household: string; camera: string; epoch: string; hub: string; recipient: string; notBefore: GoTime; notAfter: GoTime; roster: number;
}
const epochDec = obj({ v: int, household: str, camera: str, epoch: str, hub: str, recipient: str, not_before: time, not_after: time, roster: uint });

/** verifyEpochFrom checks an announcement signed by any trusted signer; its hub field must name the signer. */
export function verifyEpochFrom(signed: Uint8Array, trusted: Signers): EpochAnnouncement {
  const env = parseSigned(signed, TypeEpoch);
  verifyFrom(env, trusted);
  const a = decodeBody(env, epochDec);
  if (a.v !== FormatVersion) throw new VersionError(`epoch v${a.v}`);
  if (a.hub !== env.signer) throw new MalformedError('epoch announcement names another hub');
  return { household: a.household, camera: a.camera, epoch: a.epoch, hub: a.hub, recipient: a.recipient, notBefore: a.not_before, notAfter: a.not_after, roster: a.roster };
}

// Epoch-key wrap.

const epochKeyDec = obj({ v: int, household: str, camera: str, epoch: str, identity: str });
export interface EpochKey { household: string; camera: string; epoch: string; identity: string }

export function parseEpochKey(plaintext: Uint8Array): EpochKey {
  const k = decodeStrict(plaintext, epochKeyDec, 'epoch key');
  if (k.v !== FormatVersion) throw new VersionError(`epoch key v${k.v}`);
  return { household: k.household, camera: k.camera, epoch: k.epoch, identity: k.identity };
}

/** The JSON plaintext of a wrap, field order as Go marshals seal.EpochKey. */
export function epochKeyJSON(k: EpochKey): Uint8Array {
  return utf8(JSON.stringify({ v: FormatVersion, household: k.household, camera: k.camera, epoch: k.epoch, identity: k.identity }));
}

/**
 * openEpochKey unwraps an epoch key with the device identity and checks it
 * against the verified announcement (keys.Pair.OpenEpochKey): same
 * household, camera and epoch, and its recipient the announced one.
 * It answers the epoch identity.
 */
export async function openEpochKey(wrap: Uint8Array, deviceIdentity: string, ann: EpochAnnouncement): Promise<string> {
  let pt: Uint8Array;
  try {
    pt = await decrypt(wrap, deviceIdentity);
  } catch (e) {
    throw new Error(`unwrap epoch ${ann.epoch}: ${(e as Error).message}`);
  }
  const k = parseEpochKey(pt);
  if (k.household !== ann.household || k.camera !== ann.camera || k.epoch !== ann.epoch) {
    throw new MalformedError(`epoch key ${ann.epoch}: wrap is for another epoch`);
  }
  let rcpt: string;
  try {
    rcpt = await recipientOf(k.identity);
  } catch (e) {
    throw new Error(`epoch key ${ann.epoch}: ${(e as Error).message}`);
  }
  if (rcpt !== ann.recipient) throw new SignatureError(`epoch key ${ann.epoch}: key does not match the hub's announcement`);
  return k.identity;
}

// Manifest (porchlight.manifest).

export interface ManifestObject {
  id: string; kind: string; seq: number; start: GoTime; durationMs: number; frames: number; codec: string; size: number; sha256: string;
}
export interface Manifest { household: string; camera: string; hub: string; epoch: string; seq: number; created: GoTime; objects: ManifestObject[] }

const manifestObjDec = obj({ id: str, kind: str, seq: uint, start: time, duration_ms: int, frames: int, codec: str, size: int, sha256: str });
const manifestDec = obj({ v: int, household: str, camera: str, hub: str, epoch: str, seq: uint, created: time, objects: arr(manifestObjDec) });

/** verifyManifestFrom checks a manifest's plaintext (a signed envelope), as seal.VerifyManifestFrom. */
export function verifyManifestFrom(signed: Uint8Array, trusted: Signers, household: string, camera: string, epoch: string): Manifest {
  const env = parseSigned(signed, TypeManifest);
  verifyFrom(env, trusted);
  const m = decodeBody(env, manifestDec);
  if (m.v !== FormatVersion) throw new VersionError(`manifest v${m.v}`);
  if (m.household !== household || m.camera !== camera || m.epoch !== epoch || m.hub !== env.signer) {
    throw new MalformedError('manifest belongs to another household, camera, epoch or hub');
  }
  return {
    household: m.household, camera: m.camera, hub: m.hub, epoch: m.epoch, seq: m.seq, created: m.created,
    objects: m.objects.map((o) => ({ id: o.id, kind: o.kind, seq: o.seq, start: o.start, durationMs: o.duration_ms, frames: o.frames, codec: o.codec, size: o.size, sha256: o.sha256 })),
  };
}

// Sealed segment.

export const SegmentMagic = 'porchlight.segment/v1\n';
export const MaxSegmentHeader = 4096;

export interface SegmentHeader { household: string; camera: string; epoch: string; seq: number; start: GoTime; durationMs: number; frames: number; codec: string }
const segHdrDec = obj({ v: int, household: str, camera: str, epoch: str, seq: uint, start: time, duration_ms: int, frames: int, codec: str });

/** Splits a decrypted segment into header and media (seal.ParseSegmentPlaintext). */
export function parseSegmentPlaintext(pt: Uint8Array): { header: SegmentHeader; media: Uint8Array } {
  const magic = utf8(SegmentMagic);
  const has = (p: Uint8Array) => p.length <= pt.length && p.every((b, i) => pt[i] === b);
  if (!has(magic)) {
    if (has(utf8('porchlight.segment/'))) throw new VersionError('segment');
    throw new MalformedError('segment magic missing');
  }
  const rest = pt.subarray(magic.length);
  const limit = Math.min(rest.length, MaxSegmentHeader + 1);
  const nl = rest.subarray(0, limit).indexOf(0x0a);
  if (nl < 0) throw new MalformedError('segment header unterminated');
  const h = decodeStrict(rest.subarray(0, nl), segHdrDec, 'segment header');
  if (h.v !== FormatVersion) throw new VersionError(`segment header v${h.v}`);
  return {
    header: { household: h.household, camera: h.camera, epoch: h.epoch, seq: h.seq, start: h.start, durationMs: h.duration_ms, frames: h.frames, codec: h.codec },
    media: rest.subarray(nl + 1),
  };
}

/** Decrypts a sealed segment with its epoch identity and splits it. */
export async function openSegment(ciphertext: Uint8Array, epochIdentity: string): Promise<{ header: SegmentHeader; media: Uint8Array }> {
  return parseSegmentPlaintext(await decrypt(ciphertext, epochIdentity));
}

// Camera descriptor (porchlight.camera).

export interface CameraDescriptor { household: string; camera: string; hub: string; name: string; created: GoTime }
const cameraDec = obj({ v: int, household: str, camera: str, hub: str, name: str, created: time });

export function verifyCamera(signed: Uint8Array, hub: Uint8Array): CameraDescriptor {
  const env = parseSigned(signed, TypeCamera);
  verifySigned(env, hub);
  const d = decodeBody(env, cameraDec);
  if (d.v !== FormatVersion || d.hub !== env.signer) throw new MalformedError('camera descriptor');
  return { household: d.household, camera: d.camera, hub: d.hub, name: d.name, created: d.created };
}

/** Decrypts a descriptor with the device identity and verifies it against the hub key. */
export async function openCamera(ciphertext: Uint8Array, deviceIdentity: string, hub: Uint8Array): Promise<CameraDescriptor> {
  return verifyCamera(await decrypt(ciphertext, deviceIdentity), hub);
}

// Event (porchlight.event).

export const EventKinds = ['object', 'motion', 'doorbell', 'offline', 'online'];

export interface SealedEvent {
  household: string; camera: string; hub: string; epoch: string; id: string; version: number; kind: string; priority: string;
  start: GoTime; end: GoTime; classes: string[]; labels: string[]; score: number; zone: string;
  track: { t: GoTime; x0: number; y0: number; x1: number; y1: number }[]; thumb: string; thumbSHA256: string; detail: string;
}
const trackDec = obj({ t: time, X0: float, Y0: float, X1: float, Y1: float });
const eventDec = obj({
  v: int, household: str, camera: str, hub: str, epoch: str, id: str, version: int, kind: str, priority: str, start: time, end: time,
  classes: arr(str), labels: arr(str), score: float, zone: str, track: arr(trackDec), thumb: str, thumb_sha256: str, detail: str,
});

/** verifyEventFrom checks an event's plaintext as seal.VerifyEventFrom. */
export function verifyEventFrom(signed: Uint8Array, trusted: Signers, household: string, camera: string, epoch: string): SealedEvent {
  const env = parseSigned(signed, TypeEvent);
  const pub = trusted(env.signer);
  if (!pub) throw new SignatureError(`event signed by ${env.signer}, not a trusted hub`);
  verifySigned(env, pub);
  const e = decodeBody(env, eventDec as Dec<ReturnType<typeof eventDec>>);
  if (e.v !== FormatVersion) throw new VersionError(`event v${e.v}`);
  if (!validID(e.household) || !validID(e.camera) || !validID(e.epoch) || !validID(e.id) || e.hub === '' || e.version < 1 || e.start.isZero) {
    throw new MalformedError('event needs household, camera, hub, epoch, id, version ≥ 1 and a start');
  }
  if (!EventKinds.includes(e.kind)) throw new MalformedError(`event kind "${e.kind}"`);
  if (e.thumb !== '' && (!validID(e.thumb) || e.thumb_sha256.length !== 64)) throw new MalformedError('event thumbnail reference');
  if (e.household !== household || e.camera !== camera || e.epoch !== epoch || e.hub !== env.signer) {
    throw new SignatureError('event is for another household, camera or epoch, or not signed by its hub');
  }
  return {
    household: e.household, camera: e.camera, hub: e.hub, epoch: e.epoch, id: e.id, version: e.version, kind: e.kind, priority: e.priority,
    start: e.start, end: e.end, classes: e.classes, labels: e.labels, score: e.score, zone: e.zone,
    track: e.track.map((p) => ({ t: p.t, x0: p.X0, y0: p.Y0, x1: p.X1, y1: p.Y1 })), thumb: e.thumb, thumbSHA256: e.thumb_sha256, detail: e.detail,
  };
}

