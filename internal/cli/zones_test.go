package cli

import (
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// TestCameraZones: zones set with the CLI are stored sealed (the hub opens
// them with its key and verifies the owner's signature, as the real hub
// does), read back, versioned, and cleared; a bad file is refused with
// what to fix, and nothing is stored.
func TestCameraZones(t *testing.T) {
	home := t.TempDir()
	env, server := signedUp(t, home, t.TempDir())
	hub, _ := claimTestHub(t, env, server)
	cam := hub.addCamera("front door")

	r := mustCLI(t, env, "cameras", "zones", "front door")
	if !strings.Contains(r.stdout, "no zones set from a device") {
		t.Fatalf("before any zones: %q", r.stdout)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"zones":[{"name":"path","points":[[0,0],[2,0],[0,1]],"classes":["person"]}]}`), 0o600)
	if r := runCLI(t, env, "", "cameras", "zones", "--set", bad, "front door"); r.code == 0 || !strings.Contains(r.stderr, "coordinates go from 0 to 1") {
		t.Fatalf("out-of-frame zone: exit %d, stderr %q", r.code, r.stderr)
	}
	good := filepath.Join(t.TempDir(), "zones.json")
	os.WriteFile(good, []byte(`{"zones":[{"name":"path","points":[[0,0.5],[1,0.5],[1,1],[0,1]],"classes":["person","animal"]}]}`), 0o600)
	r = mustCLI(t, env, "cameras", "zones", "--set", good, "front door")
	if !strings.Contains(r.stdout, "zones version 1") || !strings.Contains(r.stdout, "person,animal") {
		t.Fatalf("set: %q", r.stdout)
	}

	// The hub's view: it opens the settings with its own key and checks an
	// owner device of its roster signed them.
	cs, err := hub.c.HubCameraSettings(t.Context(), cam)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := keys.Decrypt(cs.Sealed, hub.key.KEM)
	if err != nil {
		t.Fatalf("the hub cannot open the zones: %v", err)
	}
	hub.refreshRoster()
	owners := func(id string) ed25519.PublicKey {
		for _, e := range hub.roster.Owners() {
			if e.ID == id {
				return e.Sign
			}
		}
		return nil
	}
	s, err := seal.VerifyCameraSettings(pt, owners, hub.household, cam)
	if err != nil {
		t.Fatalf("the hub refuses the zones: %v", err)
	}
	if s.Version != 1 || len(s.Zones) != 1 || s.Zones[0].Name != "path" {
		t.Fatalf("hub sees %+v", s)
	}

	r = mustCLI(t, env, "cameras", "zones", "--json", "front door")
	var zf zonesFile
	if err := json.Unmarshal([]byte(r.stdout), &zf); err != nil || len(zf.Zones) != 1 || len(zf.Zones[0].Points) != 4 {
		t.Fatalf("--json: %q (%v)", r.stdout, err)
	}
	r = mustCLI(t, env, "cameras", "zones", "--clear", "front door")
	if !strings.Contains(r.stdout, "zones version 2") || !strings.Contains(r.stdout, "anywhere in the frame") {
		t.Fatalf("clear: %q", r.stdout)
	}
}
