// Package storetest is the conformance suite every store.Store backend
// passes: each backend's test is one call, storetest.Run(t, newStore). It
// pins the behaviour handlers rely on (sentinel errors, atomic state moves,
// idempotent puts, retention selection), not any backend's SQL.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/porchlight/porchlight/internal/store"
)

// Run runs the suite. newStore returns a fresh, empty store for each
// subtest; Run closes it.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Accounts", testAccounts},
		{"Sessions", testSessions},
		{"Roster", testRoster},
		{"RosterRace", testRosterRace},
		{"Claims", testClaims},
		{"Cameras", testCameras},
		{"Epochs", testEpochs},
		{"Objects", testObjects},
		{"Manifests", testManifests},
		{"ObjectsOfKind", testObjectsOfKind},
		{"Retention", testRetention},
		{"ConcurrentWrites", testConcurrentWrites},
		{"Roles", testRoles},
		{"StaffListEmpty", testStaffListEmpty},
		{"SetEmail", testSetEmail},
		{"SessionFields", testSessionFields},
		{"SessionList", testSessionList},
		{"RotateSession", testRotateSession},
		{"DeleteAccountSession", testDeleteAccountSession},
		{"DeleteSessions", testDeleteSessions},
		{"ChangePassword", testChangePassword},
		{"Disable", testDisable},
		{"TOTP", testTOTP},
		{"TOTPReplayRace", testTOTPReplayRace},
		{"RecoveryCodes", testRecoveryCodes},
		{"RecoveryCodeRace", testRecoveryCodeRace},
		{"Passkeys", testPasskeys},
		{"Ceremonies", testCeremonies},
		{"CeremonyRace", testCeremonyRace},
		{"Throttles", testThrottles},
		{"ThrottleRace", testThrottleRace},
		{"KnownDevices", testKnownDevices},
		{"Notifications", testNotifications},
		{"NotificationRace", testNotificationRace},
		{"Memberships", testMemberships},
		{"MembershipsOf", testMembershipsOf},
		{"HouseholdMemberships", testHouseholdMemberships},
		{"RecoveryKits", testRecoveryKits},
		{"RemoveDevice", testRemoveDevice},
		{"DeleteRange", testDeleteRange},
		{"Shred", testShred},
		{"Stats", testStats},
		{"Grants", testGrants},
		{"DueGrants", testDueGrants},
		{"GrantApproveRace", testGrantApproveRace},
		{"AuditRefs", testAuditRefs},
		{"StaffOrg", testStaffOrg},
		{"Quota", testQuota},
		{"CameraSettings", testCameraSettings},
		{"PushSubscriptions", testPushSubscriptions},
		{"Feed", testFeed},
		{"Redactions", testRedactions},
		{"Campaigns", testCampaigns}, {"ScanWraps", testScanWraps},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

var (
	idSeq atomic.Uint64
	t0    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// id returns a fresh id shaped like seal.NewID (lowercase base32).
func id(prefix string) string {
	n := idSeq.Add(1)
	s := fmt.Sprintf("%s%020d", prefix, n)
	out := []byte(s)
	for i, c := range out {
		if c >= '0' && c <= '9' {
			out[i] = "abcdefghij"[c-'0']
		}
	}
	return string(out)
}

func ctx(t *testing.T) context.Context { return t.Context() }

func wantErr(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// household creates an account with its household.
func household(t *testing.T, s store.Store) (store.Account, store.Household) {
	t.Helper()
	a := store.Account{ID: id("acct"), Email: id("e") + "@example.org", PasswordHash: "$argon2id$x", Created: t0}
	h := store.Household{ID: id("hh"), Owner: a.ID, Created: t0}
	must(t, s.CreateAccount(ctx(t), a, h), "create account")
	return a, h
}

// hub creates a claimed hub in household h through the claim flow.
func hub(t *testing.T, s store.Store, a store.Account, h store.Household) store.Hub {
	t.Helper()
	hb := store.Hub{ID: id("hub"), HouseholdID: h.ID, Name: "hub", Sign: []byte("0123456789abcdef0123456789abcdef"), KEM: "age1pq1x", Created: t0, LastSeen: t0}
	code := id("code")
	must(t, s.CreateClaim(ctx(t), store.Claim{CodeHash: code, HouseholdID: h.ID, CreatedBy: a.ID, Created: t0, Expires: t0.Add(15 * time.Minute), State: "waiting"}), "create claim")
	must(t, s.PresentClaim(ctx(t), code, hb, "secret"), "present")
	must(t, s.ConfirmClaim(ctx(t), code, hb), "confirm")
	tok := id("tok")
	must(t, s.IssueHubToken(ctx(t), code, tok), "issue token")
	hb.TokenHash = tok
	return hb
}

func camera(t *testing.T, s store.Store, hb store.Hub) store.Camera {
	t.Helper()
	c := store.Camera{ID: id("cam"), HubID: hb.ID, HouseholdID: hb.HouseholdID, Descriptor: []byte("age-descriptor"), Created: t0}
	must(t, s.PutCamera(ctx(t), c), "put camera")
	return c
}

func epoch(t *testing.T, s store.Store, c store.Camera) store.Epoch {
	t.Helper()
	e := store.Epoch{ID: id("ep"), CameraID: c.ID, Announcement: []byte("ann-" + c.ID), Created: t0}
	must(t, s.PutEpoch(ctx(t), e, nil), "put epoch")
	return e
}

func object(c store.Camera, e store.Epoch, kind string, at time.Time) store.Object {
	return store.Object{ID: id("obj"), HouseholdID: c.HouseholdID, CameraID: c.ID, EpochID: e.ID, Kind: kind,
		CoarseTime: at.Truncate(time.Minute), Size: 123, SHA256: fmt.Sprintf("%064x", idSeq.Add(1)), Created: at}
}

func testAccounts(t *testing.T, s store.Store) {
	must(t, s.Ping(ctx(t)), "ping")
	a, h := household(t, s)

	got, err := s.Account(ctx(t), a.ID)
	must(t, err, "account")
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("Account (-want +got):\n%s", diff)
	}
	got, err = s.AccountByEmail(ctx(t), a.Email)
	must(t, err, "by email")
	if got.ID != a.ID {
		t.Errorf("AccountByEmail = %q, want %q", got.ID, a.ID)
	}
	// Case-insensitive lookup and uniqueness.
	upper := []byte(a.Email)
	for i, c := range upper {
		if c >= 'a' && c <= 'z' {
			upper[i] = c - 'a' + 'A'
		}
	}
	got, err = s.AccountByEmail(ctx(t), string(upper))
	must(t, err, "by upper-case email")
	if got.ID != a.ID {
		t.Errorf("AccountByEmail(upper) = %q", got.ID)
	}
	dup := store.Account{ID: id("acct"), Email: string(upper), PasswordHash: "x", Created: t0}
	wantErr(t, s.CreateAccount(ctx(t), dup, store.Household{ID: id("hh"), Owner: dup.ID, Created: t0}), store.ErrConflict, "duplicate e-mail")
	// The failed create left no account behind.
	_, err = s.Account(ctx(t), dup.ID)
	wantErr(t, err, store.ErrNotFound, "account after failed create")

	_, err = s.Account(ctx(t), id("acct"))
	wantErr(t, err, store.ErrNotFound, "missing account")
	_, err = s.AccountByEmail(ctx(t), "nobody@example.org")
	wantErr(t, err, store.ErrNotFound, "missing e-mail")

	gh, err := s.HouseholdOf(ctx(t), a.ID)
	must(t, err, "household")
	if diff := cmp.Diff(h, gh); diff != "" {
		t.Errorf("HouseholdOf (-want +got):\n%s", diff)
	}
	must(t, s.SetPasswordHash(ctx(t), a.ID, "$argon2id$new"), "set hash")
	got, _ = s.Account(ctx(t), a.ID)
	if got.PasswordHash != "$argon2id$new" {
		t.Errorf("password hash not updated: %q", got.PasswordHash)
	}
	wantErr(t, s.SetPasswordHash(ctx(t), id("acct"), "x"), store.ErrNotFound, "set hash of missing account")
}

func testSessions(t *testing.T, s store.Store) {
	a, h := household(t, s)
	se := store.Session{ID: id("ses"), TokenHash: id("th"), AccountID: a.ID, DeviceName: "laptop",
		Created: t0, LastUsed: t0, Expires: t0.Add(30 * 24 * time.Hour)}
	must(t, s.CreateSession(ctx(t), se), "create session")
	wantErr(t, s.CreateSession(ctx(t), store.Session{ID: id("ses"), TokenHash: se.TokenHash, AccountID: a.ID, Created: t0, LastUsed: t0, Expires: t0}), store.ErrConflict, "duplicate token hash")

	got, err := s.SessionByTokenHash(ctx(t), se.TokenHash)
	must(t, err, "session by token")
	want := se
	want.HouseholdID = h.ID
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SessionByTokenHash (-want +got):\n%s", diff)
	}
	later := t0.Add(time.Hour + 1234*time.Microsecond)
	must(t, s.TouchSession(ctx(t), se.ID, later), "touch")
	must(t, s.TouchSession(ctx(t), se.ID, t0), "touch with an older time")
	got, _ = s.SessionByTokenHash(ctx(t), se.TokenHash)
	if !got.LastUsed.Equal(later) {
		t.Errorf("LastUsed = %v, want %v (never moves back)", got.LastUsed, later)
	}

	must(t, s.DeleteSession(ctx(t), se.ID), "delete")
	_, err = s.SessionByTokenHash(ctx(t), se.TokenHash)
	wantErr(t, err, store.ErrNotFound, "deleted session")
	wantErr(t, s.DeleteSession(ctx(t), se.ID), store.ErrNotFound, "delete twice")
	wantErr(t, s.TouchSession(ctx(t), se.ID, later), store.ErrNotFound, "touch deleted")

	// Expiry sweep: absolute and idle.
	old := store.Session{ID: id("ses"), TokenHash: id("th"), AccountID: a.ID, Created: t0, LastUsed: t0, Expires: t0.Add(time.Hour)}
	idle := store.Session{ID: id("ses"), TokenHash: id("th"), AccountID: a.ID, Created: t0, LastUsed: t0, Expires: t0.Add(100 * time.Hour)}
	fresh := store.Session{ID: id("ses"), TokenHash: id("th"), AccountID: a.ID, Created: t0, LastUsed: t0.Add(10 * time.Hour), Expires: t0.Add(100 * time.Hour)}
	for _, x := range []store.Session{old, idle, fresh} {
		must(t, s.CreateSession(ctx(t), x), "create")
	}
	n, err := s.DeleteSessionsBefore(ctx(t), t0.Add(2*time.Hour), t0.Add(5*time.Hour))
	must(t, err, "sweep")
	if n != 2 {
		t.Errorf("swept %d sessions, want 2", n)
	}
	if _, err := s.SessionByTokenHash(ctx(t), fresh.TokenHash); err != nil {
		t.Errorf("fresh session swept: %v", err)
	}
}

func testRoster(t *testing.T, s store.Store) {
	_, h := household(t, s)
	vs, err := s.RosterVersions(ctx(t), h.ID)
	must(t, err, "empty roster")
	if vs == nil || len(vs) != 0 {
		t.Fatalf("RosterVersions of a new household = %#v, want an empty non-nil slice", vs)
	}
	wantErr(t, s.AppendRoster(ctx(t), store.RosterVersion{HouseholdID: h.ID, Version: 2, Signed: []byte("x"), Hash: "h", Created: t0}), store.ErrConflict, "version 2 first")
	var want []store.RosterVersion
	for v := uint64(1); v <= 3; v++ {
		rv := store.RosterVersion{HouseholdID: h.ID, Version: v, Signed: []byte(fmt.Sprintf("signed-%d", v)), Hash: fmt.Sprintf("hash-%d", v), Created: t0.Add(time.Duration(v) * time.Second)}
		must(t, s.AppendRoster(ctx(t), rv), "append")
		want = append(want, rv)
	}
	wantErr(t, s.AppendRoster(ctx(t), store.RosterVersion{HouseholdID: h.ID, Version: 3, Signed: []byte("y"), Hash: "h", Created: t0}), store.ErrConflict, "repeat version")
	wantErr(t, s.AppendRoster(ctx(t), store.RosterVersion{HouseholdID: h.ID, Version: 5, Signed: []byte("y"), Hash: "h", Created: t0}), store.ErrConflict, "skipped version")
	vs, err = s.RosterVersions(ctx(t), h.ID)
	must(t, err, "roster")
	if diff := cmp.Diff(want, vs); diff != "" {
		t.Errorf("RosterVersions (-want +got):\n%s", diff)
	}
	// Another household's chain is separate.
	_, h2 := household(t, s)
	must(t, s.AppendRoster(ctx(t), store.RosterVersion{HouseholdID: h2.ID, Version: 1, Signed: []byte("z"), Hash: "z", Created: t0}), "other household v1")
}

func testRosterRace(t *testing.T, s store.Store) {
	_, h := household(t, s)
	const n = 8
	oneWins(t, "append", n, store.ErrConflict, func(i int) error {
		return s.AppendRoster(ctx(t), store.RosterVersion{HouseholdID: h.ID, Version: 1, Signed: []byte{byte(i)}, Hash: "h", Created: t0})
	})
}

func testClaims(t *testing.T, s store.Store) {
	a, h := household(t, s)
	code := id("code")
	c := store.Claim{CodeHash: code, HouseholdID: h.ID, CreatedBy: a.ID, Created: t0, Expires: t0.Add(15 * time.Minute), State: "waiting"}
	must(t, s.CreateClaim(ctx(t), c), "create claim")
	wantErr(t, s.CreateClaim(ctx(t), c), store.ErrConflict, "duplicate claim")
	got, err := s.Claim(ctx(t), code)
	must(t, err, "claim")
	if diff := cmp.Diff(c, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Claim (-want +got):\n%s", diff)
	}
	_, err = s.Claim(ctx(t), id("code"))
	wantErr(t, err, store.ErrNotFound, "missing claim")

	hb := store.Hub{ID: id("hub"), HouseholdID: h.ID, Name: "garage", Sign: []byte("signing-key-bytes-32-bytes-long!"), KEM: "age1pq1kem", Created: t0.Add(time.Minute), LastSeen: t0.Add(time.Minute)}
	wantErr(t, s.ConfirmClaim(ctx(t), code, hb), store.ErrConflict, "confirm before present")
	must(t, s.PresentClaim(ctx(t), code, hb, "secrethash"), "present")
	wantErr(t, s.PresentClaim(ctx(t), code, hb, "other"), store.ErrConflict, "present twice")
	got, _ = s.Claim(ctx(t), code)
	want := c
	want.State, want.HubID, want.HubName, want.HubSign, want.HubKEM, want.SecretHash = "presented", hb.ID, hb.Name, hb.Sign, hb.KEM, "secrethash"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("presented claim (-want +got):\n%s", diff)
	}
	wantErr(t, s.IssueHubToken(ctx(t), code, "tok"), store.ErrConflict, "token before confirm")
	other := hb
	other.ID = id("hub")
	wantErr(t, s.ConfirmClaim(ctx(t), code, other), store.ErrConflict, "confirm another hub id")
	_, err = s.Hub(ctx(t), hb.ID)
	wantErr(t, err, store.ErrNotFound, "hub before confirm")

	must(t, s.ConfirmClaim(ctx(t), code, hb), "confirm")
	wantErr(t, s.ConfirmClaim(ctx(t), code, hb), store.ErrConflict, "confirm twice")
	gh, err := s.Hub(ctx(t), hb.ID)
	must(t, err, "hub")
	if diff := cmp.Diff(hb, gh, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Hub (-want +got):\n%s", diff)
	}
	_, err = s.HubByTokenHash(ctx(t), "")
	wantErr(t, err, store.ErrNotFound, "hub by empty token")

	tok := id("tok")
	must(t, s.IssueHubToken(ctx(t), code, tok), "issue")
	wantErr(t, s.IssueHubToken(ctx(t), code, id("tok")), store.ErrConflict, "issue twice")
	gh, err = s.HubByTokenHash(ctx(t), tok)
	must(t, err, "hub by token")
	if gh.ID != hb.ID {
		t.Errorf("HubByTokenHash = %q", gh.ID)
	}
	got, _ = s.Claim(ctx(t), code)
	if got.State != "confirmed" || !got.TokenIssued {
		t.Errorf("claim after issue: state %q issued %v", got.State, got.TokenIssued)
	}
	seen := t0.Add(2 * time.Hour)
	must(t, s.TouchHub(ctx(t), hb.ID, seen), "touch hub")
	gh, _ = s.Hub(ctx(t), hb.ID)
	if !gh.LastSeen.Equal(seen) {
		t.Errorf("LastSeen = %v", gh.LastSeen)
	}

	// The same hub key cannot be claimed into a second household.
	a2, h2 := household(t, s)
	code2 := id("code")
	must(t, s.CreateClaim(ctx(t), store.Claim{CodeHash: code2, HouseholdID: h2.ID, CreatedBy: a2.ID, Created: t0, Expires: t0.Add(time.Minute), State: "waiting"}), "claim 2")
	hb2 := hb
	hb2.HouseholdID = h2.ID
	must(t, s.PresentClaim(ctx(t), code2, hb2, "s"), "present 2")
	wantErr(t, s.ConfirmClaim(ctx(t), code2, hb2), store.ErrConflict, "confirm an existing hub id")
	if got, _ := s.Claim(ctx(t), code2); got.State != "presented" {
		t.Errorf("failed confirm changed the state to %q", got.State)
	}

	n, err := s.DeleteClaimsBefore(ctx(t), t0.Add(5*time.Minute))
	must(t, err, "sweep claims")
	if n != 1 {
		t.Errorf("swept %d claims, want 1", n)
	}
}

func testCameras(t *testing.T, s store.Store) {
	a, h := household(t, s)
	hb := hub(t, s, a, h)
	c := camera(t, s, hb)
	got, err := s.Camera(ctx(t), c.ID)
	must(t, err, "camera")
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("Camera (-want +got):\n%s", diff)
	}
	must(t, s.SetRetention(ctx(t), c.ID, 7), "retention")
	upd := c
	upd.Descriptor = []byte("new descriptor")
	upd.Created = t0.Add(time.Hour) // ignored on update
	must(t, s.PutCamera(ctx(t), upd), "update descriptor")
	got, _ = s.Camera(ctx(t), c.ID)
	want := c
	want.Descriptor, want.RetentionDays = upd.Descriptor, 7
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("updated camera (-want +got):\n%s", diff)
	}
	wantErr(t, s.SetRetention(ctx(t), id("cam"), 1), store.ErrNotFound, "retention of missing camera")

	// Another hub may not take over the id.
	a2, h2 := household(t, s)
	hb2 := hub(t, s, a2, h2)
	steal := c
	steal.HubID, steal.HouseholdID = hb2.ID, h2.ID
	wantErr(t, s.PutCamera(ctx(t), steal), store.ErrConflict, "camera of another hub")

	c2 := camera(t, s, hb)
	cams, err := s.Cameras(ctx(t), h.ID)
	must(t, err, "cameras")
	if len(cams) != 2 || cams[0].ID != c.ID || cams[1].ID != c2.ID {
		t.Errorf("Cameras = %v", cams)
	}
	cams, err = s.Cameras(ctx(t), h2.ID)
	must(t, err, "cameras of h2")
	if cams == nil || len(cams) != 0 {
		t.Errorf("Cameras of another household = %#v, want empty", cams)
	}
	ret, err := s.CamerasWithRetention(ctx(t))
	must(t, err, "with retention")
	if len(ret) != 1 || ret[0].ID != c.ID {
		t.Errorf("CamerasWithRetention = %v", ret)
	}
	_, err = s.Camera(ctx(t), id("cam"))
	wantErr(t, err, store.ErrNotFound, "missing camera")
}

func testEpochs(t *testing.T, s store.Store) {
	a, h := household(t, s)
	c := camera(t, s, hub(t, s, a, h))
	e := store.Epoch{ID: id("ep"), CameraID: c.ID, Announcement: []byte("announcement"), Created: t0}
	must(t, s.PutEpoch(ctx(t), e, []store.Wrap{{DeviceID: "dev1", Data: []byte("w1")}, {DeviceID: "dev2", Data: []byte("w2")}}), "put epoch")
	// Idempotent, adds and replaces wraps.
	must(t, s.PutEpoch(ctx(t), e, []store.Wrap{{DeviceID: "dev2", Data: []byte("w2b")}, {DeviceID: "dev3", Data: []byte("w3")}}), "put again")
	bad := e
	bad.Announcement = []byte("other")
	wantErr(t, s.PutEpoch(ctx(t), bad, nil), store.ErrConflict, "other announcement")
	c2 := camera(t, s, hub(t, s, a, h))
	bad = e
	bad.CameraID = c2.ID
	wantErr(t, s.PutEpoch(ctx(t), bad, nil), store.ErrConflict, "other camera")
	e2 := store.Epoch{ID: id("ep"), CameraID: c.ID, Announcement: []byte("announcement 2"), Created: t0.Add(24 * time.Hour)}
	must(t, s.PutEpoch(ctx(t), e2, []store.Wrap{{DeviceID: "dev1", Data: []byte("e2w1")}}), "put epoch 2")

	got, err := s.Epoch(ctx(t), e.ID)
	must(t, err, "epoch")
	if diff := cmp.Diff(e, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Epoch (-want +got):\n%s", diff)
	}
	_, err = s.Epoch(ctx(t), id("ep"))
	wantErr(t, err, store.ErrNotFound, "missing epoch")

	for _, tc := range []struct {
		device string
		wraps  []string
	}{
		{"dev1", []string{"w1", "e2w1"}},
		{"dev2", []string{"w2b", ""}},
		{"dev3", []string{"w3", ""}},
		{"nobody", []string{"", ""}},
	} {
		es, err := s.Epochs(ctx(t), c.ID, tc.device)
		must(t, err, "epochs")
		var wraps []string
		for _, x := range es {
			wraps = append(wraps, string(x.Wrap))
		}
		if len(es) != 2 || es[0].ID != e.ID || es[1].ID != e2.ID {
			t.Errorf("Epochs(%s) = %v", tc.device, es)
		} else if diff := cmp.Diff(tc.wraps, wraps); diff != "" {
			t.Errorf("wraps for %s (-want +got):\n%s", tc.device, diff)
		}
	}
	es, err := s.Epochs(ctx(t), c2.ID, "dev1")
	must(t, err, "epochs of c2")
	if es == nil || len(es) != 0 {
		t.Errorf("Epochs of a camera without any = %#v", es)
	}
}

func testObjects(t *testing.T, s store.Store) {
	a, h := household(t, s)
	hb := hub(t, s, a, h)
	c := camera(t, s, hb)
	e := epoch(t, s, c)
	seg := object(c, e, "segment", t0.Add(30*time.Second))
	existed, err := s.PutObject(ctx(t), seg, nil)
	must(t, err, "put segment")
	if existed {
		t.Error("first put: existed")
	}
	got, err := s.Object(ctx(t), seg.ID)
	must(t, err, "object")
	if diff := cmp.Diff(seg, got); diff != "" {
		t.Errorf("Object (-want +got):\n%s", diff)
	}
	cam, _ := s.Camera(ctx(t), c.ID)
	if !cam.LastUpload.Equal(seg.Created) {
		t.Errorf("LastUpload = %v, want %v", cam.LastUpload, seg.Created)
	}
	existed, err = s.PutObject(ctx(t), seg, nil)
	must(t, err, "retry")
	if !existed {
		t.Error("retry: not existed")
	}
	diff := seg
	diff.SHA256 = fmt.Sprintf("%064x", 1)
	_, err = s.PutObject(ctx(t), diff, nil)
	wantErr(t, err, store.ErrConflict, "same id, other hash")

	// Manifest refs must exist, for this camera.
	c2 := camera(t, s, hb)
	e2 := epoch(t, s, c2)
	other := object(c2, e2, "segment", t0)
	_, err = s.PutObject(ctx(t), other, nil)
	must(t, err, "segment of c2")
	man := object(c, e, "manifest", t0)
	_, err = s.PutObject(ctx(t), man, []string{seg.ID, id("obj")})
	wantErr(t, err, store.ErrMissingRefs, "missing ref")
	_, err = s.PutObject(ctx(t), man, []string{seg.ID, other.ID})
	wantErr(t, err, store.ErrMissingRefs, "ref of another camera")
	_, err = s.Object(ctx(t), man.ID)
	wantErr(t, err, store.ErrNotFound, "manifest after refused put")
	existed, err = s.PutObject(ctx(t), man, []string{seg.ID})
	must(t, err, "manifest")
	if existed {
		t.Error("manifest: existed")
	}
	_, err = s.Object(ctx(t), id("obj"))
	wantErr(t, err, store.ErrNotFound, "missing object")

	must(t, s.DeleteObjects(ctx(t), []string{seg.ID, id("obj")}), "delete")
	_, err = s.Object(ctx(t), seg.ID)
	wantErr(t, err, store.ErrNotFound, "deleted object")
	must(t, s.DeleteObjects(ctx(t), nil), "delete nothing")
}

func testManifests(t *testing.T, s store.Store) {
	a, h := household(t, s)
	c := camera(t, s, hub(t, s, a, h))
	e := epoch(t, s, c)
	var want []string
	for i := range 5 {
		seg := object(c, e, "segment", t0.Add(time.Duration(i)*time.Minute))
		_, err := s.PutObject(ctx(t), seg, nil)
		must(t, err, "segment")
		m := object(c, e, "manifest", t0.Add(time.Duration(i)*time.Minute))
		_, err = s.PutObject(ctx(t), m, []string{seg.ID})
		must(t, err, "manifest")
		if i >= 1 && i <= 3 {
			want = append(want, m.ID)
		}
	}
	ms, err := s.Manifests(ctx(t), c.ID, t0.Add(time.Minute), t0.Add(3*time.Minute), 100)
	must(t, err, "manifests")
	var got []string
	for _, m := range ms {
		if m.Kind != "manifest" {
			t.Errorf("listed a %s", m.Kind)
		}
		got = append(got, m.ID)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Manifests in [1m, 3m] (-want +got):\n%s", d)
	}
	ms, err = s.Manifests(ctx(t), c.ID, t0, t0.Add(time.Hour), 2)
	must(t, err, "limited")
	if len(ms) != 2 {
		t.Errorf("limit 2 gave %d", len(ms))
	}
	ms, err = s.Manifests(ctx(t), c.ID, t0.Add(time.Hour), t0.Add(2*time.Hour), 10)
	must(t, err, "empty range")
	if ms == nil || len(ms) != 0 {
		t.Errorf("empty range = %#v", ms)
	}
}

func testObjectsOfKind(t *testing.T, s store.Store) {
	a, h := household(t, s)
	hb := hub(t, s, a, h)
	c := camera(t, s, hb)
	e := epoch(t, s, c)
	put := func(o store.Object) store.Object {
		t.Helper()
		_, err := s.PutObject(ctx(t), o, nil)
		must(t, err, "put "+o.Kind)
		return o
	}
	var at1, at2 []string // events at minute 1 and 2
	for i := range 4 {
		at := t0.Add(time.Duration(i) * time.Minute)
		ev := put(object(c, e, "event", at))
		put(object(c, e, "thumb", at))
		put(object(c, e, "segment", at))
		switch i {
		case 1:
			at1 = append(at1, ev.ID)
		case 2:
			at2 = append(at2, ev.ID)
		}
	}
	// Events of one minute come in id order.
	for range 2 {
		at2 = append(at2, put(object(c, e, "event", t0.Add(2*time.Minute+10*time.Second))).ID)
	}
	slices.Sort(at2)
	want := append(at1, at2...)
	// Another camera's events are not listed.
	c2 := camera(t, s, hb)
	put(object(c2, epoch(t, s, c2), "event", t0.Add(time.Minute)))

	got, err := s.Objects(ctx(t), c.ID, "event", t0.Add(time.Minute), t0.Add(2*time.Minute), 100)
	must(t, err, "events")
	var ids []string
	for _, o := range got {
		if o.Kind != "event" || o.CameraID != c.ID {
			t.Errorf("listed a %s of camera %s", o.Kind, o.CameraID)
		}
		ids = append(ids, o.ID)
	}
	if d := cmp.Diff(want, ids); d != "" {
		t.Errorf("events in [1m, 2m] (-want +got):\n%s", d)
	}
	thumbs, err := s.Objects(ctx(t), c.ID, "thumb", t0, t0.Add(time.Hour), 100)
	must(t, err, "thumbs")
	if len(thumbs) != 4 {
		t.Errorf("thumbs in the hour: %d, want 4", len(thumbs))
	}
	got, err = s.Objects(ctx(t), c.ID, "event", t0, t0.Add(time.Hour), 2)
	must(t, err, "limited")
	if len(got) != 2 || got[0].CoarseTime.After(got[1].CoarseTime) {
		t.Errorf("limit 2 gave %d objects, want the 2 earliest", len(got))
	}
	got, err = s.Objects(ctx(t), c.ID, "event", t0.Add(time.Hour), t0.Add(2*time.Hour), 10)
	must(t, err, "empty range")
	if got == nil || len(got) != 0 {
		t.Errorf("empty range = %#v", got)
	}
}

func testRetention(t *testing.T, s store.Store) {
	a, h := household(t, s)
	c := camera(t, s, hub(t, s, a, h))
	e := epoch(t, s, c)
	put := func(o store.Object, refs ...string) store.Object {
		t.Helper()
		_, err := s.PutObject(ctx(t), o, refs)
		must(t, err, "put")
		return o
	}
	cutoff := t0.Add(time.Hour)
	oldSeg1 := put(object(c, e, "segment", t0))
	oldSeg2 := put(object(c, e, "segment", cutoff.Add(30*time.Second))) // after cutoff, but listed by an old manifest
	oldMan := object(c, e, "manifest", t0)
	put(oldMan, oldSeg1.ID, oldSeg2.ID)
	orphan := put(object(c, e, "segment", t0.Add(time.Minute))) // old, listed by nothing
	newSeg := put(object(c, e, "segment", cutoff.Add(time.Minute)))
	newMan := object(c, e, "manifest", cutoff.Add(time.Minute))
	put(newMan, newSeg.ID)
	straddle := put(object(c, e, "segment", t0.Add(2*time.Minute))) // old, but listed by a new manifest
	newMan2 := object(c, e, "manifest", cutoff.Add(2*time.Minute))
	put(newMan2, straddle.ID)

	// Another camera's old objects are not selected.
	c2 := camera(t, s, hub(t, s, a, h))
	put(object(c2, epoch(t, s, c2), "segment", t0))

	got, err := s.ExpiredObjects(ctx(t), c.ID, cutoff, 100)
	must(t, err, "expired")
	ids := map[string]bool{}
	for _, o := range got {
		ids[o.ID] = true
	}
	want := map[string]bool{oldSeg1.ID: true, oldSeg2.ID: true, oldMan.ID: true, orphan.ID: true}
	if d := cmp.Diff(want, ids); d != "" {
		t.Errorf("ExpiredObjects (-want +got):\n%s", d)
	}
	limited, err := s.ExpiredObjects(ctx(t), c.ID, cutoff, 2)
	must(t, err, "expired, limited")
	if len(limited) != 2 {
		t.Errorf("limit 2 gave %d", len(limited))
	}
	var del []string
	for id := range ids {
		del = append(del, id)
	}
	must(t, s.DeleteObjects(ctx(t), del), "delete expired")
	got, err = s.ExpiredObjects(ctx(t), c.ID, cutoff, 100)
	must(t, err, "expired after delete")
	if len(got) != 0 {
		t.Errorf("still expired after delete: %v", got)
	}
	for _, keep := range []string{newSeg.ID, newMan.ID, straddle.ID, newMan2.ID} {
		if _, err := s.Object(ctx(t), keep); err != nil {
			t.Errorf("object %s was removed: %v", keep, err)
		}
	}
}

func testConcurrentWrites(t *testing.T, s store.Store) {
	a, h := household(t, s)
	c := camera(t, s, hub(t, s, a, h))
	e := epoch(t, s, c)
	const n = 32
	objs := make([]store.Object, n)
	for i := range objs {
		objs[i] = object(c, e, "segment", t0)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Every object twice: one insert wins, the other is an idempotent retry.
			for range 2 {
				if _, err := s.PutObject(ctx(t), objs[i], nil); err != nil {
					t.Errorf("put %d: %v", i, err)
				}
			}
			if _, err := s.Camera(ctx(t), c.ID); err != nil {
				t.Errorf("read during writes: %v", err)
			}
		})
	}
	wg.Wait()
	for _, o := range objs {
		if _, err := s.Object(ctx(t), o.ID); err != nil {
			t.Errorf("object %s: %v", o.ID, err)
		}
	}
}

// oneWins runs try from n goroutines at once and checks that exactly one
// succeeds and every other fails with lose (what is the thing raced for).
func oneWins(t *testing.T, what string, n int, lose error, try func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	var won, lost atomic.Int32
	for i := range n {
		wg.Go(func() {
			switch err := try(i); {
			case err == nil:
				won.Add(1)
			case errors.Is(err, lose):
				lost.Add(1)
			default:
				t.Errorf("%s: %v", what, err)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 || lost.Load() != int32(n-1) {
		t.Errorf("%s by %d callers at once: %d won, %d refused; want 1 and %d", what, n, won.Load(), lost.Load(), n-1)
	}
}
