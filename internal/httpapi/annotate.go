package httpapi

// Annotation campaigns, the annotators' side (issue 8). An annotator
// (staff role annotator, whose account carries its organisation) sees only
// campaigns of its own organisation and only their active copies: each a
// redacted clip sealed to the campaign key, which the annotator's
// organisation holds and the service does not. Another organisation's
// campaign or copy answers 403, logged in the service log and, for a copy,
// as a denial in its household's audit log. Every fetch of a copy is in the
// household's audit log (class consent) before the bytes go out; every
// change of labels after. Labels are boxes of the campaign's classes only.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auditlog"
	"github.com/porchlight/porchlight/internal/blob"
	"github.com/porchlight/porchlight/internal/store"
)

// maxLabelBoxes bounds the boxes of one copy.
const maxLabelBoxes = 10000

// annotatorOrg returns the organisation of an annotator's account.
func (s *Server) annotatorOrg(r *http.Request, c *caller) (string, error) {
	a, err := s.Store.Account(r.Context(), c.account)
	if err != nil {
		return "", fmt.Errorf("load account: %w", err)
	}
	return strings.TrimSpace(a.Org), nil
}

// sameOrg reports whether an annotator of org may see campaign c. An
// annotator without an organisation sees nothing.
func sameOrg(org string, c store.Campaign) bool {
	return org != "" && strings.EqualFold(org, c.Org)
}

// annotateCampaigns is GET /v1/annotate/campaigns (annotator).
func (s *Server) annotateCampaigns(w http.ResponseWriter, r *http.Request, c *caller) error {
	org, err := s.annotatorOrg(r, c)
	if err != nil {
		return err
	}
	cs, err := s.Store.Campaigns(r.Context())
	if err != nil {
		return fmt.Errorf("list campaigns: %w", err)
	}
	out := api.Campaigns{Campaigns: []api.Campaign{}}
	for _, camp := range cs {
		if sameOrg(org, camp) {
			out.Campaigns = append(out.Campaigns, apiCampaign(camp))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// annotateCampaign loads the campaign in the path for an annotator of its
// organisation (others: 403, logged).
func (s *Server) annotateCampaign(r *http.Request, c *caller) (store.Campaign, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return store.Campaign{}, err
	}
	camp, err := s.Store.Campaign(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Campaign{}, errNotFound("no such campaign")
	}
	if err != nil {
		return store.Campaign{}, fmt.Errorf("load campaign: %w", err)
	}
	addLog(r, "campaign", id)
	org, err := s.annotatorOrg(r, c)
	if err != nil {
		return store.Campaign{}, err
	}
	if !sameOrg(org, camp) {
		return store.Campaign{}, s.denied(r, c, "this campaign belongs to another organisation")
	}
	return camp, nil
}

func (s *Server) apiTask(d store.Donation) api.Task {
	t := api.Task{ID: d.ID, Consent: d.ID, Campaign: d.CampaignID, Size: d.Size, SHA256: d.SHA256, Created: d.Created, Labels: []api.LabelBox{}}
	if len(d.Labels) > 0 {
		var l api.Labels
		if err := json.Unmarshal(d.Labels, &l); err == nil && l.Boxes != nil {
			t.Labels = l.Boxes
		}
	}
	return t
}

// annotateTasks is GET /v1/annotate/campaigns/{id}/tasks (annotator): the
// campaign's active copies, oldest first. Withdrawn and expired ones are
// never listed.
func (s *Server) annotateTasks(w http.ResponseWriter, r *http.Request, c *caller) error {
	camp, err := s.annotateCampaign(r, c)
	if err != nil {
		return err
	}
	ctx := r.Context()
	ds, err := s.Store.ActiveDonations(ctx, camp.ID)
	if err != nil {
		return fmt.Errorf("list copies: %w", err)
	}
	out := api.Tasks{Tasks: []api.Task{}}
	for _, d := range ds {
		if d = s.lapseDonation(ctx, d); d.State != api.DonationActive {
			continue
		}
		out.Tasks = append(out.Tasks, s.apiTask(d))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// annotateTask loads the copy in the path for an annotator of its
// campaign's organisation: others get 403, logged here and in the
// household's audit log; a withdrawn or expired copy is 410.
func (s *Server) annotateTask(r *http.Request, c *caller) (store.Donation, store.Campaign, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return store.Donation{}, store.Campaign{}, err
	}
	ctx := r.Context()
	d, err := s.Store.Donation(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Donation{}, store.Campaign{}, errNotFound("no such task")
	}
	if err != nil {
		return store.Donation{}, store.Campaign{}, fmt.Errorf("load task: %w", err)
	}
	addLog(r, "task", id)
	camp, err := s.Store.Campaign(ctx, d.CampaignID)
	if err != nil {
		return store.Donation{}, store.Campaign{}, fmt.Errorf("load campaign: %w", err)
	}
	org, err := s.annotatorOrg(r, c)
	if err != nil {
		return store.Donation{}, store.Campaign{}, err
	}
	if !sameOrg(org, camp) {
		err := s.denied(r, c, "this task belongs to another organisation's campaign")
		s.recordAsync(ctx, d.HouseholdID, api.AuditDenial, auditlog.Body{
			Actor: s.requestActor(r, c, d.HouseholdID), Action: "denied", Resource: "route:" + r.Pattern + " " + id,
			Decision: "denied", Status: http.StatusForbidden, Detail: "an annotator of another organisation asked for a campaign copy",
		})
		return store.Donation{}, store.Campaign{}, err
	}
	if d = s.lapseDonation(ctx, d); d.State != api.DonationActive {
		return store.Donation{}, store.Campaign{}, errGone("this clip's consent was " + d.State + ": the copy and its labels are gone")
	}
	return d, camp, nil
}

// annotateMedia is GET /v1/annotate/tasks/{id}/media (annotator): the
// copy, sealed to the campaign key. The fetch is in the household's log
// before the bytes go out.
func (s *Server) annotateMedia(w http.ResponseWriter, r *http.Request, c *caller) error {
	d, camp, err := s.annotateTask(r, c)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := s.recordNow(ctx, d.HouseholdID, api.AuditConsent, consentBody(s.requestActor(r, c, d.HouseholdID), "copy_fetched", "allowed", d, camp,
		"the campaign copy (sealed to the campaign key) was fetched by an annotator")); err != nil {
		return err
	}
	rc, size, err := s.Blobs.Get(ctx, d.BlobKey)
	if errors.Is(err, blob.ErrNotFound) {
		return errGone("the copy is gone")
	}
	if err != nil {
		return fmt.Errorf("open campaign copy: %w", err)
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		s.Logger.InfoContext(ctx, "campaign copy download cut short", "task", d.ID, "err", err)
	}
	return nil
}

// annotateLabels is GET /v1/annotate/tasks/{id}/labels (annotator).
func (s *Server) annotateLabels(w http.ResponseWriter, r *http.Request, c *caller) error {
	d, _, err := s.annotateTask(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.Labels{Boxes: s.apiTask(d).Labels})
	return nil
}

// checkLabels checks boxes against a campaign: its classes only, corners
// in 0..1 with x0 < x1 and y0 < y1, times not negative.
func checkLabels(l api.Labels, camp store.Campaign) error {
	if len(l.Boxes) > maxLabelBoxes {
		return errInvalid(fmt.Sprintf("at most %d boxes per task", maxLabelBoxes))
	}
	for i, b := range l.Boxes {
		if !slices.Contains(camp.Classes, b.Class) {
			return errInvalid(fmt.Sprintf("box %d: class %q is not one of this campaign's: %s", i, b.Class, strings.Join(camp.Classes, ", ")))
		}
		in := func(v float64) bool { return !math.IsNaN(v) && v >= 0 && v <= 1 }
		if !in(b.X0) || !in(b.Y0) || !in(b.X1) || !in(b.Y1) || b.X0 >= b.X1 || b.Y0 >= b.Y1 {
			return errInvalid(fmt.Sprintf("box %d: corners must be fractions 0..1 with x0 < x1 and y0 < y1", i))
		}
		if b.TMS < 0 {
			return errInvalid(fmt.Sprintf("box %d: t_ms must not be negative", i))
		}
	}
	return nil
}

// putAnnotateLabels is PUT /v1/annotate/tasks/{id}/labels (annotator):
// replaces the copy's boxes.
func (s *Server) putAnnotateLabels(w http.ResponseWriter, r *http.Request, c *caller) error {
	d, camp, err := s.annotateTask(r, c)
	if err != nil {
		return err
	}
	var in api.Labels
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	if in.Boxes == nil {
		in.Boxes = []api.LabelBox{}
	}
	if err := checkLabels(in, camp); err != nil {
		return err
	}
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode labels: %w", err)
	}
	ctx := r.Context()
	err = s.Store.PutLabels(ctx, d.ID, b, c.account, s.Now().UTC())
	if errors.Is(err, store.ErrConflict) {
		return errGone("this clip's consent ended meanwhile: the copy and its labels are gone")
	}
	if err != nil {
		return fmt.Errorf("store labels: %w", err)
	}
	s.recordAsync(ctx, d.HouseholdID, api.AuditConsent, consentBody(s.requestActor(r, c, d.HouseholdID), "labels_saved", "done", d, camp,
		fmt.Sprintf("%d boxes saved by an annotator", len(in.Boxes))))
	writeJSON(w, http.StatusOK, in)
	return nil
}
