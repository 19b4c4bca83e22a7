// The household roster chain (docs/formats.md "Roster"), verified exactly
// as internal/seal/roster.go and internal/cli/roster.go do: version 1 signed
// by an owner it lists (the pinned root), each later version by an owner
// device or the recovery identity of the version before, consecutive, with
// prev chaining them and the household unchanged. A chain that forks from or
// rolls back what this browser verified before is a ROSTER ALARM.

import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { equal, hex } from './bytes';
import { arr, bytes, int, obj, opt, str, time, uint, MalformedError, type Dec } from './json';
import { decodeBody, FormatVersion, keyID, parseSigned, TypeRoster, validID, verifySigned, VersionError } from './signed';
import { parseRecipient } from './agex';

export const KindDevice = 'device';
export const KindHub = 'hub';
export const RoleOwner = 'owner';
export const RoleMember = 'member';
export const RoleHub = 'hub';
export const RoleRecovery = 'recovery';
export const AllCameras = '*';

export interface RosterEntry {
  id: string; kind: string; role: string; name: string; sign: Uint8Array; kem: string; cameras: string[]; notAfter?: Date;
}
export interface Roster { v: number; household: string; version: number; prev: string; created: Date; entries: RosterEntry[] }

/** The chain failed verification: refuse it and alarm; never fall back to an older view. */
export class RosterChainError extends Error {
  constructor(msg: string) { super('roster chain does not verify: ' + msg); this.name = 'RosterChainError'; }
}

/**
 * What the service served must be refused: not rooted in the pinned key, of
 * another household, a fork or a rollback. Nothing is decrypted or signed
 * with such a roster; show it as an alarm.
 */
export class RosterAlarm extends Error {
  constructor(msg: string) { super('ROSTER ALARM: ' + msg); this.name = 'RosterAlarm'; }
}

const entryDec = obj({ id: str, kind: str, role: str, name: str, sign: bytes, kem: str, cameras: arr(str), not_after: opt(time) });
const rosterDec = obj({ v: int, household: str, version: uint, prev: str, created: time, entries: arr(entryDec) });

function toRoster(r: ReturnType<typeof rosterDec>): Roster {
  return {
    v: r.v, household: r.household, version: r.version, prev: r.prev, created: r.created.date,
    entries: r.entries.map((e) => ({ id: e.id, kind: e.kind, role: e.role, name: e.name, sign: e.sign, kem: e.kem, cameras: e.cameras, notAfter: e.not_after?.date })),
  };
}

export function entry(r: Roster, id: string): RosterEntry | undefined {
  return r.entries.find((e) => e.id === id);
}

export function inScope(e: RosterEntry, camera: string, t: Date): boolean {
  if (e.kind !== KindDevice) return false;
  if (e.notAfter && t.getTime() >= e.notAfter.getTime()) return false;
  return e.cameras.includes(AllCameras) || e.cameras.includes(camera);
}

export function owners(r: Roster): RosterEntry[] {
  return r.entries.filter((e) => e.kind === KindDevice && e.role === RoleOwner);
}

export function maySign(e: RosterEntry): boolean {
  return e.kind === KindDevice && (e.role === RoleOwner || e.role === RoleRecovery);
}

/** RosterHash: hex SHA-256 of a version's signed envelope (what prev carries). */
export function rosterHash(signed: Uint8Array): string {
  return hex(sha256(signed));
}

function check(r: Roster): void {
  if (r.v !== FormatVersion) throw new VersionError(`roster v${r.v}`);
  if (!validID(r.household) || r.version === 0) throw new MalformedError('roster needs a household id and a version ≥ 1');
  if ((r.version === 1) !== (r.prev === '')) throw new MalformedError(`roster version ${r.version} has prev "${r.prev}"`);
  const seen = new Set<string>();
  let nOwners = 0;
  for (const e of r.entries) {
    if (e.sign.length !== 32 || keyID(e.sign) !== e.id) throw new MalformedError(`roster entry "${e.id}": id does not match its signing key`);
    if (seen.has(e.id)) throw new MalformedError(`roster entry "${e.id}" listed twice`);
    seen.add(e.id);
    try {
      parseRecipient(e.kem);
    } catch (err) {
      throw new MalformedError(`roster entry "${e.id}": ${(err as Error).message}`);
    }
    const ok = (e.kind === KindDevice && (e.role === RoleOwner || e.role === RoleMember || e.role === RoleRecovery)) || (e.kind === KindHub && e.role === RoleHub);
    if (!ok) throw new MalformedError(`roster entry "${e.id}": kind "${e.kind}" with role "${e.role}"`);
    if (e.role === RoleOwner) nOwners++;
  }
  if (nOwners === 0) throw new MalformedError(`roster version ${r.version} has no owner device`);
}

/** Decodes one version without verifying it (callers verify the chain). */
export function decodeRosterVersion(raw: Uint8Array): { signer: string; roster: Roster } {
  const env = parseSigned(raw, TypeRoster);
  return { signer: env.signer, roster: toRoster(decodeBody(env, rosterDec as Dec<ReturnType<typeof rosterDec>>)) };
}

/**
 * verifyRosterChain verifies a whole chain, oldest first, and returns its
 * latest version. With root, version 1 must be signed by that key.
 */
export function verifyRosterChain(versions: Uint8Array[], root?: Uint8Array): Roster {
  if (versions.length === 0) throw new RosterChainError('empty chain');
  let prev: Roster | undefined;
  let prevHash = '';
  for (let i = 0; i < versions.length; i++) {
    const raw = versions[i];
    let env, r: Roster;
    try {
      env = parseSigned(raw, TypeRoster);
      r = toRoster(decodeBody(env, rosterDec as Dec<ReturnType<typeof rosterDec>>));
    } catch (e) {
      throw new RosterChainError(`version at ${i}: ${(e as Error).message}`);
    }
    try {
      check(r);
    } catch (e) {
      throw new RosterChainError(`version ${r.version}: ${(e as Error).message}`);
    }
    let signers = r;
    if (prev) {
      signers = prev;
      if (r.version !== prev.version + 1 || r.prev !== prevHash || r.household !== prev.household) {
        throw new RosterChainError(`version ${r.version} does not follow version ${prev.version}`);
      }
    } else if (r.version !== 1) {
      throw new RosterChainError(`chain starts at version ${r.version}`);
    }
    const signer = entry(signers, env.signer);
    if (!signer || !maySign(signer) || (!prev && signer.role !== RoleOwner)) {
      throw new RosterChainError(`version ${r.version} signed by ${env.signer}, not an owner device or the recovery key`);
    }
    if (!prev && root && !equal(signer.sign, root)) throw new RosterChainError('version 1 is not signed by the pinned household key');
    try {
      verifySigned(env, signer.sign);
    } catch (e) {
      throw new RosterChainError(`version ${r.version}: ${(e as Error).message}`);
    }
    prev = r;
    prevHash = rosterHash(raw);
  }
  return prev!;
}

/** The signer of version 1, after verifying the chain with it: what a device pins on first use. */
export function rosterSigner(versions: Uint8Array[]): { root: Uint8Array; latest: Roster } {
  if (versions.length === 0) throw new RosterChainError('empty roster');
  let v1;
  try {
    v1 = decodeRosterVersion(versions[0]);
  } catch (e) {
    throw new RosterChainError(`version 1: ${(e as Error).message}`);
  }
  const e = entry(v1.roster, v1.signer);
  if (!e) throw new RosterChainError(`version 1 is signed by ${v1.signer}, which it does not list`);
  const latest = verifyRosterChain(versions, e.sign);
  return { root: e.sign, latest };
}

/** What this browser pinned: the household, its root key and the versions it verified. */
export interface Pin { household: string; root: Uint8Array; versions: Uint8Array[] }

/**
 * checkChain verifies a served chain against the pin (internal/cli/roster.go
 * checkChain): rooted in pin.root, same household, and the versions seen
 * before an unchanged prefix. Any failure is a RosterAlarm.
 */
export function checkChain(pin: Pin, served: Uint8Array[]): Roster {
  if (served.length === 0) {
    if (pin.versions.length > 0) {
      throw new RosterAlarm(`the service says household ${pin.household} has no roster, but this browser verified ${pin.versions.length} version(s) of it before; refusing it`);
    }
    throw new Error(`household ${pin.household} has no roster yet`);
  }
  try {
    const env = parseSigned(served[0], TypeRoster);
    if (env.signer !== keyID(pin.root)) {
      throw new RosterAlarm(`the household roster starts with a version signed by key ${env.signer}, but this browser pinned key ${keyID(pin.root)}: the roster was replaced, possibly to add devices you never approved; refusing it. Nothing was decrypted or signed`);
    }
  } catch (e) {
    if (e instanceof RosterAlarm) throw e;
  }
  let latest: Roster;
  try {
    latest = verifyRosterChain(served, pin.root);
  } catch (e) {
    throw new RosterAlarm(`the household roster does not verify (${(e as Error).message}); refusing it. Nothing was decrypted or signed`);
  }
  if (latest.household !== pin.household) {
    throw new RosterAlarm(`the roster is of household ${latest.household}, but this browser belongs to household ${pin.household}; refusing it`);
  }
  if (served.length < pin.versions.length) {
    throw new RosterAlarm(`the service sent ${served.length} roster version(s), but this browser verified ${pin.versions.length} before: a rollback (a removed device may be back); refusing it`);
  }
  pin.versions.forEach((known, i) => {
    if (rosterHash(known) !== rosterHash(served[i])) {
      throw new RosterAlarm(`roster version ${i + 1} differs from the one this browser verified before: the history was rewritten (a fork); refusing it`);
    }
  });
  return latest;
}

/** Ed25519 public key of a 32-byte seed. */
export function publicKey(seed: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(seed);
}
