package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// event seals and uploads a thumbnail and an event naming it, as a hub
// does; it returns the ids of the event object and the thumbnail, and the
// event object's ciphertext.
func (h *fakeHub) event(camera, epoch string, to age.Recipient, start time.Time, jpeg []byte) (eventObj, thumb string, body []byte) {
	h.t.Helper()
	tb, err := seal.SealTo(jpeg, to)
	if err != nil {
		h.t.Fatal(err)
	}
	thumb = seal.NewID()
	if _, err := h.c.PutObject(h.t.Context(), thumb, apiclient.ObjectMeta{Camera: camera, Epoch: epoch, Kind: api.ObjectThumb, Time: start}, tb); err != nil {
		h.t.Fatalf("put thumb: %v", err)
	}
	body, err = seal.SealEvent(h.keys.Sign, to, seal.Event{Household: h.household, Camera: camera, Hub: h.keys.ID, Epoch: epoch,
		ID: seal.NewID(), Version: 1, Kind: seal.EventObject, Start: start, Classes: []string{"person"}, Labels: []string{"person"},
		Score: 0.9, Zone: "porch", Thumb: thumb, ThumbSHA256: seal.SHA256Hex(tb)})
	if err != nil {
		h.t.Fatal(err)
	}
	eventObj = seal.NewID()
	res, err := h.c.PutObject(h.t.Context(), eventObj, apiclient.ObjectMeta{Camera: camera, Epoch: epoch, Kind: api.ObjectEvent, Time: start}, body)
	if err != nil || res.Existed {
		h.t.Fatalf("put event = %+v, %v", res, err)
	}
	return eventObj, thumb, body
}

// TestCameraEvents: a hub uploads a sealed event and its thumbnail; the
// owner lists the event (and only it) and opens it with the epoch key; an
// in-scope member lists it too, a member out of scope gets 403; the owner's
// open notification stream and the in-scope member get a camera_event
// naming the camera and object and nothing more; members out of scope or
// expired get nothing.
func TestCameraEvents(t *testing.T) {
	ae := startAccounts(t)
	ctx := t.Context()
	ev := &env{t: t, url: ae.url, clock: ae.clock}
	o := signup(t, ev)
	hub := claimHub(t, ev, o)
	cam, outside := hub.camera(), hub.camera()
	ep, rcpt := hub.epoch(cam)

	inScope, outOfScope, expired := ae.signup(call{}), ae.signup(call{}), ae.signup(call{})
	now := ae.clock.Now()
	for _, m := range []struct {
		a       *account
		cameras []string
		expires time.Time
	}{{inScope, []string{cam}, now.Add(time.Hour)}, {outOfScope, []string{outside}, time.Time{}}, {expired, []string{cam}, now.Add(-time.Minute)}} {
		if err := ae.st.PutMembership(ctx, store.Membership{HouseholdID: o.household, AccountID: m.a.id, Cameras: m.cameras, Expires: m.expires, Created: now}); err != nil {
			t.Fatal(err)
		}
	}

	// The owner's stream is open before the event arrives.
	streamCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	notices := make(chan api.Notification, 16)
	go func() {
		defer close(notices)
		for n, err := range o.c.Events(streamCtx, 0) {
			if err != nil {
				return
			}
			select {
			case notices <- n:
			case <-streamCtx.Done():
				return
			}
		}
	}()
	// A segment is no event: no notification for it.
	hub.segment(cam, ep, rcpt, 0, now.Add(-time.Minute))

	jpeg := []byte("\xff\xd8\xff\xe0 a jpeg " + randomHex(8))
	start := now.Add(-30 * time.Second)
	evID, thumbID, evBody := hub.event(cam, ep, rcpt, start, jpeg)

	var got api.Notification
	for n := range notices {
		if n.Kind == api.NoticeCameraEvent {
			got = n
			break
		}
	}
	cancel()
	want := api.Notification{Seq: got.Seq, Kind: api.NoticeCameraEvent, CreatedAt: got.CreatedAt, CameraID: cam, ObjectID: evID, At: start.Truncate(time.Minute)}
	if got != want {
		t.Errorf("owner's stream: %+v, want %+v", got, want)
	}

	// The owner lists exactly the event, decrypts and verifies it.
	from, to := now.Add(-time.Hour), now.Add(time.Hour)
	objs, err := o.c.CameraEvents(ctx, cam, from, to, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].ID != evID || objs[0].Kind != api.ObjectEvent || len(objs[0].Data) == 0 {
		t.Fatalf("owner's events = %+v, want the one event with data", objs)
	}
	eps, err := o.c.Epochs(ctx, cam, o.dev.ID)
	if err != nil || len(eps) != 1 {
		t.Fatalf("epochs = %v, %v", eps, err)
	}
	ann, err := seal.VerifyEpoch(eps[0].Announcement, hub.keys.SignPub())
	if err != nil {
		t.Fatal(err)
	}
	epochKey, err := o.dev.OpenEpochKey(eps[0].Wrap, ann)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := keys.Decrypt(objs[0].Data, epochKey)
	if err != nil {
		t.Fatal(err)
	}
	e, err := seal.VerifyEventFrom(pt, seal.OnlySigner(hub.keys.SignPub()), o.household, cam, ep)
	if err != nil {
		t.Fatalf("verify event: %v", err)
	}
	if e.Thumb != thumbID || e.Classes[0] != "person" {
		t.Errorf("event = %+v", e)
	}
	thumb, err := o.c.Object(ctx, thumbID)
	if err != nil {
		t.Fatal(err)
	}
	if seal.SHA256Hex(thumb) != e.ThumbSHA256 {
		t.Error("thumbnail does not match the event's hash")
	}
	if plain, err := keys.Decrypt(thumb, epochKey); err != nil || string(plain) != string(jpeg) {
		t.Errorf("thumbnail decrypts to %q, %v", plain, err)
	}
	// Without include=data: metadata only. Outside the range: nothing.
	if objs, err := o.c.CameraEvents(ctx, cam, from, to, false); err != nil || len(objs) != 1 || objs[0].Data != nil {
		t.Errorf("events without data = %+v, %v", objs, err)
	}
	if objs, err := o.c.CameraEvents(ctx, cam, now.Add(time.Hour), now.Add(2*time.Hour), false); err != nil || len(objs) != 0 {
		t.Errorf("events an hour later = %+v, %v", objs, err)
	}

	// Members: in scope lists it; out of scope and expired get 403.
	path := "/v1/cameras/" + cam + "/events?from=" + from.Format(time.RFC3339) + "&to=" + to.Format(time.RFC3339)
	var listed api.Objects
	ae.must(http.StatusOK, call{token: inScope.dev.token}, "GET", path, nil, &listed)
	if len(listed.Objects) != 1 || listed.Objects[0].ID != evID {
		t.Errorf("in-scope member's events = %+v", listed)
	}
	for name, a := range map[string]*account{"out of scope": outOfScope, "expired": expired} {
		if st, _ := ae.status(call{token: a.dev.token}, "GET", path, nil); st != http.StatusForbidden {
			t.Errorf("%s member listing events: %d, want 403", name, st)
		}
	}
	// Bad queries.
	for _, q := range []string{"", "?from=" + from.Format(time.RFC3339), "?from=" + to.Format(time.RFC3339) + "&to=" + from.Format(time.RFC3339), "?from=" + from.Format(time.RFC3339) + "&to=" + to.Format(time.RFC3339) + "&include=all"} {
		if st, _ := ae.status(call{token: o.token}, "GET", "/v1/cameras/"+cam+"/events"+q, nil); st != http.StatusBadRequest {
			t.Errorf("events%s: %d, want 400", q, st)
		}
	}

	// Notifications: the in-scope member has one; the others none.
	for name, c := range map[string]struct {
		a    *account
		want int
	}{"in scope": {inScope, 1}, "out of scope": {outOfScope, 0}, "expired": {expired, 0}} {
		ns, err := ev.client(c.a.dev.token).Notifications(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, x := range ns {
			if x.Kind == api.NoticeCameraEvent {
				n++
				if x.ObjectID != evID || x.CameraID != cam {
					t.Errorf("%s member's notice = %+v", name, x)
				}
			}
		}
		if n != c.want {
			t.Errorf("%s member has %d camera_event notices, want %d", name, n, c.want)
		}
	}

	// The owner has exactly one camera_event: the segment and thumbnail
	// gave none, and neither does a retry of the event's upload.
	res, err := hub.c.PutObject(ctx, evID, apiclient.ObjectMeta{Camera: cam, Epoch: ep, Kind: api.ObjectEvent, Time: start}, evBody)
	if err != nil || !res.Existed {
		t.Fatalf("retry of the event upload = %+v, %v", res, err)
	}
	ns, err := o.c.Notifications(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	count := func(ns []api.Notification) (n int) {
		for _, x := range ns {
			if x.Kind == api.NoticeCameraEvent {
				n++
			}
		}
		return n
	}
	if count(ns) != 1 {
		t.Errorf("owner has %d camera_event notices, want 1", count(ns))
	}
}

// TestEventUploadHeaders: events and thumbnails are uploaded like
// segments, without refs.
func TestEventUploadHeaders(t *testing.T) {
	e := start(t)
	o := signup(t, e)
	hub := claimHub(t, e, o)
	cam := hub.camera()
	ep, _ := hub.epoch(cam)
	for _, kind := range []string{api.ObjectEvent, api.ObjectThumb} {
		_, err := hub.c.PutObject(t.Context(), seal.NewID(), apiclient.ObjectMeta{Camera: cam, Epoch: ep, Kind: kind, Time: time.Now(), Refs: []string{seal.NewID()}}, ageBody(t))
		wantStatus(t, err, http.StatusBadRequest, kind+" with refs")
		res, err := hub.c.PutObject(t.Context(), seal.NewID(), apiclient.ObjectMeta{Camera: cam, Epoch: ep, Kind: kind, Time: time.Now()}, ageBody(t))
		if err != nil || res.Existed {
			t.Errorf("put %s = %+v, %v", kind, res, err)
		}
	}
	_, err := hub.c.PutObject(t.Context(), seal.NewID(), apiclient.ObjectMeta{Camera: cam, Epoch: ep, Kind: "snapshot", Time: time.Now()}, ageBody(t))
	wantStatus(t, err, http.StatusBadRequest, "unknown kind")
}
