package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/porchlight/porchlight/internal/store"
)

// testDeleteRange: RangeObjects selects the manifests of a range, what
// they list and unlisted objects in it; nothing of other cameras.
func testDeleteRange(t *testing.T, s store.Store) {
	a, h := household(t, s)
	c := camera(t, s, hub(t, s, a, h))
	e := epoch(t, s, c)
	put := func(o store.Object, refs ...string) store.Object {
		t.Helper()
		_, err := s.PutObject(ctx(t), o, refs)
		must(t, err, "put")
		return o
	}
	from, to := t0.Add(time.Hour), t0.Add(2*time.Hour)
	before := put(object(c, e, "segment", t0))
	put(object(c, e, "manifest", t0), before.ID)
	in1 := put(object(c, e, "segment", from))
	in2 := put(object(c, e, "segment", to.Add(time.Minute))) // listed by a manifest in the range
	man := put(object(c, e, "manifest", from.Add(time.Minute)), in1.ID, in2.ID)
	orphan := put(object(c, e, "segment", to))
	after := put(object(c, e, "segment", to.Add(time.Hour)))
	put(object(c, e, "manifest", to.Add(time.Hour)), after.ID)
	c2 := camera(t, s, hub(t, s, a, h))
	put(object(c2, epoch(t, s, c2), "segment", from))

	got, err := s.RangeObjects(ctx(t), c.ID, from, to, 100)
	must(t, err, "range objects")
	ids := map[string]bool{}
	for _, o := range got {
		ids[o.ID] = true
	}
	want := map[string]bool{in1.ID: true, in2.ID: true, man.ID: true, orphan.ID: true}
	if d := cmp.Diff(want, ids); d != "" {
		t.Errorf("RangeObjects (-want +got):\n%s", d)
	}
	limited, err := s.RangeObjects(ctx(t), c.ID, from, to, 2)
	must(t, err, "range objects, limited")
	if len(limited) != 2 {
		t.Errorf("limit 2 gave %d", len(limited))
	}
}

// testShred: ShredEpochs deletes every device's wraps of the named epochs
// only; ShredEmptyEpochs only of epochs without objects; DeleteCamera
// removes the camera with its epochs, wraps and objects.
func testShred(t *testing.T, s store.Store) {
	a, h := household(t, s)
	c := camera(t, s, hub(t, s, a, h))
	mk := func(cam store.Camera) store.Epoch {
		t.Helper()
		e := store.Epoch{ID: id("ep"), CameraID: cam.ID, Announcement: []byte(id("ann")), Created: t0}
		must(t, s.PutEpoch(ctx(t), e, []store.Wrap{{DeviceID: "d1", Data: []byte("w1")}, {DeviceID: "d2", Data: []byte("w2")}}), "put epoch")
		return e
	}
	shred, keep, empty := mk(c), mk(c), mk(c)
	_, err := s.PutObject(ctx(t), object(c, keep, "segment", t0), nil)
	must(t, err, "put object")

	n, err := s.ShredEpochs(ctx(t), []string{shred.ID, "unknown"})
	must(t, err, "shred")
	if n != 2 {
		t.Errorf("ShredEpochs deleted %d wraps, want 2", n)
	}
	wraps := func(device string) map[string]string {
		t.Helper()
		es, err := s.Epochs(ctx(t), c.ID, device)
		must(t, err, "epochs")
		out := map[string]string{}
		for _, e := range es {
			out[e.ID] = string(e.Wrap)
		}
		return out
	}
	want := map[string]string{shred.ID: "", keep.ID: "w2", empty.ID: "w2"}
	if d := cmp.Diff(want, wraps("d2")); d != "" {
		t.Errorf("after ShredEpochs (-want +got):\n%s", d)
	}

	got, err := s.ShredEmptyEpochs(ctx(t), []string{shred.ID, keep.ID, empty.ID})
	must(t, err, "shred empty")
	if d := cmp.Diff([]string{empty.ID}, got); d != "" {
		t.Errorf("ShredEmptyEpochs (-want +got):\n%s", d)
	}
	want = map[string]string{shred.ID: "", keep.ID: "w1", empty.ID: ""}
	if d := cmp.Diff(want, wraps("d1")); d != "" {
		t.Errorf("after ShredEmptyEpochs (-want +got):\n%s", d)
	}

	other := camera(t, s, hub(t, s, a, h))
	otherEp := mk(other)
	must(t, s.DeleteCamera(ctx(t), c.ID), "delete camera")
	_, err = s.Camera(ctx(t), c.ID)
	wantErr(t, err, store.ErrNotFound, "deleted camera")
	_, err = s.Epoch(ctx(t), keep.ID)
	wantErr(t, err, store.ErrNotFound, "deleted camera's epoch")
	wantErr(t, s.DeleteCamera(ctx(t), c.ID), store.ErrNotFound, "delete camera again")
	es, err := s.Epochs(ctx(t), other.ID, "d1")
	must(t, err, "other camera's epochs")
	if len(es) != 1 || es[0].ID != otherEp.ID || string(es[0].Wrap) != "w1" {
		t.Errorf("other camera's epochs after deleting a camera: %+v", es)
	}
}
