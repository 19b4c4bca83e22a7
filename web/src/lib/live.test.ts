// The live receiver against testdata/vectors/live-v1.json (written by Go:
// go test ./internal/keys -run TestLiveVectors -update): the hello verifies
// and unwraps, the messages open in order, and a reordered, replayed or
// tampered message is refused (and breaks the stream).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519 } from '@noble/curves/ed25519.js';
import { b64decode, b64encode } from './bytes';
import { LiveReceiver, parseLiveFragment } from './live';
import { keyID, sha256hex } from './signed';
import { readRepoFile } from './testing';

const path = 'testdata/vectors/live-v1.json';
const v = JSON.parse(readRepoFile(path));

function receiver(over: Partial<{ household: string; camera: string; session: string; device: string; hubSeed: string }> = {}) {
  const hubPub = ed25519.getPublicKey(b64decode(over.hubSeed ?? v.hub_sign_seed));
  return new LiveReceiver({
    household: over.household ?? v.expect_household, camera: over.camera ?? v.expect_camera,
    session: over.session ?? v.expect_session, device: over.device ?? v.expect_device,
    hub: { id: keyID(hubPub), sign: hubPub },
  }, v.device_kem_identity);
}

test('live vector: hello verifies, messages open in order', async () => {
  assert.equal(keyID(ed25519.getPublicKey(b64decode(v.device_sign_seed))), v.expect_device);
  assert.equal(keyID(b64decode(v.hub_sign_pub)), v.expect_hub);
  const rx = receiver();
  const h = await rx.openHello(v.hello);
  assert.equal(h.mime, v.expect_mime);
  assert.equal(h.created.toISOString().replace('.000', ''), v.expect_created);
  for (let i = 0; i < v.messages.length; i++) {
    const { seq, plaintext } = await rx.open(b64decode(v.messages[i]));
    assert.equal(seq, i);
    assert.equal(sha256hex(plaintext), v.expect_plaintext_sha256[i]);
    if (i === 0) {
      assert.equal(sha256hex(plaintext), v.expect_media_sha256[0]);
      continue;
    }
    const f = parseLiveFragment(plaintext);
    assert.equal(f.capturedMs, v.expect_captured_ms[i]);
    assert.equal(sha256hex(f.media), v.expect_media_sha256[i]);
  }
});

test('live vector: reordered, replayed and tampered messages are refused', async () => {
  const msgs: Uint8Array[] = v.messages.map(b64decode);
  // Reordered: message 1 first.
  let rx = receiver();
  await rx.openHello(v.hello);
  await assert.rejects(rx.open(msgs[1]), /message 1 where 0 was due/);
  await assert.rejects(rx.open(msgs[0]), /earlier message was refused/);
  // Replayed: message 0 twice.
  rx = receiver();
  await rx.openHello(v.hello);
  await rx.open(msgs[0]);
  await assert.rejects(rx.open(msgs[0]), /message 0 where 1 was due/);
  // Tampered: the vector's tampered message, and a flipped ciphertext byte.
  rx = receiver();
  await rx.openHello(v.hello);
  await rx.open(msgs[0]);
  await assert.rejects(rx.open(b64decode(v.tampered_message)), /does not authenticate/);
  rx = receiver();
  await rx.openHello(v.hello);
  const bad = new Uint8Array(msgs[0]);
  bad[bad.length - 1] ^= 1;
  await assert.rejects(rx.open(bad), /does not authenticate/);
  // Media before the hello.
  rx = receiver();
  await assert.rejects(rx.open(msgs[0]), /before the hello/);
});

test('live vector: a hello for another session, camera or device, or not from the hub, is refused', async () => {
  await assert.rejects(receiver({ session: 'livesessionbbbbbbbbbbbbbbb' }).openHello(v.hello), /another household, camera, session or device/);
  await assert.rejects(receiver({ camera: 'camerabbbbbbbbbbbbbbbbbbbb' }).openHello(v.hello), /another/);
  await assert.rejects(receiver({ device: 'bbbbbbbbbbbbbbbbbbbb' }).openHello(v.hello), /another/);
  await assert.rejects(receiver({ hubSeed: b64encode(new Uint8Array(32).fill(7)) }).openHello(v.hello), /not a trusted hub/);
  // A changed body no longer verifies.
  const m = JSON.parse(v.hello);
  const body = b64decode(m.signed.body);
  body[body.length - 3] ^= 1;
  m.signed.body = b64encode(body);
  await assert.rejects(receiver().openHello(JSON.stringify(m)), /signature/);
  // Unknown fields are refused, as Go's strict decoding does.
  const extra = JSON.parse(v.hello);
  extra.signed.extra = 1;
  await assert.rejects(receiver().openHello(JSON.stringify(extra)), /unknown field/);
  // A second hello breaks the stream.
  const rx = receiver();
  await rx.openHello(v.hello);
  await assert.rejects(rx.openHello(v.hello), /second hello/);
});
