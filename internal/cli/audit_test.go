package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auditlog"
)

// TestAuditVerify: `audit verify` passes on the service's log, pins its key
// and checkpoint, and alarms — changing nothing saved — when a tile on disk
// is edited or truncated, when the service's log key changes, and when an
// entry verified before disappears from the listing.
func TestAuditVerify(t *testing.T) {
	e := newGrantEnv(t, false)
	r := mustCLI(t, e.owner, "audit", "verify")
	if !strings.Contains(r.stdout, "Pinned the log key ") {
		t.Errorf("the first audit verify does not say it pinned the log key:\n%s", r.stdout)
	}
	r = mustCLI(t, e.owner, "audit", "verify")
	if strings.Contains(r.stdout, "Pinned") || !strings.HasPrefix(r.stdout, "audit log verified: ") {
		t.Errorf("the second audit verify:\n%s", r.stdout)
	}

	t.Run("a tampered tile makes audit verify alarm", func(t *testing.T) {
		mustCLI(t, e.owner, "audit", "verify")
		tiles := hashTiles(t, filepath.Join(e.dir, "log"))
		orig := map[string][]byte{}
		for _, p := range tiles {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			orig[p] = b
		}
		restore := func() {
			for p, b := range orig {
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		defer restore()

		// One byte of the hash of entry 0 (and of the nodes above it).
		for p, b := range orig {
			c := bytes.Clone(b)
			c[0] ^= 0x01
			if err := os.WriteFile(p, c, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r := runCLI(t, e.owner, "", "audit", "verify")
		if r.code == 0 || !strings.HasPrefix(r.stderr, "ALARM: ") || !strings.Contains(r.stderr, "the log was rewritten") ||
			!strings.Contains(r.stderr, "do not trust this service's audit log") {
			t.Fatalf("audit verify with an edited tile: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if r := runCLI(t, e.owner, "", "audit"); r.code == 0 || !strings.Contains(r.stdout, "✗") {
			t.Errorf("audit with an edited tile: exit %d, want ✗ marks:\n%s", r.code, r.stdout)
		}

		// Truncated.
		for p, b := range orig {
			if err := os.WriteFile(p, b[:len(b)-5], 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if r := runCLI(t, e.owner, "", "audit", "verify"); r.code == 0 || !strings.HasPrefix(r.stderr, "ALARM: ") {
			t.Fatalf("audit verify with a truncated tile: exit %d\n%s", r.code, r.stderr)
		}

		// Restored: it verifies again (the failures changed nothing saved).
		restore()
		mustCLI(t, e.owner, "audit", "verify")
	})

	t.Run("a changed log key is an alarm", func(t *testing.T) {
		p := filepath.Join(e.owner[EnvHome], auditStateName(e.server))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("no audit state saved: %v", err)
		}
		var st auditState
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		if len(st.Checkpoint) == 0 || st.Entries == 0 {
			t.Errorf("the saved audit state has no checkpoint or entries: %+v", st)
		}
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("audit state %s: %v, want mode 0600", p, err)
		}
		changed := st
		changed.VerifierKey = "porchlight.audit/other+0a1b2c3d+AQ=="
		nb, _ := json.Marshal(changed)
		if err := os.WriteFile(p, nb, 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(p, b, 0o600)
		r := runCLI(t, e.owner, "", "audit", "verify")
		if r.code == 0 || !strings.Contains(r.stderr, "ALARM: the service's log key changed") {
			t.Errorf("audit verify with another pinned key: exit %d\n%s", r.code, r.stderr)
		}
		if after, _ := os.ReadFile(p); !bytes.Equal(after, nb) {
			t.Error("a failed verification changed the saved state")
		}
	})

	t.Run("entries missing from the listing are an alarm", func(t *testing.T) {
		p := filepath.Join(e.owner[EnvHome], auditStateName(e.server))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(p, b, 0o600)
		var st auditState
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		st.Entries++ // as if the service now hid one
		nb, _ := json.Marshal(st)
		if err := os.WriteFile(p, nb, 0o600); err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, e.owner, "", "audit", "verify")
		if r.code == 0 || !strings.Contains(r.stderr, "entries were removed from your log's listing") {
			t.Errorf("audit verify with an entry missing: exit %d\n%s", r.code, r.stderr)
		}
	})
}

// hashTiles lists the hash tile files of the log under dir (not entry
// bundles).
func hashTiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(dir, "tile"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "entries" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("find the log's tiles: %v", err)
	}
	if len(out) == 0 {
		t.Fatalf("no tile files under %s", dir)
	}
	return out
}

// TestAuditFork: a service that shows this device a checkpoint of another
// tree of the size it verified before (a fork), signed with the log's real
// key, is caught; the honest log verifies again afterwards.
func TestAuditFork(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "service")
	realURL, err := startServer(data, t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(realURL)
	if err != nil {
		t.Fatal(err)
	}
	// A proxy that can show this client alone another checkpoint.
	var fork atomic.Pointer[[]byte]
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		cp := fork.Load()
		if cp == nil || resp.Request.URL.Path != "/v1/audit" || resp.StatusCode != http.StatusOK {
			return nil
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var l api.AuditList
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
		l.Checkpoint = *cp
		nb, err := json.Marshal(l)
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(nb))
		resp.ContentLength = int64(len(nb))
		resp.Header.Set("Content-Length", fmt.Sprint(len(nb)))
		return nil
	}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)

	env := userEnv(filepath.Join(dir, "home"), ps.URL)
	mustCLI(t, env, "signup", "--email", "owner@example.com")
	mustCLI(t, env, "audit", "verify")

	statePath := filepath.Join(env[EnvHome], auditStateName(ps.URL))
	saved, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	var st auditState
	if err := json.Unmarshal(saved, &st); err != nil {
		t.Fatal(err)
	}
	v, err := auditlog.NewVerifier(st.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := v.Checkpoint(st.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	// The service's own signing key (server.Main keeps it beside the log).
	signer, _, err := auditlog.LoadOrCreateKey(filepath.Join(data, "log-signing.key"), v.Origin())
	if err != nil {
		t.Fatalf("the service's log signing key: %v", err)
	}
	other := bytes.Clone(cp.Hash)
	other[0] ^= 0x01
	forged, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", cp.Origin, cp.Size, base64.StdEncoding.EncodeToString(other))}, signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Checkpoint(forged); err != nil {
		t.Fatalf("the forged checkpoint does not even verify: %v", err)
	}
	fork.Store(&forged)
	r := runCLI(t, env, "", "audit", "verify")
	if r.code == 0 || !strings.HasPrefix(r.stderr, "ALARM: the log's checkpoint") || !strings.Contains(r.stderr, "forked or rewritten") {
		t.Errorf("audit verify shown a forked checkpoint: exit %d\n%s", r.code, r.stderr)
	}
	if after, _ := os.ReadFile(statePath); !bytes.Equal(after, saved) {
		t.Error("a failed verification changed the saved checkpoint")
	}
	if r := runCLI(t, env, "", "audit"); r.code == 0 || !strings.Contains(r.stderr, "ALARM:") {
		t.Errorf("audit shown a forked checkpoint: exit %d\n%s", r.code, r.stderr)
	}

	fork.Store(nil)
	mustCLI(t, env, "audit", "verify")
}

func TestActorString(t *testing.T) {
	for _, tc := range []struct {
		a    auditlog.Actor
		want string
	}{
		{auditlog.Actor{Kind: api.ActorSupport, Email: "agent@example.com", Org: "Acme", Country: "DE"}, "support agent@example.com (Acme, DE)"},
		{auditlog.Actor{Kind: api.ActorOperator, Email: "ops@example.com"}, "operator ops@example.com"},
		{auditlog.Actor{Kind: api.ActorOwner, Device: "dev1", Email: "hidden@example.com"}, "owner device dev1"},
		{auditlog.Actor{Kind: api.ActorAnonymous, Addr: "192.0.2.0/24"}, "anonymous from 192.0.2.0/24"},
		{auditlog.Actor{Kind: api.ActorHub, Hub: "hub1"}, "hub hub1"},
		{auditlog.Actor{Kind: api.ActorSupport, Email: "x\x1b[2Jy@example.com"}, "support x?[2Jy@example.com"},
	} {
		if got := actorString(tc.a); got != tc.want {
			t.Errorf("actorString(%+v) = %q, want %q", tc.a, got, tc.want)
		}
	}
}
