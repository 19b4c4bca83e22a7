package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/blob"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// randomPath is an id no one made (the authorization matrix's campaign,
// consent and task ids).
func (w *world) randomPath(a actor, own bool) string { return seal.NewID() }

// campaignWorld is grantWorld (a household with recordings, its owner and
// a support agent) plus two campaigns of two organisations, each with its
// campaign key, and an annotator of each organisation.
type campaignWorld struct {
	*grantWorld
	camp, otherCamp     api.Campaign
	key, otherKey       *keys.Pair // the campaign keys (their KEM halves)
	annotator, outsider string     // bearer tokens: of camp's organisation, of the other
	annotatorKeys       []*keys.Pair
}

func newCampaignWorld(t *testing.T) *campaignWorld {
	w := &campaignWorld{grantWorld: newGrantWorld(t)}
	var err error
	if w.key, err = keys.Generate("campaign"); err != nil {
		t.Fatal(err)
	}
	if w.otherKey, err = keys.Generate("other campaign"); err != nil {
		t.Fatal(err)
	}
	w.camp = w.createCampaign("better night-time person detection", "Labelling Ltd", w.key)
	w.otherCamp = w.createCampaign("vehicle classes", "Other Org", w.otherKey)
	w.annotator = w.newStaff(api.RoleAnnotator, "Labelling Ltd")
	w.outsider = w.newStaff(api.RoleAnnotator, "Other Org")
	// The annotators' devices: keys they would hold (the web tool's), to
	// show nothing of the household is ever wrapped to them.
	for range 2 {
		k, err := keys.Generate("annotator device")
		if err != nil {
			t.Fatal(err)
		}
		w.annotatorKeys = append(w.annotatorKeys, k)
	}
	return w
}

func (w *campaignWorld) admin() (*acctEnv, func()) {
	ts := httptest.NewServer(w.e.srv.AdminHandler())
	return &acctEnv{t: w.e.t, url: ts.URL}, ts.Close
}

func (w *campaignWorld) createCampaign(purpose, org string, key *keys.Pair) api.Campaign {
	admin, done := w.admin()
	defer done()
	var c api.Campaign
	admin.must(http.StatusCreated, call{}, "POST", "/admin/campaigns", api.AdminCampaignCreate{Purpose: purpose,
		Classes: []string{"person", "animal", "vehicle"}, RetentionDays: 90, Org: org, Country: "de", Recipient: key.Recipient()}, &c)
	if c.Country != "DE" || c.Org != org || c.Recipient != key.Recipient() || len(c.Classes) != 3 {
		w.e.t.Fatalf("created campaign = %+v", c)
	}
	return c
}

func (w *campaignWorld) newStaff(role, org string) string {
	t := w.e.t
	admin, done := w.admin()
	defer done()
	email, password := role+"-"+randomHex(4)+"@labels.example.com", "staff badge "+randomHex(6)+" corridor"
	var out api.AdminStaffCreated
	admin.must(http.StatusCreated, call{}, "POST", "/admin/staff",
		api.AdminStaffCreate{Email: email, Role: role, Password: password, Org: org, Country: "DE"}, &out)
	secret, err := base32Raw.DecodeString(out.TOTPSecret)
	if err != nil {
		t.Fatal(err)
	}
	return w.e.loginTOTP(email, password, secret, "labelling desk").token
}

// copyPlain is the plaintext of a fake redaction result.
func copyPlain() []byte {
	return []byte("redaction header + ftyp....moov....mdat redacted " + randomHex(8))
}

// doneJob makes a done redaction job of purpose donate for campaign c (the
// hub's part, through the store), its result sealed to the campaign key
// and the owner device as the contract says, and returns the job id.
func (w *campaignWorld) doneJob(c api.Campaign, campaignKey age.Recipient) string {
	t, ctx, st := w.e.t, context.Background(), w.e.st
	now := w.e.clock.Now().UTC()
	id := seal.NewID()
	if err := st.CreateRedaction(ctx, store.Redaction{ID: id, HouseholdID: w.o.household, CameraID: w.camA, HubID: w.hub.keys.ID,
		Purpose: "donate", Campaign: c.ID, State: "pending", Sealed: ageBody(t), Created: now, Updated: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ClaimRedactions(ctx, w.hub.keys.ID, now, now.Add(-time.Hour), 10); err != nil {
		t.Fatal(err)
	}
	body, err := seal.SealTo(copyPlain(), campaignKey, w.o.dev.KEM.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	key := seal.NewID()
	if err := w.e.srv.Blobs.Put(ctx, key, bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishRedaction(ctx, id, w.hub.keys.ID, store.RedactionFinish{State: "done", ResultKey: key, ResultSize: int64(len(body)),
		ResultSHA256: seal.SHA256Hex(body), Time: now, Expires: now.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return id
}

// consent signs a consent for job to c with signer.
func (w *campaignWorld) consent(signer *keys.Pair, c api.Campaign, job string, edit func(*seal.Consent)) []byte {
	t := w.e.t
	con := seal.Consent{ID: seal.NewID(), Household: w.o.household, Campaign: c.ID, Recipient: c.Recipient, Purpose: c.Purpose, Org: c.Org,
		Country: c.Country, RetentionDays: c.RetentionDays, Camera: w.camA, From: w.base, To: w.base.Add(time.Minute), Job: job,
		Created: w.e.clock.Now().UTC()}
	if edit != nil {
		edit(&con)
	}
	signed, err := seal.SignConsent(signer.Sign, con)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// donate donates a fresh job's result to c under a valid consent.
func (w *campaignWorld) donate(c api.Campaign, key *keys.Pair) api.Consent {
	job := w.doneJob(c, key.KEM.Recipient())
	var out api.Consent
	w.e.must(http.StatusCreated, call{token: w.o.token}, "POST", "/v1/campaigns/"+c.ID+"/donations",
		api.DonationCreate{Consent: w.consent(w.o.dev, c, job, nil), Job: job}, &out)
	if out.State != api.DonationActive || out.Campaign != c.ID || out.Job != job || out.Org != c.Org {
		w.e.t.Fatalf("donation = %+v", out)
	}
	return out
}

func (w *campaignWorld) tasks(token string, c api.Campaign) []api.Task {
	var out api.Tasks
	w.e.must(http.StatusOK, call{token: token}, "GET", "/v1/annotate/campaigns/"+c.ID+"/tasks", nil, &out)
	return out.Tasks
}

// TestDonationNeedsConsent: nothing enters a campaign without a consent
// record signed by an owner device of the household, naming this
// campaign, its key, what the owner was shown and this job. Each refusal
// leaves no copy, no task and the job's result untaken; then a valid
// consent puts exactly one copy in the campaign, once.
func TestDonationNeedsConsent(t *testing.T) {
	w := newCampaignWorld(t)
	e := w.e
	job := w.doneJob(w.camp, w.key.KEM.Recipient())
	stranger, err := keys.Generate("not in the roster")
	if err != nil {
		t.Fatal(err)
	}
	path := "/v1/campaigns/" + w.camp.ID + "/donations"
	cases := []struct {
		name   string
		in     api.DonationCreate
		status int
	}{
		{"no consent record", api.DonationCreate{Job: job}, http.StatusBadRequest},
		{"not a consent", api.DonationCreate{Consent: []byte(`{"v":1}`), Job: job}, http.StatusForbidden},
		{"signed by a device outside the roster", api.DonationCreate{Consent: w.consent(stranger, w.camp, job, nil), Job: job}, http.StatusForbidden},
		{"signed by the hub", api.DonationCreate{Consent: w.consent(w.hub.keys, w.camp, job, nil), Job: job}, http.StatusForbidden},
		{"for another household", api.DonationCreate{Consent: w.consent(w.o.dev, w.camp, job, func(c *seal.Consent) { c.Household = seal.NewID() }), Job: job}, http.StatusForbidden},
		{"naming another campaign", api.DonationCreate{Consent: w.consent(w.o.dev, w.otherCamp, job, nil), Job: job}, http.StatusBadRequest},
		{"naming another campaign key", api.DonationCreate{Consent: w.consent(w.o.dev, w.camp, job, func(c *seal.Consent) { c.Recipient = w.otherKey.Recipient() }), Job: job}, http.StatusBadRequest},
		{"another retention than shown", api.DonationCreate{Consent: w.consent(w.o.dev, w.camp, job, func(c *seal.Consent) { c.RetentionDays = 30 }), Job: job}, http.StatusBadRequest},
		{"another organisation than shown", api.DonationCreate{Consent: w.consent(w.o.dev, w.camp, job, func(c *seal.Consent) { c.Org = "Nice Labels" }), Job: job}, http.StatusBadRequest},
		{"naming another job", api.DonationCreate{Consent: w.consent(w.o.dev, w.camp, seal.NewID(), nil), Job: job}, http.StatusBadRequest},
		{"signed long ago", api.DonationCreate{Consent: w.consent(w.o.dev, w.camp, job, func(c *seal.Consent) { c.Created = c.Created.Add(-48 * time.Hour) }), Job: job}, http.StatusBadRequest},
	}
	for _, tc := range cases {
		if st, msg := e.status(call{token: w.o.token}, "POST", path, tc.in); st != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, st, msg, tc.status)
		}
	}
	// A job made for another campaign cannot be donated to this one, even
	// with a consent naming it.
	otherJob := w.doneJob(w.otherCamp, w.otherKey.KEM.Recipient())
	if st, msg := e.status(call{token: w.o.token}, "POST", path, api.DonationCreate{Consent: w.consent(w.o.dev, w.camp, otherJob, nil), Job: otherJob}); st != http.StatusBadRequest {
		t.Errorf("another campaign's job: %d %s, want 400", st, msg)
	}
	ds, err := e.st.HouseholdDonations(t.Context(), w.o.household)
	if err != nil || len(ds) != 0 {
		t.Fatalf("donations after refusals = %d, %v; want none", len(ds), err)
	}
	if got := w.tasks(w.annotator, w.camp); len(got) != 0 {
		t.Fatalf("tasks after refusals = %+v, want none", got)
	}
	if rd, err := e.st.Redaction(t.Context(), job); err != nil || rd.Consumed {
		t.Fatalf("job after refusals: consumed %v, %v; want untaken", rd.Consumed, err)
	}

	// Now with a valid consent: one copy, once.
	con := w.consent(w.o.dev, w.camp, job, nil)
	var got api.Consent
	e.must(http.StatusCreated, call{token: w.o.token}, "POST", path, api.DonationCreate{Consent: con, Job: job}, &got)
	if got.State != api.DonationActive || !bytes.Equal(got.Signed, con) || got.Camera != w.camA || !got.From.Equal(w.base) {
		t.Errorf("donation = %+v", got)
	}
	if st, _ := e.status(call{token: w.o.token}, "POST", path, api.DonationCreate{Consent: con, Job: job}); st != http.StatusConflict {
		t.Errorf("the same consent again: %d, want 409", st)
	}
	if st, _ := e.status(call{token: w.o.token}, "POST", path, api.DonationCreate{Consent: w.consent(w.o.dev, w.camp, job, nil), Job: job}); st != http.StatusConflict {
		t.Errorf("the same job under a new consent: %d, want 409", st)
	}
	tasks := w.tasks(w.annotator, w.camp)
	if len(tasks) != 1 || tasks[0].Consent != got.ID {
		t.Fatalf("tasks = %+v, want the one copy with consent %s", tasks, got.ID)
	}
	// The copy is the job's sealed result; the campaign key opens it.
	w.media(w.annotator, tasks[0].ID, http.StatusOK)
	media := w.media(w.annotator, tasks[0].ID, http.StatusOK)
	if _, err := keys.Decrypt(media, w.key.KEM); err != nil {
		t.Errorf("the campaign key does not open the copy: %v", err)
	}
	if seal.SHA256Hex(media) != tasks[0].SHA256 {
		t.Error("the copy's hash differs from the task's")
	}

	log := w.ownerLog()
	if len(find(log, api.AuditConsent, "donation_refused", "campaign:"+w.camp.ID)) < 4 {
		t.Errorf("the refused consents are not in the owner's log (%d entries)", len(find(log, api.AuditConsent, "donation_refused", "")))
	}
	if len(find(log, api.AuditConsent, "donated", "consent:"+got.ID)) != 1 {
		t.Error("the donation is not in the owner's verified log")
	}
	if len(find(log, api.AuditConsent, "copy_fetched", "consent:"+got.ID)) != 2 {
		t.Error("the annotator's two fetches are not in the owner's verified log")
	}
}

// media fetches a task's copy and checks the status.
func (w *campaignWorld) media(token, task string, want int) []byte {
	t := w.e.t
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", w.e.url+"/v1/annotate/tasks/"+task+"/media", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Fatalf("media of %s: %d, want %d", task, resp.StatusCode, want)
	}
	return body
}

// TestWithdrawAndExpiry: withdrawing deletes the copy's blob and its
// labels, keeps a tombstone, and the copy leaves every listing; expiry at
// the end of the retention does the same; both are in the owner's log.
func TestWithdrawAndExpiry(t *testing.T) {
	w := newCampaignWorld(t)
	e := w.e
	kept, gone := w.donate(w.camp, w.key), w.donate(w.camp, w.key)
	boxes := api.Labels{Boxes: []api.LabelBox{{TMS: 500, Class: "person", X0: 0.1, Y0: 0.2, X1: 0.4, Y1: 0.9}}}
	for _, c := range []api.Consent{kept, gone} {
		e.must(http.StatusOK, call{token: w.annotator}, "PUT", "/v1/annotate/tasks/"+c.ID+"/labels", boxes, nil)
	}
	if st, _ := e.status(call{token: w.annotator}, "PUT", "/v1/annotate/tasks/"+kept.ID+"/labels",
		api.Labels{Boxes: []api.LabelBox{{Class: "giraffe", X0: 0, Y0: 0, X1: 1, Y1: 1}}}); st != http.StatusBadRequest {
		t.Errorf("a class outside the campaign: %d, want 400", st)
	}
	if st, _ := e.status(call{token: w.annotator}, "PUT", "/v1/annotate/tasks/"+kept.ID+"/labels",
		api.Labels{Boxes: []api.LabelBox{{Class: "person", X0: 0.5, Y0: 0, X1: 0.2, Y1: 1}}}); st != http.StatusBadRequest {
		t.Errorf("an inverted box: %d, want 400", st)
	}
	d, err := e.st.Donation(t.Context(), gone.ID)
	if err != nil {
		t.Fatal(err)
	}
	blobKey := d.BlobKey
	dk, err := e.st.Donation(t.Context(), kept.ID)
	if err != nil {
		t.Fatal(err)
	}
	keptBlob := dk.BlobKey

	var tomb api.Consent
	e.must(http.StatusOK, call{token: w.o.token}, "POST", "/v1/consents/"+gone.ID+"/withdraw", nil, &tomb)
	if tomb.State != api.DonationWithdrawn || tomb.EndedAt.IsZero() || tomb.Labelled {
		t.Errorf("withdrawn = %+v", tomb)
	}
	if _, err := e.srv.Blobs.Stat(t.Context(), blobKey); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("the copy's blob after withdrawal: %v, want gone", err)
	}
	d, err = e.st.Donation(t.Context(), gone.ID)
	if err != nil || d.State != api.DonationWithdrawn || d.Labels != nil || d.BlobKey != "" {
		t.Errorf("tombstone = %+v, %v", d, err)
	}
	tasks := w.tasks(w.annotator, w.camp)
	if len(tasks) != 1 || tasks[0].ID != kept.ID || len(tasks[0].Labels) != 1 {
		t.Errorf("tasks after withdrawal = %+v, want only %s with its labels", tasks, kept.ID)
	}
	w.media(w.annotator, gone.ID, http.StatusGone)
	if st, _ := e.status(call{token: w.annotator}, "GET", "/v1/annotate/tasks/"+gone.ID+"/labels", nil); st != http.StatusGone {
		t.Errorf("labels of a withdrawn copy: %d, want 410", st)
	}
	if st, _ := e.status(call{token: w.annotator}, "PUT", "/v1/annotate/tasks/"+gone.ID+"/labels", boxes); st != http.StatusGone {
		t.Errorf("labelling a withdrawn copy: %d, want 410", st)
	}
	if st, _ := e.status(call{token: w.o.token}, "POST", "/v1/consents/"+gone.ID+"/withdraw", nil); st != http.StatusConflict {
		t.Errorf("withdrawing twice: %d, want 409", st)
	}
	other := signup(t, e)
	if st, _ := e.status(call{token: other.token}, "POST", "/v1/consents/"+kept.ID+"/withdraw", nil); st != http.StatusNotFound {
		t.Errorf("another household withdrawing: %d, want 404", st)
	}

	// Retention: the sweep ends the other one at its expiry.
	e.clock.Advance(89 * 24 * time.Hour)
	if n, err := e.srv.ExpireDonations(t.Context()); err != nil || n != 0 {
		t.Fatalf("sweep before expiry = %d, %v", n, err)
	}
	e.clock.Advance(24 * time.Hour)
	if n, err := e.srv.ExpireDonations(t.Context()); err != nil || n != 1 {
		t.Fatalf("sweep at expiry = %d, %v; want 1", n, err)
	}
	if ad, err := e.st.ActiveDonations(t.Context(), w.camp.ID); err != nil || len(ad) != 0 {
		t.Errorf("active copies after expiry = %d, %v; want none", len(ad), err)
	}
	if _, err := e.srv.Blobs.Stat(t.Context(), keptBlob); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("the expired copy's blob: %v, want gone", err)
	}
	// 90 days on, every session has ended: the owner signs in again.
	w.o.token = e.loginTOTP(w.o.email, w.o.password, w.totp, "laptop").token
	var list api.Consents
	e.must(http.StatusOK, call{token: w.o.token}, "GET", "/v1/consents", nil, &list)
	states := map[string]string{}
	for _, c := range list.Consents {
		states[c.ID] = c.State
	}
	if states[kept.ID] != api.DonationExpired || states[gone.ID] != api.DonationWithdrawn || len(states) != 2 {
		t.Errorf("consents = %v, want %s expired and %s withdrawn", states, kept.ID, gone.ID)
	}

	log := w.ownerLog()
	if len(find(log, api.AuditConsent, "consent_withdrawn", "consent:"+gone.ID)) != 1 {
		t.Error("the withdrawal is not in the owner's verified log")
	}
	if len(find(log, api.AuditConsent, "consent_expired", "consent:"+kept.ID)) != 1 {
		t.Error("the expiry is not in the owner's verified log")
	}
	if len(find(log, api.AuditConsent, "labels_saved", "")) != 2 {
		t.Error("the labels saved are not in the owner's verified log")
	}
}

// TestAnnotatorsOfAnotherOrganisation: an annotator sees only its own
// organisation's campaigns; another organisation's campaign, copy and
// labels answer 403, in the service log and the household's audit log.
func TestAnnotatorsOfAnotherOrganisation(t *testing.T) {
	w := newCampaignWorld(t)
	e := w.e
	c := w.donate(w.camp, w.key)
	var mine api.Campaigns
	e.must(http.StatusOK, call{token: w.outsider}, "GET", "/v1/annotate/campaigns", nil, &mine)
	if len(mine.Campaigns) != 1 || mine.Campaigns[0].ID != w.otherCamp.ID {
		t.Errorf("the outsider's campaigns = %+v, want only %s", mine.Campaigns, w.otherCamp.ID)
	}
	before := strings.Count(e.logs.String(), "access denied")
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/annotate/campaigns/" + w.camp.ID + "/tasks"},
		{"GET", "/v1/annotate/tasks/" + c.ID + "/media"},
		{"GET", "/v1/annotate/tasks/" + c.ID + "/labels"},
		{"PUT", "/v1/annotate/tasks/" + c.ID + "/labels"},
	} {
		var body any
		if r.method == "PUT" {
			body = api.Labels{Boxes: []api.LabelBox{}}
		}
		if st, code := e.status(call{token: w.outsider}, r.method, r.path, body); st != http.StatusForbidden {
			t.Errorf("%s %s as another organisation's annotator: %d %s, want 403", r.method, r.path, st, code)
		}
	}
	if n := strings.Count(e.logs.String(), "access denied") - before; n != 4 {
		t.Errorf("%d denials in the service log, want 4", n)
	}
	// Support and owners are not annotators at all.
	if st, _ := e.status(call{token: w.support}, "GET", "/v1/annotate/tasks/"+c.ID+"/media", nil); st != http.StatusForbidden {
		t.Errorf("support fetching a copy: %d, want 403", st)
	}
	if st, _ := e.status(call{token: w.o.token}, "GET", "/v1/annotate/campaigns/"+w.camp.ID+"/tasks", nil); st != http.StatusForbidden {
		t.Errorf("an owner listing tasks: %d, want 403", st)
	}
	log := w.ownerLog()
	denied := find(log, api.AuditDenial, "denied", c.ID)
	if len(denied) != 3 {
		t.Fatalf("%d denials of the copy in the owner's log, want 3", len(denied))
	}
	if a := denied[0].Body.Actor; a.Org != "Other Org" || a.Kind != api.RoleAnnotator {
		t.Errorf("the denial names actor %+v, want the other organisation's annotator", a)
	}
}

// TestNoWrapToCampaignOrAnnotator scans every stored key wrap — epoch
// wraps of the owner's devices, the hub's and a support grant's — and
// tries to open each with every campaign key and every annotator device
// key: none opens. And no epoch key opens a campaign copy.
func TestNoWrapToCampaignOrAnnotator(t *testing.T) {
	w := newCampaignWorld(t)
	e := w.e
	g, _ := w.request("Front door", true, time.Hour)
	w.approve(g, w.camA, w.epochA)
	c1, c2 := w.donate(w.camp, w.key), w.donate(w.otherCamp, w.otherKey)

	var outsiders []age.Identity
	outsiders = append(outsiders, w.key.KEM, w.otherKey.KEM)
	for _, k := range w.annotatorKeys {
		outsiders = append(outsiders, k.KEM)
	}
	var epochKeys []age.Identity
	n, grantWraps := 0, 0
	if err := e.st.ScanWraps(t.Context(), func(epoch string, wr store.Wrap) error {
		n++
		if strings.HasPrefix(wr.DeviceID, "grant:") {
			grantWraps++
		}
		for i, id := range outsiders {
			if _, err := keys.Decrypt(wr.Data, id); err == nil {
				t.Errorf("wrap of epoch %s for %s opens with outsider key %d", epoch, wr.DeviceID, i)
			}
		}
		if wr.DeviceID == w.o.dev.ID {
			pt, err := keys.Decrypt(wr.Data, w.o.dev.KEM)
			if err != nil {
				t.Fatalf("the owner's own wrap of %s does not open: %v", epoch, err)
			}
			k, err := seal.ParseEpochKey(pt)
			if err != nil {
				t.Fatal(err)
			}
			id, err := age.ParseHybridIdentity(k.Identity)
			if err != nil {
				t.Fatal(err)
			}
			epochKeys = append(epochKeys, id)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n < 3 || grantWraps == 0 || len(epochKeys) < 2 {
		t.Fatalf("scanned %d wraps (%d of grants, %d epoch keys of the owner): the world is too small to mean anything", n, grantWraps, len(epochKeys))
	}
	for _, c := range []api.Consent{c1, c2} {
		d, err := e.st.Donation(t.Context(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		rc, _, err := e.srv.Blobs.Get(t.Context(), d.BlobKey)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(rc)
		rc.Close()
		for i, id := range epochKeys {
			if _, err := keys.Decrypt(buf.Bytes(), id); err == nil {
				t.Errorf("campaign copy %s opens with epoch key %d", c.ID, i)
			}
		}
		// The other campaign's key does not open it either.
		other := w.otherKey.KEM
		if c.Campaign == w.otherCamp.ID {
			other = w.key.KEM
		}
		if _, err := keys.Decrypt(buf.Bytes(), other); err == nil {
			t.Errorf("campaign copy %s opens with another campaign's key", c.ID)
		}
	}
}

// TestCampaignAdmin: the operator's campaign needs a real campaign key,
// known classes, a retention and the organisation and its country; owners
// list campaigns, annotators only their organisation's.
func TestCampaignAdmin(t *testing.T) {
	w := newCampaignWorld(t)
	admin, done := w.admin()
	defer done()
	good := api.AdminCampaignCreate{Purpose: "p", Classes: []string{"person"}, RetentionDays: 30, Org: "O", Country: "FR", Recipient: w.key.Recipient()}
	for name, edit := range map[string]func(*api.AdminCampaignCreate){
		"no purpose":       func(c *api.AdminCampaignCreate) { c.Purpose = " " },
		"an unknown class": func(c *api.AdminCampaignCreate) { c.Classes = []string{"face"} },
		"no class":         func(c *api.AdminCampaignCreate) { c.Classes = nil },
		"no retention":     func(c *api.AdminCampaignCreate) { c.RetentionDays = 0 },
		"no organisation":  func(c *api.AdminCampaignCreate) { c.Org = "" },
		"no country":       func(c *api.AdminCampaignCreate) { c.Country = "" },
		"a classic age key": func(c *api.AdminCampaignCreate) {
			c.Recipient = "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq"
		},
		"a private key pasted": func(c *api.AdminCampaignCreate) { c.Recipient = w.key.KEM.String() },
	} {
		in := good
		edit(&in)
		if st, msg := admin.status(call{}, "POST", "/admin/campaigns", in); st != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", name, st, msg)
		}
	}
	var list api.Campaigns
	w.e.must(http.StatusOK, call{token: w.o.token}, "GET", "/v1/campaigns", nil, &list)
	if len(list.Campaigns) != 2 {
		t.Errorf("owner sees %d campaigns, want 2", len(list.Campaigns))
	}
	w.e.must(http.StatusOK, call{token: w.annotator}, "GET", "/v1/annotate/campaigns", nil, &list)
	if len(list.Campaigns) != 1 || list.Campaigns[0].ID != w.camp.ID {
		t.Errorf("annotator sees %+v, want only its organisation's", list.Campaigns)
	}
}
