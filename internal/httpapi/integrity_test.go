package httpapi_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/httpapi"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// recording is one camera's epoch, segment and manifest as a hub uploaded
// them, with the plaintext-side facts a client checks against.
type recording struct {
	camera, epoch, manifest string
	key                     *age.HybridIdentity
	seg                     seal.ManifestObject
	ct                      []byte // the segment's ciphertext
}

// record makes an epoch of camera wrapped to the given roster entries
// (the hub's job), uploads one segment and a manifest listing it.
func record(t *testing.T, h *fakeHub, camera string, viewers ...seal.RosterEntry) recording {
	t.Helper()
	ctx := t.Context()
	key, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	rec := recording{camera: camera, epoch: seal.NewID(), key: key}
	now := time.Now().UTC()
	ann, err := seal.SignEpoch(h.keys.Sign, seal.EpochAnnouncement{Household: h.household, Camera: camera, Epoch: rec.epoch, Hub: h.keys.ID,
		Recipient: key.Recipient().String(), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), Roster: 3})
	if err != nil {
		t.Fatal(err)
	}
	put := api.EpochPut{CameraID: camera, Announcement: ann}
	for _, v := range viewers {
		r, err := seal.ParseRecipient(v.KEM)
		if err != nil {
			t.Fatal(err)
		}
		w, err := seal.WrapEpochKey(r, seal.EpochKey{Household: h.household, Camera: camera, Epoch: rec.epoch, Identity: key.String()})
		if err != nil {
			t.Fatal(err)
		}
		put.Wraps = append(put.Wraps, api.Wrap{DeviceID: v.ID, Data: w})
	}
	if err := h.c.PutEpoch(ctx, rec.epoch, put); err != nil {
		t.Fatalf("put epoch: %v", err)
	}
	rec.seg = h.segment(camera, rec.epoch, key.Recipient(), 0, now.Add(-time.Minute).Truncate(time.Second))
	rec.manifest = h.manifest(camera, rec.epoch, key.Recipient(), 0, []seal.ManifestObject{rec.seg})
	ct, err := h.owner.c.Object(ctx, rec.seg.ID)
	if err != nil {
		t.Fatalf("owner reads its own segment: %v", err)
	}
	rec.ct = ct
	return rec
}

// errIntegrity is what the client checks below report: the service served
// bytes that are not the object the verified manifest lists.
var errIntegrity = fmt.Errorf("integrity error")

// openListed is the client's check of a downloaded segment (what the CLI's
// export does): the SHA-256 must be the one the hub-signed manifest lists,
// it must decrypt with the epoch key, and the sealed header must name the
// household, camera, epoch and sequence the manifest says.
func openListed(ct []byte, mo seal.ManifestObject, key age.Identity, household, camera, epoch string) ([]byte, error) {
	if got := seal.SHA256Hex(ct); got != mo.SHA256 {
		return nil, fmt.Errorf("%w: segment %s: SHA-256 %s, the manifest lists %s", errIntegrity, mo.ID, got, mo.SHA256)
	}
	h, media, err := keys.OpenSegment(ct, key)
	if err != nil {
		return nil, fmt.Errorf("%w: segment %s does not decrypt with its epoch key: %v", errIntegrity, mo.ID, err)
	}
	if h.Household != household || h.Camera != camera || h.Epoch != epoch || h.Seq != mo.Seq {
		return nil, fmt.Errorf("%w: segment %s: sealed header %+v does not match the manifest", errIntegrity, mo.ID, h)
	}
	return media, nil
}

// TestCrossHouseholdMixup is the Wyze failure: a cache in the service
// mixes up which object belongs to which household. Authorization reads
// the store, not the mixed-up mapping, so no foreign object is served; and
// when the mix-up reaches the bytes themselves (another household's
// ciphertext under an id the caller may read), the client's manifest check
// refuses it before any frame is decrypted.
func TestCrossHouseholdMixup(t *testing.T) {
	ae := startAccounts(t)
	ctx := t.Context()
	ev := &env{t: t, url: ae.url, clock: ae.clock}
	a, b := signup(t, ev), signup(t, ev)
	hubA, hubB := claimHub(t, ev, a), claimHub(t, ev, b)
	recA := record(t, hubA, hubA.camera(), a.deviceEntry())
	recB := record(t, hubB, hubB.camera(), b.deviceEntry())

	// The mix-up: every id of A's points at the matching object of B's.
	swap := map[string]string{recA.seg.ID: recB.seg.ID, recA.manifest: recB.manifest}
	remap := func(id string) string {
		if to, ok := swap[id]; ok {
			return to
		}
		return id
	}
	foreign := [][]byte{recB.ct}
	if m, err := b.c.Object(ctx, recB.manifest); err != nil {
		t.Fatal(err)
	} else {
		foreign = append(foreign, m)
	}
	served := 0
	fetch := func(c *apiclient.Client, id string) []byte {
		t.Helper()
		body, err := c.Object(ctx, id)
		if err != nil {
			if !apiclient.IsStatus(err, http.StatusNotFound) {
				t.Errorf("GET /v1/objects/%s under the mix-up: %v, want 404 or the caller's own object", id, err)
			}
			return nil
		}
		for _, f := range foreign {
			if bytes.Equal(body, f) {
				served++
			}
		}
		return body
	}

	t.Run("mixed-up id mapping", func(t *testing.T) {
		ae.srv.TestHooks = httpapiHooks(remap, nil)
		defer func() { ae.srv.TestHooks = httpapiHooks(nil, nil) }()
		for _, id := range []string{recA.seg.ID, recA.manifest} {
			if body := fetch(a.c, id); body != nil {
				t.Errorf("A got %d bytes for %s although the mix-up points it at B's object", len(body), id)
			}
		}
		if served != 0 {
			t.Fatalf("%d foreign objects served to household A", served)
		}
		// B still reads its own objects: the refusal is by household, not
		// a blanket failure.
		if body := fetch(b.c, recB.seg.ID); !bytes.Equal(body, recB.ct) {
			t.Fatal("B cannot read its own segment under the mix-up")
		}
		served = 0
		if !strings.Contains(ae.logs.String(), "no such object") {
			t.Errorf("the refusal is not logged:\n%s", ae.logs)
		}
	})

	t.Run("another household's ciphertext under an id of A's", func(t *testing.T) {
		// The worse case: the mix-up is past authorization, in what the
		// service reads for an id A may see (a blob cache keyed wrongly, or
		// a corrupted store). The service serves B's ciphertext, and the
		// client's checks must refuse it. (internal/cli's
		// TestCrossHouseholdExport moves a store row and a blob for real.)
		o, err := ae.st.Object(ctx, recB.seg.ID)
		if err != nil {
			t.Fatal(err)
		}
		ae.srv.TestHooks = httpapiHooks(nil, remap)
		defer func() { ae.srv.TestHooks = httpapiHooks(nil, nil) }()
		body, err := a.c.Object(ctx, recA.seg.ID)
		if err != nil {
			t.Fatalf("A reads its segment id backed by B's blob: %v", err)
		}
		if !bytes.Equal(body, recB.ct) || o.HouseholdID != b.household {
			t.Fatal("the hook did not serve B's ciphertext under A's id")
		}
		media, err := openListed(body, recA.seg, recA.key, a.household, recA.camera, recA.epoch)
		if err == nil || media != nil || !strings.Contains(err.Error(), "segment "+recA.seg.ID) {
			t.Fatalf("client check of B's ciphertext under A's id: %v (%d bytes of media), want an integrity error naming the segment", err, len(media))
		}
		// Even past the hash (a manifest that listed B's hash), B's
		// ciphertext does not open with A's epoch key.
		mo := recA.seg
		mo.SHA256 = recB.seg.SHA256
		if _, err := openListed(body, mo, recA.key, a.household, recA.camera, recA.epoch); err == nil || !strings.Contains(err.Error(), "does not decrypt") {
			t.Fatalf("B's segment with A's epoch key: %v, want a decryption failure", err)
		}
		// Without the mix-up A reads its own segment and it verifies.
		ae.srv.TestHooks = httpapiHooks(nil, nil)
		body, err = a.c.Object(ctx, recA.seg.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := openListed(body, recA.seg, recA.key, a.household, recA.camera, recA.epoch); err != nil {
			t.Fatalf("A's own segment: %v", err)
		}
	})
}

// httpapiHooks builds the service's test hooks (nil: no remap).
func httpapiHooks(objectID, objectBlob func(string) string) httpapi.TestHooks {
	return httpapi.TestHooks{ObjectID: objectID, ObjectBlob: objectBlob}
}

// TestMemberScope: a member whose roster entry and membership cover camera
// A only. The service answers 403 to every request for camera B's
// objects, manifests and epoch keys, and the hub never wrapped B's epoch
// key to the member's device; when a fault makes the service serve B's
// ciphertext anyway, the member's client cannot decrypt it and reports an
// integrity error.
//
// Invitations (`porchlight members invite/accept`) are not built yet, so
// the member is set up here directly: a store membership of camera A, and
// a roster version signed by the owner's device listing the member's
// device with Cameras [A].
func TestMemberScope(t *testing.T) {
	ae := startAccounts(t)
	ctx := t.Context()
	ev := &env{t: t, url: ae.url, clock: ae.clock}
	o := signup(t, ev)
	hub := claimHub(t, ev, o)
	camA, camB := hub.camera(), hub.camera()

	m := ae.signup(call{})
	memDev, err := keys.Generate("member phone")
	if err != nil {
		t.Fatal(err)
	}
	if err := ae.st.PutMembership(ctx, store.Membership{HouseholdID: o.household, AccountID: m.id, Cameras: []string{camA},
		Expires: ae.clock.Now().Add(7 * 24 * time.Hour), Created: ae.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	notAfter := time.Now().Add(7 * 24 * time.Hour).UTC()
	member := seal.RosterEntry{ID: memDev.ID, Kind: seal.KindDevice, Role: seal.RoleMember, Name: "member phone",
		Sign: memDev.SignPub(), KEM: memDev.Recipient(), Cameras: []string{camA}, NotAfter: &notAfter}
	hubEntry := seal.RosterEntry{ID: hub.keys.ID, Kind: seal.KindHub, Role: seal.RoleHub, Name: "garage hub",
		Sign: hub.keys.SignPub(), KEM: hub.keys.Recipient(), Cameras: []string{seal.AllCameras}}
	o.appendRoster(o.deviceEntry(), hubEntry, member)

	// The hub wraps each epoch to the roster's viewers of that camera.
	ro, err := o.c.Roster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	roster, err := seal.VerifyRosterChain(ro.Versions, o.dev.SignPub())
	if err != nil {
		t.Fatal(err)
	}
	recA := record(t, hub, camA, roster.Viewers(camA, time.Now())...)
	recB := record(t, hub, camB, roster.Viewers(camB, time.Now())...)
	if len(roster.Viewers(camB, time.Now())) != 1 {
		t.Fatalf("viewers of camera B: %+v, want the owner only", roster.Viewers(camB, time.Now()))
	}

	mc := call{token: m.dev.token}
	from, to := ae.clock.Now().Add(-time.Hour).Format(time.RFC3339), ae.clock.Now().Add(time.Hour).Format(time.RFC3339)
	routes := func(cam string, rec recording) [][2]string {
		return [][2]string{
			{"GET", "/v1/cameras/" + cam + "/epochs?device=" + memDev.ID},
			{"GET", "/v1/cameras/" + cam + "/manifests?from=" + from + "&to=" + to},
			{"GET", "/v1/cameras/" + cam + "/manifests?include=data&from=" + from + "&to=" + to},
			{"GET", "/v1/objects/" + rec.seg.ID},
			{"GET", "/v1/objects/" + rec.manifest},
		}
	}
	for _, r := range routes(camB, recB) {
		if st, _ := ae.status(mc, r[0], r[1], nil); st != http.StatusForbidden {
			t.Errorf("member: %s %s: %d, want 403", r[0], r[1], st)
		}
	}
	for _, r := range routes(camA, recA) {
		ae.must(http.StatusOK, mc, r[0], r[1], nil, nil)
	}
	// Nor may the member give itself B's key: adding wraps is the owner's.
	wraps := api.WrapsPut{Wraps: []api.Wrap{{DeviceID: memDev.ID, Data: ageBody(t)}}}
	if st, _ := ae.status(mc, "PUT", "/v1/epochs/"+recB.epoch+"/wraps", wraps); st != http.StatusForbidden {
		t.Errorf("member: PUT /v1/epochs/{B's epoch}/wraps: %d, want 403", st)
	}
	// Cryptographically too: no wrap of B's epoch exists for the member.
	eps, err := ae.st.Epochs(ctx, camB, memDev.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range eps {
		if len(e.Wrap) != 0 {
			t.Fatalf("epoch %s of camera B is wrapped to the member's device", e.ID)
		}
	}

	// The member's client: camera A's epoch key, checked against the
	// hub-signed announcement, opens A's manifest and segment.
	mcl := ev.client(m.dev.token)
	var keyA *age.HybridIdentity
	list, err := mcl.Epochs(ctx, camA, memDev.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		ann, err := seal.VerifyEpoch(e.Announcement, hub.keys.SignPub())
		if err != nil {
			t.Fatal(err)
		}
		if keyA, err = memDev.OpenEpochKey(e.Wrap, ann); err != nil {
			t.Fatalf("member opens camera A's epoch key: %v", err)
		}
	}
	if keyA == nil {
		t.Fatal("no epoch of camera A for the member")
	}
	mans, err := mcl.Manifests(ctx, camA, ae.clock.Now().Add(-time.Hour), ae.clock.Now().Add(time.Hour), true)
	if err != nil || len(mans) != 1 {
		t.Fatalf("member lists camera A's manifests: %d, %v", len(mans), err)
	}
	man, err := keys.OpenManifest(mans[0].Data, keyA, hub.keys.SignPub(), o.household, camA, recA.epoch)
	if err != nil || len(man.Objects) != 1 {
		t.Fatalf("member opens camera A's manifest: %v", err)
	}
	listed := man.Objects[0]
	body, err := mcl.Object(ctx, listed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openListed(body, listed, keyA, o.household, camA, recA.epoch); err != nil {
		t.Fatalf("member's in-scope segment: %v", err)
	}

	// A mix-up of ids does not get B's objects past authorization.
	ae.srv.TestHooks = httpapiHooks(func(id string) string {
		if id == listed.ID {
			return recB.seg.ID
		}
		return id
	}, nil)
	if _, err := mcl.Object(ctx, listed.ID); !apiclient.IsStatus(err, http.StatusForbidden) {
		t.Fatalf("member asking for A's segment remapped to B's: %v, want 403", err)
	}

	// A fault that serves B's ciphertext under A's id anyway: the
	// member's client refuses it.
	ae.srv.TestHooks = httpapiHooks(nil, func(id string) string {
		if id == listed.ID {
			return recB.seg.ID
		}
		return id
	})
	defer func() { ae.srv.TestHooks = httpapiHooks(nil, nil) }()
	body, err = mcl.Object(ctx, listed.ID)
	if err != nil || !bytes.Equal(body, recB.ct) {
		t.Fatalf("the hook did not serve B's segment: %v", err)
	}
	media, err := openListed(body, listed, keyA, o.household, camA, recA.epoch)
	if err == nil || media != nil || !strings.Contains(err.Error(), "integrity error") || !strings.Contains(err.Error(), listed.ID) {
		t.Fatalf("member's client on B's ciphertext: %v, want an integrity error naming %s", err, listed.ID)
	}
	// Nor does any key the member holds open B's segment.
	if _, _, err := keys.OpenSegment(body, keyA); err == nil {
		t.Fatal("camera B's segment opened with camera A's epoch key")
	}
	if _, _, err := keys.OpenSegment(body, memDev.KEM); err == nil {
		t.Fatal("camera B's segment opened with the member's device key")
	}
}
