package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
)

// conn is a client of the service with what is needed to explain its errors
// and to re-authenticate.
type conn struct {
	m      *Main
	c      *apiclient.Client
	server string
	email  string
	sess   *session // the saved session whose token c uses; nil before sign-in
}

// httpClient returns the HTTP client for the service: Main.HTTP if set,
// else one that also trusts --ca, made once per run.
func (m *Main) httpClient() (*http.Client, error) {
	if m.HTTP != nil {
		return m.HTTP, nil
	}
	if m.httpc == nil {
		hc, err := apiclient.NewHTTPClient(m.caFile())
		if err != nil {
			return nil, fmt.Errorf("%w (from --ca or $%s)", err, EnvCA)
		}
		m.httpc = hc
	}
	return m.httpc, nil
}

// caFile is --ca, else $PORCHLIGHT_CA.
func (m *Main) caFile() string {
	if m.caFlag != "" {
		return m.caFlag
	}
	return m.Env(EnvCA)
}

// insecureHTTP is --insecure-http or PORCHLIGHT_INSECURE_HTTP=1.
func (m *Main) insecureHTTP() bool {
	if m.insecureFlag {
		return true
	}
	switch strings.ToLower(strings.TrimSpace(m.Env(EnvInsecureHTTP))) {
	case "1", "true", "yes":
		return true
	}
	return false
}

// userAgent is "porchlight-cli/VERSION (GOOS/GOARCH)": the service lists it
// as the client of this device's sessions.
func (m *Main) userAgent() string {
	v := m.Version
	if v == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			v = bi.Main.Version
		}
	}
	if f := strings.Fields(v); len(f) > 0 {
		v = f[0]
	}
	v = strings.Trim(v, "()")
	return apiclient.UserAgent("porchlight-cli", v)
}

// dial returns a client of server without a session (signup and login),
// after checking that the URL is one this command may talk to.
func (m *Main) dial(server, email string) (*conn, error) {
	if err := apiclient.CheckBaseURL(server, m.insecureHTTP()); err != nil {
		return nil, err
	}
	hc, err := m.httpClient()
	if err != nil {
		return nil, err
	}
	c := apiclient.New(server, "")
	c.HTTP = hc
	c.UserAgent = m.userAgent()
	return &conn{m: m, c: c, server: server, email: email}, nil
}

// openSession loads the saved session and returns a client that uses it.
// When the service asks for a recent sign-in, the client asks for the
// password (and a code) itself, saves the renewed session and retries.
func (m *Main) openSession() (*session, *conn, error) {
	sess, err := m.loadSession()
	if err != nil {
		return nil, nil, err
	}
	server := m.serverURL(sess)
	if server != normalizeURL(sess.Server) {
		return nil, nil, fmt.Errorf("you are logged in to %s, not %s: run `porchlight logout`, then log in to %s with --server", sess.Server, server, server)
	}
	c, err := m.dial(server, sess.Email)
	if err != nil {
		return nil, nil, err
	}
	c.useSession(sess)
	return sess, c, nil
}

// useSession makes c use sess and keep it up to date.
func (c *conn) useSession(sess *session) {
	c.sess = sess
	c.email = sess.Email
	c.c.Token = sess.Token
	c.c.OnReauthRequired = func(ctx context.Context) (string, error) {
		fmt.Fprintf(c.m.Stderr, "This needs a recent sign-in: confirm it is you (%s).\n", c.email)
		return c.reauth(ctx, "Password for "+c.email)
	}
}

// reauthError is a failed re-authentication, already explained.
type reauthError struct{ err error }

func (e *reauthError) Error() string { return e.err.Error() }
func (e *reauthError) Unwrap() error { return e.err }

// reauth proves the user again with the password (prompt) and, if asked,
// a code; it saves the renewed session and returns its token. The caller
// gives the token to c.c unless c.c asked (OnReauthRequired).
func (c *conn) reauth(ctx context.Context, prompt string) (string, error) {
	const op = "confirm it is you"
	pw, err := c.m.password(prompt, false)
	if err != nil {
		return "", &reauthError{fmt.Errorf("%s: %w", op, err)}
	}
	resp, err := c.c.Reauth(ctx, api.ReauthRequest{Password: pw})
	if err != nil {
		return "", &reauthError{c.explainSignIn(op, err)}
	}
	sr := resp.Session
	if resp.MFA != nil {
		if sr, err = c.answerMFA(ctx, op, resp.MFA, api.MFAAnswer{}); err != nil {
			return "", &reauthError{err}
		}
	}
	if sr == nil || sr.Token == "" {
		return "", &reauthError{fmt.Errorf("%s: the service answered without a session: try again", op)}
	}
	c.sess.Token = sr.Token
	if sr.SessionID != "" {
		c.sess.SessionID = sr.SessionID
	}
	if !sr.ExpiresAt.IsZero() {
		c.sess.ExpiresAt = sr.ExpiresAt
	}
	if err := c.m.saveSession(c.sess); err != nil {
		return "", &reauthError{fmt.Errorf("%s: the session was renewed but not saved (log in again): %w", op, err)}
	}
	c.m.recoveryNote(c.m.Stderr, sr)
	return sr.Token, nil
}

// answerMFA asks for a code (or a recovery code) and answers the challenge.
// base carries the device name and token of a sign-in.
func (c *conn) answerMFA(ctx context.Context, op string, ch *api.MFAChallenge, base api.MFAAnswer) (*api.SessionResponse, error) {
	if !slices.Contains(ch.Methods, api.MethodTOTP) {
		const passkey = "your account's second factor is a passkey, which the porchlight command cannot use: sign in with the web app at %s (an authenticator app added there works here too)"
		if !slices.Contains(ch.Methods, api.MethodRecovery) {
			return nil, fmt.Errorf("%s: "+passkey, op, c.server)
		}
		fmt.Fprintf(c.m.Stderr, "Note: "+passkey+"; here, one of your recovery codes works.\n", c.server)
	}
	code, err := c.m.mfaCode()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	ans := base
	ans.Token = ch.Token
	if isTOTPCode(code) {
		ans.Code = code
	} else {
		ans.RecoveryCode = code
	}
	sr, err := c.c.LoginMFA(ctx, ans)
	if err != nil {
		return nil, c.explainSignIn(op, err)
	}
	return sr, nil
}

// isTOTPCode reports whether s is an authenticator code (six digits) rather
// than a recovery code.
func isTOTPCode(s string) bool {
	if len(s) != 6 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// recoveryNote tells the user what using a recovery code did.
func (m *Main) recoveryNote(w io.Writer, sr *api.SessionResponse) {
	if sr.RecoveryCodesLeft == nil {
		return
	}
	n := *sr.RecoveryCodesLeft
	fmt.Fprintf(w, "Signed in with a recovery code: it no longer works, and every other session of your account was signed out.\n"+
		"You have %s left. Run `porchlight recovery-codes` to make a new set", plural(n, "recovery code"))
	if n == 0 {
		fmt.Fprint(w, " now: without one, losing your authenticator locks you out")
	}
	fmt.Fprintln(w, ".")
}

// explainSignIn is explain for the sign-in steps (password, code): a 401
// there is a wrong answer, not an ended session, and a 429 says how long to
// wait.
func (c *conn) explainSignIn(op string, err error) error {
	var ae *apiclient.Error
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests:
		return fmt.Errorf("%s: too many failed sign-ins for this account or address; try again in %s", op, minutes(ae.RetryAfter))
	case errors.As(err, &ae):
		return fmt.Errorf("%s: %w", op, err)
	}
	return c.explain(op, err)
}

// minutes says a wait in whole minutes, rounded up ("15 minutes").
func minutes(d time.Duration) string {
	n := int((d + time.Minute - 1) / time.Minute)
	if n < 1 {
		n = 1
	}
	if n == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", n)
}

// explain turns an API failure into an error that says what to do.
func (c *conn) explain(op string, err error) error {
	if err == nil {
		return nil
	}
	var ae *apiclient.Error
	var re *reauthError
	switch {
	case errors.As(err, &re):
		return err
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && c.c.Token != "":
		email := c.email
		if email == "" {
			email = "you@example.com"
		}
		why := "it expired or was ended"
		if ae.Message != "" {
			why = ae.Message
		}
		return fmt.Errorf("%s: your session is no longer valid (%s): run `porchlight login --email %s`", op, why, email)
	case errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests:
		return fmt.Errorf("%s: the service is busy with too many requests from you; try again in %s", op, minutes(ae.RetryAfter))
	case apiclient.IsReauthRequired(err):
		return fmt.Errorf("%s: this needs a recent sign-in: run `porchlight login --email %s` and try again within %v", op, c.email, api.ReauthWindow)
	case errors.As(err, &ae):
		return fmt.Errorf("%s: %w", op, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case apiclient.IsRetryable(err):
		return fmt.Errorf("%s: cannot reach porchlightd at %s (%v): is it running? Use --server URL or set %s", op, c.server, err, EnvServer)
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}
