package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// epochPath aims at an epoch of camera 1 of the household (the member's
// shared camera) for "own", and of the other household's otherwise.
func (w *world) epochPath(a actor, own bool) string {
	es, err := w.e.st.Epochs(context.Background(), w.cam1[a.letter(own)], "")
	if err != nil || len(es) == 0 {
		w.e.t.Fatalf("epochs of camera 1 of %s: %d, %v", a.letter(own), len(es), err)
	}
	return es[0].ID
}

// rosterDevice returns a fresh device key pair and its roster entry.
func rosterDevice(t *testing.T, role string, cameras ...string) (*keys.Pair, seal.RosterEntry) {
	t.Helper()
	k, err := keys.Generate("phone")
	if err != nil {
		t.Fatal(err)
	}
	return k, seal.RosterEntry{ID: k.ID, Kind: seal.KindDevice, Role: role, Name: "phone " + k.ID[:4],
		Sign: k.SignPub(), KEM: k.Recipient(), Cameras: cameras}
}

// wrapFor returns the wrap the service holds for device of epoch ep.
func wrapFor(t *testing.T, o *owner, camera, ep, deviceID string) []byte {
	t.Helper()
	es, err := o.c.Epochs(t.Context(), camera, deviceID)
	if err != nil {
		t.Fatalf("epochs: %v", err)
	}
	for _, e := range es {
		if e.ID == ep {
			return e.Wrap
		}
	}
	t.Fatalf("epoch %s not listed", ep)
	return nil
}

func TestPutWraps(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	o := signup(t, e)
	h := claimHub(t, e, o)
	front, garage := h.camera(), h.camera()
	ep, _ := h.epoch(front)
	hubEntry := seal.RosterEntry{ID: h.keys.ID, Kind: seal.KindHub, Role: seal.RoleHub, Name: "garage hub",
		Sign: h.keys.SignPub(), KEM: h.keys.Recipient(), Cameras: []string{seal.AllCameras}}
	second, secondEntry := rosterDevice(t, seal.RoleOwner, seal.AllCameras)
	_, garageOnly := rosterDevice(t, seal.RoleMember, garage)
	o.appendRoster(o.deviceEntry(), hubEntry, secondEntry, garageOnly)
	stranger, _ := rosterDevice(t, seal.RoleOwner, seal.AllCameras)

	wrap := ageBody(t)
	if err := o.c.PutWraps(ctx, ep, []api.Wrap{{DeviceID: second.ID, Data: wrap}}); err != nil {
		t.Fatalf("put wraps: %v", err)
	}
	if got := wrapFor(t, o, front, ep, second.ID); string(got) != string(wrap) {
		t.Errorf("second device's wrap = %d bytes, want the one put", len(got))
	}
	// Replacing is allowed; the owner's own wrap is untouched.
	wrap2 := ageBody(t)
	if err := o.c.PutWraps(ctx, ep, []api.Wrap{{DeviceID: second.ID, Data: wrap2}}); err != nil {
		t.Fatalf("replace wrap: %v", err)
	}
	if got := wrapFor(t, o, front, ep, second.ID); string(got) != string(wrap2) {
		t.Error("replaced wrap not stored")
	}
	if got := wrapFor(t, o, front, ep, o.dev.ID); len(got) == 0 {
		t.Error("owner device lost its wrap")
	}

	for _, tc := range []struct {
		name   string
		wraps  []api.Wrap
		status int
	}{
		{"device not in the roster", []api.Wrap{{DeviceID: stranger.ID, Data: ageBody(t)}}, 400},
		{"camera out of the device's scope", []api.Wrap{{DeviceID: garageOnly.ID, Data: ageBody(t)}}, 400},
		{"a hub", []api.Wrap{{DeviceID: h.keys.ID, Data: ageBody(t)}}, 400},
		{"not an age file", []api.Wrap{{DeviceID: second.ID, Data: []byte("plaintext key")}}, 400},
		{"malformed device id", []api.Wrap{{DeviceID: "x", Data: ageBody(t)}}, 400},
		{"no wraps", nil, 400},
		{"one bad among good", []api.Wrap{{DeviceID: second.ID, Data: ageBody(t)}, {DeviceID: stranger.ID, Data: ageBody(t)}}, 400},
	} {
		wantStatus(t, o.c.PutWraps(ctx, ep, tc.wraps), tc.status, tc.name)
	}
	if got := wrapFor(t, o, front, ep, second.ID); string(got) != string(wrap2) {
		t.Error("a refused call changed a wrap")
	}
	if got := wrapFor(t, o, front, ep, stranger.ID); got != nil {
		t.Error("a refused device got a wrap")
	}

	// Another household's owner: 404, as for a missing epoch.
	other := signup(t, e)
	wantStatus(t, other.c.PutWraps(ctx, ep, []api.Wrap{{DeviceID: other.dev.ID, Data: ageBody(t)}}), 404, "another household's epoch")
	wantStatus(t, o.c.PutWraps(ctx, seal.NewID(), []api.Wrap{{DeviceID: second.ID, Data: ageBody(t)}}), 404, "missing epoch")
	// Anonymous: 401.
	wantStatus(t, e.client("").PutWraps(ctx, ep, []api.Wrap{{DeviceID: second.ID, Data: ageBody(t)}}), 401, "anonymous")
}

// TestDeviceRemoval: a roster version without a device deletes its wraps
// and ends its sessions at once; the other devices keep working.
func TestDeviceRemoval(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	o := signup(t, e)
	h := claimHub(t, e, o)
	cam := h.camera()
	ep, _ := h.epoch(cam)
	hubEntry := seal.RosterEntry{ID: h.keys.ID, Kind: seal.KindHub, Role: seal.RoleHub, Name: "garage hub",
		Sign: h.keys.SignPub(), KEM: h.keys.Recipient(), Cameras: []string{seal.AllCameras}}
	phone, phoneEntry := rosterDevice(t, seal.RoleOwner, seal.AllCameras)
	o.appendRoster(o.deviceEntry(), hubEntry, phoneEntry)
	if err := o.c.PutWraps(ctx, ep, []api.Wrap{{DeviceID: phone.ID, Data: ageBody(t)}}); err != nil {
		t.Fatalf("put wraps: %v", err)
	}

	login := func(deviceID string) string {
		t.Helper()
		resp, err := e.client("").Login(ctx, api.LoginRequest{Email: o.email, Password: o.password, DeviceName: "d", DeviceID: deviceID})
		if err != nil || resp.Session == nil {
			t.Fatalf("login: %+v, %v", resp, err)
		}
		return resp.Session.Token
	}
	phoneTok, laptopTok, plainTok := login(phone.ID), login(o.dev.ID), login("")
	me := func(tok string) int {
		resp := e.raw(http.MethodGet, "/v1/me", tok, nil, nil)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tok := range []string{phoneTok, laptopTok, plainTok} {
		if got := me(tok); got != 200 {
			t.Fatalf("before removal: GET /v1/me = %d", got)
		}
	}

	o.appendRoster(o.deviceEntry(), hubEntry)

	if got := me(phoneTok); got != 401 {
		t.Errorf("removed device's session: GET /v1/me = %d, want 401", got)
	}
	for _, tok := range []string{laptopTok, plainTok, o.token} {
		if got := me(tok); got != 200 {
			t.Errorf("other session after removal: GET /v1/me = %d, want 200", got)
		}
	}
	if got := wrapFor(t, o, cam, ep, phone.ID); got != nil {
		t.Error("removed device's wrap is still served")
	}
	if got := wrapFor(t, o, cam, ep, o.dev.ID); len(got) == 0 {
		t.Error("remaining device lost its wrap")
	}
	// The removed device cannot be given keys again.
	wantStatus(t, o.c.PutWraps(ctx, ep, []api.Wrap{{DeviceID: phone.ID, Data: ageBody(t)}}), 400, "wrap to a removed device")

	// A malformed device_id at sign-in is refused.
	_, err := e.client("").Login(ctx, api.LoginRequest{Email: o.email, Password: o.password, DeviceID: "not an id"})
	wantStatus(t, err, 400, "malformed device_id")
}
