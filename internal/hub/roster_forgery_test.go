package hub

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
	svcstore "github.com/porchlight/porchlight/internal/store"
	sqlitestore "github.com/porchlight/porchlight/internal/store/sqlite"
	"github.com/porchlight/porchlight/internal/testutil"
)

// TestForgedRosterInDatabase: the service's database gains a roster
// version no owner device signed — inserted straight into the store,
// bypassing the API's checks, correctly chained to the latest version but
// signed by a "ghost viewer" that lists itself as an owner. The hub,
// recording from a simulated camera against the real porchlightd, refuses
// it, says so in its log, keeps the last verified roster, and wraps no
// epoch key to the ghost; the owner still decrypts everything.
func TestForgedRosterInDatabase(t *testing.T) {
	cam := startCamsim(t)
	srvDir := t.TempDir()
	_, addr := startServer(t, "127.0.0.1:0", srvDir)
	url := "http://" + addr
	o := newOwner(t, url)

	logs, out := &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
	m := Main{
		Server: url, DataDir: t.TempDir(), Name: "porch hub",
		Cameras:    []Camera{{Name: "porch", URL: cam.URL(), Transport: "tcp"}},
		MinSegment: time.Second, MaxSegment: 2 * time.Second, ManifestInterval: 2 * time.Second, RosterInterval: time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, nil)), Out: out,
	}
	h, _ := o.claim(t, m, out)
	waitUntil(t, 20*time.Second, "first manifest uploaded", logs, func() bool {
		st := h.Stats()
		return st.Manifests >= 1 && st.Spooled == 0
	})
	if v := h.currentRoster().Version; v != 2 {
		t.Fatalf("hub roster version %d, want 2", v)
	}

	// The forgery, written into the service's SQLite database.
	st, err := sqlitestore.Open(context.Background(), filepath.Join(srvDir, "porchlight.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	vs, err := st.RosterVersions(ctx, o.hh)
	if err != nil || len(vs) != 2 {
		t.Fatalf("roster versions %d, %v", len(vs), err)
	}
	chain := [][]byte{vs[0].Signed, vs[1].Signed}
	latest, err := seal.VerifyRosterChain(chain, o.dev.SignPub())
	if err != nil {
		t.Fatal(err)
	}
	ghost, err := keys.Generate("ghost viewer")
	if err != nil {
		t.Fatal(err)
	}
	forged, err := seal.SignRoster(ghost.Sign, seal.Roster{
		Household: o.hh, Version: 3, Prev: seal.RosterHash(chain[1]), Created: time.Now().UTC(),
		Entries: append(latest.Entries, entry(ghost, seal.KindDevice, seal.RoleOwner)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AppendRoster(ctx, svcstore.RosterVersion{HouseholdID: o.hh, Version: 3, Signed: forged, Hash: seal.RosterHash(forged), Created: time.Now().UTC()}); err != nil {
		t.Fatalf("insert the forged version: %v", err)
	}

	waitUntil(t, 10*time.Second, "the hub to refuse the forged roster", logs, func() bool {
		return strings.Contains(logs.String(), "REFUSING the roster")
	})
	if !strings.Contains(logs.String(), "not an owner device") {
		t.Errorf("the refusal does not say why:\n%s", logs)
	}
	// Recording goes on under the last verified roster.
	before := h.Stats().Manifests
	waitUntil(t, 20*time.Second, "recording to go on after the refusal", logs, func() bool {
		st := h.Stats()
		return st.Manifests >= before+2 && st.Spooled == 0
	})
	if r := h.currentRoster(); r.Version != 2 || r.Entry(ghost.ID) != nil {
		t.Fatalf("the hub adopted roster version %d (ghost listed: %v)", r.Version, r.Entry(ghost.ID) != nil)
	}
	if strings.Contains(logs.String(), "roster changed: new epoch") {
		t.Errorf("the forged version started a new epoch:\n%s", logs)
	}
	camID := h.CameraID("porch")
	eps, err := st.Epochs(ctx, camID, ghost.ID)
	if err != nil || len(eps) == 0 {
		t.Fatalf("epochs of the camera: %d, %v", len(eps), err)
	}
	for _, e := range eps {
		if len(e.Wrap) != 0 {
			t.Fatalf("epoch %s is wrapped to the ghost device", e.ID)
		}
	}
	ms, media := o.export(t, "porch")
	if len(ms) < 3 || checkMedia(t, ms, media) < 3 {
		t.Fatalf("owner exported %d manifests", len(ms))
	}
}
