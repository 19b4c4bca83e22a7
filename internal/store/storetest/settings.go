package storetest

import (
	"bytes"
	"testing"

	"github.com/porchlight/porchlight/internal/store"
)

// testCameraSettings: a camera has no settings until put; a put needs a
// newer version than the stored one (so an old copy cannot be put back);
// another camera is unaffected; a re-put descriptor keeps the settings; an
// unknown camera is ErrNotFound.
func testCameraSettings(t *testing.T, s store.Store) {
	a, h := household(t, s)
	hb := hub(t, s, a, h)
	c, other := camera(t, s, hb), camera(t, s, hb)

	_, _, err := s.CameraSettings(ctx(t), c.ID)
	wantErr(t, err, store.ErrNotFound, "settings before any put")
	must(t, s.PutCameraSettings(ctx(t), c.ID, 1, []byte("sealed-1")), "put version 1")
	must(t, s.PutCameraSettings(ctx(t), c.ID, 3, []byte("sealed-3")), "put version 3")
	wantErr(t, s.PutCameraSettings(ctx(t), c.ID, 3, []byte("again")), store.ErrConflict, "same version again")
	wantErr(t, s.PutCameraSettings(ctx(t), c.ID, 2, []byte("older")), store.ErrConflict, "older version")
	wantErr(t, s.PutCameraSettings(ctx(t), "nosuchcamera", 9, []byte("x")), store.ErrNotFound, "unknown camera")

	// The hub re-putting its descriptor (every start) keeps the settings.
	c.Descriptor = []byte("age-descriptor-2")
	must(t, s.PutCamera(ctx(t), c), "re-put descriptor")
	v, b, err := s.CameraSettings(ctx(t), c.ID)
	must(t, err, "settings")
	if v != 3 || !bytes.Equal(b, []byte("sealed-3")) {
		t.Errorf("settings = v%d %q, want v3 sealed-3", v, b)
	}
	_, _, err = s.CameraSettings(ctx(t), other.ID)
	wantErr(t, err, store.ErrNotFound, "the other camera's settings")
	_, _, err = s.CameraSettings(ctx(t), "nosuchcamera")
	wantErr(t, err, store.ErrNotFound, "settings of an unknown camera")
}
