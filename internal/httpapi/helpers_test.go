package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/auditlog"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/server"
	"github.com/porchlight/porchlight/internal/testutil"
)

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

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is one porchlightd started in-process on 127.0.0.1:0.
type env struct {
	t     *testing.T
	m     *server.Main
	url   string
	clock *clock
	logs  *testutil.SyncBuffer
	data  string
}

func start(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}, logs: &testutil.SyncBuffer{}, data: t.TempDir()}
	e.m = &server.Main{
		Listen:  "127.0.0.1:0",
		DataDir: e.data,
		Logger:  slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Stdout:  io.Discard,
		Now:     e.clock.Now,
	}
	addr, err := e.m.Start(t.Context())
	if err != nil {
		t.Fatalf("start porchlightd: %v", err)
	}
	t.Cleanup(func() {
		if err := e.m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	e.url = "http://" + addr
	return e
}

func (e *env) client(token string) *apiclient.Client { return apiclient.New(e.url, token) }

// raw sends a request without the typed client.
func (e *env) raw(method, path, token string, body io.Reader, hdr map[string]string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// owner is a signed-up account with one device and a published roster.
type owner struct {
	t         *testing.T
	c         *apiclient.Client
	dev       *keys.Pair
	household string
	email     string
	password  string
	token     string
}

// clients makes API clients for a test service (env or acctEnv).
type clients interface {
	client(token string) *apiclient.Client
}

func signup(t *testing.T, e clients) *owner {
	t.Helper()
	o := &owner{t: t, email: "owner-" + randomHex(4) + "@example.org", password: "correct horse " + randomHex(4)}
	resp, err := e.client("").Signup(t.Context(), api.SignupRequest{Email: o.email, Password: o.password, DeviceName: "laptop"})
	if err != nil {
		t.Fatalf("signup: %v", err)
	}
	o.c, o.household, o.token = e.client(resp.Token), resp.HouseholdID, resp.Token
	if o.dev, err = keys.Generate("laptop"); err != nil {
		t.Fatal(err)
	}
	o.appendRoster(o.deviceEntry())
	return o
}

func (o *owner) deviceEntry() seal.RosterEntry {
	return seal.RosterEntry{ID: o.dev.ID, Kind: seal.KindDevice, Role: seal.RoleOwner, Name: "laptop",
		Sign: o.dev.SignPub(), KEM: o.dev.Recipient(), Cameras: []string{seal.AllCameras}}
}

// nextRoster signs the next roster version with the given entries.
func (o *owner) nextRoster(signer *keys.Pair, household string, entries ...seal.RosterEntry) []byte {
	o.t.Helper()
	ro, err := o.c.Roster(o.t.Context())
	if err != nil {
		o.t.Fatalf("roster: %v", err)
	}
	r := seal.Roster{Household: household, Version: uint64(len(ro.Versions)) + 1, Created: time.Now().UTC(), Entries: entries}
	if n := len(ro.Versions); n > 0 {
		r.Prev = seal.RosterHash(ro.Versions[n-1])
	}
	signed, err := seal.SignRoster(signer.Sign, r)
	if err != nil {
		o.t.Fatalf("sign roster: %v", err)
	}
	return signed
}

func (o *owner) appendRoster(entries ...seal.RosterEntry) {
	o.t.Helper()
	if err := o.c.AppendRoster(o.t.Context(), o.nextRoster(o.dev, o.household, entries...)); err != nil {
		o.t.Fatalf("append roster: %v", err)
	}
}

// fakeHub is a hub made of keys.Generate and seal, claimed into o's
// household through the real claim flow.
type fakeHub struct {
	t         *testing.T
	keys      *keys.Pair
	c         *apiclient.Client
	household string
	owner     *owner
}

func claimHub(t *testing.T, e clients, o *owner) *fakeHub {
	t.Helper()
	ctx := t.Context()
	code, err := o.c.CreateClaim(ctx)
	if err != nil {
		t.Fatalf("create claim: %v", err)
	}
	hk, err := keys.Generate("garage hub")
	if err != nil {
		t.Fatal(err)
	}
	anon := e.client("")
	secret := randomHex(32)
	pres, err := anon.PresentHub(ctx, api.HubPresent{Code: code.Code, Name: "garage hub", Sign: hk.SignPub(), KEM: hk.Recipient(), Secret: secret})
	if err != nil {
		t.Fatalf("present: %v", err)
	}
	st, err := o.c.ClaimStatus(ctx, code.Code)
	if err != nil || st.State != api.ClaimPresented || st.HubID != hk.ID {
		t.Fatalf("claim status = %+v, %v", st, err)
	}
	hubFP := seal.ClaimFingerprint(code.Code, hk.SignPub(), hk.Recipient(), pres.RootSign)
	ownerFP := seal.ClaimFingerprint(code.Code, st.HubSign, st.HubKEM, o.dev.SignPub())
	if hubFP != ownerFP {
		t.Fatalf("fingerprints differ: hub %s, owner %s", hubFP, ownerFP)
	}
	if p, err := anon.PollHub(ctx, api.HubPoll{Code: code.Code, Secret: secret}); err != nil || p.State != api.ClaimPresented || p.Token != "" {
		t.Fatalf("poll before confirm = %+v, %v", p, err)
	}
	o.appendRoster(o.deviceEntry(), seal.RosterEntry{ID: hk.ID, Kind: seal.KindHub, Role: seal.RoleHub, Name: "garage hub",
		Sign: hk.SignPub(), KEM: hk.Recipient(), Cameras: []string{seal.AllCameras}})
	if err := o.c.ConfirmClaim(ctx, code.Code, hk.ID); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	p, err := anon.PollHub(ctx, api.HubPoll{Code: code.Code, Secret: secret})
	if err != nil || p.State != api.ClaimConfirmed || !strings.HasPrefix(p.Token, "plh_") || p.HubID != hk.ID || p.HouseholdID != o.household {
		t.Fatalf("poll after confirm = %+v, %v", p, err)
	}
	return &fakeHub{t: t, keys: hk, c: e.client(p.Token), household: o.household, owner: o}
}

func (h *fakeHub) camera() string {
	h.t.Helper()
	id := seal.NewID()
	desc, err := seal.SealCamera(h.keys.Sign, seal.CameraDescriptor{Household: h.household, Camera: id, Hub: h.keys.ID, Name: "Front door", Created: time.Now().UTC()},
		h.owner.dev.KEM.Recipient())
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.c.PutCamera(h.t.Context(), id, api.HubCamera{Descriptor: desc}); err != nil {
		h.t.Fatalf("put camera: %v", err)
	}
	return id
}

// epoch creates an epoch of camera and wraps its key to the owner device.
func (h *fakeHub) epoch(camera string) (string, age.Recipient) {
	h.t.Helper()
	ident, err := age.GenerateHybridIdentity()
	if err != nil {
		h.t.Fatal(err)
	}
	id := seal.NewID()
	now := time.Now().UTC()
	ann, err := seal.SignEpoch(h.keys.Sign, seal.EpochAnnouncement{Household: h.household, Camera: camera, Epoch: id, Hub: h.keys.ID,
		Recipient: ident.Recipient().String(), NotBefore: now, NotAfter: now.Add(24 * time.Hour), Roster: 2})
	if err != nil {
		h.t.Fatal(err)
	}
	wrap, err := seal.WrapEpochKey(h.owner.dev.KEM.Recipient(), seal.EpochKey{Household: h.household, Camera: camera, Epoch: id, Identity: ident.String()})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.c.PutEpoch(h.t.Context(), id, api.EpochPut{CameraID: camera, Announcement: ann, Wraps: []api.Wrap{{DeviceID: h.owner.dev.ID, Data: wrap}}}); err != nil {
		h.t.Fatalf("put epoch: %v", err)
	}
	return id, ident.Recipient()
}

// segment seals and uploads one segment; it returns the manifest entry.
func (h *fakeHub) segment(camera, epoch string, to age.Recipient, seq uint64, start time.Time) seal.ManifestObject {
	h.t.Helper()
	media := []byte("ftyp....moof....mdat segment " + randomHex(8))
	hdr := seal.SegmentHeader{Household: h.household, Camera: camera, Epoch: epoch, Seq: seq, Start: start, DurationMS: 4000, Frames: 100, Codec: "avc1"}
	body, err := seal.SealSegment(to, hdr, media)
	if err != nil {
		h.t.Fatal(err)
	}
	id := seal.NewID()
	res, err := h.c.PutObject(h.t.Context(), id, apiclient.ObjectMeta{Camera: camera, Epoch: epoch, Kind: api.ObjectSegment, Time: start}, body)
	if err != nil || res.Existed || res.ID != id {
		h.t.Fatalf("put segment = %+v, %v", res, err)
	}
	return seal.ManifestObject{ID: id, Kind: api.ObjectSegment, Seq: seq, Start: start, DurationMS: 4000, Frames: 100, Codec: "avc1",
		Size: int64(len(body)), SHA256: seal.SHA256Hex(body)}
}

// manifest seals and uploads a manifest listing objs.
func (h *fakeHub) manifest(camera, epoch string, to age.Recipient, seq uint64, objs []seal.ManifestObject) string {
	h.t.Helper()
	body, err := seal.SealManifest(h.keys.Sign, to, seal.Manifest{Household: h.household, Camera: camera, Hub: h.keys.ID, Epoch: epoch,
		Seq: seq, Created: time.Now().UTC(), Objects: objs})
	if err != nil {
		h.t.Fatal(err)
	}
	refs := make([]string, len(objs))
	for i, o := range objs {
		refs[i] = o.ID
	}
	id := seal.NewID()
	if _, err := h.c.PutObject(h.t.Context(), id, apiclient.ObjectMeta{Camera: camera, Epoch: epoch, Kind: api.ObjectManifest, Time: objs[0].Start, Refs: refs}, body); err != nil {
		h.t.Fatalf("put manifest: %v", err)
	}
	return id
}

// ageBody returns a small valid age file.
func ageBody(t *testing.T) []byte {
	t.Helper()
	ident, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	b, err := seal.SealTo([]byte("ciphertext payload "+randomHex(8)), ident.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantStatus(t *testing.T, err error, status int, what string) {
	t.Helper()
	if !apiclient.IsStatus(err, status) {
		t.Errorf("%s: err = %v, want HTTP %d", what, err, status)
	}
}

// testRecipient returns a fresh age1pq… recipient (a support request key).
func testRecipient(t *testing.T) string {
	t.Helper()
	p, err := keys.Generate("request")
	if err != nil {
		t.Fatal(err)
	}
	return p.Recipient()
}

// openAudit opens an audit log under dir for a test server; it closes at
// the end of the test.
func openAudit(t *testing.T, dir string) *auditlog.Log {
	t.Helper()
	signer, _, err := auditlog.LoadOrCreateKey(filepath.Join(dir, "log.key"), "porchlight.test/"+randomHex(4))
	if err != nil {
		t.Fatal(err)
	}
	l, err := auditlog.Open(t.Context(), auditlog.Config{Dir: filepath.Join(dir, "log"), Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return l
}
