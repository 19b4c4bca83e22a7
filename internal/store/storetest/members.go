package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/porchlight/porchlight/internal/store"
)

func testMembershipsOf(t *testing.T, s store.Store) {
	member, _ := household(t, s)
	got, err := s.MembershipsOf(ctx(t), member.ID)
	must(t, err, "memberships of an account with none")
	if len(got) != 0 {
		t.Errorf("MembershipsOf without any = %v", got)
	}
	var want []store.Membership
	for i := range 2 {
		owner, h := household(t, s)
		c := camera(t, s, hub(t, s, owner, h))
		m := store.Membership{HouseholdID: h.ID, AccountID: member.ID, Cameras: []string{c.ID}, Created: at(time.Duration(i) * time.Hour)}
		if i == 0 {
			m.Expires = at(24 * time.Hour)
		}
		must(t, s.PutMembership(ctx(t), m), "put membership")
		want = append(want, m)
		// Another account's membership of the same household is not listed.
		other, _ := household(t, s)
		must(t, s.PutMembership(ctx(t), store.Membership{HouseholdID: h.ID, AccountID: other.ID, Created: at(0)}), "other membership")
	}
	got, err = s.MembershipsOf(ctx(t), member.ID)
	must(t, err, "memberships of account")
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty(), cmpopts.EquateApproxTime(time.Microsecond)); diff != "" {
		t.Errorf("MembershipsOf (-want +got):\n%s", diff)
	}
	must(t, s.DeleteMembership(ctx(t), want[0].HouseholdID, member.ID), "delete membership")
	got, err = s.MembershipsOf(ctx(t), member.ID)
	must(t, err, "memberships after delete")
	if len(got) != 1 || got[0].HouseholdID != want[1].HouseholdID {
		t.Errorf("MembershipsOf after delete = %v", got)
	}
}

func testHouseholdMemberships(t *testing.T, s store.Store) {
	owner, h := household(t, s)
	c := camera(t, s, hub(t, s, owner, h))
	got, err := s.HouseholdMemberships(ctx(t), h.ID)
	must(t, err, "memberships of a household with none")
	if len(got) != 0 {
		t.Errorf("HouseholdMemberships without any = %v", got)
	}
	var want []store.Membership
	for i := range 2 {
		member, _ := household(t, s)
		m := store.Membership{HouseholdID: h.ID, AccountID: member.ID, Cameras: []string{c.ID}, Created: at(time.Duration(i) * time.Hour)}
		if i == 1 {
			m.Expires = at(24 * time.Hour)
		}
		must(t, s.PutMembership(ctx(t), m), "put membership")
		want = append(want, m)
		// The member's membership of another household is not listed.
		o2, h2 := household(t, s)
		camera(t, s, hub(t, s, o2, h2))
		must(t, s.PutMembership(ctx(t), store.Membership{HouseholdID: h2.ID, AccountID: member.ID, Created: at(0)}), "other household")
	}
	got, err = s.HouseholdMemberships(ctx(t), h.ID)
	must(t, err, "memberships of household")
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty(), cmpopts.EquateApproxTime(time.Microsecond)); diff != "" {
		t.Errorf("HouseholdMemberships (-want +got):\n%s", diff)
	}
	must(t, s.DeleteMembership(ctx(t), h.ID, want[0].AccountID), "delete membership")
	got, err = s.HouseholdMemberships(ctx(t), h.ID)
	must(t, err, "memberships after delete")
	if len(got) != 1 || got[0].AccountID != want[1].AccountID {
		t.Errorf("HouseholdMemberships after delete = %v", got)
	}
}
