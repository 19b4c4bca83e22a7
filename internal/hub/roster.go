package hub

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/seal"
)

// ErrRosterFork means the service served a roster chain that does not
// extend the one the hub verified before: versions it knew were changed or
// removed. The hub keeps using its last good roster and says so loudly; a
// service that rewrites the roster may be trying to have epoch keys wrapped
// to a device the owner never added.
var ErrRosterFork = errors.New("roster chain does not extend the one seen before (fork or rollback)")

// checkRoster verifies a chain served by the service against the pinned
// household key and the chain seen before (known, oldest first): the new
// chain must verify, belong to the household, and have known as its prefix.
// It returns the latest version.
func checkRoster(known, next [][]byte, root ed25519.PublicKey, household string) (*seal.Roster, error) {
	latest, err := seal.VerifyRosterChain(next, root)
	if err != nil {
		return nil, err
	}
	if latest.Household != household {
		return nil, fmt.Errorf("%w: roster is of household %s, not %s", seal.ErrRosterChain, latest.Household, household)
	}
	if len(next) < len(known) {
		return nil, fmt.Errorf("%w: served %d versions, %d were seen before", ErrRosterFork, len(next), len(known))
	}
	for i := range known {
		if seal.RosterHash(known[i]) != seal.RosterHash(next[i]) {
			return nil, fmt.Errorf("%w: version %d differs from the one seen before", ErrRosterFork, i+1)
		}
	}
	return latest, nil
}

// rosterSource is what the roster loop needs from the service.
type rosterSource interface {
	HubRoster(ctx context.Context) (*api.Roster, error)
}

// rosterWaiter is a service that can hold a roster request until a version
// newer than after exists (a long poll). With it, a removal reaches the hub
// within a second and its new epoch starts at once, instead of at the next
// RosterInterval.
type rosterWaiter interface {
	HubRosterAfter(ctx context.Context, after uint64, wait time.Duration) (*api.Roster, error)
}

// rosterLongPoll is how long one long-poll request waits at the service.
const rosterLongPoll = 25 * time.Second

// refreshRoster fetches and checks the roster. It reports whether a newer
// version was adopted; on a bad chain it returns the error and keeps the
// last good roster.
func (h *Hub) refreshRoster(ctx context.Context, c rosterSource) (bool, error) {
	return h.adoptRoster(ctx, func(ctx context.Context) (*api.Roster, error) { return c.HubRoster(ctx) })
}

// adoptRoster is refreshRoster with the fetch given.
func (h *Hub) adoptRoster(ctx context.Context, fetch func(context.Context) (*api.Roster, error)) (bool, error) {
	r, err := fetch(ctx)
	if err != nil {
		return false, err
	}
	var known [][]byte
	var root ed25519.PublicKey
	var household string
	h.st.view(func(s *state) {
		known = slices.Clone(s.Roster)
		root = s.RootSign
		household = s.Household
	})
	latest, err := checkRoster(known, r.Versions, root, household)
	if err != nil {
		return false, err
	}
	h.mu.Lock()
	cur := h.roster
	h.mu.Unlock()
	if cur != nil && latest.Version <= cur.Version {
		return false, nil
	}
	if err := h.st.setRoster(r.Versions); err != nil {
		return false, err
	}
	h.mu.Lock()
	h.roster = latest
	h.mu.Unlock()
	if latest.Entry(h.key.ID) == nil {
		h.log.Warn("the household roster does not list this hub: owner devices will not trust its recordings until it is added back", "roster", latest.Version)
	}
	return true, nil
}

// loadCachedRoster verifies the chain in state and adopts it.
func (h *Hub) loadCachedRoster() error {
	var known [][]byte
	var root ed25519.PublicKey
	var household string
	h.st.view(func(s *state) {
		known = s.Roster
		root = s.RootSign
		household = s.Household
	})
	if len(known) == 0 {
		return nil
	}
	latest, err := checkRoster(nil, known, root, household)
	if err != nil {
		return fmt.Errorf("cached roster in state.json: %w", err)
	}
	h.mu.Lock()
	h.roster = latest
	h.mu.Unlock()
	return nil
}

// currentRoster returns the roster in use.
func (h *Hub) currentRoster() *seal.Roster {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.roster
}

// rosterLoop refreshes the roster every RosterInterval; a new version starts
// a new epoch on every camera and re-seals the camera descriptors.
//
// A service that supports it (rosterWaiter) is long-polled instead: the
// loop asks again as soon as an answer comes, and waits RosterInterval only
// after a failure.
func (h *Hub) rosterLoop(ctx context.Context, c rosterSource) {
	t := time.NewTicker(h.m.RosterInterval)
	defer t.Stop()
	sum := summary{log: h.log, every: 10 * time.Minute}
	w, long := c.(rosterWaiter)
	fetch := func(ctx context.Context) (*api.Roster, error) {
		if long {
			return w.HubRosterAfter(ctx, h.currentRoster().Version, rosterLongPoll)
		}
		return c.HubRoster(ctx)
	}
	var lastErr error
	for {
		if !long || lastErr != nil {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		changed, err := h.adoptRoster(ctx, fetch)
		lastErr = err
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, ErrRosterFork) || errors.Is(err, seal.ErrRosterChain):
			h.log.Error("REFUSING the roster served by the service; still using the last verified one. Check your household's devices with `porchlight members`",
				"err", err, "roster", h.currentRoster().Version)
		case err != nil:
			sum.fail(time.Now(), "cannot fetch the roster; using the last verified one", "err", err)
		case changed:
			sum.ok()
			h.onRosterChange()
		default:
			sum.ok()
		}
	}
}

// onRosterChange rotates every camera's epoch and queues new descriptors.
func (h *Hub) onRosterChange() {
	r := h.currentRoster()
	h.log.Info("roster changed: new epoch on every camera", "roster", r.Version, "viewers", len(r.Viewers(seal.AllCameras, h.m.Now())))
	for _, rec := range h.recs {
		rec.rosterChanged(r)
	}
}
