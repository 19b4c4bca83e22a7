// Tests of the audit log verifier against real tessera logs: the fixture
// is made by internal/auditlog/webfixture_test.go (-update-web), which also
// checks it with the Go verifier, so both agree on what verifies.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Decrypter } from 'age-encryption';
import { b64decode } from './bytes';
import {
  auditStatusText, decodeBody, memoryAuditStore, parseCheckpoint, parseVerifierKey, tilePath, verifyAudit,
  type AuditPage, type AuditSource, type AuditState, type BodyOpener,
} from './auditlog';

interface FixtureEntry { index: number; entry: string; action?: string; sealed?: string }
interface Fixture {
  origin: string; verifier_key: string; household: string; identity: string;
  old: string; new: string; fork: string;
  tiles: Record<string, string>; fork_tiles: Record<string, string>;
  entries: FixtureEntry[];
}

const fx = JSON.parse(readFileSync('src/lib/testdata/auditlog/fixture.json', 'utf8')) as Fixture;
const v = parseVerifierKey(fx.verifier_key);
const oldCP = parseCheckpoint(b64decode(fx.old), v);
const newCP = parseCheckpoint(b64decode(fx.new), v);

const open: BodyOpener = async (ct) => {
  const d = new Decrypter();
  d.addIdentity(fx.identity);
  return d.decrypt(ct);
};

function tilesOf(m: Record<string, string>): Map<string, Uint8Array> {
  return new Map(Object.entries(m).map(([k, b]) => [k, b64decode(b)]));
}

interface FakeOpts {
  pages: { checkpoint: string; entries: FixtureEntry[] }[];
  tiles?: Map<string, Uint8Array>;
  tileError?: boolean;
}

/** A fake porchlightd serving the fixture's pages and tiles; it records the tiles asked for. */
function source(o: FakeOpts): AuditSource & { asked: string[] } {
  const tiles = o.tiles ?? tilesOf(fx.tiles);
  const asked: string[] = [];
  return {
    asked,
    async logInfo() { return { origin: fx.origin, verifierKey: fx.verifier_key }; },
    async page(from): Promise<AuditPage> {
      const i = from === 0 ? 0 : o.pages.findIndex((_, k) => k > 0 && o.pages[k].entries[0]?.index === from);
      assert.ok(i >= 0, `page from ${from} was not served`);
      const p = o.pages[i];
      const next = i + 1 < o.pages.length ? o.pages[i + 1].entries[0].index : 0;
      return { checkpoint: b64decode(p.checkpoint), entries: p.entries.map((e) => ({ index: e.index, entry: b64decode(e.entry) })), pending: 0, next };
    },
    async tile(path) {
      asked.push(path);
      if (o.tileError) throw new TypeError('Failed to fetch');
      return tiles.get(path) ?? null;
    },
  };
}

const before = fx.entries.filter((e) => e.index < oldCP.size);
const after = fx.entries.filter((e) => e.index >= oldCP.size);
const onePage = { pages: [{ checkpoint: fx.new, entries: fx.entries }] };

test('tile paths are C2SP tlog-tiles paths', () => {
  assert.equal(tilePath(0, 0, 0), '0/000');
  assert.equal(tilePath(0, 1, 44), '0/001.p/44');
  assert.equal(tilePath(2, 1234067, 0), '2/x001/x234/067');
  assert.equal(tilePath(1, 1000, 256), '1/x001/000');
});

test('the fixture spans two pages and beyond one tile', () => {
  assert.ok(before.length >= 3 && after.length >= 3, 'entries on both sides of the old checkpoint');
  assert.ok(newCP.size > 256);
});

test('verifies a log that grew between pages, pins the key and opens the bodies', async () => {
  const store = memoryAuditStore();
  const src = source({ pages: [{ checkpoint: fx.old, entries: before }, { checkpoint: fx.new, entries: after }] });
  const res = await verifyAudit({ household: fx.household, source: src, store, open });
  assert.deepEqual(res.alarms, []);
  assert.equal(res.status, 'verified');
  assert.equal(res.firstUse, true);
  assert.equal(auditStatusText(res), `verified: ${fx.entries.length} entries in checkpoint size ${newCP.size}`);
  assert.deepEqual(res.rows.map((r) => r.index), fx.entries.map((e) => e.index));
  assert.ok(res.rows.every((r) => r.verified));
  for (const [i, want] of fx.entries.entries()) {
    const row = res.rows[i];
    if (want.action) {
      assert.equal(row.body?.action, want.action, `entry ${want.index}`);
    } else {
      assert.equal(row.body, undefined);
      assert.match(row.sealed ?? '', want.sealed === 'none' ? /no body/ : /sealed to other devices/);
    }
  }
  const support = res.rows.find((r) => r.body?.actor.kind === 'support');
  assert.equal(support?.body?.actor.country, 'IE');
  assert.ok(src.asked.includes('1/000.p/1'), 'the level-1 tile was used');
  assert.equal(store.state?.verifierKey, fx.verifier_key);
  assert.equal(store.state?.checkpoint, new TextDecoder().decode(b64decode(fx.new)));
  assert.equal(store.state?.entries, fx.entries.length);
  assert.equal(store.state?.lastIndex, fx.entries[fx.entries.length - 1].index);

  // A second visit compares against the saved checkpoint.
  const again = await verifyAudit({ household: fx.household, source: source(onePage), store, open });
  assert.equal(again.status, 'verified', again.alarms.join('; '));
  assert.equal(again.firstUse, false);
});

async function verifiedOld(): Promise<AuditState> {
  const store = memoryAuditStore();
  const res = await verifyAudit({ household: fx.household, source: source({ pages: [{ checkpoint: fx.old, entries: before }] }), store, open });
  assert.equal(res.status, 'verified', res.alarms.join('; '));
  assert.ok(store.state);
  return store.state;
}

test('a grown log is consistent with the checkpoint verified before', async () => {
  const store = memoryAuditStore(await verifiedOld());
  const res = await verifyAudit({ household: fx.household, source: source(onePage), store, open });
  assert.equal(res.status, 'verified', res.alarms.join('; '));
  assert.equal(store.state?.entries, fx.entries.length);
});

function flipped(path: string, hashIndex: number): Map<string, Uint8Array> {
  const tiles = tilesOf(fx.tiles);
  const t = tiles.get(path)!.slice();
  t[hashIndex * 32 + 5] ^= 1;
  tiles.set(path, t);
  return tiles;
}

for (const [path, hash] of [['0/000', fx.entries[0].index + 1], ['1/000.p/1', 0]] as const) {
  test(`a tampered tile ${path} is an ALARM and saves nothing`, async () => {
    const prior = await verifiedOld();
    const store = memoryAuditStore(prior);
    const res = await verifyAudit({ household: fx.household, source: source({ ...onePage, tiles: flipped(path, hash) }), store, open });
    assert.equal(res.status, 'alarm');
    assert.match(auditStatusText(res), /^ALARM: /);
    assert.deepEqual(store.state, prior, 'the state is evidence: unchanged');
  });
}

test('a forked checkpoint signed with the same key is an ALARM', async () => {
  const prior = await verifiedOld();
  const store = memoryAuditStore(prior);
  const src = source({ pages: [{ checkpoint: fx.fork, entries: [] }], tiles: tilesOf(fx.fork_tiles) });
  const res = await verifyAudit({ household: fx.household, source: src, store, open });
  assert.equal(res.status, 'alarm');
  assert.match(res.alarms[0], /forked or rewritten/);
  assert.deepEqual(store.state, prior);
});

test('the same fork seen first is only the first checkpoint; the real log then alarms', async () => {
  const store = memoryAuditStore();
  const fork = source({ pages: [{ checkpoint: fx.fork, entries: [] }], tiles: tilesOf(fx.fork_tiles) });
  assert.equal((await verifyAudit({ household: fx.household, source: fork, store, open })).status, 'verified');
  const res = await verifyAudit({ household: fx.household, source: source(onePage), store, open });
  assert.equal(res.status, 'alarm');
});

test('a tile that cannot be fetched is not verified, not an alarm', async () => {
  const prior = await verifiedOld();
  const store = memoryAuditStore(prior);
  const res = await verifyAudit({ household: fx.household, source: source({ ...onePage, tileError: true }), store, open });
  assert.equal(res.status, 'unverified');
  assert.match(auditStatusText(res), /^not verified, try again/);
  assert.deepEqual(store.state, prior);
});

test('a changed log key is an ALARM', async () => {
  const prior = { ...(await verifiedOld()), verifierKey: 'porchlight/audit-log+00000000+AV4Dvg5prSMp3aeL5uWZzMT4qUOC/UIFpUtCp8Ksz+O/' };
  const res = await verifyAudit({ household: fx.household, source: source(onePage), store: memoryAuditStore(prior), open });
  assert.equal(res.status, 'alarm');
  assert.match(res.alarms[0], /log key changed/);
});

test('an entry verified before and no longer listed is an ALARM', async () => {
  const store = memoryAuditStore(await verifiedOld());
  const src = source({ pages: [{ checkpoint: fx.new, entries: fx.entries.filter((e) => e.index !== before[1].index) }] });
  const res = await verifyAudit({ household: fx.household, source: src, store, open });
  assert.equal(res.status, 'alarm');
  assert.match(res.alarms.join(' '), /removed from your log's listing/);
});

test('an entry moved to another index is an ALARM', async () => {
  const moved = fx.entries.map((e, i) => (i === 3 ? { ...e, index: e.index + 1 } : e));
  const res = await verifyAudit({ household: fx.household, source: source({ pages: [{ checkpoint: fx.new, entries: moved }] }), store: memoryAuditStore(), open });
  assert.equal(res.status, 'alarm');
  assert.match(res.alarms[0], /not in the log/);
  assert.equal(res.rows.filter((r) => !r.verified).length, 1);
});

test('a checkpoint with a broken signature is an ALARM', async () => {
  const raw = b64decode(fx.new);
  const bad = raw.slice();
  bad[bad.length - 10] ^= 1; // inside the base64 signature
  const src = source({ pages: [{ checkpoint: Buffer.from(bad).toString('base64'), entries: fx.entries }] });
  const res = await verifyAudit({ household: fx.household, source: src, store: memoryAuditStore(), open });
  assert.equal(res.status, 'alarm');
  assert.match(res.alarms[0], /does not verify/);
});

test('a leaf that is not in canonical form, or of another household, is an ALARM', async () => {
  const e = fx.entries[0];
  const leaf = new TextDecoder().decode(b64decode(e.entry));
  for (const [name, bad, want] of [
    ['spacing', leaf.replace('"v":1,', '"v": 1,'), /not a well-formed audit entry/],
    ['unknown field', leaf.replace('"v":1,', '"v":1,"x":1,'), /not a well-formed audit entry/],
    ['other household', leaf.replace(fx.household, 'householdbbbbbbbbbbbbbbbbb'), /not yours/],
  ] as const) {
    const entries = [{ index: e.index, entry: Buffer.from(bad).toString('base64') }];
    const res = await verifyAudit({ household: fx.household, source: source({ pages: [{ checkpoint: fx.new, entries }] }), store: memoryAuditStore(), open });
    assert.equal(res.status, 'alarm', name);
    assert.match(res.alarms[0], want, name);
  }
});

test('decodeBody refuses unknown fields and actor kinds', () => {
  const ok = { v: 1, actor: { kind: 'owner' }, action: 'login' };
  assert.equal(decodeBody(new TextEncoder().encode(JSON.stringify(ok))).action, 'login');
  for (const bad of [{ ...ok, extra: 1 }, { ...ok, actor: { kind: 'alien' } }, { ...ok, action: '' }, { ...ok, v: 2 }]) {
    assert.throws(() => decodeBody(new TextEncoder().encode(JSON.stringify(bad))));
  }
});
