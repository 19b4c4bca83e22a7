// Tests of the event page's pure helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PRE_ROLL, playLink, trackGeometry } from './event';

test('trackGeometry scales, orders and clamps boxes', () => {
  const track = [
    { t: new Date(2000), box: [0.5, 0.5, 1.2, 1] as [number, number, number, number] },
    { t: new Date(1000), box: [0.1, 0.2, 0.3, 0.6] as [number, number, number, number] },
  ];
  const g = trackGeometry(track, 200, 100);
  assert.deepEqual(g.boxes, [{ x: 20, y: 20, w: 40, h: 40 }, { x: 100, y: 50, w: 100, h: 50 }]);
  assert.deepEqual(g.path, [[40, 40], [150, 75]]);
});

test('trackGeometry normalises swapped corners and ignores NaN', () => {
  const g = trackGeometry([{ t: new Date(0), box: [0.75, 0.5, 0.25, Number.NaN] }], 100, 100);
  assert.deepEqual(g.boxes, [{ x: 25, y: 0, w: 50, h: 50 }]);
  assert.deepEqual(trackGeometry([], 10, 10), { boxes: [], path: [] });
});

test('playLink opens the camera 5 s before the event', () => {
  assert.equal(PRE_ROLL, 5000);
  assert.equal(playLink({ camera: 'cam1', start: new Date(1_700_000_010_000) }), '/camera/cam1?t=1700000005000');
});
