package cli

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
	sqlitestore "github.com/porchlight/porchlight/internal/store/sqlite"
)

// openServiceStore opens the metadata store of a running porchlightd
// (SQLite allows a second connection): the tests below change it behind
// the service's back, as a compromised or buggy service could.
func openServiceStore(t *testing.T, serviceDir string) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(serviceDir, "porchlight.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// blobPath is where the service's disk blob store keeps an object.
func blobPath(serviceDir, id string) string {
	return filepath.Join(serviceDir, "blobs", id[0:2], id[2:4], id)
}

// TestForgedRosterRefused inserts a roster version straight into the
// database, bypassing the API's checks: the next version, correctly
// chained, but signed by a key that is not an owner device of the
// previous version (the service adding a "ghost viewer"). Every command
// that reads the household refuses it, on this device and on a new one
// that pins the household on first use; nothing is decrypted.
func TestForgedRosterRefused(t *testing.T) {
	dir := t.TempDir()
	service := filepath.Join(dir, "service")
	server, err := startServer(service, t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	env := userEnv(filepath.Join(dir, "home"), server)
	mustCLI(t, env, "signup", "--email", "owner@example.com")
	hub, _ := claimTestHub(t, env, server)
	hub.addCamera("front door")
	mustCLI(t, env, "cameras")

	st := openServiceStore(t, service)
	ctx := t.Context()
	vs, err := st.RosterVersions(ctx, hub.household)
	if err != nil || len(vs) != 2 {
		t.Fatalf("roster versions: %d, %v", len(vs), err)
	}
	chain := make([][]byte, len(vs))
	for i, v := range vs {
		chain[i] = v.Signed
	}
	latest, err := seal.VerifyRosterChain(chain, nil)
	if err != nil {
		t.Fatal(err)
	}
	ghost := mustKey(t, "ghost viewer")
	forged, err := seal.SignRoster(ghost.Sign, seal.Roster{
		Household: hub.household, Version: 3, Prev: seal.RosterHash(chain[1]), Created: time.Now().UTC(),
		Entries: append(latest.Entries, deviceEntry(ghost, seal.RoleOwner)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AppendRoster(ctx, store.RosterVersion{HouseholdID: hub.household, Version: 3, Signed: forged, Hash: seal.RosterHash(forged), Created: time.Now().UTC()}); err != nil {
		t.Fatalf("insert the forged version: %v", err)
	}

	for _, args := range [][]string{{"cameras"}, {"recordings", "--camera", "front door"}, {"whoami"}} {
		r := runCLI(t, env, "", args...)
		if r.code != 1 || !strings.Contains(r.stderr, "ROSTER ALARM") || !strings.Contains(r.stderr, "not an owner device") ||
			strings.Contains(r.stdout, "front door") {
			t.Errorf("%v with a forged roster version: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
		}
	}
	// The pin still holds the two verified versions only.
	m := &Main{Env: env.get}
	m.defaults()
	pin, err := m.loadPin()
	if err != nil || len(pin.Versions) != 2 {
		t.Fatalf("pin after the refusal: %v, %v", pin, err)
	}

	// A new device of the same account, pinning on first use, refuses the
	// chain as well.
	fresh := cliEnv{EnvHome: filepath.Join(dir, "new device"), EnvServer: server, EnvPassword: env[EnvPassword], "TZ": "UTC"}
	for _, args := range [][]string{{"login", "--email", "owner@example.com"}, {"cameras"}} {
		if r := runCLI(t, fresh, "", args...); r.code != 1 || !strings.Contains(r.stderr, "ROSTER ALARM") || strings.Contains(r.stdout, "front door") {
			t.Errorf("%v on a new device with the forged roster: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

// TestCrossHouseholdExport is the Wyze failure reaching the client: two
// households on one service, and the service's data mixed up for real — a
// blob under one of A's segment ids replaced by B's ciphertext, then the
// store row of B's manifest moved to A's camera. A's export fails with an
// error naming the object and writes no frame.
func TestCrossHouseholdExport(t *testing.T) {
	segs := testSegments(t)[:3]
	dir := t.TempDir()
	service := filepath.Join(dir, "service")
	server, err := startServer(service, t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	envA := userEnv(filepath.Join(dir, "a"), server)
	envB := cliEnv{EnvHome: filepath.Join(dir, "b"), EnvServer: server, EnvPassword: "another horse battery staple", "TZ": "UTC"}
	mustCLI(t, envA, "signup", "--email", "a@example.com")
	mustCLI(t, envB, "signup", "--email", "b@example.com")
	hubA, _ := claimTestHub(t, envA, server)
	hubB, _ := claimTestHub(t, envB, server)
	camA, camB := hubA.addCamera("front door"), hubB.addCamera("front door")
	epA, epB := hubA.newEpoch(camA), hubB.newEpoch(camB)
	base := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	var clips []clip
	at := base
	for _, s := range segs {
		clips = append(clips, clip{seg: s, start: at})
		at = at.Add(s.Duration)
	}
	objsA := hubA.upload(epA, clips)
	objsB := hubB.upload(epB, clips)
	from, to := base.Add(-time.Second).Format(time.RFC3339), at.Add(time.Second).Format(time.RFC3339)
	export := func(t *testing.T) (result, string) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "a.mp4")
		return runCLI(t, envA, "", "export", "--camera", "front door", "--from", from, "--to", to, "-o", out), out
	}
	if r, _ := export(t); r.code != 0 {
		t.Fatalf("A's export before the mix-up: exit %d\n%s", r.code, r.stderr)
	}

	t.Run("B's ciphertext under A's segment id", func(t *testing.T) {
		victim := blobPath(service, objsA[1].ID)
		orig, err := os.ReadFile(victim)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(victim, orig, 0o600)
		foreign, err := os.ReadFile(blobPath(service, objsB[1].ID))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(victim, foreign, 0o600); err != nil {
			t.Fatal(err)
		}
		r, out := export(t)
		if r.code != 1 || !strings.Contains(r.stderr, "segment "+objsA[1].ID) || !strings.Contains(r.stderr, "altered or swapped") {
			t.Fatalf("export with B's ciphertext under A's id: exit %d\n%s", r.code, r.stderr)
		}
		assertEmptyDir(t, filepath.Dir(out))
	})

	t.Run("B's manifest row moved to A's camera", func(t *testing.T) {
		st := openServiceStore(t, service)
		ms, err := st.Manifests(t.Context(), camB, base.Add(-time.Hour), at.Add(time.Hour), 10)
		if err != nil || len(ms) != 1 {
			t.Fatalf("B's manifests: %d, %v", len(ms), err)
		}
		db, err := sql.Open("sqlite", filepath.Join(service, "porchlight.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(t.Context(), `UPDATE objects SET household = ?, camera = ? WHERE id = ?`, hubA.household, camA, ms[0].ID); err != nil {
			t.Fatal(err)
		}
		r, out := export(t)
		if r.code != 1 || !strings.Contains(r.stderr, "manifest "+ms[0].ID) || !strings.Contains(r.stderr, "refusing it") {
			t.Fatalf("export with B's manifest listed under A's camera: exit %d\n%s", r.code, r.stderr)
		}
		assertEmptyDir(t, filepath.Dir(out))
		if r := runCLI(t, envA, "", "recordings", "--camera", "front door", "--from", from, "--to", to); r.code != 1 || !strings.Contains(r.stderr, "manifest "+ms[0].ID) {
			t.Fatalf("recordings with B's manifest listed under A's camera: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
}
