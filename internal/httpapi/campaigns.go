package httpapi

// Annotation campaigns, the owner's side (issue 8). The operator creates a
// campaign on the admin socket with the public key its annotating
// organisation made; porchlightd never holds the private half. An owner
// donates one clip at a time: the owner's device has the hub redact it
// (a redaction job of purpose donate, sealed to the campaign key and the
// owner device) and signs a seal.Consent naming the campaign, its key and
// that job. Only a consent that verifies against the household's current
// roster lets the job's sealed result become a campaign copy: nothing
// enters a campaign without one. The owner lists consents and withdraws
// one: the copy's blob is deleted and its labels are cleared (the row
// stays as a tombstone). Retention expiry does the same (ExpireDonations).
// Every step is in the household's audit log (class consent); a donation
// is logged before the copy becomes visible to annotators.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auditlog"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// Bounds of a campaign.
const (
	maxCampaignPurpose = 500
	maxRetentionDays   = seal.MaxRetentionDays
)

func apiCampaign(c store.Campaign) api.Campaign {
	return api.Campaign{ID: c.ID, Purpose: c.Purpose, Classes: slices.Clone(c.Classes), RetentionDays: c.RetentionDays,
		Org: c.Org, Country: c.Country, Recipient: c.Recipient, Created: c.Created}
}

// checkClasses returns the classes cleaned: a non-empty subset of
// api.CampaignClasses without repeats.
func checkClasses(in []string) ([]string, error) {
	var out []string
	for _, c := range in {
		c = strings.ToLower(strings.TrimSpace(c))
		if !slices.Contains(api.CampaignClasses, c) {
			return nil, errInvalid(fmt.Sprintf("class %q is not one of %s", c, strings.Join(api.CampaignClasses, ", ")))
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, errInvalid("classes must name at least one of " + strings.Join(api.CampaignClasses, ", "))
	}
	return out, nil
}

// adminCreateCampaign is POST /admin/campaigns (admin socket).
func (s *Server) adminCreateCampaign(w http.ResponseWriter, r *http.Request) error {
	var in api.AdminCampaignCreate
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	if err := checkText("purpose", in.Purpose, true); err != nil {
		return err
	}
	classes, err := checkClasses(in.Classes)
	if err != nil {
		return err
	}
	if in.RetentionDays < 1 || in.RetentionDays > maxRetentionDays {
		return errInvalid(fmt.Sprintf("retention_days must be 1 to %d", maxRetentionDays))
	}
	org, country, err := staffOrg(in.Org, in.Country)
	if err != nil {
		return err
	}
	if org == "" || country == "" {
		return errInvalid("org and country are required: owners are shown who labels their clips and where")
	}
	if _, err := seal.ParseRecipient(in.Recipient); err != nil {
		return errInvalid("recipient must be the campaign key's age1pq… recipient (porchlight campaign key prints it)")
	}
	c := store.Campaign{ID: seal.NewID(), Purpose: strings.TrimSpace(in.Purpose), Classes: classes, RetentionDays: in.RetentionDays,
		Org: org, Country: country, Recipient: in.Recipient, Created: s.Now().UTC()}
	if err := s.Store.CreateCampaign(r.Context(), c); err != nil {
		return fmt.Errorf("create campaign: %w", err)
	}
	addLog(r, "campaign", c.ID)
	s.Logger.InfoContext(r.Context(), "admin: campaign created", "campaign", c.ID, "org", c.Org, "country", c.Country)
	writeJSON(w, http.StatusCreated, apiCampaign(c))
	return nil
}

// adminListCampaigns is GET /admin/campaigns (admin socket).
func (s *Server) adminListCampaigns(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.Store.Campaigns(r.Context())
	if err != nil {
		return fmt.Errorf("list campaigns: %w", err)
	}
	out := api.Campaigns{Campaigns: []api.Campaign{}}
	for _, c := range cs {
		out.Campaigns = append(out.Campaigns, apiCampaign(c))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// campaigns is GET /v1/campaigns (customers): every campaign, so an owner
// can read what a donation would be for before making one.
func (s *Server) campaigns(w http.ResponseWriter, r *http.Request, _ *caller) error {
	return s.adminListCampaigns(w, r)
}

// consentBody is the log body of a donation event.
func consentBody(actor auditlog.Actor, action, decision string, d store.Donation, c store.Campaign, detail string) auditlog.Body {
	return auditlog.Body{Actor: actor, Action: action, Resource: "consent:" + d.ID, Decision: decision,
		GrantHash: seal.SHA256Hex(d.Consent),
		Detail: fmt.Sprintf("campaign %s (%q, %s, %s, %d days) camera %s job %s: %s",
			c.ID, c.Purpose, c.Org, c.Country, c.RetentionDays, d.CameraID, d.Job, detail)}
}

// donate is POST /v1/campaigns/{id}/donations (owner): a consent and the
// redaction job whose result becomes the campaign copy.
func (s *Server) donate(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	camp, err := s.Store.Campaign(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound("no such campaign")
	}
	if err != nil {
		return fmt.Errorf("load campaign: %w", err)
	}
	addLog(r, "campaign", id)
	var in api.DonationCreate
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	if !seal.ValidID(in.Job) {
		return errInvalid("job must be the id of a done redaction job of purpose donate")
	}
	if len(in.Consent) == 0 {
		return errInvalid("a donation needs the consent record signed by an owner device: nothing enters a campaign without one")
	}
	ro, err := s.currentRoster(ctx, c.household)
	if err != nil {
		return fmt.Errorf("load roster: %w", err)
	}
	if ro == nil {
		return errConflict("the household has no roster yet, so no device can sign a consent: pair a device first")
	}
	con, err := seal.VerifyConsent(in.Consent, ro)
	if err != nil {
		s.recordOwner(r, c, api.AuditConsent, "donation_refused", "campaign:"+camp.ID, "consent refused: "+err.Error())
		return errForbidden("the consent is not signed by an owner device of this household's roster: " + err.Error())
	}
	now := s.Now()
	switch {
	case con.Campaign != camp.ID || con.Recipient != camp.Recipient:
		return errInvalid("the consent names another campaign or campaign key")
	case con.Purpose != camp.Purpose || con.Org != camp.Org || con.Country != camp.Country || con.RetentionDays != camp.RetentionDays:
		return errInvalid("the consent's purpose, organisation, country or retention differ from the campaign's: show the owner the campaign again")
	case con.Job != in.Job:
		return errInvalid("the consent names another redaction job")
	case con.Created.After(now.Add(5*time.Minute)) || con.Created.Before(now.Add(-24*time.Hour)):
		return errInvalid("the consent must be signed within the last 24 hours")
	}
	job, err := s.Store.Redaction(ctx, in.Job)
	if errors.Is(err, store.ErrNotFound) || err == nil && job.HouseholdID != c.household {
		return errNotFound("no such redaction job")
	}
	if err != nil {
		return fmt.Errorf("load redaction job: %w", err)
	}
	if job.Purpose != "donate" || job.Campaign != camp.ID || job.CameraID != con.Camera {
		return errInvalid("the redaction job was not made to donate this camera's clip to this campaign")
	}
	if _, err := s.Store.Donation(ctx, con.ID); err == nil {
		return errConflict("this consent was used already")
	}
	d := store.Donation{ID: con.ID, HouseholdID: c.household, CampaignID: camp.ID, CameraID: con.Camera, Job: in.Job,
		Consent: in.Consent, State: api.DonationActive, Created: now.UTC(),
		Expires: now.UTC().Add(time.Duration(camp.RetentionDays) * 24 * time.Hour)}
	// Logged before the copy exists: annotators may see it the moment the
	// row does.
	if err := s.recordNow(ctx, c.household, api.AuditConsent, consentBody(s.requestActor(r, c, c.household), "donated", "allowed", d, camp,
		fmt.Sprintf("clip %s–%s donated; expires %s", con.From.UTC().Format(time.RFC3339), con.To.UTC().Format(time.RFC3339), d.Expires.Format(time.RFC3339)))); err != nil {
		return err
	}
	if d.BlobKey, d.Size, d.SHA256, err = s.takeDonationResult(ctx, c.household, in.Job); err != nil {
		s.recordAsync(ctx, c.household, api.AuditConsent, consentBody(s.requestActor(r, c, c.household), "donation_failed", "failed", d, camp,
			"nothing entered the campaign: "+logText(err)))
		return err
	}
	if err := s.Store.CreateDonation(ctx, d); err != nil {
		_ = s.Blobs.Delete(context.WithoutCancel(ctx), d.BlobKey)
		s.recordAsync(ctx, c.household, api.AuditConsent, consentBody(s.requestActor(r, c, c.household), "donation_failed", "failed", d, camp, err.Error()))
		if errors.Is(err, store.ErrConflict) {
			return errConflict("this consent or job was donated already")
		}
		return fmt.Errorf("store donation: %w", err)
	}
	addLog(r, "consent", d.ID)
	writeJSON(w, http.StatusCreated, apiConsent(d, camp))
	return nil
}

// takeDonationResult moves a done donate job's sealed result into the
// campaign copy (takeRedactionResult marks the job consumed).
func (s *Server) takeDonationResult(ctx context.Context, household, job string) (string, int64, string, error) {
	key, size, sha, err := s.takeRedactionResult(ctx, household, job, "donate")
	if err != nil {
		return "", 0, "", err
	}
	if key == "" {
		return "", 0, "", errConflict("the redaction job has no result: run the donation again")
	}
	return key, size, sha, nil
}

func apiConsent(d store.Donation, c store.Campaign) api.Consent {
	out := api.Consent{ID: d.ID, Campaign: d.CampaignID, Purpose: c.Purpose, Org: c.Org, Country: c.Country, Camera: d.CameraID,
		Job: d.Job, State: d.State, Size: d.Size, Labelled: len(d.Labels) > 0, Created: d.Created, ExpiresAt: d.Expires,
		EndedAt: d.Ended, Signed: d.Consent}
	if con, err := seal.ParseConsent(d.Consent); err == nil {
		out.From, out.To = con.From, con.To
	}
	return out
}

// consents is GET /v1/consents (owner): the household's donations,
// withdrawn and expired ones included, newest first.
func (s *Server) consents(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	ds, err := s.Store.HouseholdDonations(ctx, c.household)
	if err != nil {
		return fmt.Errorf("list donations: %w", err)
	}
	out := api.Consents{Consents: []api.Consent{}}
	camps := map[string]store.Campaign{}
	for _, d := range ds {
		d = s.lapseDonation(ctx, d)
		camp, ok := camps[d.CampaignID]
		if !ok {
			if camp, err = s.Store.Campaign(ctx, d.CampaignID); err != nil {
				return fmt.Errorf("load campaign: %w", err)
			}
			camps[d.CampaignID] = camp
		}
		out.Consents = append(out.Consents, apiConsent(d, camp))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// withdrawConsent is POST /v1/consents/{id}/withdraw (owner): the copy is
// deleted and its labels cleared; the row stays as a tombstone.
func (s *Server) withdrawConsent(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	d, err := s.Store.Donation(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && d.HouseholdID != c.household {
		return errNotFound("no such consent")
	}
	if err != nil {
		return fmt.Errorf("load donation: %w", err)
	}
	addLog(r, "consent", id)
	d = s.lapseDonation(ctx, d)
	if d.State != api.DonationActive {
		return errConflict(fmt.Sprintf("this consent is %s already: its copy is gone", d.State))
	}
	ended, err := s.endDonation(ctx, d, api.DonationWithdrawn, s.requestActor(r, c, c.household))
	if errors.Is(err, store.ErrConflict) {
		return errConflict("this consent ended meanwhile: list consents again")
	}
	if err != nil {
		return err
	}
	camp, err := s.Store.Campaign(ctx, ended.CampaignID)
	if err != nil {
		return fmt.Errorf("load campaign: %w", err)
	}
	writeJSON(w, http.StatusOK, apiConsent(ended, camp))
	return nil
}

// endDonation deletes a donation's copy, then ends its row (state
// withdrawn or expired: blob key and labels cleared), and logs it. It
// returns the tombstone.
func (s *Server) endDonation(ctx context.Context, d store.Donation, state string, actor auditlog.Actor) (store.Donation, error) {
	if d.BlobKey != "" {
		if err := s.Blobs.Delete(ctx, d.BlobKey); err != nil {
			return store.Donation{}, fmt.Errorf("delete campaign copy: %w", err)
		}
	}
	now := s.Now().UTC()
	before, err := s.Store.EndDonation(ctx, d.ID, state, now)
	if err != nil {
		return store.Donation{}, fmt.Errorf("end donation: %w", err)
	}
	camp, err := s.Store.Campaign(ctx, d.CampaignID)
	if err != nil {
		camp = store.Campaign{ID: d.CampaignID}
	}
	labelled := "no labels"
	if len(before.Labels) > 0 {
		labelled = "its labels deleted and excluded from every later export"
	}
	action := "consent_withdrawn"
	if state == api.DonationExpired {
		action = "consent_expired"
	}
	s.recordAsync(ctx, d.HouseholdID, api.AuditConsent, consentBody(actor, action, "done", before, camp,
		fmt.Sprintf("campaign copy (%d bytes) deleted; %s", before.Size, labelled)))
	s.Logger.InfoContext(ctx, "campaign copy ended", "consent", d.ID, "campaign", d.CampaignID, "state", state)
	tomb := before
	tomb.State, tomb.Ended, tomb.BlobKey, tomb.Labels, tomb.LabelsBy, tomb.LabelsUpdated = state, now, "", nil, "", time.Time{}
	return tomb, nil
}

// lapseDonation ends an active donation whose retention ran out and
// returns it as it is now.
func (s *Server) lapseDonation(ctx context.Context, d store.Donation) store.Donation {
	if d.State != api.DonationActive || s.Now().Before(d.Expires) {
		return d
	}
	ended, err := s.endDonation(ctx, d, api.DonationExpired, auditlog.Actor{Kind: api.ActorService})
	if err != nil {
		if !errors.Is(err, store.ErrConflict) {
			s.Logger.ErrorContext(ctx, "expire campaign copy", "consent", d.ID, "err", err)
		}
		if fresh, err := s.Store.Donation(ctx, d.ID); err == nil {
			return fresh
		}
		d.State = api.DonationExpired
		return d
	}
	return ended
}

// ExpireDonations ends every campaign copy whose retention ran out: the
// copy is deleted, its labels cleared, the row kept as a tombstone, and
// the owner's log says so. It returns how many. porchlightd runs it
// periodically; every listing also checks expiry itself.
func (s *Server) ExpireDonations(ctx context.Context) (int, error) {
	s.init()
	due, err := s.Store.DueDonations(ctx, s.Now().UTC())
	if err != nil {
		return 0, fmt.Errorf("list due donations: %w", err)
	}
	n := 0
	for _, d := range due {
		if s.lapseDonation(ctx, d).State == api.DonationExpired {
			n++
		}
	}
	return n, nil
}
