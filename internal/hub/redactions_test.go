package hub

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/redact"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/segment"
)

// fakeRedactions is the service's redaction routes in memory, serving the
// ciphertext the rig's fake service holds.
type fakeRedactions struct {
	svc *fakeService

	mu       sync.Mutex
	queue    []api.HubRedaction
	wake     chan struct{}
	swap     map[string][]byte // object id → what to serve instead
	fetched  []string
	results  map[string][]byte
	failures map[string]string
}

func newFakeRedactions(svc *fakeService) *fakeRedactions {
	return &fakeRedactions{svc: svc, wake: make(chan struct{}, 1), swap: map[string][]byte{}, results: map[string][]byte{}, failures: map[string]string{}}
}

func (f *fakeRedactions) add(j api.HubRedaction) {
	f.mu.Lock()
	f.queue = append(f.queue, j)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fakeRedactions) HubRedactions(ctx context.Context, wait time.Duration) ([]api.HubRedaction, error) {
	for {
		f.mu.Lock()
		q := f.queue
		f.queue = nil
		f.mu.Unlock()
		if len(q) > 0 {
			return q, nil
		}
		select {
		case <-f.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (f *fakeRedactions) HubObject(ctx context.Context, id string) ([]byte, error) {
	f.mu.Lock()
	f.fetched = append(f.fetched, id)
	b, ok := f.swap[id]
	f.mu.Unlock()
	if ok {
		return b, nil
	}
	f.svc.mu.Lock()
	defer f.svc.mu.Unlock()
	o, ok := f.svc.objects[id]
	if !ok {
		return nil, &apiclient.Error{Status: 404, Message: "no such object"}
	}
	return o.body, nil
}

func (f *fakeRedactions) PutRedactionResult(ctx context.Context, id string, sealed []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.results[id] = sealed
	return nil
}

func (f *fakeRedactions) FailRedaction(ctx context.Context, id, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[id] = reason
	return nil
}

func (f *fakeRedactions) outcome(id string) ([]byte, string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.results[id]
	fail, failed := f.failures[id]
	return r, fail, ok || failed
}

// fakeRedact stands in for redact.Redact: it records its input and
// returns a marker MP4.
type fakeRedact struct {
	mu    sync.Mutex
	calls []redact.Input
}

func (f *fakeRedact) redact(_ context.Context, in redact.Input) ([]byte, redact.Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	return append([]byte("\x00\x00\x00\x18ftypisom redacted "), in.MP4...), redact.Report{Frames: 12, Blurred: 2}, nil
}

func (f *fakeRedact) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func joinSegments(w io.Writer, segs [][]byte) error {
	_, err := w.Write(bytes.Join(segs, nil))
	return err
}

// TestRedactionJobs: the hub runs an owner's job on its own segments and
// seals a hub-signed result to the job's outputs; it refuses forged jobs,
// other cameras, swapped ciphertext and wrong keys with a reason, and
// writes no epoch key to its data directory or log.
func TestRedactionJobs(t *testing.T) {
	r := newRig(t)
	member, err := keys.Generate("member phone")
	if err != nil {
		t.Fatal(err)
	}
	r.hh.append(t, func(ro *seal.Roster) {
		ro.Entries = append(ro.Entries, entry(member, seal.KindDevice, seal.RoleMember))
	})
	h := r.start(r.main("front door"))
	start := r.clock.Now()
	var sent [][]byte
	for i := range 5 {
		sent = append(sent, payload(i))
		r.feed.segment(t, "front door", start.Add(time.Duration(i)*2*time.Second), sent[i])
	}
	r.waitFor("uploads", func() bool { s, _ := r.counts(); return s == 5 && r.drained() })
	r.shutdown() // closes the last batch; the hub's keys and roster stay in memory

	// The owner device reads the manifests and unwraps the epoch key.
	o := r.open(r.hh.owner)
	var objs []seal.ManifestObject
	for _, m := range o.manifests {
		objs = append(objs, m.Objects...)
	}
	if len(objs) != 5 {
		t.Fatalf("%d segments listed, want 5", len(objs))
	}
	epochID := o.manifests[0].Epoch
	var epochKey *age.HybridIdentity
	r.svc.mu.Lock()
	for _, w := range r.svc.epochs[epochID].Wraps {
		if w.DeviceID == r.hh.owner.ID {
			if epochKey, err = r.hh.owner.OpenEpochKey(w.Data, o.epochs[epochID]); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.svc.mu.Unlock()
	if epochKey == nil {
		t.Fatal("no epoch key wrapped to the owner")
	}
	camID := h.CameraID("front door")
	segs := make([]seal.RedactSegment, 0, 3)
	for _, mo := range objs[1:4] {
		segs = append(segs, seal.RedactSegment{ID: mo.ID, Epoch: epochID, SHA256: mo.SHA256, Start: mo.Start, DurationMS: mo.DurationMS})
	}
	baseJob := func() seal.RedactJob {
		return seal.RedactJob{ID: seal.NewID(), Household: r.hh.id, Camera: camID, Purpose: seal.PurposePublish,
			From: segs[0].Start.Add(time.Second), To: segs[2].Start.Add(time.Second), Segments: segs,
			Keys:    []seal.RedactKey{{Epoch: epochID, Identity: epochKey.String()}},
			Subject: []seal.TrackPoint{{T: segs[0].Start, X0: 0.1, Y0: 0.1, X1: 0.3, Y1: 0.5}},
			Output:  []string{r.hh.owner.Recipient()}, Created: r.clock.Now()}
	}
	sealJob := func(signer *keys.Pair, j seal.RedactJob) api.HubRedaction {
		t.Helper()
		b, err := seal.SealRedactJob(signer.Sign, h.key.KEM.Recipient(), j)
		if err != nil {
			t.Fatal(err)
		}
		return api.HubRedaction{ID: j.ID, Camera: j.Camera, Sealed: b}
	}

	svc := newFakeRedactions(r.svc)
	fr := &fakeRedact{}
	rd := h.newRedactor(svc)
	rd.redact, rd.concat = fr.redact, joinSegments
	rd.detector = func() (redact.Detector, func(), error) { return nil, func() {}, nil }

	// The loop takes a good job and uploads its result.
	ctx, cancel := context.WithCancel(t.Context())
	loopDone := make(chan struct{})
	go func() { rd.loop(ctx); close(loopDone) }()
	good := sealJob(r.hh.owner, baseJob())
	svc.add(good)
	r.waitFor("the result", func() bool { _, _, ok := svc.outcome(good.ID); return ok })
	cancel()
	<-loopDone
	sealed, failure, _ := svc.outcome(good.ID)
	if failure != "" {
		t.Fatalf("good job failed: %s", failure)
	}
	pt, err := keys.Decrypt(sealed, r.hh.owner.KEM)
	if err != nil {
		t.Fatalf("the owner cannot open the result: %v", err)
	}
	hdr, mp4, err := seal.ParseRedactionPlaintext(pt, h.key.SignPub())
	if err != nil {
		t.Fatalf("result header: %v", err)
	}
	clip := bytes.Join(sent[1:4], nil)
	if hdr.Job != good.ID || hdr.Camera != camID || hdr.Household != r.hh.id || hdr.Frames != 12 || hdr.Blurred != 2 ||
		!bytes.HasSuffix(mp4, clip) {
		t.Fatalf("result %+v with %d bytes of MP4", hdr, len(mp4))
	}
	if fr.count() != 1 || !fr.calls[0].Start.Equal(segs[0].Start) || !fr.calls[0].From.Equal(baseJob().From) || len(fr.calls[0].Subject) != 1 {
		t.Fatalf("redact called with %+v", fr.calls)
	}
	if _, err := keys.Decrypt(sealed, member.KEM); err == nil {
		t.Errorf("a device not among the outputs opened the result")
	}

	// Refusals: each job fails with a reason, and redact is never called.
	stranger, err := keys.Generate("stranger")
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	swapped := objs[2].ID
	for _, tc := range []struct {
		name string
		job  func() api.HubRedaction
		want string
	}{
		{"signed by a member", func() api.HubRedaction { return sealJob(member, baseJob()) }, "not an owner device"},
		{"signed by a stranger", func() api.HubRedaction { return sealJob(stranger, baseJob()) }, "not an owner device"},
		{"another camera", func() api.HubRedaction {
			j := baseJob()
			j.Camera = seal.NewID()
			return sealJob(r.hh.owner, j)
		}, "not one of this hub's cameras"},
		{"another household", func() api.HubRedaction {
			j := baseJob()
			j.Household = seal.NewID()
			return sealJob(r.hh.owner, j)
		}, "another household"},
		{"replayed old job", func() api.HubRedaction {
			j := baseJob()
			j.Created = j.Created.Add(-48 * time.Hour)
			return sealJob(r.hh.owner, j)
		}, "more than 24h0m0s from the hub's clock"},
		{"service names another camera", func() api.HubRedaction {
			hj := sealJob(r.hh.owner, baseJob())
			hj.Camera = seal.NewID()
			return hj
		}, "another id or camera"},
		{"swapped ciphertext", func() api.HubRedaction {
			svc.mu.Lock()
			svc.swap[swapped] = r.svc.objects[objs[0].ID].body // a real segment of the camera, not the one listed
			svc.mu.Unlock()
			return sealJob(r.hh.owner, baseJob())
		}, "segment " + swapped + ": the ciphertext's SHA-256"},
		{"wrong epoch key", func() api.HubRedaction {
			svc.mu.Lock()
			delete(svc.swap, swapped)
			svc.mu.Unlock()
			j := baseJob()
			j.Keys = []seal.RedactKey{{Epoch: epochID, Identity: otherKey.String()}}
			return sealJob(r.hh.owner, j)
		}, "does not open with the key of epoch"},
		{"not sealed to the hub", func() api.HubRedaction {
			j := baseJob()
			b, err := seal.SealRedactJob(r.hh.owner.Sign, r.hh.owner.KEM.Recipient(), j)
			if err != nil {
				t.Fatal(err)
			}
			return api.HubRedaction{ID: j.ID, Camera: j.Camera, Sealed: b}
		}, "not sealed to this hub"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := tc.job()
			before := fr.count()
			rd.handle(t.Context(), j)
			res, failure, done := svc.outcome(j.ID)
			if !done || res != nil {
				t.Fatalf("outcome: result %d bytes, failure %q", len(res), failure)
			}
			if !strings.Contains(failure, tc.want) {
				t.Errorf("failure %q, want it to say %q", failure, tc.want)
			}
			if fr.count() != before {
				t.Errorf("redact was called for a refused job")
			}
		})
	}

	// Without a detection model the hub says what to install.
	h.m.AssetsDir = t.TempDir() // the hub is stopped: nothing else reads it
	rd.detector = h.redactionDetector
	noModel := sealJob(r.hh.owner, baseJob())
	rd.handle(t.Context(), noModel)
	if _, failure, _ := svc.outcome(noModel.ID); !strings.Contains(failure, "bash scripts/setup") {
		t.Errorf("without a model: failure %q", failure)
	}

	// No epoch key reached the disk or the log.
	secrets := []string{epochKey.String(), otherKey.String()}
	err = filepath.WalkDir(r.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds an epoch identity from a job", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(r.logs.String(), s) {
			t.Errorf("the hub's log holds an epoch identity from a job")
		}
	}
}

// realSegments cuts a few seconds of an ffmpeg test pattern into 1 s fMP4
// segments, as a camera's would be.
func realSegments(t *testing.T) [][]byte {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg not found: run scripts/setup (or apt-get install ffmpeg)")
	}
	src := filepath.Join(t.TempDir(), "in.h264")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "4",
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-bf", "0", "-f", "h264", "-y", src)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	cut := &segment.Cutter{Codec: segment.H264, Min: time.Second, Max: time.Second, OnSegment: func(s segment.Segment) { out = append(out, s.Data) }}
	rd := &segment.AccessUnitReader{R: f, Codec: segment.H264}
	anchor := time.Now()
	for i := 0; ; i++ {
		au, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := cut.WriteAccessUnit(anchor, time.Duration(i)*40*time.Millisecond, au); err != nil {
			t.Fatal(err)
		}
	}
	cut.Flush()
	if len(out) < 3 {
		t.Fatalf("cut %d segments, want at least 3", len(out))
	}
	return out
}

// TestRedactionRealClip runs a job end to end with the real concatenation,
// redaction (ffmpeg) and detector: the owner gets a hub-signed MP4.
func TestRedactionRealClip(t *testing.T) {
	r := newRig(t)
	h := r.start(r.main("yard"))
	start := r.clock.Now()
	media := realSegments(t)[:3]
	for i, m := range media {
		r.feed.segment(t, "yard", start.Add(time.Duration(i)*2*time.Second), m)
	}
	r.waitFor("uploads", func() bool { s, _ := r.counts(); return s == 3 && r.drained() })
	r.shutdown()
	o := r.open(r.hh.owner)
	var segs []seal.RedactSegment
	var epochID string
	for _, m := range o.manifests {
		epochID = m.Epoch
		for _, mo := range m.Objects {
			segs = append(segs, seal.RedactSegment{ID: mo.ID, Epoch: m.Epoch, SHA256: mo.SHA256, Start: mo.Start, DurationMS: mo.DurationMS})
		}
	}
	var epochKey *age.HybridIdentity
	r.svc.mu.Lock()
	for _, w := range r.svc.epochs[epochID].Wraps {
		if w.DeviceID == r.hh.owner.ID {
			epochKey, _ = r.hh.owner.OpenEpochKey(w.Data, o.epochs[epochID])
		}
	}
	r.svc.mu.Unlock()
	if len(segs) != 3 || epochKey == nil {
		t.Fatalf("%d segments, key %v", len(segs), epochKey != nil)
	}
	job := seal.RedactJob{ID: seal.NewID(), Household: r.hh.id, Camera: h.CameraID("yard"), Purpose: seal.PurposePublish,
		From: start, To: start.Add(2500 * time.Millisecond), Segments: segs, Keys: []seal.RedactKey{{Epoch: epochID, Identity: epochKey.String()}},
		Output: []string{r.hh.owner.Recipient()}, Created: r.clock.Now()}
	sealed, err := seal.SealRedactJob(r.hh.owner.Sign, h.key.KEM.Recipient(), job)
	if err != nil {
		t.Fatal(err)
	}
	svc := newFakeRedactions(r.svc)
	h.newRedactor(svc).handle(t.Context(), api.HubRedaction{ID: job.ID, Camera: job.Camera, Sealed: sealed})
	res, failure, _ := svc.outcome(job.ID)
	if failure != "" {
		t.Fatalf("job failed: %s", failure)
	}
	pt, err := keys.Decrypt(res, r.hh.owner.KEM)
	if err != nil {
		t.Fatal(err)
	}
	hdr, mp4, err := seal.ParseRedactionPlaintext(pt, h.key.SignPub())
	if err != nil {
		t.Fatal(err)
	}
	if len(mp4) < 8 || string(mp4[4:8]) != "ftyp" || hdr.Frames < 25 || hdr.Frames > 100 {
		t.Errorf("result: %d frames, %d bytes starting %q", hdr.Frames, len(mp4), mp4[:min(len(mp4), 8)])
	}
}
