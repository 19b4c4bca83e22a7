package cli

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
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
	"github.com/porchlight/porchlight/internal/segment"
	"github.com/porchlight/porchlight/internal/testutil"
)

// testHub plays the hub's side of the API with real keys and formats, so
// the CLI is tested against what a hub uploads without RTSP or a spool.
type testHub struct {
	t         *testing.T
	key       *keys.Pair
	c         *apiclient.Client
	household string
	roster    *seal.Roster
	seq       uint64 // next segment sequence
	mseq      uint64 // next manifest sequence
}

// claimRun is a `porchlight hub claim` running in the background.
type claimRun struct {
	code      string
	out, errb *testutil.SyncBuffer
	done      chan int
}

// startClaim runs `porchlight hub claim ARGS` with stdin and waits for the
// code it prints.
func startClaim(t *testing.T, env cliEnv, stdin string, args ...string) *claimRun {
	t.Helper()
	c := &claimRun{out: &testutil.SyncBuffer{}, errb: &testutil.SyncBuffer{}, done: make(chan int, 1)}
	go func() {
		c.done <- Main{Args: append([]string{"hub", "claim"}, args...), Stdin: strings.NewReader(stdin), Stdout: c.out, Stderr: c.errb,
			Env: env.get, PollInterval: 20 * time.Millisecond}.Run(t.Context())
	}()
	codeRE := regexp.MustCompile(`\b([A-Z0-9]{4}(?:-[A-Z0-9]{4})+)\b`)
	for deadline := time.Now().Add(10 * time.Second); c.code == ""; time.Sleep(10 * time.Millisecond) {
		if m := codeRE.FindStringSubmatch(c.out.String()); m != nil {
			c.code = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("hub claim printed no code:\n%s\n%s", c.out.String(), c.errb.String())
		}
	}
	return c
}

// wait returns the claim's exit code.
func (c *claimRun) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-c.done:
		return code
	case <-time.After(10 * time.Second):
		t.Fatalf("hub claim did not finish:\n%s\n%s", c.out.String(), c.errb.String())
		return -1
	}
}

// presentTestHub presents a new hub on a claim code and returns it (without
// a token yet), its secret and the fingerprint it would show.
func presentTestHub(t *testing.T, server, code string) (*testHub, string, []byte) {
	t.Helper()
	key, err := keys.Generate("test hub")
	if err != nil {
		t.Fatal(err)
	}
	h := &testHub{t: t, key: key, c: apiclient.New(server, ""), seq: 1, mseq: 1}
	b := make([]byte, 16)
	rand.Read(b)
	secret := hex.EncodeToString(b)
	pres, err := h.c.PresentHub(t.Context(), api.HubPresent{Code: code, Name: "test hub", Sign: key.SignPub(), KEM: key.Recipient(), Secret: secret})
	if err != nil {
		t.Fatalf("present hub: %v", err)
	}
	h.household = pres.HouseholdID
	return h, secret, pres.RootSign
}

// claimTestHub runs `porchlight hub claim --yes` and presents a new hub on
// its code; it returns the hub once the claim is confirmed, and the
// command's output.
func claimTestHub(t *testing.T, env cliEnv, server string) (*testHub, string) {
	t.Helper()
	ctx := t.Context()
	c := startClaim(t, env, "", "--yes")
	h, secret, root := presentTestHub(t, server, c.code)
	fp := seal.ClaimFingerprint(c.code, h.key.SignPub(), h.key.Recipient(), root)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := h.c.PollHub(ctx, api.HubPoll{Code: c.code, Secret: secret})
		if err != nil {
			t.Fatalf("poll hub: %v", err)
		}
		if resp.Token != "" {
			h.c.Token = resp.Token
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the claim was not confirmed:\n%s\n%s", c.out.String(), c.errb.String())
		}
	}
	if code := c.wait(t); code != 0 {
		t.Fatalf("hub claim exited %d:\n%s\n%s", code, c.out.String(), c.errb.String())
	}
	if !strings.Contains(c.out.String(), "Fingerprint: "+fp) {
		t.Fatalf("hub claim showed another fingerprint than the hub's %s:\n%s", fp, c.out.String())
	}
	r, err := h.c.HubRoster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.roster, err = seal.VerifyRosterChain(r.Versions, root); err != nil {
		t.Fatalf("hub: roster after the claim: %v", err)
	}
	if h.roster.Entry(h.key.ID) == nil {
		t.Fatal("the roster does not list the claimed hub")
	}
	return h, c.out.String()
}

// addCamera registers a camera with a sealed descriptor.
func (h *testHub) addCamera(name string) string {
	h.t.Helper()
	id := seal.NewID()
	var to []age.Recipient
	for _, o := range h.roster.Owners() {
		r, err := seal.ParseRecipient(o.KEM)
		if err != nil {
			h.t.Fatal(err)
		}
		to = append(to, r)
	}
	desc, err := seal.SealCamera(h.key.Sign, seal.CameraDescriptor{Household: h.household, Camera: id, Hub: h.key.ID, Name: name, Created: time.Now().UTC()}, to...)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.c.PutCamera(h.t.Context(), id, api.HubCamera{Descriptor: desc}); err != nil {
		h.t.Fatalf("put camera: %v", err)
	}
	return id
}

// testEpoch is an epoch of a camera with its key.
type testEpoch struct {
	id, camera string
	key        *age.HybridIdentity
}

// newEpoch creates an epoch wrapped to every viewer in the roster.
func (h *testHub) newEpoch(camera string) *testEpoch {
	h.t.Helper()
	k, err := age.GenerateHybridIdentity()
	if err != nil {
		h.t.Fatal(err)
	}
	e := &testEpoch{id: seal.NewID(), camera: camera, key: k}
	now := time.Now().UTC()
	ann, err := seal.SignEpoch(h.key.Sign, seal.EpochAnnouncement{Household: h.household, Camera: camera, Epoch: e.id, Hub: h.key.ID,
		Recipient: k.Recipient().String(), NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(24 * time.Hour), Roster: h.roster.Version})
	if err != nil {
		h.t.Fatal(err)
	}
	put := api.EpochPut{CameraID: camera, Announcement: ann}
	for _, v := range h.roster.Viewers(camera, now) {
		r, _ := seal.ParseRecipient(v.KEM)
		w, err := seal.WrapEpochKey(r, seal.EpochKey{Household: h.household, Camera: camera, Epoch: e.id, Identity: k.String()})
		if err != nil {
			h.t.Fatal(err)
		}
		put.Wraps = append(put.Wraps, api.Wrap{DeviceID: v.ID, Data: w})
	}
	if err := h.c.PutEpoch(h.t.Context(), e.id, put); err != nil {
		h.t.Fatalf("put epoch: %v", err)
	}
	return e
}

// clip is one segment to upload: media placed at start on the wall clock.
type clip struct {
	seg   segment.Segment
	start time.Time
	// Faults, for tests of verification.
	badHash      bool   // the manifest lists another SHA-256
	headerSeqOff uint64 // the sealed header carries seq+off
}

// upload seals and uploads segments and one manifest listing them; it
// returns the manifest entries.
// record uploads segments back to back from at into epoch e and returns
// an export range around them (RFC 3339, 5 s of margin).
func (h *testHub) record(e *testEpoch, at time.Time, segs []segment.Segment) (from, to string) {
	var clips []clip
	start := at
	for _, s := range segs {
		clips = append(clips, clip{seg: s, start: at})
		at = at.Add(s.Duration)
	}
	h.upload(e, clips)
	return start.Add(-5 * time.Second).Format(time.RFC3339), at.Add(5 * time.Second).Format(time.RFC3339)
}

func (h *testHub) upload(e *testEpoch, clips []clip) []seal.ManifestObject {
	h.t.Helper()
	ctx := h.t.Context()
	var objs []seal.ManifestObject
	var refs []string
	for _, c := range clips {
		seq := h.seq
		h.seq++
		hdr := seal.SegmentHeader{Household: h.household, Camera: e.camera, Epoch: e.id, Seq: seq + c.headerSeqOff, Start: c.start.UTC(),
			DurationMS: c.seg.Duration.Milliseconds(), Frames: c.seg.Frames, Codec: c.seg.Codec}
		ct, err := seal.SealSegment(e.key.Recipient(), hdr, c.seg.Data)
		if err != nil {
			h.t.Fatal(err)
		}
		id := seal.NewID()
		if _, err := h.c.PutObject(ctx, id, apiclient.ObjectMeta{Camera: e.camera, Epoch: e.id, Kind: api.ObjectSegment, Time: c.start}, ct); err != nil {
			h.t.Fatalf("put segment: %v", err)
		}
		sum := seal.SHA256Hex(ct)
		if c.badHash {
			sum = seal.SHA256Hex([]byte("something else"))
		}
		objs = append(objs, seal.ManifestObject{ID: id, Kind: api.ObjectSegment, Seq: seq, Start: c.start.UTC(), DurationMS: c.seg.Duration.Milliseconds(),
			Frames: c.seg.Frames, Codec: c.seg.Codec, Size: int64(len(ct)), SHA256: sum})
		refs = append(refs, id)
	}
	m := seal.Manifest{Household: h.household, Camera: e.camera, Hub: h.key.ID, Epoch: e.id, Seq: h.mseq, Created: time.Now().UTC(), Objects: objs}
	h.mseq++
	ct, err := seal.SealManifest(h.key.Sign, e.key.Recipient(), m)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.c.PutObject(ctx, seal.NewID(), apiclient.ObjectMeta{Camera: e.camera, Epoch: e.id, Kind: api.ObjectManifest, Time: clips[0].start, Refs: refs}, ct); err != nil {
		h.t.Fatalf("put manifest: %v", err)
	}
	return objs
}

// testSegments cuts a few seconds of an ffmpeg test pattern into 1 s
// segments (25 fps, an IDR every second).
func testSegments(t *testing.T) []segment.Segment {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg not found: run scripts/setup (or apt-get install ffmpeg)")
	}
	src := filepath.Join(t.TempDir(), "in.h264")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-t", "6",
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-bf", "0", "-f", "h264", "-y", src)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var segs []segment.Segment
	cut := &segment.Cutter{Codec: segment.H264, Min: time.Second, Max: 2 * time.Second, OnSegment: func(s segment.Segment) { segs = append(segs, s) }}
	r := &segment.AccessUnitReader{R: f, Codec: segment.H264}
	anchor := time.Now()
	for i := 0; ; i++ {
		au, err := r.Next()
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
	if len(segs) < 5 {
		t.Fatalf("cut %d segments, want at least 5", len(segs))
	}
	return segs
}

// event seals and uploads ev as the hub does: its thumbnail first (if
// jpeg is not nil, named in the event by id and SHA-256), then the event
// record into epoch e. It fills in the household, camera, hub and epoch
// and returns the event object's id.
func (h *testHub) event(e *testEpoch, ev seal.Event, jpeg []byte) string {
	h.t.Helper()
	ctx := h.t.Context()
	ev.Household, ev.Camera, ev.Hub, ev.Epoch = h.household, e.camera, h.key.ID, e.id
	if jpeg != nil {
		ct, err := seal.SealTo(jpeg, e.key.Recipient())
		if err != nil {
			h.t.Fatal(err)
		}
		ev.Thumb, ev.ThumbSHA256 = seal.NewID(), seal.SHA256Hex(ct)
		if _, err := h.c.PutObject(ctx, ev.Thumb, apiclient.ObjectMeta{Camera: e.camera, Epoch: e.id, Kind: api.ObjectThumb, Time: ev.Start}, ct); err != nil {
			h.t.Fatalf("put thumbnail: %v", err)
		}
	}
	ct, err := seal.SealEvent(h.key.Sign, e.key.Recipient(), ev)
	if err != nil {
		h.t.Fatal(err)
	}
	id := seal.NewID()
	if _, err := h.c.PutObject(ctx, id, apiclient.ObjectMeta{Camera: e.camera, Epoch: e.id, Kind: api.ObjectEvent, Time: ev.Start}, ct); err != nil {
		h.t.Fatalf("put event: %v", err)
	}
	return id
}
