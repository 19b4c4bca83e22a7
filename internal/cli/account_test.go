package cli

import (
	"context"
	"encoding/base32"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/server"
	"github.com/porchlight/porchlight/internal/testutil"
	"github.com/porchlight/porchlight/internal/testutil/softauthn"
)

// waitFor polls s until it contains want, failing the test after a while.
func waitFor(t *testing.T, what string, s func() string, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q after 10s; got:\n%s", what, want, s())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// follow runs `porchlight notifications --follow` in the background.
type follow struct {
	out, errb testutil.SyncBuffer
	cancel    context.CancelFunc
	done      chan int
}

func startFollow(t *testing.T, env cliEnv) *follow {
	ctx, cancel := context.WithCancel(t.Context())
	f := &follow{cancel: cancel, done: make(chan int, 1)}
	go func() {
		f.done <- Main{Args: []string{"notifications", "--follow"}, Stdout: &f.out, Stderr: &f.errb, Env: env.get}.Run(ctx)
	}()
	t.Cleanup(cancel)
	waitFor(t, "notifications --follow", f.errb.String, "Waiting for new notifications")
	return f
}

func (f *follow) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case code := <-f.done:
		return code
	case <-time.After(within):
		t.Fatalf("notifications --follow still running after %v\nstdout:\n%s\nstderr:\n%s", within, f.out.String(), f.errb.String())
		return -1
	}
}

// TestNotificationsFollow: one device follows its notifications, sees a second
// device's sign-in as it happens, and its stream ends with a clear error
// soon after a password change on the second device ends its session.
func TestNotificationsFollow(t *testing.T) {
	dir := t.TempDir()
	srvURL, err := startServer(filepath.Join(dir, "service"), t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	const pw = "correct horse battery staple"
	home := cliEnv{EnvHome: filepath.Join(dir, "home"), EnvServer: srvURL, EnvPassword: pw, "TZ": "UTC"}
	laptop := cliEnv{EnvHome: filepath.Join(dir, "laptop"), EnvServer: srvURL, EnvPassword: pw, "TZ": "UTC",
		EnvNewPassword: "violet tractor mumbles at dawn"}
	mustCLI(t, home, "signup", "--email", "owner@example.com")

	f := startFollow(t, home)
	mustCLI(t, laptop, "login", "--email", "owner@example.com", "--device-name", "laptop")
	waitFor(t, "notifications --follow", f.out.String, "sign-in from a new device: device laptop")

	// Interrupting a follow (Ctrl-C) is a normal end.
	g := startFollow(t, laptop)
	g.cancel()
	if code := g.wait(t, 5*time.Second); code != 0 {
		t.Errorf("interrupted follow: exit %d, want 0\nstderr:\n%s", code, g.errb.String())
	}

	start := time.Now()
	mustCLI(t, laptop, "passwd")
	code := f.wait(t, 5*time.Second)
	took := time.Since(start)
	if code != 1 {
		t.Errorf("follow after passwd elsewhere: exit %d, want 1", code)
	}
	if want := "follow notifications: your session is no longer valid"; !strings.Contains(f.errb.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, f.errb.String())
	}
	if took > 3*time.Second {
		t.Errorf("the stream ended %v after the password change, want within a second or two", took)
	}
}

// codeReader answers the authenticator-code prompt of `totp add` like a
// person with an app would: with the current code of the secret the command
// printed.
type codeReader struct {
	stdout *testutil.SyncBuffer
	answer io.Reader
}

var secretRE = regexp.MustCompile(`otpauth://\S+`)

func (r *codeReader) Read(p []byte) (int, error) {
	if r.answer == nil {
		uri := secretRE.FindString(r.stdout.String())
		if uri == "" {
			return 0, fmt.Errorf("asked for a code before printing the otpauth URI")
		}
		secret, err := secretOfURI(uri)
		if err != nil {
			return 0, err
		}
		r.answer = strings.NewReader(auth.TOTPCode(secret, auth.TOTPStep(time.Now())) + "\n")
	}
	return r.answer.Read(p)
}

// TestTOTPAddInteractive types the code at the prompt of `totp add`, then
// signs in with the authenticator.
func TestTOTPAddInteractive(t *testing.T) {
	dir := t.TempDir()
	srvURL, err := startServer(filepath.Join(dir, "service"), t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	env := userEnv(filepath.Join(dir, "home"), srvURL)
	mustCLI(t, env, "signup", "--email", "owner@example.com")

	var out, errb testutil.SyncBuffer
	code := Main{Args: []string{"totp", "add", "--no-qr"}, Stdin: &codeReader{stdout: &out}, Stdout: &out, Stderr: &errb, Env: env.get}.Run(t.Context())
	if code != 0 {
		t.Fatalf("totp add: exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	if strings.Contains(out.String(), "█") {
		t.Error("--no-qr drew a QR code")
	}
	for _, want := range []string{"Authenticator app added", "shown only now"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("totp add: stdout lacks %q:\n%s", want, out.String())
		}
	}
	if r := mustCLI(t, env, "whoami"); !strings.Contains(r.stdout, "authenticator app") {
		t.Errorf("whoami after totp add:\n%s", r.stdout)
	}

	// The next sign-in needs the code: a step later than the one used.
	secret, err := secretOfURI(secretRE.FindString(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	mustCLI(t, env, "logout")
	env[EnvTOTP] = auth.TOTPCode(secret, auth.TOTPStep(time.Now())+1)
	mustCLI(t, env, "login", "--email", "owner@example.com")
}

func TestTerminalQR(t *testing.T) {
	uri := "otpauth://totp/Porchlight:owner%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Porchlight"
	q, err := terminalQR(uri)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(q, "\n"), "\n")
	width := len([]rune(lines[0]))
	for i, l := range lines {
		if n := len([]rune(l)); n != width {
			t.Fatalf("line %d is %d cells wide, line 0 %d", i, n, width)
		}
	}
	// Two modules per cell vertically, one horizontally, with the margin.
	if rows := len(lines); rows != (width+1)/2 {
		t.Errorf("%d rows for %d columns", rows, width)
	}
	if lines[0] != strings.Repeat("█", width) {
		t.Errorf("the top margin is not light: %q", lines[0])
	}
	// The finder pattern's dark corner module is left blank (dark).
	if r := []rune(lines[1])[qrQuiet]; r != ' ' {
		t.Errorf("the top-left finder module is drawn as %q, want dark (blank)", r)
	}
}

func TestSecretGrouping(t *testing.T) {
	for in, want := range map[string]string{
		"":             "",
		"ABCD":         "ABCD",
		"ABCDE":        "ABCD E",
		"ABCDEFGHIJKL": "ABCD EFGH IJKL",
	} {
		if got := groupSecret(in); got != want {
			t.Errorf("groupSecret(%q) = %q, want %q", in, got, want)
		}
	}
	if _, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(groupSecret("JBSWY3DPEHPK3PXP"), " ", "")); err != nil {
		t.Error(err)
	}
}

// TestPasskeyAccount: a passkey (added in the web app; here by a software
// authenticator) is listed and removable, and a sign-in that needs it says
// the command cannot use it and where to go instead.
func TestPasskeyAccount(t *testing.T) {
	dir := t.TempDir()
	const origin = "http://localhost"
	srvURL, err := startServerWith(filepath.Join(dir, "service"), t.Cleanup, func(m *server.Main) { m.PublicURL = origin })
	if err != nil {
		t.Fatal(err)
	}
	const pw = "correct horse battery staple"
	home := cliEnv{EnvHome: filepath.Join(dir, "home"), EnvServer: srvURL, EnvPassword: pw, "TZ": "UTC"}
	laptop := cliEnv{EnvHome: filepath.Join(dir, "laptop"), EnvServer: srvURL, EnvPassword: pw, "TZ": "UTC"}
	mustCLI(t, home, "signup", "--email", "owner@example.com")
	if r := mustCLI(t, home, "passkeys"); !strings.Contains(r.stdout, "No passkeys. Add one in the web app") {
		t.Errorf("passkeys before:\n%s", r.stdout)
	}

	// The web app's part: register a passkey with this device's session.
	sess, err := (&Main{Env: home.get}).loadSession()
	if err != nil {
		t.Fatal(err)
	}
	c := apiclient.New(srvURL, sess.Token)
	begin, err := c.PasskeyRegisterBegin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cred, _, err := softauthn.New(origin).Create(begin.Options)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := c.PasskeyRegisterFinish(t.Context(), api.PasskeyRegister{Token: begin.Token, Name: "security key", Credential: cred})
	if err != nil {
		t.Fatal(err)
	}

	r := mustCLI(t, home, "passkeys")
	if !regexp.MustCompile(`(?m)^ID +NAME +CREATED +LAST USED\n` + pk.ID + ` +security key +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +never$`).MatchString(r.stdout) {
		t.Errorf("passkeys:\n%s", r.stdout)
	}
	if r := mustCLI(t, home, "whoami"); !strings.Contains(r.stdout, "factors:   password, 1 passkey\n") {
		t.Errorf("whoami:\n%s", r.stdout)
	}

	r = runCLI(t, laptop, "", "login", "--email", "owner@example.com")
	if r.code != 1 || !strings.Contains(r.stderr, "your account's second factor is a passkey, which the porchlight command cannot use: sign in with the web app at "+srvURL) {
		t.Errorf("login needing a passkey: exit %d\nstderr:\n%s", r.code, r.stderr)
	}

	if r := runCLI(t, home, "", "passkeys", "remove", "aaaaaaaaaaaaaaaaaaaaaaaaaa"); r.code != 1 || !strings.Contains(r.stderr, "your account has no passkey aaaaaaaaaaaaaaaaaaaaaaaaaa") {
		t.Errorf("removing an unknown passkey: exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	if r := mustCLI(t, home, "passkeys", "remove", pk.ID); !strings.Contains(r.stdout, "Passkey "+pk.ID+" removed") {
		t.Errorf("passkeys remove:\n%s", r.stdout)
	}
	if r := mustCLI(t, home, "passkeys"); !strings.Contains(r.stdout, "No passkeys") {
		t.Errorf("passkeys after remove:\n%s", r.stdout)
	}
	mustCLI(t, laptop, "login", "--email", "owner@example.com")
}
