package hub

// Owner-set camera settings (zones drawn in the web app): the service holds
// them sealed to this hub and the owner devices; the hub applies a version
// only if an owner device of its verified roster signed it for this
// household and camera, and only if it is newer than the one it applied
// (kept in state.json, so a restart, or a service that is down, keeps the
// owner's zones). Zones from the configuration file apply until an owner
// sets some.

import (
	"context"
	"net/http"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/detect"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/track"
)

// SettingsInterval is how often the hub asks the service for newer camera
// settings.
var SettingsInterval = 5 * time.Second

// settingsSource is a service that holds camera settings.
type settingsSource interface {
	HubCameraSettings(ctx context.Context, camera string) (*api.CameraSettings, error)
}

// ownerSettings are the settings applied to a camera.
type ownerSettings struct {
	Version uint64
	Zones   []track.Zone
}

// settingsLoop fetches every camera's settings every SettingsInterval.
func (h *Hub) settingsLoop(ctx context.Context, src settingsSource) {
	t := time.NewTicker(SettingsInterval)
	defer t.Stop()
	for {
		for _, r := range h.recs {
			if ctx.Err() != nil {
				return
			}
			if err := r.refreshSettings(ctx, src); err != nil && ctx.Err() == nil {
				r.log.Warn("camera settings from the service not applied; the ones in use stay", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refreshSettings applies the service's settings for r if they are newer.
func (r *recorder) refreshSettings(ctx context.Context, src settingsSource) error {
	cs, err := src.HubCameraSettings(ctx, r.id)
	if apiclient.IsStatus(err, http.StatusNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur := r.settings.Load(); cur != nil && cs.Version <= cur.Version {
		return nil
	}
	s, err := r.openSettings(cs.Sealed)
	if err != nil {
		return err
	}
	if s.Version != cs.Version {
		return seal.ErrMalformed
	}
	if err := r.h.st.update(func(st *state) {
		c := st.Cameras[r.name]
		c.Settings, c.SettingsVersion = cs.Sealed, s.Version
	}); err != nil {
		return err
	}
	r.applySettings(s)
	r.log.Info("camera settings applied", "version", s.Version, "zones", len(s.Zones))
	return nil
}

// loadSettings applies the settings kept in state at start. Settings that
// no longer verify (their signer left the roster) are dropped with a
// warning: the configuration file's zones apply again.
func (r *recorder) loadSettings(sealed []byte) {
	if len(sealed) == 0 {
		return
	}
	s, err := r.openSettings(sealed)
	if err != nil {
		r.log.Warn("saved camera settings no longer verify; using the configured zones", "err", err)
		return
	}
	r.applySettings(s)
}

// openSettings decrypts settings with the hub's key and verifies them
// against the owner devices of the hub's verified roster.
func (r *recorder) openSettings(sealed []byte) (*seal.CameraSettings, error) {
	if len(sealed) > seal.MaxSettings {
		return nil, seal.ErrMalformed
	}
	pt, err := keys.Decrypt(sealed, r.h.key.KEM)
	if err != nil {
		return nil, err
	}
	return seal.VerifyCameraSettings(pt, r.h.currentRoster().OwnerSigners(), r.h.household(), r.id)
}

func (r *recorder) applySettings(s *seal.CameraSettings) {
	o := &ownerSettings{Version: s.Version, Zones: []track.Zone{}}
	for _, z := range s.Zones {
		tz := track.Zone{Name: z.Name, Polygon: polygon(z.Points)}
		for _, c := range z.Classes {
			tz.Classes = append(tz.Classes, detect.Class(c))
		}
		o.Zones = append(o.Zones, tz)
	}
	r.settings.Store(o)
}

// zones are the zones in force: the owner's, else the configured ones.
func (r *recorder) zones() []track.Zone {
	if s := r.settings.Load(); s != nil {
		return s.Zones
	}
	return r.cam.zones()
}
