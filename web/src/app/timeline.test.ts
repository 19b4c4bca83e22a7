// Tests of the timeline's pure helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventClass } from './event';
import { clock, dayBounds, dayString, eventLink, matchesFilter, mergeRuns, parseDay, pct, startPosition, ticks, viewWindow } from './timeline';

test('parseDay and dayString', () => {
  assert.equal(parseDay('2026-05-01')?.getTime(), new Date(2026, 4, 1).getTime());
  assert.equal(dayString(new Date(2026, 4, 1, 23, 59)), '2026-05-01');
  for (const bad of ['', '2026-5-1', '2026-02-30', 'today', '2026-05-01T00:00']) assert.equal(parseDay(bad), null, bad);
});

test('dayBounds follows the local day, 23 h on a spring DST day', () => {
  const saved = process.env.TZ;
  process.env.TZ = 'Europe/Berlin';
  try {
    const { start, end } = dayBounds(new Date(2026, 2, 29, 15));
    assert.equal(start.getTime(), new Date(2026, 2, 29).getTime());
    assert.equal((end.getTime() - start.getTime()) / 3600e3, 23);
    const n = dayBounds(new Date(2026, 4, 1, 0, 0, 0));
    assert.equal((n.end.getTime() - n.start.getTime()) / 3600e3, 24);
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
});

test('mergeRuns joins touching segments and keeps holes', () => {
  const runs = mergeRuns([{ start: 14, end: 18 }, { start: 10, end: 14 }, { start: 18.4, end: 22 }, { start: 100, end: 104 }, { start: 101, end: 103 }]);
  assert.deepEqual(runs, [{ start: 10, end: 22 }, { start: 100, end: 104 }]);
  assert.deepEqual(mergeRuns([]), []);
  assert.deepEqual(mergeRuns([{ start: 0, end: 1 }, { start: 3, end: 4 }], 1), [{ start: 0, end: 1 }, { start: 3, end: 4 }]);
});

test('eventClass picks the colour class', () => {
  assert.equal(eventClass({ kind: 'object', classes: ['animal', 'person'] }), 'person');
  assert.equal(eventClass({ kind: 'object', classes: ['vehicle'] }), 'vehicle');
  assert.equal(eventClass({ kind: 'doorbell', classes: [] }), 'doorbell');
  assert.equal(eventClass({ kind: 'motion', classes: [] }), 'motion');
  assert.equal(eventClass({ kind: 'object', classes: [] }), 'object');
});

test('matchesFilter', () => {
  const ev = { kind: 'object', classes: ['person'] };
  assert.ok(matchesFilter(ev, ''));
  assert.ok(matchesFilter(ev, 'person'));
  assert.ok(!matchesFilter(ev, 'animal'));
  assert.ok(matchesFilter({ kind: 'doorbell', classes: [] }, 'doorbell'));
});

test('startPosition', () => {
  const runs = [{ start: 10, end: 22 }, { start: 100, end: 400 }];
  assert.equal(startPosition(runs, 50, true), 50);
  assert.equal(startPosition(runs, null, true), 370);
  assert.equal(startPosition([{ start: 100, end: 130 }], null, true), 100);
  assert.equal(startPosition(runs, null, false), 10);
  assert.equal(startPosition([], null, true), null);
});

test('pct and clock', () => {
  assert.equal(pct(43200, 86400), '50.0000%');
  assert.equal(pct(-5, 86400), '0.0000%');
  assert.equal(pct(90000, 86400), '100.0000%');
  assert.equal(clock(3723.9), '1:02:03');
  assert.equal(clock(0), '0:00:00');
});

test('eventLink escapes ids and carries the start', () => {
  assert.equal(eventLink({ camera: 'c/1', id: 'e 2', start: new Date(1700000000000) }), '/event/c%2F1/e%202?at=1700000000000');
});

test('viewWindow keeps the window while the playhead stays in it', () => {
  assert.equal(viewWindow(5000, 3600, 86400, null), 3200); // centred
  assert.equal(viewWindow(6000, 3600, 86400, 3200), 3200); // still inside
  assert.equal(viewWindow(6900, 3600, 86400, 3200), 5100); // left it: re-centred
  assert.equal(viewWindow(100, 3600, 86400, null), 0); // clamped at midnight
  assert.equal(viewWindow(86000, 3600, 86400, null), 82800); // and at the day's end
  assert.equal(viewWindow(86000, 86400, 86400, 5), 0); // whole day
});

test('ticks are round and at most 8', () => {
  assert.deepEqual(ticks(3200, 3600), [3600, 4200, 4800, 5400, 6000, 6600]);
  assert.deepEqual(ticks(0, 600), [0, 120, 240, 360, 480, 600]);
  const day = ticks(0, 86400);
  assert.ok(day.length <= 8 && day.length >= 4, String(day));
  assert.ok(day.every((t) => t % 3600 === 0));
});
