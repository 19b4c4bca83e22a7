import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boxes, concatMP4 } from './mp4';
import { concat } from './bytes';
import { fakeSegment, fragmentTimes, readRepoBytes } from './testing';

test('concatMP4 rebases decode times, renumbers fragments and keeps media', () => {
  // Three segments whose tfdt all start at 0 (each segment's own), as the Cutter writes them.
  const segs = [fakeSegment(5, 3000, 0n, 0xa1), fakeSegment(4, 3000, 0n, 0xb2), fakeSegment(3, 3600, 1000n, 0xc3)];
  const out = concat(...concatMP4(segs));
  const top = boxes(out).map((b) => b.type);
  assert.deepEqual(top, ['ftyp', 'moov', 'moof', 'mdat', 'moof', 'mdat', 'moof', 'mdat']);
  const frags = fragmentTimes(out);
  assert.deepEqual(frags.map((f) => f.base), [0n, 15000n, 27000n]);
  assert.deepEqual(frags.map((f) => f.seq), [1, 2, 3]);
  assert.deepEqual(frags.map((f) => f.samples), [5, 4, 3]);
  const mdats = boxes(out).filter((b) => b.type === 'mdat');
  assert.equal(out[mdats[1].start + 8], 0xb2);
  assert.equal(out[mdats[2].start + 8], 0xc3);
});

test('concatMP4 refuses a codec change, a non-fMP4 and a truncated box', () => {
  assert.throws(() => concatMP4([fakeSegment(2, 3000, 0n, 1), fakeSegment(2, 3000, 0n, 1, 9)]), /codec or resolution/);
  assert.throws(() => concatMP4([new TextEncoder().encode('\x00\x00\x00\x10ftypiso6\x00\x00\x00\x00 not real media')]), /fMP4|box/);
  const s = fakeSegment(2, 3000, 0n, 1);
  assert.throws(() => concatMP4([s.subarray(0, s.length - 3)]), /invalid size|truncated/);
  assert.throws(() => concatMP4([]), /no segments/);
});

// Real segments of the hub's Cutter (H.264, 64x48, 1 s each; segment 1
// left out, a one-second hole) and Go's segment.Concat of them, the file
// `porchlight export` writes. They were made once by a test added to
// internal/segment through `go test -overlay` (mustEncode a 3 s stream with
// gop 25, cut with Cutter{Min: time.Second}, write segs[0], segs[2] and
// Concat of both). The browser's export must be the same bytes.
test('concatMP4 of real Cutter segments equals Go\'s segment.Concat byte for byte', () => {
  const r = (n: string) => new Uint8Array(readRepoBytes('web/src/lib/testdata/concat/' + n));
  const out = concat(...concatMP4([r('seg0.mp4'), r('seg2.mp4')]));
  const want = r('go-concat.mp4');
  assert.equal(out.length, want.length);
  assert.ok(out.every((b, i) => b === want[i]), 'same bytes as Go');
  assert.deepEqual(fragmentTimes(out).map((f) => f.seq), [1, 2]);
});
