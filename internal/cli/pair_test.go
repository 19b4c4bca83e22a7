package cli

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/seal"
)

// TestDeviceApproveSharesKeys: an approved device receives the keys of the
// recordings the approving device holds and can list them; once removed,
// its session ends.
func TestDeviceApproveSharesKeys(t *testing.T) {
	dir := t.TempDir()
	owner, server := signedUp(t, filepath.Join(dir, "home"), filepath.Join(dir, "service"))
	hub, _ := claimTestHub(t, owner, server)
	cam := hub.addCamera("front door")
	ep := hub.newEpoch(cam)
	start := time.Now().UTC().Add(-5 * time.Minute).Truncate(time.Second)
	var clips []clip
	for _, s := range testSegments(t)[:2] {
		clips = append(clips, clip{seg: s, start: start})
		start = start.Add(s.Duration)
	}
	hub.upload(ep, clips)

	laptop := userEnv(filepath.Join(dir, "laptop"), server)
	mustCLI(t, laptop, "login", "--email", "owner@example.com", "--device-name", "laptop")
	if r := runCLI(t, laptop, "", "recordings", "--camera", "front door", "--from", "-1h"); r.code == 0 {
		t.Fatalf("an unapproved device listed recordings:\n%s", r.stdout)
	}
	r := runCLI(t, laptop, "", "device", "pair", "--timeout", "1s")
	code := regexp.MustCompile(`device approve (\S+)`).FindStringSubmatch(r.stdout)
	sas := regexp.MustCompile(`Authentication string: (\d{3} \d{3} \d{4})`).FindStringSubmatch(r.stdout)
	if r.code == 0 || code == nil || sas == nil {
		t.Fatalf("device pair: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	r = mustCLI(t, owner, "device", "approve", "--yes", code[1])
	for _, want := range []string{"Authentication string: " + sas[1], "Added device \"laptop\"", "keys of 1 recording epoch(s) of 1 camera(s)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("device approve output lacks %q:\n%s", want, r.stdout)
		}
	}
	// Approving again only shares the keys again.
	if r := mustCLI(t, owner, "device", "approve", "--yes", code[1]); !strings.Contains(r.stdout, "keys of 1 recording epoch") {
		t.Errorf("second approve:\n%s", r.stdout)
	}
	mustCLI(t, laptop, "login", "--email", "owner@example.com")
	// The hub re-seals its camera's descriptor to the new roster's owners,
	// as the real hub does on a roster change.
	ro, err := hub.c.HubRoster(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if hub.roster, err = seal.VerifyRosterChain(ro.Versions, nil); err != nil {
		t.Fatal(err)
	}
	var to []age.Recipient
	for _, o := range hub.roster.Owners() {
		r, _ := seal.ParseRecipient(o.KEM)
		to = append(to, r)
	}
	desc, err := seal.SealCamera(hub.key.Sign, seal.CameraDescriptor{Household: hub.household, Camera: cam, Hub: hub.key.ID, Name: "front door", Created: time.Now().UTC()}, to...)
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.c.PutCamera(t.Context(), cam, api.HubCamera{Descriptor: desc}); err != nil {
		t.Fatal(err)
	}
	// The approved device opens the recordings made before it was added.
	if r := mustCLI(t, laptop, "recordings", "--camera", "front door", "--from", "-1h"); !strings.Contains(r.stdout, "2 segment") {
		t.Errorf("recordings on the approved device:\n%s", r.stdout)
	}

	id := regexp.MustCompile(`\(([a-z2-7]{20})\)`).FindStringSubmatch(mustCLI(t, laptop, "whoami").stdout)
	if id == nil {
		t.Fatal("no device id in whoami")
	}
	mustCLI(t, owner, "device", "remove", "--yes", id[1])
	if r := runCLI(t, laptop, "", "recordings", "--camera", "front door", "--from", "-1h"); r.code == 0 || !strings.Contains(r.stderr, "session is no longer valid") {
		t.Errorf("removed device: exit %d\n%s", r.code, r.stderr)
	}
}
