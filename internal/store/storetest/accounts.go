package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/porchlight/porchlight/internal/store"
)

// This file holds the suite's account-security part: roles and disabling,
// rich sessions, factors (TOTP, recovery codes, passkeys), ceremonies,
// throttles, known devices, notifications, memberships and stats.

// tz is a non-UTC zone: times go in with it and must come back in UTC.
var tz = time.FixedZone("UTC+5:30", 5*3600+1800)

// at returns t0 plus d with a microsecond part, in tz.
func at(d time.Duration) time.Time {
	return t0.Add(d + 123456*time.Microsecond).In(tz)
}

// checkTime fails unless got equals want and is in UTC.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v (microsecond precision)", what, got, want)
	}
	if !got.IsZero() && got.Location() != time.UTC {
		t.Errorf("%s is in %v, want UTC", what, got.Location())
	}
}

// staff creates a staff account with no household.
func staff(t *testing.T, s store.Store, role string, created time.Time) store.Account {
	t.Helper()
	a := store.Account{ID: id("acct"), Email: id("staff") + "@example.org", PasswordHash: "$argon2id$s", Role: role, Created: created}
	must(t, s.CreateAccount(ctx(t), a, store.Household{}), "create staff account")
	return a
}

// sessions creates n sessions of account a; session i was last used at
// t0+i minutes.
func sessions(t *testing.T, s store.Store, a store.Account, n int) []store.Session {
	t.Helper()
	var out []store.Session
	for i := range n {
		se := store.Session{ID: id("ses"), TokenHash: id("th"), AccountID: a.ID, DeviceName: fmt.Sprintf("device %d", i),
			Client: "porchlight-cli/1.0 (linux/amd64)", AddrPrefix: "192.0.2.0/24",
			Created: t0, LastUsed: t0.Add(time.Duration(i) * time.Minute), AuthAt: t0, Expires: t0.Add(720 * time.Hour)}
		must(t, s.CreateSession(ctx(t), se), "create session")
		out = append(out, se)
	}
	return out
}

func ids(ss []store.Session) []string {
	var out []string
	for _, se := range ss {
		out = append(out, se.ID)
	}
	return out
}

// checkEnded checks what a credential change did to sessions: ended lists
// exactly wantEnded (in any order), those are gone, and alive still work.
func checkEnded(t *testing.T, s store.Store, what string, ended, wantEnded []string, alive []store.Session) {
	t.Helper()
	if diff := cmp.Diff(wantEnded, ended, cmpopts.SortSlices(func(a, b string) bool { return a < b }), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("%s: ended sessions (-want +got):\n%s", what, diff)
	}
	for _, id := range wantEnded {
		if _, err := s.SessionByID(ctx(t), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: ended session %s: err = %v, want ErrNotFound", what, id, err)
		}
	}
	for _, se := range alive {
		if _, err := s.SessionByTokenHash(ctx(t), se.TokenHash); err != nil {
			t.Errorf("%s: session %s should survive: %v", what, se.ID, err)
		}
	}
}

func testRoles(t *testing.T, s store.Store) {
	cust, h := household(t, s)
	sup := staff(t, s, store.RoleSupport, t0.Add(2*time.Second))
	op := staff(t, s, store.RoleOperator, t0.Add(time.Second))
	ann := staff(t, s, store.RoleAnnotator, t0.Add(3*time.Second))

	got, err := s.Account(ctx(t), sup.ID)
	must(t, err, "staff account")
	if diff := cmp.Diff(sup, got); diff != "" {
		t.Errorf("staff Account (-want +got):\n%s", diff)
	}
	got, err = s.AccountByEmail(ctx(t), op.Email)
	must(t, err, "staff by e-mail")
	if got.Role != store.RoleOperator {
		t.Errorf("Role = %q, want %q", got.Role, store.RoleOperator)
	}
	_, err = s.HouseholdOf(ctx(t), sup.ID)
	wantErr(t, err, store.ErrNotFound, "HouseholdOf a staff account")
	// A staff account's e-mail is unique like any other.
	wantErr(t, s.CreateAccount(ctx(t), store.Account{ID: id("acct"), Email: sup.Email, PasswordHash: "x", Role: store.RoleSupport, Created: t0}, store.Household{}),
		store.ErrConflict, "staff with a taken e-mail")

	list, err := s.StaffAccounts(ctx(t))
	must(t, err, "staff accounts")
	var roles []string
	for _, a := range list {
		roles = append(roles, a.ID+" "+a.Role)
	}
	want := []string{op.ID + " operator", sup.ID + " support", ann.ID + " annotator"}
	if diff := cmp.Diff(want, roles); diff != "" {
		t.Errorf("StaffAccounts, oldest first, no customers (-want +got):\n%s", diff)
	}

	gh, err := s.Household(ctx(t), h.ID)
	must(t, err, "household by id")
	if diff := cmp.Diff(h, gh); diff != "" {
		t.Errorf("Household (-want +got):\n%s", diff)
	}
	_, err = s.Household(ctx(t), id("hh"))
	wantErr(t, err, store.ErrNotFound, "missing household")

	// Sessions carry the account's role and household ("" for staff).
	se := sessions(t, s, sup, 1)[0]
	gs, err := s.SessionByTokenHash(ctx(t), se.TokenHash)
	must(t, err, "staff session")
	if gs.Role != store.RoleSupport || gs.HouseholdID != "" {
		t.Errorf("staff session: Role %q HouseholdID %q, want support and none", gs.Role, gs.HouseholdID)
	}
	gs, err = s.SessionByID(ctx(t), se.ID)
	must(t, err, "staff session by id")
	if gs.Role != store.RoleSupport || gs.HouseholdID != "" {
		t.Errorf("staff session by id: Role %q HouseholdID %q, want support and none", gs.Role, gs.HouseholdID)
	}
	cs := sessions(t, s, cust, 1)[0]
	gs, err = s.SessionByTokenHash(ctx(t), cs.TokenHash)
	must(t, err, "customer session")
	if gs.Role != store.RoleCustomer || gs.HouseholdID != h.ID {
		t.Errorf("customer session: Role %q HouseholdID %q, want customer and %s", gs.Role, gs.HouseholdID, h.ID)
	}
}

func testStaffListEmpty(t *testing.T, s store.Store) {
	household(t, s)
	list, err := s.StaffAccounts(ctx(t))
	must(t, err, "staff accounts")
	if list == nil || len(list) != 0 {
		t.Errorf("StaffAccounts with only customers = %#v, want an empty non-nil slice", list)
	}
}

func testSetEmail(t *testing.T, s store.Store) {
	a, _ := household(t, s)
	b, _ := household(t, s)
	newEmail := id("new") + "@example.org"
	must(t, s.SetEmail(ctx(t), a.ID, newEmail), "set e-mail")
	got, err := s.AccountByEmail(ctx(t), newEmail)
	must(t, err, "by new e-mail")
	if got.ID != a.ID || got.Email != newEmail {
		t.Errorf("AccountByEmail(new) = %q %q", got.ID, got.Email)
	}
	_, err = s.AccountByEmail(ctx(t), a.Email)
	wantErr(t, err, store.ErrNotFound, "old e-mail")
	wantErr(t, s.SetEmail(ctx(t), a.ID, b.Email), store.ErrConflict, "e-mail of another account")
	wantErr(t, s.SetEmail(ctx(t), a.ID, strings.ToUpper(b.Email)), store.ErrConflict, "e-mail of another account in other case")
	got, _ = s.Account(ctx(t), a.ID)
	if got.Email != newEmail {
		t.Errorf("failed SetEmail changed the e-mail to %q", got.Email)
	}
	wantErr(t, s.SetEmail(ctx(t), id("acct"), id("x")+"@example.org"), store.ErrNotFound, "e-mail of a missing account")
}

func testSessionFields(t *testing.T, s store.Store) {
	a, h := household(t, s)
	se := store.Session{ID: id("ses"), TokenHash: id("th"), AccountID: a.ID, DeviceName: "phone", DeviceID: "devphone",
		Client: "Firefox 140 (Linux)", AddrPrefix: "2001:db8:1::/48",
		Created: at(0), LastUsed: at(time.Minute), AuthAt: at(30 * time.Second), AuthFactor: true, Expires: at(720 * time.Hour)}
	// HouseholdID and Role are ignored by CreateSession.
	in := se
	in.HouseholdID, in.Role = "bogus", "operator"
	must(t, s.CreateSession(ctx(t), in), "create session")
	wantErr(t, s.CreateSession(ctx(t), store.Session{ID: se.ID, TokenHash: id("th"), AccountID: a.ID, Created: t0, LastUsed: t0, Expires: t0}),
		store.ErrConflict, "duplicate session id")

	want := se
	want.HouseholdID, want.Role = h.ID, store.RoleCustomer
	for _, get := range []struct {
		name string
		fn   func() (store.Session, error)
	}{
		{"SessionByTokenHash", func() (store.Session, error) { return s.SessionByTokenHash(ctx(t), se.TokenHash) }},
		{"SessionByID", func() (store.Session, error) { return s.SessionByID(ctx(t), se.ID) }},
	} {
		got, err := get.fn()
		must(t, err, get.name)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", get.name, diff)
		}
		checkTime(t, get.name+" Created", got.Created, se.Created)
		checkTime(t, get.name+" LastUsed", got.LastUsed, se.LastUsed)
		checkTime(t, get.name+" AuthAt", got.AuthAt, se.AuthAt)
		checkTime(t, get.name+" Expires", got.Expires, se.Expires)
	}
	_, err := s.SessionByID(ctx(t), id("ses"))
	wantErr(t, err, store.ErrNotFound, "missing session by id")
	_, err = s.SessionByTokenHash(ctx(t), id("th"))
	wantErr(t, err, store.ErrNotFound, "missing session by token")

	// A session that never re-authenticated keeps a zero AuthAt and no
	// factor.
	zero := store.Session{ID: id("ses"), TokenHash: id("th"), AccountID: a.ID, Created: t0, LastUsed: t0, Expires: t0.Add(time.Hour)}
	must(t, s.CreateSession(ctx(t), zero), "session without AuthAt")
	got, err := s.SessionByID(ctx(t), zero.ID)
	must(t, err, "session without AuthAt")
	if !got.AuthAt.IsZero() {
		t.Errorf("AuthAt = %v, want zero", got.AuthAt)
	}
	if got.AuthFactor {
		t.Errorf("AuthFactor of a session created without one = true, want false")
	}
	got, err = s.SessionByTokenHash(ctx(t), zero.TokenHash)
	must(t, err, "session without AuthAt by token")
	if got.AuthFactor {
		t.Errorf("SessionByTokenHash: AuthFactor of a session created without one = true, want false")
	}

	// A password-only session and one with a factor, side by side in
	// the list, each keep their own.
	password := store.Session{ID: id("ses"), TokenHash: id("th"), AccountID: a.ID, Created: t0, LastUsed: t0, AuthAt: t0, Expires: t0.Add(time.Hour)}
	must(t, s.CreateSession(ctx(t), password), "password-only session")
	list, err := s.Sessions(ctx(t), a.ID)
	must(t, err, "sessions")
	factors := map[string]bool{}
	for _, se := range list {
		factors[se.ID] = se.AuthFactor
	}
	wantFactors := map[string]bool{se.ID: true, zero.ID: false, password.ID: false}
	if diff := cmp.Diff(wantFactors, factors); diff != "" {
		t.Errorf("AuthFactor by session in Sessions (-want +got):\n%s", diff)
	}
}

func testSessionList(t *testing.T, s store.Store) {
	a, h := household(t, s)
	other, _ := household(t, s)
	empty, err := s.Sessions(ctx(t), a.ID)
	must(t, err, "sessions of an account without any")
	if empty == nil || len(empty) != 0 {
		t.Errorf("Sessions without any = %#v, want an empty non-nil slice", empty)
	}
	ss := sessions(t, s, a, 3)
	sessions(t, s, other, 2)
	list, err := s.Sessions(ctx(t), a.ID)
	must(t, err, "sessions")
	want := []string{ss[2].ID, ss[1].ID, ss[0].ID}
	if diff := cmp.Diff(want, ids(list)); diff != "" {
		t.Errorf("Sessions, most recently used first (-want +got):\n%s", diff)
	}
	for _, se := range list {
		if se.HouseholdID != h.ID || se.Role != store.RoleCustomer || se.AccountID != a.ID || se.Client == "" || se.AddrPrefix == "" {
			t.Errorf("listed session %+v lacks its fields", se)
		}
	}
	// Using the oldest makes it the first.
	must(t, s.TouchSession(ctx(t), ss[0].ID, t0.Add(time.Hour)), "touch")
	list, err = s.Sessions(ctx(t), a.ID)
	must(t, err, "sessions after touch")
	want = []string{ss[0].ID, ss[2].ID, ss[1].ID}
	if diff := cmp.Diff(want, ids(list)); diff != "" {
		t.Errorf("Sessions after a touch (-want +got):\n%s", diff)
	}
}

func testRotateSession(t *testing.T, s store.Store) {
	a, _ := household(t, s)
	ss := sessions(t, s, a, 2)
	se := ss[0]
	newHash := id("th")
	authAt := at(2 * time.Hour)
	if before, err := s.SessionByID(ctx(t), se.ID); err != nil || before.AuthFactor {
		t.Fatalf("session before rotation = %+v, %v; want one without a factor", before, err)
	}
	must(t, s.RotateSession(ctx(t), se.ID, newHash, authAt, true), "rotate")
	_, err := s.SessionByTokenHash(ctx(t), se.TokenHash)
	wantErr(t, err, store.ErrNotFound, "old token after rotation")
	got, err := s.SessionByTokenHash(ctx(t), newHash)
	must(t, err, "new token after rotation")
	if got.ID != se.ID || got.TokenHash != newHash {
		t.Errorf("rotated session = %s %s, want %s %s", got.ID, got.TokenHash, se.ID, newHash)
	}
	checkTime(t, "AuthAt after rotation", got.AuthAt, authAt)
	checkTime(t, "Created after rotation", got.Created, se.Created)
	checkTime(t, "Expires after rotation", got.Expires, se.Expires)
	if !got.AuthFactor {
		t.Errorf("AuthFactor after rotation with a factor = false, want true")
	}
	if other, err := s.SessionByID(ctx(t), ss[1].ID); err != nil || other.AuthFactor || other.TokenHash != ss[1].TokenHash {
		t.Errorf("other session after rotation = %+v, %v; want it unchanged, without a factor", other, err)
	}

	// A later password-only re-authentication clears the factor.
	passwordHash, passwordAt := id("th"), at(3*time.Hour)
	must(t, s.RotateSession(ctx(t), se.ID, passwordHash, passwordAt, false), "rotate without a factor")
	got, err = s.SessionByID(ctx(t), se.ID)
	must(t, err, "session after rotation without a factor")
	if got.AuthFactor || got.TokenHash != passwordHash {
		t.Errorf("after rotation without a factor: AuthFactor %v token %s, want false %s", got.AuthFactor, got.TokenHash, passwordHash)
	}
	checkTime(t, "AuthAt after rotation without a factor", got.AuthAt, passwordAt)

	// A failed rotation changes nothing, the factor included.
	wantErr(t, s.RotateSession(ctx(t), se.ID, ss[1].TokenHash, at(4*time.Hour), true), store.ErrConflict, "rotate to another session's token")
	got, err = s.SessionByTokenHash(ctx(t), passwordHash)
	if err != nil {
		t.Errorf("failed rotation broke the session: %v", err)
	} else {
		if got.AuthFactor {
			t.Errorf("failed rotation with a factor set AuthFactor")
		}
		checkTime(t, "AuthAt after a failed rotation", got.AuthAt, passwordAt)
	}
	wantErr(t, s.RotateSession(ctx(t), id("ses"), id("th"), authAt, true), store.ErrNotFound, "rotate a missing session")
}

func testDeleteAccountSession(t *testing.T, s store.Store) {
	a, _ := household(t, s)
	b, _ := household(t, s)
	sa := sessions(t, s, a, 1)[0]
	sb := sessions(t, s, b, 1)[0]
	wantErr(t, s.DeleteAccountSession(ctx(t), a.ID, sb.ID), store.ErrNotFound, "delete another account's session")
	if _, err := s.SessionByID(ctx(t), sb.ID); err != nil {
		t.Errorf("another account's session was deleted: %v", err)
	}
	must(t, s.DeleteAccountSession(ctx(t), a.ID, sa.ID), "delete own session")
	_, err := s.SessionByTokenHash(ctx(t), sa.TokenHash)
	wantErr(t, err, store.ErrNotFound, "deleted session")
	wantErr(t, s.DeleteAccountSession(ctx(t), a.ID, sa.ID), store.ErrNotFound, "delete twice")
}

func testDeleteSessions(t *testing.T, s store.Store) {
	a, _ := household(t, s)
	b, _ := household(t, s)
	ss := sessions(t, s, a, 3)
	bs := sessions(t, s, b, 1)
	ended, err := s.DeleteSessions(ctx(t), a.ID, ss[1].ID)
	must(t, err, "delete others")
	checkEnded(t, s, "DeleteSessions(keep)", ended, []string{ss[0].ID, ss[2].ID}, []store.Session{ss[1], bs[0]})
	ended, err = s.DeleteSessions(ctx(t), a.ID, "")
	must(t, err, "delete all")
	checkEnded(t, s, "DeleteSessions(all)", ended, []string{ss[1].ID}, bs)
	ended, err = s.DeleteSessions(ctx(t), a.ID, "")
	must(t, err, "delete none")
	checkEnded(t, s, "DeleteSessions(none left)", ended, nil, bs)
}

func testChangePassword(t *testing.T, s store.Store) {
	a, _ := household(t, s)
	b, _ := household(t, s)
	ss := sessions(t, s, a, 3)
	bs := sessions(t, s, b, 2)
	ended, err := s.ChangePassword(ctx(t), a.ID, "$argon2id$changed", ss[2].ID)
	must(t, err, "change password")
	checkEnded(t, s, "ChangePassword(keep)", ended, []string{ss[0].ID, ss[1].ID}, append([]store.Session{ss[2]}, bs...))
	got, _ := s.Account(ctx(t), a.ID)
	if got.PasswordHash != "$argon2id$changed" {
		t.Errorf("PasswordHash = %q after ChangePassword", got.PasswordHash)
	}
	ended, err = s.ChangePassword(ctx(t), a.ID, "$argon2id$again", "")
	must(t, err, "change password, keep none")
	checkEnded(t, s, "ChangePassword(all)", ended, []string{ss[2].ID}, bs)
	_, err = s.ChangePassword(ctx(t), id("acct"), "x", "")
	wantErr(t, err, store.ErrNotFound, "change password of a missing account")

	// SetPasswordHash (a rehash) ends nothing.
	more := sessions(t, s, a, 2)
	must(t, s.SetPasswordHash(ctx(t), a.ID, "$argon2id$rehash"), "rehash")
	checkEnded(t, s, "SetPasswordHash", nil, nil, more)
}

func testDisable(t *testing.T, s store.Store) {
	a, _ := household(t, s)
	b, _ := household(t, s)
	ss := sessions(t, s, a, 2)
	bs := sessions(t, s, b, 1)
	ended, err := s.SetDisabled(ctx(t), a.ID, true)
	must(t, err, "disable")
	checkEnded(t, s, "SetDisabled(true)", ended, ids(ss), bs)
	got, _ := s.Account(ctx(t), a.ID)
	if !got.Disabled {
		t.Error("Disabled = false after SetDisabled(true)")
	}
	// A session of a disabled account is not found even if one exists.
	late := sessions(t, s, a, 1)[0]
	_, err = s.SessionByTokenHash(ctx(t), late.TokenHash)
	wantErr(t, err, store.ErrNotFound, "session of a disabled account")

	ended, err = s.SetDisabled(ctx(t), a.ID, false)
	must(t, err, "enable")
	if len(ended) != 0 {
		t.Errorf("enabling ended sessions %v", ended)
	}
	got, _ = s.Account(ctx(t), a.ID)
	if got.Disabled {
		t.Error("Disabled = true after SetDisabled(false)")
	}
	fresh := sessions(t, s, a, 1)[0]
	if _, err := s.SessionByTokenHash(ctx(t), fresh.TokenHash); err != nil {
		t.Errorf("session of a re-enabled account: %v", err)
	}
	_, err = s.SetDisabled(ctx(t), id("acct"), true)
	wantErr(t, err, store.ErrNotFound, "disable a missing account")
}

func testTOTP(t *testing.T, s store.Store) {
	a, _ := household(t, s)
	_, err := s.TOTP(ctx(t), a.ID)
	wantErr(t, err, store.ErrNotFound, "no authenticator")
	wantErr(t, s.UseTOTPStep(ctx(t), a.ID, 1), store.ErrNotFound, "step without an authenticator")
	ss := sessions(t, s, a, 3)
	_, err = s.ConfirmTOTP(ctx(t), a.ID, 5, []string{"c1"}, ss[0].ID)
	wantErr(t, err, store.ErrNotFound, "confirm without a pending authenticator")
	checkEnded(t, s, "failed ConfirmTOTP", nil, nil, ss)

	p1 := store.TOTP{AccountID: a.ID, Secret: []byte("secret-one-20-bytes!"), Created: at(0)}
	must(t, s.PutPendingTOTP(ctx(t), p1), "put pending")
	p2 := store.TOTP{AccountID: a.ID, Secret: []byte("secret-two-20-bytes!"), Created: at(time.Minute)}
	must(t, s.PutPendingTOTP(ctx(t), p2), "replace pending")
	got, err := s.TOTP(ctx(t), a.ID)
	must(t, err, "pending authenticator")
	if diff := cmp.Diff(p2, got); diff != "" {
		t.Errorf("pending TOTP (-want +got):\n%s", diff)
	}
	checkTime(t, "TOTP Created", got.Created, p2.Created)

	const step = 58_000_000
	ended, err := s.ConfirmTOTP(ctx(t), a.ID, step, []string{"r1", "r2", "r3"}, ss[1].ID)
	must(t, err, "confirm")
	checkEnded(t, s, "ConfirmTOTP", ended, []string{ss[0].ID, ss[2].ID}, ss[1:2])
	got, _ = s.TOTP(ctx(t), a.ID)
	want := p2
	want.Confirmed, want.LastStep = true, step
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("confirmed TOTP (-want +got):\n%s", diff)
	}
	if n, err := s.RecoveryCodesLeft(ctx(t), a.ID); err != nil || n != 3 {
		t.Errorf("RecoveryCodesLeft after confirm = %d, %v; want 3", n, err)
	}

	// Confirmed: no second confirmation, no replacement by a pending one.
	more := sessions(t, s, a, 1)
	_, err = s.ConfirmTOTP(ctx(t), a.ID, step+1, []string{"x"}, "")
	wantErr(t, err, store.ErrConflict, "confirm twice")
	checkEnded(t, s, "ConfirmTOTP twice", nil, nil, append(more, ss[1]))
	if n, _ := s.RecoveryCodesLeft(ctx(t), a.ID); n != 3 {
		t.Errorf("failed confirm replaced recovery codes: %d left", n)
	}
	wantErr(t, s.PutPendingTOTP(ctx(t), store.TOTP{AccountID: a.ID, Secret: []byte("other"), Created: t0}), store.ErrConflict, "pending over confirmed")
	got, _ = s.TOTP(ctx(t), a.ID)
	if !got.Confirmed || string(got.Secret) != string(p2.Secret) {
		t.Errorf("refused PutPendingTOTP changed the authenticator: %+v", got)
	}

	// Steps only move forward.
	wantErr(t, s.UseTOTPStep(ctx(t), a.ID, step), store.ErrConflict, "replayed step")
	wantErr(t, s.UseTOTPStep(ctx(t), a.ID, step-1), store.ErrConflict, "older step")
	must(t, s.UseTOTPStep(ctx(t), a.ID, step+2), "newer step")
	wantErr(t, s.UseTOTPStep(ctx(t), a.ID, step+1), store.ErrConflict, "step between")
	got, _ = s.TOTP(ctx(t), a.ID)
	if got.LastStep != step+2 {
		t.Errorf("LastStep = %d, want %d", got.LastStep, step+2)
	}

	ended, err = s.DeleteTOTP(ctx(t), a.ID, more[0].ID)
	must(t, err, "delete authenticator")
	checkEnded(t, s, "DeleteTOTP", ended, []string{ss[1].ID}, more)
	_, err = s.TOTP(ctx(t), a.ID)
	wantErr(t, err, store.ErrNotFound, "deleted authenticator")
	_, err = s.DeleteTOTP(ctx(t), a.ID, "")
	wantErr(t, err, store.ErrNotFound, "delete twice")
	checkEnded(t, s, "failed DeleteTOTP", nil, nil, more)
	// After deletion a new one can be enrolled.
	must(t, s.PutPendingTOTP(ctx(t), p1), "enrol again")
}

func testTOTPReplayRace(t *testing.T, s store.Store) {
	a, _ := household(t, s)
	must(t, s.PutPendingTOTP(ctx(t), store.TOTP{AccountID: a.ID, Secret: []byte("s"), Created: t0}), "pending")
	_, err := s.ConfirmTOTP(ctx(t), a.ID, 100, nil, "")
	must(t, err, "confirm")
	const n = 8
	oneWins(t, "use step", n, store.ErrConflict, func(i int) error { return s.UseTOTPStep(ctx(t), a.ID, 101) })
}

func testRecoveryCodes(t *testing.T, s store.Store) {
	a, _ := household(t, s)
	b, _ := household(t, s)
	if n, err := s.RecoveryCodesLeft(ctx(t), a.ID); err != nil || n != 0 {
		t.Errorf("RecoveryCodesLeft with none = %d, %v", n, err)
	}
	ss := sessions(t, s, a, 2)
	ended, err := s.ReplaceRecoveryCodes(ctx(t), a.ID, []string{"ra", "rb", "rc"}, ss[0].ID)
	must(t, err, "replace codes")
	checkEnded(t, s, "ReplaceRecoveryCodes", ended, []string{ss[1].ID}, ss[:1])
	if n, _ := s.RecoveryCodesLeft(ctx(t), a.ID); n != 3 {
		t.Errorf("RecoveryCodesLeft = %d, want 3", n)
	}
	wantErr(t, s.UseRecoveryCode(ctx(t), b.ID, "ra", at(0)), store.ErrNotFound, "another account's code")
	must(t, s.UseRecoveryCode(ctx(t), a.ID, "ra", at(0)), "use code")
	wantErr(t, s.UseRecoveryCode(ctx(t), a.ID, "ra", at(time.Second)), store.ErrNotFound, "use a code twice")
	wantErr(t, s.UseRecoveryCode(ctx(t), a.ID, "nope", at(0)), store.ErrNotFound, "wrong code")
	if n, _ := s.RecoveryCodesLeft(ctx(t), a.ID); n != 2 {
		t.Errorf("RecoveryCodesLeft after one use = %d, want 2", n)
	}
	// New codes replace all the old ones, used or not.
	ended, err = s.ReplaceRecoveryCodes(ctx(t), a.ID, []string{"rd", "re"}, "")
	must(t, err, "replace again")
	checkEnded(t, s, "ReplaceRecoveryCodes(all)", ended, []string{ss[0].ID}, nil)
	if n, _ := s.RecoveryCodesLeft(ctx(t), a.ID); n != 2 {
		t.Errorf("RecoveryCodesLeft after replacement = %d, want 2", n)
	}
	wantErr(t, s.UseRecoveryCode(ctx(t), a.ID, "rb", at(0)), store.ErrNotFound, "replaced code")
	must(t, s.UseRecoveryCode(ctx(t), a.ID, "rd", at(0)), "new code")
	if n, _ := s.RecoveryCodesLeft(ctx(t), b.ID); n != 0 {
		t.Errorf("another account has %d codes", n)
	}
}

func testRecoveryCodeRace(t *testing.T, s store.Store) {
	a, _ := household(t, s)
	_, err := s.ReplaceRecoveryCodes(ctx(t), a.ID, []string{"only", "spare"}, "")
	must(t, err, "codes")
	const n = 8
	oneWins(t, "use code", n, store.ErrNotFound, func(i int) error { return s.UseRecoveryCode(ctx(t), a.ID, "only", t0) })
	if left, _ := s.RecoveryCodesLeft(ctx(t), a.ID); left != 1 {
		t.Errorf("RecoveryCodesLeft = %d, want 1", left)
	}
}

func testPasskeys(t *testing.T, s store.Store) {
	a, _ := household(t, s)
	b, _ := household(t, s)
	empty, err := s.Passkeys(ctx(t), a.ID)
	must(t, err, "passkeys of an account without any")
	if empty == nil || len(empty) != 0 {
		t.Errorf("Passkeys without any = %#v, want an empty non-nil slice", empty)
	}
	ss := sessions(t, s, a, 3)
	bs := sessions(t, s, b, 1)
	p1 := store.Passkey{ID: id("pk"), AccountID: a.ID, CredentialID: []byte{1, 2, 3, 0, 255}, Name: "laptop",
		Credential: []byte(`{"publicKey":"AQID","signCount":0}`), Created: at(time.Minute)}
	ended, err := s.AddPasskey(ctx(t), p1, ss[2].ID)
	must(t, err, "add passkey")
	checkEnded(t, s, "AddPasskey", ended, []string{ss[0].ID, ss[1].ID}, []store.Session{ss[2], bs[0]})

	// Refused additions end nothing.
	more := sessions(t, s, a, 1)
	dupID := store.Passkey{ID: p1.ID, AccountID: a.ID, CredentialID: []byte{9}, Name: "x", Credential: []byte("{}"), Created: t0}
	_, err = s.AddPasskey(ctx(t), dupID, "")
	wantErr(t, err, store.ErrConflict, "duplicate passkey id")
	dupCred := store.Passkey{ID: id("pk"), AccountID: b.ID, CredentialID: p1.CredentialID, Name: "x", Credential: []byte("{}"), Created: t0}
	_, err = s.AddPasskey(ctx(t), dupCred, "")
	wantErr(t, err, store.ErrConflict, "duplicate credential id")
	checkEnded(t, s, "refused AddPasskey", nil, nil, []store.Session{ss[2], more[0], bs[0]})

	p2 := store.Passkey{ID: id("pk"), AccountID: a.ID, CredentialID: []byte("cred-2"), Name: "phone",
		Credential: []byte(`{"signCount":0}`), Created: at(2 * time.Minute)}
	_, err = s.AddPasskey(ctx(t), p2, more[0].ID)
	must(t, err, "add second passkey")
	pb := store.Passkey{ID: id("pk"), AccountID: b.ID, CredentialID: []byte("cred-b"), Name: "b", Credential: []byte("{}"), Created: t0}
	_, err = s.AddPasskey(ctx(t), pb, bs[0].ID)
	must(t, err, "add passkey of b")

	list, err := s.Passkeys(ctx(t), a.ID)
	must(t, err, "passkeys")
	if diff := cmp.Diff([]store.Passkey{p1, p2}, list); diff != "" {
		t.Errorf("Passkeys, oldest first (-want +got):\n%s", diff)
	}
	for _, p := range list {
		if !p.LastUsed.IsZero() {
			t.Errorf("LastUsed of an unused passkey = %v", p.LastUsed)
		}
	}
	got, err := s.PasskeyByCredentialID(ctx(t), p1.CredentialID)
	must(t, err, "by credential id")
	if diff := cmp.Diff(p1, got); diff != "" {
		t.Errorf("PasskeyByCredentialID (-want +got):\n%s", diff)
	}
	checkTime(t, "Passkey Created", got.Created, p1.Created)
	_, err = s.PasskeyByCredentialID(ctx(t), []byte{1, 2, 3})
	wantErr(t, err, store.ErrNotFound, "missing credential id")

	used := at(time.Hour)
	must(t, s.UpdatePasskey(ctx(t), p1.ID, []byte(`{"signCount":7}`), used), "update passkey")
	got, _ = s.PasskeyByCredentialID(ctx(t), p1.CredentialID)
	if string(got.Credential) != `{"signCount":7}` {
		t.Errorf("Credential after update = %s", got.Credential)
	}
	checkTime(t, "Passkey LastUsed", got.LastUsed, used)
	wantErr(t, s.UpdatePasskey(ctx(t), id("pk"), []byte("{}"), used), store.ErrNotFound, "update a missing passkey")

	_, err = s.DeletePasskey(ctx(t), b.ID, p1.ID, "")
	wantErr(t, err, store.ErrNotFound, "delete another account's passkey")
	checkEnded(t, s, "refused DeletePasskey", nil, nil, []store.Session{more[0], bs[0]})
	if _, err := s.PasskeyByCredentialID(ctx(t), p1.CredentialID); err != nil {
		t.Errorf("refused DeletePasskey removed it: %v", err)
	}
	keep := sessions(t, s, a, 1)
	ended, err = s.DeletePasskey(ctx(t), a.ID, p1.ID, keep[0].ID)
	must(t, err, "delete passkey")
	checkEnded(t, s, "DeletePasskey", ended, []string{more[0].ID}, []store.Session{keep[0], bs[0]})
	_, err = s.PasskeyByCredentialID(ctx(t), p1.CredentialID)
	wantErr(t, err, store.ErrNotFound, "deleted passkey")
	_, err = s.DeletePasskey(ctx(t), a.ID, p1.ID, "")
	wantErr(t, err, store.ErrNotFound, "delete twice")
	list, _ = s.Passkeys(ctx(t), a.ID)
	if diff := cmp.Diff([]string{p2.ID}, passkeyIDs(list)); diff != "" {
		t.Errorf("Passkeys after delete (-want +got):\n%s", diff)
	}
}

func passkeyIDs(ps []store.Passkey) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func testCeremonies(t *testing.T, s store.Store) {
	a, _ := household(t, s)
	se := sessions(t, s, a, 1)[0]
	c := store.Ceremony{ID: id("cer"), Kind: "mfa", AccountID: a.ID, SessionID: se.ID, Data: []byte(`{"challenge":"x"}`), Expires: at(5 * time.Minute)}
	must(t, s.PutCeremony(ctx(t), c), "put ceremony")
	wantErr(t, s.PutCeremony(ctx(t), c), store.ErrConflict, "duplicate ceremony")
	disc := store.Ceremony{ID: id("cer"), Kind: "passkey_login", Data: []byte("{}"), Expires: at(-time.Minute)}
	must(t, s.PutCeremony(ctx(t), disc), "put discoverable ceremony")

	got, err := s.Ceremony(ctx(t), c.ID)
	must(t, err, "ceremony")
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("Ceremony (-want +got):\n%s", diff)
	}
	checkTime(t, "Ceremony Expires", got.Expires, c.Expires)
	got, err = s.Ceremony(ctx(t), disc.ID)
	must(t, err, "expired ceremony is still returned")
	if diff := cmp.Diff(disc, got); diff != "" {
		t.Errorf("discoverable Ceremony (-want +got):\n%s", diff)
	}
	_, err = s.Ceremony(ctx(t), id("cer"))
	wantErr(t, err, store.ErrNotFound, "missing ceremony")

	for want := 1; want <= 2; want++ {
		n, err := s.CeremonyFailed(ctx(t), c.ID)
		must(t, err, "ceremony failed")
		if n != want {
			t.Errorf("CeremonyFailed = %d, want %d", n, want)
		}
	}
	if got, _ := s.Ceremony(ctx(t), c.ID); got.Attempts != 2 {
		t.Errorf("Attempts = %d, want 2", got.Attempts)
	}
	_, err = s.CeremonyFailed(ctx(t), id("cer"))
	wantErr(t, err, store.ErrNotFound, "fail a missing ceremony")

	n, err := s.DeleteCeremoniesBefore(ctx(t), t0)
	must(t, err, "sweep ceremonies")
	if n != 1 {
		t.Errorf("swept %d ceremonies, want 1", n)
	}
	_, err = s.Ceremony(ctx(t), disc.ID)
	wantErr(t, err, store.ErrNotFound, "swept ceremony")

	must(t, s.DeleteCeremony(ctx(t), c.ID), "consume")
	wantErr(t, s.DeleteCeremony(ctx(t), c.ID), store.ErrNotFound, "consume twice")
	_, err = s.Ceremony(ctx(t), c.ID)
	wantErr(t, err, store.ErrNotFound, "consumed ceremony")
}

func testCeremonyRace(t *testing.T, s store.Store) {
	c := store.Ceremony{ID: id("cer"), Kind: "passkey_login", Data: []byte("{}"), Expires: t0.Add(time.Minute)}
	must(t, s.PutCeremony(ctx(t), c), "put ceremony")
	const n = 16
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := s.CeremonyFailed(ctx(t), c.ID); err != nil {
				t.Errorf("ceremony failed: %v", err)
			}
		})
	}
	wg.Wait()
	if got, _ := s.Ceremony(ctx(t), c.ID); got.Attempts != n {
		t.Errorf("Attempts after %d concurrent failures = %d", n, got.Attempts)
	}
	oneWins(t, "consume the ceremony", n, store.ErrNotFound, func(int) error { return s.DeleteCeremony(ctx(t), c.ID) })
}

func testThrottles(t *testing.T, s store.Store) {
	key := "addr:192.0.2.0/24"
	got, err := s.Throttle(ctx(t), key)
	must(t, err, "unknown throttle")
	if diff := cmp.Diff(store.Throttle{Key: key}, got); diff != "" {
		t.Errorf("Throttle of an unknown key (-want +got):\n%s", diff)
	}
	blocked := at(time.Hour)
	st, err := s.UpdateThrottle(ctx(t), key, func(th *store.Throttle) {
		if th.Failures != 0 || !th.WindowStart.IsZero() {
			t.Errorf("update of an unknown key sees %+v, want zero", th)
		}
		th.Failures = 5
		th.WindowStart = at(0)
		th.BlockedUntil = blocked
	})
	must(t, err, "update throttle")
	want := store.Throttle{Key: key, Failures: 5, WindowStart: at(0), BlockedUntil: blocked}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("UpdateThrottle result (-want +got):\n%s", diff)
	}
	got, err = s.Throttle(ctx(t), key)
	must(t, err, "throttle")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Throttle (-want +got):\n%s", diff)
	}
	checkTime(t, "WindowStart", got.WindowStart, want.WindowStart)
	checkTime(t, "BlockedUntil", got.BlockedUntil, want.BlockedUntil)
	st, err = s.UpdateThrottle(ctx(t), key, func(th *store.Throttle) {
		if th.Failures != 5 {
			t.Errorf("update sees %d failures, want 5", th.Failures)
		}
		th.Failures++
		th.BlockedUntil = time.Time{}
	})
	must(t, err, "update again")
	if st.Failures != 6 || !st.BlockedUntil.IsZero() {
		t.Errorf("second update stored %+v", st)
	}

	must(t, s.ResetThrottle(ctx(t), key), "reset")
	got, _ = s.Throttle(ctx(t), key)
	if diff := cmp.Diff(store.Throttle{Key: key}, got); diff != "" {
		t.Errorf("Throttle after reset (-want +got):\n%s", diff)
	}
	must(t, s.ResetThrottle(ctx(t), "acct:nobody"), "reset an unknown key")

	// Sweep: only keys whose window started and block ended before t.
	set := func(key string, window, until time.Time) {
		t.Helper()
		_, err := s.UpdateThrottle(ctx(t), key, func(th *store.Throttle) {
			th.Failures, th.WindowStart, th.BlockedUntil = 1, window, until
		})
		must(t, err, "set "+key)
	}
	set("acct:old", t0, time.Time{})
	set("acct:oldblock", t0, t0.Add(30*time.Minute))
	set("acct:blocked", t0, t0.Add(3*time.Hour))
	set("acct:recent", t0.Add(2*time.Hour), time.Time{})
	n, err := s.DeleteThrottlesBefore(ctx(t), t0.Add(time.Hour))
	must(t, err, "sweep throttles")
	if n != 2 {
		t.Errorf("swept %d throttles, want 2", n)
	}
	for k, wantFailures := range map[string]int{"acct:old": 0, "acct:oldblock": 0, "acct:blocked": 1, "acct:recent": 1} {
		got, err := s.Throttle(ctx(t), k)
		must(t, err, "throttle "+k)
		if got.Failures != wantFailures {
			t.Errorf("after sweep %s has %d failures, want %d", k, got.Failures, wantFailures)
		}
	}
}

func testThrottleRace(t *testing.T, s store.Store) {
	const n = 24
	key := "acct:" + id("acct")
	other := "addr:" + id("addr")
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if i%3 == 0 {
				// Updates of another key run alongside and do not interfere.
				if _, err := s.UpdateThrottle(ctx(t), other, func(th *store.Throttle) { th.Failures++ }); err != nil {
					t.Errorf("update %s: %v", other, err)
				}
			}
			if _, err := s.UpdateThrottle(ctx(t), key, func(th *store.Throttle) {
				if th.WindowStart.IsZero() {
					th.WindowStart = t0
				}
				th.Failures++
			}); err != nil {
				t.Errorf("update %s: %v", key, err)
			}
		})
	}
	wg.Wait()
	got, err := s.Throttle(ctx(t), key)
	must(t, err, "throttle")
	if got.Failures != n {
		t.Errorf("%d concurrent increments gave %d failures", n, got.Failures)
	}
	checkTime(t, "WindowStart", got.WindowStart, t0)
	got, _ = s.Throttle(ctx(t), other)
	if got.Failures != n/3 {
		t.Errorf("%d concurrent increments of another key gave %d", n/3, got.Failures)
	}
}

func testKnownDevices(t *testing.T, s store.Store) {
	a, _ := household(t, s)
	d := store.KnownDevice{TokenHash: id("kd"), AccountID: a.ID, Name: "laptop", Created: at(0), LastUsed: at(0)}
	must(t, s.PutKnownDevice(ctx(t), d), "put known device")
	wantErr(t, s.PutKnownDevice(ctx(t), d), store.ErrConflict, "duplicate known device")
	got, err := s.KnownDevice(ctx(t), d.TokenHash)
	must(t, err, "known device")
	if diff := cmp.Diff(d, got); diff != "" {
		t.Errorf("KnownDevice (-want +got):\n%s", diff)
	}
	checkTime(t, "KnownDevice Created", got.Created, d.Created)
	_, err = s.KnownDevice(ctx(t), id("kd"))
	wantErr(t, err, store.ErrNotFound, "missing known device")
	used := at(48 * time.Hour)
	must(t, s.TouchKnownDevice(ctx(t), d.TokenHash, used), "touch known device")
	got, _ = s.KnownDevice(ctx(t), d.TokenHash)
	checkTime(t, "KnownDevice LastUsed", got.LastUsed, used)
	wantErr(t, s.TouchKnownDevice(ctx(t), id("kd"), used), store.ErrNotFound, "touch a missing known device")
}

func testNotifications(t *testing.T, s store.Store) {
	a, _ := household(t, s)
	b, _ := household(t, s)
	empty, err := s.Notifications(ctx(t), a.ID, 0, 10)
	must(t, err, "notifications of an account without any")
	if empty == nil || len(empty) != 0 {
		t.Errorf("Notifications without any = %#v, want an empty non-nil slice", empty)
	}
	var want []store.Notification
	var last int64
	for i := range 4 {
		n := store.Notification{AccountID: a.ID, Kind: "new_device", Data: []byte(fmt.Sprintf(`{"n":%d}`, i)), Created: at(time.Duration(i) * time.Second)}
		seq, err := s.AddNotification(ctx(t), n)
		must(t, err, "add notification")
		if seq <= last {
			t.Errorf("Seq %d after %d: want increasing", seq, last)
		}
		last = seq
		n.Seq = seq
		want = append(want, n)
		// Another account's notifications interleave.
		_, err = s.AddNotification(ctx(t), store.Notification{AccountID: b.ID, Kind: "other", Data: []byte("{}"), Created: t0})
		must(t, err, "add notification of b")
	}
	got, err := s.Notifications(ctx(t), a.ID, 0, 100)
	must(t, err, "notifications")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Notifications, oldest first (-want +got):\n%s", diff)
	}
	for i := range got {
		checkTime(t, "Notification Created", got[i].Created, want[i].Created)
	}
	got, err = s.Notifications(ctx(t), a.ID, want[1].Seq, 100)
	must(t, err, "notifications after")
	if diff := cmp.Diff(want[2:], got); diff != "" {
		t.Errorf("Notifications after Seq %d (-want +got):\n%s", want[1].Seq, diff)
	}
	got, err = s.Notifications(ctx(t), a.ID, 0, 2)
	must(t, err, "notifications, limited")
	if diff := cmp.Diff(want[:2], got); diff != "" {
		t.Errorf("Notifications limit 2 (-want +got):\n%s", diff)
	}
	got, err = s.Notifications(ctx(t), a.ID, want[3].Seq, 10)
	must(t, err, "notifications after the last")
	if len(got) != 0 {
		t.Errorf("Notifications after the last = %v", got)
	}
}

func testNotificationRace(t *testing.T, s store.Store) {
	a, _ := household(t, s)
	const n = 16
	seqs := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			seq, err := s.AddNotification(ctx(t), store.Notification{AccountID: a.ID, Kind: "k", Data: []byte("{}"), Created: t0})
			if err != nil {
				t.Errorf("add: %v", err)
			}
			seqs[i] = seq
		})
	}
	wg.Wait()
	got, err := s.Notifications(ctx(t), a.ID, 0, 2*n)
	must(t, err, "notifications")
	var listed []int64
	for _, x := range got {
		listed = append(listed, x.Seq)
	}
	slices.Sort(seqs)
	if diff := cmp.Diff(seqs, listed); diff != "" {
		t.Errorf("concurrently added notifications: distinct Seqs, all listed in order (-returned +listed):\n%s", diff)
	}
	if len(slices.Compact(slices.Clone(seqs))) != n {
		t.Errorf("Seqs not distinct: %v", seqs)
	}
}

func testMemberships(t *testing.T, s store.Store) {
	owner, h := household(t, s)
	member, _ := household(t, s)
	hb := hub(t, s, owner, h)
	c1, c2 := camera(t, s, hb), camera(t, s, hb)
	_, err := s.Membership(ctx(t), h.ID, member.ID)
	wantErr(t, err, store.ErrNotFound, "no membership")

	m := store.Membership{HouseholdID: h.ID, AccountID: member.ID, Cameras: []string{c1.ID, c2.ID}, Expires: at(30 * 24 * time.Hour), Created: at(0)}
	must(t, s.PutMembership(ctx(t), m), "put membership")
	sorted := cmpopts.SortSlices(func(a, b string) bool { return a < b })
	got, err := s.Membership(ctx(t), h.ID, member.ID)
	must(t, err, "membership")
	if diff := cmp.Diff(m, got, sorted); diff != "" {
		t.Errorf("Membership (-want +got):\n%s", diff)
	}
	checkTime(t, "Membership Expires", got.Expires, m.Expires)
	checkTime(t, "Membership Created", got.Created, m.Created)

	// Replace: fewer cameras, no end.
	m2 := m
	m2.Cameras, m2.Expires = []string{c2.ID}, time.Time{}
	must(t, s.PutMembership(ctx(t), m2), "replace membership")
	got, _ = s.Membership(ctx(t), h.ID, member.ID)
	if diff := cmp.Diff(m2, got, sorted); diff != "" {
		t.Errorf("replaced Membership (-want +got):\n%s", diff)
	}
	m3 := m
	m3.Cameras = nil
	must(t, s.PutMembership(ctx(t), m3), "membership of no cameras")
	got, _ = s.Membership(ctx(t), h.ID, member.ID)
	if diff := cmp.Diff(m3, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Membership of no cameras (-want +got):\n%s", diff)
	}
	_, err = s.Membership(ctx(t), h.ID, owner.ID)
	wantErr(t, err, store.ErrNotFound, "membership of another account")

	must(t, s.DeleteMembership(ctx(t), h.ID, member.ID), "delete membership")
	_, err = s.Membership(ctx(t), h.ID, member.ID)
	wantErr(t, err, store.ErrNotFound, "deleted membership")
	wantErr(t, s.DeleteMembership(ctx(t), h.ID, member.ID), store.ErrNotFound, "delete twice")
}

func testStats(t *testing.T, s store.Store) {
	got, err := s.Stats(ctx(t))
	must(t, err, "stats of an empty store")
	if diff := cmp.Diff(store.Stats{}, got); diff != "" {
		t.Errorf("Stats of an empty store (-want +got):\n%s", diff)
	}
	a, h := household(t, s)
	household(t, s)
	staff(t, s, store.RoleOperator, t0)
	c1 := camera(t, s, hub(t, s, a, h))
	c2 := camera(t, s, hub(t, s, a, h))
	camera(t, s, hub(t, s, a, h))
	var bytes int64
	for _, c := range []store.Camera{c1, c1, c2} {
		o := object(c, epoch(t, s, c), "segment", t0)
		o.Size = 1000 + int64(len(c.ID))
		bytes += o.Size
		_, err := s.PutObject(ctx(t), o, nil)
		must(t, err, "object")
	}
	got, err = s.Stats(ctx(t))
	must(t, err, "stats")
	want := store.Stats{Accounts: 3, Households: 2, Hubs: 3, Cameras: 3, Objects: 3, Bytes: bytes}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}
