// Household against a fake porchlightd (testing.ts): everything listed is
// verified and decrypted here, tampering is refused, an export is one
// playable fMP4, and a grant approval signs what Go verifies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519 } from '@noble/curves/ed25519.js';
import { decrypt } from './agex';
import { b64decode, b64encode, fromUtf8 } from './bytes';
import { loadOrCreateDevice } from './device';
import { Household } from './household';
import { boxes } from './mp4';
import { parseEpochKey } from './objects';
import { RosterAlarm } from './roster';
import { decodeBody, parseSigned, signEnvelope, TypeGrant, verifySigned } from './signed';
import { fragmentTimes, installFakeService } from './testing';
import { obj, str, int, bool, arr, time } from './json';
import { store } from './store';
import { keyID } from './signed';

const segStart = new Date(Math.floor(Date.now() / 1000) * 1000 - 10 * 60_000);

test('household: open, cameras, segments, events, thumbnails, export, grant approval', async () => {
  const dev = await loadOrCreateDevice('test browser');
  const svc = await installFakeService(dev, { segStart });
  const h = await Household.open(dev);
  assert.equal(h.role, 'owner');
  assert.equal(h.roster.version, 1);
  assert.ok(h.isDevice);

  const cams = await h.cameras();
  assert.deepEqual(cams.map((c) => [c.id, c.name, c.online, c.error]), [[svc.camera, 'front door', true, undefined]]);

  const segs = await h.segments(svc.camera, new Date(segStart.getTime() - 60_000), new Date(segStart.getTime() + 60_000));
  assert.deepEqual(segs.map((s) => s.seq), [42, 43]);
  assert.equal(segs[0].start.getTime(), segStart.getTime());
  assert.equal(segs[1].end.getTime(), segStart.getTime() + 8000);
  // Only the segments that overlap the range.
  assert.deepEqual((await h.segments(svc.camera, new Date(segStart.getTime() + 5000), new Date(segStart.getTime() + 6000))).map((s) => s.seq), [43]);
  assert.deepEqual(await h.segmentMP4(segs[0]), svc.segments[0].media);
  assert.deepEqual(await h.segmentMP4(segs[0]), svc.segments[0].media);
  assert.equal(svc.requests.filter((r) => r.path === `/v1/objects/${segs[0].id}`).length, 1, 'a verified segment is kept for scrubbing');

  const clip = new Uint8Array(await (await h.exportClip(svc.camera, segStart, new Date(segStart.getTime() + 8000), (d, t) => assert.ok(d <= t))).arrayBuffer());
  assert.deepEqual(boxes(clip).map((b) => b.type), ['ftyp', 'moov', 'moof', 'mdat', 'moof', 'mdat']);
  assert.deepEqual(fragmentTimes(clip).map((f) => f.base), [0n, 90000n]);

  const evs = await h.events(svc.camera, new Date(segStart.getTime() - 60_000));
  assert.equal(evs.length, 1);
  assert.equal(evs[0].version, 2);
  assert.deepEqual(evs[0].classes, ['person', 'animal']);
  assert.deepEqual(evs[0].track[0].box.map((x) => Math.round(x * 10)), [1, 2, 3, 9]);
  assert.equal((await h.events(svc.camera, new Date(segStart.getTime() - 60_000), { classes: ['vehicle'] })).length, 0);
  const thumb = await h.thumbnail(evs[0]);
  assert.equal(thumb?.type, 'image/jpeg');
  assert.equal(fromUtf8(new Uint8Array(await thumb!.arrayBuffer())), '\xff\xd8 not really a jpeg');
  assert.ok(await h.latestThumbnail(svc.camera));

  await h.approveGrant('grantaaaaaaaaaaaaaaaaaaaaa');
  const post = svc.requests.find((r) => r.method === 'POST' && r.path.endsWith('/approve'));
  assert.ok(post);
  const body = post.body as { signed: string; wraps: { epoch: string; data: string }[] };
  const env = parseSigned(b64decode(body.signed), TypeGrant);
  verifySigned(env, dev.signPub);
  const g = decodeBody(env, obj({ v: int, id: str, household: str, requester: str, recipient: str, camera: str, from: time, to: time, video: bool, not_after: time, reason: str, ticket: str, hubs: arr(str), created: time }));
  assert.equal(g.camera, svc.camera);
  assert.equal(g.requester, 'supportaccountaaaaaaaaaaaa');
  assert.deepEqual(g.hubs, [b64encode(svc.hubPub), b64encode(dev.signPub)]);
  assert.equal(Number(g.not_after.ns - g.created.ns) / 1e9, 3600);
  assert.equal(body.wraps.length, 1);
  const k = parseEpochKey(await decrypt(b64decode(body.wraps[0].data), svc.grantRecipientIdentity));
  assert.equal(k.epoch, svc.epoch);
});

test('household: tampered objects are refused', async () => {
  const dev = await loadOrCreateDevice('test browser');
  await store().del('pin'); // each fake service is a new household
  const svc = await installFakeService(dev, { segStart });
  const h = await Household.open(dev);
  const segs = await h.segments(svc.camera, new Date(segStart.getTime() - 60_000), new Date(segStart.getTime() + 60_000));
  // A swapped segment: the other one's ciphertext.
  svc.routes.set(`GET /v1/objects/${segs[0].id}`, () => new Response(svc.segments[1].ct as Uint8Array<ArrayBuffer>));
  await assert.rejects(h.segmentMP4(segs[0]), /refusing it/);
  // A flipped byte of equal length.
  const bad = new Uint8Array(svc.segments[0].ct);
  bad[bad.length - 7] ^= 1;
  svc.routes.set(`GET /v1/objects/${segs[0].id}`, () => new Response(bad));
  await assert.rejects(h.segmentMP4(segs[0]), /SHA-256/);
  await assert.rejects(h.exportClip(svc.camera, segStart, new Date(segStart.getTime() + 8000)), /SHA-256/);
  // A manifest that does not open stops the listing.
  svc.routes.set(`GET /v1/cameras/${svc.camera}/manifests`, () => Response.json({ objects: [{ id: 'manifestaaaaaaaaaaaaaaaaa', kind: 'manifest', epoch_id: svc.epoch, time: '2026-11-23T10:00:00Z', size: 3, sha256: '', data: 'AAAA' }] }));
  await assert.rejects(h.segments(svc.camera, segStart, new Date(segStart.getTime() + 8000)), /does not open or verify/);
});

test('household: a roster not rooted in the pinned key is a ROSTER ALARM', async () => {
  const dev = await loadOrCreateDevice('test browser');
  await store().del('pin');
  const svc = await installFakeService(dev, { segStart });
  await Household.open(dev); // pins
  const other = new Uint8Array(32).fill(9);
  const pub = ed25519.getPublicKey(other);
  const forged = JSON.parse(fromUtf8(b64decode(JSON.parse(fromUtf8(svc.rosterV1)).body)));
  forged.entries[0] = { ...forged.entries[0], id: keyID(pub), sign: b64encode(pub) };
  const v1 = signEnvelope(other, 'porchlight.roster', JSON.stringify(forged));
  svc.routes.set('GET /v1/roster', () => Response.json({ versions: [b64encode(v1)] }));
  await assert.rejects(Household.open(dev), RosterAlarm);
  svc.routes.set('GET /v1/roster', () => Response.json({ versions: [] }));
  await assert.rejects(Household.open(dev), /ROSTER ALARM/);
});
