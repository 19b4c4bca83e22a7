package cli

import (
	"context"
	"encoding/base32"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/server"
)

// clock is a script's service clock: real time plus an offset.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

type clockKey struct{}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

func scriptClock(ts *testscript.TestScript) *clock {
	c, ok := ts.Value(clockKey{}).(*clock)
	if !ok {
		ts.Fatalf("no service clock")
	}
	return c
}

// scriptCmds are the testscript commands beyond the built-in ones.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	// advance DURATION moves the service's clock forward (e.g. past the
	// re-authentication window).
	"advance": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: advance DURATION")
		}
		d, err := time.ParseDuration(args[0])
		ts.Check(err)
		scriptClock(ts).advance(d)
	},
	// totpcode FILE [OUT] makes the code an authenticator app would show now
	// for the otpauth:// URI in FILE (e.g. the saved output of `totp add`):
	// it sets $PORCHLIGHT_TOTP, or writes the code to OUT. Each call uses a
	// later time step than the last for that secret (the service accepts a
	// step once), advancing the service's clock if needed.
	"totpcode": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) < 1 || len(args) > 2 {
			ts.Fatalf("usage: totpcode FILE [OUT]")
		}
		secret := totpSecret(ts, ts.ReadFile(args[0]))
		clk := scriptClock(ts)
		stepFile := ts.MkAbs(".totp-step-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)))
		var last int64
		if b, err := os.ReadFile(stepFile); err == nil {
			last, _ = strconv.ParseInt(string(b), 10, 64)
		}
		cur := auth.TOTPStep(clk.now())
		if cur <= last {
			clk.advance(time.Duration(last+1-cur) * auth.TOTPPeriod)
			cur = auth.TOTPStep(clk.now())
		}
		ts.Check(os.WriteFile(stepFile, []byte(strconv.FormatInt(cur, 10)), 0o600))
		code := auth.TOTPCode(secret, cur)
		if len(args) == 2 {
			ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(code+"\n"), 0o600))
			return
		}
		ts.Setenv(EnvTOTP, code)
	},
	// recoverycode FILE N sets $PORCHLIGHT_TOTP to the Nth recovery code
	// (from 1) listed in FILE.
	"recoverycode": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 2 {
			ts.Fatalf("usage: recoverycode FILE N")
		}
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		codes := recoveryCodeRE.FindAllStringSubmatch(ts.ReadFile(args[0]), -1)
		if n < 1 || n > len(codes) {
			ts.Fatalf("%s lists %d recovery codes, not %d", args[0], len(codes), n)
		}
		ts.Setenv(EnvTOTP, codes[n-1][1])
	},
	// porchlightd-admin ARGS… runs `porchlightd admin ARGS…` against the
	// script's service (its data directory is $WORK/.service).
	"porchlightd-admin": func(ts *testscript.TestScript, neg bool, args []string) {
		var out, errb strings.Builder
		args = append([]string{"--data", ts.MkAbs(".service")}, args...)
		code := server.Admin(context.Background(), args, strings.NewReader(""), &out, &errb, ts.Getenv)
		fmt.Fprint(ts.Stdout(), out.String())
		fmt.Fprint(ts.Stderr(), errb.String())
		if (code != 0) != neg {
			ts.Fatalf("porchlightd admin: exit %d", code)
		}
	},
	// grab NAME REGEXP FILE sets $NAME to the first submatch of REGEXP in
	// FILE (stdout and stderr name the last command's output).
	"grab": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 3 {
			ts.Fatalf("usage: grab NAME REGEXP FILE")
		}
		re, err := regexp.Compile(args[1])
		ts.Check(err)
		m := re.FindStringSubmatch(ts.ReadFile(args[2]))
		if len(m) < 2 {
			ts.Fatalf("no match for %q in %s", args[1], args[2])
		}
		ts.Setenv(args[0], m[1])
	},
}

var recoveryCodeRE = regexp.MustCompile(`(?m)^\s+([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})$`)

// totpSecret finds the secret of the first otpauth:// URI in text.
func totpSecret(ts *testscript.TestScript, text string) []byte {
	m := regexp.MustCompile(`otpauth://\S+`).FindString(text)
	if m == "" {
		ts.Fatalf("no otpauth:// URI found")
	}
	secret, err := secretOfURI(m)
	ts.Check(err)
	return secret
}

func secretOfURI(uri string) ([]byte, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, err
	}
	s := u.Query().Get("secret")
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(s))
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("otpauth URI without a usable secret: %v", err)
	}
	return b, nil
}
