package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/porchlight/porchlight/internal/store"
)

func redactionIDs(rs []store.Redaction) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// testRedactions: a job is created pending, claimed once by its hub only,
// finished once, consumed once for its purpose and household before it
// expires, and listed for expiry after.
func testRedactions(t *testing.T, s store.Store) {
	owner, h := household(t, s)
	hb, hb2 := hub(t, s, owner, h), hub(t, s, owner, h)
	c := camera(t, s, hb)
	_, h2 := household(t, s)
	mk := func(hubID, purpose string, created time.Time) store.Redaction {
		t.Helper()
		r := store.Redaction{ID: id("rj"), HouseholdID: h.ID, CameraID: c.ID, HubID: hubID, Purpose: purpose, Sealed: []byte("age " + id("x")), Created: created}
		must(t, s.CreateRedaction(ctx(t), r), "create redaction")
		r.State, r.Updated = "pending", created
		return r
	}
	r1 := mk(hb.ID, "publish", at(0))
	r2 := mk(hb.ID, "donate", at(time.Minute))
	r3 := mk(hb2.ID, "publish", at(2*time.Minute))
	wantErr(t, s.CreateRedaction(ctx(t), r1), store.ErrConflict, "create a redaction id twice")
	bad := r1
	bad.ID, bad.HouseholdID = id("rj"), id("nohh")
	wantErr(t, s.CreateRedaction(ctx(t), bad), store.ErrNotFound, "redaction of a missing household")

	got, err := s.Redaction(ctx(t), r1.ID)
	must(t, err, "redaction")
	if d := cmp.Diff(r1, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("Redaction (-want +got):\n%s", d)
	}
	_, err = s.Redaction(ctx(t), id("rj"))
	wantErr(t, err, store.ErrNotFound, "missing redaction")

	// Claim: the hub's pending jobs, oldest first, once.
	claimed, err := s.ClaimRedactions(ctx(t), hb.ID, at(time.Hour), at(0), 10)
	must(t, err, "claim")
	if d := cmp.Diff([]string{r1.ID, r2.ID}, redactionIDs(claimed)); d != "" {
		t.Errorf("ClaimRedactions (-want +got):\n%s", d)
	}
	for _, r := range claimed {
		if r.State != "running" || string(r.Sealed) == "" {
			t.Errorf("claimed %s: state %q, sealed %q", r.ID, r.State, r.Sealed)
		}
	}
	again, err := s.ClaimRedactions(ctx(t), hb.ID, at(time.Hour+time.Second), at(time.Minute), 10)
	must(t, err, "claim again")
	if len(again) != 0 {
		t.Errorf("claimed twice: %v", redactionIDs(again))
	}
	// A running job not updated since stale is offered again (a hub that
	// restarted mid-job).
	again, err = s.ClaimRedactions(ctx(t), hb.ID, at(3*time.Hour), at(2*time.Hour), 1)
	must(t, err, "claim stale")
	if d := cmp.Diff([]string{r1.ID}, redactionIDs(again)); d != "" {
		t.Errorf("stale claim (-want +got):\n%s", d)
	}

	// Finish: only the job's hub, only while running.
	done := store.RedactionFinish{State: "done", ResultKey: "redaction-" + r1.ID, ResultSize: 42, ResultSHA256: "ab", Time: at(4 * time.Hour), Expires: at(28 * time.Hour)}
	wantErr(t, s.FinishRedaction(ctx(t), r1.ID, hb2.ID, done), store.ErrConflict, "finish by another hub")
	wantErr(t, s.FinishRedaction(ctx(t), r3.ID, hb2.ID, done), store.ErrConflict, "finish a pending job")
	wantErr(t, s.FinishRedaction(ctx(t), id("rj"), hb.ID, done), store.ErrNotFound, "finish a missing job")
	must(t, s.FinishRedaction(ctx(t), r1.ID, hb.ID, done), "finish")
	wantErr(t, s.FinishRedaction(ctx(t), r1.ID, hb.ID, done), store.ErrConflict, "finish twice")
	must(t, s.FinishRedaction(ctx(t), r2.ID, hb.ID, store.RedactionFinish{State: "failed", Error: "segment hash differs", Time: at(4 * time.Hour)}), "fail")
	got, err = s.Redaction(ctx(t), r1.ID)
	must(t, err, "redaction after finish")
	if got.State != "done" || got.ResultKey != done.ResultKey || got.ResultSize != 42 || got.ResultSHA256 != "ab" || got.Consumed {
		t.Errorf("finished job = %+v", got)
	}
	checkTime(t, "Redaction.Expires", got.Expires, done.Expires)
	got, err = s.Redaction(ctx(t), r2.ID)
	must(t, err, "failed redaction")
	if got.State != "failed" || got.Error != "segment hash differs" {
		t.Errorf("failed job = %+v", got)
	}

	// Expiry listing.
	exp, err := s.ExpiredRedactions(ctx(t), at(27*time.Hour), 10)
	must(t, err, "expired before")
	if len(exp) != 0 {
		t.Errorf("expired early: %v", redactionIDs(exp))
	}
	exp, err = s.ExpiredRedactions(ctx(t), at(28*time.Hour), 10)
	must(t, err, "expired")
	if d := cmp.Diff([]string{r1.ID}, redactionIDs(exp)); d != "" {
		t.Errorf("ExpiredRedactions (-want +got):\n%s", d)
	}

	// Consume: household, purpose, state and expiry must fit; once.
	_, err = s.ConsumeRedaction(ctx(t), h2.ID, r1.ID, "publish", at(5*time.Hour))
	wantErr(t, err, store.ErrNotFound, "consume another household's job")
	_, err = s.ConsumeRedaction(ctx(t), h.ID, r1.ID, "donate", at(5*time.Hour))
	wantErr(t, err, store.ErrConflict, "consume for another purpose")
	_, err = s.ConsumeRedaction(ctx(t), h.ID, r2.ID, "donate", at(5*time.Hour))
	wantErr(t, err, store.ErrConflict, "consume a failed job")
	_, err = s.ConsumeRedaction(ctx(t), h.ID, r1.ID, "publish", at(28*time.Hour))
	wantErr(t, err, store.ErrConflict, "consume an expired result")
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 4 {
		wg.Go(func() {
			if r, err := s.ConsumeRedaction(ctx(t), h.ID, r1.ID, "publish", at(5*time.Hour)); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
				if r.ResultKey != done.ResultKey || !r.Consumed {
					t.Errorf("consumed = %+v", r)
				}
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d concurrent consumers won, want 1", wins)
	}
	exp, err = s.ExpiredRedactions(ctx(t), at(48*time.Hour), 10)
	must(t, err, "expired after consume")
	if len(exp) != 0 {
		t.Errorf("a consumed job is listed for expiry: %v", redactionIDs(exp))
	}
	wantErr(t, s.ExpireRedaction(ctx(t), r1.ID, at(48*time.Hour)), store.ErrConflict, "expire a consumed job")

	// Expire an unconsumed result.
	claimed, err = s.ClaimRedactions(ctx(t), hb2.ID, at(time.Hour), at(0), 10)
	must(t, err, "claim by the second hub")
	if d := cmp.Diff([]string{r3.ID}, redactionIDs(claimed)); d != "" {
		t.Errorf("second hub's claim (-want +got):\n%s", d)
	}
	must(t, s.FinishRedaction(ctx(t), r3.ID, hb2.ID, store.RedactionFinish{State: "done", ResultKey: "k3", ResultSize: 1, Time: at(time.Hour), Expires: at(2 * time.Hour)}), "finish r3")
	must(t, s.ExpireRedaction(ctx(t), r3.ID, at(3*time.Hour)), "expire")
	wantErr(t, s.ExpireRedaction(ctx(t), r3.ID, at(3*time.Hour)), store.ErrConflict, "expire twice")
	got, err = s.Redaction(ctx(t), r3.ID)
	must(t, err, "expired redaction")
	if got.State != "expired" || got.ResultKey != "" {
		t.Errorf("expired job = %+v", got)
	}
	_, err = s.ConsumeRedaction(ctx(t), h.ID, r3.ID, "publish", at(time.Hour+time.Minute))
	wantErr(t, err, store.ErrConflict, "consume an expired job")
}
