// Tests of the live view's latency bookkeeping and the sign-in error words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FragmentClock } from './live';
import { loginProblem } from './signin';
import { ApiError } from '../lib/api';

test('FragmentClock maps media time to capture time', () => {
  const c = new FragmentClock();
  assert.equal(c.latency(0, 1000), null, 'no fragment yet');
  // first fragment (a GOP so far): media [10, 10.5], captured at wall 5000
  c.add(10, 10.5, 5000);
  // next: one frame, media [10.5, 10.54], captured 5540
  c.add(10, 10.54, 5540);
  c.add(10, 10.58, 5580);
  assert.equal(c.latency(10, 5100), 100);
  assert.equal(c.latency(10.2, 5300), 100, 'inside the first fragment: its capture time plus the media time since its start');
  assert.equal(c.latency(10.5, 5700), 160);
  assert.equal(c.latency(10.56, 5650), 50, 'third fragment starts where the second ended (10.54)');
  assert.equal(c.latency(9, 5000), null, 'before the first fragment');
  c.trim(10.52);
  assert.equal(c.size, 2, 'keeps the fragment playing (second) and the newer one');
  assert.equal(c.latency(10.52, 5600), 40);
  assert.equal(c.latency(10.3, 5600), null, 'the first fragment is forgotten');
});

test('FragmentClock starts a new range after a gap', () => {
  const c = new FragmentClock();
  c.add(0, 1, 1000);
  c.add(5, 5.04, 6000); // the buffer was cleared and restarted at 5
  assert.equal(c.latency(5, 6100), 100);
});

test('loginProblem says what to do', () => {
  assert.match(loginProblem(new ApiError(429, 'rate_limited', 'too many failed attempts: wait 300 seconds, then try again')), /try again in 5 minutes/i);
  assert.match(loginProblem(new ApiError(429, 'rate_limited', 'too many failed attempts: wait 30 seconds, then try again')), /in 1 minute\./);
  assert.match(loginProblem(new ApiError(401, 'unauthorized', 'x')), /Wrong email or password/);
  assert.match(loginProblem(new ApiError(401, 'unauthorized', 'x'), 'factor'), /code/);
  assert.match(loginProblem(new ApiError(403, 'account_disabled', 'x')), /disabled/);
  assert.match(loginProblem(new TypeError('Failed to fetch')), /could not be reached/);
});
