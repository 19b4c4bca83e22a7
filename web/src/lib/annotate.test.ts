import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateHybridIdentity, identityToRecipient } from 'age-encryption';
import { encrypt } from './agex';
import { concat, utf8 } from './bytes';
import {
  campaignKeys, checkBoxes, dragBox, forgetCampaignKey, hitTest, importCampaignKey, keyForRecipient, labelledTimes,
  boxesAt, normBox, openCopy, parseBoxes, parseKeyFile, parseTasks, type Box,
} from './annotate';
import { b64decode } from './bytes';
import { sha256hex, signEnvelope } from './signed';
import { readRepoFile } from './testing';

async function keyFile(): Promise<{ text: string; identity: string; recipient: string }> {
  const identity = await generateHybridIdentity();
  const recipient = await identityToRecipient(identity);
  return { identity, recipient, text: `# porchlight campaign key\n# recipient: ${recipient}\n${identity}\n` };
}

test('parseKeyFile reads the identity file and refuses anything else', async () => {
  const k = await keyFile();
  const got = await parseKeyFile(k.text);
  assert.equal(got.identity, k.identity);
  assert.equal(got.recipient, k.recipient);
  await assert.rejects(parseKeyFile('# nothing here\n'), /no key/);
  await assert.rejects(parseKeyFile(k.text + k.identity + '\n'), /more than one/);
  await assert.rejects(parseKeyFile('AGE-SECRET-KEY-1QQQQ\n'), /classic/);
  await assert.rejects(parseKeyFile('{"kem":"x"}\n'), /not a campaign key/);
  await assert.rejects(parseKeyFile('AGE-SECRET-KEY-PQ-1NOTAKEY\n'), /damaged/);
});

test('campaign keys are stored, found by recipient and forgotten', async () => {
  const a = await keyFile(), b = await keyFile();
  await importCampaignKey(a.text, 'a.key');
  await importCampaignKey(b.text, 'b.key');
  await importCampaignKey(a.text, 'a-again.key'); // same recipient: replaced, not duplicated
  const all = await campaignKeys();
  assert.equal(all.length, 2);
  assert.equal((await keyForRecipient(a.recipient))?.name, 'a-again.key');
  assert.equal((await keyForRecipient(b.recipient))?.identity, b.identity);
  await forgetCampaignKey(a.recipient);
  assert.equal(await keyForRecipient(a.recipient), undefined);
  assert.equal((await campaignKeys()).length, 1);
});

async function sealedCopy(recipient: string, mp4: Uint8Array, over: Record<string, unknown> = {}): Promise<Uint8Array> {
  const seed = new Uint8Array(32).fill(7);
  const body = {
    v: 1, job: 'jobaaaaaaaaaaaaaaaaaaaaaaa', household: 'hhaaaaaaaaaaaaaaaaaaaaaaaa', camera: 'camaaaaaaaaaaaaaaaaaaaaaaa',
    purpose: 'donate', campaign: 'campaignaaaaaaaaaaaaaaaaaa', from: '2026-11-23T10:00:00Z', to: '2026-11-23T10:00:10Z',
    mp4_sha256: sha256hex(mp4), size: mp4.length, frames: 150, blurred: 3, created: '2026-11-23T10:01:00Z', ...over,
  };
  const header = signEnvelope(seed, 'porchlight.redaction', JSON.stringify(body));
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, header.length);
  return encrypt(concat(len, header, mp4), recipient);
}

test('openCopy decrypts a campaign copy and checks it against its header', async () => {
  const k = await keyFile(), other = await keyFile();
  const mp4 = concat(new Uint8Array([0, 0, 0, 16]), utf8('ftypisom'), new Uint8Array(200).fill(9));
  const { header, mp4: got } = await openCopy(await sealedCopy(k.recipient, mp4), k.identity, 'campaignaaaaaaaaaaaaaaaaaa');
  assert.deepEqual(got, mp4);
  assert.equal(header.frames, 150);
  assert.equal(header.campaign, 'campaignaaaaaaaaaaaaaaaaaa');
  await assert.rejects(openCopy(await sealedCopy(k.recipient, mp4), other.identity), /does not open/);
  await assert.rejects(openCopy(await sealedCopy(k.recipient, mp4), k.identity, 'campaignbbbbbbbbbbbbbbbbbb'), /another campaign/);
  await assert.rejects(openCopy(await sealedCopy(k.recipient, mp4, { mp4_sha256: sha256hex(utf8('x')) }), k.identity), /does not match/);
  await assert.rejects(openCopy(await sealedCopy(k.recipient, mp4, { size: 1 }), k.identity), /does not match/);
  await assert.rejects(openCopy(await sealedCopy(k.recipient, mp4, { purpose: 'publish' }), k.identity), /publish/);
  await assert.rejects(openCopy(await encrypt(new Uint8Array([0, 0, 9, 9, 1]), k.recipient), k.identity), /damaged header/);
});

const box = (t: number, c: string, x0: number, y0: number, x1: number, y1: number): Box => ({ t_ms: t, class: c, x0, y0, x1, y1 });

test('box geometry: normalise, hit, drag', () => {
  assert.deepEqual(normBox(box(0, 'person', 0.8, 1.3, -0.2, 0.1)), box(0, 'person', 0, 0.1, 0.8, 1));
  const boxes = [box(0, 'person', 0.1, 0.1, 0.9, 0.9), box(0, 'animal', 0.4, 0.4, 0.5, 0.5)];
  assert.deepEqual(hitTest(boxes, 0.45, 0.45), { index: 1, handle: 'move' }); // the smaller box inside wins
  assert.deepEqual(hitTest(boxes, 0.2, 0.2), { index: 0, handle: 'move' });
  assert.deepEqual(hitTest(boxes, 0.905, 0.1), { index: 0, handle: 'ne' });
  assert.equal(hitTest(boxes, 0.95, 0.5), null);
  // moving keeps the size and stays in the frame
  const moved = dragBox(boxes[1], 'move', 0.7, -0.7);
  assert.ok(Math.abs(moved.x1 - 1) < 1e-9 && moved.y0 === 0 && Math.abs(moved.x1 - moved.x0 - 0.1) < 1e-9);
  // dragging a corner past the opposite one flips the box instead of inverting it
  const r = dragBox(boxes[1], 'se', -0.2, 0);
  assert.ok(Math.abs(r.x0 - 0.3) < 1e-9 && Math.abs(r.x1 - 0.4) < 1e-9 && r.y1 === 0.5);
});

test('frames, parsing and checks', () => {
  const boxes = [box(1000, 'person', 0.1, 0.1, 0.2, 0.2), box(40, 'vehicle', 0.3, 0.3, 0.6, 0.6), box(1010, 'animal', 0.5, 0.5, 0.6, 0.7)];
  assert.deepEqual(boxesAt(boxes, 1005), [0, 2]);
  assert.deepEqual(boxesAt(boxes, 500), []);
  assert.deepEqual(labelledTimes(boxes), [{ t_ms: 40, count: 1 }, { t_ms: 1000, count: 1 }, { t_ms: 1010, count: 1 }]);
  assert.doesNotThrow(() => checkBoxes(boxes, ['person', 'animal', 'vehicle']));
  assert.throws(() => checkBoxes(boxes, ['person', 'animal']), /vehicle/);
  assert.throws(() => checkBoxes([box(0, 'person', 0.1, 0.1, 0.1, 0.5)], ['person']), /empty/);
  assert.throws(() => checkBoxes([box(-5, 'person', 0.1, 0.1, 0.3, 0.5)], ['person']), /frame time/);
  const parsed = parseBoxes({ boxes: [{ t_ms: 40.4, class: 'person', x0: 0.5, y0: 0.5, x1: 0.1, y1: 0.2 }, { t_ms: 'x', class: 'person' }, { t_ms: 1, x0: 0, y0: 0, x1: 1, y1: 1 }] });
  assert.deepEqual(parsed, [box(40, 'person', 0.1, 0.2, 0.5, 0.5)]);
  assert.deepEqual(parseTasks({ tasks: [{ id: 't1', consent: 'c1', created: '2026-11-23T10:00:00Z', labels: { boxes: [{}, {}] } }, { consent: 'no id' }] })
    .map((t) => [t.id, t.consent, t.labels]), [['t1', 'c1', 2]]);
});

// A Go test may write testdata/vectors/campaign-copy-v1.json (seal.SealRedaction to a campaign
// identity: {"identity","campaign","sealed" (base64),"mp4_sha256"}); when it exists, the browser must open it.
const goVector = 'testdata/vectors/campaign-copy-v1.json';
test('opens a campaign copy sealed in Go', async () => {
  const v = JSON.parse(readRepoFile(goVector));
  const { header, mp4 } = await openCopy(b64decode(v.sealed), v.identity, v.campaign);
  assert.equal(sha256hex(mp4), v.mp4_sha256);
  assert.equal(header.campaign, v.campaign);
});
