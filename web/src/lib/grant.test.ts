// A grant signed here must verify in Go. This test writes
// testdata/vectors/grant-ts-v1.json (deterministic: Ed25519 signatures are,
// and every input is fixed), signed with the owner key of
// testdata/vectors/v1.json; a Go test verifies it with seal.VerifyGrant
// against that vector's roster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519 } from '@noble/curves/ed25519.js';
import { recipientOf } from './agex';
import { b64decode, b64encode } from './bytes';
import { grantBody, signGrant } from './grant';
import { GoTime } from './json';
import { verifyRosterChain } from './roster';
import { decodeBody, keyID, parseSigned, TypeGrant, verifySigned } from './signed';
import { readRepoFile, writeRepoFile } from './testing';

test('a TS-signed grant verifies against the Go vector roster and is written for Go', async () => {
  const v = JSON.parse(readRepoFile('testdata/vectors/v1.json'));
  const ownerSeed = b64decode(v.owner_sign_seed);
  const ownerPub = ed25519.getPublicKey(ownerSeed);
  const hubPub = ed25519.getPublicKey(b64decode(v.hub_sign_seed));
  const roster = verifyRosterChain(v.roster.map(b64decode), ownerPub);
  const created = GoTime.parse('2026-11-23T12:00:00Z');
  const fields = {
    id: 'grantrequestaaaaaaaaaaaaaa', household: roster.household, requester: 'supportaccountaaaaaaaaaaaa',
    recipient: await recipientOf(v.owner_kem_identity), camera: v.expect_camera,
    from: GoTime.parse('2026-11-23T09:30:00Z'), to: GoTime.parse('2026-11-23T10:30:00.5Z'), video: true,
    notAfter: GoTime.parse('2026-11-23T13:00:00Z'), reason: 'doorbell <rings> & "stops"', ticket: 'T-42',
    hubs: [hubPub, ownerPub], created,
  };
  const signed = signGrant(ownerSeed, grantBody(fields));
  const env = parseSigned(signed, TypeGrant);
  assert.equal(env.signer, keyID(ownerPub));
  verifySigned(env, ownerPub);
  const body = decodeBody(env, (x) => x as Record<string, unknown>);
  assert.equal(body.to, '2026-11-23T10:30:00.5Z');
  assert.throws(() => grantBody({ ...fields, to: fields.from }), /from < to/);
  assert.throws(() => grantBody({ ...fields, hubs: [new Uint8Array(31)] }), /hub key/);
  const fixture = {
    comment: 'A porchlight.grant signed by the browser library (web/src/lib/grant.ts) with the owner key of testdata/vectors/v1.json; written by `cd web && npm test` (grant.test.ts). Go must verify it with seal.VerifyGrant against v1.json\'s roster and get expect.',
    signed: b64encode(signed),
    expect: {
      v: 1, id: fields.id, household: fields.household, requester: fields.requester, recipient: fields.recipient, camera: fields.camera,
      from: fields.from.toJSON(), to: fields.to.toJSON(), video: true, not_after: fields.notAfter.toJSON(), reason: fields.reason, ticket: fields.ticket,
      hubs: fields.hubs.map(b64encode), created: created.toJSON(),
    },
  };
  writeRepoFile('testdata/vectors/grant-ts-v1.json', JSON.stringify(fixture, null, 2) + '\n');
});
