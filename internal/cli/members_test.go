package cli

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// openableEpochs returns how many epochs of a camera the device can open, as
// the given session sees them (the owner may list any device's wraps).
func openableEpochs(t *testing.T, c *apiclient.Client, hub *testHub, camera string, dev *keys.Pair) (opened, total int) {
	t.Helper()
	list, err := c.Epochs(t.Context(), camera, dev.ID)
	if err != nil {
		t.Fatalf("epochs: %v", err)
	}
	for _, ep := range list {
		total++
		if len(ep.Wrap) == 0 {
			continue
		}
		ann, err := seal.VerifyEpoch(ep.Announcement, hub.key.SignPub())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dev.OpenEpochKey(ep.Wrap, ann); err == nil {
			opened++
		}
	}
	return opened, total
}

// refreshRoster makes the fake hub adopt the latest roster, as the real
// hub does on a roster change.
func (h *testHub) refreshRoster() {
	h.t.Helper()
	ro, err := h.c.HubRoster(h.t.Context())
	if err != nil {
		h.t.Fatal(err)
	}
	if h.roster, err = seal.VerifyRosterChain(ro.Versions, nil); err != nil {
		h.t.Fatal(err)
	}
}

// resealDescriptor seals a camera's descriptor to the devices the real
// hub seals it to (owners and in-scope members) and uploads it.
func (h *testHub) resealDescriptor(camera, name string) {
	h.t.Helper()
	var to []age.Recipient
	for _, e := range h.roster.Entries {
		if e.Kind == seal.KindDevice && (e.Role == seal.RoleOwner || (e.Role == seal.RoleMember && e.InScope(camera, time.Now()))) {
			r, err := seal.ParseRecipient(e.KEM)
			if err != nil {
				h.t.Fatal(err)
			}
			to = append(to, r)
		}
	}
	desc, err := seal.SealCamera(h.key.Sign, seal.CameraDescriptor{Household: h.household, Camera: camera, Hub: h.key.ID, Name: name, Created: time.Now().UTC()}, to...)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.c.PutCamera(h.t.Context(), camera, api.HubCamera{Descriptor: desc}); err != nil {
		h.t.Fatal(err)
	}
}

// TestMembersInviteAndRemoval: an owner shares one camera with another
// account; the member's device gets the keys of that camera only, and the
// service serves it that camera only. After `members remove` the member's
// next request gets 401, a new sign-in reaches nothing, and no epoch (old
// or made after the removal) holds a key the member's device can open.
func TestMembersInviteAndRemoval(t *testing.T) {
	dir := t.TempDir()
	server, err := startServer(filepath.Join(dir, "service"), t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	const pw = "correct horse battery staple"
	owner := cliEnv{EnvHome: filepath.Join(dir, "owner"), EnvServer: server, EnvPassword: pw, "TZ": "UTC"}
	mustCLI(t, owner, "signup", "--email", "owner@example.com")
	hub, _ := claimTestHub(t, owner, server)
	front, garage := hub.addCamera("front"), hub.addCamera("garage")
	start := time.Now().UTC().Add(-5 * time.Minute).Truncate(time.Second)
	seg := testSegments(t)[0]
	hub.upload(hub.newEpoch(front), []clip{{seg: seg, start: start}})
	hub.upload(hub.newEpoch(garage), []clip{{seg: seg, start: start}})

	member := cliEnv{EnvHome: filepath.Join(dir, "member"), EnvServer: server, EnvPassword: pw, "TZ": "UTC"}
	mustCLI(t, member, "signup", "--email", "neighbour@example.com")
	mdev, err := (&Main{Env: member.get}).loadDevice()
	if err != nil {
		t.Fatal(err)
	}

	if r := mustCLI(t, owner, "members"); !strings.Contains(r.stdout, "No members") {
		t.Errorf("members before:\n%s", r.stdout)
	}
	if r := runCLI(t, owner, "", "members", "invite", "neighbour@example.com", "--cameras", "porch"); r.code == 0 || !strings.Contains(r.stderr, "no camera named") {
		t.Errorf("invite to an unknown camera: exit %d\n%s", r.code, r.stderr)
	}
	r := mustCLI(t, owner, "members", "invite", "Neighbour@example.com", "--cameras", "front", "--expires", "7d")
	code := regexp.MustCompile(`members accept ([A-Z0-9-]+)`).FindStringSubmatch(r.stdout)
	if code == nil {
		t.Fatalf("no code in invite output:\n%s", r.stdout)
	}
	// Confirming before the member accepted does nothing.
	if r := runCLI(t, owner, "", "members", "confirm", "--yes", code[1]); r.code == 0 || !strings.Contains(r.stderr, "has not accepted") {
		t.Errorf("confirm before accept: exit %d\n%s", r.code, r.stderr)
	}
	// Another account cannot accept someone else's invite.
	other := cliEnv{EnvHome: filepath.Join(dir, "other"), EnvServer: server, EnvPassword: pw, "TZ": "UTC"}
	mustCLI(t, other, "signup", "--email", "stranger@example.com")
	if r := runCLI(t, other, "", "members", "accept", code[1]); r.code == 0 {
		t.Errorf("a stranger accepted the invite:\n%s", r.stdout)
	}

	r = mustCLI(t, member, "members", "accept", code[1])
	sas := regexp.MustCompile(`Authentication string: (\d{3} \d{3} \d{4})`).FindStringSubmatch(r.stdout)
	if sas == nil {
		t.Fatalf("accept output:\n%s", r.stdout)
	}
	r = mustCLI(t, owner, "members", "confirm", "--yes", code[1])
	for _, want := range []string{"Authentication string: " + sas[1], "Cameras: front,", "Added neighbour@example.com as a member", "keys of 1 recording epoch(s)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("confirm output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = mustCLI(t, owner, "members")
	if !strings.Contains(r.stdout, "neighbour@example.com") || !strings.Contains(r.stdout, mdev.ID) || !strings.Contains(r.stdout, "front") || strings.Contains(r.stdout, "garage") {
		t.Errorf("members after confirm:\n%s", r.stdout)
	}

	msess, err := (&Main{Env: member.get}).loadSession()
	if err != nil {
		t.Fatal(err)
	}
	mc := apiclient.New(server, msess.Token)
	osess, err := (&Main{Env: owner.get}).loadSession()
	if err != nil {
		t.Fatal(err)
	}
	oc := apiclient.New(server, osess.Token)

	// The member opens the shared camera's keys and reaches nothing else.
	if n, total := openableEpochs(t, mc, hub, front, mdev); n != 1 || total != 1 {
		t.Errorf("member opens %d of %d epochs of the shared camera, want 1 of 1", n, total)
	}
	if _, err := mc.Epochs(t.Context(), garage, mdev.ID); !apiclient.IsStatus(err, http.StatusForbidden) {
		t.Errorf("member on the unshared camera: %v, want 403", err)
	}
	if n, _ := openableEpochs(t, oc, hub, garage, mdev); n != 0 {
		t.Errorf("member holds %d keys of the unshared camera", n)
	}
	// The hub re-seals the shared camera's descriptor to the member device
	// too (as internal/hub does on a roster change); the member's CLI then
	// lists and exports it, verified against the pinned household root.
	hub.refreshRoster()
	hub.resealDescriptor(front, "front")
	hub.resealDescriptor(garage, "garage")
	if r := mustCLI(t, member, "shared"); !strings.Contains(r.stdout, "front") || strings.Contains(r.stdout, "garage") {
		t.Errorf("shared:\n%s", r.stdout)
	}
	if r := mustCLI(t, member, "recordings", "--camera", "front", "--from", "-1h"); !strings.Contains(r.stdout, "1 segment") {
		t.Errorf("member's recordings:\n%s", r.stdout)
	}
	out := filepath.Join(dir, "front.mp4")
	mustCLI(t, member, "export", "--camera", "front", "--from", "-1h", "--to", "now", "-o", out)
	if r := runCLI(t, member, "", "recordings", "--camera", "garage", "--from", "-1h"); r.code == 0 {
		t.Errorf("member listed the unshared camera:\n%s", r.stdout)
	}
	// The hub wraps new epochs of the shared camera to the member.
	hub.newEpoch(front)
	if n, total := openableEpochs(t, mc, hub, front, mdev); n != 2 || total != 2 {
		t.Errorf("after a new epoch the member opens %d of %d, want 2 of 2", n, total)
	}

	// Removal.
	r = mustCLI(t, owner, "members", "remove", "--yes", "neighbour@example.com")
	if !strings.Contains(r.stdout, "Removed member neighbour@example.com") {
		t.Errorf("remove output:\n%s", r.stdout)
	}
	if _, err := mc.Epochs(t.Context(), front, mdev.ID); !apiclient.IsStatus(err, http.StatusUnauthorized) {
		t.Errorf("the removed member's next request: %v, want 401", err)
	}
	if r := runCLI(t, member, "", "members", "accept", code[1]); r.code == 0 || !strings.Contains(r.stderr, "session is no longer valid") {
		t.Errorf("removed member's CLI: exit %d\n%s", r.code, r.stderr)
	}
	if r := mustCLI(t, owner, "members"); !strings.Contains(r.stdout, "No members") {
		t.Errorf("members after removal:\n%s", r.stdout)
	}
	// The hub sees the new roster and starts a new epoch without the member.
	hub.refreshRoster()
	if hub.roster.Entry(mdev.ID) != nil {
		t.Fatal("the roster still lists the removed member's device")
	}
	after := hub.newEpoch(front)
	list, err := oc.Epochs(t.Context(), front, mdev.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := false
	for _, ep := range list {
		seen = seen || ep.ID == after.id
		if len(ep.Wrap) != 0 {
			t.Errorf("epoch %s still holds a wrap for the removed member's device", ep.ID)
		}
	}
	if !seen {
		t.Error("the epoch made after the removal is not listed")
	}
	// Signing in again reaches nothing of the household.
	mustCLI(t, member, "login", "--email", "neighbour@example.com")
	msess, err = (&Main{Env: member.get}).loadSession()
	if err != nil {
		t.Fatal(err)
	}
	mc.Token = msess.Token
	if _, err := mc.Epochs(t.Context(), front, mdev.ID); !apiclient.IsStatus(err, http.StatusNotFound) && !apiclient.IsStatus(err, http.StatusForbidden) {
		t.Errorf("the removed member signed in again: %v, want 403 or 404", err)
	}
	// Removing again says they are not a member.
	if r := runCLI(t, owner, "", "members", "remove", "--yes", "neighbour@example.com"); r.code == 0 || !strings.Contains(r.stderr, "not a member") {
		t.Errorf("second remove: exit %d\n%s", r.code, r.stderr)
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration // -1: none; 0: error
	}{
		{"", -1}, {"never", -1}, {"7d", 7 * 24 * time.Hour}, {"36h", 36 * time.Hour}, {"90m", 90 * time.Minute},
		{"0d", 0}, {"-3h", 0}, {"soon", 0}, {"d", 0}, {"99999d", 0},
	} {
		got, err := parseExpiry(tc.in, now)
		switch {
		case tc.want == 0:
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
		case tc.want == -1:
			if err != nil || got != nil {
				t.Errorf("%q: %v, %v; want no end", tc.in, got, err)
			}
		case err != nil || got == nil || !got.Equal(now.Add(tc.want)):
			t.Errorf("%q: %v, %v; want %v", tc.in, got, err, now.Add(tc.want))
		}
	}
}
