package hub

// Events: what the hub reports besides recordings — doorbell presses,
// cameras going offline and back, and (with detection) objects moving in a
// zone. Each is a seal.Event signed by the hub and sealed to the camera's
// current epoch recipient, with an optional sealed JPEG thumbnail, queued
// in the spool like segments so nothing is lost while the service is
// unreachable. The service learns only that an object of kind "event"
// exists at a minute.

import (
	"errors"
	"fmt"
	"time"

	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/spool"
)

// errUnknownCamera answers an event for a camera the hub does not record.
var errUnknownCamera = errors.New("no camera of that name on this hub")

// emitLocked seals ev (and thumb, a JPEG, if any) to the current epoch and
// queues both. The caller holds r.mu. ev's ids, times and kind are set by
// the caller; the household, camera, hub and epoch are filled here.
func (r *recorder) emitLocked(ev seal.Event, thumb []byte) error {
	at := ev.Start
	if at.IsZero() {
		at = r.h.m.Now()
		ev.Start = at
	}
	if err := r.ensureEpochLocked(r.h.m.Now()); err != nil {
		return fmt.Errorf("epoch for the event: %w", err)
	}
	ev.Household, ev.Camera, ev.Hub, ev.Epoch = r.h.household(), r.id, r.h.key.ID, r.epoch.ID
	if ev.ID == "" {
		ev.ID = seal.NewID()
	}
	if ev.Version == 0 {
		ev.Version = 1
	}
	if len(thumb) > 0 {
		ct, err := seal.SealTo(thumb, r.recipient)
		if err != nil {
			return fmt.Errorf("seal thumbnail: %w", err)
		}
		sum := seal.SHA256Hex(ct)
		id := seal.NewID()
		r.h.out.put(spool.Item{ID: id, Kind: spool.KindThumb, Body: ct, BodySHA256: sum, Meta: spool.Meta{
			Camera: r.id, Epoch: r.epoch.ID, Time: at, SHA256: sum,
		}})
		ev.Thumb, ev.ThumbSHA256 = id, sum
	}
	ct, err := seal.SealEvent(r.h.key.Sign, r.recipient, ev)
	if err != nil {
		return fmt.Errorf("seal event: %w", err)
	}
	sum := seal.SHA256Hex(ct)
	r.h.out.put(spool.Item{ID: seal.NewID(), Kind: spool.KindEvent, Body: ct, BodySHA256: sum, Meta: spool.Meta{
		Camera: r.id, Epoch: r.epoch.ID, Time: at, SHA256: sum,
	}})
	r.h.stats.events.Add(1)
	r.log.Info("event", "kind", ev.Kind, "id", ev.ID, "version", ev.Version, "classes", ev.Classes)
	return nil
}

// emit is emitLocked for callers outside the recorder's lock.
func (r *recorder) emit(ev seal.Event, thumb []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.emitLocked(ev, thumb)
}

// Doorbell records a press of the doorbell of the named camera as a
// high-priority event, now. It is what the local doorbell endpoint and the
// MQTT subscription call.
func (h *Hub) Doorbell(camera, source string) error {
	for _, r := range h.recs {
		if r.name == camera {
			now := h.m.Now().UTC()
			r.activate(now)
			return r.emit(seal.Event{Kind: seal.EventDoorbell, Priority: seal.PriorityHigh, Start: now, End: now, Detail: "pressed (" + source + ")"}, nil)
		}
	}
	return fmt.Errorf("%w: %q", errUnknownCamera, camera)
}

// stateEventLocked records a camera going offline or coming back. The
// caller holds r.mu.
func (r *recorder) stateEventLocked(online bool, since time.Time, cause error) {
	now := r.h.m.Now().UTC()
	ev := seal.Event{Kind: seal.EventOffline, Start: now, End: now}
	if online {
		ev.Kind = seal.EventOnline
		if !since.IsZero() {
			ev.Start = since.UTC()
			ev.Detail = fmt.Sprintf("recording again after %s", now.Sub(since).Round(time.Second))
		}
	} else if cause != nil {
		ev.Detail = "the camera stopped answering"
	}
	if err := r.emitLocked(ev, nil); err != nil {
		r.log.Error("camera state event not queued", "online", online, "err", err)
	}
}
