// Tests of the router's pattern matching and the UI helpers' words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { match, route } from './router';
import { describe, fmtBytes, fmtDuration } from './ui';
import { ApiError } from '../lib/api';

const noop = () => {};
route('/', 'Cameras', noop);
route('/live/:camera', 'Live', noop);
route('/event/:camera/:event', 'Event', noop);
route('/settings/sessions', 'Sessions', noop);
route('/settings/:tab', 'Settings', noop);
route('/signin', 'Sign in', noop, { access: 'none' });

test('match finds routes and decodes params', () => {
  const cases: [string, string | null, Record<string, string>][] = [
    ['/', '/', {}],
    ['', '/', {}],
    ['/live/cam%201', '/live/:camera', { camera: 'cam 1' }],
    ['/live/abc/', '/live/:camera', { camera: 'abc' }],
    ['/event/c1/e9', '/event/:camera/:event', { camera: 'c1', event: 'e9' }],
    ['/settings/sessions', '/settings/sessions', {}], // the literal route registered first wins
    ['/settings/audit', '/settings/:tab', { tab: 'audit' }],
    ['/live', null, {}],
    ['/live/a/b', null, {}],
    ['/live/%E0%A4%A', null, {}], // malformed escape: no match rather than a throw
    ['/nope', null, {}],
  ];
  for (const [path, pattern, params] of cases) {
    const m = match(path);
    assert.equal(m?.route.pattern ?? null, pattern, path);
    if (m) assert.deepEqual(m.params, params, path);
  }
});

test('routes default to device access and pick their nav link', () => {
  assert.equal(match('/live/x')?.route.access, 'device');
  assert.equal(match('/signin')?.route.access, 'none');
  assert.equal(match('/live/x')?.route.nav, 'cameras');
  assert.equal(match('/settings/audit')?.route.nav, 'settings');
  assert.equal(match('/signin')?.route.nav, '');
});

test('describe says what happened and what to do', () => {
  const cases: [unknown, RegExp, RegExp][] = [
    [new ApiError(401, 'unauthorized', 'session ended'), /signed out/, /Sign in/],
    [new ApiError(403, 'forbidden', 'not your camera'), /not your camera/, /owner/],
    [new ApiError(429, 'rate_limited', 'too many failed attempts: wait 300 seconds, then try again'), /too many/, /Wait|minute/],
    [new ApiError(500, 'internal', 'boom', 'e-123'), /e-123/, /minute/],
    [new ApiError(400, 'invalid', 'name too long'), /name too long/, /Check/],
    [new Error('roster ALARM: fork'), /ALARM/, /reload/],
  ];
  for (const [err, what, todo] of cases) {
    const d = describe(err);
    assert.match(d.what, what);
    assert.match(d.todo, todo);
  }
});

test('formatting helpers', () => {
  assert.equal(fmtDuration(0), '0:00');
  assert.equal(fmtDuration(61_000), '1:01');
  assert.equal(fmtDuration(3_600_000 + 5_000), '1:00:05');
  assert.equal(fmtDuration(-5), '0:00');
  assert.equal(fmtBytes(999), '999 B');
  assert.equal(fmtBytes(1500), '1.5 KB');
  assert.equal(fmtBytes(25_000_000), '25 MB');
});
