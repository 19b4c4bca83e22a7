package httpapi

// Redaction jobs (issue 8). An owner device sends a job — owner-signed,
// sealed to the camera's hub, carrying the epoch identities of exactly the
// clip's segments — to POST /v1/redactions. The camera's hub long-polls
// GET /v1/hub/redactions, fetches the ciphertext of its own cameras'
// segments (GET /v1/hub/objects/{id}), redacts, and uploads the result
// sealed to the job's outputs (PUT /v1/hub/redactions/{id}/result), or
// says why it failed. The owner polls the job and downloads the sealed
// result. The service stores both sealed blobs and reads neither: nothing
// here opens anything. Every step is in the owner's audit log (class
// api.AuditDeclassification). A result not taken (takeRedactionResult)
// is deleted redactionResultTTL after it arrived (ExpireRedactions).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auditlog"
	"github.com/porchlight/porchlight/internal/blob"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

const (
	// MaxRedactionJob bounds a sealed job.
	MaxRedactionJob = 2 << 20
	// maxRedactionError bounds a hub's failure text.
	maxRedactionError = 1000
	// redactionResultTTL is how long an untaken result is kept.
	redactionResultTTL = 24 * time.Hour
	// redactionStale is when a running job is handed out again (its hub
	// restarted mid-job).
	redactionStale = 15 * time.Minute
	// maxRedactionWait bounds one hub long poll; redactionRecheck is how
	// often it re-reads the store (jobs made through another replica).
	maxRedactionWait = 30 * time.Second
	redactionRecheck = time.Second
	// redactionBatch bounds the jobs handed out per poll.
	redactionBatch = 4
)

// redactionBlob is a new blob key for a job's sealed result: one per
// upload, so a late or repeated upload never overwrites or deletes the
// result the job records.
func redactionBlob(id string) string { return "r" + id + seal.NewID() }

func apiRedaction(r store.Redaction) api.Redaction {
	out := api.Redaction{ID: r.ID, Camera: r.CameraID, Purpose: r.Purpose, Campaign: r.Campaign, State: r.State, Error: r.Error,
		Created: r.Created, Updated: r.Updated}
	if r.State == api.RedactionDone {
		out.ResultSize, out.ResultSHA256 = r.ResultSize, r.ResultSHA256
	}
	return out
}

// recordRedaction records one step of a job in its household's log.
func (s *Server) recordRedaction(ctx context.Context, actor auditlog.Actor, rd store.Redaction, action, decision, detail string) {
	s.recordAsync(ctx, rd.HouseholdID, api.AuditDeclassification, auditlog.Body{
		Actor: actor, Action: action, Resource: "redaction:" + rd.ID, Decision: decision,
		Detail: fmt.Sprintf("camera %s, purpose %s%s; %s", rd.CameraID, rd.Purpose, campaignText(rd.Campaign), detail),
	})
}

func campaignText(c string) string {
	if c == "" {
		return ""
	}
	return ", campaign " + c
}

func hubActor(hb *store.Hub) auditlog.Actor {
	return auditlog.Actor{Kind: api.ActorHub, Hub: hb.ID}
}

// createRedaction is POST /v1/redactions (owner): stores a sealed job for
// the camera's hub. It is logged before it is stored: a job the owner's
// log does not show is never run.
func (s *Server) createRedaction(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in api.RedactionCreate
	if err := decodeJSON(w, r, MaxRedactionJob*2, &in); err != nil {
		return err
	}
	if !seal.ValidID(in.ID) {
		return errInvalid("id must be a new random id (seal.NewID)")
	}
	if !seal.ValidID(in.Camera) {
		return errInvalid("malformed camera")
	}
	switch {
	case in.Purpose == seal.PurposePublish && in.Campaign == "":
	case in.Purpose == seal.PurposeDonate && seal.ValidID(in.Campaign):
	default:
		return errInvalid("purpose must be publish (no campaign) or donate (with a campaign id)")
	}
	if len(in.Sealed) > MaxRedactionJob {
		return errTooLarge(fmt.Sprintf("sealed job larger than %d bytes", MaxRedactionJob))
	}
	if err := seal.CheckAgeFile(in.Sealed); err != nil {
		return errInvalidf(err, "sealed must be the job sealed to the camera's hub (an age file)")
	}
	notFound := errNotFound("no such camera")
	cam, err := s.Store.Camera(r.Context(), in.Camera)
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return fmt.Errorf("load camera: %w", err)
	}
	if err := s.cameraAccess(r, c, cam, false, notFound); err != nil {
		if hh := cam.HouseholdID; hh != c.household {
			s.recordAsync(r.Context(), hh, api.AuditDenial, auditlog.Body{
				Actor: s.requestActor(r, c, hh), Action: "denied", Resource: "route:POST /v1/redactions camera:" + cam.ID,
				Decision: "denied", Detail: "only the household's owner may ask for a redacted copy",
			})
		}
		return err
	}
	now := s.Now().UTC()
	rd := store.Redaction{ID: in.ID, HouseholdID: cam.HouseholdID, CameraID: cam.ID, HubID: cam.HubID, Purpose: in.Purpose,
		Campaign: in.Campaign, State: api.RedactionPending, Sealed: in.Sealed, Created: now, Updated: now}
	if old, err := s.Store.Redaction(r.Context(), in.ID); err == nil {
		if old.HouseholdID == c.household && bytes.Equal(old.Sealed, in.Sealed) {
			writeJSON(w, http.StatusOK, apiRedaction(old)) // an idempotent retry
			return nil
		}
		return errConflict("a redaction job with this id exists: pick a new random id")
	}
	if err := s.recordNow(r.Context(), cam.HouseholdID, api.AuditDeclassification, auditlog.Body{
		Actor: s.requestActor(r, c, cam.HouseholdID), Action: "redaction_requested", Resource: "redaction:" + in.ID, Decision: "allowed",
		Detail: fmt.Sprintf("camera %s, purpose %s%s; job of %d sealed bytes (sha256 %s) for hub %s", cam.ID, in.Purpose,
			campaignText(in.Campaign), len(in.Sealed), seal.SHA256Hex(in.Sealed), cam.HubID),
	}); err != nil {
		return err
	}
	err = s.Store.CreateRedaction(r.Context(), rd)
	if errors.Is(err, store.ErrConflict) {
		return errConflict("a redaction job with this id exists: pick a new random id")
	}
	if err != nil {
		return err
	}
	s.redactionNews.appended()
	addLog(r, "redaction", rd.ID, "camera", cam.ID)
	writeJSON(w, http.StatusCreated, apiRedaction(rd))
	return nil
}

// ownRedaction loads the job in the path for its household's owner. A
// member of the household gets 403, anyone else 404 as for a missing
// job; both are logged in the household's log.
func (s *Server) ownRedaction(r *http.Request, c *caller) (store.Redaction, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return store.Redaction{}, err
	}
	notFound := errNotFound("no such redaction job")
	rd, err := s.Store.Redaction(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return rd, notFound
	}
	if err != nil {
		return rd, fmt.Errorf("load redaction: %w", err)
	}
	if rd.HouseholdID == c.household && c.household != "" {
		addLog(r, "redaction", id)
		return rd, nil
	}
	denial := notFound
	status := http.StatusNotFound
	if _, err := s.Store.Membership(r.Context(), rd.HouseholdID, c.account); err == nil {
		denial, status = s.denied(r, c, "only the household's owner sees its redaction jobs"), http.StatusForbidden
	}
	s.recordAsync(r.Context(), rd.HouseholdID, api.AuditDenial, auditlog.Body{
		Actor: s.requestActor(r, c, rd.HouseholdID), Action: "denied", Resource: "route:" + r.Pattern + " " + id,
		Decision: "denied", Status: status, Detail: "not the household's owner",
	})
	return rd, denial
}

// redaction is GET /v1/redactions/{id} (owner).
func (s *Server) redaction(w http.ResponseWriter, r *http.Request, c *caller) error {
	rd, err := s.ownRedaction(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apiRedaction(rd))
	return nil
}

// redactionResult is GET /v1/redactions/{id}/result (owner): the sealed
// result, while it is kept.
func (s *Server) redactionResult(w http.ResponseWriter, r *http.Request, c *caller) error {
	rd, err := s.ownRedaction(r, c)
	if err != nil {
		return err
	}
	if rd.State != api.RedactionDone || rd.ResultKey == "" {
		return errConflict("the job has no result (state " + rd.State + "): wait until it is done")
	}
	rc, size, err := s.Blobs.Get(r.Context(), rd.ResultKey)
	if errors.Is(err, blob.ErrNotFound) {
		return errNotFound("the result is no longer kept: make a new redaction job")
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	s.recordRedaction(r.Context(), s.requestActor(r, c, rd.HouseholdID), rd, "redaction_result_fetched", "allowed",
		fmt.Sprintf("sealed result of %d bytes", size))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		s.Logger.InfoContext(r.Context(), "redaction result download cut short", "redaction", rd.ID, "err", err)
	}
	return nil
}

// hubRedactions is GET /v1/hub/redactions?wait=25s (hub): the pending jobs
// of its cameras, handed out once (they become running). With wait, held
// until one arrives or wait passes.
func (s *Server) hubRedactions(w http.ResponseWriter, r *http.Request, hb *store.Hub) error {
	wait, err := waitParam(r, maxRedactionWait)
	if err != nil {
		return err
	}
	ctx, done := s.hubPoll(r, "hub-redaction-poll:", hb)
	defer done()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(redactionRecheck)
	defer tick.Stop()
	for {
		news, closing := s.redactionNews.wait()
		now := s.Now().UTC()
		jobs, err := s.Store.ClaimRedactions(ctx, hb.ID, now, now.Add(-redactionStale), redactionBatch)
		if err != nil {
			if r.Context().Err() != nil {
				return nil
			}
			return err
		}
		if len(jobs) > 0 || wait == 0 || closing {
			out := api.HubRedactions{Jobs: []api.HubRedaction{}}
			for _, j := range jobs {
				out.Jobs = append(out.Jobs, api.HubRedaction{ID: j.ID, Camera: j.CameraID, Sealed: j.Sealed})
				s.recordRedaction(r.Context(), hubActor(hb), j, "redaction_started", "allowed", "the hub took the job")
			}
			addLog(r, "jobs", len(jobs))
			writeJSON(w, http.StatusOK, out)
			return nil
		}
		select {
		case <-news:
		case <-tick.C:
		case <-deadline.C:
			wait = 0
		case <-ctx.Done():
			if r.Context().Err() != nil {
				return nil // the hub left
			}
			wait = 0 // shutting down: answer now
		}
	}
}

// hubObject is GET /v1/hub/objects/{id} (hub): the ciphertext of an
// object of one of its own cameras, for a redaction job. Another hub's
// object is reported exactly like a missing one.
func (s *Server) hubObject(w http.ResponseWriter, r *http.Request, hb *store.Hub) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	notFound := errNotFound("no such object of this hub's cameras")
	o, err := s.Store.Object(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return err
	}
	cam, err := s.Store.Camera(r.Context(), o.CameraID)
	if errors.Is(err, store.ErrNotFound) || err == nil && (cam.HubID != hb.ID || cam.HouseholdID != hb.HouseholdID || o.HouseholdID != hb.HouseholdID) {
		return notFound
	}
	if err != nil {
		return err
	}
	return s.streamObject(w, r, id)
}

// hubRedaction loads a running job of hub hb.
func (s *Server) hubRedaction(r *http.Request, hb *store.Hub) (store.Redaction, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return store.Redaction{}, err
	}
	rd, err := s.Store.Redaction(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || err == nil && (rd.HubID != hb.ID || rd.HouseholdID != hb.HouseholdID) {
		return rd, errNotFound("no such redaction job of this hub")
	}
	if err != nil {
		return rd, err
	}
	if rd.State != api.RedactionRunning {
		return rd, errConflict("the job is " + rd.State + ", not running: take it from GET /v1/hub/redactions first")
	}
	addLog(r, "redaction", id)
	return rd, nil
}

// headReader keeps the first bytes read through it and hashes all.
type headReader struct {
	r    io.Reader
	h    hash.Hash
	head []byte
	n    int64
}

func (hr *headReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	if room := 64<<10 - len(hr.head); room > 0 {
		hr.head = append(hr.head, p[:min(n, room)]...)
	}
	hr.n += int64(n)
	return n, err
}

// putRedactionResult is PUT /v1/hub/redactions/{id}/result (hub): the
// sealed result of a running job of its own, streamed to the blob store.
func (s *Server) putRedactionResult(w http.ResponseWriter, r *http.Request, hb *store.Hub) error {
	rd, err := s.hubRedaction(r, hb)
	if err != nil {
		return err
	}
	want := strings.ToLower(r.Header.Get(api.HeaderSHA256))
	if b, err := hex.DecodeString(want); err != nil || len(b) != sha256.Size {
		return errInvalid(api.HeaderSHA256 + " must be the hex SHA-256 of the body")
	}
	if r.ContentLength < 0 {
		return &httpError{http.StatusLengthRequired, "length_required", "send Content-Length with the result", nil}
	}
	if r.ContentLength > api.MaxRedactionResult {
		return errTooLarge(fmt.Sprintf("a redaction result may be at most %d bytes", api.MaxRedactionResult))
	}
	if err := s.checkQuota(r.Context(), rd.HouseholdID, r.ContentLength); err != nil {
		return err
	}
	key := redactionBlob(rd.ID)
	hr := &headReader{r: http.MaxBytesReader(w, r.Body, api.MaxRedactionResult), h: sha256.New()}
	if err := s.Blobs.Put(r.Context(), key, hr, r.ContentLength); err != nil {
		if errors.Is(err, blob.ErrSize) {
			return &httpError{http.StatusBadRequest, api.CodeCorrupt, "body shorter than Content-Length: the upload was cut short on the way; send it again", err}
		}
		return fmt.Errorf("store redaction result: %w", err)
	}
	drop := func() {
		if err := s.Blobs.Delete(context.WithoutCancel(r.Context()), key); err != nil {
			s.Logger.WarnContext(r.Context(), "remove refused redaction result", "redaction", rd.ID, "err", err)
		}
	}
	sum := hex.EncodeToString(hr.h.Sum(nil))
	if sum != want {
		drop()
		return &httpError{http.StatusBadRequest, api.CodeCorrupt, "body hash does not match " + api.HeaderSHA256 + ": the upload was damaged or cut short on the way; send it again", nil}
	}
	if err := seal.CheckAgeFile(hr.head); err != nil {
		drop()
		return errInvalidf(err, "the result must be sealed to the job's outputs (an age file): the service stores ciphertext only")
	}
	now := s.Now().UTC()
	err = s.Store.FinishRedaction(r.Context(), rd.ID, hb.ID, store.RedactionFinish{State: api.RedactionDone, ResultKey: key,
		ResultSize: hr.n, ResultSHA256: sum, Time: now, Expires: now.Add(redactionResultTTL)})
	if err != nil {
		drop()
		if errors.Is(err, store.ErrConflict) {
			return errConflict("the job is no longer running")
		}
		return err
	}
	s.recordRedaction(r.Context(), hubActor(hb), rd, "redaction_done", "done",
		fmt.Sprintf("sealed result of %d bytes, sha256 %s, kept until %s unless taken", hr.n, sum, now.Add(redactionResultTTL).Format(time.RFC3339)))
	return noContent(w)
}

// failRedaction is POST /v1/hub/redactions/{id}/fail (hub).
func (s *Server) failRedaction(w http.ResponseWriter, r *http.Request, hb *store.Hub) error {
	rd, err := s.hubRedaction(r, hb)
	if err != nil {
		return err
	}
	var in api.RedactionFail
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	msg := strings.TrimSpace(in.Error)
	if msg == "" || !utf8.ValidString(msg) {
		return errInvalid("error must say why the job failed")
	}
	if len(msg) > maxRedactionError {
		msg = strings.ToValidUTF8(msg[:maxRedactionError], "") + "…"
	}
	err = s.Store.FinishRedaction(r.Context(), rd.ID, hb.ID, store.RedactionFinish{State: api.RedactionFailed, Error: msg, Time: s.Now().UTC()})
	if errors.Is(err, store.ErrConflict) {
		return errConflict("the job is no longer running")
	}
	if err != nil {
		return err
	}
	s.recordRedaction(r.Context(), hubActor(hb), rd, "redaction_failed", "failed", msg)
	return noContent(w)
}

// takeRedactionResult hands a done job's sealed result to another flow
// (publishing, a campaign donation) once: the job of household with that
// purpose is marked consumed, and the blob (key, size, hex SHA-256) is
// the caller's to copy or move; it is no longer expired by
// ExpireRedactions. Errors are httpErrors ready to return.
func (s *Server) takeRedactionResult(ctx context.Context, household, jobID, purpose string) (blobKey string, size int64, sha string, err error) {
	if !seal.ValidID(jobID) {
		return "", 0, "", errInvalid("malformed redaction job id")
	}
	rd, err := s.Store.ConsumeRedaction(ctx, household, jobID, purpose, s.Now().UTC())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", 0, "", errNotFound("no such redaction job")
	case errors.Is(err, store.ErrConflict):
		return "", 0, "", errConflict("the redaction job has no result to take (not done, taken already, of another purpose or expired): make a new job")
	case err != nil:
		return "", 0, "", err
	}
	s.recordRedaction(ctx, auditlog.Actor{Kind: api.ActorService}, rd, "redaction_result_taken", "done", "the result is taken for "+purpose)
	return rd.ResultKey, rd.ResultSize, rd.ResultSHA256, nil
}

// ExpireRedactions deletes the results nobody took within
// redactionResultTTL; it returns how many. porchlightd calls it
// periodically.
func (s *Server) ExpireRedactions(ctx context.Context) (int, error) {
	s.init()
	now := s.Now().UTC()
	n := 0
	for {
		due, err := s.Store.ExpiredRedactions(ctx, now, 100)
		if err != nil {
			return n, err
		}
		for _, rd := range due {
			if err := s.Blobs.Delete(ctx, rd.ResultKey); err != nil {
				return n, fmt.Errorf("delete redaction result %s: %w", rd.ID, err)
			}
			if err := s.Store.ExpireRedaction(ctx, rd.ID, now); err != nil && !errors.Is(err, store.ErrConflict) {
				return n, err
			}
			n++
			s.recordRedaction(ctx, auditlog.Actor{Kind: api.ActorService}, rd, "redaction_expired", "done", "the untaken result is deleted")
		}
		if len(due) < 100 {
			return n, nil
		}
	}
}
