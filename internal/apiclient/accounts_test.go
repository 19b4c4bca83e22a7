package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/api"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"1.5", 0},
		{"99999999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(72 * time.Hour).Format(http.TimeFormat), 24 * time.Hour},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(api.Error{Code: code, Message: msg, ID: "errid"})
}

func TestErrorHelpers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/login":
			w.Header().Set("Retry-After", "600")
			writeError(w, http.StatusTooManyRequests, api.CodeRateLimited, "too many failed sign-ins")
		case "/v1/me/password":
			writeError(w, http.StatusForbidden, api.CodeReauthRequired, "sign in again first")
		case "/v1/me/totp":
			writeError(w, http.StatusForbidden, api.CodeFactorRequired, "staff keep a factor")
		}
	}))
	defer srv.Close()
	c := New(srv.URL, "pls_x")
	ctx := t.Context()

	_, err := c.Login(ctx, api.LoginRequest{Email: "a@example.com", Password: "x"})
	if RetryAfter(err) != 10*time.Minute || !IsStatus(err, 429) || !IsRetryable(err) || IsReauthRequired(err) {
		t.Errorf("429: RetryAfter %v, err %v", RetryAfter(err), err)
	}
	err = c.ChangePassword(ctx, "new password here")
	if !IsReauthRequired(err) || RetryAfter(err) != 0 || IsRetryable(err) {
		t.Errorf("reauth_required: %v", err)
	}
	if !IsReauthRequired(fmt.Errorf("passwd: %w", err)) {
		t.Error("IsReauthRequired does not see through wrapping")
	}
	if err := c.DeleteTOTP(ctx); err == nil || IsReauthRequired(err) {
		t.Errorf("another 403 counts as reauth_required: %v", err)
	}
	if IsReauthRequired(nil) || RetryAfter(errors.New("x")) != 0 {
		t.Error("nil or foreign errors")
	}
}

func TestLoginAnswers(t *testing.T) {
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch body {
		case "mfa":
			fmt.Fprint(w, `{"mfa":{"token":"plm_x","methods":["totp","recovery_code"],"expires_at":"2026-01-01T00:00:00Z"}}`)
		case "session":
			fmt.Fprint(w, `{"session":{"token":"pls_x","session_id":"s","account_id":"a","role":"owner","expires_at":"2026-01-01T00:00:00Z","device_token":"pld_x"}}`)
		default:
			fmt.Fprint(w, `{}`)
		}
	}))
	defer srv.Close()
	c := New(srv.URL, "")
	body = "mfa"
	if lr, err := c.Login(t.Context(), api.LoginRequest{}); err != nil || lr.MFA == nil || lr.MFA.Token != "plm_x" || lr.Session != nil {
		t.Errorf("challenge: %+v, %v", lr, err)
	}
	body = "session"
	if lr, err := c.Login(t.Context(), api.LoginRequest{}); err != nil || lr.Session == nil || lr.Session.DeviceToken != "pld_x" {
		t.Errorf("session: %+v, %v", lr, err)
	}
	body = ""
	if _, err := c.Login(t.Context(), api.LoginRequest{}); err == nil {
		t.Error("an answer with neither a session nor a challenge was accepted")
	}
}

// reauthService refuses /v1/me/password with reauth_required unless the
// token is "pls_new", and answers /v1/reauth as a service would.
type reauthService struct {
	mu     sync.Mutex
	bodies []string
}

func (s *reauthService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	switch r.URL.Path {
	case "/v1/reauth":
		if auth != "Bearer pls_old" {
			writeError(w, http.StatusUnauthorized, "unauthorized", "session ended")
			return
		}
		fmt.Fprint(w, `{"session":{"token":"pls_new","session_id":"s2"}}`)
	case "/v1/login/mfa":
		writeError(w, http.StatusForbidden, api.CodeReauthRequired, "never for this route")
	case "/v1/me/password":
		b, _ := io.ReadAll(r.Body)
		if auth != "Bearer pls_new" {
			writeError(w, http.StatusForbidden, api.CodeReauthRequired, "sign in again first")
			return
		}
		s.mu.Lock()
		s.bodies = append(s.bodies, string(b))
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}
}

func TestOnReauthRequired(t *testing.T) {
	svc := &reauthService{}
	srv := httptest.NewServer(svc)
	defer srv.Close()
	c := New(srv.URL, "pls_old")
	var calls atomic.Int32
	c.OnReauthRequired = func(ctx context.Context) (string, error) {
		calls.Add(1)
		time.Sleep(50 * time.Millisecond) // let the other refused requests queue up
		lr, err := c.Reauth(ctx, api.ReauthRequest{Password: "pw"})
		if err != nil {
			return "", err
		}
		return lr.Session.Token, nil
	}

	// Several requests refused at once: one re-authentication, all retried.
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for i := range 5 {
		wg.Go(func() { errs <- c.ChangePassword(t.Context(), fmt.Sprintf("password %d", i)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("ChangePassword: %v", err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("OnReauthRequired called %d times, want 1", n)
	}
	if c.Token != "pls_new" {
		t.Errorf("Token = %q after re-authentication", c.Token)
	}
	if len(svc.bodies) != 5 || !strings.Contains(svc.bodies[0], `"new_password":"password `) {
		t.Errorf("retried bodies: %q", svc.bodies)
	}

	// The re-authentication routes themselves never trigger the hook.
	if _, err := c.LoginMFA(t.Context(), api.MFAAnswer{Token: "plm_x", Code: "123456"}); !IsReauthRequired(err) {
		t.Errorf("LoginMFA: %v, want the refusal itself", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("OnReauthRequired called for LoginMFA")
	}

	// A failing hook's error is returned as is.
	c2 := New(srv.URL, "pls_old")
	hookErr := errors.New("no password given")
	c2.OnReauthRequired = func(context.Context) (string, error) { return "", hookErr }
	if err := c2.ChangePassword(t.Context(), "x"); !errors.Is(err, hookErr) {
		t.Errorf("ChangePassword with a failing hook: %v", err)
	}
}

func TestUserAgent(t *testing.T) {
	want := "porchlight-cli/1.2.3 (" + runtime.GOOS + "/" + runtime.GOARCH + ")"
	if got := UserAgent("porchlight-cli", "1.2.3"); got != want {
		t.Errorf("UserAgent = %q, want %q", got, want)
	}
	if got := UserAgent("porchlight-cli", ""); !strings.HasPrefix(got, "porchlight-cli/devel (") {
		t.Errorf("UserAgent without a version = %q", got)
	}
	var seen string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Get("User-Agent")
		fmt.Fprint(w, `{"sessions":[{"id":"a","current":true}]}`)
	}))
	defer srv.Close()
	c := New(srv.URL, "pls_x")
	c.UserAgent = want
	if list, err := c.Sessions(t.Context()); err != nil || len(list) != 1 || !list[0].Current || seen != want {
		t.Errorf("Sessions = %+v, %v; User-Agent %q", list, err, seen)
	}
}

func TestAccountRoutes(t *testing.T) {
	type call struct{ method, path, query, body string }
	var got []call
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, call{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(b)})
		switch r.URL.Path {
		case "/v1/sessions/revoke-others":
			fmt.Fprint(w, `{"revoked":3}`)
		case "/v1/notifications":
			fmt.Fprint(w, `{"notifications":[{"seq":8,"kind":"new_sign_in"}]}`)
		case "/v1/me/passkeys":
			fmt.Fprint(w, `{"passkeys":[{"id":"pk1","name":"phone"}]}`)
		case "/v1/me/totp/confirm", "/v1/me/recovery-codes":
			fmt.Fprint(w, `{"codes":["abcd-efgh-jkmn"]}`)
		default:
			fmt.Fprint(w, `{}`)
		}
	}))
	defer srv.Close()
	c := New(srv.URL, "pls_x")
	ctx := t.Context()
	if n, err := c.RevokeOtherSessions(ctx); n != 3 || err != nil {
		t.Errorf("RevokeOtherSessions = %d, %v", n, err)
	}
	if err := c.RevokeSession(ctx, "a/b"); err != nil {
		t.Error(err)
	}
	if list, err := c.Notifications(ctx, 7); err != nil || len(list) != 1 || list[0].Seq != 8 {
		t.Errorf("Notifications = %+v, %v", list, err)
	}
	if _, err := c.Notifications(ctx, 0); err != nil {
		t.Error(err)
	}
	if list, err := c.Passkeys(ctx); err != nil || len(list) != 1 || list[0].Name != "phone" {
		t.Errorf("Passkeys = %+v, %v", list, err)
	}
	if err := c.DeletePasskey(ctx, "pk1"); err != nil {
		t.Error(err)
	}
	if rc, err := c.TOTPConfirm(ctx, "123456"); err != nil || len(rc.Codes) != 1 {
		t.Errorf("TOTPConfirm = %+v, %v", rc, err)
	}
	if rc, err := c.RecoveryCodes(ctx); err != nil || len(rc.Codes) != 1 {
		t.Errorf("RecoveryCodes = %+v, %v", rc, err)
	}
	if err := c.ChangeEmail(ctx, "new@example.com"); err != nil {
		t.Error(err)
	}
	want := []call{
		{"POST", "/v1/sessions/revoke-others", "", ""},
		{"DELETE", "/v1/sessions/a%2Fb", "", ""},
		{"GET", "/v1/notifications", "after=7", ""},
		{"GET", "/v1/notifications", "", ""},
		{"GET", "/v1/me/passkeys", "", ""},
		{"DELETE", "/v1/me/passkeys/pk1", "", ""},
		{"POST", "/v1/me/totp/confirm", "", `{"code":"123456"}`},
		{"POST", "/v1/me/recovery-codes", "", ""},
		{"PATCH", "/v1/me", "", `{"email":"new@example.com"}`},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests:\n got %v\nwant %v", got, want)
	}
}
