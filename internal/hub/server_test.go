package hub

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/server"
	"github.com/porchlight/porchlight/internal/testutil"
)

// startServer starts an in-process porchlightd on addr ("127.0.0.1:0" for
// a fresh port) over dir.
func startServer(t *testing.T, addr, dir string) (*server.Main, string) {
	t.Helper()
	s := &server.Main{Listen: addr, DataDir: dir, Stdout: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	got, err := s.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, got
}

// owner is a household's first device, talking to the real service.
type owner struct {
	c   *apiclient.Client
	dev *keys.Pair
	hh  string
	ver uint64
	hub ed25519.PublicKey
}

func newOwner(t *testing.T, url string) *owner {
	ctx := t.Context()
	c := apiclient.New(url, "")
	sess, err := c.Signup(ctx, api.SignupRequest{Email: "owner@example.com", Password: "pl-test-" + seal.NewID(), DeviceName: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	c.Token = sess.Token
	dev, _ := keys.Generate("laptop")
	o := &owner{c: c, dev: dev, hh: sess.HouseholdID}
	o.appendRoster(t, entry(dev, seal.KindDevice, seal.RoleOwner))
	return o
}

func (o *owner) appendRoster(t *testing.T, es ...seal.RosterEntry) {
	t.Helper()
	var entries []seal.RosterEntry
	rs, err := o.c.Roster(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	prev := ""
	if len(rs.Versions) > 0 {
		latest, err := seal.VerifyRosterChain(rs.Versions, o.dev.SignPub())
		if err != nil {
			t.Fatal(err)
		}
		entries = latest.Entries
		prev = seal.RosterHash(rs.Versions[len(rs.Versions)-1])
	}
	o.ver++
	signed, err := seal.SignRoster(o.dev.Sign, seal.Roster{Household: o.hh, Version: o.ver, Prev: prev, Created: time.Now().UTC(), Entries: append(entries, es...)})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.c.AppendRoster(t.Context(), signed); err != nil {
		t.Fatal(err)
	}
}

// claim runs `porchlight hub claim` as the owner while the hub starts.
func (o *owner) claim(t *testing.T, m Main, out *testutil.SyncBuffer) (*Hub, context.CancelFunc) {
	t.Helper()
	ctx := t.Context()
	code, err := o.c.CreateClaim(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m.Claim = code.Code
	hctx, cancel := context.WithCancel(context.Background())
	type res struct {
		h   *Hub
		err error
	}
	done := make(chan res, 1)
	go func() { h, err := m.Start(hctx); done <- res{h, err} }()
	var st *api.ClaimStatus
	for deadline := time.Now().Add(10 * time.Second); ; {
		st, err = o.c.ClaimStatus(ctx, code.Code)
		if err != nil {
			t.Fatal(err)
		}
		if st.State == api.ClaimPresented {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hub did not present itself; claim %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := seal.ClaimFingerprint(code.Code, st.HubSign, st.HubKEM, o.dev.SignPub())
	hubSide := regexp.MustCompile(`fingerprint (\d{3} \d{3} \d{4})`).FindStringSubmatch(out.String())
	if hubSide == nil || hubSide[1] != want {
		t.Fatalf("hub shows %v, owner computes %s", hubSide, want)
	}
	o.appendRoster(t, seal.RosterEntry{ID: st.HubID, Kind: seal.KindHub, Role: seal.RoleHub, Name: st.HubName, Sign: st.HubSign, KEM: st.HubKEM})
	if err := o.c.ConfirmClaim(ctx, code.Code, st.HubID); err != nil {
		t.Fatal(err)
	}
	o.hub = st.HubSign
	r := <-done
	if r.err != nil {
		cancel()
		t.Fatal(r.err)
	}
	t.Cleanup(func() { cancel(); r.h.Wait() })
	return r.h, cancel
}

// export reads back one camera's recordings as the owner, verifying
// everything, and returns the manifests (by time) and decrypted media.
func (o *owner) export(t *testing.T, camName string) ([]*seal.Manifest, map[string][]byte) {
	t.Helper()
	ctx := t.Context()
	cams, err := o.c.Cameras(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var camID string
	for _, c := range cams {
		d, err := o.dev.OpenCamera(c.Descriptor, o.hub)
		if err != nil {
			t.Fatal(err)
		}
		if d.Name == camName {
			camID = c.ID
		}
	}
	if camID == "" {
		t.Fatalf("camera %q not found among %d", camName, len(cams))
	}
	eps, err := o.c.Epochs(ctx, camID, o.dev.ID)
	if err != nil {
		t.Fatal(err)
	}
	type epoch struct {
		ann *seal.EpochAnnouncement
		key *age.HybridIdentity
	}
	byID := map[string]epoch{}
	for _, e := range eps {
		ann, err := seal.VerifyEpoch(e.Announcement, o.hub)
		if err != nil {
			t.Fatal(err)
		}
		k, err := o.dev.OpenEpochKey(e.Wrap, ann)
		if err != nil {
			t.Fatal(err)
		}
		byID[e.ID] = epoch{ann, k}
	}
	objs, err := o.c.Manifests(ctx, camID, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), true)
	if err != nil {
		t.Fatal(err)
	}
	var ms []*seal.Manifest
	media := map[string][]byte{}
	for _, obj := range objs {
		e, ok := byID[obj.EpochID]
		if !ok {
			t.Fatalf("manifest %s of unknown epoch", obj.ID)
		}
		m, err := keys.OpenManifest(obj.Data, e.key, o.hub, o.hh, camID, obj.EpochID)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
		for _, so := range m.Objects {
			ct, err := o.c.Object(ctx, so.ID)
			if err != nil {
				t.Fatal(err)
			}
			if seal.SHA256Hex(ct) != so.SHA256 {
				t.Fatalf("segment %s: hash differs from the manifest", so.ID)
			}
			h, b, err := keys.OpenSegment(ct, e.key)
			if err != nil {
				t.Fatal(err)
			}
			if h.Household != o.hh || h.Camera != camID || h.Epoch != obj.EpochID || h.Seq != so.Seq || !h.Start.Equal(so.Start) {
				t.Fatalf("segment %s: header %+v does not match %+v", so.ID, h, so)
			}
			media[so.ID] = b
		}
	}
	// Order by first segment sequence (coarse times tie within a minute).
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && ms[j].Objects[0].Seq < ms[j-1].Objects[0].Seq; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
	return ms, media
}

// TestCamsimHubServer is the recording spine in one process: a simulated
// camera, the hub with the real ingest and client, and the real porchlightd.
// Then the service goes down, the spool grows, the service comes back on the
// same address and the spool drains to zero; the owner decrypts everything.
func TestCamsimHubServer(t *testing.T) {
	if testing.Short() {
		t.Skip("records for about 15 s")
	}
	cam := startCamsim(t)
	srvDir := t.TempDir()
	srv, addr := startServer(t, "127.0.0.1:0", srvDir)
	url := "http://" + addr
	o := newOwner(t, url)

	logs, out := &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
	m := Main{
		Server: url, DataDir: t.TempDir(), Name: "spine hub",
		Cameras:    []Camera{{Name: "porch", URL: cam.URL(), Transport: "tcp"}},
		MinSegment: time.Second, MaxSegment: 3 * time.Second, ManifestInterval: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, nil)), Out: out,
	}
	h, stop := o.claim(t, m, out)
	waitUntil(t, 20*time.Second, "first manifests uploaded", logs, func() bool {
		st := h.Stats()
		return st.Manifests >= 2 && st.Spooled == 0
	})
	ms, media := o.export(t, "porch")
	if len(ms) < 2 || checkMedia(t, ms, media) < 3 {
		t.Fatalf("%d manifests", len(ms))
	}

	// Service down: recording goes on into the spool.
	srv.Close()
	waitUntil(t, 20*time.Second, "spool to grow while the service is down", logs, func() bool {
		st := h.Stats()
		return st.Spooled >= 4 && st.Manifests >= int64(len(ms))+1
	})
	before := h.Stats()
	if !strings.Contains(logs.String(), "uploads waiting") {
		t.Fatalf("outage not logged:\n%s", logs)
	}
	// Back on the same address and data.
	srv2, _ := startServer(t, addr, srvDir)
	defer srv2.Close()
	waitUntil(t, 30*time.Second, "spool to drain", logs, func() bool { return h.Stats().Spooled == 0 })
	stop()
	if err := h.Wait(); err != nil {
		t.Fatal(err)
	}
	if h.Stats().Spooled != 0 || h.Stats().Uploaded <= before.Uploaded {
		t.Fatalf("stats after drain %+v (before %+v)", h.Stats(), before)
	}
	ms, media = o.export(t, "porch")
	n := checkMedia(t, ms, media)
	if int64(n) != h.Stats().Segments {
		t.Fatalf("exported %d segments, the hub recorded %d", n, h.Stats().Segments)
	}
	// Sequences are gap-free: nothing lost, nothing duplicated.
	var seq uint64
	for _, m := range ms {
		for _, so := range m.Objects {
			if so.Seq != seq {
				t.Fatalf("segment seq %d, want %d", so.Seq, seq)
			}
			seq++
		}
	}
}

func waitUntil(t *testing.T, d time.Duration, what string, logs *testutil.SyncBuffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out\nlogs:\n%s", what, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
