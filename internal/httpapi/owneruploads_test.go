package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// TestOwnerUploads: an owner device stores an epoch it announced and
// objects sealed to it through the owner routes; the owner routes refuse
// announcements not signed by an owner device of the roster, and the hub
// route refuses owner-signed ones. retire-epochs deletes only the listed
// objects of the listed epochs and shreds those epochs.
func TestOwnerUploads(t *testing.T) {
	e := start(t)
	o := signup(t, e)
	hub := claimHub(t, e, o)
	cam := hub.camera()
	oldEpoch, oldTo := hub.epoch(cam)
	t0 := time.Now().UTC().Truncate(time.Minute)
	oldSeg := hub.segment(cam, oldEpoch, oldTo, 0, t0)
	oldMan := hub.manifest(cam, oldEpoch, oldTo, 0, []seal.ManifestObject{oldSeg})
	ctx := t.Context()

	announce := func(signer *keys.Pair) (string, api.EpochPut, age.Recipient) {
		t.Helper()
		k, err := age.GenerateHybridIdentity()
		if err != nil {
			t.Fatal(err)
		}
		id := seal.NewID()
		ann, err := seal.SignEpoch(signer.Sign, seal.EpochAnnouncement{Household: o.household, Camera: cam, Epoch: id, Hub: signer.ID,
			Recipient: k.Recipient().String(), NotBefore: t0, NotAfter: t0.Add(time.Hour), Roster: 3})
		if err != nil {
			t.Fatal(err)
		}
		w, err := seal.WrapEpochKey(o.dev.KEM.Recipient(), seal.EpochKey{Household: o.household, Camera: cam, Epoch: id, Identity: k.String()})
		if err != nil {
			t.Fatal(err)
		}
		return id, api.EpochPut{CameraID: cam, Announcement: ann, Wraps: []api.Wrap{{DeviceID: o.dev.ID, Data: w}}}, k.Recipient()
	}

	// Refusals: a hub-signed announcement on the owner route, a stranger's,
	// and an owner-signed one on the hub route.
	id, put, _ := announce(hub.keys)
	wantStatus(t, o.c.PutOwnerEpoch(ctx, id, put), http.StatusBadRequest, "hub-signed announcement on the owner route")
	stranger, err := keys.Generate("stranger")
	if err != nil {
		t.Fatal(err)
	}
	id, put, _ = announce(stranger)
	wantStatus(t, o.c.PutOwnerEpoch(ctx, id, put), http.StatusBadRequest, "announcement signed by a device not in the roster")
	id, put, ownTo := announce(o.dev)
	wantStatus(t, hub.c.PutEpoch(ctx, id, put), http.StatusBadRequest, "owner-signed announcement on the hub route")

	// The owner route stores an owner-signed epoch and objects sealed to it.
	if err := o.c.PutOwnerEpoch(ctx, id, put); err != nil {
		t.Fatalf("owner epoch: %v", err)
	}
	body, err := seal.SealSegment(ownTo, seal.SegmentHeader{Household: o.household, Camera: cam, Epoch: id, Seq: 0, Start: t0, DurationMS: 4000, Frames: 100, Codec: "avc1"}, []byte("media"))
	if err != nil {
		t.Fatal(err)
	}
	segID := seal.NewID()
	if res, err := o.c.PutOwnerObject(ctx, segID, apiclient.ObjectMeta{Camera: cam, Epoch: id, Kind: api.ObjectSegment, Time: t0}, body); err != nil || res.Existed {
		t.Fatalf("owner segment = %+v, %v", res, err)
	}
	_, err = o.c.PutOwnerObject(ctx, seal.NewID(), apiclient.ObjectMeta{Camera: cam, Epoch: id, Kind: api.ObjectSegment, Time: t0, SHA256: seal.SHA256Hex([]byte("x"))}, body)
	wantStatus(t, err, http.StatusBadRequest, "owner upload with a wrong SHA-256")
	_, err = o.c.PutOwnerObject(ctx, seal.NewID(), apiclient.ObjectMeta{Camera: cam, Epoch: id, Kind: api.ObjectSegment, Time: t0}, []byte("plaintext"))
	wantStatus(t, err, http.StatusBadRequest, "owner upload of a non-age body")
	if _, err := o.c.PutOwnerObject(ctx, seal.NewID(), apiclient.ObjectMeta{Camera: cam, Epoch: id, Kind: api.ObjectManifest, Time: t0, Refs: []string{segID}}, ageBody(t)); err != nil {
		t.Fatalf("owner manifest: %v", err)
	}
	// Another household's owner cannot write to this camera.
	other := signup(t, e)
	id2, put2, _ := announce(other.dev)
	wantStatus(t, other.c.PutOwnerEpoch(ctx, id2, put2), http.StatusNotFound, "another household's owner")

	// Retire: a new object is refused, the old ones go, the new stay.
	_, err = o.c.RetireEpochs(ctx, cam, api.EpochRetire{Epochs: []string{oldEpoch}, Objects: []string{segID}})
	wantStatus(t, err, http.StatusBadRequest, "retire an object of another epoch")
	rc, err := o.c.RetireEpochs(ctx, cam, api.EpochRetire{Epochs: []string{oldEpoch}, Objects: []string{oldSeg.ID, oldMan}})
	if err != nil || rc.Segments != 1 || rc.Manifests != 1 || len(rc.ShreddedEpochs) != 1 || rc.WrapsDeleted != 1 {
		t.Fatalf("retire = %+v, %v", rc, err)
	}
	if _, err := o.c.Object(ctx, oldSeg.ID); err == nil {
		t.Error("the retired segment is still served")
	}
	if _, err := o.c.Object(ctx, segID); err != nil {
		t.Errorf("the re-keyed segment is gone: %v", err)
	}
	eps, err := o.c.Epochs(ctx, cam, o.dev.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range eps {
		if ep.ID == oldEpoch && len(ep.Wrap) != 0 {
			t.Error("the retired epoch still has a wrap")
		}
		if ep.ID == id && len(ep.Wrap) == 0 {
			t.Error("the owner-announced epoch has no wrap")
		}
	}
}
