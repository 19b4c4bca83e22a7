package httpapi

// Detection events. A hub uploads each event record (a hub-signed
// seal.Event sealed to the epoch recipient) as an object of kind
// api.ObjectEvent and its thumbnail as api.ObjectThumb, through the same
// upload path as segments. The service learns only that an event object of
// a camera exists at a minute: it lists them to the owner and in-scope
// members, and tells their devices that a new one arrived
// (api.NoticeCameraEvent). Clients decrypt, verify and interpret them.

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/porchlight/porchlight/internal/api"
)

const (
	// MaxEventList bounds one listing of event objects.
	MaxEventList = 5000
)

// cameraEvents is GET /v1/cameras/{id}/events?from=&to=[&include=data]
// (owner or in-scope member): the camera's event objects whose coarse time
// is in [from - 1m, to + 1m], ordered by time then id.
func (s *Server) cameraEvents(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.listCamera(w, r, c, api.ObjectEvent, MaxEventList, MaxEventSize)
}

// notifyCameraEvent tells everyone who may view the camera that a new
// event object arrived: the household's owner and every member whose
// live membership covers the camera. A failure is logged: the object is
// stored, and clients listing events find it anyway.
func (s *Server) notifyCameraEvent(ctx context.Context, household, camera, object string, at time.Time) {
	s.pushCameraEvent(ctx, household, camera, object, at) // in the background (push.go)
	d := noticeData{CameraID: camera, ObjectID: object, At: at}
	if owner := s.householdOwner(ctx, household); owner != "" {
		s.notify(ctx, owner, api.NoticeCameraEvent, d)
	} else {
		s.Logger.ErrorContext(ctx, "camera event: household owner not found", "camera", camera, "object", object)
	}
	ms, err := s.Store.HouseholdMemberships(context.WithoutCancel(ctx), household)
	if err != nil {
		s.Logger.ErrorContext(ctx, "camera event: list members", "camera", camera, "err", err)
		return
	}
	now := s.Now()
	for _, m := range ms {
		if (m.Expires.IsZero() || now.Before(m.Expires)) && slices.Contains(m.Cameras, camera) {
			s.notify(ctx, m.AccountID, api.NoticeCameraEvent, d)
		}
	}
}
