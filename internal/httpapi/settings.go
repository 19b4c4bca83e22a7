package httpapi

// Camera settings (zones) travel from an owner's client to the camera's hub
// through the service, sealed: the service keeps the newest version and
// hands it to the hub, and cannot read or forge it (the hub checks an
// owner device of its verified roster signed it).

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// putCameraSettings is PUT /v1/cameras/{id}/settings (owner).
func (s *Server) putCameraSettings(w http.ResponseWriter, r *http.Request, c *caller) error {
	cam, err := s.ownCamera(r, c)
	if err != nil {
		return err
	}
	var in api.CameraSettings
	if err := decodeJSON(w, r, 2*seal.MaxSettings, &in); err != nil {
		return err
	}
	if in.Version == 0 {
		return errInvalid("version must be 1 or more, newer than the stored settings' version")
	}
	if len(in.Sealed) > seal.MaxSettings {
		return errTooLarge(fmt.Sprintf("settings larger than %d bytes", seal.MaxSettings))
	}
	if err := seal.CheckAgeFile(in.Sealed); err != nil {
		return errInvalidf(err, "sealed must be the settings sealed to the hub and the owner devices (an age file)")
	}
	err = s.Store.PutCameraSettings(r.Context(), cam.ID, in.Version, in.Sealed)
	if errors.Is(err, store.ErrConflict) {
		return errConflict(fmt.Sprintf("version %d is not newer than the stored settings: fetch them, change them and put the next version", in.Version))
	}
	if err != nil {
		return err
	}
	addLog(r, "camera", cam.ID)
	return noContent(w)
}

// cameraSettings is GET /v1/cameras/{id}/settings (owner).
func (s *Server) cameraSettings(w http.ResponseWriter, r *http.Request, c *caller) error {
	cam, err := s.ownCamera(r, c)
	if err != nil {
		return err
	}
	return s.writeSettings(w, r, cam.ID)
}

// hubCameraSettings is GET /v1/hub/cameras/{id}/settings (the camera's hub).
func (s *Server) hubCameraSettings(w http.ResponseWriter, r *http.Request, h *store.Hub) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	cam, err := s.hubCamera(r.Context(), h, id)
	if err != nil {
		return err
	}
	return s.writeSettings(w, r, cam.ID)
}

func (s *Server) writeSettings(w http.ResponseWriter, r *http.Request, camera string) error {
	v, b, err := s.Store.CameraSettings(r.Context(), camera)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound("this camera has no settings yet: its hub uses its own configuration")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.CameraSettings{Version: v, Sealed: b})
	return nil
}
