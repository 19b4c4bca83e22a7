// The signed envelope of every authentic Porchlight object (docs/formats.md
// "Signed envelope"), as internal/seal/signed.go defines it:
//
//   {"v":1,"type":"porchlight.manifest","signer":"<KeyID>","body":"<base64 JSON>","sig":"<base64>"}
//
// sig is Ed25519 over "porchlight-signed-v1" 0x00 type 0x00 body; body is
// the exact signed bytes and is decoded strictly.

import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { b32encode, b64encode, concat, utf8 } from './bytes';
import { bytes, decodeStrict, int, MalformedError, obj, str, type Dec } from './json';

export const FormatVersion = 1;

export const TypeRoster = 'porchlight.roster';
export const TypeManifest = 'porchlight.manifest';
export const TypeEpoch = 'porchlight.epoch';
export const TypeCamera = 'porchlight.camera';
export const TypeEvent = 'porchlight.event';
export const TypeGrant = 'porchlight.grant';
export const TypeLive = 'porchlight.live';

/** MaxSigned bounds the size of a signed envelope. */
export const MaxSigned = 1 << 20;

/** A signature did not verify: the object was forged or altered; discard it. */
export class SignatureError extends Error {
  constructor(msg: string) { super('signature does not verify: ' + msg); this.name = 'SignatureError'; }
}

/** An object of a format version this client does not know: reload the app. */
export class VersionError extends Error {
  constructor(msg: string) { super('unsupported format version: ' + msg); this.name = 'VersionError'; }
}

/** KeyID of an Ed25519 public key: base32(SHA-256(pub))[:20]. */
export function keyID(signPub: Uint8Array): string {
  return b32encode(sha256(signPub)).slice(0, 20);
}

/** validID: 20 to 32 lowercase base32 characters (seal.ValidID). */
export function validID(s: string): boolean {
  return typeof s === 'string' && /^[a-z2-7]{20,32}$/.test(s);
}

/** newID: 128 random bits as 26 base32 characters (seal.NewID). */
export function newID(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return b32encode(b);
}

export function sha256hex(b: Uint8Array): string {
  return Array.from(sha256(b), (x) => x.toString(16).padStart(2, '0')).join('');
}

export function signedMessage(type: string, body: Uint8Array): Uint8Array {
  return concat(utf8('porchlight-signed-v1\x00'), utf8(type), new Uint8Array([0]), body);
}

export interface Signed { v: number; type: string; signer: string; body: Uint8Array; sig: Uint8Array }

const signedDec: Dec<Signed> = obj({ v: int, type: str, signer: str, body: bytes, sig: bytes });

/** Parses an envelope of the given type; call verifySigned before trusting its body. */
export function parseSigned(data: Uint8Array, type: string): Signed {
  if (data.length > MaxSigned) throw new MalformedError(`signed envelope larger than ${MaxSigned} bytes`);
  const s = decodeStrict(data, signedDec, 'signed envelope');
  if (s.v !== FormatVersion) throw new VersionError(`signed envelope v${s.v}`);
  if (s.type !== type) throw new MalformedError(`envelope is a "${s.type}", want "${type}"`);
  if (s.sig.length !== 64 || !validID(s.signer) || s.body.length === 0) throw new MalformedError('signed envelope missing signer, body or signature');
  return s;
}

/** Checks the envelope's signature against pub, which must be the key it names. */
export function verifySigned(s: Signed, pub: Uint8Array): void {
  if (pub.length !== 32 || keyID(pub) !== s.signer) throw new SignatureError(`signed by ${s.signer}, not by the expected key`);
  let ok = false;
  try {
    ok = ed25519.verify(s.sig, signedMessage(s.type, s.body), pub, { zip215: false });
  } catch {
    ok = false;
  }
  if (!ok) throw new SignatureError(`${s.type} from ${s.signer}`);
}

/** Decodes the body strictly with d. */
export function decodeBody<T>(s: Signed, d: Dec<T>): T {
  return decodeStrict(s.body, d, s.type + ' body');
}

/** The signers a verifier trusts, by KeyID (seal.Signers). */
export type Signers = (id: string) => Uint8Array | undefined;

export function onlySigner(pub: Uint8Array): Signers {
  const id = pub.length === 32 ? keyID(pub) : '';
  return (s) => (id !== '' && s === id ? pub : undefined);
}

/** Verifies env against the key trusted for its signer. */
export function verifyFrom(env: Signed, trusted: Signers): void {
  const pub = trusted(env.signer);
  if (!pub) throw new SignatureError(`${env.type} signed by ${env.signer}, not by a trusted hub or owner device`);
  verifySigned(env, pub);
}

/**
 * Signs body (already JSON text, field order as Go marshals it) into an
 * envelope with the Ed25519 secret key (32-byte seed).
 */
export function signEnvelope(seed: Uint8Array, type: string, bodyJSON: string): Uint8Array {
  const body = utf8(bodyJSON);
  const pub = ed25519.getPublicKey(seed);
  const sig = ed25519.sign(signedMessage(type, body), seed);
  // Same field order as Go's seal.Signed.
  return utf8(JSON.stringify({ v: FormatVersion, type, signer: keyID(pub), body: b64encode(body), sig: b64encode(sig) }));
}

