// Tests of the player's pure decisions: where the playhead is, what to
// buffer and evict, where to jump over holes, and the codec string.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bufferPlan, codecString, firstCompositionOffset, gapTarget, place, segmentIndexAt } from './player';
import type { Segment } from '../lib/household';

const origin = new Date('2026-05-01T00:00:00Z');
function seg(seq: number, startS: number, endS: number): Segment {
  return {
    id: `s${seq}`, camera: 'cam', epoch: 'ep', seq, frames: 1, codec: 'h264', size: 1,
    start: new Date(origin.getTime() + startS * 1000), end: new Date(origin.getTime() + endS * 1000),
  };
}
// 0:[10,14) 1:[14,18) 2:[18,22) hole 3:[100,104) 4:[104,108)
const segs = [seg(3, 100, 104), seg(0, 10, 14), seg(1, 14, 18), seg(2, 18, 22), seg(4, 104, 108)];
const placed = place(segs, origin);

test('place sorts by start and converts to media seconds', () => {
  assert.deepEqual(placed.map((p) => [p.seg.seq, p.start, p.end]), [[0, 10, 14], [1, 14, 18], [2, 18, 22], [3, 100, 104], [4, 104, 108]]);
});

test('place drops empty segments', () => {
  assert.equal(place([seg(9, 5, 5)], origin).length, 0);
});

test('segmentIndexAt', () => {
  const cases: [number, number][] = [
    [0, 0], // before the first: the first
    [10, 0],
    [13.9, 0],
    [14, 1], // a boundary belongs to the next segment
    [21.99, 2],
    [22, 3], // in the hole: the next after it
    [50, 3],
    [107, 4],
    [108, -1], // past the end
    [1e6, -1],
  ];
  for (const [t, want] of cases) assert.equal(segmentIndexAt(placed, t), want, `t=${t}`);
  assert.equal(segmentIndexAt([], 5), -1);
});

test('bufferPlan wants the current segment then the next', () => {
  assert.deepEqual(bufferPlan(placed, 15, []).want, [1, 2]);
  assert.deepEqual(bufferPlan(placed, 21, []).want, [2, 3]);
  assert.deepEqual(bufferPlan(placed, 50, []).want, [3, 4]);
  assert.deepEqual(bufferPlan(placed, 105, []).want, [4]);
  assert.deepEqual(bufferPlan(placed, 200, []).want, []);
});

test('bufferPlan skips failed segments', () => {
  assert.deepEqual(bufferPlan(placed, 15, [], new Set([1])).want, [2, 3]);
  assert.deepEqual(bufferPlan(placed, 15, [], new Set([2])).want, [1, 3]);
});

test('bufferPlan evicts far behind and beyond the prefetch', () => {
  // Playhead at 103 (segment 3, prefetch 4 ends at 108): [10,22) is more than
  // 20+10 s behind, so it goes up to t-20; nothing is after 108.5.
  assert.deepEqual(bufferPlan(placed, 103, [[10, 22], [100, 108]]).evict, [[10, 22]]);
  // Playhead at 15 after a seek back: the later range goes.
  assert.deepEqual(bufferPlan(placed, 15, [[14, 22], [100, 108]]).evict, [[100, 108]]);
  // Steady playback: 25 s behind is within keepBehind + 10, nothing evicted.
  assert.deepEqual(bufferPlan(placed, 106, [[81, 108]]).evict, []);
  // A range straddling the cut is cut at t - keepBehind.
  assert.deepEqual(bufferPlan(placed, 106, [[70, 108]]).evict, [[70, 86]]);
});

test('gapTarget jumps holes but not small gaps', () => {
  assert.equal(gapTarget(placed, 22), 100);
  assert.equal(gapTarget(placed, 0), 10);
  assert.equal(gapTarget(placed, 9.9), null); // 0.1 s: the browser plays through
  assert.equal(gapTarget(placed, 15), null);
  assert.equal(gapTarget(placed, 500), null);
  // Stalled at the last frame of segment 2, just before its nominal end.
  assert.equal(gapTarget(placed, 21.96), 100);
  assert.equal(gapTarget(placed, 21.5), null);
  // The end of a segment followed at once by the next is no hole.
  assert.equal(gapTarget(placed, 13.9), null);
  // Failed segments count as holes.
  assert.equal(gapTarget(placed, 15, new Set([1])), 18);
  assert.equal(gapTarget(placed, 15, new Set([1, 2])), 100);
  assert.equal(gapTarget(placed, 13.9, new Set([1, 2])), 100);
  assert.equal(gapTarget(placed, 105, new Set([4])), null);
  // The end of the last segment: nothing to jump to.
  assert.equal(gapTarget(placed, 107.9), null);
});

function box(type: string, payload: number[]): number[] {
  const size = 8 + payload.length;
  return [size >>> 24, (size >> 16) & 255, (size >> 8) & 255, size & 255, ...[...type].map((c) => c.charCodeAt(0)), ...payload];
}

test('codecString reads avcC', () => {
  const init = new Uint8Array(box('moov', box('avc1', [0, 0, 0, 0, ...box('avcC', [1, 0x64, 0x00, 0x28, 0xff])])));
  assert.equal(codecString(init, 'h264'), 'video/mp4; codecs="avc1.640028"');
  const baseline = new Uint8Array(box('avcC', [1, 0x42, 0xc0, 0x1e, 0xff]));
  assert.equal(codecString(baseline, 'h264'), 'video/mp4; codecs="avc1.42c01e"');
});

test('codecString falls back without a config box', () => {
  assert.equal(codecString(new Uint8Array(box('moov', [])), 'h264'), 'video/mp4; codecs="avc1.64001f"');
  // A truncated box (size past the end) is not trusted.
  const cut = new Uint8Array(box('avcC', [1, 0x64, 0, 0x28]).slice(0, 10));
  assert.equal(codecString(cut, 'h264'), 'video/mp4; codecs="avc1.64001f"');
});

test('codecString reads hvcC', () => {
  // Main profile (1), compatibility flags 0x60000000, tier L, level 93 (0x5d), constraint 0xb0.
  const hv = new Uint8Array(box('hvcC', [1, 0x01, 0x60, 0, 0, 0, 0xb0, 0, 0, 0, 0, 0, 0x5d, 0xf0]));
  assert.equal(codecString(hv, 'h265'), 'video/mp4; codecs="hvc1.1.6.L93.B0"');
});

const be32 = (n: number) => [(n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255];

test('firstCompositionOffset reads the first sample\'s offset over the timescale', () => {
  const mdhd = box('mdhd', [0, 0, 0, 0, ...be32(0), ...be32(0), ...be32(90000), ...be32(0), 0, 0, 0, 0]);
  // trun v0, flags data_offset|duration|size|flags|cto = 0x000f01, 2 samples.
  const trun = (version: number, cto: number) => box('trun', [version, 0x00, 0x0f, 0x01, ...be32(2), ...be32(100),
    ...be32(3600), ...be32(500), ...be32(0), ...be32(cto),
    ...be32(3600), ...be32(400), ...be32(0), ...be32(0)]);
  const seg = (tr: number[]) => new Uint8Array([...box('moov', box('trak', mdhd)), ...box('moof', box('traf', tr))]);
  assert.equal(firstCompositionOffset(seg(trun(0, 7200))), 0.08);
  assert.equal(firstCompositionOffset(seg(trun(1, 0xffffe3e0))), -0.08); // version 1: signed
  // No composition offsets in the trun: 0.
  const plain = box('trun', [0, 0x00, 0x03, 0x01, ...be32(1), ...be32(100), ...be32(3600), ...be32(500)]);
  assert.equal(firstCompositionOffset(seg(plain)), 0);
  // Missing boxes: 0.
  assert.equal(firstCompositionOffset(new Uint8Array(box('moof', []))), 0);
});
