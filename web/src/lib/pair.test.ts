import { test } from 'node:test';
import assert from 'node:assert/strict';
import { b64encode } from './bytes';
import { generateDevice, loadOrCreateDevice } from './device';
import { pairSAS, startPairing } from './pair';
import { installFakeService } from './testing';
import { signEnvelope, keyID } from './signed';
import { rosterHash } from './roster';
import { deviceSecrets } from './device';
import { b64decode, fromUtf8 } from './bytes';

// The expected value was computed once by the Go implementation
// (internal/cli/pair.go pairSAS) with a test added through an overlay,
// without changing the repository:
//
//   go test -overlay overlay.json -run TestPrintSAS -v ./internal/cli/
//
// where the overlaid internal/cli/zz_sas_test.go prints
// pairSAS("ABCD-EFGH-JKLM", bytes.Repeat([]byte{0x11}, 32), "age1pq1example", bytes.Repeat([]byte{0x22}, 32)).
const goSAS = '030 218 1424';

test('pairSAS equals the Go value', () => {
  assert.equal(pairSAS('ABCD-EFGH-JKLM', new Uint8Array(32).fill(0x11), 'age1pq1example', new Uint8Array(32).fill(0x22)), goSAS);
  assert.notEqual(pairSAS('ABCD-EFGH-JKLN', new Uint8Array(32).fill(0x11), 'age1pq1example', new Uint8Array(32).fill(0x22)), goSAS);
});

test('startPairing offers the keys, shows the SAS and finishes when the roster lists the browser', async () => {
  const owner = await generateDevice('owner laptop');
  const svc = await installFakeService(owner, { segStart: new Date() });
  const dev = await loadOrCreateDevice('new browser');
  svc.routes.set('POST /v1/devices/pair', () => Response.json({ code: 'ABCD-EFGH-JKLM', expires_at: new Date(Date.now() + 60_000).toISOString() }));
  const p = await startPairing(dev);
  assert.equal(p.code, 'ABCD-EFGH-JKLM');
  assert.equal(p.sas, pairSAS(p.code, dev.signPub, dev.recipient, owner.signPub));
  const offer = svc.requests.find((r) => r.method === 'POST' && r.path === '/v1/devices/pair')?.body as { name: string; sign: string; kem: string };
  assert.deepEqual(offer, { name: 'new browser', sign: b64encode(dev.signPub), kem: dev.recipient });
  // The owner device signs version 2 listing the browser.
  const v1 = JSON.parse(fromUtf8(b64decode(JSON.parse(fromUtf8(svc.rosterV1)).body)));
  const v2 = signEnvelope(deviceSecrets(owner).seed, 'porchlight.roster', JSON.stringify({
    ...v1, version: 2, prev: rosterHash(svc.rosterV1),
    entries: [...v1.entries, { id: keyID(dev.signPub), kind: 'device', role: 'owner', name: dev.name, sign: b64encode(dev.signPub), kem: dev.recipient, cameras: ['*'] }],
  }));
  svc.routes.set('GET /v1/roster', () => Response.json({ versions: [b64encode(svc.rosterV1), b64encode(v2)] }));
  await p.done;
});

test('startPairing: cancel rejects done', async () => {
  const owner = await generateDevice('owner laptop');
  const svc = await installFakeService(owner, { segStart: new Date() });
  const { store } = await import('./store');
  await store().del('pin');
  svc.routes.set('POST /v1/devices/pair', () => Response.json({ code: 'WXYZ-EFGH-JKLM', expires_at: new Date(Date.now() + 60_000).toISOString() }));
  const p = await startPairing(await loadOrCreateDevice('new browser'));
  p.cancel();
  await assert.rejects(p.done, /cancelled/);
});
