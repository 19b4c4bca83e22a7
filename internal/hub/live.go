package hub

// Live view. The hub long-polls the service for live requests
// (GET /v1/hub/live); for each one whose device its own verified roster
// lets see the camera, it opens GET /v1/hub/live/{id} (a WebSocket the
// service relays to the viewer unchanged) and sends a hub-signed hello with
// a fresh session key sealed to that device, then the init segment and one
// AES-GCM-sealed fragment per access unit (seal.LiveSender; the format is
// in docs/formats.md).
//
// The camera's source goroutine hands every access unit to its liveCam
// (internal/live makes the fragments and keeps the current GOP, so a new
// viewer starts at once from the last IDR). It never waits for a viewer:
// each has a bounded queue, and a viewer whose queue is full misses frames
// until the next IDR, where it resumes. Each viewer's goroutine seals and
// writes its own stream, so viewers are independent of each other and of
// recording.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/live"
	"github.com/porchlight/porchlight/internal/seal"
)

// liveService is what live view needs from the service
// (*apiclient.Client has it). A service without it gets no live view.
type liveService interface {
	HubLiveRequests(ctx context.Context, wait time.Duration) ([]api.LiveRequest, error)
	DialHubLive(ctx context.Context, id string) (*websocket.Conn, error)
}

// Live view tuning.
var (
	// liveLongPoll is how long one request for live requests waits at the
	// service.
	liveLongPoll = 25 * time.Second
	// liveQueue is a viewer's queue, in frames (about 4 s at 30 fps).
	liveQueue = 128
	// liveFirstFrame bounds the wait for a picture to start a viewer with
	// (the camera's next IDR when no GOP is cached).
	liveFirstFrame = 10 * time.Second
	// liveWriteTimeout bounds one write to the service; a viewer's socket
	// that takes longer is closed.
	liveWriteTimeout = 10 * time.Second
	// liveRemember is how long a request id is remembered as served, so
	// that it is not served twice while the service still lists it.
	liveRemember = 10 * time.Minute
	// liveRecheck is how often a running view is checked again against
	// the roster (a device removed, its scope narrowed or its not_after
	// passed ends the view).
	liveRecheck = time.Second
)

// Reasons the hub gives when it closes a live socket (the service passes
// them on after "camera_offline: ").
const (
	liveReasonOffline   = "the camera stopped sending video"
	liveReasonRestarted = "stream restarted: open the live view again"
	liveReasonStopping  = "hub stopping"
	liveReasonNoPicture = "no picture from the camera"
	liveReasonRevoked   = "access revoked: the household roster no longer lets this device see the camera"
)

// liveHub is the hub's live view: one liveCam per camera.
type liveHub struct {
	h    *Hub
	cams map[string]*liveCam // by camera id; fixed after newLiveHub
}

func newLiveHub(h *Hub) *liveHub {
	l := &liveHub{h: h, cams: map[string]*liveCam{}}
	for _, r := range h.recs {
		l.cams[r.id] = &liveCam{id: r.id, log: r.log, viewers: map[*liveViewer]struct{}{}, sum: summary{log: r.log, every: time.Minute}}
	}
	return l
}

// liveCam is one camera's live stream and its viewers. mu guards every
// field below it; it is held only briefly (no I/O under it).
type liveCam struct {
	id  string
	log *slog.Logger

	mu      sync.Mutex
	frag    live.Fragmenter
	viewers map[*liveViewer]struct{}
	sum     summary // fragmenter errors
}

// liveItem is one frame queued for a viewer.
type liveItem struct {
	init     []byte // with the first item of a stream
	mime     string
	media    []byte // moof+mdat
	received time.Time
}

// liveViewer is one viewer's queue. stream and skipping are guarded by
// the camera's mu.
type liveViewer struct {
	q        chan liveItem
	stream   uint64 // the stream it started on; 0 until it has started
	skipping bool   // its queue overflowed: drop until the next IDR
	dropped  int

	endOnce sync.Once
	done    chan struct{}
	reason  string // set before done is closed
}

func (v *liveViewer) end(reason string) {
	v.endOnce.Do(func() {
		v.reason = reason
		close(v.done)
	})
}

// accessUnit takes one access unit from the camera's source goroutine.
func (c *liveCam) accessUnit(codec string, params [][]byte, anchor time.Time, pts time.Duration, au [][]byte) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	fr, err := c.frag.WriteAccessUnit(codec, params, anchor, pts, au, now)
	if err != nil {
		c.sum.fail(now, "live view: access unit not usable", "err", err)
		return
	}
	if fr == nil || len(c.viewers) == 0 {
		return
	}
	var media []byte
	for v := range c.viewers {
		if v.stream != 0 && v.stream != fr.Stream {
			v.end(liveReasonRestarted)
			delete(c.viewers, v)
			continue
		}
		if (v.stream == 0 || v.skipping) && !fr.IDR {
			continue
		}
		if media == nil {
			media = c.frag.Fragment(fr)
		}
		it := liveItem{media: media, received: fr.Received}
		if v.stream == 0 {
			_, it.init, it.mime = c.frag.Stream()
		}
		select {
		case v.q <- it:
			v.stream, v.skipping = fr.Stream, false
		default:
			if !v.skipping {
				v.dropped++
			}
			v.skipping = true
		}
	}
}

// offline ends every viewer: the camera dropped.
func (c *liveCam) offline(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frag.Reset()
	for v := range c.viewers {
		v.end(reason)
		delete(c.viewers, v)
	}
}

// join adds a viewer. first is the cached GOP to start with, if any;
// otherwise the viewer starts at the next IDR in its queue.
func (c *liveCam) join() (v *liveViewer, first *liveItem) {
	v = &liveViewer{q: make(chan liveItem, liveQueue), done: make(chan struct{})}
	c.mu.Lock()
	defer c.mu.Unlock()
	if stream, init, mime, media, received, ok := c.frag.Join(); ok {
		v.stream = stream
		first = &liveItem{init: init, mime: mime, media: media, received: received}
	}
	c.viewers[v] = struct{}{}
	return v, first
}

func (c *liveCam) leave(v *liveViewer) (dropped int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.viewers, v)
	return v.dropped
}

// liveLoop asks the service for live requests until ctx is done and serves
// each new one in its own goroutine.
func (h *Hub) liveLoop(ctx context.Context, svc liveService) {
	var viewers sync.WaitGroup
	defer viewers.Wait()
	var b backoff
	sum := summary{log: h.log, every: 10 * time.Minute}
	seen := map[string]time.Time{}
	for {
		reqs, err := svc.HubLiveRequests(ctx, liveLongPoll)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			sum.fail(time.Now(), "live view: cannot ask the service for live requests", "err", err)
			if sleep(ctx, b.wait()) != nil {
				return
			}
			continue
		}
		sum.ok()
		b.reset()
		now := time.Now()
		for id, t := range seen {
			if now.Sub(t) > liveRemember {
				delete(seen, id)
			}
		}
		fresh := 0
		for _, rq := range reqs {
			if _, ok := seen[rq.ID]; ok {
				continue
			}
			seen[rq.ID] = now
			fresh++
			viewers.Go(func() { h.serveLive(ctx, svc, rq) })
		}
		// The service lists a request until the hub opens its socket or it
		// expires; do not spin on requests that were refused here.
		if len(reqs) > 0 && fresh == 0 && sleep(ctx, time.Second) != nil {
			return
		}
	}
}

// authorizeLive checks a live request against the hub's verified roster:
// an owner or member device with the camera in scope now.
func (h *Hub) authorizeLive(rq api.LiveRequest) (*seal.RosterEntry, *liveCam, error) {
	c := h.live.cams[rq.Camera]
	if c == nil {
		return nil, nil, fmt.Errorf("camera %s is not a camera of this hub", rq.Camera)
	}
	ro := h.currentRoster()
	e := ro.Entry(rq.Device)
	switch {
	case e == nil:
		return nil, nil, fmt.Errorf("device %s is not in the household roster (version %d)", rq.Device, ro.Version)
	case e.Kind != seal.KindDevice || (e.Role != seal.RoleOwner && e.Role != seal.RoleMember):
		return nil, nil, fmt.Errorf("device %s is a %s %s, not an owner or member device", rq.Device, e.Role, e.Kind)
	case !e.InScope(rq.Camera, h.m.Now()):
		return nil, nil, fmt.Errorf("device %s may not see this camera (not in its scope, or its access expired)", rq.Device)
	}
	// Copy: the roster may be replaced while the view runs.
	entry := *e
	return &entry, c, nil
}

// serveLive serves one live request until the viewer leaves, the camera
// drops or ctx is done.
func (h *Hub) serveLive(ctx context.Context, svc liveService, rq api.LiveRequest) {
	log := h.log.With("live", rq.ID, "camera_id", rq.Camera, "device", rq.Device)
	dev, cam, err := h.authorizeLive(rq)
	if err != nil {
		log.Warn("live view refused: not connecting", "why", err)
		return
	}
	to, err := seal.ParseRecipient(dev.KEM)
	if err != nil {
		log.Error("live view refused: the device's key in the roster is unusable", "err", err)
		return
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := svc.DialHubLive(dctx, rq.ID)
	cancel()
	if err != nil {
		log.Warn("live view: cannot open the live socket at the service", "err", err)
		return
	}
	defer conn.CloseNow()
	// The service sends nothing but the close; CloseRead handles it and
	// ends rctx when the viewer leaves.
	rctx := conn.CloseRead(ctx)

	v, first := cam.join()
	defer func() {
		if n := cam.leave(v); n > 0 {
			log.Info("live view: the viewer fell behind; frames were skipped to the next keyframe", "times", n)
		}
	}()
	start := time.Now()
	if first == nil {
		t := time.NewTimer(liveFirstFrame)
		defer t.Stop()
		select {
		case it := <-v.q:
			first = &it
		case <-v.done:
			conn.Close(websocket.StatusNormalClosure, v.reason)
			return
		case <-t.C:
			log.Warn("live view: no picture from the camera", "waited", liveFirstFrame)
			conn.Close(websocket.StatusNormalClosure, liveReasonNoPicture)
			return
		case <-rctx.Done():
			return
		}
	}

	sender, hello, err := seal.NewLiveSender(h.key.Sign, seal.LiveHello{
		Household: h.household(), Camera: rq.Camera, Session: rq.ID, Device: dev.ID, MIME: first.mime, Created: h.m.Now().UTC(),
	}, to)
	if err != nil {
		log.Error("live view: cannot make the hello", "err", err)
		conn.Close(websocket.StatusInternalError, "hub error")
		return
	}
	write := func(typ websocket.MessageType, b []byte) error {
		wctx, cancel := context.WithTimeout(rctx, liveWriteTimeout)
		defer cancel()
		return conn.Write(wctx, typ, b)
	}
	err = write(websocket.MessageText, hello)
	if err == nil {
		err = write(websocket.MessageBinary, sender.Seal(first.init))
	}
	if err == nil {
		err = write(websocket.MessageBinary, sender.Seal(seal.LiveFragment(first.received, first.media)))
	}
	if err == nil {
		log.Info("live view started", "mime", first.mime, "took", time.Since(start).Round(time.Millisecond))
	}
	recheck := time.NewTicker(liveRecheck)
	defer recheck.Stop()
	for err == nil {
		select {
		case it := <-v.q:
			err = write(websocket.MessageBinary, sender.Seal(seal.LiveFragment(it.received, it.media)))
		case <-recheck.C:
			if _, _, aerr := h.authorizeLive(rq); aerr != nil {
				log.Warn("live view ended: access revoked", "why", aerr)
				conn.Close(websocket.StatusPolicyViolation, liveReasonRevoked)
				return
			}
		case <-v.done:
			conn.Close(websocket.StatusNormalClosure, v.reason)
			log.Info("live view ended", "reason", v.reason, "messages", sender.Seq())
			return
		case <-rctx.Done():
			err = rctx.Err()
		}
	}
	switch {
	case ctx.Err() != nil:
		conn.Close(websocket.StatusGoingAway, liveReasonStopping)
		log.Info("live view ended: the hub is stopping")
	case errors.Is(err, context.DeadlineExceeded):
		log.Warn("live view ended: the service did not take a message in time", "timeout", liveWriteTimeout)
	default:
		log.Info("live view ended: the viewer left", "messages", sender.Seq())
	}
}
