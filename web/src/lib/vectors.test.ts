// Opens every item of testdata/vectors/v1.json (written by Go:
// go test ./internal/keys -run TestVectors) exactly as the browser does,
// and refuses tampered copies of each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readRepoFile } from './testing';
import { ed25519 } from '@noble/curves/ed25519.js';
import { b64decode, fromUtf8, utf8 } from './bytes';
import { recipientOf } from './agex';
import { checkChain, KindHub, owners, rosterHash, rosterSigner, RosterAlarm, verifyRosterChain } from './roster';
import { openCamera, openEpochKey, openSegment, verifyEpochFrom, verifyEventFrom, verifyManifestFrom } from './objects';
import { keyID, onlySigner, sha256hex } from './signed';
import { decrypt } from './agex';

const vec = JSON.parse(readRepoFile('testdata/vectors/v1.json'));
const b = (k: string) => b64decode(vec[k]);

/** flip returns a copy of x with one byte changed at i. */
function flip(x: Uint8Array, i: number): Uint8Array {
  const y = new Uint8Array(x);
  y[i] ^= 0x01;
  return y;
}

/** Bytes of a signed envelope with one byte of its body changed (re-encoded, so only the signature catches it). */
function tamperBody(envBytes: Uint8Array): Uint8Array {
  const env = JSON.parse(fromUtf8(envBytes));
  const body = b64decode(env.body);
  const i = fromUtf8(body).lastIndexOf('a'); // change an id character
  env.body = Buffer.from(flip(body, i >= 0 ? i : body.length - 2)).toString('base64');
  return utf8(JSON.stringify(env));
}

const ownerSeed = b('owner_sign_seed');
const ownerPub = ed25519.getPublicKey(ownerSeed);
const hubPub = ed25519.getPublicKey(b('hub_sign_seed'));
const rosterVersions: Uint8Array[] = vec.roster.map((s: string) => b64decode(s));

test('roster chain verifies against the pinned owner key', () => {
  const r = verifyRosterChain(rosterVersions, ownerPub);
  assert.equal(r.household, vec.expect_household);
  assert.equal(r.version, 2);
  const hub = r.entries.find((e) => e.kind === KindHub);
  assert.ok(hub);
  assert.deepEqual(hub.sign, hubPub);
  assert.equal(owners(r)[0].id, keyID(ownerPub));
  const s = rosterSigner(rosterVersions);
  assert.deepEqual(s.root, ownerPub);
});

test('roster chain: tampered, reordered, skipped or foreign-rooted chains are refused', () => {
  const [v1, v2] = rosterVersions;
  assert.throws(() => verifyRosterChain([v1, tamperBody(v2)], ownerPub), /roster chain/);
  assert.throws(() => verifyRosterChain([tamperBody(v1), v2], ownerPub), /roster chain/);
  assert.throws(() => verifyRosterChain([v2, v1], ownerPub), /roster chain/);
  assert.throws(() => verifyRosterChain([v2], ownerPub), /starts at version 2/);
  assert.throws(() => verifyRosterChain([v1, v2], hubPub), /pinned household key/);
  for (const i of [30, 200, v2.length - 5]) assert.throws(() => verifyRosterChain([v1, flip(v2, i)], ownerPub));
});

test('checkChain: a fork or a rollback against the pin is a ROSTER ALARM', () => {
  const [v1, v2] = rosterVersions;
  const pin = { household: vec.expect_household, root: ownerPub, versions: [v1, v2] };
  assert.equal(checkChain(pin, [v1, v2]).version, 2);
  assert.throws(() => checkChain(pin, [v1]), RosterAlarm);
  assert.throws(() => checkChain({ ...pin, root: hubPub }, [v1, v2]), RosterAlarm);
  assert.throws(() => checkChain({ ...pin, versions: [v1, flip(v2, 3)] }, [v1, v2]), /fork|ALARM/);
  assert.equal(rosterHash(v1).length, 64);
});

test('epoch announcement, wrap, manifest, segment and camera descriptor open', async () => {
  const ann = verifyEpochFrom(b('epoch_announcement'), onlySigner(hubPub));
  assert.equal(ann.epoch, vec.expect_epoch);
  const epochID = await openEpochKey(b('epoch_wrap'), vec.owner_kem_identity, ann);
  assert.equal(epochID, vec.epoch_identity);
  const m = verifyManifestFrom(await decrypt(b('manifest'), epochID), onlySigner(hubPub), vec.expect_household, vec.expect_camera, vec.expect_epoch);
  assert.equal(m.objects.length, 1);
  const seg = b('segment');
  assert.equal(m.objects[0].sha256, sha256hex(seg));
  assert.equal(m.objects[0].size, seg.length);
  const { header, media } = await openSegment(seg, epochID);
  assert.equal(header.seq, vec.expect_segment_seq);
  assert.equal(header.household, vec.expect_household);
  assert.equal(header.camera, vec.expect_camera);
  assert.equal(header.epoch, vec.expect_epoch);
  assert.ok(header.start.equal(m.objects[0].start));
  assert.equal(sha256hex(media), vec.expect_media_sha256);
  const d = await openCamera(b('camera_descriptor'), vec.owner_kem_identity, hubPub);
  assert.equal(d.name, vec.expect_camera_name);
  assert.equal(d.camera, vec.expect_camera);
});

test('tampered copies of each item are refused', async () => {
  const annB = b('epoch_announcement');
  assert.throws(() => verifyEpochFrom(tamperBody(annB), onlySigner(hubPub)), /signature/);
  assert.throws(() => verifyEpochFrom(annB, onlySigner(ownerPub)), /signature/);
  const ann = verifyEpochFrom(annB, onlySigner(hubPub));
  const wrap = b('epoch_wrap');
  await assert.rejects(openEpochKey(flip(wrap, wrap.length - 3), vec.owner_kem_identity, ann));
  await assert.rejects(openEpochKey(wrap, vec.owner_kem_identity, { ...ann, epoch: 'epochbbbbbbbbbbbbbbbbbbbbb' }), /another epoch/);
  await assert.rejects(openEpochKey(wrap, vec.owner_kem_identity, { ...ann, recipient: await recipientOf(vec.owner_kem_identity) }), /announcement/);
  const epochID = vec.epoch_identity;
  const man = b('manifest');
  await assert.rejects(decrypt(flip(man, man.length - 20), epochID));
  const manPT = await decrypt(man, epochID);
  assert.throws(() => verifyManifestFrom(tamperBody(manPT), onlySigner(hubPub), vec.expect_household, vec.expect_camera, vec.expect_epoch), /signature/);
  assert.throws(() => verifyManifestFrom(manPT, onlySigner(hubPub), vec.expect_household, 'cameraxxxxxxxxxxxxxxxxxxxx', vec.expect_epoch), /another household/);
  const seg = b('segment');
  const bad = flip(seg, seg.length - 40);
  assert.notEqual(sha256hex(bad), sha256hex(seg));
  await assert.rejects(openSegment(bad, epochID));
  const cam = b('camera_descriptor');
  await assert.rejects(openCamera(flip(cam, cam.length - 10), vec.owner_kem_identity, hubPub));
  await assert.rejects(openCamera(cam, vec.owner_kem_identity, ownerPub), /signature/);
});

test('event vector (internal/seal/testdata/event-v1.json) verifies; tampered is refused', () => {
  const ev = JSON.parse(readRepoFile('internal/seal/testdata/event-v1.json'));
  const hub = ed25519.getPublicKey(b64decode(ev.hub_sign_seed));
  const signed = b64decode(ev.signed);
  const e = verifyEventFrom(signed, onlySigner(hub), ev.household, ev.camera, ev.epoch);
  assert.equal(e.id, ev.expect.id);
  assert.equal(e.version, ev.expect.version);
  assert.deepEqual(e.classes, ev.expect.classes);
  assert.equal(e.track.length, ev.expect.track.length);
  assert.equal(e.start.toJSON(), ev.expect.start);
  assert.equal(e.thumbSHA256, ev.expect.thumb_sha256);
  assert.throws(() => verifyEventFrom(tamperBody(signed), onlySigner(hub), ev.household, ev.camera, ev.epoch), /signature/);
  assert.throws(() => verifyEventFrom(signed, onlySigner(hub), ev.household, ev.camera, 'epochbbbbbbbbbbbbbbbbbbbbb'), /another household/);
});
