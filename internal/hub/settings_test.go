package hub

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// settingsService adds camera settings to the fake service.
type settingsService struct {
	*fakeService
	mu  sync.Mutex
	set map[string]api.CameraSettings
}

func (s *settingsService) HubCameraSettings(ctx context.Context, camera string) (*api.CameraSettings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, ok := s.set[camera]
	if !ok {
		return nil, &apiclient.Error{Status: http.StatusNotFound, Code: "not_found", Message: "no settings"}
	}
	return &cs, nil
}

func (s *settingsService) put(camera string, cs api.CameraSettings) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set[camera] = cs
}

// TestOwnerSettings: zones an owner device signs reach the camera's
// analysis; settings signed by a key outside the roster, or an older
// version put back, are refused; the applied settings survive a restart
// with the service answering nothing.
func TestOwnerSettings(t *testing.T) {
	// Restored after the hubs' own cleanups (cleanups run last first).
	old := SettingsInterval
	t.Cleanup(func() { SettingsInterval = old })
	SettingsInterval = 10 * time.Millisecond
	r := newRig(t)
	svc := &settingsService{fakeService: r.svc, set: map[string]api.CameraSettings{}}
	m := r.main("front")
	m.service = svc
	h := r.start(m)
	r.waitFor("the hub in the roster", func() bool { return h.currentRoster() != nil && len(h.recs) == 1 })
	rec := h.recs[0]
	if got := rec.zones(); len(got) != 0 {
		t.Fatalf("zones before any settings: %v", got)
	}
	hubKEM, err := seal.ParseRecipient(r.svc.hubKEM)
	if err != nil {
		t.Fatal(err)
	}
	owner, err := seal.ParseRecipient(r.hh.owner.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	sealFor := func(signer *keys.Pair, version uint64, zone string) api.CameraSettings {
		t.Helper()
		b, err := seal.SealCameraSettings(signer.Sign, seal.CameraSettings{
			Household: r.hh.id, Camera: rec.id, Version: version, Created: time.Now().UTC(),
			Zones: []seal.SettingsZone{{Name: zone, Points: [][2]float32{{0, 0.5}, {1, 0.5}, {1, 1}, {0, 1}}, Classes: []string{"person"}}},
		}, []age.Recipient{hubKEM, owner}...)
		if err != nil {
			t.Fatal(err)
		}
		return api.CameraSettings{Version: version, Sealed: b}
	}
	zoneNames := func() string {
		var names []string
		for _, z := range rec.zones() {
			names = append(names, z.Name)
		}
		return strings.Join(names, ",")
	}

	svc.put(rec.id, sealFor(r.hh.owner, 2, "path"))
	r.waitFor("the owner's zones applied", func() bool { return zoneNames() == "path" })

	outsider, err := keys.Generate("outsider")
	if err != nil {
		t.Fatal(err)
	}
	svc.put(rec.id, sealFor(outsider, 3, "everywhere"))
	r.waitFor("the forged settings refused", func() bool { return strings.Contains(r.logs.String(), "not an owner device of the roster") })
	svc.put(rec.id, sealFor(r.hh.owner, 1, "old"))
	time.Sleep(100 * time.Millisecond) // ten refresh rounds
	if got := zoneNames(); got != "path" {
		t.Fatalf("after a forged and an older version: zones %q, want path", got)
	}

	// Restart with the service holding nothing: the owner's zones stay.
	r.shutdown()
	svc.mu.Lock()
	svc.set = map[string]api.CameraSettings{}
	svc.mu.Unlock()
	m = r.main("front")
	m.service = svc
	h = r.start(m)
	if got := h.recs[0].zones(); len(got) != 1 || got[0].Name != "path" {
		t.Fatalf("after a restart: zones %v, want path", got)
	}
}
