// The service worker's push opening, against testdata/vectors/push-v1.json
// (written by Go: go test ./internal/httpapi -run TestPushPayloadVector
// -update-push), and the notifications it shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateHybridIdentity, identityToRecipient } from 'age-encryption';
import { readRepoFile } from './lib/testing';
import { b64decode, utf8 } from './lib/bytes';
import { encrypt } from './lib/agex';
import { b64urlDecode, cameraURL, notificationFor, openPushPayload, readEvent, type PushPayload } from './sw_open';
import { deviceSecrets, loadOrCreateDevice } from './lib/device';
import { Household } from './lib/household';
import { installFakeService } from './lib/testing';

const vec = JSON.parse(readRepoFile('testdata/vectors/push-v1.json'));

test('a Go-sealed push payload opens with the device identity', async () => {
  const p = await openPushPayload(b64decode(vec.payload), vec.identity);
  assert.deepEqual(p, {
    v: 1, kind: 'camera_event', camera: vec.want.camera, object: vec.want.object,
    minute: new Date(vec.want.minute), priority: vec.want.priority,
  });
});

test('a payload sealed to another device does not open', async () => {
  await assert.rejects(openPushPayload(b64decode(vec.foreign), vec.identity), /decrypt/);
});

test('malformed payloads are refused', async () => {
  const names = Object.keys(vec.bad);
  assert.ok(names.length >= 6, `vector has ${names.length} malformed payloads`);
  for (const name of names) {
    await assert.rejects(openPushPayload(b64decode(vec.bad[name]), vec.identity), /malformed|version/, name);
  }
});

test('a tampered, empty or oversized message is refused', async () => {
  const good = b64decode(vec.payload);
  const bad = new Uint8Array(good);
  bad[bad.length - 5] ^= 1;
  await assert.rejects(openPushPayload(bad, vec.identity));
  await assert.rejects(openPushPayload(new Uint8Array(0), vec.identity), /bytes/);
  await assert.rejects(openPushPayload(new Uint8Array(5000), vec.identity), /bytes/);
});

test('a browser-made payload round-trips (same shape as Go)', async () => {
  const id = await generateHybridIdentity();
  const body = JSON.stringify({ v: 1, kind: 'camera_event', camera: vec.want.camera, object: vec.want.object, minute: '2026-01-02T03:04:00Z', priority: 'high' });
  const p = await openPushPayload(await encrypt(utf8(body), await identityToRecipient(id)), id);
  assert.equal(p.priority, 'high');
  assert.equal(p.minute.toISOString(), '2026-01-02T03:04:00.000Z');
});

const payload: PushPayload = { v: 1, kind: 'camera_event', camera: 'cameraaaaaaaaaaaaaaaaaaaaa', object: 'objectaaaaaaaaaaaaaaaaaaaa', minute: new Date('2026-11-23T18:04:00Z'), priority: 'normal' };

test('notifications say what the verified event says, else only "Activity"', () => {
  const cases: [Parameters<typeof notificationFor>[2], string, boolean][] = [
    [undefined, 'Activity at Front door', false],
    [{ kind: 'object', classes: ['person'], labels: ['person'], priority: 'normal', zone: 'porch' }, 'Person at Front door', false],
    [{ kind: 'object', classes: ['person', 'animal', 'vehicle'], labels: [], priority: 'normal' }, 'Person, animal and vehicle at Front door', false],
    [{ kind: 'object', classes: [], labels: ['dog'], priority: 'normal' }, 'Dog at Front door', false],
    [{ kind: 'doorbell', classes: [], labels: [], priority: 'high' }, 'Someone rang the doorbell at Front door', true],
    [{ kind: 'motion', classes: [], labels: [], priority: 'normal' }, 'Motion at Front door', false],
    [{ kind: 'offline', classes: [], labels: [], priority: 'normal' }, 'Front door went offline', false],
  ];
  for (const [ev, title, high] of cases) {
    const n = notificationFor(payload, 'Front door', ev);
    assert.equal(n.title, title);
    assert.equal(n.options.requireInteraction, high, title);
    assert.equal(n.options.data.url, '/#/camera/cameraaaaaaaaaaaaaaaaaaaaa');
    assert.equal(n.options.timestamp, payload.minute.getTime());
  }
});

test('an unknown or odd camera name still gives one clean line', () => {
  assert.equal(notificationFor(payload).title, 'Activity at your camera');
  const n = notificationFor(payload, 'Back\nyard\u0007' + 'x'.repeat(100));
  assert.ok(!/[\n\u0007]/.test(n.title), n.title);
  assert.ok(n.title.length <= 'Activity at '.length + 60, n.title);
  assert.equal(cameraURL('a b'), '/#/camera/a%20b');
});

test('a high-priority payload stays until dismissed even without the event', () => {
  assert.equal(notificationFor({ ...payload, priority: 'high' }, 'Door').options.requireInteraction, true);
});

test('base64url decodes with or without padding', () => {
  assert.deepEqual(b64urlDecode('-_8'), new Uint8Array([0xfb, 0xff]));
  assert.deepEqual(b64urlDecode('-_8='), new Uint8Array([0xfb, 0xff]));
  assert.equal(b64urlDecode('A'.repeat(87)).length, 65);
  assert.throws(() => b64urlDecode('a+b_'));
  assert.throws(() => b64urlDecode('a!b'));
});

test('versions of one event share a notification; other events get their own', () => {
  const ev = { id: 'eventaaaaaaaaaaaaaaaaaaaaa', kind: 'object', classes: ['person'], labels: [], priority: 'normal' };
  const v1 = notificationFor(payload, 'Door', ev);
  const v2 = notificationFor({ ...payload, object: 'objectbbbbbbbbbbbbbbbbbbbb' }, 'Door', ev);
  assert.equal(v1.options.tag, v2.options.tag);
  assert.equal(v1.options.renotify, false);
  const other = notificationFor({ ...payload, object: 'objectbbbbbbbbbbbbbbbbbbbb' }, 'Door');
  assert.notEqual(other.options.tag, notificationFor(payload, 'Door').options.tag);
});

test('the worker reads the verified event a push is about and names it', async () => {
  const segStart = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000);
  const dev = await loadOrCreateDevice('test browser');
  const svc = await installFakeService(dev, { segStart });
  // A push as porchlightd seals it to this device.
  const body = JSON.stringify({ v: 1, kind: 'camera_event', camera: svc.camera, object: 'eventobjbaaaaaaaaaaaaaaaaa', minute: segStart.toISOString().replace('.000Z', 'Z'), priority: 'normal' });
  const p = await openPushPayload(await encrypt(utf8(body), dev.recipient), deviceSecrets(dev).kem);
  const { summary, names } = await readEvent(await Household.open(dev), p);
  assert.deepEqual(names, { [svc.camera]: 'front door' });
  assert.deepEqual(summary, { id: 'eventaaaaaaaaaaaaaaaaaaaaa', kind: 'object', classes: ['person', 'animal'], labels: ['person', 'animal'], priority: 'normal', zone: 'porch' });
  assert.equal(notificationFor(p, names[p.camera], summary).title, 'Person and animal at front door');
  // A push about a minute with no event: nothing to say beyond "Activity".
  const later = { ...p, minute: new Date(segStart.getTime() + 5 * 60_000) };
  assert.equal((await readEvent(await Household.open(dev), later)).summary, undefined);
});
