package hub

import (
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// TestDescriptorReaders: a camera's descriptor goes to the owner devices
// and to the members it is shared with while their access lasts; never to
// a member of another camera, an expired member or the recovery identity.
func TestDescriptorReaders(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	gen := func(name string) *keys.Pair {
		p, err := keys.Generate(name)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	owner, front, other, expired, rec := gen("owner"), gen("front member"), gen("garage member"), gen("old member"), gen("recovery")
	past := now.Add(-time.Hour)
	member := func(p *keys.Pair, cams []string, until *time.Time) seal.RosterEntry {
		e := entry(p, seal.KindDevice, seal.RoleMember)
		e.Cameras, e.NotAfter = cams, until
		return e
	}
	ro := &seal.Roster{Entries: []seal.RosterEntry{
		entry(owner, seal.KindDevice, seal.RoleOwner),
		member(front, []string{"cam-front"}, nil),
		member(other, []string{"cam-garage"}, nil),
		member(expired, []string{"cam-front"}, &past),
		entry(rec, seal.KindDevice, seal.RoleRecovery),
	}}
	var got []string
	for _, e := range descriptorReaders(ro, "cam-front", now) {
		got = append(got, e.ID)
	}
	want := []string{owner.ID, front.ID}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("readers of cam-front = %v, want %v (owner, front member)", got, want)
	}
}
