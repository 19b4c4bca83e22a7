// The QR encoder against rsc.io/qr v0.2.0 (what the CLI draws the same
// link with). testdata/settings_qr.json was made with qr.Encode(text, qr.M),
// which always uses mask 0, printing each row as '#' (dark) and '.'.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { qrMatrix } from './settings_qr';

const vectors = JSON.parse(readFileSync('src/app/testdata/settings_qr.json', 'utf8')) as { text: string; rows: string[] }[];

const rows = (m: boolean[][]) => m.map((r) => r.map((d) => (d ? '#' : '.')).join(''));

for (const v of vectors) {
  test(`QR of ${v.text.length} bytes matches rsc.io/qr (version ${(v.rows.length - 17) / 4})`, () => {
    assert.deepEqual(rows(qrMatrix(v.text, 0)), v.rows);
  });
}

test('the automatic mask keeps the function patterns and only changes data modules', () => {
  const m = qrMatrix(vectors[1].text);
  const ref = vectors[1].rows;
  assert.equal(m.length, ref.length);
  // Finder pattern corners and timing row are the same whatever the mask.
  for (const [x, y] of [[0, 0], [6, 6], [m.length - 1, 0], [0, m.length - 1], [8, 6], [10, 6]]) {
    assert.equal(m[y][x], ref[y][x] === '#', `module ${x},${y}`);
  }
});

test('too long a text is refused', () => {
  assert.throws(() => qrMatrix('x'.repeat(700)), /too long/);
});
