// Support grants (porchlight.grant, docs/formats.md "Support grant"),
// signed by an owner device as internal/cli/grants.go does.

import { parseRecipient } from './agex';
import { b64encode } from './bytes';
import { GoTime } from './json';
import { signEnvelope, TypeGrant, validID } from './signed';

export interface GrantFields {
  id: string; household: string; requester: string; recipient: string; camera: string;
  from: GoTime; to: GoTime; video: boolean; notAfter: GoTime; reason: string; ticket: string; hubs: Uint8Array[]; created: GoTime;
}

/** The grant's JSON body, checked as seal.Grant.check and in Go's field order. */
export function grantBody(g: GrantFields): string {
  if (!validID(g.id) || !validID(g.household) || !validID(g.camera) || g.requester === '') throw new Error('malformed object: grant needs an id, household, camera and requester');
  parseRecipient(g.recipient);
  if (g.from.isZero || !g.to.after(g.from) || g.notAfter.isZero) throw new Error('malformed object: grant needs from < to and an expiry');
  for (const h of g.hubs) if (h.length !== 32) throw new Error(`malformed object: grant hub key of ${h.length} bytes`);
  return JSON.stringify({
    v: 1, id: g.id, household: g.household, requester: g.requester, recipient: g.recipient, camera: g.camera,
    from: g.from.toJSON(), to: g.to.toJSON(), video: g.video, not_after: g.notAfter.toJSON(), reason: g.reason, ticket: g.ticket,
    hubs: g.hubs.map(b64encode), created: g.created.toJSON(),
  });
}

/** Signs a grant body with an owner device's Ed25519 seed: the envelope bytes. */
export function signGrant(seed: Uint8Array, body: string): Uint8Array {
  return signEnvelope(seed, TypeGrant, body);
}
