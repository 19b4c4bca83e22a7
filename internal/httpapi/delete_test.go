package httpapi_test

import (
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/seal"
)

// wrapsOf maps each epoch of a camera to whether device still has a wrap.
func wrapsOf(t *testing.T, o *owner, cam string) map[string]bool {
	t.Helper()
	eps, err := o.c.Epochs(t.Context(), cam, o.dev.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, e := range eps {
		out[e.ID] = len(e.Wrap) > 0
	}
	return out
}

// TestDeleteRangeAndShred: deleting a range removes its manifests, the
// objects they list and their blobs, shreds the epoch it emptied and
// answers a receipt; shred_epochs deletes every wrap of an epoch and keeps
// its objects; removing a camera deletes everything of it.
func TestDeleteRangeAndShred(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	o := signup(t, e)
	hub := claimHub(t, e, o)
	cam := hub.camera()
	other := hub.camera()
	now := e.clock.Now()
	ep1, r1 := hub.epoch(cam)
	old := []seal.ManifestObject{hub.segment(cam, ep1, r1, 0, now.Add(-time.Hour)), hub.segment(cam, ep1, r1, 1, now.Add(-time.Hour+4*time.Second))}
	oldMan := hub.manifest(cam, ep1, r1, 0, old)
	ep2, r2 := hub.epoch(cam)
	cur := hub.segment(cam, ep2, r2, 2, now)
	curMan := hub.manifest(cam, ep2, r2, 1, []seal.ManifestObject{cur})
	epOther, _ := hub.epoch(other)

	for name, d := range map[string]api.CameraDelete{
		"nothing":       {},
		"only from":     {From: now},
		"backwards":     {From: now, To: now.Add(-time.Hour)},
		"foreign epoch": {ShredEpochs: []string{epOther}},
		"malformed id":  {ShredEpochs: []string{"../x"}},
		"unknown epoch": {ShredEpochs: []string{seal.NewID()}},
	} {
		_, err := o.c.DeleteCameraData(ctx, cam, d)
		wantStatus(t, err, 400, name)
	}

	rc, err := o.c.DeleteCameraData(ctx, cam, api.CameraDelete{From: now.Add(-2 * time.Hour), To: now.Add(-30 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if rc.ID == "" || rc.CameraID != cam || rc.Manifests != 1 || rc.Segments != 2 || rc.Bytes <= 0 ||
		!cmp.Equal(rc.ShreddedEpochs, []string{ep1}) || rc.From.IsZero() {
		t.Errorf("range receipt = %+v", rc)
	}
	for _, id := range []string{oldMan, old[0].ID, old[1].ID} {
		_, err := o.c.Object(ctx, id)
		wantStatus(t, err, 404, "deleted object")
		if _, err := os.Stat(blobPath(e, id)); !os.IsNotExist(err) {
			t.Errorf("blob of deleted object %s still on disk", id)
		}
	}
	if d := cmp.Diff(map[string]bool{ep1: false, ep2: true}, wrapsOf(t, o, cam)); d != "" {
		t.Errorf("wraps after deleting a range (-want +got):\n%s", d)
	}

	rc, err = o.c.DeleteCameraData(ctx, cam, api.CameraDelete{ShredEpochs: []string{ep2}})
	if err != nil {
		t.Fatal(err)
	}
	if rc.WrapsDeleted != 1 || !cmp.Equal(rc.ShreddedEpochs, []string{ep2}) || rc.Manifests+rc.Segments != 0 {
		t.Errorf("shred receipt = %+v", rc)
	}
	if d := cmp.Diff(map[string]bool{ep1: false, ep2: false}, wrapsOf(t, o, cam)); d != "" {
		t.Errorf("wraps after shredding (-want +got):\n%s", d)
	}
	if _, err := o.c.Object(ctx, curMan); err != nil {
		t.Errorf("shredding deleted the epoch's objects: %v", err)
	}

	rc, err = o.c.RemoveCamera(ctx, cam)
	if err != nil {
		t.Fatal(err)
	}
	if !rc.CameraRemoved || rc.Manifests != 1 || rc.Segments != 1 || !cmp.Equal(rc.ShreddedEpochs, sorted(ep1, ep2)) {
		t.Errorf("removal receipt = %+v", rc)
	}
	for _, id := range []string{curMan, cur.ID} {
		_, err := o.c.Object(ctx, id)
		wantStatus(t, err, 404, "object of a removed camera")
		if _, err := os.Stat(blobPath(e, id)); !os.IsNotExist(err) {
			t.Errorf("blob of removed camera's object %s still on disk", id)
		}
	}
	cams, err := o.c.Cameras(ctx)
	if err != nil || len(cams) != 1 || cams[0].ID != other {
		t.Errorf("cameras after removal = %+v, %v", cams, err)
	}
	_, err = o.c.RemoveCamera(ctx, cam)
	wantStatus(t, err, 404, "removing a removed camera")
	if d := cmp.Diff(map[string]bool{epOther: true}, wrapsOf(t, o, other)); d != "" {
		t.Errorf("the other camera's wraps (-want +got):\n%s", d)
	}
}

func sorted(a, b string) []string {
	if a > b {
		return []string{b, a}
	}
	return []string{a, b}
}

// TestRetentionShreds: when retention deletes the last object of an epoch,
// every wrap of its key goes too; an epoch with objects left, and a new
// epoch with none yet, keep theirs.
func TestRetentionShreds(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	o := signup(t, e)
	hub := claimHub(t, e, o)
	cam := hub.camera()
	begin := e.clock.Now()
	gone, rg := hub.epoch(cam)
	hub.manifest(cam, gone, rg, 0, []seal.ManifestObject{hub.segment(cam, gone, rg, 0, begin)})
	days := 1
	if err := o.c.UpdateCamera(ctx, cam, api.CameraUpdate{RetentionDays: &days}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * 24 * time.Hour)
	kept, rk := hub.epoch(cam)
	hub.manifest(cam, kept, rk, 1, []seal.ManifestObject{hub.segment(cam, kept, rk, 1, e.clock.Now())})
	fresh, _ := hub.epoch(cam)
	if n, err := e.m.Retain(ctx); err != nil || n != 2 {
		t.Fatalf("retention deleted %d objects, %v; want 2", n, err)
	}
	if d := cmp.Diff(map[string]bool{gone: false, kept: true, fresh: true}, wrapsOf(t, o, cam)); d != "" {
		t.Errorf("wraps after retention (-want +got):\n%s", d)
	}
}
