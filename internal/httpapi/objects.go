package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/blob"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// --- hub: cameras and epochs ---

func (s *Server) putCamera(w http.ResponseWriter, r *http.Request, h *store.Hub) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in api.HubCamera
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	if len(in.Descriptor) > MaxDescriptor {
		return errTooLarge(fmt.Sprintf("descriptor larger than %d bytes", MaxDescriptor))
	}
	if err := seal.CheckAgeFile(in.Descriptor); err != nil {
		return errInvalidf(err, "descriptor must be a sealed camera descriptor (an age file)")
	}
	err = s.Store.PutCamera(r.Context(), store.Camera{
		ID: id, HubID: h.ID, HouseholdID: h.HouseholdID, Descriptor: in.Descriptor, Created: s.Now().UTC(),
	})
	if errors.Is(err, store.ErrConflict) {
		return errConflict("this camera id belongs to another hub: pick a new random id")
	}
	if err != nil {
		return err
	}
	addLog(r, "camera", id)
	return noContent(w)
}

// hubCamera loads a camera and checks that it belongs to hub h.
func (s *Server) hubCamera(ctx context.Context, h *store.Hub, id string) (store.Camera, error) {
	c, err := s.Store.Camera(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, errNotFound("unknown camera: PUT /v1/hub/cameras/{id} first")
	}
	if err != nil {
		return c, err
	}
	if c.HubID != h.ID || c.HouseholdID != h.HouseholdID {
		return c, errForbidden("the camera belongs to another hub")
	}
	return c, nil
}

// uploader is who stores epochs and objects: a hub for its own cameras
// (the routes under /v1/hub/), or an owner device re-keying history
// (owneruploads.go). The checks between them are the same.
type uploader struct {
	household string
	// camera fails unless the caller may write to the camera.
	camera func(ctx context.Context, id string) error
	// verifyEpoch checks an announcement's signature against the signers
	// the caller may speak for.
	verifyEpoch func(ctx context.Context, ann []byte) (*seal.EpochAnnouncement, error)
	// signerHelp completes "announcement must be an epoch announcement signed by …".
	signerHelp string
	// notifies: a new event object tells the household (hubs; not an
	// owner re-sealing history).
	notifies bool
}

// hubUploader is a hub uploading for its cameras: announcements must be
// signed by that hub, never by anyone else.
func (s *Server) hubUploader(h *store.Hub) uploader {
	return uploader{
		household: h.HouseholdID,
		camera: func(ctx context.Context, id string) error {
			_, err := s.hubCamera(ctx, h, id)
			return err
		},
		verifyEpoch: func(_ context.Context, ann []byte) (*seal.EpochAnnouncement, error) {
			return seal.VerifyEpoch(ann, h.Sign)
		},
		signerHelp: "this hub",
		notifies:   true,
	}
}

func (s *Server) putEpoch(w http.ResponseWriter, r *http.Request, h *store.Hub) error {
	return s.storeEpoch(w, r, s.hubUploader(h))
}

// storeEpoch is PUT of an epoch with its announcement and wraps.
func (s *Server) storeEpoch(w http.ResponseWriter, r *http.Request, up uploader) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in api.EpochPut
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	if !seal.ValidID(in.CameraID) {
		return errInvalid("malformed camera_id")
	}
	if err := up.camera(r.Context(), in.CameraID); err != nil {
		return err
	}
	ann, err := up.verifyEpoch(r.Context(), in.Announcement)
	if err != nil {
		return errInvalidf(err, "announcement must be an epoch announcement signed by %s", up.signerHelp)
	}
	if ann.Epoch != id || ann.Camera != in.CameraID || ann.Household != up.household {
		return errInvalid("the announcement names another epoch, camera or household")
	}
	if len(in.Wraps) > MaxWraps {
		return errTooLarge(fmt.Sprintf("more than %d wraps", MaxWraps))
	}
	wraps := make([]store.Wrap, 0, len(in.Wraps))
	for i, wr := range in.Wraps {
		if !seal.ValidID(wr.DeviceID) {
			return errInvalid(fmt.Sprintf("wraps[%d]: malformed device_id", i))
		}
		if len(wr.Data) > MaxWrap {
			return errTooLarge(fmt.Sprintf("wraps[%d]: larger than %d bytes", i, MaxWrap))
		}
		if err := seal.CheckAgeFile(wr.Data); err != nil {
			return errInvalidf(err, "wraps[%d]: must be an age file", i)
		}
		wraps = append(wraps, store.Wrap{DeviceID: wr.DeviceID, Data: wr.Data})
	}
	err = s.Store.PutEpoch(r.Context(), store.Epoch{ID: id, CameraID: in.CameraID, Announcement: in.Announcement, Created: s.Now().UTC()}, wraps)
	if errors.Is(err, store.ErrConflict) {
		return errConflict("this epoch id exists with another camera or announcement")
	}
	if err != nil {
		return err
	}
	addLog(r, "camera", in.CameraID, "epoch", id, "wraps", len(wraps))
	return noContent(w)
}

// --- hub: object upload ---

// uploadMeta is the parsed header set of an upload.
type uploadMeta struct {
	camera, epoch, kind, sha string
	coarse                   time.Time
	refs                     []string
}

func parseUploadHeaders(h http.Header) (uploadMeta, error) {
	var m uploadMeta
	m.camera, m.epoch, m.kind = h.Get(api.HeaderCamera), h.Get(api.HeaderEpoch), h.Get(api.HeaderKind)
	if !seal.ValidID(m.camera) {
		return m, errInvalid("missing or malformed " + api.HeaderCamera)
	}
	if !seal.ValidID(m.epoch) {
		return m, errInvalid("missing or malformed " + api.HeaderEpoch)
	}
	switch m.kind {
	case api.ObjectSegment, api.ObjectManifest, api.ObjectEvent, api.ObjectThumb:
	default:
		return m, errInvalid(api.HeaderKind + " must be " + api.ObjectSegment + ", " + api.ObjectManifest + ", " + api.ObjectEvent + " or " + api.ObjectThumb)
	}
	t, err := time.Parse(time.RFC3339, h.Get(api.HeaderTime))
	if err != nil || t.Year() < 2000 || t.Year() > 9999 {
		return m, errInvalid(api.HeaderTime + " must be an RFC 3339 time")
	}
	m.coarse = t.UTC().Truncate(time.Minute)
	m.sha = strings.ToLower(h.Get(api.HeaderSHA256))
	if b, err := hex.DecodeString(m.sha); err != nil || len(b) != sha256.Size {
		return m, errInvalid(api.HeaderSHA256 + " must be the hex SHA-256 of the body")
	}
	refs := h.Get(api.HeaderRefs)
	switch {
	case m.kind != api.ObjectManifest && refs != "":
		return m, errInvalid(api.HeaderRefs + " is for manifests only")
	case m.kind == api.ObjectManifest && refs == "":
		return m, errInvalid("a manifest needs " + api.HeaderRefs + ": the ids of the objects it lists")
	}
	if refs != "" {
		seen := map[string]bool{}
		for _, ref := range strings.Split(refs, ",") {
			ref = strings.TrimSpace(ref)
			if !seal.ValidID(ref) {
				return m, errInvalid("malformed id in " + api.HeaderRefs)
			}
			if !seen[ref] {
				seen[ref] = true
				m.refs = append(m.refs, ref)
			}
		}
		if len(m.refs) > MaxRefs {
			return m, errTooLarge(fmt.Sprintf("a manifest may list at most %d objects", MaxRefs))
		}
	}
	return m, nil
}

// putObject stores one object's ciphertext. Order matters for crash
// safety: the blob is written (atomically) before its metadata row, so a
// row never points at a missing blob; a crash in between leaves an orphan
// blob the janitor removes. Per id, check-write-insert run under a lock, so
// concurrent uploads of one id cannot interleave.
func (s *Server) putObject(w http.ResponseWriter, r *http.Request, h *store.Hub) error {
	return s.storeObject(w, r, s.hubUploader(h))
}

// storeObject is PUT of one object's ciphertext (see putObject).
func (s *Server) storeObject(w http.ResponseWriter, r *http.Request, up uploader) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	m, err := parseUploadHeaders(r.Header)
	if err != nil {
		return err
	}
	addLog(r, "camera", m.camera, "object", id, "kind", m.kind)
	limit := int64(MaxSegmentSize)
	switch m.kind {
	case api.ObjectManifest:
		limit = MaxManifestSize
	case api.ObjectEvent:
		limit = MaxEventSize
	case api.ObjectThumb:
		limit = MaxThumbSize
	}
	if r.ContentLength > limit {
		return errTooLarge(fmt.Sprintf("a %s may be at most %d bytes", m.kind, limit))
	}
	if err := up.camera(r.Context(), m.camera); err != nil {
		return err
	}
	ep, err := s.Store.Epoch(r.Context(), m.epoch)
	if errors.Is(err, store.ErrNotFound) {
		return errConflict("unknown epoch: PUT /v1/hub/epochs/{id} first")
	}
	if err != nil {
		return err
	}
	if ep.CameraID != m.camera {
		return errInvalid("the epoch belongs to another camera")
	}

	// Hold at most MaxUploads bodies in memory.
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	case <-r.Context().Done():
		return r.Context().Err()
	}
	body, err := readBody(w, r, limit, m.kind)
	if err != nil {
		return err
	}
	if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != m.sha {
		return &httpError{http.StatusBadRequest, api.CodeCorrupt, "body hash does not match " + api.HeaderSHA256 + ": the upload was damaged or cut short on the way; send it again", nil}
	}
	if err := seal.CheckAgeFile(body); err != nil {
		return errInvalidf(err, "the body is not an age-encrypted file: the service stores ciphertext only")
	}

	unlock := s.idLocks.lock(id)
	defer unlock()
	old, err := s.Store.Object(r.Context(), id)
	switch {
	case err == nil:
		if old.SHA256 != m.sha || old.CameraID != m.camera || old.Kind != m.kind {
			return errConflict("an object with this id exists with other content: pick a new random id")
		}
		// An idempotent retry. Repair the blob should it be missing.
		if _, err := s.Blobs.Stat(r.Context(), id); errors.Is(err, blob.ErrNotFound) {
			s.Logger.WarnContext(r.Context(), "object row without blob: rewriting", "object", id)
			if err := s.Blobs.Put(r.Context(), id, bytes.NewReader(body), int64(len(body))); err != nil {
				return err
			}
		}
		writeJSON(w, http.StatusOK, api.UploadResult{ID: id, Existed: true})
		return nil
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	if m.kind != api.ObjectManifest { // a manifest only lists what is stored: never strand segments
		if err := s.checkQuota(r.Context(), up.household, int64(len(body))); err != nil {
			return err
		}
	}
	if err := s.Blobs.Put(r.Context(), id, bytes.NewReader(body), int64(len(body))); err != nil {
		return fmt.Errorf("store blob: %w", err)
	}
	now := s.Now().UTC()
	existed, err := s.Store.PutObject(r.Context(), store.Object{
		ID: id, HouseholdID: up.household, CameraID: m.camera, EpochID: m.epoch, Kind: m.kind,
		CoarseTime: m.coarse, Size: int64(len(body)), SHA256: m.sha, Created: now,
	}, m.refs)
	if err != nil {
		// The id was new and we hold its lock: the blob is ours to remove.
		if derr := s.Blobs.Delete(context.WithoutCancel(r.Context()), id); derr != nil {
			s.Logger.WarnContext(r.Context(), "remove blob of refused upload", "object", id, "err", derr)
		}
		if errors.Is(err, store.ErrConflict) {
			return errConflict("an object with this id exists with other content: pick a new random id")
		}
		return err
	}
	status := http.StatusCreated
	if existed {
		status = http.StatusOK
	}
	writeJSON(w, status, api.UploadResult{ID: id, Existed: existed})
	if !existed && m.kind == api.ObjectEvent && up.notifies {
		s.notifyCameraEvent(r.Context(), up.household, m.camera, id, m.coarse)
	}
	return nil
}

// readBody reads an upload body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, kind string) ([]byte, error) {
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, errTooLarge(fmt.Sprintf("a %s may be at most %d bytes", kind, limit))
	case err != nil:
		return nil, &httpError{status: http.StatusBadRequest, code: api.CodeCorrupt, msg: "reading the body failed: the upload was cut short on the way; send it again", cause: err}
	case r.ContentLength >= 0 && int64(buf.Len()) != r.ContentLength:
		return nil, &httpError{status: http.StatusBadRequest, code: api.CodeCorrupt, msg: "body shorter than Content-Length: the upload was cut short on the way; send it again"}
	}
	return buf.Bytes(), nil
}

// --- owner: cameras, epochs, manifests, objects ---

// ownCamera loads the camera in the path for a route that changes it: the
// owner's only. Another household's camera is reported exactly like a
// missing one (see authz.go for members).
func (s *Server) ownCamera(r *http.Request, c *caller) (store.Camera, error) {
	return s.loadCamera(r, c, false)
}

func apiCamera(c store.Camera) api.Camera {
	return api.Camera{ID: c.ID, HubID: c.HubID, Descriptor: c.Descriptor, RetentionDays: c.RetentionDays, CreatedAt: c.Created, LastUpload: c.LastUpload}
}

func (s *Server) cameras(w http.ResponseWriter, r *http.Request, c *caller) error {
	cams, err := s.Store.Cameras(r.Context(), c.household)
	if err != nil {
		return err
	}
	out := make([]api.Camera, 0, len(cams))
	for _, cam := range cams {
		out = append(out, apiCamera(cam))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// MaxRetentionDays bounds a camera's retention.
const MaxRetentionDays = 36500

func (s *Server) updateCamera(w http.ResponseWriter, r *http.Request, c *caller) error {
	cam, err := s.ownCamera(r, c)
	if err != nil {
		return err
	}
	var in api.CameraUpdate
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	if in.RetentionDays != nil {
		d := *in.RetentionDays
		if d < 0 || d > MaxRetentionDays {
			return errInvalid(fmt.Sprintf("retention_days must be 0 (keep forever) to %d", MaxRetentionDays))
		}
		if err := s.Store.SetRetention(r.Context(), cam.ID, d); err != nil {
			return err
		}
	}
	return noContent(w)
}

func (s *Server) epochs(w http.ResponseWriter, r *http.Request, c *caller) error {
	cam, err := s.viewCamera(r, c)
	if err != nil {
		return err
	}
	device := r.URL.Query().Get("device")
	if !seal.ValidID(device) {
		return errInvalid("query parameter device must be this device's id")
	}
	es, err := s.Store.Epochs(r.Context(), cam.ID, device)
	if err != nil {
		return err
	}
	out := make([]api.Epoch, 0, len(es))
	for _, e := range es {
		out = append(out, api.Epoch{ID: e.ID, CameraID: e.CameraID, Announcement: e.Announcement, Wrap: e.Wrap, CreatedAt: e.Created})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func queryTime(q url.Values, name string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, q.Get(name))
	if err != nil {
		return t, errInvalid("query parameter " + name + " must be an RFC 3339 time")
	}
	return t.UTC(), nil
}

func (s *Server) manifests(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.listCamera(w, r, c, api.ObjectManifest, MaxManifestList, MaxManifestSize)
}

// listCamera answers GET /v1/cameras/{id}/{manifests,events}?from=&to=
// [&include=data] for the owner or an in-scope member: the camera's
// objects of kind whose coarse (minute) time is in [from − 1m, to + 1m].
func (s *Server) listCamera(w http.ResponseWriter, r *http.Request, c *caller, kind string, maxList int, maxData int64) error {
	cam, err := s.viewCamera(r, c)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	from, err := queryTime(q, "from")
	if err != nil {
		return err
	}
	to, err := queryTime(q, "to")
	if err != nil {
		return err
	}
	if to.Before(from) {
		return errInvalid("to is before from")
	}
	return s.writeObjects(w, r, cam.ID, kind, from.Add(-time.Minute), to.Add(time.Minute), maxList, maxData)
}

// writeManifests answers a manifest listing of camera with from <=
// CoarseTime <= to, with the ciphertext inline if the query asks
// include=data.
func (s *Server) writeManifests(w http.ResponseWriter, r *http.Request, camera string, from, to time.Time) error {
	return s.writeObjects(w, r, camera, api.ObjectManifest, from, to, MaxManifestList, MaxManifestSize)
}

// writeObjects answers a listing of camera's objects of one kind with
// from <= CoarseTime <= to (at most maxList, else 400), ordered by time
// then id, each with its ciphertext inline (up to maxData bytes) if the
// query asks include=data.
func (s *Server) writeObjects(w http.ResponseWriter, r *http.Request, camera, kind string, from, to time.Time, maxList int, maxData int64) error {
	include := r.URL.Query().Get("include")
	if include != "" && include != "data" {
		return errInvalid("include must be data or absent")
	}
	objs, err := s.Store.Objects(r.Context(), camera, kind, from, to, maxList+1)
	if err != nil {
		return err
	}
	if len(objs) > maxList {
		return errInvalid("more than " + strconv.Itoa(maxList) + " " + kind + "s in the range: ask for a shorter range")
	}
	out := api.Objects{Objects: make([]api.ObjectInfo, 0, len(objs))}
	for _, o := range objs {
		info := api.ObjectInfo{ID: o.ID, Kind: o.Kind, EpochID: o.EpochID, Time: o.CoarseTime, Size: o.Size, SHA256: o.SHA256}
		if include == "data" {
			data, err := s.readBlob(r.Context(), o.ID, maxData)
			if errors.Is(err, blob.ErrNotFound) {
				// Retention removed it between the listing and now.
				s.Logger.WarnContext(r.Context(), "listed object has no blob", "object", o.ID, "kind", kind)
				continue
			}
			if err != nil {
				return err
			}
			info.Data = data
		}
		out.Objects = append(out.Objects, info)
	}
	addLog(r, kind+"s", len(out.Objects))
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) readBlob(ctx context.Context, id string, limit int64) ([]byte, error) {
	rc, size, err := s.Blobs.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > limit {
		return nil, fmt.Errorf("blob %s: %d bytes, more than %d", id, size, limit)
	}
	return io.ReadAll(io.LimitReader(rc, limit))
}

// object streams an object's ciphertext after checking, in the store, that
// the caller may view its camera.
func (s *Server) object(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	id = s.TestHooks.objectID(id)
	notFound := errNotFound("no such object")
	o, err := s.Store.Object(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return err
	}
	cam, err := s.Store.Camera(r.Context(), o.CameraID)
	if errors.Is(err, store.ErrNotFound) || err == nil && cam.HouseholdID != o.HouseholdID {
		return notFound
	}
	if err != nil {
		return err
	}
	if err := s.cameraAccess(r, c, cam, true, notFound); err != nil {
		return err
	}
	return s.streamObject(w, r, id)
}

// streamObject writes an object's ciphertext; the caller has authorised
// the access.
func (s *Server) streamObject(w http.ResponseWriter, r *http.Request, id string) error {
	addLog(r, "object", id)
	rc, size, err := s.Blobs.Get(r.Context(), s.TestHooks.objectBlob(id))
	if errors.Is(err, blob.ErrNotFound) {
		return &httpError{status: http.StatusNotFound, code: "not_found", msg: "no such object", cause: err}
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		s.Logger.InfoContext(r.Context(), "object download cut short", "object", id, "err", err)
	}
	return nil
}
