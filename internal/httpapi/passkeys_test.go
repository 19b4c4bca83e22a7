package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/blob/disk"
	"github.com/porchlight/porchlight/internal/httpapi"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
	"github.com/porchlight/porchlight/internal/store/sqlite"
	"github.com/porchlight/porchlight/internal/testutil"
	"github.com/porchlight/porchlight/internal/testutil/softauthn"
)

// pkEnv is an httpapi.Server on a real loopback listener with its store at
// hand (for staff accounts and second factors the API cannot create).
type pkEnv struct {
	t      *testing.T
	url    string
	st     store.Store
	clock  *clock
	logs   *testutil.SyncBuffer
	origin string // the web origin the authenticator reports
}

// startPasskeys starts a server with the given PublicOrigin and RPID;
// empty ones are the loopback development defaults, under which the
// authenticator acts as a page of http://localhost:PORT.
func startPasskeys(t *testing.T, publicOrigin, rpID string) *pkEnv {
	t.Helper()
	e := &pkEnv{t: t, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}, logs: &testutil.SyncBuffer{}}
	dir := t.TempDir()
	st, err := sqlitestore.Open(t.Context(), filepath.Join(dir, "porchlight.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := diskblob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatalf("open blobs: %v", err)
	}
	e.st = st
	srv := &httpapi.Server{
		Store: st, Blobs: blobs, Now: e.clock.Now, PublicOrigin: publicOrigin, RPID: rpID, Audit: openAudit(t, dir),
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	e.url = ts.URL
	e.origin = publicOrigin
	if e.origin == "" {
		u, _ := url.Parse(ts.URL)
		e.origin = "http://localhost:" + u.Port()
	}
	return e
}

// call sends a JSON request; it decodes a 2xx answer into out and returns
// the status and, on failure, the error body.
func (e *pkEnv) call(method, path, token string, in, out any) (int, api.Error) {
	e.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			e.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		e.t.Errorf("%s %s: Cache-Control = %q", method, path, cc)
	}
	var apiErr api.Error
	if resp.StatusCode/100 != 2 {
		if err := json.Unmarshal(raw, &apiErr); err != nil || apiErr.ID == "" {
			e.t.Errorf("%s %s: error body %q is not an api.Error with an id", method, path, raw)
		}
		return resp.StatusCode, apiErr
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, apiErr
}

// must is call that fails the test unless the status is want.
func (e *pkEnv) must(want int, method, path, token string, in, out any) {
	e.t.Helper()
	if got, apiErr := e.call(method, path, token, in, out); got != want {
		e.t.Fatalf("%s %s = %d %s (%s), want %d", method, path, got, apiErr.Code, apiErr.Message, want)
	}
}

// pkAccount is a signed-up customer.
type pkAccount struct {
	email, password, token string
}

func (e *pkEnv) signup() *pkAccount {
	e.t.Helper()
	a := &pkAccount{email: "pk-" + randomHex(4) + "@example.org", password: "correct horse battery " + randomHex(4)}
	var resp api.SessionResponse
	e.must(http.StatusCreated, "POST", "/v1/signup", "", api.SignupRequest{Email: a.email, Password: a.password, DeviceName: "laptop"}, &resp)
	if resp.Token == "" {
		e.t.Fatal("signup returned no token")
	}
	a.token = resp.Token
	return a
}

// login signs in with the password; it returns the answer (a session or an
// MFA challenge).
func (e *pkEnv) login(a *pkAccount, device string) api.LoginResponse {
	e.t.Helper()
	var resp api.LoginResponse
	e.must(http.StatusOK, "POST", "/v1/login", "", api.LoginRequest{Email: a.email, Password: a.password, DeviceName: device}, &resp)
	return resp
}

// alive reports whether a session token still works.
func (e *pkEnv) alive(token string) bool {
	e.t.Helper()
	st, apiErr := e.call("GET", "/v1/me", token, nil, nil)
	if st != http.StatusOK && st != http.StatusUnauthorized {
		e.t.Fatalf("GET /v1/me = %d %s", st, apiErr.Message)
	}
	return st == http.StatusOK
}

// register adds a passkey made by authn to the account of token.
func (e *pkEnv) register(token string, authn *softauthn.Authenticator, name string) api.Passkey {
	e.t.Helper()
	var begin api.PasskeyBegin
	e.must(http.StatusOK, "POST", "/v1/me/passkeys/begin", token, nil, &begin)
	if !strings.HasPrefix(begin.Token, auth.CeremonyPrefix) {
		e.t.Fatalf("ceremony token %q", begin.Token)
	}
	cred, _, err := authn.Create(begin.Options)
	if err != nil {
		e.t.Fatalf("authenticator create: %v", err)
	}
	var pk api.Passkey
	e.must(http.StatusCreated, "POST", "/v1/me/passkeys/finish", token, api.PasskeyRegister{Token: begin.Token, Name: name, Credential: cred}, &pk)
	return pk
}

// loginBegin starts a discoverable passkey sign-in.
func (e *pkEnv) loginBegin() api.PasskeyBegin {
	e.t.Helper()
	var begin api.PasskeyBegin
	e.must(http.StatusOK, "POST", "/v1/login/passkey/begin", "", nil, &begin)
	return begin
}

// loginFinish completes a discoverable sign-in; it returns the status and
// the session (on success).
func (e *pkEnv) loginFinish(token string, cred json.RawMessage) (int, api.SessionResponse) {
	e.t.Helper()
	var resp api.SessionResponse
	st, _ := e.call("POST", "/v1/login/passkey/finish", "", api.PasskeyLogin{Token: token, Credential: cred, DeviceName: "phone"}, &resp)
	return st, resp
}

func (e *pkEnv) passkeys(token string) []api.Passkey {
	e.t.Helper()
	var out api.Passkeys
	e.must(http.StatusOK, "GET", "/v1/me/passkeys", token, nil, &out)
	return out.Passkeys
}

// TestPasskeyFlows: registering a passkey after a recent sign-in ends the
// account's other sessions; the passkey then signs in without a password
// and serves as the second factor after one; the password alone no longer
// yields a session; list and delete.
func TestPasskeyFlows(t *testing.T) {
	e := startPasskeys(t, "", "")
	a := e.signup()
	other := e.login(a, "tablet")
	if other.Session == nil {
		t.Fatalf("password login without a factor = %+v, want a session", other)
	}
	if got := e.passkeys(a.token); len(got) != 0 {
		t.Fatalf("passkeys before = %+v", got)
	}

	authn := softauthn.New(e.origin)
	pk := e.register(a.token, authn, "  Laptop\tkey  ")
	if pk.Name != "Laptopkey" || !seal.ValidID(pk.ID) || pk.CreatedAt.IsZero() || !pk.LastUsed.IsZero() {
		t.Errorf("registered passkey = %+v", pk)
	}
	if e.alive(other.Session.Token) {
		t.Error("another session survived the new passkey")
	}
	if !e.alive(a.token) {
		t.Fatal("the registering session ended")
	}
	if got := e.passkeys(a.token); len(got) != 1 || got[0].ID != pk.ID {
		t.Fatalf("passkeys = %+v, want the new one", got)
	}

	// Discoverable, passwordless sign-in.
	begin := e.loginBegin()
	var opts struct {
		PublicKey struct {
			RPID             string `json:"rpId"`
			UserVerification string `json:"userVerification"`
			AllowCredentials []any  `json:"allowCredentials"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(begin.Options, &opts); err != nil {
		t.Fatal(err)
	}
	if opts.PublicKey.RPID != "localhost" || opts.PublicKey.UserVerification != "required" || len(opts.PublicKey.AllowCredentials) != 0 {
		t.Errorf("discoverable request options = %s", begin.Options)
	}
	cred, err := authn.Get(begin.Options)
	if err != nil {
		t.Fatal(err)
	}
	st, sess := e.loginFinish(begin.Token, cred)
	if st != http.StatusOK || !strings.HasPrefix(sess.Token, auth.SessionPrefix) || sess.Role != api.RoleOwner {
		t.Fatalf("passkey sign-in = %d %+v", st, sess)
	}
	if !e.alive(sess.Token) {
		t.Fatal("passkey session does not work")
	}
	if got := e.passkeys(sess.Token); len(got) != 1 || got[0].LastUsed.IsZero() {
		t.Errorf("passkeys after use = %+v, want last use set", got)
	}

	// The password alone no longer yields a session: it asks for a factor.
	lr := e.login(a, "desktop")
	if lr.Session != nil || lr.MFA == nil {
		t.Fatalf("password login with a passkey = %+v, want an MFA challenge only", lr)
	}
	if !slices.Contains(lr.MFA.Methods, api.MethodPasskey) || len(lr.MFA.Passkey) == 0 {
		t.Fatalf("MFA challenge = %+v, want passkey options", lr.MFA)
	}
	// A tampered answer is refused; then the real one works.
	assertion, err := authn.Get(lr.MFA.Passkey)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := softauthn.Tamper(assertion, "signature")
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := e.call("POST", "/v1/login/mfa", "", api.MFAAnswer{Token: lr.MFA.Token, Passkey: bad}, nil); st != http.StatusUnauthorized {
		t.Errorf("MFA with a tampered passkey = %d, want 401", st)
	}
	assertion, err = authn.Get(lr.MFA.Passkey)
	if err != nil {
		t.Fatal(err)
	}
	var mfa api.SessionResponse
	e.must(http.StatusOK, "POST", "/v1/login/mfa", "", api.MFAAnswer{Token: lr.MFA.Token, Passkey: assertion, DeviceName: "desktop"}, &mfa)
	if !e.alive(mfa.Token) {
		t.Fatal("session after password + passkey does not work")
	}

	// Delete: other sessions end, the list is empty, the password alone
	// works again.
	e.must(http.StatusNoContent, "DELETE", "/v1/me/passkeys/"+pk.ID, a.token, nil, nil)
	if e.alive(sess.Token) || e.alive(mfa.Token) {
		t.Error("other sessions survived the removal of a passkey")
	}
	if got := e.passkeys(a.token); len(got) != 0 {
		t.Errorf("passkeys after delete = %+v", got)
	}
	if st, _ := e.call("DELETE", "/v1/me/passkeys/"+pk.ID, a.token, nil, nil); st != http.StatusNotFound {
		t.Errorf("delete again = %d, want 404", st)
	}
	if lr := e.login(a, "desktop"); lr.Session == nil {
		t.Errorf("password login after removing the passkey = %+v, want a session", lr)
	}
	// The removed passkey signs in no more.
	begin = e.loginBegin()
	if cred, err = authn.Get(begin.Options); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.loginFinish(begin.Token, cred); st != http.StatusUnauthorized {
		t.Errorf("sign-in with a removed passkey = %d, want 401", st)
	}
}

// TestPasskeySignInRefused: every forged or replayed answer to a
// discoverable sign-in is refused, and none yields a session.
func TestPasskeySignInRefused(t *testing.T) {
	e := startPasskeys(t, "", "")
	a := e.signup()
	authn := softauthn.New(e.origin)
	e.register(a.token, authn, "laptop")
	good := authn.Credentials()[0]

	// A credential the service never registered: created for this account's
	// registration options but never finished.
	stranger := softauthn.New(e.origin)
	var regBegin api.PasskeyBegin
	e.must(http.StatusOK, "POST", "/v1/me/passkeys/begin", a.token, nil, &regBegin)
	if _, _, err := stranger.Create(regBegin.Options); err != nil {
		t.Fatal(err)
	}

	with := func(mod func(*softauthn.Authenticator)) func(opts []byte) (json.RawMessage, error) {
		return func(opts []byte) (json.RawMessage, error) {
			b := softauthn.New(e.origin)
			mod(b)
			return b.Assert(good, opts)
		}
	}
	cases := []struct {
		name   string
		answer func(opts []byte) (json.RawMessage, error)
	}{
		{"wrong origin", with(func(b *softauthn.Authenticator) { b.Origin = "http://evil.example" })},
		{"loopback address origin", with(func(b *softauthn.Authenticator) { b.Origin = strings.Replace(e.origin, "localhost", "127.0.0.1", 1) })},
		{"localhost lookalike origin", with(func(b *softauthn.Authenticator) {
			b.Origin = strings.Replace(e.origin, "localhost", "localhost.evil.example", 1)
		})},
		{"wrong rp id", with(func(b *softauthn.Authenticator) { b.RPID = "evil.example" })},
		{"no user verification", with(func(b *softauthn.Authenticator) { b.Flags = softauthn.FlagUP })},
		{"tampered signature", func(opts []byte) (json.RawMessage, error) {
			c, err := authn.Get(opts)
			if err != nil {
				return nil, err
			}
			return softauthn.Tamper(c, "signature")
		}},
		{"tampered authenticator data", func(opts []byte) (json.RawMessage, error) {
			c, err := authn.Get(opts)
			if err != nil {
				return nil, err
			}
			return softauthn.Tamper(c, "authenticatorData")
		}},
		{"unknown credential", func(opts []byte) (json.RawMessage, error) { return stranger.Get(opts) }},
		{"malformed", func([]byte) (json.RawMessage, error) {
			return json.RawMessage(`{"id":"AAAA","type":"public-key"}`), nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			begin := e.loginBegin()
			cred, err := tc.answer(begin.Options)
			if err != nil {
				t.Fatal(err)
			}
			if st, resp := e.loginFinish(begin.Token, cred); st != http.StatusUnauthorized || resp.Token != "" {
				t.Errorf("finish = %d %+v, want 401 and no session", st, resp)
			}
		})
	}

	t.Run("replayed ceremony", func(t *testing.T) {
		begin := e.loginBegin()
		cred, err := authn.Get(begin.Options)
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := e.loginFinish(begin.Token, cred); st != http.StatusOK {
			t.Fatalf("first finish = %d", st)
		}
		if st, _ := e.loginFinish(begin.Token, cred); st != http.StatusUnauthorized {
			t.Errorf("same ceremony again = %d, want 401", st)
		}
		// The same answer under a fresh ceremony: its challenge is stale.
		fresh := e.loginBegin()
		if st, _ := e.loginFinish(fresh.Token, cred); st != http.StatusUnauthorized {
			t.Errorf("old answer under a new ceremony = %d, want 401", st)
		}
	})
	t.Run("failed answer consumes the ceremony", func(t *testing.T) {
		begin := e.loginBegin()
		cred, err := authn.Get(begin.Options)
		if err != nil {
			t.Fatal(err)
		}
		bad, _ := softauthn.Tamper(cred, "signature")
		if st, _ := e.loginFinish(begin.Token, bad); st != http.StatusUnauthorized {
			t.Fatalf("tampered = %d", st)
		}
		if st, _ := e.loginFinish(begin.Token, cred); st != http.StatusUnauthorized {
			t.Errorf("good answer after a failed one on the same ceremony = %d, want 401", st)
		}
	})
	t.Run("not a ceremony token", func(t *testing.T) {
		begin := e.loginBegin()
		cred, _ := authn.Get(begin.Options)
		for _, tok := range []string{"", a.token, "plc_" + strings.Repeat("A", 43)} {
			if st, _ := e.loginFinish(tok, cred); st != http.StatusUnauthorized {
				t.Errorf("token %q = %d, want 401", tok, st)
			}
		}
	})
	t.Run("expired ceremony", func(t *testing.T) {
		begin := e.loginBegin()
		cred, err := authn.Get(begin.Options)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(api.ReauthWindow + time.Second)
		if st, _ := e.loginFinish(begin.Token, cred); st != http.StatusUnauthorized {
			t.Errorf("finish after expiry = %d, want 401", st)
		}
	})
	t.Run("cloned authenticator", func(t *testing.T) {
		// The original signs in; a copy whose counter lags behind it then
		// presents a count the service has already seen.
		begin := e.loginBegin()
		cred, err := authn.Get(begin.Options)
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := e.loginFinish(begin.Token, cred); st != http.StatusOK {
			t.Fatalf("original = %d", st)
		}
		good.SignCount--
		begin = e.loginBegin()
		cred, err = authn.Get(begin.Options)
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := e.loginFinish(begin.Token, cred); st != http.StatusUnauthorized {
			t.Errorf("finish with a counter that went back = %d, want 401", st)
		}
		if !strings.Contains(e.logs.String(), "may be cloned") {
			t.Error("no log line about a cloned authenticator")
		}
	})
}

// TestPasskeyLoginThrottled: failed passkey sign-ins from one address end
// in 429 with Retry-After, before any verification.
func TestPasskeyLoginThrottled(t *testing.T) {
	e := startPasskeys(t, "", "")
	stranger := softauthn.New(e.origin)
	// The stranger's credential exists for this RP but is registered nowhere.
	a := e.signup()
	var regBegin api.PasskeyBegin
	e.must(http.StatusOK, "POST", "/v1/me/passkeys/begin", a.token, nil, &regBegin)
	if _, _, err := stranger.Create(regBegin.Options); err != nil {
		t.Fatal(err)
	}
	limit := auth.Limits{}.WithDefaults().AddressFailures
	for i := range limit {
		begin := e.loginBegin()
		cred, err := stranger.Get(begin.Options)
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := e.loginFinish(begin.Token, cred); st != http.StatusUnauthorized {
			t.Fatalf("attempt %d = %d, want 401", i, st)
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.url+"/v1/login/passkey/begin", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("begin after %d failures = %d (Retry-After %q), want 429 with Retry-After", limit, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// TestPasskeyRegistrationRefused: registration needs a recent sign-in, the
// ceremony of the same session, the service's origin, and works once.
func TestPasskeyRegistrationRefused(t *testing.T) {
	e := startPasskeys(t, "", "")
	a := e.signup()
	authn := softauthn.New(e.origin)

	t.Run("wrong origin", func(t *testing.T) {
		evil := softauthn.New("https://evil.example")
		var begin api.PasskeyBegin
		e.must(http.StatusOK, "POST", "/v1/me/passkeys/begin", a.token, nil, &begin)
		cred, _, err := evil.Create(begin.Options)
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := e.call("POST", "/v1/me/passkeys/finish", a.token, api.PasskeyRegister{Token: begin.Token, Credential: cred}, nil); st != http.StatusBadRequest {
			t.Errorf("finish = %d, want 400", st)
		}
	})
	t.Run("wrong rp id", func(t *testing.T) {
		b := softauthn.New(e.origin)
		b.RPID = "evil.example"
		var begin api.PasskeyBegin
		e.must(http.StatusOK, "POST", "/v1/me/passkeys/begin", a.token, nil, &begin)
		cred, _, err := b.Create(begin.Options)
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := e.call("POST", "/v1/me/passkeys/finish", a.token, api.PasskeyRegister{Token: begin.Token, Credential: cred}, nil); st != http.StatusBadRequest {
			t.Errorf("finish = %d, want 400", st)
		}
	})
	t.Run("another session's ceremony", func(t *testing.T) {
		other := e.login(a, "tablet")
		var begin api.PasskeyBegin
		e.must(http.StatusOK, "POST", "/v1/me/passkeys/begin", other.Session.Token, nil, &begin)
		cred, _, err := softauthn.New(e.origin).Create(begin.Options)
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := e.call("POST", "/v1/me/passkeys/finish", a.token, api.PasskeyRegister{Token: begin.Token, Credential: cred}, nil); st != http.StatusUnauthorized {
			t.Errorf("finish in another session = %d, want 401", st)
		}
	})
	t.Run("replayed", func(t *testing.T) {
		var begin api.PasskeyBegin
		e.must(http.StatusOK, "POST", "/v1/me/passkeys/begin", a.token, nil, &begin)
		cred, _, err := authn.Create(begin.Options)
		if err != nil {
			t.Fatal(err)
		}
		in := api.PasskeyRegister{Token: begin.Token, Name: "laptop", Credential: cred}
		e.must(http.StatusCreated, "POST", "/v1/me/passkeys/finish", a.token, in, nil)
		if st, _ := e.call("POST", "/v1/me/passkeys/finish", a.token, in, nil); st != http.StatusUnauthorized {
			t.Errorf("finish again = %d, want 401", st)
		}
		if got := e.passkeys(a.token); len(got) != 1 {
			t.Errorf("passkeys = %+v, want exactly one", got)
		}
	})
	t.Run("excluded", func(t *testing.T) {
		var begin api.PasskeyBegin
		e.must(http.StatusOK, "POST", "/v1/me/passkeys/begin", a.token, nil, &begin)
		if _, _, err := authn.Create(begin.Options); err != softauthn.ErrExcluded {
			t.Errorf("creating a second passkey on the same authenticator: %v, want it excluded", err)
		}
	})
	t.Run("not recent", func(t *testing.T) {
		var begin api.PasskeyBegin
		e.must(http.StatusOK, "POST", "/v1/me/passkeys/begin", a.token, nil, &begin)
		cred, _, err := softauthn.New(e.origin).Create(begin.Options)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(api.ReauthWindow + time.Second)
		for _, r := range []struct {
			method, path string
			in           any
		}{
			{"POST", "/v1/me/passkeys/begin", nil},
			{"POST", "/v1/me/passkeys/finish", api.PasskeyRegister{Token: begin.Token, Credential: cred}},
			{"DELETE", "/v1/me/passkeys/" + e.passkeys(a.token)[0].ID, nil},
		} {
			if st, apiErr := e.call(r.method, r.path, a.token, r.in, nil); st != http.StatusForbidden || apiErr.Code != api.CodeReauthRequired {
				t.Errorf("%s %s = %d %s, want 403 %s", r.method, r.path, st, apiErr.Code, api.CodeReauthRequired)
			}
		}
	})
}

// TestPasskeyOtherAccount: one account cannot see or remove another's
// passkeys.
func TestPasskeyOtherAccount(t *testing.T) {
	e := startPasskeys(t, "", "")
	a, b := e.signup(), e.signup()
	pk := e.register(a.token, softauthn.New(e.origin), "a's key")
	if got := e.passkeys(b.token); len(got) != 0 {
		t.Errorf("b sees %+v", got)
	}
	if st, _ := e.call("DELETE", "/v1/me/passkeys/"+pk.ID, b.token, nil, nil); st != http.StatusNotFound {
		t.Errorf("b deletes a's passkey = %d, want 404", st)
	}
	if got := e.passkeys(a.token); len(got) != 1 {
		t.Errorf("a's passkeys = %+v", got)
	}
	if st, _ := e.call("DELETE", "/v1/me/passkeys/not-an-id", a.token, nil, nil); st != http.StatusBadRequest {
		t.Errorf("malformed id = %d, want 400", st)
	}
}

// TestPasskeyPublicOrigin: with a configured public origin the RP id is its
// host and only that origin is accepted; a loopback-address origin also
// accepts localhost on the same port.
func TestPasskeyPublicOrigin(t *testing.T) {
	for _, tc := range []struct {
		name, public, rpID, wantRPID string
		good, bad                    string
	}{
		{"name", "https://cams.example", "", "cams.example", "https://cams.example", "https://other.example"},
		{"explicit rp id", "https://app.cams.example", "cams.example", "cams.example", "https://app.cams.example", "https://cams.example"},
		{"loopback address", "http://127.0.0.1:8443", "", "localhost", "http://localhost:8443", "http://localhost:9999"},
		{"rp id only", "", "cams.example", "cams.example", "https://cams.example", "http://localhost:8443"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startPasskeys(t, tc.public, tc.rpID)
			a := e.signup()
			authn := softauthn.New(tc.good)
			var begin api.PasskeyBegin
			e.must(http.StatusOK, "POST", "/v1/me/passkeys/begin", a.token, nil, &begin)
			var opts struct {
				PublicKey struct {
					RP struct {
						ID string `json:"id"`
					} `json:"rp"`
				} `json:"publicKey"`
			}
			if err := json.Unmarshal(begin.Options, &opts); err != nil || opts.PublicKey.RP.ID != tc.wantRPID {
				t.Fatalf("rp id = %q (%v), want %q", opts.PublicKey.RP.ID, err, tc.wantRPID)
			}
			cred, _, err := authn.Create(begin.Options)
			if err != nil {
				t.Fatal(err)
			}
			e.must(http.StatusCreated, "POST", "/v1/me/passkeys/finish", a.token, api.PasskeyRegister{Token: begin.Token, Credential: cred}, nil)

			lb := e.loginBegin()
			bad := softauthn.New(tc.bad)
			c, err := bad.Assert(authn.Credentials()[0], lb.Options)
			if err != nil {
				t.Fatal(err)
			}
			if st, _ := e.loginFinish(lb.Token, c); st != http.StatusUnauthorized {
				t.Errorf("origin %s = %d, want 401", tc.bad, st)
			}
			lb = e.loginBegin()
			if c, err = authn.Get(lb.Options); err != nil {
				t.Fatal(err)
			}
			if st, _ := e.loginFinish(lb.Token, c); st != http.StatusOK {
				t.Errorf("origin %s = %d, want 200", tc.good, st)
			}
		})
	}
}

// TestPasskeyStaffLastFactor: a staff account cannot remove its last
// factor; with a confirmed authenticator app or another passkey it can.
func TestPasskeyStaffLastFactor(t *testing.T) {
	e := startPasskeys(t, "", "")
	ctx := t.Context()
	password := "correct horse battery " + randomHex(4)
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	staff := store.Account{ID: seal.NewID(), Email: "agent-" + randomHex(4) + "@example.org", PasswordHash: hash, Role: store.RoleSupport, Created: now}
	if err := e.st.CreateAccount(ctx, staff, store.Household{}); err != nil {
		t.Fatal(err)
	}
	secret := auth.NewTOTPSecret()
	if err := e.st.PutPendingTOTP(ctx, store.TOTP{AccountID: staff.ID, Secret: secret, Created: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.ConfirmTOTP(ctx, staff.ID, auth.TOTPStep(now)-2, nil, ""); err != nil {
		t.Fatal(err)
	}
	lr := e.login(&pkAccount{email: staff.Email, password: password}, "desk")
	if lr.MFA == nil {
		t.Fatalf("staff password login = %+v, want an MFA challenge", lr)
	}
	var sess api.SessionResponse
	e.must(http.StatusOK, "POST", "/v1/login/mfa", "", api.MFAAnswer{Token: lr.MFA.Token, Code: auth.TOTPCode(secret, auth.TOTPStep(now))}, &sess)
	tok := sess.Token

	authn := softauthn.New(e.origin)
	first := e.register(tok, authn, "first")
	// The authenticator app remains: removing the only passkey is fine.
	e.must(http.StatusNoContent, "DELETE", "/v1/me/passkeys/"+first.ID, tok, nil, nil)
	first = e.register(tok, softauthn.New(e.origin), "first")
	if _, err := e.st.DeleteTOTP(ctx, staff.ID, sess.SessionID); err != nil {
		t.Fatal(err)
	}
	if st, apiErr := e.call("DELETE", "/v1/me/passkeys/"+first.ID, tok, nil, nil); st != http.StatusForbidden || apiErr.Code != api.CodeFactorRequired {
		t.Errorf("removing the last factor = %d %s, want 403 %s", st, apiErr.Code, api.CodeFactorRequired)
	}
	second := e.register(tok, softauthn.New(e.origin), "second")
	e.must(http.StatusNoContent, "DELETE", "/v1/me/passkeys/"+first.ID, tok, nil, nil)
	if st, apiErr := e.call("DELETE", "/v1/me/passkeys/"+second.ID, tok, nil, nil); st != http.StatusForbidden || apiErr.Code != api.CodeFactorRequired {
		t.Errorf("removing the last passkey = %d %s, want 403", st, apiErr.Code)
	}
	if got := e.passkeys(tok); len(got) != 1 || got[0].ID != second.ID {
		t.Errorf("passkeys = %+v, want the second", got)
	}
}
