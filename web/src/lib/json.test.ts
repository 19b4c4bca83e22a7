import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arr, bytes, decodeStrict, GoTime, int, obj, opt, str, time, uint, zeroTime } from './json';

const dec = obj({ v: int, name: str, n: uint, at: time, tags: arr(str), raw: bytes, until: opt(time) });

test('strict decoding: zero values for missing fields, refusals as Go', () => {
  const d = decodeStrict('{"v":1,"name":"x","raw":"AAE="}', dec, 'thing');
  assert.equal(d.n, 0);
  assert.ok(d.at.equal(zeroTime) && d.at.isZero);
  assert.deepEqual(d.tags, []);
  assert.deepEqual(d.raw, new Uint8Array([0, 1]));
  assert.equal(d.until, undefined);
  for (const bad of ['{"v":1,"extra":2}', '{"v":"1"}', '{"v":1.5}', '{"n":-1}', '{"tags":"a"}', '{"raw":"AAE"}', '{"at":"yesterday"}', '[]', '{} {}', '{"__proto__":{}}']) {
    assert.throws(() => decodeStrict(bad, dec, 'thing'), /malformed object/, bad);
  }
});

test('times keep nanoseconds and write as Go does', () => {
  const t = GoTime.parse('2026-11-23T10:00:00.123456789+01:00');
  assert.equal(t.toJSON(), '2026-11-23T09:00:00.123456789Z');
  assert.equal(GoTime.parse('2026-11-23T10:00:00Z').toJSON(), '2026-11-23T10:00:00Z');
  assert.equal(GoTime.parse('2026-11-23T10:00:00.5Z').toJSON(), '2026-11-23T10:00:00.5Z');
  assert.ok(GoTime.parse('2026-11-23T10:00:00.000000001Z').after(GoTime.parse('2026-11-23T10:00:00Z')));
  assert.equal(GoTime.parse('2026-11-23T10:00:00Z').date.toISOString(), '2026-11-23T10:00:00.000Z');
  assert.equal(GoTime.fromDate(new Date('2026-11-23T10:00:00.250Z')).toJSON(), '2026-11-23T10:00:00.25Z');
  assert.throws(() => GoTime.parse('2026-13-01T00:00:00Z'), /out of range/);
  assert.throws(() => GoTime.parse('2026-11-23 10:00:00Z'), /RFC 3339/);
  assert.equal(time('0001-01-01T00:00:00Z', 't'), zeroTime);
});
