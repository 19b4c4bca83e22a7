package storetest

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/porchlight/porchlight/internal/store"
)

// This file holds the suite's support-grant and audit-index part. The
// grant states are api.Grant*, spelt out: the store does not import api.

const (
	grantPending  = "pending"
	grantApproved = "approved"
	grantDenied   = "denied"
	grantRevoked  = "revoked"
)

// grantReq files a pending grant request of support account sup against
// household h, created at created and lapsing at expires.
func grantReq(t *testing.T, s store.Store, h store.Household, sup store.Account, created, expires time.Time) store.Grant {
	t.Helper()
	g := store.Grant{ID: id("gr"), HouseholdID: h.ID, Requester: sup.ID, Org: sup.Org, Country: sup.Country,
		Camera: "Front door", From: at(-2 * time.Hour), To: at(-time.Hour), Video: true, Duration: 90 * time.Minute,
		Reason: "camera drops offline", Ticket: "T-" + id("t"), Recipient: "age1pq1request", State: grantPending,
		Created: created, Expires: expires}
	must(t, s.CreateGrant(ctx(t), g), "create grant")
	return g
}

// grantWraps returns a camera's wraps for grant g, by epoch id ("" for none).
func grantWraps(t *testing.T, s store.Store, cameraID, grantID string) map[string]string {
	t.Helper()
	es, err := s.Epochs(ctx(t), cameraID, store.GrantDevice(grantID))
	must(t, err, "epochs for the grant device")
	out := map[string]string{}
	for _, e := range es {
		out[e.ID] = string(e.Wrap)
	}
	return out
}

func wrapCount(t *testing.T, s store.Store, grantID string, want int, what string) {
	t.Helper()
	n, err := s.GrantWrapCount(ctx(t), grantID)
	must(t, err, "grant wrap count")
	if n != want {
		t.Errorf("%s: GrantWrapCount = %d, want %d", what, n, want)
	}
}

func grantIDs(gs []store.Grant) []string {
	out := []string{}
	for _, g := range gs {
		out = append(out, g.ID)
	}
	return out
}

// testGrants: requests round-trip and list newest first; approval is
// checked and atomic and stores wraps for GrantDevice(id); ending deletes
// them; shredding and camera deletion cover them; DueGrants picks approved
// grants past their end and pending requests past their lapse only.
func testGrants(t *testing.T, s store.Store) {
	owner, h := household(t, s)
	hb := hub(t, s, owner, h)
	c, c2 := camera(t, s, hb), camera(t, s, hb)
	mkEpoch := func(cam store.Camera, created time.Time) store.Epoch {
		t.Helper()
		e := store.Epoch{ID: id("ep"), CameraID: cam.ID, Announcement: []byte(id("ann")), Created: created}
		must(t, s.PutEpoch(ctx(t), e, []store.Wrap{{DeviceID: "owner-dev", Data: []byte("own-" + e.ID)}}), "put epoch")
		return e
	}
	e1, e2, other := mkEpoch(c, t0), mkEpoch(c, t0.Add(24*time.Hour)), mkEpoch(c2, t0)
	sup := staffOrg(t, s, store.RoleSupport, "Acme Support Ltd", "IE")
	sup2 := staffOrg(t, s, store.RoleSupport, "Beta Care GmbH", "DE")
	_, h2 := household(t, s)

	g1 := grantReq(t, s, h, sup, at(0), at(24*time.Hour))
	g2 := grantReq(t, s, h, sup, at(time.Minute), at(24*time.Hour+time.Minute))
	g3 := grantReq(t, s, h2, sup, at(2*time.Minute), at(24*time.Hour+2*time.Minute))
	g4 := grantReq(t, s, h, sup2, at(3*time.Minute), at(24*time.Hour+3*time.Minute))
	wantErr(t, s.CreateGrant(ctx(t), g1), store.ErrConflict, "create a grant id twice")

	got, err := s.Grant(ctx(t), g1.ID)
	must(t, err, "grant")
	if d := cmp.Diff(g1, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("Grant (-want +got):\n%s", d)
	}
	checkTime(t, "Grant.Created", got.Created, g1.Created)
	checkTime(t, "Grant.From", got.From, g1.From)
	_, err = s.Grant(ctx(t), id("gr"))
	wantErr(t, err, store.ErrNotFound, "missing grant")

	hg, err := s.HouseholdGrants(ctx(t), h.ID)
	must(t, err, "household grants")
	if d := cmp.Diff([]string{g4.ID, g2.ID, g1.ID}, grantIDs(hg)); d != "" {
		t.Errorf("HouseholdGrants, newest first (-want +got):\n%s", d)
	}
	if len(hg) == 3 {
		if d := cmp.Diff(g4, hg[0], cmpopts.EquateEmpty()); d != "" {
			t.Errorf("HouseholdGrants[0] (-want +got):\n%s", d)
		}
	}
	rg, err := s.RequesterGrants(ctx(t), sup.ID)
	must(t, err, "requester grants")
	if d := cmp.Diff([]string{g3.ID, g2.ID, g1.ID}, grantIDs(rg)); d != "" {
		t.Errorf("RequesterGrants, newest first (-want +got):\n%s", d)
	}
	for _, list := range []func() ([]store.Grant, error){
		func() ([]store.Grant, error) { return s.HouseholdGrants(ctx(t), id("hh")) },
		func() ([]store.Grant, error) { return s.RequesterGrants(ctx(t), owner.ID) },
	} {
		gs, err := list()
		must(t, err, "empty grant listing")
		if gs == nil || len(gs) != 0 {
			t.Errorf("grant listing with none = %#v, want an empty non-nil slice", gs)
		}
	}

	// Refused approvals change nothing.
	decided, ends := at(10*time.Minute), at(100*time.Minute)
	signed := []byte("owner-signed grant")
	for _, tc := range []struct {
		what  string
		wraps map[string][]byte
	}{
		{"an epoch of another camera", map[string][]byte{e1.ID: []byte("x1"), other.ID: []byte("x2")}},
		{"an unknown epoch", map[string][]byte{e1.ID: []byte("x1"), id("ep"): []byte("x2")}},
	} {
		wantErr(t, s.ApproveGrant(ctx(t), g1.ID, signed, c.ID, decided, ends, tc.wraps), store.ErrConflict, "approve with "+tc.what)
		if got, _ := s.Grant(ctx(t), g1.ID); got.State != grantPending || len(got.Signed) != 0 || got.CameraID != "" {
			t.Errorf("approval with %s changed the grant: state %q signed %q camera %q", tc.what, got.State, got.Signed, got.CameraID)
		}
		wrapCount(t, s, g1.ID, 0, "after approval with "+tc.what)
	}
	if w := grantWraps(t, s, c2.ID, g1.ID); w[other.ID] != "" {
		t.Errorf("refused approval stored a wrap of the other camera: %q", w[other.ID])
	}
	// An epoch of the same camera id but of another household's camera is
	// not releasable under this household's grant either.
	wantErr(t, s.ApproveGrant(ctx(t), g3.ID, signed, c.ID, decided, ends, map[string][]byte{e1.ID: []byte("x")}), store.ErrConflict,
		"approve another household's grant with this household's epoch")
	wrapCount(t, s, g3.ID, 0, "after a cross-household approval")
	wantErr(t, s.ApproveGrant(ctx(t), id("gr"), signed, c.ID, decided, ends, nil), store.ErrNotFound, "approve a missing grant")

	must(t, s.ApproveGrant(ctx(t), g1.ID, signed, c.ID, decided, ends, map[string][]byte{e1.ID: []byte("g1-e1"), e2.ID: []byte("g1-e2")}), "approve")
	want := g1
	want.State, want.Signed, want.CameraID, want.Decided, want.Expires = grantApproved, signed, c.ID, decided, ends
	got, err = s.Grant(ctx(t), g1.ID)
	must(t, err, "approved grant")
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("approved grant (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]string{e1.ID: "g1-e1", e2.ID: "g1-e2"}, grantWraps(t, s, c.ID, g1.ID)); d != "" {
		t.Errorf("Epochs(camera, GrantDevice) after approval (-want +got):\n%s", d)
	}
	wrapCount(t, s, g1.ID, 2, "approved")
	wantErr(t, s.ApproveGrant(ctx(t), g1.ID, []byte("again"), c.ID, decided, ends, map[string][]byte{e1.ID: []byte("again")}), store.ErrConflict, "approve twice")
	if d := cmp.Diff(map[string]string{e1.ID: "g1-e1", e2.ID: "g1-e2"}, grantWraps(t, s, c.ID, g1.ID)); d != "" {
		t.Errorf("wraps after a second approval (-want +got):\n%s", d)
	}

	// Ending: from a wrong state, absent, then a revoke.
	_, err = s.EndGrant(ctx(t), g1.ID, []string{grantPending}, grantDenied, at(20*time.Minute))
	wantErr(t, err, store.ErrConflict, "deny an approved grant")
	wrapCount(t, s, g1.ID, 2, "after a refused deny")
	_, err = s.EndGrant(ctx(t), id("gr"), []string{grantPending, grantApproved}, grantRevoked, at(0))
	wantErr(t, err, store.ErrNotFound, "end a missing grant")
	n, err := s.EndGrant(ctx(t), g1.ID, []string{grantPending, grantApproved}, grantRevoked, at(30*time.Minute))
	must(t, err, "revoke")
	if n != 2 {
		t.Errorf("revoke deleted %d wraps, want 2", n)
	}
	want.State = grantRevoked // Decided stays the approval's
	got, _ = s.Grant(ctx(t), g1.ID)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("revoked grant (-want +got):\n%s", d)
	}
	wrapCount(t, s, g1.ID, 0, "revoked")
	es, err := s.Epochs(ctx(t), c.ID, "owner-dev")
	must(t, err, "owner device's epochs")
	for _, e := range es {
		if string(e.Wrap) != "own-"+e.ID {
			t.Errorf("approving and revoking a grant changed the owner device's wrap of %s to %q", e.ID, e.Wrap)
		}
	}
	_, err = s.EndGrant(ctx(t), g1.ID, []string{grantApproved}, grantRevoked, at(31*time.Minute))
	wantErr(t, err, store.ErrConflict, "revoke twice")

	denyAt := at(40 * time.Minute)
	n, err = s.EndGrant(ctx(t), g2.ID, []string{grantPending}, grantDenied, denyAt)
	must(t, err, "deny")
	if n != 0 {
		t.Errorf("deny of a pending grant deleted %d wraps", n)
	}
	got, _ = s.Grant(ctx(t), g2.ID)
	if got.State != grantDenied {
		t.Errorf("denied grant state %q", got.State)
	}
	checkTime(t, "denied grant's Decided", got.Decided, denyAt)

	// Shredding an epoch and deleting the camera remove grant wraps too;
	// the grant's record stays.
	must(t, s.ApproveGrant(ctx(t), g4.ID, signed, c.ID, decided, ends, map[string][]byte{e1.ID: []byte("g4-e1"), e2.ID: []byte("g4-e2")}), "approve g4")
	n, err = s.ShredEpochs(ctx(t), []string{e1.ID})
	must(t, err, "shred")
	if n != 2 {
		t.Errorf("ShredEpochs deleted %d wraps, want 2 (the owner device's and the grant's)", n)
	}
	if d := cmp.Diff(map[string]string{e1.ID: "", e2.ID: "g4-e2"}, grantWraps(t, s, c.ID, g4.ID)); d != "" {
		t.Errorf("grant wraps after shredding e1 (-want +got):\n%s", d)
	}
	wrapCount(t, s, g4.ID, 1, "after shredding one epoch")
	must(t, s.DeleteCamera(ctx(t), c.ID), "delete camera")
	wrapCount(t, s, g4.ID, 0, "after deleting the camera")
	got, err = s.Grant(ctx(t), g4.ID)
	must(t, err, "grant of a deleted camera")
	if got.State != grantApproved || got.CameraID != c.ID {
		t.Errorf("grant of a deleted camera: state %q camera %q", got.State, got.CameraID)
	}
	n, err = s.EndGrant(ctx(t), g4.ID, []string{grantApproved}, grantRevoked, at(time.Hour))
	must(t, err, "revoke the grant of a deleted camera")
	if n != 0 {
		t.Errorf("revoke after camera deletion deleted %d wraps", n)
	}
}

// staffOrg creates a staff account of an organisation and country.
func staffOrg(t *testing.T, s store.Store, role, org, country string) store.Account {
	t.Helper()
	a := store.Account{ID: id("acct"), Email: id("staff") + "@example.org", PasswordHash: "$argon2id$s", Role: role,
		Org: org, Country: country, Created: t0}
	must(t, s.CreateAccount(ctx(t), a, store.Household{}), "create staff account")
	return a
}

// testDueGrants: approved grants with Expires <= t and pending requests
// with Expires <= t are due; later ones and ended ones are not.
func testDueGrants(t *testing.T, s store.Store) {
	owner, h := household(t, s)
	c := camera(t, s, hub(t, s, owner, h))
	sup := staffOrg(t, s, store.RoleSupport, "Acme", "IE")
	now := at(10 * time.Hour)
	approved := func(expires time.Time) store.Grant {
		t.Helper()
		g := grantReq(t, s, h, sup, at(0), at(24*time.Hour))
		must(t, s.ApproveGrant(ctx(t), g.ID, []byte("signed"), c.ID, at(time.Minute), expires, nil), "approve")
		return g
	}
	approvedPast := approved(now.Add(-time.Microsecond))
	approvedNow := approved(now)
	approved(now.Add(time.Microsecond))
	pendingPast := grantReq(t, s, h, sup, at(0), now.Add(-time.Hour))
	pendingNow := grantReq(t, s, h, sup, at(0), now)
	grantReq(t, s, h, sup, at(0), now.Add(time.Microsecond))
	denied := grantReq(t, s, h, sup, at(0), now.Add(-time.Hour))
	_, err := s.EndGrant(ctx(t), denied.ID, []string{grantPending}, grantDenied, at(time.Minute))
	must(t, err, "deny")
	revoked := approved(now.Add(-time.Hour))
	_, err = s.EndGrant(ctx(t), revoked.ID, []string{grantApproved}, grantRevoked, at(2*time.Minute))
	must(t, err, "revoke")

	due, err := s.DueGrants(ctx(t), now)
	must(t, err, "due grants")
	gotIDs := grantIDs(due)
	sort.Strings(gotIDs)
	wantIDs := []string{approvedPast.ID, approvedNow.ID, pendingPast.ID, pendingNow.ID}
	sort.Strings(wantIDs)
	if d := cmp.Diff(wantIDs, gotIDs); d != "" {
		t.Errorf("DueGrants (-want +got):\n%s", d)
	}
	for _, g := range due {
		if g.State != grantApproved && g.State != grantPending {
			t.Errorf("DueGrants listed a grant in state %q", g.State)
		}
	}
	none, err := s.DueGrants(ctx(t), at(-time.Hour))
	must(t, err, "due grants before any lapse")
	if none == nil || len(none) != 0 {
		t.Errorf("DueGrants before any lapse = %v, want an empty non-nil slice", grantIDs(none))
	}
}

// testGrantApproveRace: of concurrent approvals, or approvals and denials,
// of one request exactly one wins and the wraps are the winner's alone;
// of concurrent revokes exactly one deletes the wraps.
func testGrantApproveRace(t *testing.T, s store.Store) {
	owner, h := household(t, s)
	c := camera(t, s, hub(t, s, owner, h))
	e1, e2 := epoch(t, s, c), epoch(t, s, c)
	sup := staffOrg(t, s, store.RoleSupport, "Acme", "IE")
	const n = 8
	wrapsOf := func(i int) map[string][]byte {
		return map[string][]byte{e1.ID: fmt.Appendf(nil, "racer%d-e1", i), e2.ID: fmt.Appendf(nil, "racer%d-e2", i)}
	}

	g := grantReq(t, s, h, sup, at(0), at(time.Hour))
	oneWins(t, "approve", n, store.ErrConflict, func(i int) error {
		return s.ApproveGrant(ctx(t), g.ID, fmt.Appendf(nil, "signed%d", i), c.ID, at(time.Minute), at(2*time.Hour), wrapsOf(i))
	})
	got, err := s.Grant(ctx(t), g.ID)
	must(t, err, "raced grant")
	var winner int
	if _, err := fmt.Sscanf(string(got.Signed), "signed%d", &winner); err != nil || got.State != grantApproved {
		t.Fatalf("raced grant: state %q signed %q", got.State, got.Signed)
	}
	want := map[string]string{}
	for e, w := range wrapsOf(winner) {
		want[e] = string(w)
	}
	if d := cmp.Diff(want, grantWraps(t, s, c.ID, g.ID)); d != "" {
		t.Errorf("wraps after racing approvals are not the winner's (-want +got):\n%s", d)
	}

	g = grantReq(t, s, h, sup, at(0), at(time.Hour))
	oneWins(t, "approve or deny", n, store.ErrConflict, func(i int) error {
		if i%2 == 0 {
			return s.ApproveGrant(ctx(t), g.ID, []byte("signed"), c.ID, at(time.Minute), at(2*time.Hour), wrapsOf(i))
		}
		_, err := s.EndGrant(ctx(t), g.ID, []string{grantPending}, grantDenied, at(time.Minute))
		return err
	})
	got, err = s.Grant(ctx(t), g.ID)
	must(t, err, "raced grant")
	switch got.State {
	case grantApproved:
		wrapCount(t, s, g.ID, 2, "approval won the race")
	case grantDenied:
		wrapCount(t, s, g.ID, 0, "denial won the race")
	default:
		t.Errorf("after racing approve and deny the state is %q", got.State)
	}

	g = grantReq(t, s, h, sup, at(0), at(time.Hour))
	must(t, s.ApproveGrant(ctx(t), g.ID, []byte("signed"), c.ID, at(time.Minute), at(2*time.Hour), wrapsOf(0)), "approve")
	var deleted [n]int
	oneWins(t, "revoke", n, store.ErrConflict, func(i int) error {
		var err error
		deleted[i], err = s.EndGrant(ctx(t), g.ID, []string{grantApproved}, grantRevoked, at(time.Hour))
		return err
	})
	total := 0
	for _, k := range deleted {
		total += k
	}
	if total != 2 {
		t.Errorf("racing revokes deleted %d wraps in all, want 2", total)
	}
	wrapCount(t, s, g.ID, 0, "after racing revokes")
}

// testAuditRefs: adding an index again is a no-op; listings are per
// household, by index, from an index, at most limit.
func testAuditRefs(t *testing.T, s store.Store) {
	_, h := household(t, s)
	_, h2 := household(t, s)
	ref := func(hh store.Household, idx uint64) store.AuditRef {
		return store.AuditRef{HouseholdID: hh.ID, Index: idx, ID: id("ent"), Class: "grant", Time: at(time.Duration(idx) * time.Second)}
	}
	var mine []store.AuditRef
	for _, idx := range []uint64{5, 1, 10, 3} {
		r := ref(h, idx)
		must(t, s.AddAuditRef(ctx(t), r), "add audit ref")
		mine = append(mine, r)
	}
	for _, idx := range []uint64{2, 4} {
		must(t, s.AddAuditRef(ctx(t), ref(h2, idx)), "add another household's audit ref")
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].Index < mine[j].Index })
	// The same index again, even with other content: no error, no change.
	must(t, s.AddAuditRef(ctx(t), mine[1]), "add an audit ref again")
	must(t, s.AddAuditRef(ctx(t), ref(h2, 3)), "add an index taken by another household")

	got, err := s.AuditRefs(ctx(t), h.ID, 0, 100)
	must(t, err, "audit refs")
	if d := cmp.Diff(mine, got); d != "" {
		t.Errorf("AuditRefs (-want +got):\n%s", d)
	}
	for _, r := range got {
		checkTime(t, "AuditRef.Time", r.Time, r.Time)
	}
	for _, tc := range []struct {
		from  uint64
		limit int
		want  []uint64
	}{
		{0, 2, []uint64{1, 3}},
		{3, 2, []uint64{3, 5}},
		{4, 100, []uint64{5, 10}},
		{10, 1, []uint64{10}},
		{11, 100, []uint64{}},
	} {
		got, err := s.AuditRefs(ctx(t), h.ID, tc.from, tc.limit)
		must(t, err, "audit refs from")
		idx := []uint64{}
		for _, r := range got {
			idx = append(idx, r.Index)
		}
		if got == nil {
			t.Errorf("AuditRefs(from %d, limit %d) = nil, want a non-nil slice", tc.from, tc.limit)
		}
		if d := cmp.Diff(tc.want, idx); d != "" {
			t.Errorf("AuditRefs(from %d, limit %d) indices (-want +got):\n%s", tc.from, tc.limit, d)
		}
	}
	got, err = s.AuditRefs(ctx(t), h2.ID, 0, 100)
	must(t, err, "other household's audit refs")
	idx := []uint64{}
	for _, r := range got {
		idx = append(idx, r.Index)
	}
	if d := cmp.Diff([]uint64{2, 4}, idx); d != "" {
		t.Errorf("other household's AuditRefs (-want +got):\n%s", d)
	}
	got, err = s.AuditRefs(ctx(t), id("hh"), 0, 100)
	must(t, err, "audit refs of an unknown household")
	if got == nil || len(got) != 0 {
		t.Errorf("AuditRefs of an unknown household = %#v, want an empty non-nil slice", got)
	}
}

// testStaffOrg: Org and Country round-trip through every account read.
func testStaffOrg(t *testing.T, s store.Store) {
	sup := staffOrg(t, s, store.RoleSupport, "Acme Support Ltd", "IE")
	ann := staffOrg(t, s, store.RoleAnnotator, "Label Works", "PT")
	cust, _ := household(t, s)

	for _, a := range []store.Account{sup, ann} {
		got, err := s.Account(ctx(t), a.ID)
		must(t, err, "account")
		if d := cmp.Diff(a, got); d != "" {
			t.Errorf("Account (-want +got):\n%s", d)
		}
		got, err = s.AccountByEmail(ctx(t), a.Email)
		must(t, err, "account by e-mail")
		if d := cmp.Diff(a, got); d != "" {
			t.Errorf("AccountByEmail (-want +got):\n%s", d)
		}
	}
	list, err := s.StaffAccounts(ctx(t))
	must(t, err, "staff accounts")
	if d := cmp.Diff([]store.Account{sup, ann}, list); d != "" {
		t.Errorf("StaffAccounts (-want +got):\n%s", d)
	}
	got, err := s.Account(ctx(t), cust.ID)
	must(t, err, "customer account")
	if got.Org != "" || got.Country != "" {
		t.Errorf("customer account: Org %q Country %q, want none", got.Org, got.Country)
	}
}
