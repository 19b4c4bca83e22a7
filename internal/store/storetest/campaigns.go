package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/porchlight/porchlight/internal/store"
)

func campaign(t *testing.T, s store.Store, created time.Time) store.Campaign {
	t.Helper()
	c := store.Campaign{ID: id("camp"), Purpose: "better person detection at night", Classes: []string{"person", "animal"},
		RetentionDays: 90, Org: "Labelling Ltd", Country: "DE", Recipient: "age1pq1campaign", Created: created}
	must(t, s.CreateCampaign(ctx(t), c), "create campaign")
	return c
}

func donation(t *testing.T, s store.Store, h store.Household, c store.Campaign, created time.Time) store.Donation {
	t.Helper()
	d := store.Donation{ID: id("cons"), HouseholdID: h.ID, CampaignID: c.ID, CameraID: id("cam"), Job: id("job"),
		Consent: []byte(`{"signed":"consent"}`), BlobKey: id("blob"), Size: 4096, SHA256: "ab12", State: "active",
		Created: created, Expires: created.Add(time.Duration(c.RetentionDays) * 24 * time.Hour)}
	must(t, s.CreateDonation(ctx(t), d), "create donation")
	return d
}

func donationIDs(ds []store.Donation) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

// testCampaigns: campaigns round-trip and list oldest first; donations
// need an existing campaign and household and a fresh id and job; labels
// are kept only on active donations; ending one leaves a tombstone without
// blob key or labels, once (a second end is ErrConflict); lists and the
// expiry selection see only what they should.
func testCampaigns(t *testing.T, s store.Store) {
	_, err := s.Campaign(ctx(t), "nosuchcampaign0000000")
	wantErr(t, err, store.ErrNotFound, "unknown campaign")
	cs, err := s.Campaigns(ctx(t))
	must(t, err, "campaigns of an empty store")
	if len(cs) != 0 {
		t.Fatalf("campaigns of an empty store = %v", cs)
	}
	c2 := campaign(t, s, t0.Add(time.Hour))
	c1 := campaign(t, s, t0)
	got, err := s.Campaign(ctx(t), c1.ID)
	must(t, err, "campaign")
	if diff := cmp.Diff(c1, got); diff != "" {
		t.Errorf("Campaign (-want +got):\n%s", diff)
	}
	wantErr(t, s.CreateCampaign(ctx(t), c1), store.ErrConflict, "campaign id reused")
	cs, err = s.Campaigns(ctx(t))
	must(t, err, "campaigns")
	if len(cs) != 2 || cs[0].ID != c1.ID || cs[1].ID != c2.ID {
		t.Errorf("campaigns = %v, want %s then %s", cs, c1.ID, c2.ID)
	}

	_, h := household(t, s)
	_, other := household(t, s)
	d1 := donation(t, s, h, c1, t0)
	d2 := donation(t, s, h, c1, t0.Add(time.Minute))
	d3 := donation(t, s, other, c2, t0.Add(2*time.Minute))
	gotD, err := s.Donation(ctx(t), d1.ID)
	must(t, err, "donation")
	if diff := cmp.Diff(d1, gotD); diff != "" {
		t.Errorf("Donation (-want +got):\n%s", diff)
	}
	dup := d1
	dup.ID = id("cons")
	wantErr(t, s.CreateDonation(ctx(t), dup), store.ErrConflict, "a second donation of the same job")
	dup = d1
	dup.Job = id("job")
	wantErr(t, s.CreateDonation(ctx(t), dup), store.ErrConflict, "a donation id reused")
	dup = d1
	dup.ID, dup.Job, dup.CampaignID = id("cons"), id("job"), "nosuchcampaign0000000"
	wantErr(t, s.CreateDonation(ctx(t), dup), store.ErrNotFound, "a donation to an unknown campaign")
	_, err = s.Donation(ctx(t), "nosuchdonation0000000")
	wantErr(t, err, store.ErrNotFound, "unknown donation")

	hd, err := s.HouseholdDonations(ctx(t), h.ID)
	must(t, err, "household donations")
	if diff := cmp.Diff([]string{d2.ID, d1.ID}, donationIDs(hd)); diff != "" {
		t.Errorf("household donations, newest first (-want +got):\n%s", diff)
	}
	ad, err := s.ActiveDonations(ctx(t), c1.ID)
	must(t, err, "active donations")
	if diff := cmp.Diff([]string{d1.ID, d2.ID}, donationIDs(ad)); diff != "" {
		t.Errorf("active donations of c1 (-want +got):\n%s", diff)
	}

	labels := []byte(`{"boxes":[{"t_ms":0,"class":"person","x0":0.1,"y0":0.1,"x1":0.5,"y1":0.9}]}`)
	must(t, s.PutLabels(ctx(t), d1.ID, labels, "annotator1", t0.Add(time.Hour)), "put labels")
	wantErr(t, s.PutLabels(ctx(t), "nosuchdonation0000000", labels, "a", t0), store.ErrNotFound, "labels of an unknown donation")
	gotD, err = s.Donation(ctx(t), d1.ID)
	must(t, err, "donation after labels")
	if string(gotD.Labels) != string(labels) || gotD.LabelsBy != "annotator1" {
		t.Errorf("labels = %q by %q", gotD.Labels, gotD.LabelsBy)
	}
	checkTime(t, "labels updated", gotD.LabelsUpdated, t0.Add(time.Hour))

	// The expiry selection.
	due, err := s.DueDonations(ctx(t), d1.Expires.Add(-time.Second))
	must(t, err, "due donations before any expiry")
	if len(due) != 0 {
		t.Errorf("due before expiry = %v", donationIDs(due))
	}
	due, err = s.DueDonations(ctx(t), d1.Expires)
	must(t, err, "due donations")
	if diff := cmp.Diff([]string{d1.ID}, donationIDs(due)); diff != "" {
		t.Errorf("due at d1's expiry (-want +got):\n%s", diff)
	}

	// Ending: the row returned is as it was; the tombstone has no blob key
	// or labels; a second end and later labels are conflicts.
	before, err := s.EndDonation(ctx(t), d1.ID, "withdrawn", t0.Add(2*time.Hour))
	must(t, err, "withdraw")
	if before.BlobKey != d1.BlobKey || before.State != "active" {
		t.Errorf("EndDonation returned %+v, want the active row with its blob key", before)
	}
	_, err = s.EndDonation(ctx(t), d1.ID, "expired", t0.Add(3*time.Hour))
	wantErr(t, err, store.ErrConflict, "ending twice")
	_, err = s.EndDonation(ctx(t), "nosuchdonation0000000", "withdrawn", t0)
	wantErr(t, err, store.ErrNotFound, "ending an unknown donation")
	wantErr(t, s.PutLabels(ctx(t), d1.ID, labels, "a", t0), store.ErrConflict, "labels of a withdrawn donation")
	tomb, err := s.Donation(ctx(t), d1.ID)
	must(t, err, "tombstone")
	if tomb.State != "withdrawn" || tomb.BlobKey != "" || tomb.Labels != nil || tomb.LabelsBy != "" || string(tomb.Consent) != string(d1.Consent) {
		t.Errorf("tombstone = %+v, want withdrawn without blob key or labels, consent kept", tomb)
	}
	checkTime(t, "ended", tomb.Ended, t0.Add(2*time.Hour))
	ad, err = s.ActiveDonations(ctx(t), c1.ID)
	must(t, err, "active donations after withdrawal")
	if diff := cmp.Diff([]string{d2.ID}, donationIDs(ad)); diff != "" {
		t.Errorf("active donations after withdrawal (-want +got):\n%s", diff)
	}
	hd, err = s.HouseholdDonations(ctx(t), h.ID)
	must(t, err, "household donations after withdrawal")
	if len(hd) != 2 {
		t.Errorf("household donations after withdrawal = %v, want the tombstone kept", donationIDs(hd))
	}
	due, err = s.DueDonations(ctx(t), t0.Add(1000*24*time.Hour))
	must(t, err, "due donations far ahead")
	if diff := cmp.Diff([]string{d2.ID, d3.ID}, donationIDs(due)); diff != "" {
		t.Errorf("due far ahead: the withdrawn one must not be listed (-want +got):\n%s", diff)
	}

	// Two racing ends: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, state := range []string{"withdrawn", "expired"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.EndDonation(ctx(t), d2.ID, state, t0.Add(4*time.Hour))
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("racing end: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("racing ends: %d won, want exactly 1 (%v)", wins, errs)
	}
}

// testScanWraps: every wrap of every epoch, device and grant wraps alike,
// is visited exactly once; an error from the callback stops the scan.
func testScanWraps(t *testing.T, s store.Store) {
	a, h := household(t, s)
	hb := hub(t, s, a, h)
	c := camera(t, s, hb)
	e1, e2 := epoch(t, s, c), epoch(t, s, c)
	must(t, s.PutEpoch(ctx(t), e1, []store.Wrap{{DeviceID: "dev1", Data: []byte("w11")}, {DeviceID: "dev2", Data: []byte("w12")}}), "wraps e1")
	must(t, s.PutEpoch(ctx(t), e2, []store.Wrap{{DeviceID: store.GrantDevice("grant1"), Data: []byte("w2g")}}), "wraps e2")
	var seen []string
	must(t, s.ScanWraps(ctx(t), func(epochID string, w store.Wrap) error {
		seen = append(seen, epochID+"/"+w.DeviceID+"="+string(w.Data))
		return nil
	}), "scan wraps")
	want := []string{e1.ID + "/dev1=w11", e1.ID + "/dev2=w12", e2.ID + "/grant:grant1=w2g"}
	slices.Sort(seen)
	slices.Sort(want)
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("scanned wraps (-want +got):\n%s", diff)
	}
	stop := errors.New("stop")
	n := 0
	err := s.ScanWraps(ctx(t), func(string, store.Wrap) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("scan with a failing callback: err %v after %d calls, want stop after 1", err, n)
	}
}
