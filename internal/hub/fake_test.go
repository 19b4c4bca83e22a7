package hub

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
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

func TestMain(m *testing.M) {
	minBackoff, maxBackoff = 10*time.Millisecond, 100*time.Millisecond
	claimPollEvery = 10 * time.Millisecond
	ShutdownGrace = time.Second
	os.Exit(m.Run())
}

const testCode = "ABCD-EFGH-JKMN"

// household is an owner device and its roster chain.
type household struct {
	id     string
	owner  *keys.Pair
	chain  [][]byte
	latest seal.Roster
}

func newHousehold(t testing.TB) *household {
	t.Helper()
	owner, err := keys.Generate("owner laptop")
	if err != nil {
		t.Fatal(err)
	}
	hh := &household{id: seal.NewID(), owner: owner}
	hh.append(t, func(r *seal.Roster) { r.Entries = []seal.RosterEntry{entry(owner, seal.KindDevice, seal.RoleOwner)} })
	return hh
}

func entry(p *keys.Pair, kind, role string) seal.RosterEntry {
	return seal.RosterEntry{ID: p.ID, Kind: kind, Role: role, Name: p.Name, Sign: p.SignPub(), KEM: p.Recipient(), Cameras: []string{seal.AllCameras}}
}

// append signs the next roster version (edit changes a copy of the latest).
func (hh *household) append(t testing.TB, edit func(*seal.Roster)) {
	t.Helper()
	r := hh.latest
	r.Entries = slices.Clone(r.Entries)
	r.Household = hh.id
	r.Version++
	r.Created = time.Now().UTC()
	if len(hh.chain) > 0 {
		r.Prev = seal.RosterHash(hh.chain[len(hh.chain)-1])
	}
	edit(&r)
	b, err := seal.SignRoster(hh.owner.Sign, r)
	if err != nil {
		t.Fatal(err)
	}
	hh.chain = append(hh.chain, b)
	hh.latest = r
}

type object struct {
	meta apiclient.ObjectMeta
	body []byte
}

// fakeService is porchlightd in memory: enough of the hub routes, with the
// checks the real one makes on uploads. Set down to answer 503.
type fakeService struct {
	t  testing.TB
	hh *household

	mu       sync.Mutex
	down     bool
	polls    int
	hubSign  ed25519.PublicKey
	hubKEM   string
	token    string
	cameras  map[string][]byte
	epochs   map[string]api.EpochPut
	objects  map[string]object
	order    []string                                      // ids in upload order (first time)
	failNext map[string]error                              // id → error for its next upload
	hook     func(id string, m apiclient.ObjectMeta) error // every object upload
}

func newFakeService(t testing.TB, hh *household) *fakeService {
	return &fakeService{t: t, hh: hh, cameras: map[string][]byte{}, epochs: map[string]api.EpochPut{}, objects: map[string]object{}, failNext: map[string]error{}}
}

var errDown = &apiclient.Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "service down"}

func (f *fakeService) setDown(d bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = d
}

func (f *fakeService) PresentHub(ctx context.Context, in api.HubPresent) (*api.HubPresented, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	if in.Code != testCode {
		return nil, &apiclient.Error{Status: 404}
	}
	if f.hubSign != nil && !f.hubSign.Equal(ed25519.PublicKey(in.Sign)) {
		return nil, &apiclient.Error{Status: 409}
	}
	f.hubSign, f.hubKEM = in.Sign, in.KEM
	return &api.HubPresented{HouseholdID: f.hh.id, RootSign: f.hh.owner.SignPub()}, nil
}

func (f *fakeService) PollHub(ctx context.Context, in api.HubPoll) (*api.HubPollResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	f.polls++
	if f.polls < 3 {
		return &api.HubPollResponse{State: api.ClaimPresented}, nil
	}
	resp := &api.HubPollResponse{State: api.ClaimConfirmed, HubID: seal.KeyID(f.hubSign), HouseholdID: f.hh.id}
	if f.token == "" {
		f.token = "plh_test"
		resp.Token = f.token
	}
	return resp, nil
}

func (f *fakeService) HubRoster(ctx context.Context) (*api.Roster, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	return &api.Roster{Versions: slices.Clone(f.hh.chain)}, nil
}

func (f *fakeService) PutCamera(ctx context.Context, id string, in api.HubCamera) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errDown
	}
	f.cameras[id] = in.Descriptor
	return nil
}

func (f *fakeService) PutEpoch(ctx context.Context, id string, in api.EpochPut) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errDown
	}
	if _, ok := f.cameras[in.CameraID]; !ok {
		return &apiclient.Error{Status: 404, Message: "unknown camera"}
	}
	f.epochs[id] = in
	return nil
}

func (f *fakeService) PutObject(ctx context.Context, id string, m apiclient.ObjectMeta, body []byte) (*api.UploadResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	if err := f.failNext[id]; err != nil {
		delete(f.failNext, id)
		return nil, err
	}
	if f.hook != nil {
		if err := f.hook(id, m); err != nil {
			return nil, err
		}
	}
	if err := seal.CheckAgeFile(body); err != nil {
		return nil, &apiclient.Error{Status: 400, Message: err.Error()}
	}
	if seal.SHA256Hex(body) != m.SHA256 {
		return nil, &apiclient.Error{Status: 400, Message: "body hash does not match X-Porchlight-SHA256: upload was corrupted, retry"}
	}
	if _, ok := f.epochs[m.Epoch]; !ok {
		return nil, &apiclient.Error{Status: 404, Message: "unknown epoch"}
	}
	for _, r := range m.Refs {
		if _, ok := f.objects[r]; !ok {
			return nil, &apiclient.Error{Status: 409, Message: "upload the listed objects first"}
		}
	}
	if o, ok := f.objects[id]; ok {
		if o.meta.SHA256 != m.SHA256 {
			return nil, &apiclient.Error{Status: 409, Message: "exists with a different hash"}
		}
		return &api.UploadResult{ID: id, Existed: true}, nil
	}
	f.objects[id] = object{meta: m, body: body}
	f.order = append(f.order, id)
	return &api.UploadResult{ID: id}, nil
}

// clock is an injectable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// feeder is a fake camera source: tests push segments and state changes.
type feeder struct {
	mu   sync.Mutex
	cams map[string]chan func(func(segment.Segment), func(bool, error))
}

func newFeeder() *feeder {
	return &feeder{cams: map[string]chan func(func(segment.Segment), func(bool, error)){}}
}

func (f *feeder) ch(name string) chan func(func(segment.Segment), func(bool, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.cams[name]
	if c == nil {
		c = make(chan func(func(segment.Segment), func(bool, error)))
		f.cams[name] = c
	}
	return c
}

func (f *feeder) run(ctx context.Context, m *Main, cam Camera, onSeg func(segment.Segment), onState func(bool, error), _ auFunc) error {
	c := f.ch(cam.Name)
	for {
		select {
		case <-ctx.Done():
			return nil
		case fn := <-c:
			fn(onSeg, onState)
		}
	}
}

// segment delivers one segment and returns once the hub has handled it.
func (f *feeder) segment(t testing.TB, cam string, start time.Time, data []byte) {
	t.Helper()
	done := make(chan struct{})
	select {
	case f.ch(cam) <- func(on func(segment.Segment), _ func(bool, error)) {
		on(segment.Segment{Start: start, Duration: 2 * time.Second, Codec: "h264", Frames: 50, Data: data})
		close(done)
	}:
	case <-time.After(10 * time.Second):
		t.Fatal("hub does not take segments")
	}
	<-done
}

func (f *feeder) state(t testing.TB, cam string, online bool, err error) {
	t.Helper()
	done := make(chan struct{})
	f.ch(cam) <- func(_ func(segment.Segment), on func(bool, error)) {
		on(online, err)
		close(done)
	}
	<-done
}

// rig is a hub wired to a fake service and a fake camera.
type rig struct {
	t     *testing.T
	hh    *household
	svc   *fakeService
	feed  *feeder
	clock *clock
	dir   string
	logs  *testutil.SyncBuffer
	out   *testutil.SyncBuffer
	hub   *Hub
	stop  context.CancelFunc
}

func newRig(t *testing.T, cams ...string) *rig {
	hh := newHousehold(t)
	r := &rig{t: t, hh: hh, svc: newFakeService(t, hh), feed: newFeeder(), clock: &clock{t: time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)},
		dir: t.TempDir(), logs: &testutil.SyncBuffer{}, out: &testutil.SyncBuffer{}}
	// The owner adds the hub to the roster while confirming: done by the
	// fake on the first roster fetch after the claim.
	return r
}

func (r *rig) main(cams ...string) Main {
	m := Main{
		Server: "http://127.0.0.1:1", DataDir: r.dir, Claim: testCode, Name: "test hub",
		Logger: slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Out:    r.out, Now: r.clock.Now, RosterInterval: time.Hour,
		service: r.svc, runSource: r.feed.run,
	}
	for _, c := range cams {
		m.Cameras = append(m.Cameras, Camera{Name: c, URL: "rtsp://127.0.0.1:1/" + c})
	}
	return m
}

// start starts the hub; the roster lists the hub once it is claimed.
func (r *rig) start(m Main) *Hub {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if !r.hubListed() {
		pair, _, err := keys.LoadOrGenerate(m.DataDir+"/hub.key", m.Name)
		if err != nil {
			r.t.Fatal(err)
		}
		r.hh.append(r.t, func(ro *seal.Roster) { ro.Entries = append(ro.Entries, entry(pair, seal.KindHub, seal.RoleHub)) })
	}
	h, err := m.Start(ctx)
	if err != nil {
		cancel()
		r.t.Fatalf("start: %v\nlogs:\n%s", err, r.logs)
	}
	r.hub, r.stop = h, cancel
	r.t.Cleanup(func() { cancel(); h.Wait() })
	return h
}

func (r *rig) hubListed() bool {
	for _, e := range r.hh.latest.Entries {
		if e.Kind == seal.KindHub {
			return true
		}
	}
	return false
}

// shutdown stops the hub gracefully.
func (r *rig) shutdown() {
	r.t.Helper()
	r.stop()
	if err := r.hub.Wait(); err != nil {
		r.t.Fatal(err)
	}
}

// waitFor polls cond for up to 10 s.
func (r *rig) waitFor(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("waiting for %s: timed out; stats %+v\nlogs:\n%s", what, r.hub.Stats(), r.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *rig) drained() bool {
	return r.hub.sp.Len() == 0 && r.hub.out.len() == 0
}

// opened is what the owner device reads back from the fake service.
type opened struct {
	epochs    map[string]*seal.EpochAnnouncement
	manifests []*seal.Manifest // in upload order
	segments  map[string][]byte
	listed    map[string]int // segment id → manifests listing it
	names     map[string]string
}

// open decrypts and verifies everything uploaded, as the owner's device.
func (r *rig) open(dev *keys.Pair) opened {
	r.t.Helper()
	f := r.svc
	f.mu.Lock()
	defer f.mu.Unlock()
	hubPub := f.hubSign
	o := opened{epochs: map[string]*seal.EpochAnnouncement{}, segments: map[string][]byte{}, listed: map[string]int{}, names: map[string]string{}}
	for id, c := range f.cameras {
		d, err := dev.OpenCamera(c, hubPub)
		if err != nil && dev != r.hh.owner {
			continue // descriptors are sealed to owners only
		}
		if err != nil {
			r.t.Fatalf("camera %s: %v", id, err)
		}
		o.names[id] = d.Name
	}
	ids := map[string]*age.HybridIdentity{}
	for id, ep := range f.epochs {
		ann, err := seal.VerifyEpoch(ep.Announcement, hubPub)
		if err != nil {
			r.t.Fatalf("epoch %s: %v", id, err)
		}
		o.epochs[id] = ann
		for _, w := range ep.Wraps {
			if w.DeviceID == dev.ID {
				k, err := dev.OpenEpochKey(w.Data, ann)
				if err != nil {
					r.t.Fatalf("epoch %s: %v", id, err)
				}
				ids[id] = k
			}
		}
	}
	for _, id := range f.order {
		obj := f.objects[id]
		if obj.meta.Kind != api.ObjectManifest {
			continue
		}
		k := ids[obj.meta.Epoch]
		if k == nil {
			continue // not wrapped to dev
		}
		ann := o.epochs[obj.meta.Epoch]
		m, err := keys.OpenManifest(obj.body, k, hubPub, ann.Household, ann.Camera, ann.Epoch)
		if err != nil {
			r.t.Fatalf("manifest %s: %v", id, err)
		}
		o.manifests = append(o.manifests, m)
		for _, mo := range m.Objects {
			o.listed[mo.ID]++
			so, ok := f.objects[mo.ID]
			if !ok {
				r.t.Fatalf("manifest %s lists %s, not uploaded", id, mo.ID)
			}
			if seal.SHA256Hex(so.body) != mo.SHA256 || int64(len(so.body)) != mo.Size {
				r.t.Fatalf("segment %s: hash or size differs from the manifest", mo.ID)
			}
			h, media, err := keys.OpenSegment(so.body, k)
			if err != nil {
				r.t.Fatalf("segment %s: %v", mo.ID, err)
			}
			if h.Household != ann.Household || h.Camera != ann.Camera || h.Epoch != ann.Epoch || h.Seq != mo.Seq || !h.Start.Equal(mo.Start) {
				r.t.Fatalf("segment %s: header %+v does not match manifest entry %+v", mo.ID, h, mo)
			}
			o.segments[mo.ID] = media
		}
	}
	return o
}

func (r *rig) counts() (segments, manifests int) {
	r.svc.mu.Lock()
	defer r.svc.mu.Unlock()
	for _, o := range r.svc.objects {
		if o.meta.Kind == api.ObjectSegment {
			segments++
		} else {
			manifests++
		}
	}
	return
}

func payload(i int) []byte {
	return []byte(fmt.Sprintf("ftyp…moof…mdat segment %d %s", i, strings.Repeat("x", i)))
}
