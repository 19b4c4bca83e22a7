// This browser's device keys: an age hybrid identity to receive wrapped
// epoch keys and an Ed25519 key to sign (keys.Pair in Go). Made on first
// visit and kept in IndexedDB ("porchlight" / "keys" / "device"). Where the
// user has a passkey whose authenticator supports the WebAuthn PRF
// extension, the record is wrapped under an AES-GCM key derived from the
// PRF output (HKDF-SHA256) and unwrapped with a passkey touch on load.

import { ed25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { generateHybridIdentity } from 'age-encryption';
import { recipientOf } from './agex';
import { b64decode, b64encode, buf, fromUtf8, randomBytes, utf8 } from './bytes';
import { keyID } from './signed';
import { rosterHash } from './roster';
import { store } from './store';

/** This browser as a Porchlight device. The private keys stay inside lib/. */
export interface Device {
  id: string; // KeyID of signPub
  name: string;
  recipient: string; // age1pq1…
  signPub: Uint8Array;
}

interface Secrets { kem: string; seed: Uint8Array }
const secretsOf = new WeakMap<Device, Secrets>();

/** The private keys of dev (for lib/ modules only; never hand them to the UI). */
export function deviceSecrets(dev: Device): Secrets {
  const s = secretsOf.get(dev);
  if (!s) throw new Error('this device object has no keys: get it from loadOrCreateDevice');
  return s;
}

/** The plain record, as the Go key file: {"v":1,"id","name","kem","sign"}. */
interface PlainRecord { v: 1; id: string; name: string; kem: string; sign: string }
/** A record wrapped under a passkey's PRF output. */
interface WrappedRecord {
  v: 1; id: string; name: string; recipient: string; signPub: string;
  wrapped: { cred: string; salt: string; iv: string; ct: string; rpId?: string };
}
type DeviceRecord = PlainRecord | WrappedRecord;

const recordKey = 'device';

async function fromPlain(r: PlainRecord): Promise<Device> {
  const seed = b64decode(r.sign);
  if (seed.length !== 32) throw new Error('the stored device key is damaged: forget this device and pair it again');
  const signPub = ed25519.getPublicKey(seed);
  const id = keyID(signPub);
  if (id !== r.id) throw new Error('the stored device key does not match its id: forget this device and pair it again');
  const dev: Device = { id, name: r.name, recipient: await recipientOf(r.kem), signPub };
  secretsOf.set(dev, { kem: r.kem, seed });
  return dev;
}

/** Makes a fresh device key pair named name (not stored). */
export async function generateDevice(name: string): Promise<Device> {
  const kem = await generateHybridIdentity();
  const seed = ed25519.utils.randomSecretKey();
  return fromPlain({ v: 1, id: keyID(ed25519.getPublicKey(seed)), name, kem, sign: b64encode(seed) });
}

function plainOf(dev: Device): PlainRecord {
  const s = deviceSecrets(dev);
  return { v: 1, id: dev.id, name: dev.name, kem: s.kem, sign: b64encode(s.seed) };
}

/**
 * Loads this browser's device, or makes and stores one named name on first
 * use. A passkey-wrapped record asks for the passkey (a browser prompt).
 */
export async function loadOrCreateDevice(name: string): Promise<Device> {
  // One at a time: two first visits at once must not make two devices.
  const run = (queue ?? Promise.resolve()).catch(() => {}).then(() => loadOrCreate(name));
  queue = run;
  return run;
}

let queue: Promise<unknown> | undefined;

async function loadOrCreate(name: string): Promise<Device> {
  const rec = (await store().get(recordKey)) as DeviceRecord | undefined;
  if (rec && 'wrapped' in rec) return fromPlain(await unwrapRecord(rec, await prfFromPasskey(rec.wrapped)));
  if (rec) return fromPlain(rec);
  const dev = await generateDevice(name);
  await store().put(recordKey, plainOf(dev));
  return dev;
}

/** Deletes this browser's keys and pinned household: it is no longer a device. */
export async function forgetDevice(): Promise<void> {
  await store().del(recordKey);
  await store().del(pinKey);
}

/** Whether the stored keys are wrapped under a passkey. */
export async function deviceProtection(): Promise<'passkey' | 'none' | 'absent'> {
  const rec = (await store().get(recordKey)) as DeviceRecord | undefined;
  return !rec ? 'absent' : 'wrapped' in rec ? 'passkey' : 'none';
}

// Passkey PRF wrapping.

const prfInfo = utf8('porchlight-device-key-v1');

function aad(id: string): Uint8Array {
  return utf8('porchlight-device-v1\x00' + id);
}

async function aesKey(prf: Uint8Array, salt: Uint8Array): Promise<CryptoKey> {
  const k = hkdf(sha256, prf, salt, prfInfo, 32);
  return crypto.subtle.importKey('raw', buf(k), 'AES-GCM', false, ['encrypt', 'decrypt']);
}

/** Wraps dev's record under a PRF output (exported for tests). */
export async function wrapRecord(dev: Device, prf: Uint8Array, cred: Uint8Array, salt: Uint8Array, rpId?: string): Promise<WrappedRecord> {
  const iv = randomBytes(12);
  const key = await aesKey(prf, salt);
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: buf(iv), additionalData: buf(aad(dev.id)) }, key, buf(utf8(JSON.stringify(plainOf(dev))))));
  return {
    v: 1, id: dev.id, name: dev.name, recipient: dev.recipient, signPub: b64encode(dev.signPub),
    wrapped: { cred: b64encode(cred), salt: b64encode(salt), iv: b64encode(iv), ct: b64encode(ct), ...(rpId ? { rpId } : {}) },
  };
}

/** Unwraps a record with a PRF output (exported for tests). */
export async function unwrapRecord(rec: WrappedRecord, prf: Uint8Array): Promise<PlainRecord> {
  const key = await aesKey(prf, b64decode(rec.wrapped.salt));
  let pt: ArrayBuffer;
  try {
    pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: buf(b64decode(rec.wrapped.iv)), additionalData: buf(aad(rec.id)) }, key, buf(b64decode(rec.wrapped.ct)));
  } catch {
    throw new Error('the passkey did not unlock this browser\'s keys (another passkey?): use the passkey you protected them with');
  }
  const plain = JSON.parse(fromUtf8(new Uint8Array(pt))) as PlainRecord;
  if (plain.id !== rec.id) throw new Error('the unlocked device key does not match its id: forget this device and pair it again');
  return plain;
}

/** Where WebAuthn's PRF output comes from; replaced in tests. */
export type PRFSource = (w: { cred: string; salt: string; rpId?: string }) => Promise<Uint8Array | null>;

let prfSource: PRFSource = async (w) => {
  if (typeof navigator === 'undefined' || !navigator.credentials) return null;
  const cred = (await navigator.credentials.get({
    publicKey: {
      challenge: buf(randomBytes(32)), // a local ceremony: only the PRF output is used
      allowCredentials: [{ type: 'public-key', id: buf(b64decode(w.cred)) }],
      userVerification: 'required',
      ...(w.rpId ? { rpId: w.rpId } : {}),
      extensions: { prf: { eval: { first: buf(b64decode(w.salt)) } } } as AuthenticationExtensionsClientInputs,
    },
  })) as PublicKeyCredential | null;
  const ext = cred?.getClientExtensionResults() as { prf?: { results?: { first?: BufferSource } } } | undefined;
  const first = ext?.prf?.results?.first;
  if (!first) return null;
  if (first instanceof ArrayBuffer) return new Uint8Array(first);
  const v = first as ArrayBufferView;
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
};

/** Replaces the PRF source (tests). */
export function setPRFSource(s: PRFSource): void { prfSource = s; }

async function prfFromPasskey(w: WrappedRecord['wrapped']): Promise<Uint8Array> {
  const out = await prfSource(w);
  if (!out) throw new Error('this browser\'s keys are protected by a passkey, which did not answer: try again with the passkey, or forget this device and pair it again');
  return out;
}

/**
 * Protects the stored keys with a passkey (its credential id, raw bytes):
 * asks the authenticator for a PRF output and wraps the record under it.
 * Answers false, leaving the record as it is, when the authenticator does
 * not support PRF.
 */
export async function protectDeviceWithPasskey(dev: Device, credentialId: Uint8Array, rpId?: string): Promise<boolean> {
  const salt = randomBytes(32);
  const w = { cred: b64encode(credentialId), salt: b64encode(salt), rpId };
  const prf = await prfSource(w);
  if (!prf) return false;
  const rec = await wrapRecord(dev, prf, credentialId, salt, rpId);
  // Check the round trip before replacing the plain record.
  await unwrapRecord(rec, prf);
  await store().put(recordKey, rec);
  return true;
}

// The pinned household: root key (roster version 1's signer) and the
// roster versions this browser verified (the last one's hash included).

const pinKey = 'pin';

export interface StoredPin { household: string; root: Uint8Array; versions: Uint8Array[] }

export async function loadPin(): Promise<StoredPin | undefined> {
  const p = (await store().get(pinKey)) as { household: string; root: string; versions: string[] } | undefined;
  if (!p) return undefined;
  return { household: p.household, root: b64decode(p.root), versions: p.versions.map(b64decode) };
}

export async function savePin(p: StoredPin): Promise<void> {
  const last = p.versions.length ? rosterHash(p.versions[p.versions.length - 1]) : '';
  await store().put(pinKey, { household: p.household, root: b64encode(p.root), versions: p.versions.map(b64encode), last });
}
