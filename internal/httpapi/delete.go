package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/blob"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// purgeBatch is how many objects one step of Purge deletes.
const purgeBatch = 500

// Purged is what Purge deleted.
type Purged struct {
	Manifests, Segments int
	Bytes               int64
	// Epochs are the epochs the deleted objects belonged to, sorted.
	Epochs []string
}

// Purge deletes, batch after batch until list returns none, the objects
// list selects: metadata first, then blobs, so a crash leaves at worst
// orphan blobs that porchlightd's start sweeps. A blob that fails to
// delete is logged and left to that sweep. Retention and the deletion
// routes share it.
func Purge(ctx context.Context, st store.Store, blobs blob.Store, log *slog.Logger, list func(limit int) ([]store.Object, error)) (p Purged, err error) {
	epochs := map[string]bool{}
	defer func() {
		for e := range epochs {
			p.Epochs = append(p.Epochs, e)
		}
		sort.Strings(p.Epochs)
	}()
	for {
		objs, err := list(purgeBatch)
		if err != nil {
			return p, fmt.Errorf("list objects to delete: %w", err)
		}
		if len(objs) == 0 {
			return p, nil
		}
		ids := make([]string, len(objs))
		for i, o := range objs {
			ids[i] = o.ID
		}
		if err := st.DeleteObjects(ctx, ids); err != nil {
			return p, fmt.Errorf("delete objects: %w", err)
		}
		for _, o := range objs {
			if err := blobs.Delete(ctx, o.ID); err != nil {
				log.WarnContext(ctx, "delete blob", "object", o.ID, "err", err)
			}
			epochs[o.EpochID] = true
			p.Bytes += o.Size
			if o.Kind == api.ObjectManifest {
				p.Manifests++
			} else {
				p.Segments++
			}
		}
	}
}

// deleteCameraData is POST /v1/cameras/{id}/delete (owner, recent
// sign-in): it deletes a time range and shreds epochs (see
// api.CameraDelete) and answers a receipt.
func (s *Server) deleteCameraData(w http.ResponseWriter, r *http.Request, c *caller) error {
	cam, err := s.ownCamera(r, c)
	if err != nil {
		return err
	}
	var in api.CameraDelete
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	ranged := !in.From.IsZero() || !in.To.IsZero()
	switch {
	case !ranged && len(in.ShredEpochs) == 0:
		return errInvalid("nothing to delete: send from and to, shred_epochs, or both")
	case ranged && (in.From.IsZero() || in.To.IsZero()):
		return errInvalid("send both from and to (RFC 3339 times)")
	case ranged && in.To.Before(in.From):
		return errInvalid("to is before from")
	case len(in.ShredEpochs) > MaxWraps:
		return errTooLarge(fmt.Sprintf("more than %d epochs in shred_epochs", MaxWraps))
	}
	for i, id := range in.ShredEpochs {
		if !seal.ValidID(id) {
			return errInvalid(fmt.Sprintf("shred_epochs[%d]: malformed epoch id", i))
		}
		e, err := s.Store.Epoch(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && e.CameraID != cam.ID) {
			return errInvalid(fmt.Sprintf("shred_epochs[%d]: %s is not an epoch of this camera", i, id))
		}
		if err != nil {
			return fmt.Errorf("load epoch: %w", err)
		}
	}
	addLog(r, "camera", cam.ID)
	rc := api.DeletionReceipt{ID: seal.NewID(), CameraID: cam.ID, At: s.Now().UTC(), ShreddedEpochs: []string{}}
	if ranged {
		// Stored times are coarse (to the minute): widen the range to
		// whole minutes so that what it covers goes.
		from, to := in.From.UTC().Truncate(time.Minute), in.To.UTC().Truncate(time.Minute)
		rc.From, rc.To = in.From.UTC(), in.To.UTC()
		p, err := Purge(r.Context(), s.Store, s.Blobs, s.Logger, func(limit int) ([]store.Object, error) {
			return s.Store.RangeObjects(r.Context(), cam.ID, from, to, limit)
		})
		rc.Manifests, rc.Segments, rc.Bytes = p.Manifests, p.Segments, p.Bytes
		if err != nil {
			return err
		}
		// An epoch with nothing left has nothing to protect: shred it.
		emptied, err := s.Store.ShredEmptyEpochs(r.Context(), p.Epochs)
		if err != nil {
			return fmt.Errorf("shred emptied epochs: %w", err)
		}
		rc.ShreddedEpochs = append(rc.ShreddedEpochs, emptied...)
	}
	if len(in.ShredEpochs) > 0 {
		n, err := s.Store.ShredEpochs(r.Context(), in.ShredEpochs)
		if err != nil {
			return fmt.Errorf("shred epochs: %w", err)
		}
		rc.WrapsDeleted += n
		rc.ShreddedEpochs = append(rc.ShreddedEpochs, in.ShredEpochs...)
	}
	slices.Sort(rc.ShreddedEpochs)
	rc.ShreddedEpochs = slices.Compact(rc.ShreddedEpochs)
	addLog(r, "receipt", rc.ID, "objects", rc.Manifests+rc.Segments, "shredded", len(rc.ShreddedEpochs))
	s.recordReceipt(r, c, rc)
	writeJSON(w, http.StatusOK, rc)
	return nil
}

// removeCamera is DELETE /v1/cameras/{id}?shred=true (owner, recent
// sign-in): it deletes every object of the camera, every wrap of its
// epochs' keys, the epochs and the camera, and answers a receipt. shred=true
// is required: the removal cannot be undone.
func (s *Server) removeCamera(w http.ResponseWriter, r *http.Request, c *caller) error {
	cam, err := s.ownCamera(r, c)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("shred") != "true" {
		return errInvalid("removing a camera destroys its recordings and their keys for good: add shred=true to confirm")
	}
	addLog(r, "camera", cam.ID)
	rc := api.DeletionReceipt{ID: seal.NewID(), CameraID: cam.ID, At: s.Now().UTC(), ShreddedEpochs: []string{}, CameraRemoved: true}
	p, err := Purge(r.Context(), s.Store, s.Blobs, s.Logger, func(limit int) ([]store.Object, error) {
		return s.Store.RangeObjects(r.Context(), cam.ID, time.Unix(0, 0), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), limit)
	})
	rc.Manifests, rc.Segments, rc.Bytes = p.Manifests, p.Segments, p.Bytes
	if err != nil {
		return err
	}
	eps, err := s.Store.Epochs(r.Context(), cam.ID, "")
	if err != nil {
		return fmt.Errorf("list epochs: %w", err)
	}
	for _, e := range eps {
		rc.ShreddedEpochs = append(rc.ShreddedEpochs, e.ID)
	}
	slices.Sort(rc.ShreddedEpochs)
	if rc.WrapsDeleted, err = s.Store.ShredEpochs(r.Context(), rc.ShreddedEpochs); err != nil {
		return fmt.Errorf("shred epochs: %w", err)
	}
	if err := s.Store.DeleteCamera(r.Context(), cam.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete camera: %w", err)
	}
	addLog(r, "receipt", rc.ID, "objects", rc.Manifests+rc.Segments, "shredded", len(rc.ShreddedEpochs))
	s.recordReceipt(r, c, rc)
	writeJSON(w, http.StatusOK, rc)
	return nil
}
