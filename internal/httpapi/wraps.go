package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// putWraps is PUT /v1/epochs/{id}/wraps (owner): an owner device gives
// devices of the latest roster the epoch key (a newly approved device, a
// recovered one). Each device must be in the latest roster with the
// epoch's camera in scope now; each wrap is added or replaces the
// device's. The service cannot check what a wrap holds: a wrong one only
// fails to decrypt on that device.
func (s *Server) putWraps(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in api.WrapsPut
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	notFound := errNotFound("no such epoch")
	e, err := s.Store.Epoch(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return fmt.Errorf("load epoch: %w", err)
	}
	cam, err := s.Store.Camera(r.Context(), e.CameraID)
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return fmt.Errorf("load camera: %w", err)
	}
	if err := s.cameraAccess(r, c, cam, false, notFound); err != nil {
		return err
	}
	addLog(r, "camera", cam.ID, "epoch", id)
	switch {
	case len(in.Wraps) == 0:
		return errInvalid("wraps is empty: send at least one wrap")
	case len(in.Wraps) > MaxWraps:
		return errTooLarge(fmt.Sprintf("more than %d wraps", MaxWraps))
	}
	ro, err := s.latestRoster(r, cam.HouseholdID)
	if err != nil {
		return err
	}
	if ro == nil {
		return errConflict("the household has no roster yet: publish it (porchlight signup does) first")
	}
	now := s.Now()
	wraps := make([]store.Wrap, 0, len(in.Wraps))
	for i, wr := range in.Wraps {
		if !seal.ValidID(wr.DeviceID) {
			return errInvalid(fmt.Sprintf("wraps[%d]: malformed device_id", i))
		}
		entry := ro.Entry(wr.DeviceID)
		switch {
		case entry == nil:
			return errInvalid(fmt.Sprintf("wraps[%d]: device %s is not in the household's latest roster (version %d): add it to the roster first", i, wr.DeviceID, ro.Version))
		case entry.KEM == "" || !entry.InScope(cam.ID, now):
			return errInvalid(fmt.Sprintf("wraps[%d]: device %s may not see this camera now (roster version %d)", i, wr.DeviceID, ro.Version))
		}
		if len(wr.Data) > MaxWrap {
			return errTooLarge(fmt.Sprintf("wraps[%d]: larger than %d bytes", i, MaxWrap))
		}
		if err := seal.CheckAgeFile(wr.Data); err != nil {
			return errInvalidf(err, "wraps[%d]: must be an age file", i)
		}
		wraps = append(wraps, store.Wrap{DeviceID: wr.DeviceID, Data: wr.Data})
	}
	if err := s.Store.PutEpoch(r.Context(), e, wraps); err != nil {
		return fmt.Errorf("put wraps: %w", err)
	}
	addLog(r, "wraps", len(wraps))
	return noContent(w)
}
