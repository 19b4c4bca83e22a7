// Household for a member: cameras another household shares with the
// account (GET /v1/shared) are listed next to the account's own, verified
// against the root this browser pinned when it accepted the invite, and
// read only while that household's roster lists this browser as a member
// with the camera in scope. Against the fake porchlightd of testing.ts,
// whose camera becomes the sharing household's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519 } from '@noble/curves/ed25519.js';
import { generateHybridIdentity, identityToRecipient } from 'age-encryption';
import { b64encode } from './bytes';
import { deviceSecrets, loadOrCreateDevice, type Device } from './device';
import { acceptInvite, Household, normalizeInviteCode } from './household';
import { pairSAS } from './pair';
import { rosterHash, RosterAlarm } from './roster';
import { keyID, signEnvelope } from './signed';
import { store } from './store';
import { installFakeService, type FakeService } from './testing';

const segStart = new Date(Math.floor(Date.now() / 1000) * 1000 - 10 * 60_000);
const at = '2026-11-23T10:00:00Z';
const json = (v: unknown, status = 200) => new Response(JSON.stringify(v), { status, headers: { 'Content-Type': 'application/json' } });

interface Owner { seed: Uint8Array; pub: Uint8Array; id: string; kem: string }

async function newKeys(fill: number): Promise<Owner> {
  const seed = new Uint8Array(32).fill(fill);
  const pub = ed25519.getPublicKey(seed);
  return { seed, pub, id: keyID(pub), kem: await identityToRecipient(await generateHybridIdentity()) };
}

/** A roster version of the sharing household, signed by owner. */
function rosterVersion(svc: FakeService, owner: Owner, hubKEM: string, version: number, prev: Uint8Array | null, member: Record<string, unknown> | null): Uint8Array {
  const entries: Record<string, unknown>[] = [
    { id: owner.id, kind: 'device', role: 'owner', name: 'owner laptop', sign: b64encode(owner.pub), kem: owner.kem, cameras: ['*'] },
    { id: keyID(svc.hubPub), kind: 'hub', role: 'hub', name: 'hub', sign: b64encode(svc.hubPub), kem: hubKEM, cameras: [] },
  ];
  if (member) entries.push(member);
  return signEnvelope(owner.seed, 'porchlight.roster', JSON.stringify({
    v: 1, household: svc.household, version, prev: prev ? rosterHash(prev) : '', created: at, entries,
  }));
}

function memberEntry(dev: Device, cameras: string[], notAfter?: string): Record<string, unknown> {
  return { id: dev.id, kind: 'device', role: 'member', name: 'member@example.com', sign: b64encode(dev.signPub), kem: dev.recipient, cameras, ...(notAfter ? { not_after: notAfter } : {}) };
}

test('household: a member sees the cameras shared with it, only in scope and only after accepting the invite', async () => {
  const dev = await loadOrCreateDevice('member browser');
  // The fake's objects are sealed to dev: the keys a member device receives.
  const svc = await installFakeService(dev, { segStart });
  const sharedCam = await (svc.routes.get('GET /v1/cameras')!()).json();
  const owner = await newKeys(0x07);
  const hubKEM = await identityToRecipient(await generateHybridIdentity());
  const v1 = rosterVersion(svc, owner, hubKEM, 1, null, null);
  const v2 = rosterVersion(svc, owner, hubKEM, 2, v1, memberEntry(dev, [svc.camera]));
  let served = [v1, v2];

  // The member's own household: dev is its owner device, with no cameras.
  const own = 'householdbbbbbbbbbbbbbbbbb';
  const ownRoster = signEnvelope(deviceSecrets(dev).seed, 'porchlight.roster', JSON.stringify({
    v: 1, household: own, version: 1, prev: '', created: at,
    entries: [{ id: dev.id, kind: 'device', role: 'owner', name: dev.name, sign: b64encode(dev.signPub), kem: dev.recipient, cameras: ['*'] }],
  }));
  svc.routes.set('GET /v1/me', () => json({ account_id: 'm', email: 'member@example.com', household_id: own, role: 'owner', session_id: 's' }));
  svc.routes.set('GET /v1/roster', () => json({ versions: [b64encode(ownRoster)] }));
  svc.routes.set('GET /v1/cameras', () => json([]));
  svc.routes.set('GET /v1/shared', () => json([{ household: svc.household, roster: served.map(b64encode), cameras: sharedCam }]));
  const code = 'ABCD-EFGH-JKMN';
  svc.routes.set(`POST /v1/members/invites/${code}/accept`, () => json({ household: svc.household, root: b64encode(owner.pub) }));

  const h = await Household.open(dev);
  assert.equal(h.roster.household, own);
  assert.ok(h.isDevice);

  // Before accepting, nothing of the sharing household is trusted.
  let cams = await h.cameras();
  assert.equal(cams.length, 1);
  assert.equal(cams[0].shared?.household, svc.household);
  assert.match(cams[0].error ?? '', /did not accept its invite/);
  await assert.rejects(h.segments(svc.camera, new Date(segStart.getTime() - 60_000), new Date(segStart.getTime() + 60_000)), /did not accept its invite/);

  // Accepting pins the household's root; the SAS is the CLI's.
  assert.equal(normalizeInviteCode('abcd efgh jkmn'), code);
  assert.equal(normalizeInviteCode('abcd-efgh-jkm0'), null, '0 is not in the alphabet');
  const acc = await acceptInvite(dev, 'abcd efgh jkmn');
  assert.equal(acc.household, svc.household);
  assert.equal(acc.sas, pairSAS(code, dev.signPub, dev.recipient, owner.pub));
  const post = svc.requests.find((r) => r.method === 'POST' && r.path.endsWith('/accept'));
  assert.deepEqual(post?.body, { name: dev.name, sign: b64encode(dev.signPub), kem: dev.recipient });

  cams = await h.cameras();
  assert.deepEqual(cams.map((c) => [c.id, c.name, c.error, c.shared?.household]), [[svc.camera, 'front door', undefined, svc.household]]);
  assert.equal((await h.cameraHub(svc.camera)).household, svc.household, 'live view checks the hello against the sharing household');
  const segs = await h.segments(svc.camera, new Date(segStart.getTime() - 60_000), new Date(segStart.getTime() + 60_000));
  assert.deepEqual(segs.map((s) => s.seq), [42, 43]);
  assert.deepEqual(await h.segmentMP4(segs[0]), svc.segments[0].media);
  const evs = await h.events(svc.camera, new Date(segStart.getTime() - 60_000));
  assert.deepEqual(evs.map((e) => [e.version, e.classes]), [[2, ['person', 'animal']]]);
  assert.ok(await h.thumbnail(evs[0]));
  assert.ok(svc.requests.some((r) => r.path.startsWith(`/v1/cameras/${svc.camera}/epochs?device=${dev.id}`)));

  // The owner takes the camera out of the member's scope: refused here,
  // whatever the service still lists.
  const v3 = rosterVersion(svc, owner, hubKEM, 3, v2, memberEntry(dev, ['cameraotheraaaaaaaaaaaaaaaa']));
  served = [v1, v2, v3];
  cams = await h.cameras();
  assert.match(cams[0].error ?? '', /not shared with this browser/);
  await assert.rejects(h.events(svc.camera, new Date(segStart.getTime() - 60_000)), /not shared with this browser/);

  // Access that ended.
  const v4 = rosterVersion(svc, owner, hubKEM, 4, v3, memberEntry(dev, [svc.camera], '2020-01-01T00:00:00Z'));
  served = [v1, v2, v3, v4];
  cams = await h.cameras();
  assert.match(cams[0].error ?? '', /ended/);

  // A rollback to a version that still shared the camera is an alarm.
  served = [v1, v2];
  await assert.rejects(h.cameras(), RosterAlarm);

  // A roster under another root is an alarm, and so is another root at accept.
  const other = await newKeys(0x09);
  served = [rosterVersion(svc, other, hubKEM, 1, null, memberEntry(dev, [svc.camera]))];
  await assert.rejects(h.cameras(), RosterAlarm);
  svc.routes.set(`POST /v1/members/invites/${code}/accept`, () => json({ household: svc.household, root: b64encode(other.pub) }));
  await assert.rejects(acceptInvite(dev, code), RosterAlarm);
});

test('household: a browser that is only a member device (not one of its own household) lists the shared cameras', async () => {
  const dev = await loadOrCreateDevice('member browser');
  const svc = await installFakeService(dev, { segStart });
  // Its own household's roster does not list this browser.
  const stranger = await newKeys(0x0b);
  const own = 'householdcccccccccccccccccc';
  const ownRoster = signEnvelope(stranger.seed, 'porchlight.roster', JSON.stringify({
    v: 1, household: own, version: 1, prev: '', created: at,
    entries: [{ id: stranger.id, kind: 'device', role: 'owner', name: 'phone', sign: b64encode(stranger.pub), kem: stranger.kem, cameras: ['*'] }],
  }));
  svc.routes.set('GET /v1/me', () => json({ account_id: 'm', email: 'member@example.com', household_id: own, role: 'owner', session_id: 's' }));
  svc.routes.set('GET /v1/roster', () => json({ versions: [b64encode(ownRoster)] }));
  svc.routes.set('GET /v1/shared', () => json([]));
  // This test's store still holds the first test's pin of its own household: start afresh.
  await store().del('pin');
  await store().del('shared');
  const h = await Household.open(dev);
  assert.ok(!h.isDevice);
  await assert.rejects(h.cameras(), /not in your household's roster/, 'no own device and nothing shared: pair first');

  // Once it accepted an invite and the owner confirmed, it reads the shared camera.
  const sharedCam = await (svc.routes.get('GET /v1/cameras')!()).json();
  const owner = await newKeys(0x0d);
  const hubKEM = await identityToRecipient(await generateHybridIdentity());
  const v1 = rosterVersion(svc, owner, hubKEM, 1, null, memberEntry(dev, ['*']));
  svc.routes.set('GET /v1/shared', () => json([{ household: svc.household, expires: '2099-01-01T00:00:00Z', roster: [b64encode(v1)], cameras: sharedCam }]));
  svc.routes.set('POST /v1/members/invites/WXYZ-2345-6789/accept', () => json({ household: svc.household, root: b64encode(owner.pub) }));
  await acceptInvite(dev, 'wxyz23456789');
  const cams = await h.cameras();
  assert.deepEqual(cams.map((c) => [c.name, c.error, c.shared?.expires?.toISOString()]), [['front door', undefined, '2099-01-01T00:00:00.000Z']]);
  const segs = await h.segments(svc.camera, new Date(segStart.getTime() - 60_000), new Date(segStart.getTime() + 60_000));
  assert.equal(segs.length, 2);
  assert.ok(!svc.requests.some((r) => r.path === '/v1/cameras'), 'own cameras are not listed to a browser that is not a device of its own household');
});
