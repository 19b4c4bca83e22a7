// The household as this browser sees it: the verified roster, the cameras
// with their hub-signed descriptors, verified manifests, segments, events
// and thumbnails, decrypted here with this device's keys. It mirrors
// internal/cli/household.go, export.go and detections.go: nothing it
// returns has escaped verification.
//
// Members: cameras other households share with this account (GET
// /v1/shared, as internal/cli/shared.go) are listed with the account's own.
// Each sharing household's roster chain is verified against the root this
// browser pinned when it accepted the invite (acceptInvite); its cameras
// are read only while that roster lists this browser as a member with the
// camera in scope, and verified against that household's hub and owners.

import { api, apiBytes, ApiError } from './api';
import { decrypt, encrypt, parseRecipient } from './agex';
import { b64decode, b64encode } from './bytes';
import { deviceSecrets, type Device } from './device';
import { GoTime } from './json';
import { concatMP4 } from './mp4';
import {
  epochKeyJSON, openCamera, openEpochKey, openSegment, verifyEpochFrom, verifyEventFrom, verifyManifestFrom,
  type EpochAnnouncement, type ManifestObject, type SealedEvent,
} from './objects';
import { myHousehold, pairSAS, verifiedRoster } from './pair';
import { checkChain, entry, inScope, KindDevice, KindHub, owners, RoleMember, RoleOwner, RosterAlarm, type Roster } from './roster';
import { store } from './store';
import { keyID as keyIDOf, sha256hex, validID, type Signers } from './signed';
import { grantBody, signGrant } from './grant';

export type { Roster, RosterEntry } from './roster';

/** A camera whose descriptor opened and verified; error says why one did not (then name is its id). shared: another household's camera shared with this account. */
export interface Camera { id: string; name: string; hub: string; online?: boolean; error?: string; retentionDays?: number; lastUpload?: Date; shared?: SharedFrom }
/** Where a shared camera comes from: the sharing household, and when this account's access ends (none: no end). */
export interface SharedFrom { household: string; expires?: Date }
export interface Segment { id: string; camera: string; epoch: string; seq: number; start: Date; end: Date; frames: number; codec: string; size: number }
export interface PEvent {
  id: string; camera: string; kind: string; classes: string[]; labels: string[]; score: number; zone: string;
  start: Date; end?: Date; priority: string; thumb?: string; version: number; track: { t: Date; box: [number, number, number, number] }[];
}

/** apiclient.MaxObject: the largest object a client downloads. */
const maxObject = 64 << 20;
/** The largest thumbnail ciphertext accepted. */
const maxThumb = 16 << 20;
/** The most ciphertext one export holds in memory. */
const maxExport = 1 << 30;
/** Segments fetched at once by exportClip. */
const downloadWorkers = 4;
/** Decrypted segments kept for the player's scrubbing, in bytes. */
const maxMediaCache = 64 << 20;
/** A camera that uploaded within this long counts as online. */
const onlineWindowMs = 2 * 60 * 1000;

interface ApiCamera { id: string; hub_id: string; descriptor: string; retention_days: number; created_at: string; last_upload?: string }
interface ApiEpoch { id: string; camera_id: string; announcement: string; wrap?: string; created_at: string }
interface ApiObject { id: string; kind: string; epoch_id: string; time: string; size: number; sha256: string; data?: string }

/** The household a camera belongs to, with its verified roster; member: shared with this account. */
interface Scope { household: string; roster: Roster; member: boolean }
interface CamState { c: Camera; hubPub?: Uint8Array; scope: Scope }
interface ApiShared { household: string; expires?: string; roster: string[] | null; cameras: ApiCamera[] | null }
interface EpochState { ann?: EpochAnnouncement; err?: string; wrap?: Uint8Array }
interface SegRef { o: ManifestObject; camera: string; epoch: string; manifest: string }
interface EventRef { ev: SealedEvent; epoch: string; object: string }

/** The service holds no key of an epoch for this device (it predates it, or was out of scope). */
class NoWrapError extends Error {}

const rfc3339s = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export class Household {
  readonly roster: Roster;
  readonly device: Device;
  readonly role: 'owner' | 'member';
  /** Problems met while reading (objects that did not verify and were left out), newest last. */
  readonly warnings: string[] = [];

  private cams?: Map<string, CamState>;
  private epochs = new Map<string, Map<string, EpochState>>();
  private keys = new Map<string, string>();
  private segRefs = new Map<string, SegRef>();
  private eventRefs = new Map<string, EventRef>();
  private media = new Map<string, Uint8Array>(); // segment id → verified fMP4, least recently used first
  private mediaBytes = 0;

  private constructor(dev: Device, roster: Roster, role: 'owner' | 'member') {
    this.device = dev;
    this.roster = roster;
    this.role = role;
  }

  /**
   * Opens the signed-in account's household with this device: verifies the
   * roster chain against the pinned root (pinning it on first use). A
   * roster that does not verify or forks from what was seen is a RosterAlarm.
   */
  static async open(dev: Device): Promise<Household> {
    const { household, role } = await myHousehold();
    const { roster } = await verifiedRoster(household);
    return new Household(dev, roster, role === 'member' ? 'member' : 'owner');
  }

  /** Whether this browser is a device of the household's roster (else: pair it). */
  get isDevice(): boolean {
    const e = entry(this.roster, this.device.id);
    return e !== undefined && e.kind === KindDevice;
  }

  private requireViewer(): void {
    if (!this.isDevice) {
      throw new Error(`this browser (${this.device.id}) is not in your household's roster (version ${this.roster.version}), so it holds no keys to your video: pair it with an owner device first`);
    }
  }

  /** Signers trusted for a camera's manifests, announcements and events: its hub and the owner devices of its household's roster. */
  private trusted(hubId: string, hubPub: Uint8Array, scope: Scope): Signers {
    const m = new Map<string, Uint8Array>([[hubId, hubPub]]);
    for (const o of owners(scope.roster)) m.set(o.id, o.sign);
    return (id) => m.get(id);
  }

  private hubKey(hubId: string, roster: Roster = this.roster): Uint8Array {
    const e = entry(roster, hubId);
    if (!e || e.kind !== KindHub) {
      const whose = roster === this.roster ? "your household's roster" : `the roster of household ${roster.household}`;
      throw new Error(`hub ${hubId} is not in ${whose} (version ${roster.version}): its data cannot be trusted`);
    }
    return e.sign;
  }

  private async loadCameras(): Promise<Map<string, CamState>> {
    if (this.cams) return this.cams;
    const out = new Map<string, CamState>();
    // A browser that is not a device of the account's own household may
    // still be a member device of households sharing cameras with it.
    if (this.isDevice) {
      const own: Scope = { household: this.roster.household, roster: this.roster, member: false };
      const list = (await api<ApiCamera[] | null>('GET', '/v1/cameras')) ?? [];
      for (const a of list) out.set(a.id, await this.openApiCamera(a, own));
    }
    const shared = await this.loadShared(out);
    if (!this.isDevice && shared === 0) this.requireViewer();
    this.cams = out;
    return out;
  }

  /** A listed camera with its descriptor opened and verified against scope's roster (error set if not). */
  private async openApiCamera(a: ApiCamera, scope: Scope, shared?: SharedFrom): Promise<CamState> {
    const c: Camera = { id: a.id, name: a.id, hub: a.hub_id, retentionDays: a.retention_days };
    if (shared) c.shared = shared;
    if (a.last_upload) {
      c.lastUpload = new Date(a.last_upload);
      c.online = Date.now() - c.lastUpload.getTime() < onlineWindowMs;
    }
    const st: CamState = { c, scope };
    try {
      st.hubPub = this.hubKey(a.hub_id, scope.roster);
      const d = await openCamera(b64decode(a.descriptor), deviceSecrets(this.device).kem, st.hubPub);
      if (d.household !== scope.household || d.camera !== a.id || d.hub !== a.hub_id) {
        throw new Error('descriptor is signed for another household, camera or hub');
      }
      c.name = d.name;
    } catch (e) {
      c.error = `camera ${a.id}: descriptor does not open or verify: ${(e as Error).message}`;
      st.hubPub = undefined;
    }
    return st;
  }

  /**
   * Adds the cameras other households share with this account (GET
   * /v1/shared) to out and answers how many households share. A household
   * this browser accepted no invite of, or whose roster does not list this
   * browser as a member with the camera in scope, lists its cameras with
   * error set; a roster chain that forks from the pin is a RosterAlarm.
   */
  private async loadShared(out: Map<string, CamState>): Promise<number> {
    let list: ApiShared[];
    try {
      list = (await api<ApiShared[] | null>('GET', '/v1/shared')) ?? [];
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return 0; // a service without sharing
      this.warn(`the cameras shared with you could not be listed: ${(e as Error).message}`);
      return 0;
    }
    const pins = await loadSharedPins();
    const now = new Date();
    for (const s of list) {
      if (!validID(s.household)) continue;
      const from: SharedFrom = { household: s.household, expires: s.expires ? new Date(s.expires) : undefined };
      const cams = s.cameras ?? [];
      const fail = (why: string) => {
        for (const a of cams) {
          if (!out.has(a.id)) out.set(a.id, { c: { id: a.id, name: a.id, hub: a.hub_id, shared: from, error: why }, scope: { household: s.household, roster: this.roster, member: true } });
        }
      };
      const pin = pins.get(s.household);
      if (!pin) {
        fail(`household ${s.household} shares this camera with you, but this browser did not accept its invite, so it holds no key to check that household's roster: ask its owner for an invite and accept it in this browser`);
        continue;
      }
      const served = (s.roster ?? []).map(b64decode);
      let roster: Roster;
      try {
        roster = checkChain(pin, served);
        if (roster.household !== s.household) throw new RosterAlarm(`the roster served for household ${s.household} names household ${roster.household}; refusing it`);
      } catch (e) {
        if (e instanceof RosterAlarm) throw e;
        fail(`the roster of household ${s.household} does not verify: ${(e as Error).message}`);
        continue;
      }
      if (served.length > pin.versions.length) await saveSharedPin({ ...pin, versions: served });
      const scope: Scope = { household: s.household, roster, member: true };
      const me = entry(roster, this.device.id);
      for (const a of cams) {
        if (out.has(a.id)) continue;
        const st = await this.openApiCamera(a, scope, from);
        const why = memberProblem(roster, me, a.id, now);
        if (why) {
          st.c.error = why;
          st.hubPub = undefined;
        }
        out.set(a.id, st);
      }
    }
    return list.length;
  }

  /** The household's cameras (listed afresh), sorted by name; those whose descriptor failed carry error. */
  async cameras(): Promise<Camera[]> {
    this.cams = undefined; // fresh: names, online state
    const cams = [...(await this.loadCameras()).values()].map((s) => ({ ...s.c }));
    return cams.sort((a, b) => (a.name === b.name ? (a.id < b.id ? -1 : 1) : a.name < b.name ? -1 : 1));
  }

  private async camera(id: string): Promise<{ c: Camera; hubPub: Uint8Array; scope: Scope }> {
    let st = (await this.loadCameras()).get(id);
    if (!st) {
      this.cams = undefined; // a camera added since the listing
      st = (await this.loadCameras()).get(id);
    }
    if (!st) throw new Error(`no camera ${id} in your household or shared with you`);
    if (!st.hubPub) throw new Error(st.c.error ?? `camera ${id} does not verify`);
    if (st.scope.member) {
      // The listing may be old: access ends at the roster's not_after.
      const why = memberProblem(st.scope.roster, entry(st.scope.roster, this.device.id), id, new Date());
      if (why) throw new Error(why);
    }
    return { c: st.c, hubPub: st.hubPub, scope: st.scope };
  }

  /**
   * The verified hub of a camera (id and Ed25519 key) and the household
   * whose roster lists it (the camera's, which for a shared camera is not
   * this.roster's), for the live view.
   */
  async cameraHub(camera: string): Promise<{ id: string; sign: Uint8Array; household: string }> {
    const { c, hubPub, scope } = await this.camera(camera);
    return { id: c.hub, sign: hubPub, household: scope.household };
  }

  /** The unwrapped key of a camera's epoch, checked against the verified announcement. */
  private async epochKey(camera: string, epochId: string): Promise<string> {
    const k = this.keys.get(epochId);
    if (k) return k;
    const { c, hubPub, scope } = await this.camera(camera);
    let eps = this.epochs.get(camera);
    // The page lives long: a new epoch (a new UTC day, a roster change)
    // appears after the listing was cached, so look again once.
    if (!eps || !eps.has(epochId)) {
      const list = (await api<ApiEpoch[] | null>('GET', `/v1/cameras/${encodeURIComponent(camera)}/epochs?device=${encodeURIComponent(this.device.id)}`)) ?? [];
      eps = new Map();
      for (const e of list) {
        const st: EpochState = {};
        try {
          st.ann = verifyEpochFrom(b64decode(e.announcement), this.trusted(c.hub, hubPub, scope));
          if (st.ann.household !== scope.household || st.ann.camera !== camera || st.ann.epoch !== e.id) {
            throw new Error('announcement is for another household, camera, epoch or hub');
          }
          if (e.wrap) st.wrap = b64decode(e.wrap);
        } catch (err) {
          st.err = (err as Error).message;
        }
        eps.set(e.id, st);
      }
      this.epochs.set(camera, eps);
    }
    const ep = eps.get(epochId);
    if (!ep) throw new Error(`epoch ${epochId}: the service lists no such epoch for camera ${camera}, so the object is not this camera's: the service mixed up or altered its data; refusing it`);
    if (ep.err || !ep.ann) throw new Error(`epoch ${epochId}: announcement does not verify with the key of the hub or an owner device: ${ep.err}`);
    if (!ep.wrap) throw new NoWrapError(`epoch ${epochId}: no key for this device`);
    const key = await openEpochKey(ep.wrap, deviceSecrets(this.device).kem, ep.ann);
    this.keys.set(epochId, key);
    return key;
  }

  private async openManifest(camera: string, oi: ApiObject): Promise<ManifestObject[]> {
    if (!validID(oi.id) || !validID(oi.epoch_id)) throw new Error(`the service listed a manifest with a malformed id "${oi.id}" (epoch "${oi.epoch_id}")`);
    if (!oi.data) throw new Error(`manifest ${oi.id}: the service sent it without its data`);
    const key = await this.epochKey(camera, oi.epoch_id);
    const { c, hubPub, scope } = await this.camera(camera);
    let m;
    try {
      m = verifyManifestFrom(await decrypt(b64decode(oi.data), key), this.trusted(c.hub, hubPub, scope), scope.household, camera, oi.epoch_id);
    } catch (e) {
      throw new Error(`manifest ${oi.id} (camera ${c.name}, epoch ${oi.epoch_id}) does not open or verify: ${(e as Error).message}`);
    }
    const out: ManifestObject[] = [];
    for (const o of m.objects) {
      if (o.kind !== 'segment') continue;
      if (!validID(o.id) || o.sha256.length !== 64 || o.size <= 0 || o.size > maxObject || o.durationMs < 0) {
        throw new Error(`manifest ${oi.id} lists a malformed segment entry (id "${o.id}", seq ${o.seq})`);
      }
      out.push(o);
    }
    return out;
  }

  /**
   * The camera's segments overlapping [from, to), by sequence, each listed
   * by a manifest that opened and verified. A manifest that fails is an
   * error; manifests of epochs this device has no key for are skipped (see
   * warnings).
   */
  async segments(camera: string, from: Date, to: Date): Promise<Segment[]> {
    await this.camera(camera);
    const q = `from=${rfc3339s(new Date(from.getTime() - 60_000))}&to=${rfc3339s(to)}&include=data`;
    const list = (await api<{ objects: ApiObject[] | null }>('GET', `/v1/cameras/${encodeURIComponent(camera)}/manifests?${q}`)).objects ?? [];
    const fromT = GoTime.fromDate(from), toT = GoTime.fromDate(to);
    const bySeq = new Map<number, SegRef>();
    const noKey = new Map<string, number>();
    for (const oi of list) {
      if (oi.kind !== 'manifest') continue;
      let objs: ManifestObject[];
      try {
        objs = await this.openManifest(camera, oi);
      } catch (e) {
        if (e instanceof NoWrapError) {
          noKey.set(oi.epoch_id, (noKey.get(oi.epoch_id) ?? 0) + 1);
          continue;
        }
        throw e;
      }
      for (const o of objs) {
        if (!o.start.before(toT) || !o.start.addMs(o.durationMs).after(fromT)) continue;
        const prev = bySeq.get(o.seq);
        if (prev) {
          if (prev.o.id !== o.id || prev.o.sha256 !== o.sha256) {
            this.warn(`manifests ${prev.manifest} and ${oi.id} list different segments (${prev.o.id}, ${o.id}) as segment ${o.seq} of camera ${camera}; using the first`);
          }
          continue;
        }
        bySeq.set(o.seq, { o, camera, epoch: oi.epoch_id, manifest: oi.id });
      }
    }
    for (const [ep, n] of noKey) this.warn(`skipped ${n} manifest(s) of epoch ${ep}: the hub wrapped no key of it to this browser (${this.device.id})`);
    const refs = [...bySeq.values()].sort((a, b) => a.o.seq - b.o.seq);
    for (const r of refs) this.segRefs.set(r.o.id, r);
    return refs.map((r) => ({
      id: r.o.id, camera, epoch: r.epoch, seq: r.o.seq, start: r.o.start.date, end: r.o.start.addMs(r.o.durationMs).date,
      frames: r.o.frames, codec: r.o.codec, size: r.o.size,
    }));
  }

  private warn(msg: string): void {
    this.warnings.push(msg);
    if (this.warnings.length > 100) this.warnings.shift();
  }

  /**
   * Downloads one segment listed by segments(), checks size and SHA-256 of
   * its ciphertext against the manifest, decrypts it and checks its sealed
   * header against the manifest entry. Answers the fMP4 (init + fragments).
   */
  async segmentMP4(seg: Segment, signal?: AbortSignal): Promise<Uint8Array> {
    const r = this.segRefs.get(seg.id);
    if (!r) throw new Error(`segment ${seg.id} was not listed by a verified manifest: list it with segments() first`);
    const cached = this.media.get(seg.id);
    if (cached) {
      this.media.delete(seg.id);
      this.media.set(seg.id, cached);
      return cached;
    }
    const key = await this.epochKey(r.camera, r.epoch);
    const { scope } = await this.camera(r.camera);
    const ct = await apiBytes(`/v1/objects/${encodeURIComponent(r.o.id)}`, { signal });
    const s = r.o;
    if (ct.length !== s.size) throw new Error(`segment ${s.id} (seq ${s.seq}): the service sent ${ct.length} bytes, its manifest ${r.manifest} lists ${s.size}: refusing it`);
    const got = sha256hex(ct);
    if (got !== s.sha256) throw new Error(`segment ${s.id} (seq ${s.seq}): SHA-256 of the ciphertext is ${got}, its manifest ${r.manifest} lists ${s.sha256}: the object was altered or swapped; refusing it`);
    let hdr, media;
    try {
      ({ header: hdr, media } = await openSegment(ct, key));
    } catch (e) {
      throw new Error(`segment ${s.id} (seq ${s.seq}): does not decrypt with the key of epoch ${r.epoch}: ${(e as Error).message}`);
    }
    if (hdr.household !== scope.household || hdr.camera !== r.camera || hdr.epoch !== r.epoch) {
      throw new Error(`segment ${s.id} (seq ${s.seq}): its sealed header names household ${hdr.household}, camera ${hdr.camera}, epoch ${hdr.epoch}, not the manifest's: refusing it`);
    }
    if (hdr.seq !== s.seq || !hdr.start.equal(s.start) || hdr.durationMs !== s.durationMs || hdr.codec !== s.codec || hdr.frames !== s.frames) {
      throw new Error(`segment ${s.id}: its sealed header does not match manifest ${r.manifest}: refusing it`);
    }
    this.media.set(s.id, media);
    this.mediaBytes += media.length;
    for (const [id, m] of this.media) {
      if (this.mediaBytes <= maxMediaCache || this.media.size <= 1) break;
      this.media.delete(id);
      this.mediaBytes -= m.length;
    }
    return media;
  }

  /**
   * The camera's events since since (to now), oldest first, each decrypted
   * and verified (signed by the camera's hub or an owner device, for this
   * household, camera and epoch); the highest version of each event. Objects
   * that fail are left out and named in warnings. opts.classes keeps events
   * with any of those classes.
   */
  async events(camera: string, since: Date, opts?: { classes?: string[] }): Promise<PEvent[]> {
    const { c, hubPub, scope } = await this.camera(camera);
    const now = new Date();
    const q = `from=${rfc3339s(since)}&to=${rfc3339s(now)}&include=data`;
    const list = (await api<{ objects: ApiObject[] | null }>('GET', `/v1/cameras/${encodeURIComponent(camera)}/events?${q}`)).objects ?? [];
    const best = new Map<string, EventRef>();
    for (const oi of list) {
      const r = await this.openEvent(camera, c, hubPub, scope, oi);
      const prev = r && best.get(r.ev.id);
      if (r && (!prev || prev.ev.version < r.ev.version)) best.set(r.ev.id, r);
    }
    const sinceT = GoTime.fromDate(since), nowT = GoTime.fromDate(now);
    const out: PEvent[] = [];
    const refs = [...best.values()].sort((a, b) => (a.ev.start.ns === b.ev.start.ns ? (a.ev.id < b.ev.id ? -1 : 1) : a.ev.start.ns < b.ev.start.ns ? -1 : 1));
    for (const r of refs) {
      const e = r.ev;
      const end = e.end.isZero ? e.start : e.end;
      if (e.start.after(nowT) || end.before(sinceT)) continue;
      if (opts?.classes?.length && !opts.classes.some((k) => e.classes.includes(k))) continue;
      this.eventRefs.set(camera + '/' + e.id, r);
      out.push(toPEvent(camera, e));
    }
    return out;
  }

  /**
   * Opens one listed event object: decrypted with its epoch's key and
   * verified (seal.VerifyEventFrom). A failure is recorded in warnings and
   * answers undefined, as does an epoch this device has no key for.
   */
  private async openEvent(camera: string, c: Camera, hubPub: Uint8Array, scope: Scope, oi: ApiObject): Promise<EventRef | undefined> {
    try {
      if (oi.kind !== 'event' || !validID(oi.id) || !validID(oi.epoch_id)) throw new Error(`the service listed a malformed event object "${oi.id}" (kind "${oi.kind}")`);
      if (!oi.data) throw new Error(`event object ${oi.id}: the service sent it without its data`);
      const key = await this.epochKey(camera, oi.epoch_id);
      try {
        const ev = verifyEventFrom(await decrypt(b64decode(oi.data), key), this.trusted(c.hub, hubPub, scope), scope.household, camera, oi.epoch_id);
        return { ev, epoch: oi.epoch_id, object: oi.id };
      } catch (e) {
        throw new Error(`event object ${oi.id} (camera ${c.name}, epoch ${oi.epoch_id}) does not open or verify: ${(e as Error).message}`);
      }
    } catch (e) {
      if (!(e instanceof NoWrapError)) this.warn((e as Error).message);
      return undefined;
    }
  }


  /** The event's thumbnail (image/jpeg), checked against the SHA-256 in the signed event; null if it has none. */
  async thumbnail(ev: PEvent): Promise<Blob | null> {
    const r = this.eventRefs.get(ev.camera + '/' + ev.id);
    if (!r) throw new Error(`event ${ev.id} was not listed by events(): list it first`);
    if (!r.ev.thumb) return null;
    const ct = await apiBytes(`/v1/objects/${encodeURIComponent(r.ev.thumb)}`);
    if (ct.length > maxThumb) throw new Error(`thumbnail ${r.ev.thumb} of event ${ev.id}: larger than a thumbnail can be; refusing it`);
    const got = sha256hex(ct);
    if (got !== r.ev.thumbSHA256) throw new Error(`thumbnail ${r.ev.thumb} of event ${ev.id}: SHA-256 of the ciphertext is ${got}, the hub-signed event names ${r.ev.thumbSHA256}: the object was altered or swapped; refusing it`);
    const key = await this.epochKey(ev.camera, r.epoch);
    let jpeg: Uint8Array;
    try {
      jpeg = await decrypt(ct, key);
    } catch (e) {
      throw new Error(`thumbnail ${r.ev.thumb} of event ${ev.id} does not decrypt with the key of epoch ${r.epoch}: ${(e as Error).message}`);
    }
    return new Blob([jpeg as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' });
  }

  /**
   * The thumbnail of the camera's newest event that has one (last day,
   * else last week), or null. Event objects are opened newest first, only
   * until one with a thumbnail is found.
   */
  async latestThumbnail(camera: string): Promise<Blob | null> {
    const { c, hubPub, scope } = await this.camera(camera);
    const now = new Date();
    for (const days of [1, 7]) {
      const q = `from=${rfc3339s(new Date(now.getTime() - days * 86400_000))}&to=${rfc3339s(now)}&include=data`;
      const list = (await api<{ objects: ApiObject[] | null }>('GET', `/v1/cameras/${encodeURIComponent(camera)}/events?${q}`)).objects ?? [];
      let newest: EventRef | undefined;
      for (let i = list.length - 1; i >= 0; i--) {
        const r = await this.openEvent(camera, c, hubPub, scope, list[i]);
        if (!r?.ev.thumb) continue;
        if (newest && newest.ev.start.ns > r.ev.start.ns) break; // listed by minute: nothing older can be newer
        if (!newest || r.ev.start.ns > newest.ev.start.ns || (r.ev.id === newest.ev.id && r.ev.version > newest.ev.version)) newest = r;
      }
      if (newest) {
        this.eventRefs.set(camera + '/' + newest.ev.id, newest);
        return this.thumbnail(toPEvent(camera, newest.ev));
      }
    }
    return null;
  }

  /**
   * One playable MP4 of the camera's segments overlapping [from, to]
   * (segment granularity; holes closed), every segment verified and
   * decrypted here. progress(done, total) counts segments.
   */
  async exportClip(camera: string, from: Date, to: Date, progress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<Blob> {
    const segs = await this.segments(camera, from, to);
    if (segs.length === 0) throw new Error(`no recordings of this camera between ${from.toLocaleString()} and ${to.toLocaleString()}: pick a range on the timeline`);
    const total = segs.reduce((n, s) => n + s.size, 0);
    if (total > maxExport) throw new Error(`the range holds ${Math.round(total / 2 ** 20)} MiB of video, more than one download handles in a browser: download a shorter range`);
    // Unwrap every epoch key first, sequentially (fills the caches).
    for (const s of segs) await this.epochKey(camera, s.epoch);
    const media: Uint8Array[] = new Array(segs.length);
    let next = 0, done = 0;
    progress?.(0, segs.length);
    const ctl = new AbortController();
    const onAbort = () => ctl.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const worker = async () => {
      while (next < segs.length) {
        if (ctl.signal.aborted) throw signal?.reason ?? new Error('download cancelled');
        const i = next++;
        media[i] = await this.segmentMP4(segs[i], ctl.signal);
        progress?.(++done, segs.length);
      }
    };
    try {
      const ws = Array.from({ length: Math.min(downloadWorkers, segs.length) }, worker);
      const results = await Promise.allSettled(ws);
      const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
      if (failed) throw failed.reason;
    } catch (e) {
      ctl.abort();
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    const parts = concatMP4(media);
    return new Blob(parts as Uint8Array<ArrayBuffer>[], { type: 'video/mp4' });
  }

  /**
   * Approves a pending support request as `porchlight grants approve` does:
   * checks the request, maps its camera name to exactly one camera, signs a
   * porchlight.grant with this owner device and, only if it asks for video,
   * wraps the keys of the epochs recorded in its window to the request's
   * key. A 403 ApiError with code reauth_required means: sign in again
   * (POST /v1/reauth), then retry.
   */
  async approveGrant(requestId: string): Promise<void> {
    if (!validID(requestId)) throw new Error(`"${requestId}" is not a request id`);
    this.requireViewer();
    const self = entry(this.roster, this.device.id);
    if (!self || self.role !== RoleOwner) throw new Error('this browser is not an owner device of your household, so it cannot approve support access: use an owner device');
    const g = await api<ApiGrant>('GET', `/v1/grants/${encodeURIComponent(requestId)}`);
    if (g.id !== requestId || g.household !== this.roster.household) throw new Error(`the service sent another request (${g.id} of household ${g.household}) for ${requestId}: refusing it`);
    if (g.state !== 'pending') throw new Error(`request ${requestId} is ${g.state}, not pending: only a pending request can be approved`);
    try {
      parseRecipient(g.recipient);
    } catch (e) {
      throw new Error(`request ${requestId} carries no valid request key (${(e as Error).message}): deny it`);
    }
    const durS = g.duration_s > 0 ? g.duration_s : 3600;
    const from = GoTime.parse(g.from), to = GoTime.parse(g.to);
    if (!g.requester_id) throw new Error(`request ${requestId} names no requesting account: deny it`);
    if (!from.before(to)) throw new Error(`request ${requestId} asks for an empty window: deny it`);
    if (durS > 24 * 3600) throw new Error(`request ${requestId} asks for more than the 24 hours of access allowed: deny it`);
    const cams = (await this.cameras()).filter((c) => !c.error && !c.shared && (c.id === g.camera || c.name === g.camera));
    if (cams.length !== 1) {
      throw new Error(`request ${requestId} names camera "${g.camera}", which does not match exactly one of your cameras: deny it, and ask support to file it again with the right name`);
    }
    const c = cams[0];
    const hubPub = this.hubKey(c.hub);
    const epochs: string[] = [];
    if (g.video) {
      for (const s of await this.segments(c.id, from.date, new Date(Number((to.ns + 999_999n) / 1_000_000n)))) {
        if (!epochs.includes(s.epoch)) epochs.push(s.epoch);
      }
    }
    const wraps: { epoch: string; data: string }[] = [];
    for (const ep of epochs) {
      const k = await this.epochKey(c.id, ep);
      const w = await encrypt(epochKeyJSON({ household: this.roster.household, camera: c.id, epoch: ep, identity: k }), g.recipient);
      wraps.push({ epoch: ep, data: b64encode(w) });
    }
    const signers = [hubPub, ...owners(this.roster).map((o) => o.sign)];
    const now = new GoTime((BigInt(Date.now()) / 1000n) * 1_000_000_000n);
    const signed = signGrant(deviceSecrets(this.device).seed, grantBody({
      id: g.id, household: this.roster.household, requester: g.requester_id, recipient: g.recipient, camera: c.id,
      from, to, video: g.video, notAfter: new GoTime(now.ns + BigInt(durS) * 1_000_000_000n), reason: g.reason, ticket: g.ticket,
      hubs: signers, created: now,
    }));
    try {
      await api('POST', `/v1/grants/${encodeURIComponent(requestId)}/approve`, { signed: b64encode(signed), wraps });
    } catch (e) {
      if (e instanceof ApiError && e.status === 403 && e.code === 'factor_required') {
        throw new ApiError(e.status, e.code, 'approving support access needs a second factor on your account: add an authenticator app (Settings → Security), then approve again', e.id);
      }
      throw e;
    }
  }
}

interface ApiGrant {
  id: string; state: string; household: string; requester: string; requester_id: string; camera: string; camera_id?: string;
  from: string; to: string; video: boolean; duration_s: number; reason: string; ticket: string; recipient: string;
}

function toPEvent(camera: string, e: SealedEvent): PEvent {
  return {
    id: e.id, camera, kind: e.kind, classes: e.classes, labels: e.labels, score: e.score, zone: e.zone,
    start: e.start.date, end: e.end.isZero ? undefined : e.end.date, priority: e.priority, thumb: e.thumb || undefined, version: e.version,
    track: e.track.map((p) => ({ t: p.t.date, box: [p.x0, p.y0, p.x1, p.y1] as [number, number, number, number] })),
  };
}

/**
 * memberProblem says why this browser (roster entry me) may not read a
 * shared camera of roster's household now, or answers null: it must be a
 * member device of that roster with the camera in scope and its access not
 * ended (internal/httpapi checks the same; the browser does not rely on it).
 */
function memberProblem(roster: Roster, me: ReturnType<typeof entry>, camera: string, now: Date): string | null {
  if (!me || me.kind !== KindDevice || me.role !== RoleMember) {
    return `household ${roster.household} shares this camera with your account, but its roster (version ${roster.version}) does not list this browser as a member device: accept an invite from its owner in this browser, and have the owner confirm it`;
  }
  if (me.notAfter && !(now < me.notAfter)) return `your access to the cameras of household ${roster.household} ended at ${me.notAfter.toISOString()}: ask its owner to share them again`;
  if (!inScope(me, camera, now)) return `camera ${camera} is not shared with this browser by household ${roster.household}'s roster (version ${roster.version})`;
  return null;
}

// Pins of sharing households: household id → the root key this browser
// accepted an invite under and the roster versions verified since (the
// store's record "shared"; the own household's pin is device.ts's).
const sharedPinsKey = 'shared';
type StoredShared = Record<string, { household: string; root: string; versions: string[] }>;

async function loadSharedPins(): Promise<Map<string, { household: string; root: Uint8Array; versions: Uint8Array[] }>> {
  const raw = ((await store().get(sharedPinsKey)) as StoredShared | undefined) ?? {};
  return new Map(Object.values(raw).map((p) => [p.household, { household: p.household, root: b64decode(p.root), versions: p.versions.map(b64decode) }]));
}

async function saveSharedPin(p: { household: string; root: Uint8Array; versions: Uint8Array[] }): Promise<void> {
  const raw = ((await store().get(sharedPinsKey)) as StoredShared | undefined) ?? {};
  raw[p.household] = { household: p.household, root: b64encode(p.root), versions: p.versions.map(b64encode) };
  await store().put(sharedPinsKey, raw);
}

/** Invite codes' alphabet and length (internal/auth: claimAlphabet, claimLen). */
const codeAlphabet = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
const codeLen = 12;

/**
 * normalizeInviteCode reads an invite code as a person may type it (any
 * case, with or without dashes and spaces) as auth.NormalizeClaimCode
 * does: ABCD-EFGH-JKLM, or null if it is not one.
 */
export function normalizeInviteCode(s: string): string | null {
  if (s.length > 3 * codeLen) return null;
  let b = '';
  for (const ch of s.toUpperCase()) {
    if (ch === '-' || ch === ' ') continue;
    if (!codeAlphabet.includes(ch)) return null;
    b += ch;
  }
  if (b.length !== codeLen) return null;
  return `${b.slice(0, 4)}-${b.slice(4, 8)}-${b.slice(8, 12)}`;
}

/**
 * acceptInvite accepts an owner's invite to see some of their cameras with
 * this browser's keys (as `porchlight members accept CODE`): it posts the
 * keys, pins the inviting household's root key and answers the
 * authentication string to compare with what the owner's
 * `porchlight members confirm CODE` shows. The cameras appear in cameras()
 * once the owner confirmed. A household pinned before under another root
 * is a RosterAlarm.
 */
export async function acceptInvite(dev: Device, code: string): Promise<{ household: string; sas: string }> {
  const c = normalizeInviteCode(code);
  if (!c) throw new Error(`"${code}" is not an invite code: it looks like ABCD-EFGH-JKLM (what the owner's porchlight members invite printed)`);
  let acc: { household: string; root: string };
  try {
    acc = await api<{ household: string; root: string }>('POST', `/v1/members/invites/${encodeURIComponent(c)}/accept`, { name: dev.name, sign: b64encode(dev.signPub), kem: dev.recipient });
  } catch (e) {
    if (e instanceof ApiError && e.status === 409) throw new ApiError(e.status, e.code, 'this invite was already accepted by another device: ask the owner for a new invite', e.id);
    throw e;
  }
  if (!validID(acc.household)) throw new Error(`the service answered the invite with a malformed household id "${acc.household}"`);
  const root = b64decode(acc.root);
  if (root.length !== 32) throw new Error('the service answered the invite without a valid household key: ask the owner for a new invite');
  const pins = await loadSharedPins();
  const old = pins.get(acc.household);
  if (old) {
    if (b64encode(old.root) !== b64encode(root)) {
      throw new RosterAlarm(`household ${acc.household} was pinned to root key ${keyIDOf(old.root)}, the service now says ${keyIDOf(root)}; refusing it`);
    }
  } else {
    await saveSharedPin({ household: acc.household, root, versions: [] });
  }
  return { household: acc.household, sas: pairSAS(c, dev.signPub, dev.recipient, root) };
}
