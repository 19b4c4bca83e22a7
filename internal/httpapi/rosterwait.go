package httpapi

// Roster long poll. A hub asks GET /v1/hub/roster?after=N&wait=25s: the
// answer comes as soon as the household has a version newer than N, or
// when wait runs out. A roster appended through this replica wakes the
// waiters at once; one appended through another replica is seen by the
// store re-check every rosterRecheck. Revocations so reach hubs within a
// second instead of at their next poll.

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/porchlight/porchlight/internal/api"
)

const (
	// maxRosterWait bounds how long one request may wait.
	maxRosterWait = 30 * time.Second
	// rosterRecheck is how often a waiting request re-reads the store.
	rosterRecheck = time.Second
)

// rosterNews wakes roster waiters. mu guards ch, which is closed (and
// replaced) whenever a roster version is appended, and done, set when the
// server shuts down (waiters then answer at once).
type rosterNews struct {
	mu   sync.Mutex
	ch   chan struct{}
	done bool
}

// wait returns a channel closed at the next append, and whether the
// server is shutting down.
func (n *rosterNews) wait() (<-chan struct{}, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch, n.done
}

// shutdown answers every waiter now and every later one at once.
func (n *rosterNews) shutdown() {
	n.mu.Lock()
	n.done = true
	n.mu.Unlock()
	n.appended()
}

// appended wakes every waiter.
func (n *rosterNews) appended() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}

// rosterWait parses after and wait; ok is false when the request does not
// ask to wait.
func rosterWait(r *http.Request) (after int, wait time.Duration, ok bool, err error) {
	q := r.URL.Query()
	if q.Get("after") == "" && q.Get("wait") == "" {
		return 0, 0, false, nil
	}
	after, err = strconv.Atoi(q.Get("after"))
	if err != nil || after < 0 {
		return 0, 0, false, errInvalid("after must be the roster version the hub holds (a number)")
	}
	wait, err = time.ParseDuration(q.Get("wait"))
	if err != nil || wait <= 0 {
		return 0, 0, false, errInvalid("wait must be a duration such as 25s")
	}
	return after, min(wait, maxRosterWait), true, nil
}

// waitRoster answers the household's roster once it has more than after
// versions, or when wait has passed.
func (s *Server) waitRoster(r *http.Request, household string, after int, wait time.Duration) (*api.Roster, error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(rosterRecheck)
	defer tick.Stop()
	for {
		woken, closing := s.rosterNews.wait()
		ro, err := s.rosterOf(r.Context(), household)
		if err != nil || len(ro.Versions) > after || closing {
			return ro, err
		}
		select {
		case <-woken:
		case <-tick.C:
		case <-deadline.C:
			return ro, nil
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
}
