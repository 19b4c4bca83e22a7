package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/porchlight/porchlight/internal/server"
)

// TestMain lets testscript run the real command as "porchlight": the test
// binary re-executes itself with the command's arguments.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"porchlight": func() {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			code := Main{Args: os.Args[1:], Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Env: os.Getenv}.Run(ctx)
			stop()
			os.Exit(code)
		},
	})
}

// userEnv is the environment of a CLI device keeping its state in home,
// signing in to server with the test accounts' password.
func userEnv(home, server string) cliEnv {
	return cliEnv{EnvHome: home, EnvServer: server, EnvPassword: "correct horse battery staple", "TZ": "UTC"}
}

// signedUp starts an in-process porchlightd with its data in data, signs
// up owner@example.com from a device whose state is in home, and returns
// that device's environment and the service URL.
func signedUp(t *testing.T, home, data string) (cliEnv, string) {
	t.Helper()
	server, err := startServer(data, t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	env := userEnv(home, server)
	mustCLI(t, env, "signup", "--email", "owner@example.com")
	return env, server
}

// startServer starts an in-process porchlightd on a free loopback port and
// returns its URL; it stops when the function passed to cleanup runs.
func startServer(dir string, cleanup func(func())) (string, error) {
	return startServerClock(dir, cleanup, nil)
}

// startServerClock is startServer with the service's clock (nil: time.Now).
func startServerClock(dir string, cleanup func(func()), now func() time.Time) (string, error) {
	return startServerWith(dir, cleanup, func(m *server.Main) { m.Now = now })
}

// startServerWith is startServer with settings changed by set.
func startServerWith(dir string, cleanup func(func()), set func(*server.Main)) (string, error) {
	srv := &server.Main{
		Listen:  "127.0.0.1:0",
		DataDir: dir,
		Stdout:  io.Discard,
		Logger:  slog.New(slog.DiscardHandler),
	}
	set(srv)
	addr, err := srv.Start(context.Background())
	if err != nil {
		return "", err
	}
	cleanup(func() { srv.Close() })
	return "http://" + addr, nil
}

// TestScripts runs testdata/*.txtar against a fresh porchlightd each. The
// service's clock is the script's (see scriptCmds): it runs with real time
// plus whatever `advance` added.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:  "testdata",
		Cmds: scriptCmds,
		Setup: func(env *testscript.Env) error {
			clk := &clock{}
			env.Values[clockKey{}] = clk
			url, err := startServerClock(filepath.Join(env.WorkDir, ".service"), env.Defer, clk.now)
			if err != nil {
				return err
			}
			env.Setenv(EnvServer, url)
			env.Setenv(EnvHome, filepath.Join(env.WorkDir, "home"))
			env.Setenv("SERVER", url)
			env.Setenv("TZ", "UTC")
			return nil
		},
	})
}

// cliEnv is the environment of an in-process run.
type cliEnv map[string]string

func (e cliEnv) get(k string) string { return e[k] }

// result is what one in-process run produced.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the command in-process.
func runCLI(t *testing.T, env cliEnv, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main{Args: args, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Env: env.get}.Run(t.Context())
	return result{code, out.String(), errb.String()}
}

// mustCLI runs the command and fails the test unless it exits 0.
func mustCLI(t *testing.T, env cliEnv, args ...string) result {
	t.Helper()
	r := runCLI(t, env, "", args...)
	if r.code != 0 {
		t.Fatalf("porchlight %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}
