package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/httpapi"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// livePath is a live view id no one asked for (the authorization matrix).
func (w *world) livePath(a actor, own bool) string { return seal.NewID() }

// deviceSession makes a session of an account actor signed in with the
// device id dev, and returns its token and id.
func (w *world) deviceSession(a actor, dev string) (token, id string) {
	now := w.e.clock.Now()
	tok, hash := auth.NewSessionToken()
	id = seal.NewID()
	if err := w.e.st.CreateSession(context.Background(), store.Session{ID: id, TokenHash: hash, AccountID: w.accounts[a],
		DeviceName: "viewer", DeviceID: dev, Client: "test", AddrPrefix: "127.0.0.0/24", Created: now, LastUsed: now, AuthAt: now,
		Expires: now.Add(time.Hour)}); err != nil {
		w.e.t.Fatal(err)
	}
	return tok, id
}

// newDeviceID returns a fresh device key id.
func newDeviceID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return seal.KeyID(b)
}

// liveView is a viewer's open live view with the hub connected.
type liveView struct {
	t       *testing.T
	ls      *api.LiveSession
	viewer  *websocket.Conn
	hub     *websocket.Conn
	session string // the viewer's session id
}

// readStatus reads one message of the viewer and requires it to be a
// status message with state.
func readStatus(t *testing.T, c *websocket.Conn, state string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read status %q: %v", state, err)
	}
	var st api.LiveStatus
	if typ != websocket.MessageText || json.Unmarshal(b, &st) != nil || st.Type != api.LiveStatusType || st.State != state {
		t.Fatalf("viewer got %v %q, want status %q", typ, b, state)
	}
}

// openLive starts a live view of household A's camera 1 by owner A's
// device session and connects hub A to it.
func openLive(t *testing.T, w *world) *liveView {
	t.Helper()
	return openLiveAs(t, w, ownerA)
}

// openLiveAs is openLive by the account actor a.
func openLiveAs(t *testing.T, w *world, a actor) *liveView {
	t.Helper()
	ctx := t.Context()
	dev := newDeviceID()
	tok, sid := w.deviceSession(a, dev)
	c := w.e.client(tok)
	ls, err := c.StartLive(ctx, w.cam1["A"], dev)
	if err != nil {
		t.Fatalf("start live: %v", err)
	}
	if ls.URL != "/v1/live/"+ls.ID || ls.Camera != w.cam1["A"] || !ls.ExpiresAt.After(w.e.clock.Now()) {
		t.Errorf("live session %+v", ls)
	}
	viewer, err := c.DialLive(ctx, ls.ID)
	if err != nil {
		t.Fatalf("dial live: %v", err)
	}
	t.Cleanup(func() { viewer.CloseNow() })
	readStatus(t, viewer, api.LiveWaitingForHub)

	hc := w.e.client(w.hubs[hubA])
	reqs, err := hc.HubLiveRequests(ctx, 5*time.Second)
	if err != nil {
		t.Fatalf("hub live requests: %v", err)
	}
	want := []api.LiveRequest{{ID: ls.ID, Camera: w.cam1["A"], Device: dev}}
	if len(reqs) != 1 || reqs[0].ID != want[0].ID || reqs[0].Camera != want[0].Camera || reqs[0].Device != dev || reqs[0].Created.IsZero() {
		t.Fatalf("hub A's requests %+v, want %+v", reqs, want)
	}
	// Another household's hub neither sees nor serves it.
	hb := w.e.client(w.hubs[hubB])
	if other, err := hb.HubLiveRequests(ctx, 0); err != nil || len(other) != 0 {
		t.Errorf("hub B's requests: %+v, %v; want none", other, err)
	}
	if _, err := hb.DialHubLive(ctx, ls.ID); !apiclient.IsStatus(err, http.StatusNotFound) {
		t.Errorf("hub B dialling A's live view: %v, want 404", err)
	}
	hub, err := hc.DialHubLive(ctx, ls.ID)
	if err != nil {
		t.Fatalf("hub dial: %v", err)
	}
	t.Cleanup(func() { hub.CloseNow() })
	readStatus(t, viewer, api.LiveStateLive)
	// The request is served: no longer listed, and a second socket is refused.
	if again, err := hc.HubLiveRequests(ctx, 0); err != nil || len(again) != 0 {
		t.Errorf("hub A's requests once served: %+v, %v", again, err)
	}
	if _, err := hc.DialHubLive(ctx, ls.ID); !apiclient.IsStatus(err, http.StatusConflict) {
		t.Errorf("second hub socket: %v, want 409", err)
	}
	return &liveView{t: t, ls: ls, viewer: viewer, hub: hub, session: sid}
}

// closedWith waits for c's close and returns its code, reason and how
// long it took.
func closedWith(t *testing.T, c *websocket.Conn, within time.Duration) (websocket.StatusCode, string, time.Duration) {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), within+5*time.Second)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err != nil {
			code, reason := apiclient.LiveClose(err)
			return code, reason, time.Since(start)
		}
	}
}

// TestLiveRelay: the hub's messages reach the viewer unchanged and in
// order, text as text and binary as binary; the relay counts their bytes
// and logs none of them; the viewer leaving closes the hub's socket.
func TestLiveRelay(t *testing.T) {
	e := startAccounts(t)
	w := newWorld(e)
	lv := openLive(t, w)
	ctx := t.Context()

	type msg struct {
		typ  websocket.MessageType
		data []byte
	}
	marker := "LIVE-PAYLOAD-" + randomHex(8)
	sent := []msg{{websocket.MessageText, []byte(`{"type":"hello","signed":"` + marker + `"}`)}}
	var total int64 = int64(len(sent[0].data))
	for i := range 200 {
		n := 1 + (i*7919)%65536
		if i == 100 {
			n = 3 << 20 // a whole group of pictures
		}
		b := make([]byte, n)
		_, _ = rand.Read(b)
		copy(b, marker)
		sent = append(sent, msg{websocket.MessageBinary, b})
		total += int64(n)
	}
	go func() {
		for _, m := range sent {
			if err := lv.hub.Write(ctx, m.typ, m.data); err != nil {
				t.Errorf("hub write: %v", err)
				return
			}
		}
	}()
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for i, m := range sent {
		typ, b, err := lv.viewer.Read(rctx)
		if err != nil {
			t.Fatalf("viewer read %d: %v", i, err)
		}
		if typ != m.typ || !bytes.Equal(b, m.data) {
			t.Fatalf("message %d: got %v of %d bytes, want %v of %d bytes, unchanged", i, typ, len(b), m.typ, len(m.data))
		}
	}
	waitFor(t, 5*time.Second, func() bool { return e.srv.LiveBytes() == total }, func() string {
		return fmt.Sprintf("LiveBytes %d, want %d", e.srv.LiveBytes(), total)
	})

	// The viewer leaves: the hub's socket is closed.
	if err := lv.viewer.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Errorf("viewer close: %v", err)
	}
	code, _, took := closedWith(t, lv.hub, 2*time.Second)
	if code != websocket.StatusNormalClosure || took > 2*time.Second {
		t.Errorf("hub socket after the viewer left: code %d after %v, want a normal close within 2 s", code, took)
	}
	waitFor(t, 5*time.Second, func() bool { return strings.Contains(e.logs.String(), "live view ended") }, func() string {
		return "no \"live view ended\" log line"
	})
	if strings.Contains(e.logs.String(), marker) {
		t.Error("the log shows relayed content")
	}
	// The view is gone.
	if _, err := e.client(w.hubs[hubA]).DialHubLive(ctx, lv.ls.ID); !apiclient.IsStatus(err, http.StatusNotFound) {
		t.Errorf("hub dialling an ended view: %v, want 404", err)
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLiveHubCloses: the hub closing closes the viewer with 4003 and the
// hub's reason.
func TestLiveHubCloses(t *testing.T) {
	w := newWorld(startAccounts(t))
	lv := openLive(t, w)
	if err := lv.hub.Close(websocket.StatusNormalClosure, "camera stopped"); err != nil {
		t.Errorf("hub close: %v", err)
	}
	code, reason, _ := closedWith(t, lv.viewer, 2*time.Second)
	if code != api.LiveClosedCameraOffline || reason != "camera_offline: camera stopped" {
		t.Errorf("viewer closed %d %q, want 4003 \"camera_offline: camera stopped\"", code, reason)
	}
}

// TestLiveSessionEnds: a viewer socket closes with 4001 within a second
// of its session ending, whether this replica ended it (EndSessions) or
// another one did (only the store knows); the hub's socket closes too.
func TestLiveSessionEnds(t *testing.T) {
	for _, here := range []bool{true, false} {
		t.Run(fmt.Sprintf("this replica=%v", here), func(t *testing.T) {
			e := startAccounts(t)
			w := newWorld(e)
			lv := openLive(t, w)
			if err := e.st.DeleteSession(context.Background(), lv.session); err != nil {
				t.Fatal(err)
			}
			if here {
				e.srv.EndSessions([]string{lv.session})
			}
			code, reason, took := closedWith(t, lv.viewer, time.Second)
			if code != api.LiveClosedSessionEnded || reason != api.LiveReasonSessionEnded || took > time.Second {
				t.Errorf("viewer closed %d %q after %v, want 4001 session_ended within 1 s", code, reason, took)
			}
			if code, _, _ := closedWith(t, lv.hub, 2*time.Second); code != websocket.StatusNormalClosure {
				t.Errorf("hub socket closed with %d, want a normal close", code)
			}
		})
	}
}

// TestLiveMemberRevoked: a member's view ends within a second of the
// camera leaving the membership's scope.
func TestLiveMemberRevoked(t *testing.T) {
	e := startAccounts(t)
	w := newWorld(e)
	lv := openLiveAs(t, w, memberA)
	if err := e.st.PutMembership(context.Background(), store.Membership{HouseholdID: w.householdOf(ownerA), AccountID: w.accounts[memberA],
		Cameras: []string{w.cam2["A"]}, Created: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	code, reason, took := closedWith(t, lv.viewer, time.Second)
	if code != websocket.StatusPolicyViolation || reason != "access_revoked" || took > time.Second {
		t.Errorf("member's viewer closed %d %q after %v, want 1008 access_revoked within 1 s", code, reason, took)
	}
}

// TestLiveTooSlow: a viewer that stops reading is dropped within a few
// seconds, and the hub is told why; the hub is never held up by it.
func TestLiveTooSlow(t *testing.T) {
	w := newWorld(startAccounts(t))
	lv := openLive(t, w)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		msg := make([]byte, 1<<20)
		for ctx.Err() == nil {
			if err := lv.hub.Write(ctx, websocket.MessageBinary, msg); err != nil {
				return
			}
		}
	}()
	// The viewer reads nothing; the hub only waits for its close.
	code, reason, took := closedWith(t, lv.hub, 10*time.Second)
	if code != websocket.StatusNormalClosure || reason != api.LiveReasonTooSlow || took > 10*time.Second {
		t.Errorf("hub socket closed %d %q after %v, want %q within 10 s", code, reason, took, api.LiveReasonTooSlow)
	}
}

// TestLiveNoHub: a viewer whose hub never connects is closed with 4002;
// a request whose viewer never connects leaves the hub's list.
func TestLiveNoHub(t *testing.T) {
	httpapi.SetLiveTTL(t, 500*time.Millisecond)
	e := startAccounts(t)
	w := newWorld(e)
	ctx := t.Context()
	dev := newDeviceID()
	tok, _ := w.deviceSession(ownerA, dev)
	c := e.client(tok)
	ls, err := c.StartLive(ctx, w.cam1["A"], dev)
	if err != nil {
		t.Fatal(err)
	}
	viewer, err := c.DialLive(ctx, ls.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.CloseNow()
	readStatus(t, viewer, api.LiveWaitingForHub)
	code, reason, took := closedWith(t, viewer, 2*time.Second)
	if code != api.LiveClosedHubUnreachable || reason != api.LiveReasonHubUnreachable || took > 2*time.Second {
		t.Errorf("viewer closed %d %q after %v, want 4002 hub_unreachable after about 0.5 s", code, reason, took)
	}

	// Never opened by the viewer: gone from the hub's list after the TTL.
	ls2, err := c.StartLive(ctx, w.cam1["A"], dev)
	if err != nil {
		t.Fatal(err)
	}
	hc := e.client(w.hubs[hubA])
	if reqs, err := hc.HubLiveRequests(ctx, 0); err != nil || len(reqs) != 1 || reqs[0].ID != ls2.ID {
		t.Fatalf("requests: %+v, %v", reqs, err)
	}
	waitFor(t, 3*time.Second, func() bool {
		reqs, err := hc.HubLiveRequests(ctx, 0)
		return err == nil && len(reqs) == 0
	}, func() string { return "an unclaimed request is still listed after its TTL" })
	if _, err := c.DialLive(ctx, ls2.ID); !apiclient.IsStatus(err, http.StatusNotFound) {
		t.Errorf("opening an expired view: %v, want 404", err)
	}
}

// TestLiveLongPoll: a waiting hub is answered as soon as a viewer asks.
func TestLiveLongPoll(t *testing.T) {
	e := startAccounts(t)
	w := newWorld(e)
	ctx := t.Context()
	type answer struct {
		reqs []api.LiveRequest
		err  error
		at   time.Time
	}
	got := make(chan answer, 1)
	go func() {
		reqs, err := e.client(w.hubs[hubA]).HubLiveRequests(ctx, 20*time.Second)
		got <- answer{reqs, err, time.Now()}
	}()
	time.Sleep(200 * time.Millisecond) // let the poll start waiting (it answers correctly either way)
	dev := newDeviceID()
	tok, _ := w.deviceSession(ownerA, dev)
	asked := time.Now()
	ls, err := e.client(tok).StartLive(ctx, w.cam1["A"], dev)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-got:
		if a.err != nil || len(a.reqs) != 1 || a.reqs[0].ID != ls.ID {
			t.Fatalf("long poll: %+v, %v", a.reqs, a.err)
		}
		if d := a.at.Sub(asked); d > time.Second {
			t.Errorf("long poll answered %v after the request", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the long poll was not woken by the request")
	}
	if _, err := e.client(w.hubs[hubA]).HubLiveRequests(ctx, -time.Second); err != nil {
		t.Errorf("no wait: %v", err)
	}
}

// TestLiveAccess: who may start and open a live view.
func TestLiveAccess(t *testing.T) {
	e := startAccounts(t)
	w := newWorld(e)
	ctx := t.Context()
	start := func(a actor, camera string, sessionDev, askDev string) error {
		tok, _ := w.deviceSession(a, sessionDev)
		_, err := e.client(tok).StartLive(ctx, camera, askDev)
		return err
	}
	dev := newDeviceID()
	cases := []struct {
		name   string
		a      actor
		camera string
		sdev   string
		dev    string
		status int
		code   string
	}{
		{"owner", ownerA, w.cam1["A"], dev, dev, 0, ""},
		{"owner, other device", ownerA, w.cam1["A"], dev, newDeviceID(), 403, api.CodeWrongDevice},
		{"owner, session without device", ownerA, w.cam1["A"], "", dev, 403, api.CodeWrongDevice},
		{"other household's owner", ownerB, w.cam1["A"], dev, dev, 404, "not_found"},
		{"member, shared camera", memberA, w.cam1["A"], dev, dev, 0, ""},
		{"member, camera not shared", memberA, w.cam2["A"], dev, dev, 403, "forbidden"},
		{"member, other household", memberA, w.cam1["B"], dev, dev, 404, "not_found"},
		{"support", support, w.cam1["A"], dev, dev, 403, "forbidden"},
		{"annotator", annotator, w.cam1["A"], dev, dev, 403, "forbidden"},
		{"operator", operator, w.cam1["A"], dev, dev, 403, "forbidden"},
	}
	for _, c := range cases {
		denials := strings.Count(e.logs.String(), "access denied")
		err := start(c.a, c.camera, c.sdev, c.dev)
		var ae *apiclient.Error
		switch {
		case c.status == 0 && err != nil:
			t.Errorf("%s: %v, want 201", c.name, err)
		case c.status != 0 && (!errors.As(err, &ae) || ae.Status != c.status || ae.Code != c.code):
			t.Errorf("%s: %v, want %d %s", c.name, err, c.status, c.code)
		}
		if c.a.staff() && strings.Count(e.logs.String(), "access denied") <= denials {
			t.Errorf("%s: the denial was not logged", c.name)
		}
	}

	// Only the session that asked opens the view.
	tok, _ := w.deviceSession(ownerA, dev)
	ls, err := e.client(tok).StartLive(ctx, w.cam1["A"], dev)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := w.deviceSession(ownerA, dev)
	otherB, _ := w.deviceSession(ownerB, dev)
	for name, tk := range map[string]string{"another session": other, "another account": otherB} {
		if _, err := e.client(tk).DialLive(ctx, ls.ID); !apiclient.IsStatus(err, http.StatusNotFound) {
			t.Errorf("%s opening the view: %v, want 404", name, err)
		}
	}
	// Not a WebSocket: an API error, not a half-open view.
	if st, code := e.status(call{token: tok}, "GET", ls.URL, nil); st != http.StatusUpgradeRequired || code != "invalid" {
		t.Errorf("plain GET of the view: %d %s, want 426", st, code)
	}
	// The browser's cookie needs the service's own Origin.
	hdr := http.Header{"Cookie": {api.SessionCookie + "=" + tok}, "Origin": {"https://evil.example"}}
	_, resp, err := websocket.Dial(ctx, e.url+ls.URL, &websocket.DialOptions{HTTPHeader: hdr})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cookie dial from another origin: %v, want 403", err)
	}
	hdr.Set("Origin", e.url)
	vc, _, err := websocket.Dial(ctx, e.url+ls.URL, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		t.Fatalf("cookie dial from the service's origin: %v", err)
	}
	vc.CloseNow()

	// At most 8 live views per account.
	tok2, _ := w.deviceSession(ownerB, dev)
	for i := range 9 {
		_, err := e.client(tok2).StartLive(ctx, w.cam1["B"], dev)
		switch {
		case i < 8 && err != nil:
			t.Fatalf("live view %d: %v", i+1, err)
		case i == 8 && !apiclient.IsStatus(err, http.StatusTooManyRequests):
			t.Errorf("ninth live view: %v, want 429", err)
		}
	}
}
