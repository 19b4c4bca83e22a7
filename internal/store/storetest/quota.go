package storetest

import (
	"errors"
	"testing"

	"github.com/porchlight/porchlight/internal/store"
)

// testQuota: a household's quota starts at 0 (no limit) whatever
// CreateAccount is given, SetQuota changes it for that household only and
// refuses negatives and unknown households; HouseholdUsage sums the sizes
// of the household's own objects and follows deletions.
func testQuota(t *testing.T, s store.Store) {
	a := store.Account{ID: id("acct"), Email: id("e") + "@example.org", PasswordHash: "$argon2id$x", Created: t0}
	h := store.Household{ID: id("hh"), Owner: a.ID, Created: t0, QuotaBytes: 5000}
	must(t, s.CreateAccount(ctx(t), a, h), "create account with a quota")
	a2, h2 := household(t, s)

	quota := func(what string, want int64) {
		t.Helper()
		got, err := s.Household(ctx(t), h.ID)
		must(t, err, "household")
		if got.QuotaBytes != want {
			t.Errorf("%s: Household.QuotaBytes = %d, want %d", what, got.QuotaBytes, want)
		}
		got, err = s.HouseholdOf(ctx(t), a.ID)
		must(t, err, "household of")
		if got.QuotaBytes != want {
			t.Errorf("%s: HouseholdOf.QuotaBytes = %d, want %d", what, got.QuotaBytes, want)
		}
	}
	quota("new household (CreateAccount ignores QuotaBytes)", 0)

	const big = 5 << 40 // beyond 32 bits
	must(t, s.SetQuota(ctx(t), h.ID, big), "set quota")
	quota("after SetQuota", big)
	if got, err := s.HouseholdOf(ctx(t), a2.ID); err != nil || got.QuotaBytes != 0 {
		t.Errorf("other household after SetQuota: QuotaBytes %d, %v; want 0", got.QuotaBytes, err)
	}

	err := s.SetQuota(ctx(t), h.ID, -1)
	if err == nil || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetQuota(-1) = %v; want a plain error", err)
	}
	quota("after a refused negative quota", big)
	wantErr(t, s.SetQuota(ctx(t), "nosuchhousehold", 1), store.ErrNotFound, "quota of a missing household")
	must(t, s.SetQuota(ctx(t), h.ID, 0), "lift quota")
	quota("after lifting the quota", 0)

	usage := func(household string, want int64) {
		t.Helper()
		got, err := s.HouseholdUsage(ctx(t), household)
		must(t, err, "household usage")
		if got != want {
			t.Errorf("HouseholdUsage(%s) = %d, want %d", household, got, want)
		}
	}
	usage(h.ID, 0)
	usage("nosuchhousehold", 0)

	put := func(c store.Camera, e store.Epoch, size int64) store.Object {
		t.Helper()
		o := object(c, e, "segment", t0)
		o.Size = size
		_, err := s.PutObject(ctx(t), o, nil)
		must(t, err, "put object")
		return o
	}
	c1 := camera(t, s, hub(t, s, a, h))
	c2 := camera(t, s, hub(t, s, a, h))
	e1, e2 := epoch(t, s, c1), epoch(t, s, c2)
	o1 := put(c1, e1, 3<<30)
	o2 := put(c1, e1, 1000)
	o3 := put(c2, e2, 7)
	oc := camera(t, s, hub(t, s, a2, h2))
	put(oc, epoch(t, s, oc), 50)
	usage(h.ID, 3<<30+1000+7)
	usage(h2.ID, 50)

	// Putting an object again changes nothing, so counts nothing.
	existed, err := s.PutObject(ctx(t), o2, nil)
	if err != nil || !existed {
		t.Fatalf("PutObject again = %v, %v; want existed", existed, err)
	}
	usage(h.ID, 3<<30+1000+7)

	must(t, s.DeleteObjects(ctx(t), []string{o1.ID, o3.ID}), "delete objects")
	usage(h.ID, 1000)
	usage(h2.ID, 50)
	must(t, s.DeleteObjects(ctx(t), []string{o2.ID}), "delete the last object")
	usage(h.ID, 0)
}
