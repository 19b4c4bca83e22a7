package seal

import (
	"crypto/ed25519"
	"fmt"
	"time"
)

// TypeGrant is the signed envelope type of a support grant.
const TypeGrant = "porchlight.grant"

// Grant is what an owner device signs to let one support request see one
// camera's recordings in [From, To] until NotAfter. The service releases the
// wrapped keys only while a grant verifies against the household's current
// roster; the support device's client checks manifests against Hubs.
type Grant struct {
	V         int       `json:"v"`
	ID        string    `json:"id"` // the request's id
	Household string    `json:"household"`
	Requester string    `json:"requester"` // the support account's id
	Recipient string    `json:"recipient"` // the request key (age1pq…)
	Camera    string    `json:"camera"`    // camera id
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Video     bool      `json:"video"`
	NotAfter  time.Time `json:"not_after"`
	Reason    string    `json:"reason"`
	Ticket    string    `json:"ticket"`
	// Hubs are the signing keys the grantee accepts Camera's manifests and
	// epoch announcements from: its hub's, and the owner devices' (which
	// sign history they re-keyed).
	Hubs    [][]byte  `json:"hubs"`
	Created time.Time `json:"created"`
}

func (g *Grant) check() error {
	if g.V != FormatVersion {
		return fmt.Errorf("%w: grant v%d", ErrVersion, g.V)
	}
	if !ValidID(g.ID) || !ValidID(g.Household) || !ValidID(g.Camera) || g.Requester == "" {
		return fmt.Errorf("%w: grant needs an id, household, camera and requester", ErrMalformed)
	}
	if _, err := ParseRecipient(g.Recipient); err != nil {
		return fmt.Errorf("%w: grant recipient: %v", ErrMalformed, err)
	}
	if g.From.IsZero() || !g.To.After(g.From) || g.NotAfter.IsZero() {
		return fmt.Errorf("%w: grant needs from < to and an expiry", ErrMalformed)
	}
	for _, h := range g.Hubs {
		if len(h) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: grant hub key of %d bytes", ErrMalformed, len(h))
		}
	}
	return nil
}

// SignGrant checks g and signs it with an owner device's key.
func SignGrant(priv ed25519.PrivateKey, g Grant) ([]byte, error) {
	g.V = FormatVersion
	if err := g.check(); err != nil {
		return nil, err
	}
	return Sign(priv, TypeGrant, g)
}

// VerifyGrant checks a signed grant against a household's verified current
// roster: the signer must be an owner device (or the recovery identity)
// listed in it. A grant signed by anyone else — a removed device, a member,
// the service — is ErrSignature.
func VerifyGrant(signed []byte, r *Roster) (*Grant, error) {
	env, err := ParseSigned(signed, TypeGrant)
	if err != nil {
		return nil, err
	}
	signer := r.Entry(env.Signer)
	if signer == nil || !signer.MaySign() {
		return nil, fmt.Errorf("%w: grant signed by %s, not an owner device of the household's roster", ErrSignature, env.Signer)
	}
	if err := env.Verify(signer.Sign); err != nil {
		return nil, err
	}
	var g Grant
	if err := env.Decode(&g); err != nil {
		return nil, err
	}
	if err := g.check(); err != nil {
		return nil, err
	}
	if g.Household != r.Household {
		return nil, fmt.Errorf("%w: grant for another household", ErrSignature)
	}
	return &g, nil
}

// VerifyGrantFrom checks a signed grant against one known signing key (the
// grantee's view: it has no roster) and returns it.
func VerifyGrantFrom(signed []byte, pub ed25519.PublicKey) (*Grant, error) {
	env, err := ParseSigned(signed, TypeGrant)
	if err != nil {
		return nil, err
	}
	if err := env.Verify(pub); err != nil {
		return nil, err
	}
	var g Grant
	if err := env.Decode(&g); err != nil {
		return nil, err
	}
	return &g, g.check()
}

// GrantHash identifies a signed grant in the audit log.
func GrantHash(signed []byte) string { return SHA256Hex(signed) }
