// Test-only helpers (imported by *.test.ts, never by the app): where the
// repository's testdata is, found by walking up from the running test.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateHybridIdentity, identityToRecipient } from 'age-encryption';
import { ed25519 } from '@noble/curves/ed25519.js';
import { encrypt } from './agex';
import { b64encode, concat as concatBytes, utf8 } from './bytes';
import { deviceSecrets, type Device } from './device';
import { epochKeyJSON } from './objects';
import { boxes, children } from './mp4';
import { keyID, sha256hex, signEnvelope } from './signed';

/** The repository root: the nearest ancestor holding testdata/vectors, of the test file or else of the working directory. */
export function repoRoot(): string {
  for (let dir of [dirname(fileURLToPath(import.meta.url)), process.cwd()]) {
    for (;;) {
      if (existsSync(join(dir, 'testdata', 'vectors'))) return dir;
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  throw new Error('testdata/vectors not found above ' + fileURLToPath(import.meta.url) + ' or ' + process.cwd());
}

export function readRepoFile(rel: string): string {
  return readFileSync(join(repoRoot(), rel), 'utf8');
}

export function readRepoBytes(rel: string): Uint8Array {
  return new Uint8Array(readFileSync(join(repoRoot(), rel)));
}

export function repoFileExists(rel: string): boolean {
  return existsSync(join(repoRoot(), rel));
}

export function writeRepoFile(rel: string, data: string): void {
  writeFileSync(join(repoRoot(), rel), data);
}

// A synthetic single-track fMP4 like the hub's Cutter writes: ftyp, moov
// (one trak with tkhd), then moof (mfhd, traf: tfhd default-base-is-moof,
// tfdt v1, trun with data offset, durations and sizes) + mdat.

function box(type: string, ...payload: Uint8Array[]): Uint8Array {
  const n = 8 + payload.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  new DataView(out.buffer).setUint32(0, n);
  out.set([...type].map((c) => c.charCodeAt(0)), 4);
  let o = 8;
  for (const p of payload) { out.set(p, o); o += p.length; }
  return out;
}

function u32s(...xs: number[]): Uint8Array {
  const b = new Uint8Array(4 * xs.length);
  xs.forEach((x, i) => new DataView(b.buffer).setUint32(4 * i, x));
  return b;
}

export function fakeInit(variant = 0): Uint8Array {
  const tkhd = box('tkhd', u32s(0x00000003, 0, 0, 1, 0, 0), new Uint8Array(60));
  return new Uint8Array([...box('ftyp', new TextEncoder().encode('iso6'), u32s(1)), ...box('moov', box('mvhd', u32s(0, 0, 0, 90000, variant)), box('trak', tkhd))]);
}

/** An fMP4 segment: init, then one fragment of n samples of dur ticks each, tfdt base. */
export function fakeSegment(n: number, dur: number, base: bigint, fill: number, variant = 0): Uint8Array {
  const sizes = Array.from({ length: n }, (_, i) => 10 + i);
  const payload = new Uint8Array(sizes.reduce((a, b) => a + b, 0)).fill(fill);
  const mk = (dataOffset: number) => {
    const tfdt = new Uint8Array(12);
    new DataView(tfdt.buffer).setUint32(0, 0x01000000);
    new DataView(tfdt.buffer).setBigUint64(4, base);
    const trun = box('trun', u32s(0x00000301, n, dataOffset), ...sizes.map((s) => u32s(dur, s)));
    return box('moof', box('mfhd', u32s(0, 7)), box('traf', box('tfhd', u32s(0x00020000, 1)), box('tfdt', tfdt), trun));
  };
  const moof = mk(mk(0).length + 8);
  return new Uint8Array([...fakeInit(variant), ...moof, ...box('mdat', payload)]);
}

// A fake porchlightd for Household tests: one household whose roster v1 is
// signed by dev (owner) and lists a hub; one camera with a descriptor, one
// epoch with its wrap to dev, a manifest listing segments, an event with a
// thumbnail and a pending support request. fetch is replaced; requests are
// recorded.


export interface FakeService {
  household: string; camera: string; epoch: string; hubSeed: Uint8Array; hubPub: Uint8Array; rosterV1: Uint8Array;
  segments: { id: string; media: Uint8Array; ct: Uint8Array }[];
  requests: { method: string; path: string; body?: unknown }[];
  /** Replace or add a route answer. */
  routes: Map<string, () => Response>;
  grantRecipientIdentity: string;
}

const json = (v: unknown, status = 200) => new Response(JSON.stringify(v), { status, headers: { 'Content-Type': 'application/json' } });

export async function installFakeService(dev: Device, opts: { segStart: Date }): Promise<FakeService> {
  const household = 'householdaaaaaaaaaaaaaaaaa', camera = 'cameraaaaaaaaaaaaaaaaaaaaa', epoch = 'epochaaaaaaaaaaaaaaaaaaaaa';
  const hubSeed = new Uint8Array(32).fill(0x42);
  const hubPub = ed25519.getPublicKey(hubSeed);
  const hubID = keyID(hubPub);
  const hubKEM = await identityToRecipient(await generateHybridIdentity());
  const epochId = await generateHybridIdentity();
  const epochRcpt = await identityToRecipient(epochId);
  const at = '2026-11-23T10:00:00Z';
  const rosterV1 = signEnvelope(deviceSecrets(dev).seed, 'porchlight.roster', JSON.stringify({
    v: 1, household, version: 1, prev: '', created: at,
    entries: [
      { id: dev.id, kind: 'device', role: 'owner', name: dev.name, sign: b64encode(dev.signPub), kem: dev.recipient, cameras: ['*'] },
      { id: hubID, kind: 'hub', role: 'hub', name: 'hub', sign: b64encode(hubPub), kem: hubKEM, cameras: [] },
    ],
  }));
  const descriptor = await encrypt(signEnvelope(hubSeed, 'porchlight.camera', JSON.stringify({ v: 1, household, camera, hub: hubID, name: 'front door', created: at })), dev.recipient);
  const day = opts.segStart.toISOString().slice(0, 10);
  const ann = signEnvelope(hubSeed, 'porchlight.epoch', JSON.stringify({
    v: 1, household, camera, epoch, hub: hubID, recipient: epochRcpt, not_before: day + 'T00:00:00Z', not_after: day + 'T23:59:59Z', roster: 1,
  }));
  const wrap = await encrypt(epochKeyJSON({ household, camera, epoch, identity: epochId }), dev.recipient);
  const segments: FakeService['segments'] = [];
  const entries = [];
  for (let i = 0; i < 2; i++) {
    const id = `segment${'abcdefghijklmnopqrs'[i]}aaaaaaaaaaaaaaaaaa`;
    const start = new Date(opts.segStart.getTime() + i * 4000).toISOString().replace('.000Z', 'Z');
    const media = fakeSegment(4, 22500, 0n, 0x10 + i);
    const hdr = { v: 1, household, camera, epoch, seq: 42 + i, start, duration_ms: 4000, frames: 4, codec: 'h264' };
    const ct = await encrypt(concatBytes(utf8('porchlight.segment/v1\n' + JSON.stringify(hdr) + '\n'), media), epochRcpt);
    segments.push({ id, media, ct });
    entries.push({ id, kind: 'segment', seq: 42 + i, start, duration_ms: 4000, frames: 4, codec: 'h264', size: ct.length, sha256: sha256hex(ct) });
  }
  const manifest = await encrypt(signEnvelope(hubSeed, 'porchlight.manifest', JSON.stringify({ v: 1, household, camera, hub: hubID, epoch, seq: 1, created: at, objects: entries })), epochRcpt);
  const jpeg = utf8('\xff\xd8 not really a jpeg');
  const thumbCT = await encrypt(jpeg, epochRcpt);
  const thumbID = 'thumbaaaaaaaaaaaaaaaaaaaaa';
  const evStart = new Date(opts.segStart.getTime() + 1000).toISOString().replace('.000Z', 'Z');
  const mkEvent = (version: number, classes: string[]) => encrypt(signEnvelope(hubSeed, 'porchlight.event', JSON.stringify({
    v: 1, household, camera, hub: hubID, epoch, id: 'eventaaaaaaaaaaaaaaaaaaaaa', version, kind: 'object', priority: 'normal', start: evStart,
    classes, labels: classes, score: 0.9, zone: 'porch', track: [{ t: evStart, X0: 0.1, Y0: 0.2, X1: 0.3, Y1: 0.9 }], thumb: thumbID, thumb_sha256: sha256hex(thumbCT),
  })), epochRcpt);
  const ev1 = await mkEvent(1, ['person']);
  const ev2 = await mkEvent(2, ['person', 'animal']);
  const grantIdentity = await generateHybridIdentity();
  const grant = {
    id: 'grantaaaaaaaaaaaaaaaaaaaaa', state: 'pending', household, requester: 'help@example.com', requester_id: 'supportaccountaaaaaaaaaaaa',
    camera: 'front door', from: new Date(opts.segStart.getTime() - 60_000).toISOString(), to: new Date(opts.segStart.getTime() + 60_000).toISOString(),
    video: true, duration_s: 0, reason: 'doorbell', ticket: 'T-1', recipient: await identityToRecipient(grantIdentity), created_at: at,
  };
  const minute = opts.segStart.toISOString().slice(0, 16) + ':00Z';
  const routes = new Map<string, () => Response>([
    ['GET /v1/me', () => json({ account_id: 'a', email: 'o@example.com', household_id: household, role: 'owner', session_id: 's' })],
    ['GET /v1/roster', () => json({ versions: [b64encode(rosterV1)] })],
    ['GET /v1/cameras', () => json([{ id: camera, hub_id: hubID, descriptor: b64encode(descriptor), retention_days: 0, created_at: at, last_upload: new Date().toISOString() }])],
    [`GET /v1/cameras/${camera}/epochs`, () => json([{ id: epoch, camera_id: camera, announcement: b64encode(ann), wrap: b64encode(wrap), created_at: at }])],
    [`GET /v1/cameras/${camera}/manifests`, () => json({ objects: [{ id: 'manifestaaaaaaaaaaaaaaaaa', kind: 'manifest', epoch_id: epoch, time: minute, size: manifest.length, sha256: sha256hex(manifest), data: b64encode(manifest) }] })],
    [`GET /v1/cameras/${camera}/events`, () => json({ objects: [ev1, ev2].map((d, i) => ({ id: `eventobj${'ab'[i]}aaaaaaaaaaaaaaaaa`, kind: 'event', epoch_id: epoch, time: minute, size: d.length, sha256: sha256hex(d), data: b64encode(d) })) })],
    [`GET /v1/objects/${thumbID}`, () => new Response(thumbCT as Uint8Array<ArrayBuffer>)],
    [`GET /v1/grants/${grant.id}`, () => json(grant)],
    [`POST /v1/grants/${grant.id}/approve`, () => json({ ...grant, state: 'approved' })],
  ]);
  for (const s of segments) routes.set(`GET /v1/objects/${s.id}`, () => new Response(s.ct as Uint8Array<ArrayBuffer>));
  const svc: FakeService = { household, camera, epoch, hubSeed, hubPub, rosterV1, segments, requests: [], routes, grantRecipientIdentity: grantIdentity };
  globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input), 'https://porchlight.test');
    const method = init?.method ?? 'GET';
    const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    svc.requests.push({ method, path: url.pathname + url.search, body });
    const h = routes.get(`${method} ${url.pathname}`);
    if (!h) return json({ code: 'not_found', message: `no route ${method} ${url.pathname}`, id: 'x' }, 404);
    return h();
  }) as typeof fetch;
  return svc;
}

/** tfdt base time and mfhd sequence of every fragment of a whole MP4. */
export function fragmentTimes(mp4: Uint8Array): { base: bigint; seq: number; samples: number }[] {
  const dv = new DataView(mp4.buffer, mp4.byteOffset, mp4.byteLength);
  return boxes(mp4).filter((b) => b.type === 'moof').map((moof) => {
    const kids = children(mp4, moof);
    const mfhd = kids.find((k) => k.type === 'mfhd')!;
    const traf = kids.find((k) => k.type === 'traf')!;
    const tk = children(mp4, traf);
    const tfdt = tk.find((k) => k.type === 'tfdt')!;
    const trun = tk.find((k) => k.type === 'trun')!;
    const p = tfdt.start + tfdt.header;
    return { base: mp4[p] === 1 ? dv.getBigUint64(p + 4) : BigInt(dv.getUint32(p + 4)), seq: dv.getUint32(mfhd.start + mfhd.header + 4), samples: dv.getUint32(trun.start + trun.header + 4) };
  });
}
