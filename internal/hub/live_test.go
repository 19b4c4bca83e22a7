package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/segment"
	"github.com/porchlight/porchlight/internal/testutil"
)

// liveFake is the in-memory service plus the live routes, which a real
// apiclient.Client reaches on a loopback fakeLive server.
type liveFake struct {
	*fakeService
	c *apiclient.Client
}

func (l liveFake) HubLiveRequests(ctx context.Context, wait time.Duration) ([]api.LiveRequest, error) {
	return l.c.HubLiveRequests(ctx, wait)
}

func (l liveFake) DialHubLive(ctx context.Context, id string) (*websocket.Conn, error) {
	return l.c.DialHubLive(ctx, id)
}

// wsMsg is one message the hub sent on a live socket.
type wsMsg struct {
	typ  websocket.MessageType
	data []byte
}

// fakeLive is porchlightd's side of the hub's live routes: a long poll
// listing the requests the hub has not connected for, and the hub's
// WebSocket, whose messages go to the request's channel (or, for a stalled
// viewer, are never read).
type fakeLive struct {
	srv *httptest.Server

	mu        sync.Mutex
	pending   []api.LiveRequest
	connected map[string]bool
	msgs      map[string]chan wsMsg
	closed    map[string]string // id → the hub's close reason
	stalled   map[string]bool
	leave     map[string]chan struct{} // close: the viewer leaves
	wake      chan struct{}
}

func newFakeLive(t *testing.T) *fakeLive {
	f := &fakeLive{connected: map[string]bool{}, msgs: map[string]chan wsMsg{}, closed: map[string]string{},
		stalled: map[string]bool{}, leave: map[string]chan struct{}{}, wake: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/hub/live", f.poll)
	mux.HandleFunc("GET /v1/hub/live/{id}", f.socket)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.mu.Lock()
		for _, c := range f.leave {
			select {
			case <-c:
			default:
				close(c)
			}
		}
		f.mu.Unlock()
		f.srv.Close()
	})
	return f
}

func (f *fakeLive) add(rq api.LiveRequest, stalled bool) {
	f.mu.Lock()
	f.pending = append(f.pending, rq)
	f.msgs[rq.ID] = make(chan wsMsg, 10000)
	f.leave[rq.ID] = make(chan struct{})
	f.stalled[rq.ID] = stalled
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fakeLive) poll(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer plh_test" {
		http.Error(w, `{"code":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
	deadline := time.After(min(wait, 500*time.Millisecond))
	for {
		f.mu.Lock()
		reqs := append([]api.LiveRequest{}, f.pending...)
		f.mu.Unlock()
		if len(reqs) > 0 {
			json.NewEncoder(w).Encode(api.LiveRequests{Requests: reqs})
			return
		}
		select {
		case <-f.wake:
		case <-deadline:
			json.NewEncoder(w).Encode(api.LiveRequests{Requests: []api.LiveRequest{}})
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (f *fakeLive) socket(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f.mu.Lock()
	ch, leave, stalled := f.msgs[id], f.leave[id], f.stalled[id]
	for i, rq := range f.pending {
		if rq.ID == id {
			f.pending = append(f.pending[:i], f.pending[i+1:]...)
			break
		}
	}
	f.connected[id] = true
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer plh_test" || ch == nil {
		http.Error(w, `{"code":"not_found"}`, http.StatusNotFound)
		return
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	conn.SetReadLimit(seal.MaxLiveMessage)
	if stalled {
		<-leave // never read: the hub's writes back up
		return
	}
	go func() {
		<-leave
		conn.Close(websocket.StatusNormalClosure, "viewer left")
	}()
	for {
		typ, b, err := conn.Read(context.Background())
		if err != nil {
			var ce websocket.CloseError
			if asCloseError(err, &ce) {
				f.mu.Lock()
				f.closed[id] = ce.Reason
				f.mu.Unlock()
			}
			close(ch)
			return
		}
		ch <- wsMsg{typ, b}
	}
}

func asCloseError(err error, ce *websocket.CloseError) bool {
	code := websocket.CloseStatus(err)
	if code == -1 {
		return false
	}
	_, ce.Reason = apiclient.LiveClose(err)
	ce.Code = code
	return true
}

func (f *fakeLive) wasConnected(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connected[id]
}

// viewer opens a live stream as dev would: verify the hello, then decrypt
// messages in order until n frames' worth of media arrived. It returns the
// init followed by the media (an fMP4 file) and the capture times.
func viewLive(t *testing.T, msgs <-chan wsMsg, hub ed25519PublicKey, dev *keys.Pair, want keys.LiveWant, fragments int) (mp4 []byte, mime string, captured []time.Time) {
	t.Helper()
	next := func() wsMsg {
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatal("the live socket closed early")
			}
			return m
		case <-time.After(15 * time.Second):
			t.Fatal("no live message within 15 s")
		}
		return wsMsg{}
	}
	hello := next()
	if hello.typ != websocket.MessageText {
		t.Fatal("the first live message is not text")
	}
	rc, h, err := keys.OpenLiveHello(hello.data, seal.OnlySigner(hub), dev, want)
	if err != nil {
		t.Fatalf("hello: %v", err)
	}
	var out bytes.Buffer
	for i := 0; i <= fragments; i++ {
		m := next()
		if m.typ != websocket.MessageBinary {
			t.Fatalf("message %d is not binary", i)
		}
		seq, pt, err := rc.Open(m.data)
		if err != nil || seq != uint64(i) {
			t.Fatalf("message %d: seq %d, %v", i, seq, err)
		}
		if i == 0 {
			out.Write(pt)
			continue
		}
		at, media, err := seal.ParseLiveFragment(pt)
		if err != nil {
			t.Fatal(err)
		}
		captured = append(captured, at)
		out.Write(media)
	}
	return out.Bytes(), h.MIME, captured
}

type ed25519PublicKey = []byte

// decodeFrames decodes an fMP4 stream with ffmpeg and returns the frames
// decoded, failing on any decoder complaint.
func decodeFrames(t *testing.T, data []byte) int {
	t.Helper()
	path := filepath.Join(t.TempDir(), "live.mp4")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("ffprobe: %q", out)
	}
	return n
}

// TestLiveCamsim runs a real camera through the hub to a live viewer: the
// owner's device gets a stream it can verify, decrypt and decode; a device
// without the camera in scope gets no connection; a viewer that stops
// reading stalls neither the other viewer nor recording.
func TestLiveCamsim(t *testing.T) {
	cam := startCamsim(t)
	r := newRig(t)
	member, err := keys.Generate("member phone")
	if err != nil {
		t.Fatal(err)
	}
	r.hh.append(t, func(ro *seal.Roster) {
		e := entry(member, seal.KindDevice, seal.RoleMember)
		e.Cameras = []string{seal.NewID()} // another camera only
		ro.Entries = append(ro.Entries, e)
	})
	fl := newFakeLive(t)
	m := r.main()
	m.Now = time.Now
	m.runSource = nil
	m.MinSegment, m.MaxSegment = time.Second, 3*time.Second
	m.Cameras = []Camera{{Name: "sim", URL: cam.URL(), Transport: "tcp"}}
	m.service = liveFake{r.svc, apiclient.New(fl.srv.URL, "plh_test")}
	m.RosterInterval = time.Second
	h := r.start(m)
	camID := h.CameraID("sim")
	r.waitFor("a first segment", func() bool { s, _ := r.counts(); return s >= 1 })

	stalled := api.LiveRequest{ID: seal.NewID(), Camera: camID, Device: r.hh.owner.ID, Created: time.Now()}
	fl.add(stalled, true)
	refused := api.LiveRequest{ID: seal.NewID(), Camera: camID, Device: member.ID, Created: time.Now()}
	fl.add(refused, false)
	view := api.LiveRequest{ID: seal.NewID(), Camera: camID, Device: r.hh.owner.ID, Created: time.Now()}
	fl.add(view, false)

	want := keys.LiveWant{Household: r.hh.id, Camera: camID, Session: view.ID, Device: r.hh.owner.ID}
	r.svc.mu.Lock()
	hubPub := r.svc.hubSign
	r.svc.mu.Unlock()
	const fragments = 60
	data, mime, captured := viewLive(t, fl.msgs[view.ID], hubPub, r.hh.owner, want, fragments)
	if !strings.HasPrefix(mime, `video/mp4; codecs="avc1.`) {
		t.Fatalf("mime %q", mime)
	}
	if n := decodeFrames(t, data); n < fragments {
		t.Fatalf("decoded %d frames from %d fragments", n, fragments)
	}
	if last := captured[len(captured)-1]; time.Since(last) > 5*time.Second || last.Before(captured[0]) {
		t.Fatalf("capture times %v … %v (now %v)", captured[0], last, time.Now())
	}
	// Recording went on while the stalled viewer read nothing.
	if !fl.wasConnected(stalled.ID) {
		t.Fatal("the stalled viewer was never connected")
	}
	s0, _ := r.counts()
	r.waitFor("recording to go on", func() bool { s, _ := r.counts(); return s >= s0+2 })

	// The member device without this camera in scope got no socket.
	r.waitFor("the refusal in the log", func() bool { return strings.Contains(r.logs.String(), "live view refused") })
	if fl.wasConnected(refused.ID) {
		t.Fatal("the hub connected a live view for a device without the camera in scope")
	}

	// A member device the owner shares the camera with watches; when the
	// owner narrows its scope, the hub ends the view within seconds.
	sharedMember, err := keys.Generate("member tablet")
	if err != nil {
		t.Fatal(err)
	}
	r.svc.mu.Lock()
	r.hh.append(t, func(ro *seal.Roster) {
		e := entry(sharedMember, seal.KindDevice, seal.RoleMember)
		e.Cameras = []string{camID}
		ro.Entries = append(ro.Entries, e)
	})
	r.svc.mu.Unlock()
	r.waitFor("the roster with the member", func() bool { return h.currentRoster().Entry(sharedMember.ID) != nil })
	shared := api.LiveRequest{ID: seal.NewID(), Camera: camID, Device: sharedMember.ID, Created: time.Now()}
	fl.add(shared, false)
	viewLive(t, fl.msgs[shared.ID], hubPub, sharedMember, keys.LiveWant{Household: r.hh.id, Camera: camID, Session: shared.ID, Device: sharedMember.ID}, 5)
	r.svc.mu.Lock()
	r.hh.append(t, func(ro *seal.Roster) {
		for i := range ro.Entries {
			if ro.Entries[i].ID == sharedMember.ID {
				ro.Entries[i].Cameras = []string{seal.NewID()}
			}
		}
	})
	r.svc.mu.Unlock()
	deadline := time.After(15 * time.Second)
	for ended := false; !ended; {
		select {
		case _, ok := <-fl.msgs[shared.ID]:
			ended = !ok
		case <-deadline:
			t.Fatal("the hub kept streaming to a device whose scope no longer has the camera")
		}
	}
	fl.mu.Lock()
	reason := fl.closed[shared.ID]
	fl.mu.Unlock()
	if reason != liveReasonRevoked {
		t.Fatalf("closed with %q", reason)
	}

	// The viewer leaves: the hub's side ends.
	fl.mu.Lock()
	close(fl.leave[view.ID])
	fl.mu.Unlock()
	r.waitFor("the viewer's end", func() bool { return strings.Contains(r.logs.String(), "live view ended: the viewer left") })
}

// TestLiveSlowViewer feeds a camera's live stream to a viewer that never
// drains its queue: the camera's goroutine never waits, the viewer skips
// to a keyframe, and resumes there once it reads again.
func TestLiveSlowViewer(t *testing.T) {
	aus := encodeH264(t, 400, 25)
	c := &liveCam{viewers: map[*liveViewer]struct{}{}, log: discardLog(), sum: summary{log: discardLog(), every: time.Minute}}
	anchor := time.Now()
	feed := func(from, to int) {
		for i := from; i < to; i++ {
			start := time.Now()
			c.accessUnit(segment.H264, nil, anchor, time.Duration(i)*40*time.Millisecond, aus[i])
			if d := time.Since(start); d > 200*time.Millisecond {
				t.Fatalf("access unit %d took %v with a stalled viewer", i, d)
			}
		}
	}
	feed(0, 10)
	v, first := c.join()
	if first == nil || first.init == nil || !strings.Contains(first.mime, "avc1.") {
		t.Fatal("no GOP to start a viewer with")
	}
	feed(10, 10+liveQueue+60)
	if len(v.q) != liveQueue || !v.skipping || v.dropped != 1 {
		t.Fatalf("queue %d, skipping %v, dropped %d", len(v.q), v.skipping, v.dropped)
	}
	for len(v.q) > 0 {
		<-v.q
	}
	// Frames 10+liveQueue+60 … are not at a keyframe until the next
	// multiple of 25: nothing is queued before it.
	next := 10 + liveQueue + 60
	idr := (next + 24) / 25 * 25
	feed(next, idr)
	if len(v.q) != 0 {
		t.Fatalf("%d frames queued before the keyframe", len(v.q))
	}
	feed(idr, idr+3)
	if len(v.q) != 3 || v.skipping {
		t.Fatalf("queue %d after the keyframe, skipping %v", len(v.q), v.skipping)
	}
	// The camera drops: the viewer ends with the reason.
	c.offline(liveReasonOffline)
	select {
	case <-v.done:
		if v.reason != liveReasonOffline {
			t.Fatalf("reason %q", v.reason)
		}
	default:
		t.Fatal("viewer not ended when the camera dropped")
	}
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// encodeH264 makes a 25 fps H.264 test stream with an IDR every gop frames
// and returns its access units.
func encodeH264(t *testing.T, frames, gop int) [][][]byte {
	t.Helper()
	testutil.RequireFFmpeg(t)
	out := filepath.Join(t.TempDir(), "in.h264")
	g := strconv.Itoa(gop)
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25",
		"-frames:v", strconv.Itoa(frames), "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast",
		"-g", g, "-keyint_min", g, "-sc_threshold", "0", "-bf", "0", "-f", "h264", "-y", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := &segment.AccessUnitReader{R: f, Codec: segment.H264}
	var aus [][][]byte
	for {
		au, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		aus = append(aus, au)
	}
	if len(aus) != frames {
		t.Fatalf("%d access units, want %d", len(aus), frames)
	}
	return aus
}

// TestLiveHubServer is live view through the real porchlightd relay: the
// owner's device asks for a live view with the session it signed in with,
// the hub (real client, real camera) answers the request, and the device
// verifies, decrypts and decodes what the service relayed.
func TestLiveHubServer(t *testing.T) {
	if testing.Short() {
		t.Skip("streams for a few seconds")
	}
	cam := startCamsim(t)
	_, addr := startServer(t, "127.0.0.1:0", t.TempDir())
	url := "http://" + addr
	ctx := t.Context()
	dev, err := keys.Generate("laptop")
	if err != nil {
		t.Fatal(err)
	}
	c := apiclient.New(url, "")
	sess, err := c.Signup(ctx, api.SignupRequest{Email: "owner@example.com", Password: "pl-test-" + seal.NewID(), DeviceName: "laptop", DeviceID: dev.ID})
	if err != nil {
		t.Fatal(err)
	}
	c.Token = sess.Token
	o := &owner{c: c, dev: dev, hh: sess.HouseholdID}
	o.appendRoster(t, entry(dev, seal.KindDevice, seal.RoleOwner))
	logs, out := &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
	h, _ := o.claim(t, Main{
		Server: url, DataDir: t.TempDir(), Name: "live hub",
		Cameras:    []Camera{{Name: "porch", URL: cam.URL(), Transport: "tcp"}},
		MinSegment: time.Second, MaxSegment: 3 * time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, nil)), Out: out,
	}, out)
	camID := h.CameraID("porch")
	waitUntil(t, 20*time.Second, "the camera at the service", logs, func() bool { st := h.Stats(); return st.Uploaded >= 2 })

	ls, err := c.StartLive(ctx, camID, dev.ID)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := c.DialLive(ctx, ls.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	msgs := make(chan wsMsg, 1000)
	go func() {
		defer close(msgs)
		for {
			typ, b, err := conn.Read(ctx)
			if err != nil {
				return
			}
			if typ == websocket.MessageText && bytes.Contains(b, []byte(`"type":"status"`)) {
				continue // the service's own status messages
			}
			msgs <- wsMsg{typ, b}
		}
	}()
	data, _, captured := viewLive(t, msgs, o.hub, dev, keys.LiveWant{Household: o.hh, Camera: camID, Session: ls.ID, Device: dev.ID}, 30)
	// The last fragment is one access unit, sent as the hub received it.
	lag := time.Since(captured[len(captured)-1])
	t.Logf("hub receipt to viewer, through the relay: %v", lag)
	if lag > 2*time.Second {
		t.Fatalf("the last fragment arrived %v after the hub received it", lag)
	}
	if n := decodeFrames(t, data); n < 30 {
		t.Fatalf("decoded %d frames", n)
	}
	conn.Close(websocket.StatusNormalClosure, "")
	waitUntil(t, 10*time.Second, "the hub's side to end", logs, func() bool { return strings.Contains(logs.String(), "live view ended") })
}
