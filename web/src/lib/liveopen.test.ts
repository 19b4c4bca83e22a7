// openLive end to end against a fake porchlightd and a fake WebSocket that
// replays testdata/vectors/live-v1.json: the handlers see the init, the
// fragments with their capture times, porchlightd's status and its close
// code; a tampered message makes the browser refuse and close the stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { b64decode } from './bytes';
import { loadOrCreateDevice } from './device';
import { Household } from './household';
import { CloseRefused, openLive } from './live';
import { sha256hex } from './signed';
import { store } from './store';
import { installFakeService, readRepoFile } from './testing';

const v = JSON.parse(readRepoFile('testdata/vectors/live-v1.json'));

class FakeSocket {
  static script: (s: FakeSocket) => void;
  static last?: FakeSocket;
  binaryType = 'blob';
  url: string;
  closedWith?: [number, string];
  onmessage?: (ev: { data: unknown }) => void;
  onclose?: (ev: { code: number; reason: string }) => void;
  onerror?: () => void;
  constructor(url: string) {
    this.url = url;
    FakeSocket.last = this;
    setTimeout(() => FakeSocket.script(this), 0);
  }
  send(data: string | Uint8Array) { this.onmessage?.({ data: typeof data === 'string' ? data : data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) }); }
  close(code: number, reason: string) { this.closedWith = [code, reason]; }
  end(code: number, reason: string) { this.onclose?.({ code, reason }); }
}

interface Seen { init?: string; mime?: string; frags: [string, number][]; status: string[]; closed?: [number, string] }

async function run(script: (s: FakeSocket) => void): Promise<Seen> {
  await store().put('device', { v: 1, id: v.expect_device, name: 'vector browser', kem: v.device_kem_identity, sign: v.device_sign_seed });
  await store().del('pin');
  const dev = await loadOrCreateDevice('unused');
  const svc = await installFakeService(dev, { segStart: new Date() });
  svc.routes.set(`POST /v1/cameras/${svc.camera}/live`, () => Response.json({ id: v.expect_session, camera: svc.camera, url: `/v1/live/${v.expect_session}`, expires_at: new Date().toISOString() }, { status: 201 }));
  (globalThis as Record<string, unknown>).location = { href: 'https://porchlight.test/#/live/' + svc.camera };
  (globalThis as Record<string, unknown>).WebSocket = FakeSocket;
  FakeSocket.script = script;
  const h = await Household.open(dev);
  const seen: Seen = { frags: [], status: [] };
  await new Promise<void>((resolve) => {
    openLive(h, svc.camera, {
      onInit(mime, init) { seen.mime = mime; seen.init = sha256hex(init); },
      onFragment(data, ms) { seen.frags.push([sha256hex(data), ms]); },
      onStatus(s) { seen.status.push(s); },
      onClose(code, reason) { seen.closed = [code, reason]; resolve(); },
    });
  });
  const post = svc.requests.find((r) => r.method === 'POST' && r.path.endsWith('/live'));
  assert.deepEqual(post?.body, { device_id: v.expect_device });
  return seen;
}

test('openLive plays the vector and reports porchlightd\'s close', async () => {
  const seen = await run((s) => {
    assert.equal(s.url, `wss://porchlight.test/v1/live/${v.expect_session}`);
    s.send(JSON.stringify({ type: 'status', state: 'waiting_for_hub' }));
    s.send(v.hello);
    s.send(JSON.stringify({ type: 'status', state: 'live' }));
    for (const m of v.messages) s.send(b64decode(m));
    s.end(4003, 'camera_offline');
  });
  assert.equal(seen.mime, v.expect_mime);
  assert.equal(seen.init, v.expect_media_sha256[0]);
  assert.deepEqual(seen.frags, [[v.expect_media_sha256[1], v.expect_captured_ms[1]], [v.expect_media_sha256[2], v.expect_captured_ms[2]]]);
  assert.deepEqual(seen.status, ['connecting', 'waiting_for_hub', 'live']);
  assert.deepEqual(seen.closed, [4003, 'camera_offline']);
});

test('openLive refuses a tampered message and closes the socket', async () => {
  const seen = await run((s) => {
    s.send(v.hello);
    s.send(b64decode(v.messages[0]));
    s.send(b64decode(v.tampered_message));
    s.send(b64decode(v.messages[1])); // nothing after a refusal is shown
  });
  assert.equal(seen.init, v.expect_media_sha256[0]);
  assert.deepEqual(seen.frags, []);
  assert.equal(seen.closed?.[0], CloseRefused);
  assert.match(seen.closed?.[1] ?? '', /does not authenticate/);
  assert.equal(FakeSocket.last?.closedWith?.[0], CloseRefused);
});

test('openLive reports a signed-out start as 4001 session_ended', async () => {
  await store().put('device', { v: 1, id: v.expect_device, name: 'vector browser', kem: v.device_kem_identity, sign: v.device_sign_seed });
  await store().del('pin');
  const dev = await loadOrCreateDevice('unused');
  const svc = await installFakeService(dev, { segStart: new Date() });
  const h = await Household.open(dev);
  svc.routes.set(`POST /v1/cameras/${svc.camera}/live`, () => Response.json({ code: 'unauthorized', message: 'sign in', id: 'e1' }, { status: 401 }));
  const closed = await new Promise<[number, string]>((resolve) => {
    openLive(h, svc.camera, { onInit() {}, onFragment() {}, onStatus() {}, onClose: (c, r) => resolve([c, r]) });
  });
  assert.deepEqual(closed, [4001, 'session_ended']);
});
