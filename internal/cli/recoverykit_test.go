package cli

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/seal"
)

// TestRecoveryKitRotate: a household whose roster lists no recovery key
// (made before recovery kits existed) gets one from `recovery-kit rotate`,
// covering video recorded before; a second rotation replaces it. Then on a
// fresh PORCHLIGHT_HOME only the newest passphrase recovers the household
// and exports the earlier video; the older ones fail with a clear error.
func TestRecoveryKitRotate(t *testing.T) {
	segs := testSegments(t)[:3]
	dir := t.TempDir()
	server, err := startServer(filepath.Join(dir, "service"), t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	const pw = "correct horse battery staple"
	owner := cliEnv{EnvHome: filepath.Join(dir, "owner"), EnvServer: server, EnvPassword: pw, "TZ": "UTC"}
	r := mustCLI(t, owner, "signup", "--email", "owner@example.com")
	m := passphraseRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("signup shows no recovery passphrase:\n%s", r.stdout)
	}
	signupPass := m[1]
	hub, _ := claimTestHub(t, owner, server)

	// As before recovery kits: the roster lists no recovery key.
	mm := &Main{Env: owner.get}
	mm.defaults()
	h, err := mm.openHousehold(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.changeRoster(t.Context(), "drop the recovery key", func(es []seal.RosterEntry) []seal.RosterEntry {
		out := es[:0]
		for _, e := range es {
			if e.Role != seal.RoleRecovery {
				out = append(out, e)
			}
		}
		return out
	}, func() bool { return false }); err != nil {
		t.Fatal(err)
	}

	// Video recorded while no recovery key was listed: the hub wraps its
	// key to the owner device only.
	cam := hub.addCamera("porch")
	hub.refreshRosterAndReseal(cam, "porch")
	if hub.roster.Viewers(cam, time.Now()) == nil || len(hub.roster.Viewers(cam, time.Now())) != 1 {
		t.Fatalf("roster version %d: want the owner device as the only viewer", hub.roster.Version)
	}
	ep := hub.newEpoch(cam)
	base := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	var clips []clip
	at := base
	for _, s := range segs {
		clips = append(clips, clip{seg: s, start: at})
		at = at.Add(s.Duration)
	}
	hub.upload(ep, clips)
	from, to := base.Add(-5*time.Second).Format(time.RFC3339), at.Add(5*time.Second).Format(time.RFC3339)

	// Without --yes and no "y": nothing changes.
	if r := runCLI(t, owner, "n\n", "recovery-kit", "rotate"); r.code == 0 || !strings.Contains(r.stderr, "unchanged") {
		t.Fatalf("rotate declined: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	r = mustCLI(t, owner, "recovery-kit", "rotate", "--yes")
	if !strings.Contains(r.stdout, "Made your household's recovery kit") || !strings.Contains(r.stdout, "keys of 1 epoch") {
		t.Errorf("first rotate output:\n%s\n%s", r.stdout, r.stderr)
	}
	m = passphraseRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("rotate shows no passphrase:\n%s", r.stdout)
	}
	firstPass := m[1]

	r = runCLI(t, owner, "y\n", "recovery-kit", "rotate")
	if r.code != 0 {
		t.Fatalf("second rotate: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"Replaced your household's recovery kit", "keys of 1 epoch", "shown only this once", "is unrecoverable",
		"old recovery passphrase no longer opens anything the service holds", "before now (a backup) can still be opened with the old passphrase"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("second rotate output lacks %q:\n%s", want, r.stdout)
		}
	}
	m = passphraseRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("rotate shows no passphrase:\n%s", r.stdout)
	}
	newPass := m[1]
	if newPass == firstPass || newPass == signupPass {
		t.Fatal("rotate showed an old passphrase")
	}
	hub.refreshRosterAndReseal(cam, "porch")
	var recs int
	for _, e := range hub.roster.Entries {
		if e.Role == seal.RoleRecovery {
			recs++
		}
	}
	if recs != 1 {
		t.Errorf("roster version %d lists %d recovery keys, want 1", hub.roster.Version, recs)
	}

	// The old passphrases open nothing.
	for i, old := range []string{signupPass, firstPass} {
		fresh := cliEnv{EnvHome: filepath.Join(dir, "old", string(rune('a'+i))), EnvServer: server, EnvPassword: pw, "TZ": "UTC", EnvRecovery: old}
		r := runCLI(t, fresh, "", "recover", "--email", "owner@example.com")
		if r.code == 0 || !strings.Contains(r.stderr, "recovery passphrase does not open") || !strings.Contains(r.stderr, "nothing was changed") {
			t.Errorf("recover with old passphrase %d: exit %d\n%s\n%s", i, r.code, r.stdout, r.stderr)
		}
	}

	fresh := cliEnv{EnvHome: filepath.Join(dir, "new"), EnvServer: server, EnvPassword: pw, "TZ": "UTC", EnvRecovery: newPass}
	r = mustCLI(t, fresh, "recover", "--email", "owner@example.com")
	if !strings.Contains(r.stdout, "keys of 1 epoch") {
		t.Errorf("recover output:\n%s\n%s", r.stdout, r.stderr)
	}
	hub.refreshRosterAndReseal(cam, "porch")
	assertExport(t, fresh, "porch", filepath.Join(dir, "out.mp4"), from, to, segs)
}
