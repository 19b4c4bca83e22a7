package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/httpapi"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// redactionPath makes a new pending redaction job of the target
// household's camera 1 (for the authorization matrix).
func (w *world) redactionPath(a actor, own bool) string {
	ctx := context.Background()
	cam, err := w.e.st.Camera(ctx, w.cam1[a.letter(own)])
	if err != nil {
		w.e.t.Fatal(err)
	}
	id := seal.NewID()
	if err := w.e.st.CreateRedaction(ctx, store.Redaction{ID: id, HouseholdID: cam.HouseholdID, CameraID: cam.ID, HubID: cam.HubID,
		Purpose: seal.PurposePublish, Sealed: w.ageFile, Created: w.e.clock.Now()}); err != nil {
		w.e.t.Fatal(err)
	}
	return id
}

// auditClasses counts a household's audit entries by class.
func auditClasses(t *testing.T, e *acctEnv, household string) map[string]int {
	t.Helper()
	e.srv.WaitAudit()
	refs, err := e.st.AuditRefs(t.Context(), household, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range refs {
		out[r.Class]++
	}
	return out
}

// TestRedactionRoutes walks one job through every route: only the
// household's owner creates and reads it, only the camera's hub takes it,
// reads the camera's ciphertext and uploads the result; members, staff,
// other owners and other hubs are refused, and every step is logged.
func TestRedactionRoutes(t *testing.T) {
	e := startAccounts(t)
	w := newWorld(e)
	hhA := w.householdOf(ownerA)
	owner, member, stranger, staff := call{token: w.session(ownerA)}, call{token: w.session(memberA)}, call{token: w.session(ownerB)}, call{token: w.session(support)}
	hA, hB := call{token: w.hubs[hubA]}, call{token: w.hubs[hubB]}
	before := auditClasses(t, e, hhA)

	job := api.RedactionCreate{ID: seal.NewID(), Camera: w.cam1["A"], Purpose: seal.PurposePublish, Sealed: w.ageFile}
	for _, tc := range []struct {
		name   string
		c      call
		in     api.RedactionCreate
		status int
	}{
		{"member", member, job, http.StatusForbidden},
		{"other owner", stranger, job, http.StatusNotFound},
		{"support", staff, job, http.StatusForbidden},
		{"hub", hA, job, http.StatusUnauthorized},
		{"donate without campaign", owner, api.RedactionCreate{ID: seal.NewID(), Camera: job.Camera, Purpose: seal.PurposeDonate, Sealed: w.ageFile}, http.StatusBadRequest},
		{"not an age file", owner, api.RedactionCreate{ID: seal.NewID(), Camera: job.Camera, Purpose: seal.PurposePublish, Sealed: []byte("{\"keys\":[]}")}, http.StatusBadRequest},
		{"unknown camera", owner, api.RedactionCreate{ID: seal.NewID(), Camera: seal.NewID(), Purpose: seal.PurposePublish, Sealed: w.ageFile}, http.StatusNotFound},
	} {
		if got, code := e.status(tc.c, http.MethodPost, "/v1/redactions", tc.in); got != tc.status {
			t.Errorf("create as %s: %d %s, want %d", tc.name, got, code, tc.status)
		}
	}
	var created api.Redaction
	e.must(http.StatusCreated, owner, http.MethodPost, "/v1/redactions", job, &created)
	if created.State != api.RedactionPending || created.Camera != job.Camera || created.ID != job.ID {
		t.Fatalf("created = %+v", created)
	}
	e.must(http.StatusOK, owner, http.MethodPost, "/v1/redactions", job, nil) // a retry
	other := job
	other.Sealed = ageBody(t)
	if got, _ := e.status(owner, http.MethodPost, "/v1/redactions", other); got != http.StatusConflict {
		t.Errorf("reused id with another job: %d, want 409", got)
	}

	path := "/v1/redactions/" + job.ID
	for _, tc := range []struct {
		name   string
		c      call
		status int
	}{{"owner", owner, 200}, {"member", member, 403}, {"other owner", stranger, 404}, {"support", staff, 403}, {"hub", hA, 401}} {
		for _, p := range []string{path, path + "/result"} {
			want := tc.status
			if want == 200 && p != path {
				want = http.StatusConflict // no result yet
			}
			if got, code := e.status(tc.c, http.MethodGet, p, nil); got != want {
				t.Errorf("GET %s as %s: %d %s, want %d", p, tc.name, got, code, want)
			}
		}
	}

	// The other household's hub sees nothing; the camera's hub takes the
	// job once.
	var jobs api.HubRedactions
	e.must(http.StatusOK, hB, http.MethodGet, "/v1/hub/redactions", nil, &jobs)
	if len(jobs.Jobs) != 0 {
		t.Fatalf("hub B got %d jobs of household A", len(jobs.Jobs))
	}
	e.must(http.StatusOK, hA, http.MethodGet, "/v1/hub/redactions", nil, &jobs)
	if len(jobs.Jobs) != 1 || jobs.Jobs[0].ID != job.ID || !bytes.Equal(jobs.Jobs[0].Sealed, job.Sealed) || jobs.Jobs[0].Camera != job.Camera {
		t.Fatalf("hub A jobs = %+v", jobs)
	}
	e.must(http.StatusOK, hA, http.MethodGet, "/v1/hub/redactions", nil, &jobs)
	if len(jobs.Jobs) != 0 {
		t.Fatalf("a job was handed out twice")
	}
	var st api.Redaction
	e.must(http.StatusOK, owner, http.MethodGet, path, nil, &st)
	if st.State != api.RedactionRunning {
		t.Errorf("state after take = %q", st.State)
	}

	// Ciphertext: only the hub's own cameras.
	if _, err := e.client(w.hubs[hubA]).HubObject(t.Context(), w.object1["A"]); err != nil {
		t.Errorf("hub A fetching its camera's object: %v", err)
	}
	if _, err := e.client(w.hubs[hubB]).HubObject(t.Context(), w.object1["A"]); err == nil {
		t.Errorf("hub B fetched household A's object")
	}

	// The result: only the job's hub, hash and format checked.
	result := ageBody(t)
	put := func(c call, body []byte, sha string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, e.url+"/v1/hub/redactions/"+job.ID+"/result", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set(api.HeaderSHA256, sha)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	if got := put(hB, result, sum(result)); got != http.StatusNotFound {
		t.Errorf("hub B uploading A's result: %d, want 404", got)
	}
	if got := put(hA, result, sum([]byte("other"))); got != http.StatusBadRequest {
		t.Errorf("result with a wrong hash: %d, want 400", got)
	}
	plain := []byte("an unsealed mp4 the service must refuse")
	if got := put(hA, plain, sum(plain)); got != http.StatusBadRequest {
		t.Errorf("plaintext result: %d, want 400", got)
	}
	if got := put(hA, result, sum(result)); got != http.StatusNoContent {
		t.Fatalf("result upload: %d, want 204", got)
	}
	if got := put(hA, result, sum(result)); got != http.StatusConflict {
		t.Errorf("second result upload: %d, want 409", got)
	}
	e.must(http.StatusOK, owner, http.MethodGet, path, nil, &st)
	if st.State != api.RedactionDone || st.ResultSize != int64(len(result)) || st.ResultSHA256 != sum(result) {
		t.Errorf("done job = %+v", st)
	}
	got, err := e.client(owner.token).RedactionResult(t.Context(), job.ID)
	if err != nil || !bytes.Equal(got, result) {
		t.Fatalf("result download = %d bytes, %v", len(got), err)
	}
	if _, err := e.client(member.token).RedactionResult(t.Context(), job.ID); err == nil {
		t.Errorf("a member downloaded the result")
	}

	// Take it once, for its purpose only.
	if _, _, _, err := httpapi.TakeRedactionResult(e.srv, t.Context(), hhA, job.ID, seal.PurposeDonate); err == nil {
		t.Errorf("took a publish result for a donation")
	}
	if _, _, _, err := httpapi.TakeRedactionResult(e.srv, t.Context(), w.householdOf(ownerB), job.ID, seal.PurposePublish); err == nil {
		t.Errorf("took another household's result")
	}
	key, size, sha, err := httpapi.TakeRedactionResult(e.srv, t.Context(), hhA, job.ID, seal.PurposePublish)
	if err != nil || key == "" || size != int64(len(result)) || sha != sum(result) {
		t.Fatalf("take = %q %d %q %v", key, size, sha, err)
	}
	if _, _, _, err := httpapi.TakeRedactionResult(e.srv, t.Context(), hhA, job.ID, seal.PurposePublish); err == nil {
		t.Errorf("took a result twice")
	}

	after := auditClasses(t, e, hhA)
	// requested, started, done, fetched, taken.
	if n := after[api.AuditDeclassification] - before[api.AuditDeclassification]; n < 5 {
		t.Errorf("%d declassification entries, want at least 5", n)
	}
	if n := after[api.AuditDenial] - before[api.AuditDenial]; n < 4 {
		t.Errorf("%d denials logged in the owner's log, want at least 4 (member and other owner, create and read)", n)
	}
}

// TestRedactionFailAndExpiry: a hub's failure reaches the owner; an
// untaken result is deleted after 24 h; a hub's long poll wakes when a job
// arrives.
func TestRedactionFailAndExpiry(t *testing.T) {
	e := startAccounts(t)
	w := newWorld(e)
	owner := call{token: w.session(ownerA)}
	hub := e.client(w.hubs[hubA])
	mk := func() string {
		id := seal.NewID()
		e.must(http.StatusCreated, owner, http.MethodPost, "/v1/redactions",
			api.RedactionCreate{ID: id, Camera: w.cam2["A"], Purpose: seal.PurposeDonate, Campaign: seal.NewID(), Sealed: w.ageFile}, nil)
		return id
	}

	// A waiting hub is woken by a new job.
	type polled struct {
		jobs []api.HubRedaction
		err  error
	}
	ch := make(chan polled, 1)
	go func() {
		jobs, err := hub.HubRedactions(t.Context(), 20*time.Second)
		ch <- polled{jobs, err}
	}()
	start := time.Now()
	failed := mk()
	p := <-ch
	if p.err != nil || len(p.jobs) != 1 || p.jobs[0].ID != failed {
		t.Fatalf("long poll = %+v, %v", p.jobs, p.err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the long poll answered after %s", d)
	}
	if err := hub.FailRedaction(t.Context(), failed, "segment abc: ciphertext hash differs from the job"); err != nil {
		t.Fatal(err)
	}
	var st api.Redaction
	e.must(http.StatusOK, owner, http.MethodGet, "/v1/redactions/"+failed, nil, &st)
	if st.State != api.RedactionFailed || !strings.Contains(st.Error, "hash differs") {
		t.Errorf("failed job = %+v", st)
	}
	if err := hub.FailRedaction(t.Context(), failed, "again"); err == nil {
		t.Errorf("failed a job twice")
	}

	done := mk()
	if jobs, err := hub.HubRedactions(t.Context(), 0); err != nil || len(jobs) != 1 {
		t.Fatalf("take = %v, %v", jobs, err)
	}
	if err := hub.PutRedactionResult(t.Context(), done, ageBody(t)); err != nil {
		t.Fatal(err)
	}
	if n, err := e.srv.ExpireRedactions(t.Context()); err != nil || n != 0 {
		t.Errorf("expired early: %d, %v", n, err)
	}
	e.clock.Advance(25 * time.Hour)
	if n, err := e.srv.ExpireRedactions(t.Context()); err != nil || n != 1 {
		t.Errorf("ExpireRedactions = %d, %v, want 1", n, err)
	}
	owner = call{token: w.session(ownerA)} // the first session has timed out
	if got, _ := e.status(owner, http.MethodGet, "/v1/redactions/"+done+"/result", nil); got != http.StatusConflict {
		t.Errorf("expired result: %d, want 409", got)
	}
	if _, _, _, err := httpapi.TakeRedactionResult(e.srv, t.Context(), w.householdOf(ownerA), done, seal.PurposeDonate); err == nil {
		t.Errorf("took an expired result")
	}
}
