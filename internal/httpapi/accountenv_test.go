package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base32"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/auditlog"
	"github.com/porchlight/porchlight/internal/auth"
	diskblob "github.com/porchlight/porchlight/internal/blob/disk"
	"github.com/porchlight/porchlight/internal/httpapi"
	"github.com/porchlight/porchlight/internal/seal"
	sqlitestore "github.com/porchlight/porchlight/internal/store/sqlite"
	"github.com/porchlight/porchlight/internal/testutil"
)

// base32Raw decodes TOTP secrets as the service shows them.
var base32Raw = base32.StdEncoding.WithPadding(base32.NoPadding)

// acctEnv is an httpapi.Server on the real SQLite store and blob directory
// in t.TempDir(), served by httptest on 127.0.0.1:0, with an injected
// clock and captured logs. restart replaces the Server and reopens the
// store, as a restart of porchlightd would.
type acctEnv struct {
	t      *testing.T
	dir    string
	clock  *clock
	logs   *testutil.SyncBuffer
	st     *sqlitestore.Store
	srv    *httpapi.Server
	ts     *httptest.Server
	url    string
	limits auth.Limits
	origin string // Server.PublicOrigin
	audit  *auditlog.Log
	push   *httpapi.Push // Server.Push (push_test.go)
}

type acctOption func(*acctEnv)

func withLimits(l auth.Limits) acctOption { return func(e *acctEnv) { e.limits = l } }
func withOrigin(o string) acctOption      { return func(e *acctEnv) { e.origin = o } }

func startAccounts(t *testing.T, opts ...acctOption) *acctEnv {
	t.Helper()
	e := &acctEnv{t: t, dir: t.TempDir(), clock: &clock{t: time.Now().UTC().Truncate(time.Second)}, logs: &testutil.SyncBuffer{}}
	for _, o := range opts {
		o(e)
	}
	e.open()
	t.Cleanup(e.close)
	return e
}

func (e *acctEnv) open() {
	e.t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(e.dir, "porchlight.db"))
	if err != nil {
		e.t.Fatalf("open store: %v", err)
	}
	blobs, err := diskblob.Open(filepath.Join(e.dir, "blobs"))
	if err != nil {
		e.t.Fatalf("open blobs: %v", err)
	}
	e.st = st
	if e.audit == nil {
		e.audit = openAudit(e.t, e.dir)
	}
	e.srv = &httpapi.Server{
		Store: st, Blobs: blobs, Now: e.clock.Now, Limits: e.limits, PublicOrigin: e.origin, Audit: e.audit, Push: e.push,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	e.ts = httptest.NewServer(e.srv.Handler())
	e.url = e.ts.URL
}

func (e *acctEnv) client(token string) *apiclient.Client { return apiclient.New(e.url, token) }

func (e *acctEnv) close() {
	if e.ts == nil {
		return
	}
	e.ts.CloseClientConnections()
	e.ts.Close()
	e.srv.WaitAudit()
	if err := e.st.Close(); err != nil {
		e.t.Errorf("close store: %v", err)
	}
	e.ts = nil
}

func (e *acctEnv) restart() {
	e.t.Helper()
	e.close()
	e.open()
}

// call is one request of a test.
type call struct {
	token  string       // bearer
	cookie string       // session cookie value
	origin string       // Origin header
	client *http.Client // default http.DefaultClient
	header map[string]string
}

// do sends in as JSON (nil: no body), decodes a 2xx answer into out and
// returns the response (body read) and, for an error, its api.Error.
func (e *acctEnv) do(c call, method, path string, in, out any) (*http.Response, api.Error) {
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
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: c.cookie})
	}
	if c.origin != "" {
		req.Header.Set("Origin", c.origin)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	hc := c.client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read: %v", method, path, err)
	}
	var ae api.Error
	if resp.StatusCode >= 300 {
		if err := json.Unmarshal(raw, &ae); err != nil {
			e.t.Fatalf("%s %s: %s with a body that is not an api.Error: %q", method, path, resp.Status, raw)
		}
		return resp, ae
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: decode answer: %v", method, path, err)
		}
	}
	return resp, ae
}

// must is do that fails the test unless the status is want.
func (e *acctEnv) must(want int, c call, method, path string, in, out any) *http.Response {
	e.t.Helper()
	resp, ae := e.do(c, method, path, in, out)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: %d %s (%s), want %d", method, path, resp.StatusCode, ae.Code, ae.Message, want)
	}
	return resp
}

// status returns only the status and error code of a request.
func (e *acctEnv) status(c call, method, path string, in any) (int, string) {
	e.t.Helper()
	resp, ae := e.do(c, method, path, in, nil)
	return resp.StatusCode, ae.Code
}

// account is a signed-in customer and its first device.
type account struct {
	id, email, password string
	household           string
	dev                 device
}

// device is one signed-in device of an account.
type device struct {
	token, session, deviceToken string
}

func (e *acctEnv) signup(c call) *account {
	e.t.Helper()
	a := &account{email: "user-" + randomHex(4) + "@example.org", password: "sunlit quarry " + randomHex(6) + " harbour"}
	var resp api.SessionResponse
	e.must(http.StatusCreated, c, "POST", "/v1/signup", api.SignupRequest{Email: a.email, Password: a.password, DeviceName: "laptop"}, &resp)
	if resp.Token == "" || resp.DeviceToken == "" || resp.SessionID == "" || resp.Role != api.RoleOwner {
		e.t.Fatalf("signup answer %+v", resp)
	}
	a.id, a.household = resp.AccountID, resp.HouseholdID
	a.dev = device{token: resp.Token, session: resp.SessionID, deviceToken: resp.DeviceToken}
	return a
}

// login signs in with the password only; the account must have no factor.
func (e *acctEnv) login(a *account, name string) device {
	e.t.Helper()
	var lr api.LoginResponse
	e.must(http.StatusOK, call{}, "POST", "/v1/login", api.LoginRequest{Email: a.email, Password: a.password, DeviceName: name}, &lr)
	if lr.Session == nil || lr.MFA != nil {
		e.t.Fatalf("login answer %+v, want a session", lr)
	}
	return device{token: lr.Session.Token, session: lr.Session.SessionID, deviceToken: lr.Session.DeviceToken}
}

// challenge signs in with the password and expects a second-factor challenge.
func (e *acctEnv) challenge(email, password string) *api.MFAChallenge {
	e.t.Helper()
	var lr api.LoginResponse
	e.must(http.StatusOK, call{}, "POST", "/v1/login", api.LoginRequest{Email: email, Password: password, DeviceName: "phone"}, &lr)
	if lr.Session != nil || lr.MFA == nil || !strings.HasPrefix(lr.MFA.Token, "plm_") {
		e.t.Fatalf("login answer %+v, want only a challenge", lr)
	}
	return lr.MFA
}

// totpCode is the authenticator's code at the env's clock.
func (e *acctEnv) totpCode(secret []byte) string {
	return auth.TOTPCode(secret, auth.TOTPStep(e.clock.Now()))
}

// nextCode moves the clock to the next TOTP step and returns its code.
func (e *acctEnv) nextCode(secret []byte) string {
	e.clock.Advance(auth.TOTPPeriod)
	return e.totpCode(secret)
}

// enrolTOTP adds and confirms an authenticator for the device's account;
// it returns the secret and the recovery codes.
func (e *acctEnv) enrolTOTP(d device) ([]byte, []string) {
	e.t.Helper()
	var setup api.TOTPSetup
	e.must(http.StatusOK, call{token: d.token}, "POST", "/v1/me/totp", nil, &setup)
	secret, err := base32Raw.DecodeString(setup.Secret)
	if err != nil || !strings.HasPrefix(setup.URI, "otpauth://totp/") {
		e.t.Fatalf("totp setup %+v: %v", setup, err)
	}
	var rc api.RecoveryCodes
	e.must(http.StatusOK, call{token: d.token}, "POST", "/v1/me/totp/confirm", api.TOTPConfirm{Code: e.totpCode(secret)}, &rc)
	if len(rc.Codes) != auth.RecoveryCodeCount {
		e.t.Fatalf("%d recovery codes", len(rc.Codes))
	}
	return secret, rc.Codes
}

// loginTOTP signs in with password and authenticator code (at the next
// step, so it is never a replay).
func (e *acctEnv) loginTOTP(email, password string, secret []byte, name string) device {
	e.t.Helper()
	ch := e.challenge(email, password)
	var sr api.SessionResponse
	e.must(http.StatusOK, call{}, "POST", "/v1/login/mfa", api.MFAAnswer{Token: ch.Token, Code: e.nextCode(secret), DeviceName: name}, &sr)
	return device{token: sr.Token, session: sr.SessionID, deviceToken: sr.DeviceToken}
}

// userRoutes lists every served route that needs a user session, with
// path parameters filled with well-formed ids.
func (e *acctEnv) userRoutes() [][2]string {
	open := map[string]bool{
		"GET /healthz": true, "GET /v1/client": true, "POST /v1/signup": true, "POST /v1/login": true, "POST /v1/login/mfa": true,
		"POST /v1/login/passkey/begin": true, "POST /v1/login/passkey/finish": true,
		"POST /v1/hub/claim": true, "POST /v1/hub/claim/poll": true,
	}
	var out [][2]string
	for _, p := range e.srv.Routes() {
		method, path, _ := strings.Cut(p, " ")
		if open[p] || strings.HasPrefix(path, "/v1/hub/") {
			continue
		}
		path = strings.NewReplacer("{id}", seal.NewID(), "{code}", "AAAA-BBBB-CCCC").Replace(path)
		out = append(out, [2]string{method, path})
	}
	if len(out) < 20 {
		e.t.Fatalf("only %d user routes found", len(out))
	}
	return out
}

// requireDead checks that every user route answers 401 to token.
func (e *acctEnv) requireDead(token, what string) {
	e.t.Helper()
	for _, r := range e.userRoutes() {
		if st, _ := e.status(call{token: token}, r[0], r[1], map[string]any{}); st != http.StatusUnauthorized {
			e.t.Errorf("%s: %s %s with the ended session: %d, want 401", what, r[0], r[1], st)
		}
	}
}

// eventStream is an open GET /v1/events.
type eventStream struct {
	events chan api.Notification
	ended  chan struct{}
	at     time.Time // when the stream ended; read after ended is closed
}

func (e *acctEnv) openEvents(c call) *eventStream {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), "GET", e.url+"/v1/events", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("GET /v1/events: %v", err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		resp.Body.Close()
		e.t.Fatalf("GET /v1/events: %s, %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	s := &eventStream{events: make(chan api.Notification, 100), ended: make(chan struct{})}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var event, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if event == "notification" {
					var n api.Notification
					if json.Unmarshal([]byte(data), &n) == nil {
						s.events <- n
					}
				}
				event, data = "", ""
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			}
		}
		s.at = time.Now()
		close(s.ended)
	}()
	return s
}

// endedWithin waits (at most 5 s) for the stream to end and returns how
// long after since it did.
func (s *eventStream) endedWithin(t *testing.T, since time.Time) time.Duration {
	t.Helper()
	select {
	case <-s.ended:
		return s.at.Sub(since)
	case <-time.After(5 * time.Second):
		t.Fatal("the event stream is still open 5 s after its session ended")
		return 0
	}
}

// next waits (at most 3 s) for the next notification.
func (s *eventStream) next(t *testing.T) api.Notification {
	t.Helper()
	select {
	case n := <-s.events:
		return n
	case <-time.After(3 * time.Second):
		t.Fatal("no notification on the event stream within 3 s")
		return api.Notification{}
	}
}

// fromAddr is an HTTP client whose connections come from a loopback
// address of its own (127.0.0.x), so the server sees another RemoteAddr.
func fromAddr(t *testing.T, ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 2}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// retryAfter returns the Retry-After seconds of a response, or an error.
func retryAfter(resp *http.Response) (int, error) {
	v := resp.Header.Get("Retry-After")
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, errors.New("Retry-After " + strconv.Quote(v) + " is not a positive number of seconds")
	}
	return n, nil
}

// noSecrets fails the test if the log holds any of the given secrets.
func (e *acctEnv) noSecrets(secrets map[string]string) {
	e.t.Helper()
	logs := e.logs.String()
	if !strings.Contains(logs, "route=") {
		e.t.Fatal("no request log lines captured")
	}
	for what, s := range secrets {
		if s == "" {
			e.t.Errorf("secret %s is empty: the flow did not run", what)
		} else if strings.Contains(logs, s) {
			e.t.Errorf("the log contains the %s", what)
		}
	}
}
