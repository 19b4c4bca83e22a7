package httpapi

// Live view relay. A viewer asks for a live view (POST
// /v1/cameras/{id}/live) and opens its WebSocket (GET /v1/live/{id}); the
// camera's hub learns of the request by long poll (GET /v1/hub/live) and
// opens its own WebSocket (GET /v1/hub/live/{id}); every message the hub
// writes goes to the viewer unchanged. The hub encrypts to the viewer's
// device, so the relay carries ciphertext only: it never looks into a
// message, logs one or keeps one, and counts bytes only.
//
// The relay lives in memory, per replica: viewer and hub must reach the
// same porchlightd (several replicas need a relay between them over the
// message bus, not built yet; docs/operations.md).
//
// Lifetimes. A request expires unless the viewer opens its socket within
// liveTTL; from then on the hub has liveTTL to connect, else the viewer is
// closed with 4002. A viewer socket lives as long as its session: it is in
// the event-stream registry (events.go), so EndSessions closes it at once
// with 4001, and it re-reads its session from the store every streamCheck
// for the sessions other replicas end. The hub closing closes the viewer
// with 4003; the viewer leaving closes the hub's socket; a viewer more than
// liveBehind behind is closed with 4004 (one that takes no data at all for
// liveBehind is dropped without a close frame: none can reach it).
//
// Locking: liveRelay.mu guards views, news and each view's deadline,
// viewerOn and hubOn. A view's msgs, done and channels are set up at
// creation; why is written once, under once, before done is closed.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// Live view limits.
const (
	// maxLivePerAccount bounds the live views an account has open (or
	// asked for) on this replica.
	maxLivePerAccount = 8
	// liveBehind is how far a viewer may fall behind the hub before it is
	// closed with 4004 too_slow.
	liveBehind = 2 * time.Second
	// liveQueue and liveQueueBytes bound the messages waiting for a
	// viewer; a full queue means the viewer is too slow.
	liveQueue      = 512
	liveQueueBytes = 64 << 20
	// maxLiveMessage bounds one message from a hub.
	maxLiveMessage = seal.MaxLiveMessage
	// maxLiveWait bounds one hub long poll.
	maxLiveWait = 30 * time.Second
	// maxCloseReason is the longest close reason a WebSocket carries.
	maxCloseReason = 123
)

// defaultLiveTTL is how long a request waits for its viewer's socket, and
// then the viewer for the hub.
const defaultLiveTTL = 10 * time.Second

// liveTTLOverride, if set (tests), replaces defaultLiveTTL.
var liveTTLOverride atomic.Int64

func liveTTL() time.Duration {
	if d := liveTTLOverride.Load(); d > 0 {
		return time.Duration(d)
	}
	return defaultLiveTTL
}

// liveRelay is the registry of this replica's live views.
type liveRelay struct {
	mu    sync.Mutex
	views map[string]*liveView
	news  chan struct{} // closed (and replaced) when a request is added
	bytes atomic.Int64  // bytes relayed to viewers, all views
}

// liveView is one live view, from the viewer's request to its end.
type liveView struct {
	id, camera, hub, household, account, session, device string
	created                                              time.Time // s.Now(), as the hub is told

	// Guarded by liveRelay.mu.
	deadline        time.Time // monotonic: the viewer, then the hub, must connect before it
	viewerOn, hubOn bool

	hubCh  chan struct{} // closed when the hub's socket is open
	msgs   chan liveMsg  // hub → viewer
	queued atomic.Int64  // bytes in msgs
	done   chan struct{} // closed when the view ends
	once   sync.Once
	why    liveEnd // why the view ended: the viewer's close code and reason
	bytes  atomic.Int64
	count  atomic.Int64
}

// liveMsg is one message of the hub, as received.
type liveMsg struct {
	typ  websocket.MessageType
	data []byte
	at   time.Time
}

// liveEnd is how a viewer socket is closed.
type liveEnd struct {
	code   websocket.StatusCode
	reason string
}

// end ends the view (the first call decides why).
func (v *liveView) end(code websocket.StatusCode, reason string) {
	v.once.Do(func() {
		v.why = liveEnd{code, reason}
		close(v.done)
	})
}

// ended reports whether the view has ended.
func (v *liveView) ended() bool {
	select {
	case <-v.done:
		return true
	default:
		return false
	}
}

// push queues a hub message for the viewer; false if the queue is full.
func (v *liveView) push(m liveMsg) bool {
	if v.queued.Add(int64(len(m.data))) > liveQueueBytes {
		v.queued.Add(-int64(len(m.data)))
		return false
	}
	select {
	case v.msgs <- m:
		return true
	default:
		v.queued.Add(-int64(len(m.data)))
		return false
	}
}

// add registers a new view unless the account has too many.
func (lr *liveRelay) add(v *liveView) error {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if lr.views == nil {
		lr.views = map[string]*liveView{}
	}
	n := 0
	for _, o := range lr.views {
		if o.account == v.account && !o.ended() {
			n++
		}
	}
	if n >= maxLivePerAccount {
		return &httpError{http.StatusTooManyRequests, "too_many_live_views",
			fmt.Sprintf("this account already has %d live views open: close one first", n), nil}
	}
	lr.views[v.id] = v
	if lr.news != nil {
		close(lr.news)
		lr.news = nil
	}
	return nil
}

// get returns a view that has not ended, or nil.
func (lr *liveRelay) get(id string) *liveView {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	v := lr.views[id]
	if v == nil || v.ended() {
		return nil
	}
	return v
}

// remove forgets a view.
func (lr *liveRelay) remove(v *liveView) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if lr.views[v.id] == v {
		delete(lr.views, v.id)
	}
}

// newsChan returns a channel closed when the next request is added.
func (lr *liveRelay) newsChan() <-chan struct{} {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if lr.news == nil {
		lr.news = make(chan struct{})
	}
	return lr.news
}

// pending lists the requests waiting for hub.
func (lr *liveRelay) pending(hub string) []api.LiveRequest {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	now := time.Now()
	out := []api.LiveRequest{}
	for _, v := range lr.views {
		if v.hub == hub && !v.hubOn && !v.ended() && now.Before(v.deadline) {
			out = append(out, api.LiveRequest{ID: v.id, Camera: v.camera, Device: v.device, Created: v.created})
		}
	}
	return out
}

// attachViewer marks the viewer's socket open and starts the hub's
// liveTTL.
func (lr *liveRelay) attachViewer(v *liveView) error {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	switch {
	case v.viewerOn:
		return errConflict("this live view is already open: start another with POST /v1/cameras/{id}/live")
	case v.ended() || !time.Now().Before(v.deadline):
		return errNotFound("no such live view: it ended or expired; start another with POST /v1/cameras/{id}/live")
	}
	v.viewerOn = true
	if !v.hubOn {
		v.deadline = time.Now().Add(liveTTL())
	}
	return nil
}

// attachHub marks the hub's socket open.
func (lr *liveRelay) attachHub(v *liveView) error {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	switch {
	case v.hubOn:
		return errConflict("this live request is already served by another connection of this hub")
	case v.ended() || !time.Now().Before(v.deadline):
		return errNotFound("no such live request: it ended or expired")
	}
	v.hubOn = true
	close(v.hubCh)
	return nil
}

// deadlineOf returns v's deadline.
func (lr *liveRelay) deadlineOf(v *liveView) time.Time {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return v.deadline
}

// expire ends v if its viewer never came.
func (lr *liveRelay) expire(v *liveView) {
	lr.mu.Lock()
	on := v.viewerOn
	lr.mu.Unlock()
	if !on {
		v.end(api.LiveClosedHubUnreachable, "viewer_never_connected")
		lr.remove(v)
	}
}

// LiveBytes returns the bytes this Server relayed to live viewers so far
// (ciphertext: the service never sees more).
func (s *Server) LiveBytes() int64 { return s.live.bytes.Load() }

// startLive is POST /v1/cameras/{id}/live: the owner, or a member with the
// camera in scope, asks for a live view to the device its session signed
// in with.
func (s *Server) startLive(w http.ResponseWriter, r *http.Request, c *caller) error {
	cam, err := s.viewCamera(r, c)
	if err != nil {
		return err
	}
	var in api.LiveStart
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	switch {
	case c.session.DeviceID == "":
		return &httpError{http.StatusForbidden, api.CodeWrongDevice,
			"this session signed in without a device: sign in again from a paired device, sending its device_id", nil}
	case in.DeviceID != c.session.DeviceID:
		return &httpError{http.StatusForbidden, api.CodeWrongDevice,
			"device_id must be the device this session signed in with: live video is encrypted to that device alone", nil}
	}
	now := s.Now().UTC()
	v := &liveView{
		id: seal.NewID(), camera: cam.ID, hub: cam.HubID, household: cam.HouseholdID, account: c.account,
		session: c.session.ID, device: c.session.DeviceID, created: now,
		deadline: time.Now().Add(liveTTL()),
		hubCh:    make(chan struct{}), msgs: make(chan liveMsg, liveQueue), done: make(chan struct{}),
	}
	if err := s.live.add(v); err != nil {
		return err
	}
	time.AfterFunc(liveTTL(), func() { s.live.expire(v) })
	addLog(r, "live", v.id)
	writeJSON(w, http.StatusCreated, api.LiveSession{ID: v.id, Camera: cam.ID, URL: "/v1/live/" + v.id, ExpiresAt: now.Add(liveTTL())})
	return nil
}

// isWebSocket reports whether r asks for a WebSocket upgrade.
func isWebSocket(r *http.Request) bool {
	has := func(h, token string) bool {
		for _, v := range r.Header.Values(h) {
			for _, t := range strings.Split(v, ",") {
				if strings.EqualFold(strings.TrimSpace(t), token) {
					return true
				}
			}
		}
		return false
	}
	return has("Connection", "upgrade") && has("Upgrade", "websocket")
}

var errNotWebSocket = &httpError{http.StatusUpgradeRequired, "invalid",
	"this is a WebSocket: connect with a WebSocket client (Upgrade: websocket)", nil}

// acceptOptions are both sockets' options. Origin is checked by
// authenticate for cookie callers (the only ones a browser's page can
// make), against PublicOrigin, which a proxy may put on another host than
// the request's; compression is off (ciphertext does not compress, and
// the relay forwards bytes as they come).
var acceptOptions = &websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: websocket.CompressionDisabled}

// viewLive is GET /v1/live/{id}: the viewer's WebSocket, for the account
// and session that asked for the view.
func (s *Server) viewLive(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	v := s.live.get(id)
	if v == nil || v.account != c.account || v.session != c.session.ID {
		return errNotFound("no such live view: start one with POST /v1/cameras/{id}/live, with the same session")
	}
	if !isWebSocket(r) {
		return errNotWebSocket
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	st := &stream{session: c.session.ID, account: c.account, cancel: cancel, wake: make(chan struct{}, 1)}
	s.streams.add(st)
	defer s.streams.remove(st)
	if alive, err := s.streamAlive(ctx, c); err != nil || !alive {
		if err != nil {
			return err
		}
		return errUnauthorized("session ended or unknown: sign in again")
	}
	if err := s.live.attachViewer(v); err != nil {
		return err
	}
	defer s.live.remove(v)
	conn, err := websocket.Accept(w, r, acceptOptions)
	if err != nil {
		v.end(websocket.StatusProtocolError, "viewer_handshake_failed")
		return nil // Accept answered
	}
	start := time.Now()
	why := s.relayToViewer(ctx, c, v, conn)
	v.end(why.code, why.reason)
	why = v.why
	_ = conn.Close(why.code, why.reason)
	s.Logger.InfoContext(r.Context(), "live view ended", "live", v.id, "camera", v.camera, "account", c.account,
		"reason", why.reason, "code", int(why.code), "messages", v.count.Load(), "bytes", v.bytes.Load(),
		"dur", time.Since(start).Round(time.Millisecond))
	return nil
}

// relayToViewer writes the status and the hub's messages to the viewer
// until the view ends, and returns why.
func (s *Server) relayToViewer(ctx context.Context, c *caller, v *liveView, conn *websocket.Conn) liveEnd {
	// Done when the viewer closes (or sends anything). Not ctx: its end
	// would drop the connection before the close frame is sent, and so
	// writes below use their own contexts too.
	left := conn.CloseRead(context.Background())
	check := time.NewTicker(streamCheck)
	defer check.Stop()
	// gone re-reads the session (and a member's access): why the view
	// must end, if it must.
	gone := func() (liveEnd, bool) {
		alive, err := s.streamAlive(context.WithoutCancel(ctx), c)
		switch {
		case err != nil:
			s.Logger.WarnContext(ctx, "live view: session check failed", "live", v.id, "err", err)
			return liveEnd{websocket.StatusInternalError, "service_error"}, true
		case !alive:
			return liveEnd{api.LiveClosedSessionEnded, api.LiveReasonSessionEnded}, true
		}
		if v.household != c.household {
			cam := store.Camera{ID: v.camera, HouseholdID: v.household}
			_, live, inScope, err := s.membership(context.WithoutCancel(ctx), c, cam)
			if err == nil && (!live || !inScope) {
				return liveEnd{websocket.StatusPolicyViolation, "access_revoked"}, true
			}
		}
		return liveEnd{}, false
	}
	stopped := func() liveEnd {
		if left.Err() != nil && ctx.Err() == nil {
			return liveEnd{websocket.StatusNormalClosure, "viewer_left"}
		}
		if why, ok := gone(); ok {
			return why
		}
		if ctx.Err() != nil {
			return liveEnd{websocket.StatusGoingAway, "service_restarting"}
		}
		return liveEnd{websocket.StatusNormalClosure, "viewer_left"}
	}
	status := func(state string) bool {
		b, _ := json.Marshal(api.LiveStatus{Type: api.LiveStatusType, State: state})
		wctx, cancel := context.WithTimeout(context.Background(), liveBehind)
		defer cancel()
		return conn.Write(wctx, websocket.MessageText, b) == nil
	}

	// Wait for the hub.
	select {
	case <-v.hubCh:
	default:
		if !status(api.LiveWaitingForHub) {
			return stopped()
		}
		timeout := time.NewTimer(time.Until(s.live.deadlineOf(v)))
		defer timeout.Stop()
	wait:
		for {
			select {
			case <-v.hubCh:
				break wait
			case <-v.done:
				return v.why
			case <-timeout.C:
				return liveEnd{api.LiveClosedHubUnreachable, api.LiveReasonHubUnreachable}
			case <-left.Done():
				return stopped()
			case <-ctx.Done():
				return stopped()
			case <-check.C:
				if why, ok := gone(); ok {
					return why
				}
			}
		}
	}
	if !status(api.LiveStateLive) {
		return stopped()
	}
	since := time.Now() // messages queued before the viewer was live are not late
	write := func(m liveMsg) (liveEnd, bool) {
		v.queued.Add(-int64(len(m.data)))
		queued := m.at
		if since.After(queued) {
			queued = since
		}
		if time.Since(queued) > liveBehind {
			return liveEnd{api.LiveClosedTooSlow, api.LiveReasonTooSlow}, false
		}
		wctx, cancel := context.WithTimeout(context.Background(), liveBehind)
		err := conn.Write(wctx, m.typ, m.data)
		cancel()
		switch {
		case err != nil && left.Err() == nil && errors.Is(err, context.DeadlineExceeded):
			return liveEnd{api.LiveClosedTooSlow, api.LiveReasonTooSlow}, false
		case err != nil:
			return stopped(), false
		}
		v.count.Add(1)
		v.bytes.Add(int64(len(m.data)))
		s.live.bytes.Add(int64(len(m.data)))
		return liveEnd{}, true
	}
	for {
		select {
		case m := <-v.msgs:
			if why, ok := write(m); !ok {
				return why
			}
		case <-v.done:
			// The hub closed: deliver what it sent before closing.
			for {
				select {
				case m := <-v.msgs:
					if why, ok := write(m); !ok {
						return why
					}
				default:
					return v.why
				}
			}
		case <-left.Done():
			return stopped()
		case <-ctx.Done():
			return stopped()
		case <-check.C:
			if why, ok := gone(); ok {
				return why
			}
		}
	}
}

// waitParam reads a long poll's ?wait= (none: 0), capped at limit.
func waitParam(r *http.Request, limit time.Duration) (time.Duration, error) {
	q := r.URL.Query().Get("wait")
	if q == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(q)
	if err != nil || d < 0 {
		return 0, errInvalid("wait must be a duration such as 25s")
	}
	return min(d, limit), nil
}

// hubPoll registers a hub's long poll in the stream registry, under a name
// no session has (kind + hub id), so a shutdown (CloseStreams) answers it
// at once. Its context ends then or with the request; call done when the
// poll returns.
func (s *Server) hubPoll(r *http.Request, kind string, hb *store.Hub) (context.Context, func()) {
	ctx, cancel := context.WithCancel(r.Context())
	st := &stream{session: kind + hb.ID, account: "hub:" + hb.ID, cancel: cancel, wake: make(chan struct{}, 1)}
	s.streams.add(st)
	return ctx, func() { s.streams.remove(st); cancel() }
}

// hubLiveRequests is GET /v1/hub/live?wait=25s (hub): the live views
// waiting for this hub; with wait, held until one arrives or wait passes.
func (s *Server) hubLiveRequests(w http.ResponseWriter, r *http.Request, hb *store.Hub) error {
	wait, err := waitParam(r, maxLiveWait)
	if err != nil {
		return err
	}
	ctx, done := s.hubPoll(r, "hub-live-poll:", hb)
	defer done()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		news := s.live.newsChan()
		reqs := s.live.pending(hb.ID)
		if len(reqs) > 0 || wait == 0 {
			writeJSON(w, http.StatusOK, api.LiveRequests{Requests: reqs})
			return nil
		}
		select {
		case <-news:
		case <-deadline.C:
			wait = 0
		case <-ctx.Done():
			if r.Context().Err() != nil {
				return nil // the hub left
			}
			wait = 0 // shutting down: answer now
		}
	}
}

// hubLive is GET /v1/hub/live/{id} (hub): the hub's WebSocket of one live
// view of its own camera. Its messages go to the viewer unchanged.
func (s *Server) hubLive(w http.ResponseWriter, r *http.Request, hb *store.Hub) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	v := s.live.get(id)
	if v == nil || v.hub != hb.ID {
		return errNotFound("no such live request: it ended or expired")
	}
	if !isWebSocket(r) {
		return errNotWebSocket
	}
	if err := s.live.attachHub(v); err != nil {
		return err
	}
	addLog(r, "live", v.id)
	conn, err := websocket.Accept(w, r, acceptOptions)
	if err != nil {
		v.end(api.LiveClosedHubUnreachable, api.LiveReasonHubUnreachable)
		return nil // Accept answered
	}
	conn.SetReadLimit(maxLiveMessage)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	st := &stream{session: "hub-live:" + v.id, account: "hub:" + hb.ID, cancel: cancel, wake: make(chan struct{}, 1)}
	s.streams.add(st)
	defer s.streams.remove(st)

	closed := make(chan struct{})
	go func() {
		defer close(closed)
		select {
		case <-v.done:
			_ = conn.Close(websocket.StatusNormalClosure, v.why.reason)
		case <-ctx.Done():
			// Shutting down: the viewer sees the camera go away.
			v.end(api.LiveClosedCameraOffline, api.LiveReasonCameraOffline+": service restarting")
			_ = conn.Close(websocket.StatusGoingAway, "service_restarting")
		}
	}()
	for {
		typ, data, err := conn.Read(context.WithoutCancel(ctx))
		if err != nil {
			reason := api.LiveReasonCameraOffline
			var ce websocket.CloseError
			if errors.As(err, &ce) && ce.Reason != "" {
				reason = closeReason(reason + ": " + ce.Reason)
			}
			v.end(api.LiveClosedCameraOffline, reason)
			break
		}
		if !v.push(liveMsg{typ: typ, data: data, at: time.Now()}) {
			v.end(api.LiveClosedTooSlow, api.LiveReasonTooSlow)
		}
	}
	cancel()
	<-closed
	return nil
}

// closeReason cuts a close reason to what a close frame carries, on a
// character boundary.
func closeReason(s string) string {
	if len(s) <= maxCloseReason {
		return s
	}
	s = s[:maxCloseReason]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
