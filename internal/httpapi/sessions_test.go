package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/httpapi"
	"github.com/porchlight/porchlight/internal/seal"
)

// TestOtherSessionsEnd signs an account in on two devices, makes a change
// on one that must end the other, and checks that every request of the
// other gets 401 and its open event stream ends within a second.
func TestOtherSessionsEnd(t *testing.T) {
	type setup struct {
		e      *acctEnv
		a      *account
		secret []byte // the authenticator, when factor is set
		one    device // the device that acts
		other  device // the device whose session must end
	}
	cases := []struct {
		name      string
		factor    bool // enrol an authenticator before the second device signs in
		bothEnd   bool // the acting device's session ends too
		act       func(s *setup)
		wantAfter func(s *setup) // extra checks
	}{
		{name: "password change", act: func(s *setup) {
			s.e.must(http.StatusNoContent, call{token: s.one.token}, "POST", "/v1/me/password", api.PasswordChange{NewPassword: "granite meadow " + randomHex(6) + " lantern"}, nil)
		}},
		{name: "session revoke", act: func(s *setup) {
			s.e.must(http.StatusNoContent, call{token: s.one.token}, "DELETE", "/v1/sessions/"+s.other.session, nil, nil)
		}},
		{name: "revoke others", act: func(s *setup) {
			var rv api.Revoked
			s.e.must(http.StatusOK, call{token: s.one.token}, "POST", "/v1/sessions/revoke-others", nil, &rv)
			if rv.Revoked != 1 {
				s.e.t.Errorf("revoked %d sessions, want 1", rv.Revoked)
			}
		}},
		{name: "totp added", act: func(s *setup) { s.e.enrolTOTP(s.one) }},
		{name: "totp removed", factor: true, act: func(s *setup) {
			s.e.must(http.StatusNoContent, call{token: s.one.token}, "DELETE", "/v1/me/totp", nil, nil)
		}},
		{name: "recovery codes replaced", factor: true, act: func(s *setup) {
			var rc api.RecoveryCodes
			s.e.must(http.StatusOK, call{token: s.one.token}, "POST", "/v1/me/recovery-codes", nil, &rc)
			if len(rc.Codes) != auth.RecoveryCodeCount {
				s.e.t.Errorf("%d new recovery codes", len(rc.Codes))
			}
		}},
		{name: "account disabled by the operator", bothEnd: true, act: func(s *setup) {
			admin := httptest.NewServer(s.e.srv.AdminHandler())
			defer admin.Close()
			adm := &acctEnv{t: s.e.t, url: admin.URL}
			var out api.AdminAccount
			adm.must(http.StatusOK, call{}, "POST", "/admin/accounts/disable", api.AdminAccountAction{Email: s.a.email}, &out)
			if !out.Disabled || out.SessionsEnded != 2 {
				s.e.t.Errorf("disable answered %+v, want disabled with 2 sessions ended", out)
			}
		}, wantAfter: func(s *setup) {
			var lr api.LoginResponse
			_, ae := s.e.do(call{}, "POST", "/v1/login", api.LoginRequest{Email: s.a.email, Password: s.a.password}, &lr)
			if ae.Code != api.CodeDisabled {
				s.e.t.Errorf("login of the disabled account: %q, want %s", ae.Code, api.CodeDisabled)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := startAccounts(t)
			s := &setup{e: e, a: e.signup(call{})}
			s.one = s.a.dev
			if tc.factor {
				s.secret, _ = e.enrolTOTP(s.one)
				s.other = e.loginTOTP(s.a.email, s.a.password, s.secret, "phone")
			} else {
				s.other = e.login(s.a, "phone")
			}
			e.must(http.StatusOK, call{token: s.other.token}, "GET", "/v1/me", nil, nil)
			stream := e.openEvents(call{token: s.other.token})

			start := time.Now()
			tc.act(s)
			if d := stream.endedWithin(t, start); d >= time.Second {
				t.Errorf("the other device's event stream ended %v after the change, want < 1s", d)
			} else {
				t.Logf("the other device's event stream ended %v after the change began", d.Round(time.Millisecond))
			}
			e.requireDead(s.other.token, tc.name)
			if tc.bothEnd {
				e.requireDead(s.one.token, tc.name+" (acting device)")
			} else {
				e.must(http.StatusOK, call{token: s.one.token}, "GET", "/v1/me", nil, nil)
			}
			if tc.wantAfter != nil {
				tc.wantAfter(s)
			}
		})
	}
}

// TestCredentialStuffing replays a list of leaked credentials (including
// wrong passwords for a real account) from 50 loopback addresses: every
// attempt is refused, 401 until the configured limits and 429 with
// Retry-After after them, no session is ever issued, the real owner still
// signs in from a known device during the attack, and the blocks survive a
// restart.
func TestCredentialStuffing(t *testing.T) {
	limits := auth.Limits{AccountFailures: 3, AddressFailures: 5, DeviceFailures: 5, Window: 15 * time.Minute, Block: 15 * time.Minute}
	e := startAccounts(t, withLimits(limits))
	ctx := t.Context()
	owner := e.signup(call{client: fromAddr(t, "127.0.0.200")})
	other := e.signup(call{client: fromAddr(t, "127.0.0.201")})

	const (
		attempts  = 1000
		addresses = 50
		victims   = 300
	)
	// Attempt i comes from address i%50, as that address's attempt k=i/50.
	// Two in ten are for the real accounts (wrong passwords), the rest for
	// e-mails without an account.
	leaked := make([]api.LoginRequest, attempts)
	for i := range leaked {
		email := fmt.Sprintf("victim%03d@example.net", i%victims)
		switch (i / addresses) % 10 {
		case 3:
			email = strings.ToUpper(owner.email) // the real owner, as leaked elsewhere
		case 7:
			email = other.email
		}
		leaked[i] = api.LoginRequest{Email: email, Password: fmt.Sprintf("Summer%d!%d", 2000+i%37, i), DeviceName: "bot"}
	}
	type result struct {
		status     int
		retryAfter string
		session    bool
		email      string
	}
	results := make([][]result, addresses)
	var done atomic.Int64
	var wg sync.WaitGroup
	for a := range addresses {
		client := fromAddr(t, fmt.Sprintf("127.0.0.%d", 10+a))
		wg.Go(func() {
			for i := a; i < attempts; i += addresses {
				var lr api.LoginResponse
				resp, _ := e.do(call{client: client}, "POST", "/v1/login", leaked[i], &lr)
				results[a] = append(results[a], result{resp.StatusCode, resp.Header.Get("Retry-After"), lr.Session != nil || lr.MFA != nil, strings.ToLower(leaked[i].Email)})
				done.Add(1)
			}
		})
	}
	// The owner signs in from a known device while the attack runs, even
	// from an address the attack has blocked.
	ownerIn := make(chan error, 1)
	go func() {
		for done.Load() < attempts/2 {
			time.Sleep(10 * time.Millisecond)
		}
		var lr api.LoginResponse
		resp, ae := e.do(call{client: fromAddr(t, "127.0.0.10")}, "POST", "/v1/login",
			api.LoginRequest{Email: owner.email, Password: owner.password, DeviceName: "laptop", DeviceToken: owner.dev.deviceToken}, &lr)
		switch {
		case resp.StatusCode != http.StatusOK || lr.Session == nil:
			ownerIn <- fmt.Errorf("owner with a known device during the attack: %d %s %s", resp.StatusCode, ae.Code, ae.Message)
		case lr.Session.DeviceToken != owner.dev.deviceToken:
			ownerIn <- fmt.Errorf("the known device got a new device token")
		default:
			ownerIn <- nil
		}
	}()
	wg.Wait()
	if err := <-ownerIn; err != nil {
		t.Error(err)
	}

	var n401, n429 int
	perEmail := map[string]int{}
	for a, rs := range results {
		fails := 0
		for i, r := range rs {
			if r.session {
				t.Fatalf("address %d attempt %d got a session or a challenge", a, i)
			}
			switch r.status {
			case http.StatusUnauthorized:
				n401++
				fails++
				perEmail[r.email]++
				if fails > limits.AddressFailures {
					t.Errorf("address %d: failure %d was checked, beyond the address limit %d", a, fails, limits.AddressFailures)
				}
			case http.StatusTooManyRequests:
				n429++
				if sec, err := strconv.Atoi(r.retryAfter); err != nil || sec <= 0 || sec > int(limits.Block/time.Second) {
					t.Errorf("address %d: 429 with Retry-After %q", a, r.retryAfter)
				}
			default:
				t.Fatalf("address %d attempt %d: status %d", a, i, r.status)
			}
			if fails == limits.AddressFailures && r.status == http.StatusUnauthorized {
				for _, later := range rs[i+1:] {
					if later.status != http.StatusTooManyRequests {
						t.Errorf("address %d: %d after reaching the address limit, want 429", a, later.status)
						break
					}
				}
			}
		}
	}
	for email, n := range perEmail {
		if n > limits.AccountFailures {
			t.Errorf("%s: %d passwords checked, beyond the account limit %d", email, n, limits.AccountFailures)
		}
	}
	t.Logf("%d attempts: %d checked and refused (401), %d throttled (429)", attempts, n401, n429)
	if n401+n429 != attempts || n401 > addresses*limits.AddressFailures {
		t.Errorf("401: %d, 429: %d", n401, n429)
	}
	// No session was issued to anyone but the owner's known device.
	for _, a := range []*account{owner, other} {
		ss, err := e.st.Sessions(ctx, a.id)
		if err != nil {
			t.Fatal(err)
		}
		want := 1
		if a == owner {
			want = 2
		}
		if len(ss) != want {
			t.Errorf("account has %d sessions after the attack, want %d", len(ss), want)
		}
	}

	// The blocks hold across a restart of the service on the same store.
	e.restart()
	resp, ae := e.do(call{client: fromAddr(t, "127.0.0.11")}, "POST", "/v1/login", api.LoginRequest{Email: "fresh@example.net", Password: "whatever it is"}, nil)
	if _, err := retryAfter(resp); resp.StatusCode != http.StatusTooManyRequests || ae.Code != api.CodeRateLimited || err != nil {
		t.Errorf("attacking address after restart: %d %s (%v), want 429 rate_limited with Retry-After", resp.StatusCode, ae.Code, err)
	}
	resp, _ = e.do(call{client: fromAddr(t, "127.0.0.202")}, "POST", "/v1/login", api.LoginRequest{Email: owner.email, Password: owner.password}, nil)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the attacked account from a new device after restart: %d, want 429", resp.StatusCode)
	}
	var lr api.LoginResponse
	e.must(http.StatusOK, call{client: fromAddr(t, "127.0.0.12")}, "POST", "/v1/login",
		api.LoginRequest{Email: owner.email, Password: owner.password, DeviceToken: owner.dev.deviceToken}, &lr)
	if lr.Session == nil {
		t.Error("owner with a known device after restart: no session")
	}
	// A known device is held to its own limit: a wrong password from it
	// counts there, and after the limit it is throttled too.
	for i := range limits.DeviceFailures + 1 {
		resp, _ := e.do(call{}, "POST", "/v1/login", api.LoginRequest{Email: owner.email, Password: "wrong " + owner.password, DeviceToken: owner.dev.deviceToken}, nil)
		want := http.StatusUnauthorized
		if i >= limits.DeviceFailures {
			want = http.StatusTooManyRequests
		}
		if resp.StatusCode != want {
			t.Errorf("known device, wrong password %d: %d, want %d", i+1, resp.StatusCode, want)
		}
	}
}

// TestTOTPAndRecoveryCodes runs the authenticator and recovery codes end to
// end.
func TestTOTPAndRecoveryCodes(t *testing.T) {
	e := startAccounts(t, withLimits(auth.Limits{AccountFailures: 50}))
	ctx := t.Context()
	a := e.signup(call{})
	d := call{token: a.dev.token}

	// Enrolment: a pending authenticator does not count; a wrong code is refused.
	var setup api.TOTPSetup
	e.must(http.StatusOK, d, "POST", "/v1/me/totp", nil, &setup)
	e.login(a, "still password only")
	wrong := "000000"
	secret, _ := decodeSecret(setup.Secret)
	if e.totpCode(secret) == wrong {
		wrong = "111111"
	}
	if st, _ := e.status(d, "POST", "/v1/me/totp/confirm", api.TOTPConfirm{Code: wrong}); st != http.StatusBadRequest {
		t.Errorf("confirm with a wrong code: %d, want 400", st)
	}
	secret, codes := e.enrolTOTP(a.dev) // replaces the pending one
	if st, _ := e.status(d, "POST", "/v1/me/totp", nil); st != http.StatusConflict {
		t.Errorf("a second authenticator: %d, want 409", st)
	}
	var me api.Me
	e.must(http.StatusOK, d, "GET", "/v1/me", nil, &me)
	if !me.TOTP || me.RecoveryCodesLeft != auth.RecoveryCodeCount {
		t.Errorf("me after enrolment: %+v", me)
	}

	// The password alone no longer yields a session; the challenge token is no session.
	ch := e.challenge(a.email, a.password)
	if !slices.Equal(ch.Methods, []string{api.MethodTOTP, api.MethodRecovery}) {
		t.Errorf("methods %v", ch.Methods)
	}
	if st, _ := e.status(call{token: ch.Token}, "GET", "/v1/me", nil); st != http.StatusUnauthorized {
		t.Errorf("the challenge token as a session: %d", st)
	}
	// The code used to confirm is not accepted again (same step).
	if st, _ := e.status(call{}, "POST", "/v1/login/mfa", api.MFAAnswer{Token: ch.Token, Code: e.totpCode(secret)}); st != http.StatusUnauthorized {
		t.Errorf("replayed confirmation code: %d, want 401", st)
	}
	code := e.nextCode(secret)
	var sr api.SessionResponse
	e.must(http.StatusOK, call{}, "POST", "/v1/login/mfa", api.MFAAnswer{Token: ch.Token, Code: code, DeviceName: "phone"}, &sr)
	e.must(http.StatusOK, call{token: sr.Token}, "GET", "/v1/me", nil, nil)
	// The challenge is used up, and the code cannot be replayed on a new one.
	if st, _ := e.status(call{}, "POST", "/v1/login/mfa", api.MFAAnswer{Token: ch.Token, Code: code}); st != http.StatusUnauthorized {
		t.Errorf("second answer to a used challenge: %d", st)
	}
	ch = e.challenge(a.email, a.password)
	if st, _ := e.status(call{}, "POST", "/v1/login/mfa", api.MFAAnswer{Token: ch.Token, Code: code}); st != http.StatusUnauthorized {
		t.Errorf("replayed code on a new challenge: %d, want 401", st)
	}

	// Five wrong answers end the challenge; each counts toward the account's limit.
	key := auth.AccountKey(a.email)
	before, _ := e.st.Throttle(ctx, key)
	ch = e.challenge(a.email, a.password)
	for i := range 5 {
		st, _ := e.status(call{}, "POST", "/v1/login/mfa", api.MFAAnswer{Token: ch.Token, Code: fmt.Sprintf("%06d", (i*7919+13)%1000000)})
		if st != http.StatusUnauthorized {
			t.Errorf("wrong answer %d: %d", i+1, st)
		}
	}
	if st, _ := e.status(call{}, "POST", "/v1/login/mfa", api.MFAAnswer{Token: ch.Token, Code: e.nextCode(secret)}); st != http.StatusUnauthorized {
		t.Errorf("right code after five wrong ones: %d, want 401 (challenge ended)", st)
	}
	after, _ := e.st.Throttle(ctx, key)
	if after.Failures-before.Failures != 5 {
		t.Errorf("account failures went from %d to %d, want +5", before.Failures, after.Failures)
	}

	// A recovery code works once, ends every other session and says how many are left.
	survivor := e.loginTOTP(a.email, a.password, secret, "tablet")
	ch = e.challenge(a.email, a.password)
	var rs api.SessionResponse
	e.must(http.StatusOK, call{}, "POST", "/v1/login/mfa", api.MFAAnswer{Token: ch.Token, RecoveryCode: strings.ToUpper(codes[0]), DeviceName: "new phone"}, &rs)
	if rs.RecoveryCodesLeft == nil || *rs.RecoveryCodesLeft != auth.RecoveryCodeCount-1 {
		t.Errorf("recovery codes left: %v", rs.RecoveryCodesLeft)
	}
	for _, tok := range []string{a.dev.token, sr.Token, survivor.token} {
		if st, _ := e.status(call{token: tok}, "GET", "/v1/me", nil); st != http.StatusUnauthorized {
			t.Errorf("another session after a recovery sign-in: %d, want 401", st)
		}
	}
	ch = e.challenge(a.email, a.password)
	if st, _ := e.status(call{}, "POST", "/v1/login/mfa", api.MFAAnswer{Token: ch.Token, RecoveryCode: codes[0]}); st != http.StatusUnauthorized {
		t.Errorf("second use of a recovery code: %d, want 401", st)
	}
	var ns api.Notifications
	e.must(http.StatusOK, call{token: rs.Token}, "GET", "/v1/notifications", nil, &ns)
	if !slices.ContainsFunc(ns.Notifications, func(n api.Notification) bool { return n.Kind == api.NoticeRecoveryUsed }) {
		t.Errorf("no %s notification: %+v", api.NoticeRecoveryUsed, ns.Notifications)
	}
	// Exactly one answer: a code and a recovery code together are refused.
	ch = e.challenge(a.email, a.password)
	if st, _ := e.status(call{}, "POST", "/v1/login/mfa", api.MFAAnswer{Token: ch.Token, Code: "123456", RecoveryCode: codes[1]}); st != http.StatusBadRequest {
		t.Errorf("two answers at once: %d, want 400", st)
	}
	// Removing the authenticator brings back password-only sign-in and drops the recovery codes.
	e.must(http.StatusNoContent, call{token: rs.Token}, "DELETE", "/v1/me/totp", nil, nil)
	e.login(a, "after removal")
	if n, _ := e.st.RecoveryCodesLeft(ctx, a.id); n != 0 {
		t.Errorf("%d recovery codes left without a factor", n)
	}
	if st, _ := e.status(call{token: rs.Token}, "POST", "/v1/me/recovery-codes", nil); st != http.StatusConflict {
		t.Errorf("recovery codes without a factor: %d, want 409", st)
	}
	e.noSecrets(map[string]string{
		"e-mail": a.email, "password": a.password, "session token": rs.Token, "device token": rs.DeviceToken,
		"first device token": a.dev.deviceToken, "challenge token": ch.Token, "recovery code": codes[0],
		"recovery code (bare)": strings.ReplaceAll(codes[1], "-", ""), "totp secret": base32Raw.EncodeToString(secret),
	})
}

func decodeSecret(s string) ([]byte, error) {
	return base32Raw.DecodeString(s)
}

// TestReauth checks the recent-sign-in rule and token rotation.
func TestReauth(t *testing.T) {
	e := startAccounts(t)
	a := e.signup(call{})
	tok := a.dev.token
	e.clock.Advance(api.ReauthWindow + time.Minute)

	sensitive := []struct {
		method, path string
		body         any
	}{
		{"POST", "/v1/me/password", api.PasswordChange{NewPassword: "velvet canyon " + randomHex(6) + " orchard"}},
		{"PATCH", "/v1/me", api.EmailChange{Email: "new-" + randomHex(4) + "@example.org"}},
		{"POST", "/v1/me/totp", nil},
		{"POST", "/v1/me/totp/confirm", api.TOTPConfirm{Code: "123456"}},
		{"DELETE", "/v1/me/totp", nil},
		{"POST", "/v1/me/recovery-codes", nil},
		{"POST", "/v1/me/passkeys/begin", nil},
		{"DELETE", "/v1/me/passkeys/" + seal.NewID(), nil},
		{"POST", "/v1/roster", api.RosterAppend{Signed: []byte("{}")}},
		{"POST", "/v1/claims/AAAA-BBBB-CCCC/confirm", api.ClaimConfirm{HubID: seal.NewID()}},
	}
	for _, r := range sensitive {
		if st, code := e.status(call{token: tok}, r.method, r.path, r.body); st != http.StatusForbidden || code != api.CodeReauthRequired {
			t.Errorf("%s %s with a sign-in 6 minutes old: %d %s, want 403 %s", r.method, r.path, st, code, api.CodeReauthRequired)
		}
	}
	// Non-sensitive routes still work.
	e.must(http.StatusOK, call{token: tok}, "GET", "/v1/sessions", nil, nil)

	// A wrong password is refused without ending the session.
	if st, _ := e.status(call{token: tok}, "POST", "/v1/reauth", api.ReauthRequest{Password: "not it at all"}); st != http.StatusForbidden {
		t.Errorf("reauth with a wrong password: %d, want 403", st)
	}
	var lr api.LoginResponse
	e.must(http.StatusOK, call{token: tok}, "POST", "/v1/reauth", api.ReauthRequest{Password: a.password}, &lr)
	if lr.Session == nil || lr.Session.SessionID != a.dev.session || lr.Session.Token == tok || lr.MFA != nil {
		t.Fatalf("reauth answer %+v", lr)
	}
	e.requireDead(tok, "the token before reauth")
	tok = lr.Session.Token
	var me api.Me
	e.must(http.StatusOK, call{token: tok}, "GET", "/v1/me", nil, &me)
	if !me.AuthAt.Equal(e.clock.Now()) || me.SessionID != a.dev.session {
		t.Errorf("me after reauth: %+v", me)
	}
	newPassword := sensitive[0].body.(api.PasswordChange).NewPassword
	e.must(http.StatusNoContent, call{token: tok}, "POST", "/v1/me/password", sensitive[0].body, nil)
	e.must(http.StatusOK, call{token: tok}, "PATCH", "/v1/me", sensitive[1].body, nil)

	// With an authenticator, reauth asks for it too and rotates on the answer.
	secret, _ := e.enrolTOTP(device{token: tok})
	e.clock.Advance(api.ReauthWindow + time.Minute)
	lr = api.LoginResponse{}
	e.must(http.StatusOK, call{token: tok}, "POST", "/v1/reauth", api.ReauthRequest{Password: newPassword}, &lr)
	if lr.Session != nil || lr.MFA == nil || !slices.Contains(lr.MFA.Methods, api.MethodTOTP) {
		t.Fatalf("reauth with an authenticator answered %+v, want only a challenge", lr)
	}
	if st, code := e.status(call{token: tok}, "DELETE", "/v1/me/totp", nil); code != api.CodeReauthRequired {
		t.Errorf("before answering the challenge: %d %s, want %s", st, code, api.CodeReauthRequired)
	}
	var sr api.SessionResponse
	e.must(http.StatusOK, call{}, "POST", "/v1/login/mfa", api.MFAAnswer{Token: lr.MFA.Token, Code: e.nextCode(secret)}, &sr)
	if sr.SessionID != a.dev.session || sr.Token == tok || sr.Token == "" {
		t.Fatalf("reauth by authenticator answered %+v", sr)
	}
	e.requireDead(tok, "the token before the second reauth")
	e.must(http.StatusNoContent, call{token: sr.Token}, "DELETE", "/v1/me/totp", nil, nil)
	if ss, err := e.st.Sessions(t.Context(), a.id); err != nil || len(ss) != 1 {
		t.Errorf("sessions after reauth: %d, %v; want the one rotated session", len(ss), err)
	}
}

// TestCookieSessions checks the cookie's attributes and the Origin rule.
func TestCookieSessions(t *testing.T) {
	const origin = "https://cams.example"
	e := startAccounts(t, withOrigin(origin))
	email, password := "cookie-"+randomHex(4)+"@example.org", "amber trellis "+randomHex(6)+" comet"
	var sr api.SessionResponse
	resp := e.must(http.StatusCreated, call{}, "POST", "/v1/signup", api.SignupRequest{Email: email, Password: password, Cookie: true}, &sr)
	if sr.Token != "" {
		t.Error("a cookie signup also returned the token in the body")
	}
	cookies := resp.Header.Values("Set-Cookie")
	if len(cookies) != 1 {
		t.Fatalf("Set-Cookie: %q", cookies)
	}
	name, rest, _ := strings.Cut(cookies[0], "=")
	tok, attrs, _ := strings.Cut(rest, "; ")
	want := fmt.Sprintf("Path=/; Max-Age=%d; HttpOnly; Secure; SameSite=Strict", int(auth.AbsoluteTimeout/time.Second))
	if name != api.SessionCookie || !auth.ValidToken(tok, auth.SessionPrefix) || attrs != want {
		t.Errorf("Set-Cookie %q, want %s=pls_…; %s", cookies[0], api.SessionCookie, want)
	}

	for _, tc := range []struct {
		name   string
		c      call
		status int
	}{
		{"no Origin", call{cookie: tok}, http.StatusForbidden},
		{"no Origin, a browser's own same-origin GET", call{cookie: tok, header: map[string]string{"Sec-Fetch-Site": "same-origin"}}, http.StatusOK},
		{"no Origin, a cross-site GET", call{cookie: tok, header: map[string]string{"Sec-Fetch-Site": "cross-site"}}, http.StatusForbidden},
		{"no Origin, a same-site GET", call{cookie: tok, header: map[string]string{"Sec-Fetch-Site": "same-site"}}, http.StatusForbidden},
		{"another origin", call{cookie: tok, origin: "https://evil.example"}, http.StatusForbidden},
		{"same host, other scheme", call{cookie: tok, origin: "http://cams.example"}, http.StatusForbidden},
		{"null origin", call{cookie: tok, origin: "null"}, http.StatusForbidden},
		{"the service's origin", call{cookie: tok, origin: origin}, http.StatusOK},
		{"the service's origin, other case", call{cookie: tok, origin: "https://CAMS.example"}, http.StatusOK},
		{"a bearer token wins over the cookie", call{cookie: tok, origin: origin, token: "pls_" + strings.Repeat("A", 43)}, http.StatusUnauthorized},
	} {
		if st, _ := e.status(tc.c, "GET", "/v1/me", nil); st != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, st, tc.status)
		}
	}
	// Sec-Fetch-Site stands in for Origin on GET only: a POST must carry Origin.
	if st, _ := e.status(call{cookie: tok, header: map[string]string{"Sec-Fetch-Site": "same-origin"}}, "POST", "/v1/me/recovery-codes", nil); st != http.StatusForbidden {
		t.Errorf("a cookie POST without Origin: %d, want 403", st)
	}
	// A cookie re-authentication sets the new cookie.
	var lr api.LoginResponse
	resp = e.must(http.StatusOK, call{cookie: tok, origin: origin}, "POST", "/v1/reauth", api.ReauthRequest{Password: password}, &lr)
	rotated := ""
	for _, c := range resp.Cookies() {
		if c.Name == api.SessionCookie {
			rotated = c.Value
		}
	}
	if lr.Session == nil || lr.Session.Token != "" || rotated == "" || rotated == tok {
		t.Errorf("cookie reauth: %+v, cookie %q", lr, rotated)
	}
	if st, _ := e.status(call{cookie: tok, origin: origin}, "GET", "/v1/me", nil); st != http.StatusUnauthorized {
		t.Errorf("the old cookie after reauth: %d, want 401", st)
	}
	// Logout clears it.
	resp = e.must(http.StatusNoContent, call{cookie: rotated, origin: origin}, "POST", "/v1/logout", nil, nil)
	if c := resp.Header.Get("Set-Cookie"); !strings.HasPrefix(c, api.SessionCookie+"=;") || !strings.Contains(c, "Max-Age=0") {
		t.Errorf("logout Set-Cookie %q", c)
	}

	// Without a PublicOrigin, the request's own origin is the one.
	e2 := startAccounts(t)
	e2.must(http.StatusCreated, call{}, "POST", "/v1/signup", api.SignupRequest{Email: email, Password: password, Cookie: true}, &sr)
	var tok2 string
	for _, c := range e2.must(http.StatusOK, call{}, "POST", "/v1/login", api.LoginRequest{Email: email, Password: password, Cookie: true}, nil).Cookies() {
		tok2 = c.Value
	}
	if st, _ := e2.status(call{cookie: tok2, origin: e2.url}, "GET", "/v1/me", nil); st != http.StatusOK {
		t.Errorf("cookie with the request's own origin: %d", st)
	}
	if st, _ := e2.status(call{cookie: tok2, origin: origin}, "GET", "/v1/me", nil); st != http.StatusForbidden {
		t.Errorf("cookie with a foreign origin: %d", st)
	}
}

// TestNewDeviceNotification checks that a sign-in from a new device is
// stored, listed and streamed to the account's other devices, and that a
// known device raises none.
func TestNewDeviceNotification(t *testing.T) {
	e := startAccounts(t)
	a := e.signup(call{})
	stream := e.openEvents(call{token: a.dev.token})

	var lr api.LoginResponse
	e.must(http.StatusOK, call{header: map[string]string{"User-Agent": "porchlight-cli/9.9 (linux/amd64)"}}, "POST", "/v1/login",
		api.LoginRequest{Email: a.email, Password: a.password, DeviceName: "kitchen tablet"}, &lr)
	got := stream.next(t)
	if got.Kind != api.NoticeNewSignIn || got.DeviceName != "kitchen tablet" || got.Client != "porchlight-cli/9.9 (linux/amd64)" ||
		got.AddrPrefix != "127.0.0.0/24" || got.Method != "password" || got.Seq == 0 {
		t.Errorf("streamed notification %+v", got)
	}
	var ns api.Notifications
	e.must(http.StatusOK, call{token: a.dev.token}, "GET", "/v1/notifications", nil, &ns)
	if len(ns.Notifications) != 1 || ns.Notifications[0] != got {
		t.Errorf("listed notifications %+v, want exactly the streamed one", ns.Notifications)
	}
	e.must(http.StatusOK, call{token: a.dev.token}, "GET", fmt.Sprintf("/v1/notifications?after=%d", got.Seq), nil, &ns)
	if len(ns.Notifications) != 0 {
		t.Errorf("notifications after the last: %+v", ns.Notifications)
	}

	// The known device signs in again: no notification.
	e.must(http.StatusOK, call{}, "POST", "/v1/login", api.LoginRequest{Email: a.email, Password: a.password, DeviceToken: lr.Session.DeviceToken}, &lr)
	// A device token of another account is not a known device here.
	b := e.signup(call{})
	e.must(http.StatusOK, call{}, "POST", "/v1/login", api.LoginRequest{Email: a.email, Password: a.password, DeviceToken: b.dev.deviceToken, DeviceName: "b's phone"}, nil)
	if n := stream.next(t); n.DeviceName != "b's phone" {
		t.Errorf("next notification %+v, want the sign-in with another account's device token", n)
	}
	e.must(http.StatusOK, call{token: a.dev.token}, "GET", "/v1/notifications", nil, &ns)
	if len(ns.Notifications) != 2 {
		t.Errorf("%d notifications, want 2", len(ns.Notifications))
	}

	// A stream resumed with Last-Event-ID sends only what came after.
	resumed := e.openEvents(call{token: a.dev.token, header: map[string]string{"Last-Event-ID": fmt.Sprint(got.Seq)}})
	if n := resumed.next(t); n.Seq <= got.Seq {
		t.Errorf("resumed stream replayed seq %d", n.Seq)
	}
}

// TestStreamEndsOnOtherReplica ends a session on one replica (a second
// Server on the same store) and checks that a stream held by the first
// notices within a second, by re-reading the store.
func TestStreamEndsOnOtherReplica(t *testing.T) {
	e := startAccounts(t)
	a := e.signup(call{})
	b := e.login(a, "phone")
	stream := e.openEvents(call{token: b.token})

	replica := &httpapi.Server{Store: e.st, Blobs: e.srv.Blobs, Now: e.clock.Now, Logger: e.srv.Logger}
	ts := httptest.NewServer(replica.Handler())
	defer ts.Close()
	other := &acctEnv{t: t, url: ts.URL}
	start := time.Now()
	other.must(http.StatusOK, call{token: a.dev.token}, "POST", "/v1/sessions/revoke-others", nil, nil)
	if d := stream.endedWithin(t, start); d >= time.Second {
		t.Errorf("stream ended %v after another replica revoked its session, want < 1s", d)
	}

	// Idle expiry also ends a stream.
	c := e.login(a, "tv")
	stream = e.openEvents(call{token: c.token})
	start = time.Now()
	e.clock.Advance(auth.IdleTimeout + time.Minute)
	if d := stream.endedWithin(t, start); d >= time.Second {
		t.Errorf("stream ended %v after its session went idle, want < 1s", d)
	}
}

// TestSecurityHeaders checks the headers of every route, signed in or not.
func TestSecurityHeaders(t *testing.T) {
	e := startAccounts(t)
	a := e.signup(call{})
	want := map[string]string{
		"Cache-Control": "no-store", "Vary": "Authorization, Cookie", "X-Content-Type-Options": "nosniff",
		"Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'",
	}
	check := func(what string, resp *http.Response) {
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", what, k, got, v)
			}
		}
	}
	for _, r := range e.userRoutes() {
		if r[1] == "/v1/events" || r[1] == "/v1/logout" {
			continue // a stream (checked below) and the end of this session
		}
		resp, _ := e.do(call{token: a.dev.token}, r[0], r[1], map[string]any{}, nil)
		check(r[0]+" "+r[1], resp)
		resp, _ = e.do(call{}, r[0], r[1], map[string]any{}, nil)
		check(r[0]+" "+r[1]+" without a session", resp)
	}
	resp, _ := e.do(call{}, "GET", "/healthz", nil, nil)
	check("GET /healthz", resp)
	resp, _ = e.do(call{}, "POST", "/v1/login", api.LoginRequest{Email: "x@example.org", Password: "y"}, nil)
	check("POST /v1/login", resp)
}
