// The owner's verified view of the household's audit log, as the CLI's
// `porchlight audit` does it (internal/cli/audit.go, internal/auditlog):
//
//   - checkpoints are C2SP signed notes (Ed25519) checked against the log
//     key pinned on first use;
//   - every listed entry is proven included in the tree the checkpoint
//     commits to, from C2SP tlog-tiles hash tiles (RFC 6962 hashing);
//   - each checkpoint is proven consistent with the last one this browser
//     verified, and entries verified before must still be listed;
//   - bodies (who, what, why) are opened with this device's identity.
//
// A failed check is an ALARM, never a warning, and the saved state is then
// left as it was (it is evidence). A tile that cannot be fetched means "not
// verified, try again". Nothing here touches the DOM; verifyAudit takes its
// network (AuditSource), its storage (AuditStateStore) and its decryption
// (BodyOpener) as arguments so that tests can run it in node.

import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { decrypt } from './agex';
import { ApiError, api, apiBytes } from './api';
import { b64decode, concat, equal, fromUtf8, utf8 } from './bytes';
import { deviceSecrets, type Device } from './device';

/** The format version of entries and bodies this reader knows. */
export const FormatVersion = 1;

/** Audit classes (api.Audit*). */
export const AuditClasses = ['auth', 'device', 'hub', 'member', 'grant', 'key_release', 'access', 'denial', 'deletion', 'staff', 'client', 'declassification', 'consent'] as const;

/** Actor kinds (api.Actor*). */
export const ActorKinds = ['owner', 'member', 'support', 'annotator', 'operator', 'hub', 'anonymous', 'service', 'customer'] as const;

/** Who acted (auditlog.Actor). */
export interface AuditActor {
  kind: string; account?: string; email?: string; device?: string; hub?: string;
  org?: string; country?: string; addr?: string;
}

/** The sealed part of an entry (auditlog.Body), once opened. */
export interface AuditBody {
  v: number; actor: AuditActor; action: string; resource?: string; reason?: string; ticket?: string;
  grant?: string; grant_hash?: string; decision?: string; status?: number; detail?: string;
}

/** One leaf (auditlog.Entry): the clear envelope and the sealed body. */
export interface AuditEntry { v: number; id: string; time: Date; household: string; class: string; body?: Uint8Array }

/** One household entry as verified and opened here. */
export interface AuditRow {
  index: number;
  entry?: AuditEntry; // undefined when the leaf is malformed
  body?: AuditBody;   // undefined when it does not open here (sealed says why)
  sealed?: string;
  verified: boolean;
}

/** A verified checkpoint. */
export interface Checkpoint { origin: string; size: number; hash: Uint8Array; raw: Uint8Array }

/**
 * What this browser verified of the log (the CLI's auditState): the log key
 * pinned on first use and the last checkpoint verified, with how many of the
 * household's entries it covered up to lastIndex. Saved only after a
 * verification that passed.
 */
export interface AuditState {
  v: 1;
  household: string;
  verifierKey: string;
  pinnedAt: string;    // RFC 3339
  checkpoint?: string; // the raw signed note
  seen?: string;       // RFC 3339
  entries: number;
  lastIndex: number;
}

/** Where the state lives: IndexedDB in the browser (idbAuditStore). */
export interface AuditStateStore {
  load(household: string): Promise<AuditState | null>;
  save(st: AuditState): Promise<void>;
}

/** A page of GET /v1/audit, decoded. */
export interface AuditPage { checkpoint: Uint8Array; entries: { index: number; entry: Uint8Array }[]; pending: number; next: number }

/**
 * The service's log as verifyAudit reads it. tile answers null for a tile
 * the service does not have (404) and throws for any other failure.
 */
export interface AuditSource {
  logInfo(): Promise<{ origin: string; verifierKey: string }>;
  page(from: number): Promise<AuditPage>;
  tile(path: string): Promise<Uint8Array | null>;
}

/**
 * Opens an entry's sealed body (an age file) with this device's identity.
 * It throws NotForThisDevice (or an Error whose message says no identity
 * matched) when the body is sealed to other devices.
 */
export type BodyOpener = (ageFile: Uint8Array) => Promise<Uint8Array>;

/** Thrown by a BodyOpener for a body sealed to other devices. */
export class NotForThisDevice extends Error {}

/** The outcome of verifyAudit. */
export interface AuditResult {
  status: 'verified' | 'alarm' | 'unverified';
  rows: AuditRow[];
  alarms: string[];  // each a sentence saying what failed
  error?: string;    // why it is unverified
  size: number;      // the newest checkpoint's size
  pending: number;   // entries sequenced but not yet in a checkpoint
  firstUse: boolean; // the log key was pinned by this run
  before: AuditState | null;
}

/** auditPage is how many entries one listing request asks for. */
const auditPage = 500;

// ---- signed notes (C2SP signed-note, golang.org/x/mod/sumdb/note) ----

/** A parsed note verifier key "name+hash+base64(0x01 ‖ Ed25519 pub)". */
export interface NoteVerifier { name: string; hash: number; pub: Uint8Array }

/** Thrown for a checkpoint that does not verify (auditlog.ErrBadCheckpoint). */
export class BadCheckpoint extends Error {}
/** Thrown when an entry is not in the tree (auditlog.ErrNotIncluded). */
export class NotIncluded extends Error {}
/** Thrown when a checkpoint does not extend an older one (auditlog.ErrFork). */
export class Fork extends Error {}
/** Thrown when a tile cannot be fetched: not verified, try again. */
export class TileUnavailable extends Error {}

function isAlarm(e: unknown): boolean {
  return e instanceof BadCheckpoint || e instanceof NotIncluded || e instanceof Fork;
}

function validKeyName(name: string): boolean {
  return name !== '' && !/[\s+]/.test(name) && /^[\x21-\x7e\u0080-\uffff]+$/.test(name);
}

function keyHash(name: string, key: Uint8Array): number {
  const h = sha256(concat(utf8(name + '\n'), key));
  return ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
}

/** Parses a verifier key as note.NewVerifier does; throws for a bad one. */
export function parseVerifierKey(vkey: string): NoteVerifier {
  const i = vkey.indexOf('+');
  const j = vkey.indexOf('+', i + 1);
  const parts = i < 0 || j < 0 ? [] : [vkey.slice(0, i), vkey.slice(i + 1, j), vkey.slice(j + 1)];
  if (parts.length !== 3 || !validKeyName(parts[0]) || !/^[0-9a-f]{8}$/.test(parts[1])) throw new Error(`malformed verifier key ${JSON.stringify(vkey)}`);
  const key = b64decode(parts[2]);
  if (key.length !== 33 || key[0] !== 1) throw new Error('verifier key is not an Ed25519 note key');
  const hash = parseInt(parts[1], 16);
  if (keyHash(parts[0], key) !== hash) throw new Error('verifier key hash does not match its key');
  return { name: parts[0], hash, pub: key.slice(1) };
}

/**
 * Opens a signed note: checks its form and that v signed it (signatures of
 * other keys are ignored, as note.Open does). Answers the signed text.
 */
export function openNote(msg: Uint8Array, v: NoteVerifier): string {
  let s: string;
  try {
    s = new TextDecoder('utf-8', { fatal: true }).decode(msg);
  } catch {
    throw new BadCheckpoint('note is not UTF-8');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x09\x0b-\x1f]/.test(s)) throw new BadCheckpoint('note has control characters');
  const split = s.lastIndexOf('\n\n');
  if (split < 0) throw new BadCheckpoint('note has no signatures');
  const text = s.slice(0, split + 1);
  const sigs = s.slice(split + 2);
  if (sigs === '' || !sigs.endsWith('\n')) throw new BadCheckpoint('malformed note signatures');
  const textBytes = utf8(text);
  let verified = false;
  for (const line of sigs.slice(0, -1).split('\n')) {
    if (!line.startsWith('— ')) throw new BadCheckpoint('malformed note signature line');
    const rest = line.slice(2);
    const sp = rest.indexOf(' ');
    if (sp <= 0) throw new BadCheckpoint('malformed note signature line');
    const name = rest.slice(0, sp);
    let sig: Uint8Array;
    try {
      sig = b64decode(rest.slice(sp + 1));
    } catch {
      throw new BadCheckpoint('malformed note signature');
    }
    if (!validKeyName(name) || sig.length < 5) throw new BadCheckpoint('malformed note signature');
    const hash = ((sig[0] << 24) | (sig[1] << 16) | (sig[2] << 8) | sig[3]) >>> 0;
    if (name !== v.name || hash !== v.hash) continue; // another key's signature
    let ok = false;
    try {
      ok = sig.length === 68 && ed25519.verify(sig.slice(4), textBytes, v.pub, { zip215: false });
    } catch {
      ok = false;
    }
    if (!ok) throw new BadCheckpoint(`invalid signature for key ${v.name}`);
    verified = true;
  }
  if (!verified) throw new BadCheckpoint(`not signed by the log key ${v.name}`);
  return text;
}

/** Verifies a checkpoint note against v and parses it (log.ParseCheckpoint). */
export function parseCheckpoint(raw: Uint8Array, v: NoteVerifier): Checkpoint {
  if (raw.length > 16 << 10) throw new BadCheckpoint(`checkpoint is ${raw.length} bytes`);
  const text = openNote(raw, v);
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new BadCheckpoint('checkpoint has fewer than 3 lines');
  const [origin, sizeS, hashS] = lines;
  if (origin !== v.name) throw new BadCheckpoint(`checkpoint of ${JSON.stringify(origin)}, not of ${JSON.stringify(v.name)}`);
  if (!/^(0|[1-9][0-9]*)$/.test(sizeS) || Number(sizeS) > Number.MAX_SAFE_INTEGER) throw new BadCheckpoint('malformed checkpoint size');
  let hash: Uint8Array;
  try {
    hash = b64decode(hashS);
  } catch {
    throw new BadCheckpoint('malformed checkpoint root hash');
  }
  if (hash.length !== 32) throw new BadCheckpoint(`root hash is ${hash.length} bytes, want 32`);
  const size = Number(sizeS);
  if (size === 0 && !equal(hash, sha256(new Uint8Array(0)))) throw new BadCheckpoint('empty tree with a root hash other than the empty root');
  return { origin, size, hash, raw: raw.slice() };
}

// ---- RFC 6962 hashing over tlog-tiles ----

export function hashLeaf(leaf: Uint8Array): Uint8Array { return sha256(concat(Uint8Array.of(0), leaf)); }
function hashChildren(l: Uint8Array, r: Uint8Array): Uint8Array { return sha256(concat(Uint8Array.of(1), l, r)); }

const tileHeight = 8;
const tileWidth = 1 << tileHeight;
const pow2 = (k: number): number => 2 ** k;
const shr = (n: number, k: number): number => Math.floor(n / pow2(k));

/** The tlog-tiles path of a tile, after "tile/": "L/x001/234[.p/W]". */
export function tilePath(level: number, index: number, p: number): string {
  let n = String(index);
  n = n.padStart(Math.ceil(n.length / 3) * 3, '0');
  const groups: string[] = [];
  for (let i = 0; i < n.length; i += 3) groups.push(n.slice(i, i + 3));
  const idx = groups.map((g, i) => (i < groups.length - 1 ? 'x' + g : g)).join('/');
  return `${level}/${idx}` + (p > 0 && p < tileWidth ? `.p/${p}` : '');
}

/** A fetcher of a source's tiles for one run: each tile at most once. */
export type TileFetch = (path: string) => Promise<Uint8Array | null>;

export function cachedTiles(src: AuditSource): TileFetch {
  const cache = new Map<string, Promise<Uint8Array | null>>();
  return (path) => {
    let p = cache.get(path);
    if (!p) {
      p = src.tile(path);
      cache.set(path, p);
      p.catch(() => cache.delete(path));
    }
    return p;
  };
}

/**
 * Node hashes of the tree of a given size, read from its hash tiles.
 * Tiles prove nothing alone: every hash read here ends up in a root that
 * is compared with a verified checkpoint.
 */
class TreeReader {
  constructor(private size: number, private fetch: TileFetch) {}

  private async tile(level: number, index: number): Promise<Uint8Array> {
    const count = shr(this.size, level * tileHeight); // complete nodes at this tile level
    const w = Math.min(tileWidth, count - index * tileWidth);
    if (w <= 0) throw new NotIncluded(`tile ${level}/${index} is beyond a tree of ${this.size}`);
    const p = w === tileWidth ? 0 : w;
    let b: Uint8Array | null;
    const path = tilePath(level, index, p);
    try {
      b = await this.fetch(path);
      if (b === null && p > 0) b = await this.fetch(tilePath(level, index, 0));
    } catch (e) {
      throw new TileUnavailable(`fetch tile ${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (b === null) throw new TileUnavailable(`the service has no tile ${path}`);
    if (b.length !== tileWidth * 32 && (p === 0 || b.length !== p * 32)) {
      throw new NotIncluded(`tile ${path} is ${b.length} bytes, want ${p * 32} or ${tileWidth * 32}`);
    }
    return b;
  }

  /** The hash of the complete subtree of 2^level leaves at index. */
  async node(level: number, index: number): Promise<Uint8Array> {
    const tl = Math.floor(level / tileHeight);
    const r = level % tileHeight;
    const first = index * pow2(r); // first node at level tl*8
    const t = await this.tile(tl, Math.floor(first / tileWidth));
    const off = first % tileWidth;
    let row: Uint8Array[] = [];
    for (let i = 0; i < pow2(r); i++) row.push(t.slice((off + i) * 32, (off + i + 1) * 32));
    while (row.length > 1) {
      const up: Uint8Array[] = [];
      for (let i = 0; i < row.length; i += 2) up.push(hashChildren(row[i], row[i + 1]));
      row = up;
    }
    return row[0];
  }

  /** MTH(D[a:b]) for a range the RFC 6962 recursion produces. */
  async mth(a: number, b: number): Promise<Uint8Array> {
    const n = b - a;
    if (n <= 0) throw new Error('empty range');
    const k = largestPow2Below(n + 1); // largest power of two ≤ n
    if (k === n) return this.node(Math.log2(n), a / n);
    const split = largestPow2Below(n);
    return hashChildren(await this.mth(a, a + split), await this.mth(a + split, b));
  }
}

/** The largest power of two strictly below n (n ≥ 2). */
function largestPow2Below(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * Checks that leaf is the entry at index of the tree cp commits to: the
 * root recomputed from the leaf and the tiles' sibling hashes must be the
 * checkpoint's.
 */
export async function verifyInclusion(fetch: TileFetch, cp: Checkpoint, index: number, leaf: Uint8Array): Promise<void> {
  if (index >= cp.size) throw new NotIncluded(`index ${index} is not below the checkpoint's size ${cp.size}`);
  const t = new TreeReader(cp.size, fetch);
  const root = async (a: number, b: number, h: Uint8Array): Promise<Uint8Array> => {
    if (b - a === 1) return h;
    const k = largestPow2Below(b - a);
    if (index < a + k) return hashChildren(await root(a, a + k, h), await t.mth(a + k, b));
    return hashChildren(await t.mth(a, a + k), await root(a + k, b, h));
  };
  const got = await root(0, cp.size, hashLeaf(leaf));
  if (!equal(got, cp.hash)) throw new NotIncluded(`entry ${index} in a tree of ${cp.size}: the root does not match`);
}

/** Checks that newer extends older (RFC 6962 consistency, RFC 9162 §2.1.4.2). */
export async function verifyConsistency(fetch: TileFetch, older: Checkpoint, newer: Checkpoint): Promise<void> {
  const m = older.size;
  const n = newer.size;
  if (n < m) throw new Fork(`the log shrank from ${m} to ${n} entries`);
  if (n === m) {
    if (!equal(older.hash, newer.hash)) throw new Fork(`two different roots for a tree of ${m} entries`);
    return;
  }
  if (m === 0) return;
  const t = new TreeReader(n, fetch);
  const proof: Uint8Array[] = [];
  const sub = async (m1: number, a: number, b: number, whole: boolean): Promise<void> => {
    if (m1 === b - a) {
      if (!whole) proof.push(await t.mth(a, b));
      return;
    }
    const k = largestPow2Below(b - a);
    if (m1 <= k) {
      await sub(m1, a, a + k, whole);
      proof.push(await t.mth(a + k, b));
    } else {
      await sub(m1 - k, a + k, b, false);
      proof.push(await t.mth(a, a + k));
    }
  };
  await sub(m, 0, n, true);
  // Verify as RFC 9162 says, with the older root given.
  const path = isPow2(m) ? [older.hash, ...proof] : proof;
  if (path.length === 0) throw new Fork('empty consistency proof');
  let fn = m - 1;
  let sn = n - 1;
  while (fn % 2 === 1) { fn = shr(fn, 1); sn = shr(sn, 1); }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) throw new Fork(`from ${m} to ${n} entries: proof too long`);
    if (fn % 2 === 1 || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) { fn = shr(fn, 1); sn = shr(sn, 1); }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = shr(fn, 1);
    sn = shr(sn, 1);
  }
  if (!equal(fr, older.hash) || !equal(sr, newer.hash) || sn !== 0) {
    throw new Fork(`the tree of ${n} entries does not extend the tree of ${m} entries`);
  }
}

function isPow2(n: number): boolean {
  return n > 0 && pow2(Math.round(Math.log2(n))) === n;
}

// ---- entries and bodies ----

const validID = (s: unknown): s is string => typeof s === 'string' && /^[a-z2-7]{20,32}$/.test(s);

function isAgeFile(b: Uint8Array): boolean {
  return fromUtf8(b.subarray(0, 22)) === 'age-encryption.org/v1\n';
}

/**
 * Parses a leaf strictly (auditlog.Parse): exactly the canonical bytes of
 * the entry it decodes to. Throws for anything else.
 */
export function parseEntry(leaf: Uint8Array): AuditEntry {
  if (leaf.length > 65535) throw new Error(`entry is ${leaf.length} bytes`);
  const o = JSON.parse(fromUtf8(leaf)) as Record<string, unknown>;
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new Error('entry is not a JSON object');
  const keys = Object.keys(o);
  const want = o.body === undefined ? ['v', 'id', 'time', 'household', 'class'] : ['v', 'id', 'time', 'household', 'class', 'body'];
  if (keys.join() !== want.join()) throw new Error(`entry has fields ${keys.join(', ')}`);
  if (o.v !== FormatVersion) throw new Error(`entry version ${String(o.v)}, this reader knows only ${FormatVersion}: reload the page`);
  if (!validID(o.id) || !validID(o.household)) throw new Error('entry id or household is not an id');
  if (typeof o.class !== 'string' || !(AuditClasses as readonly string[]).includes(o.class)) throw new Error(`class ${JSON.stringify(o.class)} is not known`);
  if (typeof o.time !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(o.time) || isNaN(Date.parse(o.time))) throw new Error('entry time is not RFC 3339 to the second in UTC');
  let body: Uint8Array | undefined;
  if (o.body !== undefined) {
    if (typeof o.body !== 'string' || o.body === '') throw new Error('entry body is not base64');
    body = b64decode(o.body);
    if (!isAgeFile(body)) throw new Error('entry body is not an age file');
  }
  // Canonical form: every field is an id, a class, a time or base64, none
  // of which JSON escapes, so JSON.stringify writes what Go writes.
  if (JSON.stringify(o) !== fromUtf8(leaf)) throw new Error('entry is not in canonical form');
  return { v: o.v as number, id: o.id, time: new Date(o.time), household: o.household, class: o.class, body };
}

const bodyFields = ['v', 'actor', 'action', 'resource', 'reason', 'ticket', 'grant', 'grant_hash', 'decision', 'status', 'detail'];
const actorFields = ['kind', 'account', 'email', 'device', 'hub', 'org', 'country', 'addr'];

/** Parses a decrypted body strictly (auditlog.DecodeBody). */
export function decodeBody(pt: Uint8Array): AuditBody {
  if (pt.length > 65535) throw new Error(`body is ${pt.length} bytes`);
  const o = JSON.parse(fromUtf8(pt)) as Record<string, unknown>;
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new Error('body is not a JSON object');
  for (const k of Object.keys(o)) if (!bodyFields.includes(k)) throw new Error(`body has unknown field ${k}`);
  if (o.v !== FormatVersion) throw new Error(`body version ${String(o.v)}, this reader knows only ${FormatVersion}: reload the page`);
  const a = o.actor as Record<string, unknown> | undefined;
  if (a === null || typeof a !== 'object' || Array.isArray(a)) throw new Error('body has no actor');
  for (const k of Object.keys(a)) {
    if (!actorFields.includes(k)) throw new Error(`actor has unknown field ${k}`);
    if (typeof a[k] !== 'string') throw new Error(`actor ${k} is not a string`);
  }
  if (typeof a.kind !== 'string' || !(ActorKinds as readonly string[]).includes(a.kind)) throw new Error(`actor kind ${JSON.stringify(a.kind)} is not known`);
  for (const k of bodyFields) {
    if (k === 'v' || k === 'actor' || o[k] === undefined) continue;
    if (k === 'status' ? !Number.isInteger(o[k]) : typeof o[k] !== 'string') throw new Error(`body ${k} has the wrong type`);
  }
  if (typeof o.action !== 'string' || o.action === '') throw new Error('body has no action');
  return o as unknown as AuditBody;
}

async function openBody(e: AuditEntry, open: BodyOpener): Promise<{ body?: AuditBody; sealed?: string }> {
  if (!e.body) return { sealed: '(no body: the household had no device to seal it to)' };
  let pt: Uint8Array;
  try {
    pt = await open(e.body);
  } catch (err) {
    if (err instanceof NotForThisDevice || (err instanceof Error && /no identity matched/.test(err.message))) return { sealed: '(sealed to other devices)' };
    return { sealed: `(body does not open: ${err instanceof Error ? err.message : String(err)})` };
  }
  try {
    return { body: decodeBody(pt) };
  } catch (err) {
    return { sealed: `(body is malformed: ${err instanceof Error ? err.message : String(err)})` };
  }
}

// ---- the verification ----

export interface VerifyOptions {
  household: string;
  source: AuditSource;
  store: AuditStateStore;
  open: BodyOpener;
  now?: () => Date;
}

const when = (s?: string): string => (s ? new Date(s).toISOString().replace('.000Z', 'Z') : 'an earlier visit');

/**
 * Pages through the household's entries, checks each against the log and
 * the log against what this browser saw before, and opens the bodies. It
 * saves the new state only when nothing alarmed. It throws only for what
 * is not the log's fault (the network, the listing failing).
 */
export async function verifyAudit(o: VerifyOptions): Promise<AuditResult> {
  const now = o.now ?? (() => new Date());
  const before = await o.store.load(o.household);
  const res: AuditResult = { status: 'verified', rows: [], alarms: [], size: 0, pending: 0, firstUse: before === null, before };
  const alarm = (s: string): AuditResult => { res.alarms.push(s); res.status = 'alarm'; return res; };
  const unverified = (e: unknown): AuditResult => {
    res.status = 'unverified';
    res.error = e instanceof Error ? e.message : String(e);
    return res;
  };

  const info = await o.source.logInfo();
  const st: AuditState = { v: 1, household: o.household, verifierKey: info.verifierKey, pinnedAt: now().toISOString(), entries: 0, lastIndex: 0 };
  if (before) {
    if (before.verifierKey !== info.verifierKey) {
      return alarm(`the service's log key changed: this browser pinned ${JSON.stringify(before.verifierKey)} on ${when(before.pinnedAt)}, the service now says ${JSON.stringify(info.verifierKey)}. With another key the service can show you a different log`);
    }
    st.pinnedAt = before.pinnedAt;
  }
  let v: NoteVerifier;
  try {
    v = parseVerifierKey(st.verifierKey);
  } catch (e) {
    throw new Error(before ? `the log key pinned in this browser does not parse (${(e as Error).message}): reload the page` :
      `the service's log key is not a valid verifier key (${(e as Error).message}): it cannot be verified; contact its operator`);
  }
  const tiles = cachedTiles(o.source);
  let seen: Checkpoint | null = null;
  let seenWhen = '';
  if (before?.checkpoint) {
    try {
      seen = parseCheckpoint(utf8(before.checkpoint), v);
    } catch (e) {
      throw new Error(`the checkpoint saved in this browser does not verify with the pinned key (${(e as Error).message}): keep this browser's data, it is evidence`);
    }
    seenWhen = when(before.seen);
  }

  let from = 0;
  let last = 0;
  let listed = 0;
  const notIn: number[] = [];
  let firstErr = '';
  for (;;) {
    const page = await o.source.page(from);
    let cp: Checkpoint;
    try {
      cp = parseCheckpoint(page.checkpoint, v);
    } catch (e) {
      return alarm(`the service sent a checkpoint that does not verify with the log key pinned on ${when(st.pinnedAt)} (${(e as Error).message})`);
    }
    if (seen && (cp.size !== seen.size || !equal(cp.hash, seen.hash))) {
      try {
        await verifyConsistency(tiles, seen, cp);
      } catch (e) {
        if (!isAlarm(e)) return unverified(e);
        return alarm(`the log's checkpoint (size ${cp.size}) is not consistent with the one this browser verified on ${seenWhen} (size ${seen.size}): the log was forked or rewritten (${(e as Error).message})`);
      }
    }
    seen = cp;
    seenWhen = 'an earlier page of this listing';
    res.pending = page.pending;
    for (const ae of page.entries) {
      if (listed > 0 && ae.index <= last) return alarm(`the service listed entry ${ae.index} after entry ${last}: its listing is out of order or repeats entries`);
      last = ae.index;
      listed++;
      const row: AuditRow = { index: ae.index, verified: false };
      let perr = '';
      try {
        row.entry = parseEntry(ae.entry);
      } catch (e) {
        perr = (e as Error).message;
      }
      if (ae.index >= cp.size) {
        alarm(`the service listed entry ${ae.index} as covered by a checkpoint of size ${cp.size}`);
      } else if (perr) {
        alarm(`entry ${ae.index} is not a well-formed audit entry (${perr}): the log holds damaged or forged data`);
      } else if (row.entry!.household !== o.household) {
        alarm(`entry ${ae.index} is of household ${row.entry!.household}, not yours: the service mixed up its index`);
      } else {
        try {
          await verifyInclusion(tiles, cp, ae.index, ae.entry);
          row.verified = true;
        } catch (e) {
          if (!isAlarm(e)) return unverified(e);
          notIn.push(ae.index);
          if (!firstErr) firstErr = (e as Error).message;
        }
      }
      if (row.entry) Object.assign(row, await openBody(row.entry, o.open));
      res.rows.push(row);
    }
    if (page.next === 0) break;
    if (page.next <= from || (listed > 0 && page.next <= last)) {
      throw new Error(`the service's audit listing does not advance (next ${page.next} after ${from}): try again later`);
    }
    from = page.next;
  }
  res.size = seen?.size ?? 0;
  if (notIn.length > 0) {
    const shown = notIn.slice(0, 5).join(', ') + (notIn.length > 5 ? ', …' : '');
    alarm(`${notIn.length} of your household's entries (log index ${shown}) ${notIn.length === 1 ? 'is' : 'are'} not in the log that the checkpoint of size ${res.size} commits to: the log was rewritten (first failure: ${firstErr})`);
  }
  if (before && before.entries > 0) {
    const n = res.rows.filter((r) => r.index <= before.lastIndex).length;
    if (n !== before.entries) {
      alarm(`the service lists ${n} of your entries up to index ${before.lastIndex}, but this browser verified ${before.entries} there on ${when(before.seen)}: entries were removed from your log's listing`);
    }
  }
  if (res.alarms.length === 0 && seen) {
    st.checkpoint = fromUtf8(seen.raw);
    st.seen = now().toISOString();
    st.entries = res.rows.length;
    st.lastIndex = res.rows.length > 0 ? res.rows[res.rows.length - 1].index : 0;
    await o.store.save(st);
  }
  return res;
}

/** The text of the page's audit-status line. */
export function auditStatusText(res: AuditResult): string {
  switch (res.status) {
    case 'verified':
      return `verified: ${res.rows.length} ${res.rows.length === 1 ? 'entry' : 'entries'} in checkpoint size ${res.size}`;
    case 'alarm':
      return 'ALARM: ' + res.alarms.join('. ') + '. Do not trust this service\'s audit log; this browser keeps the log key and last checkpoint it verified as evidence and will keep comparing against them. Contact the service\'s operator.';
    default:
      return `not verified, try again: ${res.error ?? 'a tile could not be fetched'}`;
  }
}

/** A one-line description of an actor (the CLI's actorString). */
export function actorText(a: AuditActor): string {
  let s = a.kind;
  if (a.kind === 'support' || a.kind === 'annotator' || a.kind === 'operator') {
    if (a.email) s += ' ' + a.email;
    const where = [a.org, a.country].filter((x): x is string => !!x);
    if (where.length) s += ` (${where.join(', ')})`;
  } else if (a.kind === 'hub') {
    if (a.hub) s += ' ' + a.hub;
  } else if (a.device) {
    s += ' device ' + a.device;
  } else if (a.addr) {
    s += ' from ' + a.addr;
  }
  return s;
}

// ---- the browser's source, store and opener ----

/** Opens bodies with this device's identity (it never leaves lib/). */
export function deviceOpener(dev: Device): BodyOpener {
  return (ct) => decrypt(ct, deviceSecrets(dev).kem);
}

interface wireAuditList { checkpoint: string; entries?: { index: number; entry: string }[] | null; pending?: number; next?: number }

/** The service's log over HTTP, with this page's session. */
export function httpAuditSource(signal?: AbortSignal): AuditSource {
  return {
    async logInfo() {
      const r = await api<{ origin: string; verifier_key: string }>('GET', '/v1/log', undefined, { signal });
      return { origin: r.origin, verifierKey: r.verifier_key };
    },
    async page(from) {
      const r = await api<wireAuditList>('GET', `/v1/audit?from=${from}&limit=${auditPage}`, undefined, { signal });
      return {
        checkpoint: b64decode(r.checkpoint ?? ''),
        entries: (r.entries ?? []).map((e) => ({ index: e.index, entry: b64decode(e.entry) })),
        pending: r.pending ?? 0,
        next: r.next ?? 0,
      };
    },
    async tile(path) {
      try {
        return await apiBytes('/v1/log/tile/' + path, { signal });
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) return null;
        throw e;
      }
    },
  };
}

/** The IndexedDB database holding the audit state, apart from the device keys so that forgetting the device keeps the evidence. */
const idbName = 'porchlight-audit';
const idbStore = 'state';

function idbOpen(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(idbName, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(idbStore);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('open IndexedDB'));
  });
}

/** The audit state in this browser's IndexedDB, one record per household. */
export function idbAuditStore(): AuditStateStore {
  const run = async <T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest): Promise<T> => {
    const db = await idbOpen();
    try {
      return await new Promise<T>((resolve, reject) => {
        const tx = db.transaction(idbStore, mode);
        const req = f(tx.objectStore(idbStore));
        tx.oncomplete = () => resolve(req.result as T);
        tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
        tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
      });
    } finally {
      db.close();
    }
  };
  return {
    async load(household) {
      const v = await run<AuditState | undefined>('readonly', (s) => s.get(household));
      if (v === undefined) return null;
      if (v.v !== 1 || !v.verifierKey) throw new Error('the audit state saved in this browser has another version: reload the page (keep the data: it is evidence)');
      return v;
    },
    async save(st) {
      await run<IDBValidKey>('readwrite', (s) => s.put(st, st.household));
    },
  };
}

/** An in-memory store (tests, and browsers without IndexedDB). */
export function memoryAuditStore(init?: AuditState): AuditStateStore & { state: AuditState | null } {
  const m = {
    state: init ?? null,
    async load() { return m.state ? { ...m.state } : null; },
    async save(st: AuditState) { m.state = { ...st }; },
  };
  return m;
}
