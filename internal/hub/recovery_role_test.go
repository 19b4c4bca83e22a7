package hub

import (
	"slices"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// TestRecoveryEntry: the hub wraps every epoch of every camera to the
// household's recovery entry (role recovery, not owner or member), and
// adopts a roster version the recovery key signed (`porchlight recover`
// adding a new owner device), whose new device then gets new epochs.
func TestRecoveryEntry(t *testing.T) {
	r := newRig(t)
	h := r.start(r.main("a", "b"))
	t0 := r.clock.Now()
	rec, _ := keys.Generate("recovery kit")
	r.svc.mu.Lock()
	r.hh.append(t, func(ro *seal.Roster) { ro.Entries = append(ro.Entries, entry(rec, seal.KindDevice, seal.RoleRecovery)) })
	r.svc.mu.Unlock()
	if changed, err := h.refreshRoster(t.Context(), r.svc); err != nil || !changed {
		t.Fatalf("refresh: %v %v", changed, err)
	}
	h.onRosterChange()
	r.feed.segment(t, "a", t0, payload(0))
	r.feed.segment(t, "b", t0, payload(1))

	// Recovery: the recovery key signs a version that replaces the lost
	// owner device with a new one.
	newDev, _ := keys.Generate("new laptop")
	r.svc.mu.Lock()
	lost := r.hh.owner
	r.hh.owner = rec
	r.hh.append(t, func(ro *seal.Roster) {
		ro.Entries = slices.DeleteFunc(ro.Entries, func(e seal.RosterEntry) bool { return e.ID == lost.ID })
		ro.Entries = append(ro.Entries, entry(newDev, seal.KindDevice, seal.RoleOwner))
	})
	r.hh.owner = lost
	r.svc.mu.Unlock()
	if changed, err := h.refreshRoster(t.Context(), r.svc); err != nil || !changed {
		t.Fatalf("the hub refused the version the recovery key signed: %v %v", changed, err)
	}
	h.onRosterChange()
	r.feed.segment(t, "a", t0.Add(2*time.Second), payload(2))
	r.feed.segment(t, "b", t0.Add(2*time.Second), payload(3))
	r.waitFor("drain", r.drained)
	r.shutdown()

	if got := r.open(rec); len(got.manifests) != 4 {
		t.Fatalf("the recovery key opens %d manifests, want all 4 (both cameras, before and after recovery)", len(got.manifests))
	}
	if got := r.open(newDev); len(got.manifests) != 2 {
		t.Fatalf("the recovered device opens %d manifests of new epochs, want 2", len(got.manifests))
	}
}
