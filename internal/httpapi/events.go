package httpapi

// Notifications and the event stream. A stream (GET /v1/events) lives as
// long as its session: it ends at once when this replica ends the session
// (EndSessions, through the registry), and within streamCheck when another
// replica does or the session times out (each stream re-reads its session
// from the store).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/store"
)

const (
	// streamCheck is how often a stream re-reads its session and new
	// notifications from the store.
	streamCheck = 400 * time.Millisecond
	// streamPing is how often an idle stream sends a comment, so proxies
	// and clients see it alive.
	streamPing = 15 * time.Second
	// maxNotifications bounds one page of notifications.
	maxNotifications = 100
)

// streams is the registry of open event streams of this replica. mu
// guards both maps; a stream is in both or in neither.
type streams struct {
	mu        sync.Mutex
	bySession map[string]map[*stream]struct{}
	byAccount map[string]map[*stream]struct{}
}

// stream is one open GET /v1/events.
type stream struct {
	session, account string
	cancel           context.CancelFunc
	wake             chan struct{} // capacity 1: new notifications may be stored
}

func (ss *streams) add(st *stream) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.bySession == nil {
		ss.bySession = map[string]map[*stream]struct{}{}
		ss.byAccount = map[string]map[*stream]struct{}{}
	}
	addTo(ss.bySession, st.session, st)
	addTo(ss.byAccount, st.account, st)
}

func (ss *streams) remove(st *stream) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	removeFrom(ss.bySession, st.session, st)
	removeFrom(ss.byAccount, st.account, st)
}

func addTo(m map[string]map[*stream]struct{}, k string, st *stream) {
	if m[k] == nil {
		m[k] = map[*stream]struct{}{}
	}
	m[k][st] = struct{}{}
}

func removeFrom(m map[string]map[*stream]struct{}, k string, st *stream) {
	delete(m[k], st)
	if len(m[k]) == 0 {
		delete(m, k)
	}
}

// end cancels the streams of the given sessions.
func (ss *streams) end(sessions []string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, id := range sessions {
		for st := range ss.bySession[id] {
			st.cancel()
		}
	}
}

// endAll cancels every stream.
func (ss *streams) endAll() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, set := range ss.bySession {
		for st := range set {
			st.cancel()
		}
	}
}

// wake tells an account's streams to look for new notifications.
func (ss *streams) wake(account string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for st := range ss.byAccount[account] {
		select {
		case st.wake <- struct{}{}:
		default:
		}
	}
}

// EndSessions closes, now, the long-lived connections (event streams) of
// the given sessions, which the caller has already deleted from the store.
// Streams of other replicas notice within a second by themselves.
func (s *Server) EndSessions(ids []string) {
	if len(ids) > 0 {
		s.streams.end(ids)
	}
}

// CloseStreams ends every open event stream and roster long poll of this
// Server, so that a graceful shutdown is not held up by them: pass it to
// http.Server.RegisterOnShutdown. Clients reconnect (to another replica, or
// after the restart) with Last-Event-ID and miss nothing.
func (s *Server) CloseStreams() {
	s.streams.endAll()
	s.rosterNews.shutdown() // hubs waiting for a roster change: answer now
}

// apiNotification converts a stored notification.
func apiNotification(n store.Notification) api.Notification {
	var out api.Notification
	var d noticeData
	if len(n.Data) > 0 {
		_ = json.Unmarshal(n.Data, &d) // written by notify; a bad row shows as a bare notice
	}
	out.DeviceName, out.Client, out.AddrPrefix, out.Method, out.Detail = d.DeviceName, d.Client, d.AddrPrefix, d.Method, d.Detail
	out.CameraID, out.ObjectID, out.At = d.CameraID, d.ObjectID, d.At
	out.Seq, out.Kind, out.CreatedAt = n.Seq, n.Kind, n.Created
	return out
}

// notifications is GET /v1/notifications?after=SEQ.
func (s *Server) notifications(w http.ResponseWriter, r *http.Request, c *caller) error {
	var after int64
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return errInvalid("after must be a notification seq (a whole number)")
		}
		after = n
	}
	ns, err := s.Store.Notifications(r.Context(), c.account, after, maxNotifications)
	if err != nil {
		return fmt.Errorf("list notifications: %w", err)
	}
	out := api.Notifications{Notifications: make([]api.Notification, 0, len(ns))}
	for _, n := range ns {
		out.Notifications = append(out.Notifications, apiNotification(n))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// events is GET /v1/events: the account's notifications as a
// text/event-stream, from after Last-Event-ID (or ?after=), then live.
func (s *Server) events(w http.ResponseWriter, r *http.Request, c *caller) error {
	after := int64(0)
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("after")
	}
	if last != "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return errInvalid("Last-Event-ID must be a notification seq (a whole number)")
		}
		after = n
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	st := &stream{session: c.session.ID, account: c.account, cancel: cancel, wake: make(chan struct{}, 1)}
	s.streams.add(st)
	defer s.streams.remove(st)
	// The session may have ended between authentication and registration.
	if alive, err := s.streamAlive(ctx, c); err != nil || !alive {
		if err != nil {
			return err
		}
		return errUnauthorized("session ended or unknown: sign in again")
	}

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return nil // the client is gone
	}
	send := func() error {
		for {
			ns, err := s.Store.Notifications(ctx, c.account, after, maxNotifications)
			if err != nil {
				return err
			}
			for _, n := range ns {
				b, err := json.Marshal(apiNotification(n))
				if err != nil {
					return err
				}
				if _, err := fmt.Fprintf(w, "event: notification\nid: %d\ndata: %s\n\n", n.Seq, b); err != nil {
					return err
				}
				after = n.Seq
			}
			if len(ns) > 0 {
				if err := rc.Flush(); err != nil {
					return err
				}
			}
			if len(ns) < maxNotifications {
				return nil
			}
		}
	}
	check := time.NewTicker(streamCheck)
	defer check.Stop()
	ping := time.NewTicker(streamPing)
	defer ping.Stop()
	for {
		if err := send(); err != nil {
			s.streamEnded(ctx, c, err)
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-st.wake:
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return nil
			}
			if err := rc.Flush(); err != nil {
				return nil
			}
		case <-check.C:
			alive, err := s.streamAlive(ctx, c)
			if err != nil {
				s.streamEnded(ctx, c, err)
				return nil
			}
			if !alive {
				return nil
			}
		}
	}
}

// streamAlive re-reads the stream's session: it is alive while its token
// still works (not ended, rotated or disabled) and within its timeouts.
func (s *Server) streamAlive(ctx context.Context, c *caller) (bool, error) {
	se, err := s.Store.SessionByTokenHash(ctx, c.session.TokenHash)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return se.ID == c.session.ID && se.Expires.After(s.Now()) && se.LastUsed.Add(s.SessionIdle).After(s.Now()), nil
}

// streamEnded logs why a stream stopped, unless the client left.
func (s *Server) streamEnded(ctx context.Context, c *caller, err error) {
	if ctx.Err() != nil {
		return
	}
	s.Logger.WarnContext(ctx, "event stream ended", "account", c.account, "err", err)
}
