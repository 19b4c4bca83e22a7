package seal_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/seal"
)

// TestRecoveryRole: the recovery entry is a viewer of every camera and may
// sign the next version (but not found a household), and a member still
// may not.
func TestRecoveryRole(t *testing.T) {
	owner, rec, member, newDev, hub := newKey(t, 1), newKey(t, 2), newKey(t, 3), newKey(t, 4), newKey(t, 5)
	hh := seal.NewID()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	v1 := mustRoster(t, owner, seal.Roster{Household: hh, Version: 1, Created: now, Entries: []seal.RosterEntry{
		owner.entry(seal.KindDevice, seal.RoleOwner), rec.entry(seal.KindDevice, seal.RoleRecovery),
		member.entry(seal.KindDevice, seal.RoleMember), hub.entry(seal.KindHub, seal.RoleHub)}})
	latest, err := seal.VerifyRosterChain([][]byte{v1}, owner.pub())
	if err != nil {
		t.Fatal(err)
	}
	var viewers []string
	for _, v := range latest.Viewers("anycameraaaaaaaaaaaaaaaaa", now) {
		viewers = append(viewers, v.Role)
	}
	if !slices.Contains(viewers, seal.RoleRecovery) {
		t.Errorf("viewers of a camera = %v, want the recovery entry among them (hubs wrap every epoch to it)", viewers)
	}
	if n := len(latest.Owners()); n != 1 {
		t.Errorf("Owners = %d entries, want 1: the recovery entry is not an owner device", n)
	}

	next := func(signer testKey, entries ...seal.RosterEntry) []byte {
		return mustRoster(t, signer, seal.Roster{Household: hh, Version: 2, Prev: seal.RosterHash(v1), Created: now, Entries: entries})
	}
	// Recovery: the recovery key adds a new owner device (the old one lost).
	v2 := next(rec, rec.entry(seal.KindDevice, seal.RoleRecovery), newDev.entry(seal.KindDevice, seal.RoleOwner), hub.entry(seal.KindHub, seal.RoleHub))
	got, err := seal.VerifyRosterChain([][]byte{v1, v2}, owner.pub())
	if err != nil {
		t.Fatalf("version signed by the recovery entry: %v", err)
	}
	if e := got.Entry(seal.KeyID(newDev.pub())); e == nil || e.Role != seal.RoleOwner {
		t.Fatal("the recovered device is not an owner of version 2")
	}
	for name, chain := range map[string][][]byte{
		"signed by a member": {v1, next(member, owner.entry(seal.KindDevice, seal.RoleOwner), member.entry(seal.KindDevice, seal.RoleOwner))},
		"signed by the hub":  {v1, next(hub, owner.entry(seal.KindDevice, seal.RoleOwner))},
		"v1 signed by the recovery key": {mustRoster(t, rec, seal.Roster{Household: hh, Version: 1, Created: now, Entries: []seal.RosterEntry{
			owner.entry(seal.KindDevice, seal.RoleOwner), rec.entry(seal.KindDevice, seal.RoleRecovery)}})},
	} {
		if _, err := seal.VerifyRosterChain(chain, nil); !errors.Is(err, seal.ErrRosterChain) {
			t.Errorf("%s: err = %v, want ErrRosterChain", name, err)
		}
	}
	// A recovery role on a hub entry is malformed.
	if _, err := seal.SignRoster(owner.sign, seal.Roster{Household: hh, Version: 1, Created: now, Entries: []seal.RosterEntry{
		owner.entry(seal.KindDevice, seal.RoleOwner), rec.entry(seal.KindHub, seal.RoleRecovery)}}); !errors.Is(err, seal.ErrMalformed) {
		t.Errorf("hub-kind recovery entry: %v, want ErrMalformed", err)
	}
}

func TestRecoveryKitPlaintext(t *testing.T) {
	k := newKey(t, 7)
	kit := seal.RecoveryKit{Household: seal.NewID(), Root: k.pub(), ID: seal.KeyID(k.pub()), KEM: k.kem.String(), Sign: k.sign.Seed(), Created: time.Now().UTC()}
	b, err := seal.MarshalRecoveryKit(kit)
	if err != nil {
		t.Fatal(err)
	}
	got, err := seal.ParseRecoveryKit(b)
	if err != nil || got.ID != kit.ID || got.KEM != kit.KEM {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	bad := kit
	bad.ID = seal.KeyID(newKey(t, 8).pub())
	if _, err := seal.MarshalRecoveryKit(bad); !errors.Is(err, seal.ErrMalformed) {
		t.Errorf("mismatched id: %v, want ErrMalformed", err)
	}
	for _, in := range []string{`{"v":2}`, `{"v":1,"extra":1}`, `not json`} {
		if _, err := seal.ParseRecoveryKit([]byte(in)); err == nil {
			t.Errorf("ParseRecoveryKit(%s) succeeded", in)
		}
	}
}

func FuzzParseRecoveryKit(f *testing.F) {
	k := newKey(f, 9)
	good, err := seal.MarshalRecoveryKit(seal.RecoveryKit{Household: seal.NewID(), Root: k.pub(), ID: seal.KeyID(k.pub()), KEM: k.kem.String(), Sign: k.sign.Seed(), Created: time.Now().UTC()})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`{"v":1,"extra":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		kit, err := seal.ParseRecoveryKit(b)
		if err != nil {
			return
		}
		// Whatever parses round-trips to something that parses the same.
		again, err := seal.MarshalRecoveryKit(*kit)
		if err != nil {
			t.Fatalf("a parsed kit does not marshal: %v", err)
		}
		if k2, err := seal.ParseRecoveryKit(again); err != nil || k2.ID != kit.ID || k2.Household != kit.Household {
			t.Fatalf("round trip: %+v, %v", k2, err)
		}
	})
}
