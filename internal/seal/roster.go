package seal

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Roster entry kinds and roles.
const (
	KindDevice = "device"
	KindHub    = "hub"

	RoleOwner  = "owner"
	RoleMember = "member"
	RoleHub    = "hub"
	// RoleRecovery is the household's recovery identity (Kind device,
	// Cameras [AllCameras]): its private keys exist only in the recovery
	// kit, sealed to the owner's passphrase. Hubs wrap every epoch to it
	// like any in-scope device, and it may sign the next roster version
	// like an owner, so an owner who lost every device can add a new one.
	RoleRecovery = "recovery"
)

// AllCameras in an entry's Cameras means every camera of the household,
// present and future.
const AllCameras = "*"

// ErrRosterChain means a roster chain failed verification: a version was
// forged, reordered, skipped or signed by a device that was not an owner (or
// the recovery identity) in the version before. Refuse it and alarm; never fall back to an older view.
var ErrRosterChain = errors.New("roster chain does not verify")

// Roster is one version of a household's roster: who may see which camera
// until when. Version 1 is signed by its own first owner device; every later
// version by an owner device (or the recovery identity) listed in the
// version before it.
type Roster struct {
	V         int           `json:"v"`
	Household string        `json:"household"`
	Version   uint64        `json:"version"`
	Prev      string        `json:"prev"` // hex SHA-256 of the previous version's signed envelope; "" for version 1
	Created   time.Time     `json:"created"`
	Entries   []RosterEntry `json:"entries"`
}

// RosterEntry is one device, member device or hub of the household.
type RosterEntry struct {
	ID       string     `json:"id"`   // KeyID(Sign)
	Kind     string     `json:"kind"` // KindDevice or KindHub
	Role     string     `json:"role"` // RoleOwner, RoleMember, RoleRecovery or RoleHub
	Name     string     `json:"name"`
	Sign     []byte     `json:"sign"`    // Ed25519 public key
	KEM      string     `json:"kem"`     // age1pq… hybrid recipient
	Cameras  []string   `json:"cameras"` // camera ids in scope, or [AllCameras]
	NotAfter *time.Time `json:"not_after,omitempty"`
}

// Entry returns the entry with the given id, or nil.
func (r *Roster) Entry(id string) *RosterEntry {
	for i := range r.Entries {
		if r.Entries[i].ID == id {
			return &r.Entries[i]
		}
	}
	return nil
}

// InScope reports whether the entry may see camera at time t.
func (e *RosterEntry) InScope(camera string, t time.Time) bool {
	if e.Kind != KindDevice {
		return false
	}
	if e.NotAfter != nil && !t.Before(*e.NotAfter) {
		return false
	}
	return slices.Contains(e.Cameras, AllCameras) || slices.Contains(e.Cameras, camera)
}

// Viewers returns the device entries that may see camera at time t: the
// devices an epoch key of that camera must be wrapped to.
func (r *Roster) Viewers(camera string, t time.Time) []RosterEntry {
	var out []RosterEntry
	for _, e := range r.Entries {
		if e.InScope(camera, t) {
			out = append(out, e)
		}
	}
	return out
}

// Owners returns the owner device entries.
func (r *Roster) Owners() []RosterEntry {
	var out []RosterEntry
	for _, e := range r.Entries {
		if e.Kind == KindDevice && e.Role == RoleOwner {
			out = append(out, e)
		}
	}
	return out
}

// OwnerSigners trusts exactly the owner devices of r (a nil roster trusts
// no one).
func (r *Roster) OwnerSigners() Signers {
	owners := map[string]ed25519.PublicKey{}
	if r != nil {
		for _, e := range r.Owners() {
			owners[e.ID] = ed25519.PublicKey(e.Sign)
		}
	}
	return func(id string) ed25519.PublicKey { return owners[id] }
}

// check validates a roster version on its own.
func (r *Roster) check() error {
	if r.V != FormatVersion {
		return fmt.Errorf("%w: roster v%d", ErrVersion, r.V)
	}
	if !ValidID(r.Household) || r.Version == 0 {
		return fmt.Errorf("%w: roster needs a household id and a version ≥ 1", ErrMalformed)
	}
	if (r.Version == 1) != (r.Prev == "") {
		return fmt.Errorf("%w: roster version %d has prev %q", ErrMalformed, r.Version, r.Prev)
	}
	seen := map[string]bool{}
	owners := 0
	for _, e := range r.Entries {
		if len(e.Sign) != ed25519.PublicKeySize || KeyID(e.Sign) != e.ID {
			return fmt.Errorf("%w: roster entry %q: id does not match its signing key", ErrMalformed, e.ID)
		}
		if seen[e.ID] {
			return fmt.Errorf("%w: roster entry %q listed twice", ErrMalformed, e.ID)
		}
		seen[e.ID] = true
		if _, err := ParseRecipient(e.KEM); err != nil {
			return fmt.Errorf("%w: roster entry %q: %v", ErrMalformed, e.ID, err)
		}
		switch {
		case e.Kind == KindDevice && (e.Role == RoleOwner || e.Role == RoleMember || e.Role == RoleRecovery):
		case e.Kind == KindHub && e.Role == RoleHub:
		default:
			return fmt.Errorf("%w: roster entry %q: kind %q with role %q", ErrMalformed, e.ID, e.Kind, e.Role)
		}
		if e.Role == RoleOwner {
			owners++
		}
	}
	if owners == 0 {
		return fmt.Errorf("%w: roster version %d has no owner device", ErrMalformed, r.Version)
	}
	return nil
}

// MaySign reports whether the entry may sign the next roster version: an
// owner device or the recovery identity.
func (e *RosterEntry) MaySign() bool {
	return e.Kind == KindDevice && (e.Role == RoleOwner || e.Role == RoleRecovery)
}

// SignRoster checks r and signs it with an owner device's (or the recovery
// identity's) key.
func SignRoster(priv ed25519.PrivateKey, r Roster) ([]byte, error) {
	r.V = FormatVersion
	if err := r.check(); err != nil {
		return nil, err
	}
	return Sign(priv, TypeRoster, r)
}

// RosterHash is the value a next version's Prev must carry.
func RosterHash(signed []byte) string {
	sum := sha256.Sum256(signed)
	return hex.EncodeToString(sum[:])
}

// VerifyRosterChain verifies a whole chain, oldest first, and returns its
// latest version. If root is non-nil, version 1 must be signed by that key
// (a hub pins the key it showed in the claim fingerprint; a client pins its
// household's first device). A chain whose prefix differs from one seen
// before is a fork: callers compare RosterHash of the versions they knew.
func VerifyRosterChain(versions [][]byte, root ed25519.PublicKey) (*Roster, error) {
	if len(versions) == 0 {
		return nil, fmt.Errorf("%w: empty chain", ErrRosterChain)
	}
	var prev *Roster
	var prevHash string
	for i, raw := range versions {
		env, err := ParseSigned(raw, TypeRoster)
		if err != nil {
			return nil, fmt.Errorf("%w: version at %d: %v", ErrRosterChain, i, err)
		}
		var r Roster
		if err := env.Decode(&r); err != nil {
			return nil, fmt.Errorf("%w: version at %d: %v", ErrRosterChain, i, err)
		}
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("%w: version %d: %v", ErrRosterChain, r.Version, err)
		}
		// The signer must be an owner device of the previous version, or
		// its recovery identity (for version 1: an owner device it lists).
		signers := &r
		if prev != nil {
			signers = prev
			if r.Version != prev.Version+1 || r.Prev != prevHash || r.Household != prev.Household {
				return nil, fmt.Errorf("%w: version %d does not follow version %d", ErrRosterChain, r.Version, prev.Version)
			}
		} else if r.Version != 1 {
			return nil, fmt.Errorf("%w: chain starts at version %d", ErrRosterChain, r.Version)
		}
		signer := signers.Entry(env.Signer)
		if signer == nil || !signer.MaySign() || (prev == nil && signer.Role != RoleOwner) {
			return nil, fmt.Errorf("%w: version %d signed by %s, not an owner device or the recovery key", ErrRosterChain, r.Version, env.Signer)
		}
		if prev == nil && root != nil && !ed25519.PublicKey(signer.Sign).Equal(root) {
			return nil, fmt.Errorf("%w: version 1 is not signed by the pinned household key", ErrRosterChain)
		}
		if err := env.Verify(signer.Sign); err != nil {
			return nil, fmt.Errorf("%w: version %d: %v", ErrRosterChain, r.Version, err)
		}
		prev, prevHash = &r, RosterHash(raw)
	}
	return prev, nil
}
