package seal_test

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/seal"
)

// TestOwnerSignedObjects: a manifest or announcement signed by an owner
// device (re-keyed history) verifies for a verifier that trusts that
// device, and for nobody who trusts only the hub.
func TestOwnerSignedObjects(t *testing.T) {
	hub, owner, stranger := newKey(t, 1), newKey(t, 2), newKey(t, 3)
	hh, cam, ep := seal.NewID(), seal.NewID(), seal.NewID()
	trusted := func(id string) ed25519.PublicKey {
		switch id {
		case seal.KeyID(hub.pub()):
			return hub.pub()
		case seal.KeyID(owner.pub()):
			return owner.pub()
		}
		return nil
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		signer testKey
		hubOK  bool
		anyOK  bool
	}{{"hub", hub, true, true}, {"owner", owner, false, true}, {"stranger", stranger, false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			id := seal.KeyID(tc.signer.pub())
			m, err := seal.Sign(tc.signer.sign, seal.TypeManifest, seal.Manifest{V: 1, Household: hh, Camera: cam, Hub: id, Epoch: ep, Created: now})
			if err != nil {
				t.Fatal(err)
			}
			ann, err := seal.SignEpoch(tc.signer.sign, seal.EpochAnnouncement{Household: hh, Camera: cam, Epoch: ep, Hub: id,
				Recipient: tc.signer.kem.Recipient().String(), NotBefore: now, NotAfter: now.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				what string
				err  error
				ok   bool
			}{
				{"manifest, hub only", errOf(seal.VerifyManifest(m, hub.pub(), hh, cam, ep)), tc.hubOK},
				{"manifest, hub or owner", errOf(seal.VerifyManifestFrom(m, trusted, hh, cam, ep)), tc.anyOK},
				{"epoch, hub only", errOf(seal.VerifyEpoch(ann, hub.pub())), tc.hubOK},
				{"epoch, hub or owner", errOf(seal.VerifyEpochFrom(ann, trusted)), tc.anyOK},
			} {
				if (c.err == nil) != c.ok || (c.err != nil && !errors.Is(c.err, seal.ErrSignature)) {
					t.Errorf("%s: err = %v, want ok=%v (or ErrSignature)", c.what, c.err, c.ok)
				}
			}
		})
	}
	// The Hub field must still name the signer.
	m, err := seal.Sign(owner.sign, seal.TypeManifest, seal.Manifest{V: 1, Household: hh, Camera: cam, Hub: seal.KeyID(hub.pub()), Epoch: ep, Created: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seal.VerifyManifestFrom(m, trusted, hh, cam, ep); !errors.Is(err, seal.ErrMalformed) {
		t.Errorf("owner-signed manifest naming the hub: %v, want ErrMalformed", err)
	}
}

func errOf[T any](_ T, err error) error { return err }
