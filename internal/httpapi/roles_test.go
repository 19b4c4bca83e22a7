package httpapi_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
	"github.com/porchlight/porchlight/internal/testutil/softauthn"
)

// TestMemberReadsInScope checks the member path: a customer with a
// membership of another household may use the read routes of the cameras
// in its scope until it expires; nothing else.
func TestMemberReadsInScope(t *testing.T) {
	ae := startAccounts(t)
	ctx := t.Context()
	ev := &env{t: t, url: ae.url, clock: ae.clock}
	o := signup(t, ev)
	hub := claimHub(t, ev, o)
	cam := hub.camera()
	outside := hub.camera()
	ep, rcpt := hub.epoch(cam)
	seg := hub.segment(cam, ep, rcpt, 0, ae.clock.Now().Add(-time.Minute))
	hub.manifest(cam, ep, rcpt, 0, []seal.ManifestObject{seg})

	m := ae.signup(call{})
	err := ae.st.PutMembership(ctx, store.Membership{HouseholdID: o.household, AccountID: m.id, Cameras: []string{cam},
		Expires: ae.clock.Now().Add(time.Hour), Created: ae.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	mc := call{token: m.dev.token}
	from, to := ae.clock.Now().Add(-time.Hour).Format(time.RFC3339), ae.clock.Now().Format(time.RFC3339)
	reads := [][2]string{
		{"GET", "/v1/cameras/" + cam + "/epochs?device=" + seal.NewID()},
		{"GET", "/v1/cameras/" + cam + "/manifests?from=" + from + "&to=" + to},
		{"GET", "/v1/objects/" + seg.ID},
	}
	for _, r := range reads {
		ae.must(http.StatusOK, mc, r[0], r[1], nil, nil)
	}
	days := 1
	if st, _ := ae.status(mc, "PATCH", "/v1/cameras/"+cam, api.CameraUpdate{RetentionDays: &days}); st != http.StatusForbidden {
		t.Errorf("member changing an in-scope camera: %d, want 403", st)
	}
	if st, _ := ae.status(mc, "GET", "/v1/cameras/"+outside+"/epochs?device="+seal.NewID(), nil); st != http.StatusForbidden {
		t.Errorf("member reading a camera outside its scope: %d, want 403", st)
	}
	var cams []api.Camera
	ae.must(http.StatusOK, mc, "GET", "/v1/cameras", nil, &cams)
	if len(cams) != 0 {
		t.Errorf("the member's own camera list shows %d cameras", len(cams))
	}
	// Expired: refused, with a message saying access ended.
	ae.clock.Advance(2 * time.Hour)
	for _, r := range reads {
		if st, _ := ae.status(mc, r[0], r[1], nil); st != http.StatusForbidden {
			t.Errorf("expired member on %s %s: %d, want 403", r[0], r[1], st)
		}
	}
	// Every read is in the owner's log as the member's access, and every
	// refusal as a denial.
	log := readOwnerLog(ae, o)
	reads2 := find(log, api.AuditAccess, "fetch", "")
	if len(reads2) != len(reads) {
		t.Errorf("%d member reads logged, want %d", len(reads2), len(reads))
	}
	for _, l := range reads2 {
		if l.Body.Actor.Kind != api.ActorMember || l.Body.Actor.Account != m.id {
			t.Errorf("member read logged with actor %+v", l.Body.Actor)
		}
	}
	if n := len(find(log, api.AuditDenial, "denied", "")); n != 2+len(reads) {
		t.Errorf("%d denials logged, want %d", n, 2+len(reads))
	}
}

// TestReauthWithPasskeyOnly re-authenticates with a passkey alone.
func TestReauthWithPasskeyOnly(t *testing.T) {
	e := startAccounts(t)
	a := e.signup(call{})
	authn := softauthn.New("http://localhost")
	var begin api.PasskeyBegin
	e.must(http.StatusOK, call{token: a.dev.token}, "POST", "/v1/me/passkeys/begin", nil, &begin)
	cred, _, err := authn.Create(begin.Options)
	if err != nil {
		t.Fatal(err)
	}
	e.must(http.StatusCreated, call{token: a.dev.token}, "POST", "/v1/me/passkeys/finish", api.PasskeyRegister{Token: begin.Token, Name: "key", Credential: cred}, nil)

	e.clock.Advance(api.ReauthWindow + time.Minute)
	var lr api.LoginResponse
	e.must(http.StatusOK, call{token: a.dev.token}, "POST", "/v1/reauth", api.ReauthRequest{}, &lr)
	if lr.MFA == nil || !slices.Equal(lr.MFA.Methods, []string{api.MethodPasskey}) {
		t.Fatalf("passwordless reauth answered %+v, want a passkey-only challenge", lr)
	}
	assertion, err := authn.Get(lr.MFA.Passkey)
	if err != nil {
		t.Fatal(err)
	}
	var sr api.SessionResponse
	e.must(http.StatusOK, call{}, "POST", "/v1/login/mfa", api.MFAAnswer{Token: lr.MFA.Token, Passkey: assertion}, &sr)
	if sr.SessionID != a.dev.session || sr.Token == a.dev.token {
		t.Fatalf("passkey reauth answered %+v", sr)
	}
	e.must(http.StatusOK, call{token: sr.Token}, "POST", "/v1/me/recovery-codes", nil, nil)
	if st, _ := e.status(call{token: a.dev.token}, "GET", "/v1/me", nil); st != http.StatusUnauthorized {
		t.Errorf("the token before reauth: %d", st)
	}
	// A passkey-only challenge does not take a recovery code.
	e.clock.Advance(api.ReauthWindow + time.Minute)
	e.must(http.StatusOK, call{token: sr.Token}, "POST", "/v1/reauth", api.ReauthRequest{}, &lr)
	if st, _ := e.status(call{}, "POST", "/v1/login/mfa", api.MFAAnswer{Token: lr.MFA.Token, RecoveryCode: "aaaa-bbbb-cccc"}); st != http.StatusBadRequest {
		t.Errorf("recovery code on a passkey-only challenge: %d, want 400", st)
	}
}

// TestSessionsListAndEmail checks the session list and e-mail changes.
func TestSessionsListAndEmail(t *testing.T) {
	e := startAccounts(t)
	a := e.signup(call{})
	b := e.login(a, "phone")
	var ss api.Sessions
	e.must(http.StatusOK, call{token: b.token, header: map[string]string{"User-Agent": "test-agent/1"}}, "GET", "/v1/sessions", nil, &ss)
	if len(ss.Sessions) != 2 {
		t.Fatalf("sessions %+v", ss)
	}
	for _, s := range ss.Sessions {
		if s.Current != (s.ID == b.session) || s.AddrPrefix != "127.0.0.0/24" || s.Client == "" || s.ExpiresAt.IsZero() {
			t.Errorf("session %+v", s)
		}
	}
	// Another account's session is not found, and stays.
	c := e.signup(call{})
	if st, _ := e.status(call{token: a.dev.token}, "DELETE", "/v1/sessions/"+c.dev.session, nil); st != http.StatusNotFound {
		t.Errorf("revoking another account's session: %d, want 404", st)
	}
	e.must(http.StatusOK, call{token: c.dev.token}, "GET", "/v1/me", nil, nil)

	// E-mail: taken → 409; changed → notification, and the new address signs in.
	if st, _ := e.status(call{token: a.dev.token}, "PATCH", "/v1/me", api.EmailChange{Email: c.email}); st != http.StatusConflict {
		t.Errorf("a taken e-mail: %d, want 409", st)
	}
	newEmail := "moved-" + randomHex(4) + "@example.org"
	var me api.Me
	e.must(http.StatusOK, call{token: a.dev.token}, "PATCH", "/v1/me", api.EmailChange{Email: " " + newEmail}, &me)
	if me.Email != newEmail {
		t.Errorf("me after the change: %+v", me)
	}
	var ns api.Notifications
	e.must(http.StatusOK, call{token: a.dev.token}, "GET", "/v1/notifications", nil, &ns)
	if !slices.ContainsFunc(ns.Notifications, func(n api.Notification) bool { return n.Kind == api.NoticeEmailChange }) {
		t.Errorf("no %s notification in %+v", api.NoticeEmailChange, ns.Notifications)
	}
	a.email = newEmail
	e.login(a, "after move")
}

// TestCloseStreams checks that CloseStreams ends open streams (for a
// graceful shutdown) and that the sessions stay valid.
func TestCloseStreams(t *testing.T) {
	e := startAccounts(t)
	a := e.signup(call{})
	stream := e.openEvents(call{token: a.dev.token})
	start := time.Now()
	e.srv.CloseStreams()
	if d := stream.endedWithin(t, start); d >= time.Second {
		t.Errorf("stream ended %v after CloseStreams", d)
	}
	e.must(http.StatusOK, call{token: a.dev.token}, "GET", "/v1/me", nil, nil)
}
