package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/seal"
)

var passphraseRE = regexp.MustCompile(`\b([A-Z2-9]{4}(?:-[A-Z2-9]{4}){7})\b`)

// TestRecover: an owner records, loses the device, and on a fresh
// PORCHLIGHT_HOME with only the password and the recovery passphrase gets
// the household back and exports the earlier video. A wrong passphrase
// changes nothing.
func TestRecover(t *testing.T) {
	segs := testSegments(t)[:3]
	dir := t.TempDir()
	server, err := startServer(filepath.Join(dir, "service"), t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	const pw = "correct horse battery staple"
	old := cliEnv{EnvHome: filepath.Join(dir, "old"), EnvServer: server, EnvPassword: pw, "TZ": "UTC"}
	r := mustCLI(t, old, "signup", "--email", "owner@example.com")
	m := passphraseRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("signup shows no recovery passphrase:\n%s", r.stdout)
	}
	passphrase := m[1]
	if !strings.Contains(r.stdout, "If you lose every device (this one and any you add later) AND this passphrase, your video\nis unrecoverable") {
		t.Errorf("signup does not warn what losing the passphrase means:\n%s", r.stdout)
	}
	hub, _ := claimTestHub(t, old, server)
	recEntry := recoveryEntry(t, hub.roster)

	cam := hub.addCamera("front door")
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

	// Another session of the account, on a device outside the roster:
	// recover signs it out too.
	third := cliEnv{EnvHome: filepath.Join(dir, "third"), EnvServer: server, EnvPassword: pw, "TZ": "UTC"}
	mustCLI(t, third, "login", "--email", "owner@example.com")

	// Lost: only the password and the passphrase remain.
	fresh := cliEnv{EnvHome: filepath.Join(dir, "new"), EnvServer: server, EnvPassword: pw, "TZ": "UTC"}

	// A wrong passphrase: a clear error, and nothing changes.
	wrong := cliEnv{}
	for k, v := range fresh {
		wrong[k] = v
	}
	other := []byte(passphrase)
	other[0] = map[bool]byte{true: 'B', false: 'A'}[other[0] == 'A']
	wrong[EnvRecovery] = string(other)
	r = runCLI(t, wrong, "", "recover", "--email", "owner@example.com")
	if r.code == 0 || !strings.Contains(r.stderr, "recovery passphrase does not open") || !strings.Contains(r.stderr, "nothing was changed") {
		t.Fatalf("recover with a wrong passphrase: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if entries, _ := os.ReadDir(fresh[EnvHome]); len(entries) > 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		// devices.json (the service's device token) may be kept; nothing else.
		if len(names) != 1 || names[0] != deviceTokensFile {
			t.Errorf("a failed recover left %v in the fresh home", names)
		}
	}
	if r := mustCLI(t, old, "whoami"); !strings.Contains(r.stdout, "owner in roster version 2") {
		t.Errorf("a failed recover changed the roster or ended the old session:\n%s", r.stdout)
	}
	if r := runCLI(t, wrong, "", "recover", "--email", "owner@example.com"); r.code == 0 {
		t.Fatal("second wrong recover succeeded")
	}

	// The right passphrase, typed in lower case with spaces.
	fresh[EnvRecovery] = strings.ToLower(strings.ReplaceAll(passphrase, "-", " "))
	r = mustCLI(t, fresh, "recover", "--email", "owner@example.com")
	for _, want := range []string{"is an owner in roster version 3", "Removed lost device", "keys of 1 epoch", "Signed out 1 other session"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("recover output lacks %q:\n%s\n%s", want, r.stdout, r.stderr)
		}
	}
	if r := runCLI(t, old, "", "whoami"); r.code == 0 {
		t.Errorf("the lost device's session still works after recover:\n%s", r.stdout)
	}
	if r := runCLI(t, third, "", "whoami"); r.code == 0 {
		t.Errorf("another session still works after recover:\n%s", r.stdout)
	}
	// Running it again in a used home is refused.
	if r := runCLI(t, fresh, "", "recover", "--email", "owner@example.com"); r.code == 0 || !strings.Contains(r.stderr, "fresh") {
		t.Errorf("recover into a used home: exit %d\n%s", r.code, r.stderr)
	}

	// The hub sees the new roster and re-seals its camera descriptors (as
	// internal/hub does on every roster change).
	hub.refreshRosterAndReseal(cam, "front door")
	if e := hub.roster.Entry(recEntry.ID); e == nil || e.Role != seal.RoleRecovery {
		t.Error("recover dropped the recovery entry from the roster")
	}

	assertExport(t, fresh, "front door", filepath.Join(dir, "out.mp4"), from, to, segs)
}

// recoveryEntry returns the roster's recovery entry.
func recoveryEntry(t *testing.T, r *seal.Roster) seal.RosterEntry {
	t.Helper()
	for _, e := range r.Entries {
		if e.Role == seal.RoleRecovery {
			if e.Kind != seal.KindDevice || len(e.Cameras) != 1 || e.Cameras[0] != seal.AllCameras {
				t.Fatalf("recovery entry %+v: want kind device, every camera", e)
			}
			return e
		}
	}
	t.Fatalf("roster version %d lists no recovery entry", r.Version)
	return seal.RosterEntry{}
}

// refreshRosterAndReseal adopts the roster the service serves and seals
// camera id's descriptor again to its owners.
func (h *testHub) refreshRosterAndReseal(id, name string) {
	h.t.Helper()
	r, err := h.c.HubRoster(h.t.Context())
	if err != nil {
		h.t.Fatal(err)
	}
	if h.roster, err = seal.VerifyRosterChain(r.Versions, nil); err != nil {
		h.t.Fatalf("hub: roster after recover: %v", err)
	}
	var to []age.Recipient
	for _, o := range h.roster.Owners() {
		rc, err := seal.ParseRecipient(o.KEM)
		if err != nil {
			h.t.Fatal(err)
		}
		to = append(to, rc)
	}
	desc, err := seal.SealCamera(h.key.Sign, seal.CameraDescriptor{Household: h.household, Camera: id, Hub: h.key.ID, Name: name, Created: time.Now().UTC()}, to...)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.c.PutCamera(h.t.Context(), id, api.HubCamera{Descriptor: desc}); err != nil {
		h.t.Fatalf("put camera: %v", err)
	}
}
