package httpapi

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// Owner uploads: PUT /v1/epochs/{id} and PUT /v1/objects/{id} are the
// hub's epoch and object uploads for an owner device that re-keys its
// household's history (`porchlight rekey`). They run the hub handlers'
// checks (storeEpoch, storeObject) with two differences: the camera must
// be one of the caller's household (members may not write), and an epoch
// announcement must be signed by an owner device of the household's latest
// roster, not by a hub. The hub routes never accept owner-signed
// announcements, and hubs never read manifests.

// ownerUploader is an owner session uploading to its household's cameras.
func (s *Server) ownerUploader(r *http.Request, c *caller) uploader {
	return uploader{
		household: c.household,
		camera: func(ctx context.Context, id string) error {
			notFound := errNotFound("no such camera")
			cam, err := s.Store.Camera(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return notFound
			}
			if err != nil {
				return fmt.Errorf("load camera: %w", err)
			}
			return s.cameraAccess(r, c, cam, false, notFound)
		},
		verifyEpoch: func(ctx context.Context, ann []byte) (*seal.EpochAnnouncement, error) {
			owners, err := s.rosterOwners(ctx, c.household)
			if err != nil {
				return nil, err
			}
			return seal.VerifyEpochFrom(ann, owners)
		},
		signerHelp: "an owner device of the household's latest roster",
	}
}

// rosterOwners returns the owner devices of a household's verified
// latest roster as trusted signers.
func (s *Server) rosterOwners(ctx context.Context, household string) (seal.Signers, error) {
	latest, err := s.currentRoster(ctx, household)
	if err != nil {
		return nil, fmt.Errorf("verify the stored roster: %w", err)
	}
	if latest == nil {
		return nil, errConflict("the household has no roster yet")
	}
	return latest.OwnerSigners(), nil
}

// putOwnerEpoch is PUT /v1/epochs/{id}: an owner-signed epoch with its wraps.
func (s *Server) putOwnerEpoch(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.storeEpoch(w, r, s.ownerUploader(r, c))
}

// putOwnerObject is PUT /v1/objects/{id}: a re-sealed segment or an
// owner-signed manifest (the service sees only ciphertext either way).
func (s *Server) putOwnerObject(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.storeObject(w, r, s.ownerUploader(r, c))
}

// MaxRetire bounds the objects one retire-epochs call deletes.
const MaxRetire = 10000

// retireEpochs is POST /v1/cameras/{id}/retire-epochs (owner, recent
// sign-in): after `porchlight rekey` stored the re-sealed copies, it
// deletes the listed objects, each of which must be of this camera and of
// one of the listed epochs, and crypto-shreds those epochs (every wrap).
// Unlike a ranged delete it leaves the re-sealed objects of the same
// minutes alone. It answers a deletion receipt.
func (s *Server) retireEpochs(w http.ResponseWriter, r *http.Request, c *caller) error {
	cam, err := s.ownCamera(r, c)
	if err != nil {
		return err
	}
	var in api.EpochRetire
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	switch {
	case len(in.Epochs) == 0:
		return errInvalid("nothing to retire: send the epochs (and their objects)")
	case len(in.Epochs) > MaxWraps:
		return errTooLarge(fmt.Sprintf("more than %d epochs", MaxWraps))
	case len(in.Objects) > MaxRetire:
		return errTooLarge(fmt.Sprintf("more than %d objects: retire fewer epochs at once", MaxRetire))
	}
	epochs := map[string]bool{}
	for i, id := range in.Epochs {
		if !seal.ValidID(id) {
			return errInvalid(fmt.Sprintf("epochs[%d]: malformed epoch id", i))
		}
		e, err := s.Store.Epoch(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && e.CameraID != cam.ID) {
			return errInvalid(fmt.Sprintf("epochs[%d]: %s is not an epoch of this camera", i, id))
		}
		if err != nil {
			return fmt.Errorf("load epoch: %w", err)
		}
		epochs[id] = true
	}
	objs := make([]store.Object, 0, len(in.Objects))
	for i, id := range in.Objects {
		if !seal.ValidID(id) {
			return errInvalid(fmt.Sprintf("objects[%d]: malformed object id", i))
		}
		o, err := s.Store.Object(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			continue // already gone: a retried call
		}
		if err != nil {
			return fmt.Errorf("load object: %w", err)
		}
		if o.CameraID != cam.ID || !epochs[o.EpochID] {
			return errInvalid(fmt.Sprintf("objects[%d]: %s is not an object of these epochs of this camera", i, id))
		}
		objs = append(objs, o)
	}
	addLog(r, "camera", cam.ID, "epochs", len(epochs), "objects", len(objs))
	rc := api.DeletionReceipt{ID: seal.NewID(), CameraID: cam.ID, At: s.Now().UTC(), ShreddedEpochs: []string{}}
	p, err := Purge(r.Context(), s.Store, s.Blobs, s.Logger, func(limit int) ([]store.Object, error) {
		n := min(limit, len(objs))
		batch := objs[:n]
		objs = objs[n:]
		return batch, nil
	})
	rc.Manifests, rc.Segments, rc.Bytes = p.Manifests, p.Segments, p.Bytes
	if err != nil {
		return err
	}
	ids := slices.Sorted(maps.Keys(epochs))
	if rc.WrapsDeleted, err = s.Store.ShredEpochs(r.Context(), ids); err != nil {
		return fmt.Errorf("shred epochs: %w", err)
	}
	rc.ShreddedEpochs = ids
	addLog(r, "receipt", rc.ID, "objects", rc.Manifests+rc.Segments, "shredded", len(ids))
	s.recordReceipt(r, c, rc)
	writeJSON(w, http.StatusOK, rc)
	return nil
}
