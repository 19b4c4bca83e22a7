import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cellBounds, geohash, mediaURL, normalizeCell, parsePosts, validCell } from './feed';

test('geohash matches known encodings', () => {
  // published reference points (geohash.org / Niemeyer's examples)
  assert.equal(geohash(57.64911, 10.40744, 11), 'u4pruydqqvj');
  assert.equal(geohash(42.6, -5.6, 5), 'ezs42');
  assert.equal(geohash(-25.382708, -49.265506, 12), '6gkzwgjzn820');
  assert.equal(geohash(57.64911, 10.40744), 'u4pruy');
  assert.equal(geohash(0, 0), 's00000');
  assert.equal(geohash(-90, -180), '000000');
  assert.equal(geohash(90, 180), 'zzzzzz');
});

test('a cell is 6 characters and contains the point', () => {
  for (const [lat, lon] of [[51.5007, -0.1246], [-33.8568, 151.2153], [40.6892, -74.0445], [0.0001, -0.0001]]) {
    const c = geohash(lat, lon);
    assert.equal(c.length, 6);
    assert.ok(validCell(c), c);
    const b = cellBounds(c);
    assert.ok(b.latMin <= lat && lat < b.latMax && b.lonMin <= lon && lon < b.lonMax, `${c} does not contain ${lat},${lon}`);
    // coarse: a cell is roughly 1.2 km × 0.6 km, never finer
    assert.ok(b.lonMax - b.lonMin > 0.01 && b.latMax - b.latMin > 0.005, `${c} is finer than a neighbourhood`);
  }
});

test('geohash refuses positions off the globe', () => {
  assert.throws(() => geohash(91, 0), RangeError);
  assert.throws(() => geohash(0, -181), RangeError);
  assert.throws(() => geohash(NaN, 0), RangeError);
});

test('validCell and normalizeCell', () => {
  assert.ok(validCell('u4pruy'));
  assert.ok(!validCell('u4pru'));     // too short
  assert.ok(!validCell('u4pruyd'));   // too fine
  assert.ok(!validCell('u4prua'));    // "a" is not in the alphabet
  assert.ok(!validCell('U4PRUY'));
  assert.equal(normalizeCell('  U4PRUY '), 'u4pruy');
  assert.equal(normalizeCell('u4pruyd'), null);
  assert.equal(normalizeCell('51.5,-0.12'), null);
});

test('parsePosts keeps well-formed posts, newest first, and builds the media URL itself', () => {
  const posts = parsePosts({
    posts: [
      { id: 'postaaaaaaaaaaaaaaaaaaaaaa', title: 'Parcel taken', category: 'crime', cell: 'u4pruy', pseudonym: 'quiet-otter',
        created: '2026-11-23T10:00:00Z', media: 'https://evil.example/x.mp4' },
      { id: 'postbbbbbbbbbbbbbbbbbbbbbb', title: 'Cat found', category: 'lost_pet', cell: 'u4pruv', pseudonym: 'brave-fox',
        created: '2026-11-23T11:00:00Z', mine: true, state: 'removed', reason: 'shows a face', ended: '2026-11-23T12:00:00Z' },
      { id: '../../v1/me', title: 'x', created: '2026-11-23T11:00:00Z' },
      { id: 'postcccccccccccccccccccccc', title: 'no time' },
      { id: 'postdddddddddddddddddddddd', title: 'odd', category: 'weird', cell: 'u4pruy55', created: '2026-11-22T11:00:00Z' },
    ],
  });
  assert.deepEqual(posts.map((p) => p.id), ['postbbbbbbbbbbbbbbbbbbbbbb', 'postaaaaaaaaaaaaaaaaaaaaaa', 'postdddddddddddddddddddddd']);
  assert.equal(posts[0].mine, true);
  assert.equal(posts[1].mine, false);
  assert.equal(posts[0].state, 'removed');
  assert.equal(posts[0].reason, 'shows a face');
  assert.equal(posts[0].ended?.toISOString(), '2026-11-23T12:00:00.000Z');
  assert.equal(posts[1].state, 'published');
  assert.equal(posts[1].ended, undefined);
  assert.equal(posts[1].media, '/v1/feed/posts/postaaaaaaaaaaaaaaaaaaaaaa/media');
  assert.equal(posts[2].category, 'other');
  assert.equal(posts[2].cell, '');
  assert.deepEqual(parsePosts([]), []);
  assert.throws(() => parsePosts({ nope: 1 }));
  assert.equal(mediaURL('a b'), '/v1/feed/posts/a%20b/media');
});
