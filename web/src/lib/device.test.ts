import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deviceProtection, deviceSecrets, forgetDevice, loadOrCreateDevice, protectDeviceWithPasskey, setPRFSource, unwrapRecord, wrapRecord } from './device';
import { recipientOf } from './agex';
import { keyID } from './signed';

test('a device is made once, kept, and forgotten', async () => {
  const a = await loadOrCreateDevice('laptop browser');
  assert.equal(a.id, keyID(a.signPub));
  assert.equal(a.id.length, 20);
  assert.equal(a.recipient, await recipientOf(deviceSecrets(a).kem));
  assert.ok(a.recipient.startsWith('age1pq1'));
  const b = await loadOrCreateDevice('other name');
  assert.equal(b.id, a.id);
  assert.equal(b.name, 'laptop browser');
  assert.equal(await deviceProtection(), 'none');
  await forgetDevice();
  assert.equal(await deviceProtection(), 'absent');
  assert.notEqual((await loadOrCreateDevice('x')).id, a.id);
});

test('concurrent first loads make one device', async () => {
  await forgetDevice();
  const [a, b] = await Promise.all([loadOrCreateDevice('x'), loadOrCreateDevice('y')]);
  assert.equal(a.id, b.id);
});

test('a passkey PRF output wraps the keys; another one does not open them', async () => {
  await forgetDevice();
  const dev = await loadOrCreateDevice('laptop browser');
  const prf = new Uint8Array(32).fill(5);
  setPRFSource(async () => null);
  assert.equal(await protectDeviceWithPasskey(dev, new Uint8Array([1, 2, 3])), false, 'no PRF support: left as is');
  assert.equal(await deviceProtection(), 'none');
  setPRFSource(async () => prf);
  assert.equal(await protectDeviceWithPasskey(dev, new Uint8Array([1, 2, 3])), true);
  assert.equal(await deviceProtection(), 'passkey');
  const again = await loadOrCreateDevice('ignored');
  assert.equal(again.id, dev.id);
  assert.equal(deviceSecrets(again).kem, deviceSecrets(dev).kem);
  setPRFSource(async () => new Uint8Array(32).fill(6));
  await assert.rejects(loadOrCreateDevice('ignored'), /did not unlock/);
  const rec = await wrapRecord(dev, prf, new Uint8Array([9]), new Uint8Array(32));
  assert.ok(!JSON.stringify(rec).includes(deviceSecrets(dev).kem), 'the wrapped record holds no plaintext key');
  assert.equal((await unwrapRecord(rec, prf)).id, dev.id);
});
