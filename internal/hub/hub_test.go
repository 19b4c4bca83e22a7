package hub

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/testutil"
)

func TestClaimRecordUpload(t *testing.T) {
	r := newRig(t)
	h := r.start(r.main("front door"))
	// The fingerprint both sides show.
	fp := regexp.MustCompile(`claim fingerprint (\d{3} \d{3} \d{4}) — confirm`).FindStringSubmatch(r.out.String())
	if fp == nil {
		t.Fatalf("no fingerprint printed:\n%s", r.out)
	}
	if want := seal.ClaimFingerprint(testCode, r.svc.hubSign, r.svc.hubKEM, r.hh.owner.SignPub()); fp[1] != want {
		t.Fatalf("fingerprint %s, owner computes %s", fp[1], want)
	}
	st, _ := os.Stat(filepath.Join(r.dir, "state.json"))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("state.json mode %v", st.Mode())
	}

	start := r.clock.Now()
	var sent [][]byte
	for i := range 7 {
		p := payload(i)
		sent = append(sent, p)
		r.feed.segment(t, "front door", start.Add(time.Duration(i)*2*time.Second), p)
	}
	r.waitFor("uploads", func() bool { s, m := r.counts(); return s == 7 && m == 2 && r.drained() })
	// The 7th segment is in an open batch until shutdown closes it.
	r.shutdown()
	if s, m := r.counts(); s != 7 || m != 3 {
		t.Fatalf("after shutdown: %d segments, %d manifests", s, m)
	}

	o := r.open(r.hh.owner)
	if len(o.epochs) != 1 || len(o.manifests) != 3 || len(o.names) != 1 {
		t.Fatalf("epochs %d manifests %d cameras %d", len(o.epochs), len(o.manifests), len(o.names))
	}
	camID := h.CameraID("front door")
	if o.names[camID] != "front door" {
		t.Fatalf("descriptor names %v", o.names)
	}
	var seq uint64
	for mi, m := range o.manifests {
		if m.Seq != uint64(mi) {
			t.Fatalf("manifest seq %d at %d", m.Seq, mi)
		}
		for _, mo := range m.Objects {
			if mo.Seq != seq || !bytes.Equal(o.segments[mo.ID], sent[seq]) || mo.Codec != "h264" || mo.Frames != 50 || mo.DurationMS != 2000 {
				t.Fatalf("segment %d: %+v", seq, mo)
			}
			seq++
		}
	}
	if seq != 7 {
		t.Fatalf("listed %d segments", seq)
	}
	for id, n := range o.listed {
		if n != 1 {
			t.Fatalf("segment %s listed %d times", id, n)
		}
	}
	// The service never saw plaintext or the camera's name.
	for _, obj := range r.svc.objects {
		if bytes.Contains(obj.body, []byte("ftyp")) || bytes.Contains(obj.body, []byte("front door")) {
			t.Fatal("plaintext reached the service")
		}
	}
	// Epoch announcement: day bounds, roster version.
	for _, a := range o.epochs {
		if !a.NotBefore.Equal(time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)) || !a.NotAfter.Equal(time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC)) || a.Roster != 2 {
			t.Fatalf("announcement %+v", a)
		}
	}

	// A restart the same day reuses the epoch and continues the sequences,
	// without claiming again.
	r.out = &testutil.SyncBuffer{}
	m := r.main("front door")
	m.Claim = ""
	r.start(m)
	r.feed.segment(t, "front door", start.Add(time.Minute), payload(8))
	r.shutdown()
	o = r.open(r.hh.owner)
	if len(o.epochs) != 1 || len(o.manifests) != 4 {
		t.Fatalf("after restart: %d epochs, %d manifests", len(o.epochs), len(o.manifests))
	}
	last := o.manifests[3]
	if last.Seq != 3 || last.Objects[0].Seq != 7 {
		t.Fatalf("sequences after restart: manifest %d, segment %d", last.Seq, last.Objects[0].Seq)
	}
	if strings.Contains(r.out.String(), "fingerprint") {
		t.Fatal("claimed again after restart")
	}
}

func TestNotClaimed(t *testing.T) {
	r := newRig(t)
	m := r.main()
	m.Claim = ""
	_, err := m.Start(t.Context())
	if !errors.Is(err, ErrNotClaimed) || !strings.Contains(err.Error(), "porchlight hub claim") {
		t.Fatalf("err = %v", err)
	}
	m.Claim = "WXYZ-WXYZ-WXYZ"
	if _, err := m.Start(t.Context()); !errors.Is(err, ErrClaimExpired) {
		t.Fatalf("unknown code: %v", err)
	}
}

// TestClaimSurvivesRestart: a hub stopped while waiting for the owner
// polls the same claim after a restart.
func TestClaimSurvivesRestart(t *testing.T) {
	r := newRig(t)
	r.svc.polls = -1000 // never confirm in the first run
	ctx, cancel := context.WithCancel(t.Context())
	m := r.main()
	errc := make(chan error, 1)
	go func() { _, err := m.Start(ctx); errc <- err }()
	for !strings.Contains(r.out.String(), "fingerprint") {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("first start: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(r.dir, "state.json"))
	if !strings.Contains(string(b), testCode) {
		t.Fatal("pending claim not saved")
	}
	r.svc.polls = 0
	m.Claim = "" // resumes the saved claim
	r.start(m)
	if r.svc.token == "" {
		t.Fatal("not confirmed")
	}
}

func TestEpochRolloverAtUTCMidnight(t *testing.T) {
	r := newRig(t)
	r.start(r.main("yard"))
	t0 := time.Date(2025, 3, 14, 23, 59, 56, 0, time.UTC)
	r.clock.Set(t0)
	r.feed.segment(t, "yard", t0, payload(0))
	r.feed.segment(t, "yard", t0.Add(2*time.Second), payload(1))
	r.clock.Set(t0.Add(4 * time.Second))
	r.feed.segment(t, "yard", t0.Add(4*time.Second), payload(2)) // 00:00:00 next day
	r.feed.segment(t, "yard", t0.Add(6*time.Second), payload(3))
	r.waitFor("drain", r.drained)
	r.shutdown()
	o := r.open(r.hh.owner)
	if len(o.epochs) != 2 || len(o.manifests) != 2 {
		t.Fatalf("%d epochs, %d manifests", len(o.epochs), len(o.manifests))
	}
	for i, m := range o.manifests {
		ann := o.epochs[m.Epoch]
		for _, mo := range m.Objects {
			if mo.Start.Before(ann.NotBefore) || !mo.Start.Before(ann.NotAfter) {
				t.Fatalf("segment at %v in epoch %v–%v", mo.Start, ann.NotBefore, ann.NotAfter)
			}
		}
		if len(m.Objects) != 2 || m.Objects[0].Seq != uint64(2*i) {
			t.Fatalf("manifest %d: %+v", i, m.Objects)
		}
	}
}

func TestBatchCloses(t *testing.T) {
	r := newRig(t)
	m := r.main("porch")
	m.ManifestEvery = 100
	m.ManifestInterval = time.Second
	h := r.start(m)
	t0 := r.clock.Now()
	r.feed.segment(t, "porch", t0, payload(0))
	r.feed.segment(t, "porch", t0.Add(2*time.Second), payload(1))
	// Interval: the hub clock moves on, the ticker closes the batch.
	r.clock.Set(t0.Add(2 * time.Second))
	r.waitFor("interval manifest", func() bool { return h.Stats().Manifests == 1 })
	// Camera drop closes the open batch.
	r.feed.segment(t, "porch", t0.Add(4*time.Second), payload(2))
	r.feed.state(t, "porch", true, nil)
	r.feed.state(t, "porch", false, errors.New("connection reset"))
	if h.Stats().Manifests != 2 {
		t.Fatalf("offline did not close the batch: %+v", h.Stats())
	}
	r.clock.Set(t0.Add(12 * time.Second))
	r.feed.state(t, "porch", true, nil)
	if !strings.Contains(r.logs.String(), "camera recording again") || !strings.Contains(r.logs.String(), "gap=10s") {
		t.Fatalf("gap not logged:\n%s", r.logs)
	}
	r.waitFor("drain", r.drained)
	r.shutdown()
	o := r.open(r.hh.owner)
	if len(o.manifests) != 2 || len(o.manifests[0].Objects) != 2 || len(o.manifests[1].Objects) != 1 {
		t.Fatalf("manifests %+v", o.manifests)
	}
}

// TestRosterChange: a new roster version starts a new epoch on every camera
// wrapped to the new viewers only, and re-seals descriptors.
func TestRosterChange(t *testing.T) {
	r := newRig(t)
	h := r.start(r.main("a", "b"))
	t0 := r.clock.Now()
	r.feed.segment(t, "a", t0, payload(0))
	r.feed.segment(t, "b", t0, payload(1))

	member, _ := keys.Generate("member phone")
	r.svc.mu.Lock()
	r.hh.append(t, func(ro *seal.Roster) {
		e := entry(member, seal.KindDevice, seal.RoleMember)
		e.Cameras = []string{h.CameraID("a")}
		ro.Entries = append(ro.Entries, e)
	})
	r.svc.mu.Unlock()
	if changed, err := h.refreshRoster(t.Context(), r.svc); err != nil || !changed {
		t.Fatalf("refresh: %v %v", changed, err)
	}
	h.onRosterChange()
	r.feed.segment(t, "a", t0.Add(2*time.Second), payload(2))
	r.feed.segment(t, "b", t0.Add(2*time.Second), payload(3))
	r.waitFor("drain", r.drained)
	r.shutdown()

	own := r.open(r.hh.owner)
	if len(own.epochs) != 4 || len(own.manifests) != 4 {
		t.Fatalf("owner: %d epochs, %d manifests", len(own.epochs), len(own.manifests))
	}
	mem := r.open(member)
	if len(mem.manifests) != 1 || mem.manifests[0].Camera != h.CameraID("a") || mem.manifests[0].Objects[0].Seq != 1 {
		t.Fatalf("member sees %+v", mem.manifests)
	}
	// Descriptors were re-sealed for roster 3 (the member is not an owner,
	// so it cannot open them).
	var st state
	h.st.view(func(s *state) { st = *s })
	for _, cs := range st.Cameras {
		if cs.Descriptor != 3 || cs.Epoch.Roster != 3 {
			t.Fatalf("camera state %+v", cs)
		}
	}
}

func TestCheckRoster(t *testing.T) {
	hh := newHousehold(t)
	other := newHousehold(t)
	hub, _ := keys.Generate("hub")
	hh.append(t, func(r *seal.Roster) { r.Entries = append(r.Entries, entry(hub, seal.KindHub, seal.RoleHub)) })
	known := hh.chain
	root := hh.owner.SignPub()

	// A fork: version 2 rewritten (a device added behind the owner's back).
	intruder, _ := keys.Generate("intruder")
	fork := &household{id: hh.id, owner: hh.owner, chain: hh.chain[:1:1], latest: seal.Roster{}}
	fork.latest = mustRoster(t, hh.chain[:1])
	fork.append(t, func(r *seal.Roster) { r.Entries = append(r.Entries, entry(intruder, seal.KindDevice, seal.RoleOwner)) })

	hh.append(t, func(r *seal.Roster) {})
	for _, tc := range []struct {
		name  string
		known [][]byte
		next  [][]byte
		root  []byte
		hh    string
		want  error
	}{
		{"first fetch", nil, known, root, hh.id, nil},
		{"same", known, known, root, hh.id, nil},
		{"extends", known, hh.chain, root, hh.id, nil},
		{"backwards", hh.chain, known, root, hh.id, ErrRosterFork},
		{"fork", known, fork.chain, root, hh.id, ErrRosterFork},
		{"other root", nil, known, other.owner.SignPub(), hh.id, seal.ErrRosterChain},
		{"other household", nil, known, root, other.id, seal.ErrRosterChain},
		{"empty", known, nil, root, hh.id, seal.ErrRosterChain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkRoster(tc.known, tc.next, tc.root, tc.hh)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func mustRoster(t *testing.T, chain [][]byte) seal.Roster {
	r, err := seal.VerifyRosterChain(chain, nil)
	if err != nil {
		t.Fatal(err)
	}
	return *r
}

// TestRosterForkKeepsLastGood: the hub refuses a forked roster, says so,
// and keeps recording under the last verified one.
func TestRosterForkKeepsLastGood(t *testing.T) {
	r := newRig(t)
	m := r.main("cam")
	m.RosterInterval = time.Second
	h := r.start(m)
	good := h.currentRoster().Version
	intruder, _ := keys.Generate("intruder")
	r.svc.mu.Lock()
	base := mustRoster(t, r.hh.chain[:1])
	r.hh.chain, r.hh.latest = r.hh.chain[:1:1], base
	r.hh.append(t, func(ro *seal.Roster) {
		ro.Entries = append(ro.Entries, entry(intruder, seal.KindDevice, seal.RoleOwner))
	})
	r.svc.mu.Unlock()
	r.waitFor("fork alarm", func() bool { return strings.Contains(r.logs.String(), "REFUSING the roster") })
	if h.currentRoster().Version != good || h.currentRoster().Entry(intruder.ID) != nil {
		t.Fatal("forked roster adopted")
	}
	r.feed.segment(t, "cam", r.clock.Now(), payload(0))
	r.shutdown()
	r.svc.mu.Lock()
	defer r.svc.mu.Unlock()
	for _, ep := range r.svc.epochs {
		for _, w := range ep.Wraps {
			if w.DeviceID == intruder.ID {
				t.Fatal("epoch key wrapped to a device of a forked roster")
			}
		}
	}
}

// TestServiceDownThenUp: uploads wait in the spool while the service is
// down and drain when it is back.
func TestServiceDownThenUp(t *testing.T) {
	r := newRig(t)
	r.start(r.main("cam"))
	r.shutdown() // claimed; now restart with the service down
	r.svc.setDown(true)
	m := r.main("cam")
	m.Claim = ""
	h := r.start(m)
	t0 := r.clock.Now()
	for i := range 9 {
		r.feed.segment(t, "cam", t0.Add(time.Duration(i)*2*time.Second), payload(i))
	}
	st := h.Stats()
	if st.Spooled < 12 || st.Uploaded != 0 { // epoch + 9 segments + 3 manifests
		t.Fatalf("while down: %+v", st)
	}
	time.Sleep(200 * time.Millisecond)
	if !strings.Contains(r.logs.String(), "service unreachable") || !strings.Contains(r.logs.String(), "uploads waiting") {
		t.Fatalf("no summary of the outage:\n%s", r.logs)
	}
	r.svc.setDown(false)
	r.waitFor("drain", func() bool { return h.sp.Len() == 0 })
	r.waitFor("drain log", func() bool { return strings.Contains(r.logs.String(), "backlog drained") })
	if s, mm := r.counts(); s != 9 || mm != 3 {
		t.Fatalf("uploaded %d segments %d manifests", s, mm)
	}
	if h.Stats().Retries == 0 {
		t.Fatal("no retries counted")
	}
	r.shutdown()
	r.open(r.hh.owner)
}

// TestCrashMidBatch: segments queued in an open batch when the hub dies
// (simulated by copying its data directory while it runs) get a manifest
// at the next start — those still in the spool and those already uploaded.
func TestCrashMidBatch(t *testing.T) {
	r := newRig(t)
	m := r.main("cam")
	m.ManifestEvery = 100
	h := r.start(m)
	t0 := r.clock.Now()
	r.feed.segment(t, "cam", t0, payload(0))
	r.feed.segment(t, "cam", t0.Add(2*time.Second), payload(1))
	r.waitFor("upload of the first two", r.drained) // uploaded, not yet listed
	r.svc.setDown(true)
	r.feed.segment(t, "cam", t0.Add(4*time.Second), payload(2)) // spooled only
	time.Sleep(50 * time.Millisecond)
	if h.Stats().Manifests != 0 {
		t.Fatal("batch closed early")
	}
	crash := t.TempDir()
	if out, err := exec.Command("cp", "-a", r.dir+"/.", crash).CombinedOutput(); err != nil {
		t.Fatalf("copy: %v %s", err, out)
	}
	r.stop()
	h.Wait()

	// The "crashed" copy restarts; the batch holds 3 segments.
	r.svc.setDown(false)
	r.dir = crash
	m = r.main("cam")
	m.Claim = ""
	h2 := r.start(m)
	if !strings.Contains(r.logs.String(), "closed a batch left open by a crash") {
		t.Fatalf("no recovery:\n%s", r.logs)
	}
	r.waitFor("drain", r.drained)
	r.feed.segment(t, "cam", t0.Add(6*time.Second), payload(3))
	r.shutdown()
	_ = h2
	o := r.open(r.hh.owner)
	// The original hub's shutdown manifest never reached the service (it
	// was down); the restarted copy lists the 3 segments once, then the
	// new segment with seq 3.
	var recovered bool
	for _, m := range o.manifests {
		if len(m.Objects) == 3 && m.Objects[0].Seq == 0 && m.Objects[2].Seq == 2 {
			recovered = true
		}
		if m.Objects[0].Seq == 3 && len(m.Objects) != 1 {
			t.Fatalf("new segment listed with %d others", len(m.Objects)-1)
		}
	}
	if !recovered {
		t.Fatalf("no manifest lists the crashed batch: %d manifests", len(o.manifests))
	}
}

// TestUploadRefusedThenQuarantined covers the uploader's answers to 4xx.
func TestUploadRefusedThenQuarantined(t *testing.T) {
	r := newRig(t)
	m := r.main("cam")
	m.ManifestEvery = 2
	h := r.start(m)
	r.waitFor("descriptor", r.drained)
	t0 := r.clock.Now()

	// A corrupted upload (the service saw a hash mismatch once) is retried
	// from disk and passes.
	var ids []string
	r.svc.mu.Lock()
	r.svc.hook = func(id string, m apiclient.ObjectMeta) error {
		if m.Kind == "segment" && len(ids) == 0 {
			ids = append(ids, id)
			return &apiclient.Error{Status: 400, Message: "body hash does not match X-Porchlight-SHA256: upload was corrupted, retry"}
		}
		return nil
	}
	r.svc.mu.Unlock()
	r.feed.segment(t, "cam", t0, payload(0))
	r.feed.segment(t, "cam", t0.Add(2*time.Second), payload(1))
	r.waitFor("drain", r.drained)
	if h.Stats().Quarantined != 0 || h.Stats().Uploaded < 4 {
		t.Fatalf("stats %+v", h.Stats())
	}

	// An id that exists with another hash is a bug: quarantined at once,
	// and so (after retries) is the manifest that lists it.
	r.svc.mu.Lock()
	r.svc.hook = func(id string, m apiclient.ObjectMeta) error {
		if m.Kind == "segment" {
			return &apiclient.Error{Status: 409, Message: "exists with a different hash"}
		}
		return nil
	}
	r.svc.mu.Unlock()
	r.feed.segment(t, "cam", t0.Add(4*time.Second), payload(2))
	r.feed.segment(t, "cam", t0.Add(6*time.Second), payload(3))
	r.waitFor("quarantine", func() bool { return h.Stats().Quarantined == 3 && r.drained() })
	q, _ := os.ReadDir(filepath.Join(r.dir, "quarantine"))
	if len(q) != 3 {
		t.Fatalf("quarantine holds %d files", len(q))
	}
	if c := strings.Count(r.logs.String(), "moved to quarantine"); c != 3 {
		t.Fatalf("%d quarantine log lines:\n%s", c, r.logs)
	}
}

// TestSpoolCapEvicts: with the service down and a full spool, the oldest
// recordings are evicted, counted and logged, and recording goes on.
func TestSpoolCapEvicts(t *testing.T) {
	r := newRig(t)
	r.start(r.main("cam"))
	r.shutdown()
	r.svc.setDown(true)
	m := r.main("cam")
	m.Claim = ""
	m.SpoolMax = 64 << 20
	h := r.start(m)
	big := bytes.Repeat([]byte{7}, 4<<20)
	t0 := r.clock.Now()
	for i := range 24 { // 96 MiB of segments into a 64 MiB spool
		r.feed.segment(t, "cam", t0.Add(time.Duration(i)*2*time.Second), big)
	}
	st := h.Stats()
	if st.Evicted == 0 || st.SpoolBytes > 64<<20 || st.Segments != 24 {
		t.Fatalf("stats %+v", st)
	}
	if !strings.Contains(r.logs.String(), "evicted the oldest recording") {
		t.Fatalf("no eviction log")
	}
	r.svc.setDown(false)
	r.waitFor("drain", r.drained)
	r.shutdown()
	o := r.open(r.hh.owner)
	segs, _ := r.counts()
	if int64(segs)+st.EvictedSegs != 24 || len(o.segments) != segs {
		t.Fatalf("uploaded %d segments, evicted %d items; opened %d", segs, st.Evicted, len(o.segments))
	}
}

// TestViewerExpiry: when a device's not_after passes, the next segment
// starts a new epoch that is not wrapped to it.
func TestViewerExpiry(t *testing.T) {
	r := newRig(t)
	member, _ := keys.Generate("guest phone")
	t0 := r.clock.Now()
	until := t0.Add(30 * time.Minute)
	r.hh.append(t, func(ro *seal.Roster) {
		e := entry(member, seal.KindDevice, seal.RoleMember)
		e.NotAfter = &until
		ro.Entries = append(ro.Entries, e)
	})
	r.start(r.main("cam"))
	r.feed.segment(t, "cam", t0, payload(0))
	r.clock.Set(until.Add(time.Minute))
	r.feed.segment(t, "cam", until.Add(time.Minute), payload(1))
	r.waitFor("drain", r.drained)
	r.shutdown()
	if o := r.open(r.hh.owner); len(o.epochs) != 2 || len(o.manifests) != 2 {
		t.Fatalf("owner: %d epochs, %d manifests", len(o.epochs), len(o.manifests))
	}
	if o := r.open(member); len(o.manifests) != 1 || o.manifests[0].Objects[0].Seq != 0 {
		t.Fatalf("guest sees %d manifests", len(o.manifests))
	}
	if !strings.Contains(r.logs.String(), "a viewer's access expired") {
		t.Fatal("rotation reason not logged")
	}
}
