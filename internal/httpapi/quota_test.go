package httpapi_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/seal"
)

// TestQuota: the operator sets a household's quota over the admin socket
// (logged in the household's log); segments beyond it get 507
// quota_exceeded (a hub keeps them and retries), manifests still go in,
// and the owner sees quota and usage.
func TestQuota(t *testing.T) {
	e := startAccounts(t)
	ctx := t.Context()
	o := signup(t, e)
	hub := claimHub(t, e, o)
	cam := hub.camera()
	ep, rcp := hub.epoch(cam)
	start := e.clock.Now().Add(-time.Hour)
	first := hub.segment(cam, ep, rcp, 1, start)

	ts := httptest.NewServer(e.srv.AdminHandler())
	defer ts.Close()
	admin := &acctEnv{t: t, url: ts.URL}
	var acct api.AdminAccount
	admin.must(http.StatusOK, call{}, "POST", "/admin/accounts/quota", api.AdminQuota{Email: o.email, Bytes: first.Size + first.Size/2}, &acct)
	if acct.QuotaBytes != first.Size+first.Size/2 || acct.UsedBytes != first.Size {
		t.Fatalf("quota answer = %+v", acct)
	}
	if st, _ := admin.status(call{}, "POST", "/admin/accounts/quota", api.AdminQuota{Email: o.email, Bytes: -1}); st != http.StatusBadRequest {
		t.Errorf("negative quota: %d, want 400", st)
	}

	// The next segment does not fit.
	body, err := seal.SealSegment(rcp, seal.SegmentHeader{Household: o.household, Camera: cam, Epoch: ep, Seq: 2, Start: start.Add(4 * time.Second), DurationMS: 4000, Frames: 100, Codec: "avc1"}, []byte("ftyp....moof....mdat segment "+randomHex(8)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = hub.c.PutObject(ctx, seal.NewID(), apiclient.ObjectMeta{Camera: cam, Epoch: ep, Kind: api.ObjectSegment, Time: start.Add(4 * time.Second)}, body)
	var ae *apiclient.Error
	if !apiclient.IsStatus(err, http.StatusInsufficientStorage) || !errors.As(err, &ae) || ae.Code != api.CodeQuotaExceeded {
		t.Fatalf("upload over quota: %v, want 507 quota_exceeded", err)
	}
	if !apiclient.IsRetryable(err) {
		t.Error("a full quota is not retryable for the hub: it would quarantine recordings")
	}
	// A manifest of what is stored still goes in.
	hub.manifest(cam, ep, rcp, 1, []seal.ManifestObject{first})

	me, err := o.c.Me(ctx)
	if err != nil || me.QuotaBytes != acct.QuotaBytes || me.UsedBytes < first.Size {
		t.Errorf("owner's view of quota = %+v, %v", me, err)
	}
	// No limit again: the upload goes through.
	admin.must(http.StatusOK, call{}, "POST", "/admin/accounts/quota", api.AdminQuota{Email: o.email, Bytes: 0}, &acct)
	if _, err := hub.c.PutObject(ctx, seal.NewID(), apiclient.ObjectMeta{Camera: cam, Epoch: ep, Kind: api.ObjectSegment, Time: start.Add(4 * time.Second)}, body); err != nil {
		t.Errorf("upload with no quota: %v", err)
	}
	log := readOwnerLog(e, o)
	if n := len(find(log, api.AuditStaff, "quota", "")); n != 2 {
		t.Errorf("%d quota changes in the owner's log, want 2", n)
	}
	for _, l := range find(log, api.AuditStaff, "quota", "") {
		if l.Body.Actor.Kind != api.ActorOperator {
			t.Errorf("quota change logged as %+v", l.Body.Actor)
		}
	}
}
