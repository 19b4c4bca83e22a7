package server_test

import (
	"bytes"
	"encoding/base32"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/server"
)

const staffPassword = "correct horse battery staple 42"

// admin runs `porchlightd admin args…` in-process and returns its exit
// status, stdout and stderr.
func admin(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := server.Admin(t.Context(), args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

func startMain(t *testing.T, data string) (*server.Main, string) {
	t.Helper()
	m := &server.Main{Listen: "127.0.0.1:0", DataDir: data, Stdout: io.Discard, Logger: quietLogger(io.Discard)}
	addr, err := m.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, "http://" + addr
}

// TestAdminStaffBootstrap: the operator creates a staff account over the
// admin socket; it exists, signs in only with a TOTP code from the secret
// printed once, and the account actions work on it.
func TestAdminStaffBootstrap(t *testing.T) {
	data := t.TempDir()
	m, url := startMain(t, data)

	sock := filepath.Join(data, "admin.sock")
	if m.AdminSocketPath() != sock {
		t.Errorf("AdminSocketPath = %q, want %q", m.AdminSocketPath(), sock)
	}
	if fi, err := os.Lstat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin socket: %v, mode %v; want a socket with mode 0600", err, fi.Mode())
	}
	if fi, err := os.Stat(data); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir: %v, mode %v; want 0700", err, fi.Mode().Perm())
	}

	// staff add, password from the environment.
	env := map[string]string{"PORCHLIGHT_DATA": data, "PORCHLIGHT_PASSWORD": staffPassword}
	code, out, errOut := admin(t, env, "", "staff", "add", "--email", "Ops@Example.org", "--role", "operator")
	if code != 0 {
		t.Fatalf("staff add: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	secretLine := regexp.MustCompile(`(?m)^Authenticator app \(TOTP\) secret:\n  ([A-Z2-7]+)$`).FindStringSubmatch(out)
	if secretLine == nil {
		t.Fatalf("no TOTP secret in the output:\n%s", out)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secretLine[1])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "otpauth://totp/") {
		t.Errorf("no otpauth URI in the output:\n%s", out)
	}
	if codes := regexp.MustCompile(`(?m)^  [a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$`).FindAllString(out, -1); len(codes) != auth.RecoveryCodeCount {
		t.Errorf("%d recovery codes in the output, want %d:\n%s", len(codes), auth.RecoveryCodeCount, out)
	}
	if strings.Contains(out, staffPassword) || strings.Contains(errOut, staffPassword) {
		t.Error("the password was printed")
	}

	// The account exists and lists.
	code, out, errOut = admin(t, nil, "", "--data", data, "staff", "list")
	if code != 0 || !regexp.MustCompile(`ops@example\.org\s+operator\s+active\s+\d{4}-\d\d-\d\d\s+\S+`).MatchString(out) {
		t.Errorf("staff list: exit %d\n%s%s", code, out, errOut)
	}

	// Password alone: an MFA challenge, no session.
	c := apiclient.New(url, "")
	lr, err := c.Login(t.Context(), api.LoginRequest{Email: "ops@example.org", Password: staffPassword, DeviceName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if lr.Session != nil || lr.MFA == nil {
		t.Fatalf("password alone gave %+v, want an MFA challenge only", lr)
	}
	sr, err := c.LoginMFA(t.Context(), api.MFAAnswer{Token: lr.MFA.Token, Code: auth.TOTPCode(secret, auth.TOTPStep(time.Now()))})
	if err != nil {
		t.Fatalf("TOTP sign-in: %v", err)
	}
	staff := apiclient.New(url, sr.Token)
	me, err := staff.Me(t.Context())
	if err != nil || me.Role != api.RoleOperator {
		t.Fatalf("me: %+v, %v; want an operator", me, err)
	}

	// quota: staff own no household; a customer's household gets one.
	if code, _, errOut := admin(t, env, "", "account", "quota", "ops@example.org", "1GB"); code == 0 || !strings.Contains(errOut, "own no household") {
		t.Errorf("quota for staff: exit %d, %s", code, errOut)
	}
	if _, err := apiclient.New(url, "").Signup(t.Context(), api.SignupRequest{Email: "cust@example.org", Password: "sunlit quarry harbour 9931", DeviceName: "x"}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = admin(t, env, "", "account", "quota", "cust@example.org", "50GB")
	if code != 0 || !strings.Contains(out, "Quota of cust@example.org's household: 47 GiB (0 B stored now)") {
		t.Errorf("quota: exit %d\n%s%s", code, out, errOut)
	}

	// revoke-sessions ends that session at once.
	code, out, errOut = admin(t, env, "", "account", "revoke-sessions", "ops@example.org")
	if code != 0 || !strings.Contains(out, "Ended 1 sessions of ops@example.org") {
		t.Errorf("revoke-sessions: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := staff.Me(t.Context()); !apiclient.IsStatus(err, http.StatusUnauthorized) {
		t.Errorf("me after revoke: %v, want 401", err)
	}

	// disable: the right password gets 403 account_disabled; enable undoes.
	code, out, errOut = admin(t, env, "", "account", "disable", "ops@example.org")
	if code != 0 || !strings.Contains(out, "Disabled ops@example.org") {
		t.Errorf("disable: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := c.Login(t.Context(), api.LoginRequest{Email: "ops@example.org", Password: staffPassword, DeviceName: "test"}); !apiclient.IsStatus(err, http.StatusForbidden) {
		t.Errorf("login while disabled: %v, want 403", err)
	}
	if _, out, _ = admin(t, env, "", "staff", "list"); !strings.Contains(out, "disabled") {
		t.Errorf("staff list does not show the account disabled:\n%s", out)
	}
	code, out, errOut = admin(t, env, "", "account", "enable", "ops@example.org")
	if code != 0 || !strings.Contains(out, "Enabled ops@example.org") {
		t.Errorf("enable: exit %d\n%s%s", code, out, errOut)
	}
	if lr, err := c.Login(t.Context(), api.LoginRequest{Email: "ops@example.org", Password: staffPassword, DeviceName: "test"}); err != nil || lr.MFA == nil {
		t.Errorf("login after enable: %+v, %v", lr, err)
	}

	// Errors from the service reach the operator with their id.
	code, _, errOut = admin(t, env, "", "staff", "add", "--email", "ops@example.org", "--role", "support")
	if code != 1 || !strings.Contains(errOut, "porchlightd admin: staff add: ") || !strings.Contains(errOut, "error id") {
		t.Errorf("duplicate staff add: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = admin(t, env, "", "account", "disable", "nobody@example.org")
	if code != 1 || !strings.Contains(errOut, "no account with this e-mail address") {
		t.Errorf("disable of an unknown account: exit %d, stderr %q", code, errOut)
	}
}

// TestAdminPasswordFromStdin: without PORCHLIGHT_PASSWORD and without a
// terminal, the password is one line of standard input; a weak one is
// refused with the service's advice.
func TestAdminPasswordFromStdin(t *testing.T) {
	data := t.TempDir()
	startMain(t, data)
	env := map[string]string{"PORCHLIGHT_DATA": data}
	code, out, errOut := admin(t, env, staffPassword+"\n", "staff", "add", "--role", "support", "--email", "help@example.org")
	if code != 0 || !strings.Contains(out, "Created support account help@example.org") {
		t.Errorf("staff add: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = admin(t, env, "password\n", "staff", "add", "--role", "annotator", "--email", "label@example.org")
	if code != 1 || !strings.Contains(errOut, "staff add:") {
		t.Errorf("weak password: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = admin(t, env, "", "staff", "add", "--role", "annotator", "--email", "label@example.org")
	if code != 1 || !strings.Contains(errOut, "no password: set PORCHLIGHT_PASSWORD or type it on standard input") {
		t.Errorf("no password: exit %d, stderr %q", code, errOut)
	}
}

// TestAdminUsage: each command-line mistake exits 2 with a message.
func TestAdminUsage(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"PORCHLIGHT_DATA": data, "PORCHLIGHT_PASSWORD": staffPassword}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "want a command such as: staff add, staff list, account disable EMAIL"},
		{[]string{"staff"}, "want a command such as"},
		{[]string{"staff", "remove"}, `unknown command "staff remove"`},
		{[]string{"staff", "add", "--role", "operator"}, "staff add: --email is required"},
		{[]string{"staff", "add", "--email", "a@example.org"}, "staff add: --role is required: support, annotator or operator"},
		{[]string{"staff", "add", "--email", "a@example.org", "--role", "owner"}, `staff add: --role "owner": want support, annotator or operator`},
		{[]string{"staff", "add", "--email", "a@example.org", "--role", "support", "extra"}, `staff add: unexpected ["extra"]`},
		{[]string{"staff", "add", "--password", "x"}, "flag provided but not defined: -password"},
		{[]string{"staff", "list", "x"}, `staff list: unexpected ["x"]`},
		{[]string{"account", "disable"}, "account disable: want one EMAIL"},
		{[]string{"account", "enable", "a@example.org", "b@example.org"}, "account enable: want one EMAIL"},
		{[]string{"account", "quota", "a@example.org"}, "account quota: want EMAIL and a size"},
		{[]string{"account", "quota", "a@example.org", "lots"}, `account quota: "lots" is not a size`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, errOut := admin(t, env, "", tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "usage: porchlightd admin") {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut, tc.want)
			}
		})
	}
	if code, out, _ := admin(t, env, "", "-h"); code != 0 || !strings.Contains(out, "usage: porchlightd admin") {
		t.Errorf("-h: exit %d, %q", code, out)
	}
}

// TestAdminNotRunning: with no porchlightd on the data dir, the client says
// so and how to point it at the right one.
func TestAdminNotRunning(t *testing.T) {
	data := t.TempDir()
	code, _, errOut := admin(t, nil, "", "--data", data, "staff", "list")
	want := "no admin socket at " + filepath.Join(data, "admin.sock") + ": is porchlightd running with this data dir?"
	if code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, errOut, want)
	}
	// A stale socket file (a crash): same message.
	ln, err := net.Listen("unix", filepath.Join(data, "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	code, _, errOut = admin(t, nil, "", "staff", "list", "--data", data)
	if code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("stale socket: exit %d, stderr %q; want 1 and %q", code, errOut, want)
	}
	// porchlightd removes the stale socket and serves a new one.
	startMain(t, data)
	if code, out, errOut := admin(t, nil, "", "staff", "list", "--data", data); code != 0 || !strings.Contains(out, "No staff accounts yet") {
		t.Errorf("after start: exit %d\n%s%s", code, out, errOut)
	}
}

// TestAdminSocketInUse: a second porchlightd on the same data dir does not
// steal the socket of a running one.
func TestAdminSocketInUse(t *testing.T) {
	data := t.TempDir()
	startMain(t, data)
	m := &server.Main{Listen: "127.0.0.1:0", DataDir: data, Stdout: io.Discard, Logger: quietLogger(io.Discard)}
	if _, err := m.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "another porchlightd is serving this admin socket") {
		m.Close()
		t.Fatalf("second Start: %v", err)
	}
	if code, _, errOut := admin(t, nil, "", "staff", "list", "--data", data); code != 0 {
		t.Errorf("the first one's socket is gone: %s", errOut)
	}
}

// TestAdminSocketConfig: admin_socket elsewhere; its directory must be
// private, and the socket path must fit in sun_path. The client finds the
// socket through the same config file.
func TestAdminSocketConfig(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o755)
	for _, tc := range []struct{ name, sock, want string }{
		{"shared dir", filepath.Join(open, "admin.sock"), "admin socket: " + open + " is open to other users (mode -rwxr-xr-x): use a directory only porchlightd's user can enter"},
		{"too long", filepath.Join(dir, strings.Repeat("x", 120), "admin.sock"), "the path is longer than 107 bytes; set admin_socket to a shorter path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &server.Main{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"), AdminSocket: tc.sock, Stdout: io.Discard, Logger: quietLogger(io.Discard)}
			if _, err := m.Start(t.Context()); err == nil || !strings.Contains(err.Error(), tc.want) {
				m.Close()
				t.Errorf("Start: %v, want %q", err, tc.want)
			}
		})
	}
	if fi, err := os.Stat(open); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("a directory that is not porchlightd's was changed: %v", fi.Mode())
	}

	sock := filepath.Join(dir, "run", "admin.sock")
	config := filepath.Join(dir, "porchlightd.toml")
	writeFile(t, config, []byte("listen = \"127.0.0.1:0\"\nadmin_socket = \""+sock+"\"\n"))
	var m server.Main
	if err := m.Load(config, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	m.DataDir, m.Stdout, m.Logger = filepath.Join(dir, "data"), io.Discard, quietLogger(io.Discard)
	if _, err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if fi, err := os.Stat(filepath.Dir(sock)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("socket dir: %v %v, want 0700", err, fi.Mode().Perm())
	}
	if code, _, errOut := admin(t, map[string]string{"PORCHLIGHT_CONFIG": config}, "", "staff", "list"); code != 0 {
		t.Errorf("staff list via the config file: %s", errOut)
	}
}
