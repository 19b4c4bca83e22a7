package httpapi

// The neighbours feed. Publishing is a declassification the owner's device
// does: it has the hub redact a clip, previews the result, and signs a
// seal.Publication naming exactly that file's SHA-256 and size, a title, a
// category, a 6-character geohash cell and a pseudonym for this post. The
// service cannot decrypt anything, so it cannot make a public object from
// private data; it only checks the record and the file and stores the file
// as a separate public blob beside the private original. It refuses (400,
// nothing stored) a record that does not verify against an owner device of
// the household's latest verified roster, a file whose hash, size or type
// differ, and any location but a valid cell: coordinates and finer
// geohashes never reach the store or the feed.
//
// Withdrawal (the owner) and removal (the operator, with a reason) delete
// the blob and keep a tombstone, so the post and its media answer 410.
// Every step is in the owner's audit log (class declassification): the
// publication before it is visible (recordNow), the rest as they happen.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auditlog"
	"github.com/porchlight/porchlight/internal/blob"
	"github.com/porchlight/porchlight/internal/geocell"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// Feed limits.
const (
	// MaxPublicMedia bounds a published MP4.
	MaxPublicMedia = 64 << 20
	// maxFeedBody bounds POST /v1/feed/posts: the media in base64 and the
	// record.
	maxFeedBody = MaxPublicMedia/3*4 + 4 + seal.MaxSigned + 4096
	// maxFeedList bounds one feed listing; maxFeedReason a reason.
	maxFeedList   = 200
	maxFeedReason = 500
	// defaultFeedRadius is the rings of neighbouring cells listed when the
	// query names none.
	defaultFeedRadius = 1
)

func errGone(msg string) error { return &httpError{http.StatusGone, "gone", msg, nil} }

// apiFeedPost is the public form of a post.
func apiFeedPost(p store.FeedPost) api.FeedPost {
	return api.FeedPost{ID: p.ID, Title: p.Title, Category: p.Category, Cell: p.Cell, Pseudonym: p.Pseudonym, Created: p.Created,
		Media: "/v1/feed/posts/" + p.ID + "/media", SHA256: p.SHA256, Size: p.Size}
}

// ownFeedPost is the owner's form: with state, reason and the record.
func ownFeedPost(p store.FeedPost) api.FeedPost {
	out := apiFeedPost(p)
	out.Mine, out.State, out.Reason, out.Ended, out.Record = true, p.State, p.Reason, p.Ended, p.Record
	return out
}

// isMP4 reports whether b starts like an ISO BMFF file: a box of type
// ftyp first.
func isMP4(b []byte) bool {
	return len(b) >= 12 && string(b[4:8]) == "ftyp"
}

// feedRefused records a refused publication in the owner's log and returns
// the 400 that answers it.
func (s *Server) feedRefused(r *http.Request, c *caller, post, why string) error {
	resource := "post:" + post
	if post == "" {
		resource = "post:unknown"
	}
	s.recordAsync(r.Context(), c.household, api.AuditDeclassification, auditlog.Body{
		Actor: s.requestActor(r, c, c.household), Action: "publish_refused", Resource: resource, Decision: "denied",
		Status: http.StatusBadRequest, Detail: "nothing was published: " + why,
	})
	return errInvalid("nothing was published: " + why)
}

// createFeedPost is POST /v1/feed/posts (owner).
func (s *Server) createFeedPost(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	// Hold at most MaxUploads bodies in memory.
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	case <-ctx.Done():
		return ctx.Err()
	}
	var in api.FeedPostCreate
	if err := decodeJSON(w, r, maxFeedBody, &in); err != nil {
		return err
	}
	if len(in.Media) > MaxPublicMedia {
		return errTooLarge(fmt.Sprintf("a published clip may be at most %d MiB: publish a shorter one", MaxPublicMedia>>20))
	}
	ro, err := s.currentRoster(ctx, c.household)
	if err != nil {
		return fmt.Errorf("load roster: %w", err)
	}
	if ro == nil {
		return errInvalid("nothing was published: your household has no roster yet, so no device can sign a publication")
	}
	p, err := seal.VerifyPublication(in.Record, ro)
	if err != nil {
		return s.feedRefused(r, c, "", "the record is not a publication signed by an owner device of your household's roster: "+err.Error())
	}
	addLog(r, "post", p.ID)
	switch {
	case int64(len(in.Media)) != p.Size || seal.SHA256Hex(in.Media) != p.SHA256:
		return s.feedRefused(r, c, p.ID, "the file is not the one the record was signed for (its SHA-256 or size differ): sign a record of exactly this file")
	case !isMP4(in.Media):
		return s.feedRefused(r, c, p.ID, "the file is not an MP4")
	}
	if _, err := s.Store.FeedPost(ctx, p.ID); err == nil {
		return errConflict("a post with this id exists: sign a new record with a new id")
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("load post: %w", err)
	}
	// The public blob has an id of its own, never the client's: a post id
	// cannot name (and so overwrite) another blob.
	// "p0…": never an object id (no 0 in base32), so the orphan sweep
	// after an unclean stop leaves public media to its post.
	fp := store.FeedPost{ID: p.ID, HouseholdID: c.household, Record: in.Record, BlobID: "p0" + seal.NewID(), SHA256: p.SHA256, Size: p.Size,
		Title: p.Title, Category: p.Category, Cell: p.Cell, Pseudonym: p.Pseudonym, State: store.FeedPublished, Created: s.Now().UTC()}
	if err := s.Blobs.Put(ctx, fp.BlobID, bytes.NewReader(in.Media), int64(len(in.Media))); err != nil {
		return fmt.Errorf("store public media: %w", err)
	}
	drop := func() {
		if err := s.Blobs.Delete(context.WithoutCancel(ctx), fp.BlobID); err != nil {
			s.Logger.ErrorContext(ctx, "delete unpublished media", "post", fp.ID, "err", err)
		}
	}
	// In the log before anyone can see it; if the log cannot be written,
	// nothing is published.
	if err := s.recordNow(ctx, c.household, api.AuditDeclassification, auditlog.Body{
		Actor: s.requestActor(r, c, c.household), Action: "publish", Resource: "post:" + p.ID, Decision: "allowed",
		Detail: fmt.Sprintf("published %q (%s) in cell %s as %s: MP4 sha256 %s, %d bytes, from redaction job %s; signed record sha256 %s",
			p.Title, p.Category, p.Cell, p.Pseudonym, p.SHA256, p.Size, p.Job, seal.PublicationHash(in.Record)),
	}); err != nil {
		drop()
		return err
	}
	if err := s.Store.CreateFeedPost(ctx, fp); err != nil {
		drop()
		s.recordAsync(ctx, c.household, api.AuditDeclassification, auditlog.Body{
			Actor: s.requestActor(r, c, c.household), Action: "publish_failed", Resource: "post:" + p.ID, Decision: "failed",
			Detail: "the post was not stored after all and its public copy is deleted: " + err.Error(),
		})
		if errors.Is(err, store.ErrConflict) {
			return errConflict("a post with this id exists: sign a new record with a new id")
		}
		return fmt.Errorf("store post: %w", err)
	}
	writeJSON(w, http.StatusCreated, ownFeedPost(fp))
	return nil
}

// feed is GET /v1/feed?cell=C[&radius=N] (any signed-in account): the
// published posts in the cell and its rings of neighbours, newest first;
// or GET /v1/feed?mine=1 (owner): the household's own posts, ended ones
// included.
func (s *Server) feed(w http.ResponseWriter, r *http.Request, c *caller) error {
	q := r.URL.Query()
	for k := range q {
		if k != "cell" && k != "radius" && k != "mine" {
			return errInvalid("unknown query parameter " + strconv.Quote(k) + ": the feed takes cell, radius (or mine=1); convert coordinates to a cell on your device")
		}
	}
	if q.Get("mine") != "" {
		if q.Get("mine") != "1" || q.Has("cell") || q.Has("radius") {
			return errInvalid("mine takes the value 1 and no cell or radius")
		}
		if c.household == "" {
			return s.denied(r, c, "staff accounts have no household, so no posts")
		}
		ps, err := s.Store.HouseholdFeedPosts(r.Context(), c.household)
		if err != nil {
			return fmt.Errorf("list own posts: %w", err)
		}
		out := api.Feed{Posts: make([]api.FeedPost, 0, len(ps))}
		for _, p := range ps {
			out.Posts = append(out.Posts, ownFeedPost(p))
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	cell := q.Get("cell")
	if !geocell.Valid(cell) {
		return errInvalid(fmt.Sprintf("cell must be a neighbourhood cell of %d lowercase geohash characters: coordinates and finer geohashes are refused (convert on your device, e.g. porchlight feed --lat --lon)", geocell.Precision))
	}
	radius := defaultFeedRadius
	if v := q.Get("radius"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > geocell.MaxRadius {
			return errInvalid(fmt.Sprintf("radius must be a number of rings of cells from 0 to %d", geocell.MaxRadius))
		}
		radius = n
	}
	cells := geocell.Near(cell, radius)
	ps, err := s.Store.FeedPosts(r.Context(), cells, maxFeedList)
	if err != nil {
		return fmt.Errorf("list feed: %w", err)
	}
	out := api.Feed{Cells: cells, Posts: make([]api.FeedPost, 0, len(ps))}
	for _, p := range ps {
		fp := apiFeedPost(p)
		fp.Mine = c.household != "" && p.HouseholdID == c.household
		out.Posts = append(out.Posts, fp)
	}
	addLog(r, "posts", len(out.Posts))
	writeJSON(w, http.StatusOK, out)
	return nil
}

// loadFeedPost loads the post in the path: 404 if there is none, 410 if
// it was withdrawn or removed.
func (s *Server) loadFeedPost(r *http.Request) (store.FeedPost, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return store.FeedPost{}, err
	}
	p, err := s.Store.FeedPost(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.FeedPost{}, errNotFound("no such post")
	}
	if err != nil {
		return store.FeedPost{}, fmt.Errorf("load post: %w", err)
	}
	addLog(r, "post", id)
	switch p.State {
	case store.FeedWithdrawn:
		return p, errGone("this post was withdrawn by its poster")
	case store.FeedRemoved:
		return p, errGone("this post was removed by the service's moderators")
	}
	return p, nil
}

// getFeedPost is GET /v1/feed/posts/{id} (any signed-in account).
func (s *Server) getFeedPost(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := s.loadFeedPost(r)
	if err != nil {
		return err
	}
	out := apiFeedPost(p)
	if c.household != "" && p.HouseholdID == c.household {
		out = ownFeedPost(p)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// feedMedia is GET /v1/feed/posts/{id}/media (any signed-in account): the
// public MP4.
func (s *Server) feedMedia(w http.ResponseWriter, r *http.Request, _ *caller) error {
	p, err := s.loadFeedPost(r)
	if err != nil {
		return err
	}
	rc, size, err := s.Blobs.Get(r.Context(), p.BlobID)
	if errors.Is(err, blob.ErrNotFound) {
		// Withdrawn between the check and now.
		return errGone("this post was withdrawn")
	}
	if err != nil {
		return fmt.Errorf("open public media: %w", err)
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "video/mp4")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		s.Logger.InfoContext(r.Context(), "public media download cut short", "post", p.ID, "err", err)
	}
	return nil
}

// withdrawFeedPost is DELETE /v1/feed/posts/{id} (the publishing
// household's owner): the blob is deleted, the post answers 410.
func (s *Server) withdrawFeedPost(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	p, err := s.loadFeedPost(r)
	if p.ID != "" && p.HouseholdID != c.household {
		return errNotFound("no such post of yours")
	}
	if err != nil {
		return err
	}
	before, err := s.Store.EndFeedPost(ctx, p.ID, store.FeedWithdrawn, "", s.Now().UTC())
	if errors.Is(err, store.ErrConflict) {
		return errGone("this post has already ended")
	}
	if err != nil {
		return fmt.Errorf("withdraw post: %w", err)
	}
	detail := s.dropFeedBlob(ctx, before)
	s.recordAsync(ctx, c.household, api.AuditDeclassification, auditlog.Body{
		Actor: s.requestActor(r, c, c.household), Action: "withdraw", Resource: "post:" + p.ID, Decision: "done",
		Detail: fmt.Sprintf("withdrew %q: MP4 sha256 %s %s", p.Title, p.SHA256, detail),
	})
	p.State, p.Ended = store.FeedWithdrawn, s.Now().UTC()
	writeJSON(w, http.StatusOK, ownFeedPost(p))
	return nil
}

// dropFeedBlob deletes an ended post's public blob and says how it went,
// for the log.
func (s *Server) dropFeedBlob(ctx context.Context, p store.FeedPost) string {
	if err := s.Blobs.Delete(context.WithoutCancel(ctx), p.BlobID); err != nil {
		s.Logger.ErrorContext(ctx, "delete public media", "post", p.ID, "err", err)
		return "(its public copy could not be deleted yet: " + err.Error() + ")"
	}
	return "(its public copy is deleted)"
}

// checkReason checks a report's or removal's reason.
func checkReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return "", errInvalid("reason is required: say what is wrong with the post")
	case len(reason) > maxFeedReason || !utf8.ValidString(reason) || strings.ContainsFunc(reason, unicode.IsControl):
		return "", errInvalid(fmt.Sprintf("reason must be UTF-8 text of at most %d bytes without control characters", maxFeedReason))
	}
	return reason, nil
}

// reportFeedPost is POST /v1/feed/posts/{id}/report (any signed-in
// account): once per account and post. The poster's log says that and why
// the post was reported, not by whom.
func (s *Server) reportFeedPost(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	p, err := s.loadFeedPost(r)
	if err != nil {
		return err
	}
	var in api.FeedReason
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	reason, err := checkReason(in.Reason)
	if err != nil {
		return err
	}
	err = s.Store.AddFeedReport(ctx, store.FeedReport{ID: seal.NewID(), PostID: p.ID, Reporter: c.account, Reason: reason, Created: s.Now().UTC()})
	switch {
	case errors.Is(err, store.ErrConflict):
		return errConflict("you have already reported this post")
	case errors.Is(err, store.ErrNotFound):
		return errGone("this post has ended")
	case err != nil:
		return fmt.Errorf("store report: %w", err)
	}
	s.recordAsync(ctx, p.HouseholdID, api.AuditDeclassification, auditlog.Body{
		Actor: auditlog.Actor{Kind: api.ActorCustomer}, Action: "post_reported", Resource: "post:" + p.ID, Reason: reason, Decision: "done",
		Detail: fmt.Sprintf("%q was reported to the service's moderators", p.Title),
	})
	return noContent(w)
}

// feedReports lists the reports of published posts for the operator.
func (s *Server) feedReports(ctx context.Context) (api.FeedReports, error) {
	reps, err := s.Store.FeedReports(ctx, 1000)
	if err != nil {
		return api.FeedReports{}, fmt.Errorf("list reports: %w", err)
	}
	out := api.FeedReports{Reports: make([]api.FeedReport, 0, len(reps))}
	posts := map[string]store.FeedPost{}
	for _, rep := range reps {
		p, ok := posts[rep.PostID]
		if !ok {
			if p, err = s.Store.FeedPost(ctx, rep.PostID); err != nil {
				continue // ended or gone since the listing
			}
			posts[rep.PostID] = p
		}
		out.Reports = append(out.Reports, api.FeedReport{ID: rep.ID, Post: apiFeedPost(p), Reason: rep.Reason, Created: rep.Created})
	}
	return out, nil
}

// opsFeedReports is GET /v1/ops/feed/reports (operator).
func (s *Server) opsFeedReports(w http.ResponseWriter, r *http.Request, _ *caller) error {
	out, err := s.feedReports(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// removeFeedPost ends a published post as the operator: the blob is
// deleted and the removal, with its reason, goes into the poster's log.
func (s *Server) removeFeedPost(ctx context.Context, id, reason string, actor auditlog.Actor) (api.FeedPost, error) {
	if !seal.ValidID(id) {
		return api.FeedPost{}, errInvalid("malformed post id")
	}
	reason, err := checkReason(reason)
	if err != nil {
		return api.FeedPost{}, err
	}
	p, err := s.Store.EndFeedPost(ctx, id, store.FeedRemoved, reason, s.Now().UTC())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return api.FeedPost{}, errNotFound("no such post")
	case errors.Is(err, store.ErrConflict):
		return api.FeedPost{}, errGone("this post has already ended")
	case err != nil:
		return api.FeedPost{}, fmt.Errorf("remove post: %w", err)
	}
	detail := s.dropFeedBlob(ctx, p)
	s.recordAsync(ctx, p.HouseholdID, api.AuditDeclassification, auditlog.Body{
		Actor: actor, Action: "post_removed", Resource: "post:" + p.ID, Reason: reason, Decision: "done",
		Detail: fmt.Sprintf("%q was removed by the service's moderators %s", p.Title, detail),
	})
	s.Logger.InfoContext(ctx, "feed post removed", "post", p.ID)
	p.State, p.Reason, p.Ended = store.FeedRemoved, reason, s.Now().UTC()
	out := apiFeedPost(p)
	out.State, out.Reason, out.Ended = p.State, p.Reason, p.Ended
	return out, nil
}

// opsRemoveFeedPost is POST /v1/ops/feed/posts/{id}/remove (operator).
func (s *Server) opsRemoveFeedPost(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in api.FeedReason
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	id := r.PathValue("id")
	addLog(r, "post", id)
	hh := ""
	if p, err := s.Store.FeedPost(r.Context(), id); err == nil {
		hh = p.HouseholdID
	}
	out, err := s.removeFeedPost(r.Context(), id, in.Reason, s.requestActor(r, c, hh))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// adminFeedReports is GET /admin/feed/reports on the admin socket.
func (s *Server) adminFeedReports(w http.ResponseWriter, r *http.Request) error {
	out, err := s.feedReports(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// adminFeedRemove is POST /admin/feed/remove on the admin socket.
func (s *Server) adminFeedRemove(w http.ResponseWriter, r *http.Request) error {
	var in api.AdminFeedRemove
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	addLog(r, "post", in.Post)
	out, err := s.removeFeedPost(r.Context(), in.Post, in.Reason, auditlog.Actor{Kind: api.ActorOperator})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
