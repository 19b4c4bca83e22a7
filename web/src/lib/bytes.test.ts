import { test } from 'node:test';
import assert from 'node:assert/strict';
import { b32encode, b64decode, b64encode, fromHex, hex } from './bytes';

test('base64 round-trips and matches Node for every length', () => {
  for (let n = 0; n < 70; n++) {
    const b = new Uint8Array(n).map((_, i) => (i * 37 + n) & 255);
    const s = Buffer.from(b).toString('base64');
    assert.equal(b64encode(b), s);
    assert.deepEqual(b64decode(s), b);
  }
});

test('base64 is strict: padding and alphabet as Go, and canonical padding bits', () => {
  for (const bad of ['QQ', 'QQ=', 'Q===', 'QR==', 'QUI', 'QU-=', 'QU_=', 'QUI=QUI=', ' QUI=']) {
    assert.throws(() => b64decode(bad), /malformed base64/, bad);
  }
  assert.deepEqual(b64decode('QUI=\n'), new Uint8Array([0x41, 0x42]));
});

test('base32 ids and hex', () => {
  // RFC 4648 test vectors, lowercased and unpadded.
  const cases: [string, string][] = [['', ''], ['f', 'my'], ['fo', 'mzxq'], ['foo', 'mzxw6'], ['foob', 'mzxw6yq'], ['fooba', 'mzxw6ytb'], ['foobar', 'mzxw6ytboi']];
  for (const [in_, out] of cases) assert.equal(b32encode(new TextEncoder().encode(in_)), out);
  assert.equal(hex(new Uint8Array([0, 15, 255])), '000fff');
  assert.deepEqual(fromHex('000fff'), new Uint8Array([0, 15, 255]));
  assert.throws(() => fromHex('0g'));
});
