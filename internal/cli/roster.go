package cli

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// errRosterAlarm marks a roster the service served that this device must
// refuse: not signed by the pinned household key, of another household, or
// not extending the chain seen before (a fork or a rollback). Nothing is
// decrypted or signed with such a roster.
var errRosterAlarm = errors.New("ROSTER ALARM")

// checkChain verifies a chain served by the service against this device's
// pin: version 1 must be signed by pin.Root, every version must verify, the
// household must match, and the versions seen before must be an unchanged
// prefix. It returns the latest version.
func checkChain(pin *pinnedRoster, served [][]byte) (*seal.Roster, error) {
	if len(served) == 0 {
		if len(pin.Versions) > 0 {
			return nil, fmt.Errorf("%w: the service says household %s has no roster, but this device verified %d version(s) of it before: the roster was deleted or the service is not the one you signed up with; refusing it",
				errRosterAlarm, pin.Household, len(pin.Versions))
		}
		return nil, fmt.Errorf("household %s has no roster yet", pin.Household)
	}
	// Check the root first, to say plainly what is wrong.
	if env, err := seal.ParseSigned(served[0], seal.TypeRoster); err == nil && env.Signer != seal.KeyID(pin.Root) {
		return nil, fmt.Errorf("%w: the household roster the service sent starts with a version signed by key %s, but this device pinned key %s for household %s: the roster was replaced, possibly to add devices you never approved; refusing it. Nothing was decrypted or signed",
			errRosterAlarm, env.Signer, seal.KeyID(pin.Root), pin.Household)
	}
	latest, err := seal.VerifyRosterChain(served, pin.Root)
	if err != nil {
		return nil, fmt.Errorf("%w: the household roster does not verify (%v); refusing it. Nothing was decrypted or signed", errRosterAlarm, err)
	}
	if latest.Household != pin.Household {
		return nil, fmt.Errorf("%w: the roster is of household %s, but this device belongs to household %s; refusing it", errRosterAlarm, latest.Household, pin.Household)
	}
	if len(served) < len(pin.Versions) {
		return nil, fmt.Errorf("%w: the service sent %d roster version(s), but this device verified %d before: a rollback (a removed device may be back); refusing it",
			errRosterAlarm, len(served), len(pin.Versions))
	}
	for i, known := range pin.Versions {
		if seal.RosterHash(known) != seal.RosterHash(served[i]) {
			return nil, fmt.Errorf("%w: roster version %d differs from the one this device verified before: the history was rewritten (a fork); refusing it", errRosterAlarm, i+1)
		}
	}
	return latest, nil
}

// rosterSigner returns the Ed25519 key that signed a chain's version 1,
// after verifying the chain with that key: what a device pins on first use.
func rosterSigner(versions [][]byte) (ed25519.PublicKey, *seal.Roster, error) {
	if len(versions) == 0 {
		return nil, nil, errors.New("empty roster")
	}
	env, err := seal.ParseSigned(versions[0], seal.TypeRoster)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: version 1: %v", seal.ErrRosterChain, err)
	}
	var v1 seal.Roster
	if err := env.Decode(&v1); err != nil {
		return nil, nil, fmt.Errorf("%w: version 1: %v", seal.ErrRosterChain, err)
	}
	e := v1.Entry(env.Signer)
	if e == nil {
		return nil, nil, fmt.Errorf("%w: version 1 is signed by %s, which it does not list", seal.ErrRosterChain, env.Signer)
	}
	root := ed25519.PublicKey(e.Sign)
	latest, err := seal.VerifyRosterChain(versions, root)
	if err != nil {
		return nil, nil, err
	}
	return root, latest, nil
}

// firstRoster is version 1 of a new household's roster: this device, its
// first owner, seeing every camera, and the extra entries (the household's
// recovery identity).
func firstRoster(dev *keys.Pair, household string, now time.Time, extra ...seal.RosterEntry) ([]byte, error) {
	return seal.SignRoster(dev.Sign, seal.Roster{
		Household: household,
		Version:   1,
		Created:   now.UTC(),
		Entries:   append([]seal.RosterEntry{deviceEntry(dev, seal.RoleOwner)}, extra...),
	})
}

func deviceEntry(dev *keys.Pair, role string) seal.RosterEntry {
	return seal.RosterEntry{
		ID:      dev.ID,
		Kind:    seal.KindDevice,
		Role:    role,
		Name:    dev.Name,
		Sign:    dev.SignPub(),
		KEM:     dev.Recipient(),
		Cameras: []string{seal.AllCameras},
	}
}

// nextRoster signs the version after latest (whose signed envelope is
// latestRaw) with entries changed by edit. The signing device must be an
// owner of latest (or its recovery identity, for `porchlight recover`).
func nextRoster(dev *keys.Pair, latest *seal.Roster, latestRaw []byte, now time.Time, edit func(entries []seal.RosterEntry) []seal.RosterEntry) ([]byte, error) {
	if e := latest.Entry(dev.ID); e == nil || !e.MaySign() {
		return nil, fmt.Errorf("this device (%s) is not an owner in roster version %d, so it cannot change the household: use an owner device", dev.ID, latest.Version)
	}
	entries := edit(append([]seal.RosterEntry(nil), latest.Entries...))
	return seal.SignRoster(dev.Sign, seal.Roster{
		Household: latest.Household,
		Version:   latest.Version + 1,
		Prev:      seal.RosterHash(latestRaw),
		Created:   now.UTC(),
		Entries:   entries,
	})
}
