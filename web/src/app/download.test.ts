// Tests of the clip form's pure helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkClipRange, clipFileName, defaultClipRange, localInputValue, parseLocalInput } from './download';

test('defaultClipRange is the minute around the playhead', () => {
  const t = new Date('2026-05-01T12:00:00Z');
  const r = defaultClipRange(t);
  assert.equal(r.from.toISOString(), '2026-05-01T11:59:30.000Z');
  assert.equal(r.to.toISOString(), '2026-05-01T12:00:30.000Z');
});

test('localInputValue and parseLocalInput round-trip local time', () => {
  const d = new Date(2026, 4, 1, 7, 5, 9);
  assert.equal(localInputValue(d), '2026-05-01T07:05:09');
  assert.equal(parseLocalInput(localInputValue(d))?.getTime(), d.getTime());
  // Without seconds (what a browser sends when seconds are 0 and step is unset).
  assert.equal(parseLocalInput('2026-05-01T07:05')?.getTime(), new Date(2026, 4, 1, 7, 5).getTime());
  assert.equal(parseLocalInput('2026-05-01T07:05:09.250')?.getTime(), new Date(2026, 4, 1, 7, 5, 9, 250).getTime());
});

test('parseLocalInput refuses what is not a date', () => {
  for (const v of ['', 'yesterday', '2026-02-31T10:00', '2026-13-01T00:00', '2026-05-01 07:05', '2026-05-01T07:05Z']) {
    assert.equal(parseLocalInput(v), null, v);
  }
});

test('clipFileName is safe and names camera and UTC time', () => {
  const t = new Date('2026-05-01T12:34:56.789Z');
  assert.equal(clipFileName('front door', t), 'porchlight-front-door-2026-05-01T123456Z.mp4');
  assert.equal(clipFileName('../../etc/passwd', t), 'porchlight-..-..-etc-passwd-2026-05-01T123456Z.mp4');
  assert.equal(clipFileName('///', t), 'porchlight-camera-2026-05-01T123456Z.mp4');
  assert.doesNotMatch(clipFileName('a/b\\c:d', t), /[/\\:]/);
});

test('checkClipRange', () => {
  const a = new Date('2026-05-01T12:00:00Z');
  const b = new Date('2026-05-01T12:01:00Z');
  assert.equal(checkClipRange(a, b), null);
  assert.match(checkClipRange(null, b) ?? '', /start and an end/);
  assert.match(checkClipRange(b, a) ?? '', /after the start/);
  assert.match(checkClipRange(a, a) ?? '', /after the start/);
  assert.match(checkClipRange(a, new Date(a.getTime() + 2 * 3600e3)) ?? '', /one hour/);
});
