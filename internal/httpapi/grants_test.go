package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/transparency-dev/tessera/api/layout"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auditlog"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// grantWorld is a household with two cameras recorded around a window,
// its owner (with an authenticator, so it may approve grants) and a
// support agent.
type grantWorld struct {
	e        *acctEnv
	o        *owner
	hub      *fakeHub
	camA     string
	camB     string
	epochA   string
	base     time.Time         // "10:00": the window is base..base+5m
	segsA    map[string]string // "10:02" → object id of camera A
	segB     string
	manifest string    // camera A's manifest (lists every segment of A)
	support  string    // support's bearer token
	supportI string    // support's account id
	totp     []byte    // the owner's authenticator secret
	factorAt time.Time // when the owner last re-authenticated with it
}

// reauthFactor re-authenticates the owner's session with password and
// authenticator code, as approving a grant needs.
func (w *grantWorld) reauthFactor() {
	e := w.e
	e.t.Helper()
	var lr api.LoginResponse
	e.must(http.StatusOK, call{token: w.o.token}, "POST", "/v1/reauth", api.ReauthRequest{Password: w.o.password}, &lr)
	if lr.MFA == nil {
		e.t.Fatalf("reauth answered %+v, want a second-factor challenge", lr)
	}
	var sr api.SessionResponse
	e.must(http.StatusOK, call{}, "POST", "/v1/login/mfa", api.MFAAnswer{Token: lr.MFA.Token, Code: e.nextCode(w.totp)}, &sr)
	w.o.token, w.o.c = sr.Token, e.client(sr.Token)
}

func newGrantWorld(t *testing.T) *grantWorld {
	e := startAccounts(t)
	w := &grantWorld{e: e, segsA: map[string]string{}}
	w.o = signup(t, e)
	w.totp, _ = e.enrolTOTP(device{token: w.o.token})
	w.hub = claimHub(t, e, w.o)
	w.camA, w.camB = w.hub.camera(), w.hub.camera()
	w.base = e.clock.Now().Truncate(time.Hour).Add(-time.Hour)
	epA, rcpA := w.hub.epoch(w.camA)
	w.epochA = epA
	var objs []seal.ManifestObject
	for i, m := range []int{0, 2, 4, 6} {
		mo := w.hub.segment(w.camA, epA, rcpA, uint64(i+1), w.base.Add(time.Duration(m)*time.Minute))
		objs = append(objs, mo)
		w.segsA[fmt.Sprintf("10:%02d", m)] = mo.ID
	}
	w.manifest = w.hub.manifest(w.camA, epA, rcpA, 1, objs)
	epB, rcpB := w.hub.epoch(w.camB)
	mb := w.hub.segment(w.camB, epB, rcpB, 1, w.base.Add(2*time.Minute))
	w.segB = mb.ID
	w.hub.manifest(w.camB, epB, rcpB, 1, []seal.ManifestObject{mb})
	w.support, w.supportI = newSupport(t, e)
	return w
}

// newSupport creates a support agent through the admin handler and signs
// it in with its authenticator; it returns its token and account id.
func newSupport(t *testing.T, e *acctEnv) (string, string) {
	ts := httptest.NewServer(e.srv.AdminHandler())
	defer ts.Close()
	admin := &acctEnv{t: t, url: ts.URL}
	email, password := "agent-"+randomHex(4)+"@support.example.com", "staff badge "+randomHex(6)+" corridor"
	var out api.AdminStaffCreated
	admin.must(http.StatusCreated, call{}, "POST", "/admin/staff",
		api.AdminStaffCreate{Email: email, Role: api.RoleSupport, Password: password, Org: "Porchlight Support Ltd", Country: "ie"}, &out)
	secret, err := base32Raw.DecodeString(out.TOTPSecret)
	if err != nil {
		t.Fatal(err)
	}
	d := e.loginTOTP(email, password, secret, "support desk")
	return d.token, out.AccountID
}

// request files a support request and returns it with the request key.
func (w *grantWorld) request(camera string, video bool, dur time.Duration) (api.Grant, *keys.Pair) {
	w.e.t.Helper()
	key, err := keys.Generate("request")
	if err != nil {
		w.e.t.Fatal(err)
	}
	var g api.Grant
	w.e.must(http.StatusCreated, call{token: w.support}, "POST", "/v1/support/requests", api.SupportRequest{
		OwnerEmail: w.o.email, Reason: "camera shows a black picture", Ticket: "T-4711", Camera: camera,
		From: w.base, To: w.base.Add(5 * time.Minute), Video: video, DurationS: int64(dur / time.Second), Recipient: key.Recipient(),
	}, &g)
	if g.State != api.GrantPending || g.Requester == "" || g.Org != "Porchlight Support Ltd" || g.Country != "IE" {
		w.e.t.Fatalf("filed request = %+v", g)
	}
	return g, key
}

// signGrant signs g for camera with signer and wraps the owner's keys of
// wrapEpochs to the request key.
func (w *grantWorld) signGrant(signer *keys.Pair, g api.Grant, camera string, wrapEpochs ...string) api.GrantApproval {
	t := w.e.t
	t.Helper()
	sg := seal.Grant{ID: g.ID, Household: w.o.household, Requester: g.RequesterID, Recipient: g.Recipient, Camera: camera,
		From: g.From, To: g.To, Video: g.Video, NotAfter: w.e.clock.Now().Add(time.Duration(g.DurationS) * time.Second),
		Reason: g.Reason, Ticket: g.Ticket, Hubs: [][]byte{w.hub.keys.SignPub()}, Created: w.e.clock.Now()}
	signed, err := seal.SignGrant(signer.Sign, sg)
	if err != nil {
		t.Fatal(err)
	}
	out := api.GrantApproval{Signed: signed, Wraps: []api.GrantWrap{}}
	rcp, err := seal.ParseRecipient(g.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range wrapEpochs {
		out.Wraps = append(out.Wraps, api.GrantWrap{Epoch: ep, Data: w.rewrap(camera, ep, rcp)})
	}
	return out
}

// rewrap unwraps the owner device's key of an epoch and wraps it to rcp.
func (w *grantWorld) rewrap(camera, epoch string, rcp age.Recipient) []byte {
	t := w.e.t
	eps, err := w.o.c.Epochs(t.Context(), camera, w.o.dev.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range eps {
		if e.ID != epoch {
			continue
		}
		pt, err := keys.Decrypt(e.Wrap, w.o.dev.KEM)
		if err != nil {
			t.Fatal(err)
		}
		k, err := seal.ParseEpochKey(pt)
		if err != nil {
			t.Fatal(err)
		}
		wrap, err := seal.WrapEpochKey(rcp, *k)
		if err != nil {
			t.Fatal(err)
		}
		return wrap
	}
	t.Fatalf("owner has no wrap of epoch %s", epoch)
	return nil
}

func (w *grantWorld) approve(g api.Grant, camera string, wrapEpochs ...string) {
	w.e.t.Helper()
	if w.e.clock.Now().Sub(w.factorAt) > api.ReauthWindow-time.Minute || w.factorAt.IsZero() {
		w.reauthFactor()
		w.factorAt = w.e.clock.Now()
	}
	w.e.must(http.StatusOK, call{token: w.o.token}, "POST", "/v1/grants/"+g.ID+"/approve", w.signGrant(w.o.dev, g, camera, wrapEpochs...), nil)
}

// fetch gets an object through the grant as support; it returns the status.
func (w *grantWorld) fetch(g api.Grant, object string) int {
	st, _ := w.e.status(call{token: w.support}, "GET", "/v1/grants/"+g.ID+"/objects/"+object, nil)
	return st
}

// logged is one entry of the owner's log, verified and opened.
type logged struct {
	auditlog.Envelope
	Body auditlog.Body
}

// ownerLog reads the household's whole log as the owner's device would:
// every entry's inclusion is verified against the signed checkpoint with
// hash tiles fetched from the service, and every body is opened with the
// owner's device key.
func (w *grantWorld) ownerLog() []logged {
	return readOwnerLog(w.e, w.o)
}

func readOwnerLog(e *acctEnv, o *owner) []logged {
	t := e.t
	t.Helper()
	e.srv.WaitAudit()
	var info api.LogInfo
	e.must(http.StatusOK, call{token: o.token}, "GET", "/v1/log", nil, &info)
	v, err := auditlog.NewVerifier(info.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	var list api.AuditList
	for deadline := time.Now().Add(10 * time.Second); ; {
		list = api.AuditList{}
		e.must(http.StatusOK, call{token: o.token}, "GET", "/v1/audit?from=0", nil, &list)
		if list.Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d entries still not in a published checkpoint", list.Pending)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cp, err := v.Checkpoint(list.Checkpoint)
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	tiles := func(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/v1/log/"+layout.TilePath(level, index, p), nil)
		req.Header.Set("Authorization", "Bearer "+o.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("tile: %s", resp.Status)
		}
		return io.ReadAll(resp.Body)
	}
	var out []logged
	for _, le := range list.Entries {
		if err := v.VerifyInclusion(t.Context(), tiles, cp, le.Index, le.Entry); err != nil {
			t.Fatalf("entry %d: %v", le.Index, err)
		}
		ent, err := auditlog.Parse(le.Entry)
		if err != nil {
			t.Fatal(err)
		}
		if ent.Household != o.household {
			t.Fatalf("entry %d of household %s in %s's log", le.Index, ent.Household, o.household)
		}
		if len(ent.Body) == 0 {
			// Recorded before the household had a device (its signup).
			out = append(out, logged{Envelope: ent.Envelope})
			continue
		}
		pt, err := keys.Decrypt(ent.Body, o.dev.KEM)
		if err != nil {
			t.Fatalf("entry %d: open body: %v", le.Index, err)
		}
		b, err := auditlog.DecodeBody(pt)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, logged{Envelope: ent.Envelope, Body: b})
	}
	return out
}

// find returns the entries of class whose action and resource match.
func find(log []logged, class, action, resource string) []logged {
	var out []logged
	for _, l := range log {
		if l.Class == class && (action == "" || l.Body.Action == action) && (resource == "" || strings.Contains(l.Body.Resource, resource)) {
			out = append(out, l)
		}
	}
	return out
}

// TestSupportWithoutGrant: support gets 403 on every household object,
// manifest and key route, and each attempt is in the owner's verified log
// with who tried (organisation and country included).
func TestSupportWithoutGrant(t *testing.T) {
	w := newGrantWorld(t)
	e := w.e
	attempts := []struct{ method, path, resource string }{
		{"GET", "/v1/cameras/" + w.camA + "/manifests?from=" + w.base.Format(time.RFC3339) + "&to=" + w.base.Add(time.Hour).Format(time.RFC3339), w.camA},
		{"GET", "/v1/cameras/" + w.camA + "/epochs", w.camA},
		{"GET", "/v1/objects/" + w.segsA["10:02"], w.segsA["10:02"]},
		{"GET", "/v1/objects/" + w.manifest, w.manifest},
		{"PUT", "/v1/epochs/" + w.epochA + "/wraps", w.epochA},
		{"PATCH", "/v1/cameras/" + w.camB, w.camB},
	}
	for _, a := range attempts {
		if st, code := e.status(call{token: w.support}, a.method, a.path, map[string]any{}); st != http.StatusForbidden || code != "forbidden" {
			t.Errorf("%s %s as support: %d %s, want 403", a.method, a.path, st, code)
		}
	}
	// A request filed but not approved releases nothing either.
	g, _ := w.request("Front door", true, time.Hour)
	for _, p := range []string{"/epochs", "/manifests", "/objects/" + w.segsA["10:02"]} {
		if st, _ := e.status(call{token: w.support}, "GET", "/v1/grants/"+g.ID+p, nil); st != http.StatusForbidden {
			t.Errorf("GET grant %s before approval: %d, want 403", p, st)
		}
	}
	log := w.ownerLog()
	for _, a := range attempts {
		d := find(log, api.AuditDenial, "denied", a.resource)
		if len(d) == 0 {
			t.Errorf("no denial in the owner's log for %s %s", a.method, a.path)
			continue
		}
		act := d[0].Body.Actor
		if act.Kind != api.ActorSupport || act.Account != w.supportI || act.Org != "Porchlight Support Ltd" || act.Country != "IE" || d[0].Body.Status != 403 {
			t.Errorf("denial of %s logged as %+v (status %d)", a.path, act, d[0].Body.Status)
		}
	}
	if len(find(log, api.AuditGrant, "grant_requested", g.ID)) != 1 {
		t.Error("the request is not in the owner's log")
	}
	if len(find(log, api.AuditDenial, "denied", g.ID)) < 3 {
		t.Error("uses of an unapproved grant are not all logged as denials")
	}
	// The owner was told about the request.
	var ns api.Notifications
	e.must(http.StatusOK, call{token: w.o.token}, "GET", "/v1/notifications", nil, &ns)
	found := false
	for _, n := range ns.Notifications {
		found = found || n.Kind == api.NoticeGrantRequest
	}
	if !found {
		t.Error("no grant_request notification for the owner")
	}
}

// TestGrantScopeAndExpiry: a grant for camera A 10:00–10:05 lets support
// fetch inside (logged); camera B or 10:06 → 403 (logged); after expiry
// 403 and the wraps are gone from the store.
func TestGrantScopeAndExpiry(t *testing.T) {
	w := newGrantWorld(t)
	e, ctx := w.e, t.Context()
	g, key := w.request("Front door", true, time.Hour)
	w.approve(g, w.camA, w.epochA)
	if n, err := e.st.GrantWrapCount(ctx, g.ID); err != nil || n != 1 {
		t.Fatalf("grant wraps after approval = %d, %v; want 1", n, err)
	}

	var rel api.GrantEpochs
	e.must(http.StatusOK, call{token: w.support}, "GET", "/v1/grants/"+g.ID+"/epochs", nil, &rel)
	if len(rel.Epochs) != 1 || rel.Epochs[0].ID != w.epochA {
		t.Fatalf("released epochs = %+v", rel.Epochs)
	}
	pt, err := keys.Decrypt(rel.Epochs[0].Wrap, key.KEM)
	if err != nil {
		t.Fatalf("the request key does not open the released wrap: %v", err)
	}
	ek, err := seal.ParseEpochKey(pt)
	if err != nil || ek.Epoch != w.epochA {
		t.Fatalf("released key = %+v, %v", ek, err)
	}
	epochKey, err := age.ParseHybridIdentity(ek.Identity)
	if err != nil {
		t.Fatal(err)
	}

	var objs api.Objects
	e.must(http.StatusOK, call{token: w.support}, "GET", "/v1/grants/"+g.ID+"/manifests?include=data", nil, &objs)
	if len(objs.Objects) != 1 || objs.Objects[0].ID != w.manifest {
		t.Fatalf("manifests under the grant = %+v", objs.Objects)
	}
	if _, err := keys.OpenManifest(objs.Objects[0].Data, epochKey, w.hub.keys.SignPub(), w.o.household, w.camA, w.epochA); err != nil {
		t.Fatalf("support cannot open the manifest with the released key: %v", err)
	}
	for _, at := range []string{"10:00", "10:02", "10:04"} {
		if st := w.fetch(g, w.segsA[at]); st != http.StatusOK {
			t.Errorf("segment at %s inside the grant: %d, want 200", at, st)
		}
	}
	if st := w.fetch(g, w.segsA["10:06"]); st != http.StatusForbidden {
		t.Errorf("segment at 10:06, after the window: %d, want 403", st)
	}
	if st := w.fetch(g, w.segB); st != http.StatusForbidden {
		t.Errorf("camera B's segment: %d, want 403", st)
	}
	// The owner's own routes stay closed to support even with a grant.
	if st, _ := e.status(call{token: w.support}, "GET", "/v1/objects/"+w.segsA["10:02"], nil); st != http.StatusForbidden {
		t.Errorf("owner route with a grant: %d, want 403", st)
	}

	log := w.ownerLog()
	if len(find(log, api.AuditGrant, "grant_approved", g.ID)) != 1 {
		t.Error("approval not logged")
	}
	rels := find(log, api.AuditKeyRelease, "key_release", w.camA)
	if len(rels) != 1 || rels[0].Body.Grant != g.ID || rels[0].Body.GrantHash == "" {
		t.Errorf("key release log = %+v", rels)
	}
	for _, at := range []string{"10:00", "10:02", "10:04"} {
		if len(find(log, api.AuditAccess, "fetch", w.segsA[at])) != 1 {
			t.Errorf("fetch of %s not logged", at)
		}
	}
	if len(find(log, api.AuditDenial, "denied", g.ID)) < 2 {
		t.Errorf("out-of-scope fetches not logged as denials")
	}

	// Expiry: past the hour, every use is refused and the wraps are gone.
	e.clock.Advance(61 * time.Minute)
	if st := w.fetch(g, w.segsA["10:02"]); st != http.StatusForbidden {
		t.Errorf("fetch after expiry: %d, want 403", st)
	}
	if st, _ := e.status(call{token: w.support}, "GET", "/v1/grants/"+g.ID+"/epochs", nil); st != http.StatusForbidden {
		t.Errorf("key release after expiry: %d, want 403", st)
	}
	if n, err := e.st.GrantWrapCount(ctx, g.ID); err != nil || n != 0 {
		t.Errorf("grant wraps after expiry = %d, %v; want 0", n, err)
	}
	if sg, err := e.st.Grant(ctx, g.ID); err != nil || sg.State != api.GrantExpired {
		t.Errorf("grant after expiry = %+v, %v", sg.State, err)
	}
	if len(find(w.ownerLog(), api.AuditGrant, "grant_expired", g.ID)) != 1 {
		t.Error("expiry not logged")
	}
}

// TestGrantSweepAndRevoke: the periodic sweep deletes an expired grant's
// wraps without anyone using it; revoking ends a grant at once.
func TestGrantSweepAndRevoke(t *testing.T) {
	w := newGrantWorld(t)
	e, ctx := w.e, t.Context()
	g1, _ := w.request("Front door", true, time.Hour)
	w.approve(g1, w.camA, w.epochA)
	g2, _ := w.request("Front door", true, 2*time.Hour)
	w.approve(g2, w.camA, w.epochA)

	e.must(http.StatusOK, call{token: w.o.token}, "POST", "/v1/grants/"+g2.ID+"/revoke", map[string]any{}, nil)
	if n, _ := e.st.GrantWrapCount(ctx, g2.ID); n != 0 {
		t.Errorf("revoked grant keeps %d wraps", n)
	}
	if st := w.fetch(g2, w.segsA["10:02"]); st != http.StatusForbidden {
		t.Errorf("fetch after revoke: %d", st)
	}
	e.clock.Advance(time.Hour + time.Second)
	if n, err := e.srv.ExpireGrants(ctx); err != nil || n != 1 {
		t.Errorf("ExpireGrants = %d, %v; want 1", n, err)
	}
	if n, _ := e.st.GrantWrapCount(ctx, g1.ID); n != 0 {
		t.Errorf("expired grant keeps %d wraps", n)
	}
	log := w.ownerLog()
	if len(find(log, api.AuditGrant, "grant_revoked", g2.ID)) != 1 || len(find(log, api.AuditGrant, "grant_expired", g1.ID)) != 1 {
		t.Error("revocation or expiry not logged")
	}
}

// TestGrantWithoutVideo: metadata only; no key is ever released.
func TestGrantWithoutVideo(t *testing.T) {
	w := newGrantWorld(t)
	e := w.e
	g, _ := w.request("Front door", false, time.Hour)
	w.reauthFactor()
	w.factorAt = e.clock.Now()
	if st, _ := e.status(call{token: w.o.token}, "POST", "/v1/grants/"+g.ID+"/approve", w.signGrant(w.o.dev, g, w.camA, w.epochA)); st != http.StatusBadRequest {
		t.Errorf("approval without video but with wraps: %d, want 400", st)
	}
	w.approve(g, w.camA)
	if st, _ := e.status(call{token: w.support}, "GET", "/v1/grants/"+g.ID+"/epochs", nil); st != http.StatusForbidden {
		t.Errorf("key release of a grant without video: %d, want 403", st)
	}
	var objs api.Objects
	e.must(http.StatusOK, call{token: w.support}, "GET", "/v1/grants/"+g.ID+"/manifests", nil, &objs)
	if len(objs.Objects) != 1 || objs.Objects[0].Data != nil {
		t.Errorf("metadata listing = %+v", objs.Objects)
	}
	if st := w.fetch(g, w.segsA["10:02"]); st != http.StatusForbidden {
		t.Errorf("object fetch without video: %d, want 403", st)
	}
}

// TestForgedGrants: a grant put straight into the database, one whose row
// was widened after signing, and one signed by a device not in the roster
// release nothing and are logged as forged.
func TestForgedGrants(t *testing.T) {
	w := newGrantWorld(t)
	e, ctx := w.e, t.Context()
	now := e.clock.Now().UTC()
	outsider, err := keys.Generate("not in the roster")
	if err != nil {
		t.Fatal(err)
	}

	// 1. Inserted into the database with wraps, signed by an outsider.
	key, _ := keys.Generate("request")
	rcp, _ := seal.ParseRecipient(key.Recipient())
	row := store.Grant{ID: seal.NewID(), HouseholdID: w.o.household, Requester: w.supportI, Camera: "Front door", CameraID: w.camA,
		From: w.base, To: w.base.Add(5 * time.Minute), Video: true, Duration: time.Hour, Reason: "x", Ticket: "y",
		Recipient: key.Recipient(), State: api.GrantPending, Created: now, Expires: now.Add(time.Hour)}
	signed, err := seal.SignGrant(outsider.Sign, seal.Grant{ID: row.ID, Household: row.HouseholdID, Requester: row.Requester, Recipient: row.Recipient,
		Camera: w.camA, From: row.From, To: row.To, Video: true, NotAfter: now.Add(time.Hour), Reason: "x", Ticket: "y", Created: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateGrant(ctx, row); err != nil {
		t.Fatal(err)
	}
	if err := e.st.ApproveGrant(ctx, row.ID, signed, w.camA, now, now.Add(time.Hour), map[string][]byte{w.epochA: w.rewrap(w.camA, w.epochA, rcp)}); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.status(call{token: w.support}, "GET", "/v1/grants/"+row.ID+"/epochs", nil); st != http.StatusForbidden {
		t.Errorf("key release of an inserted grant: %d, want 403", st)
	}
	if st := w.fetch(api.Grant{ID: row.ID}, w.segsA["10:02"]); st != http.StatusForbidden {
		t.Errorf("fetch under an inserted grant: %d, want 403", st)
	}
	if n, _ := e.st.GrantWrapCount(ctx, row.ID); n != 0 {
		t.Errorf("inserted grant keeps %d wraps", n)
	}

	// 2. A real approval whose stored row is then widened to camera B.
	g, _ := w.request("Front door", true, time.Hour)
	w.approve(g, w.camA, w.epochA)
	sg, err := e.st.Grant(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.EndGrant(ctx, g.ID, []string{api.GrantApproved}, api.GrantRevoked, now); err != nil {
		t.Fatal(err)
	}
	widened := store.Grant{ID: seal.NewID(), HouseholdID: sg.HouseholdID, Requester: sg.Requester, Camera: sg.Camera, From: sg.From,
		To: sg.To.Add(time.Hour), Video: true, Duration: time.Hour, Reason: sg.Reason, Ticket: sg.Ticket, Recipient: sg.Recipient,
		State: api.GrantPending, Created: now, Expires: now.Add(time.Hour)}
	if err := e.st.CreateGrant(ctx, widened); err != nil {
		t.Fatal(err)
	}
	if err := e.st.ApproveGrant(ctx, widened.ID, sg.Signed, w.camA, now, now.Add(time.Hour), map[string][]byte{}); err != nil {
		t.Fatal(err)
	}
	if st := w.fetch(api.Grant{ID: widened.ID}, w.segsA["10:06"]); st != http.StatusForbidden {
		t.Errorf("fetch under a copied signature: %d, want 403", st)
	}

	// 3. Approved through the API with an outsider's signature.
	g3, _ := w.request("Front door", true, time.Hour)
	if st, _ := e.status(call{token: w.o.token}, "POST", "/v1/grants/"+g3.ID+"/approve", w.signGrant(outsider, g3, w.camA, w.epochA)); st != http.StatusForbidden {
		t.Errorf("approval signed outside the roster: %d, want 403", st)
	}
	if got, _ := e.st.Grant(ctx, g3.ID); got.State != api.GrantPending || len(got.Signed) != 0 {
		t.Errorf("refused approval changed the grant: %+v", got.State)
	}
	if n, _ := e.st.GrantWrapCount(ctx, g3.ID); n != 0 {
		t.Errorf("refused approval stored %d wraps", n)
	}

	log := w.ownerLog()
	for _, id := range []string{row.ID, widened.ID, g3.ID} {
		if len(find(log, api.AuditGrant, "grant_forged", id)) == 0 {
			t.Errorf("forged grant %s not logged as forged", id)
		}
	}
	if len(find(log, api.AuditKeyRelease, "", "")) != 0 {
		t.Error("a key release was logged for a forged grant")
	}
}

// TestApprovalNeedsFreshSecondFactor: an owner without a second factor
// cannot approve; with one, a stale sign-in must re-authenticate first.
func TestApprovalNeedsFreshSecondFactor(t *testing.T) {
	w := newGrantWorld(t)
	e := w.e
	g, _ := w.request("Front door", true, time.Hour)
	// Signed in a minute ago, but before the authenticator existed: the
	// sign-in used no second factor, so it must be repeated with one.
	if st, code := e.status(call{token: w.o.token}, "POST", "/v1/grants/"+g.ID+"/approve", w.signGrant(w.o.dev, g, w.camA, w.epochA)); code != api.CodeReauthRequired {
		t.Errorf("approval on a password-only sign-in: %d %s, want reauth_required", st, code)
	}
	w.reauthFactor()
	e.clock.Advance(api.ReauthWindow + time.Minute)
	if st, code := e.status(call{token: w.o.token}, "POST", "/v1/grants/"+g.ID+"/approve", w.signGrant(w.o.dev, g, w.camA, w.epochA)); code != api.CodeReauthRequired {
		t.Errorf("stale approval: %d %s, want reauth_required", st, code)
	}

	plain := signup(t, e)
	hubP := claimHub(t, e, plain)
	cam := hubP.camera()
	var pg api.Grant
	key, _ := keys.Generate("request")
	e.must(http.StatusCreated, call{token: w.support}, "POST", "/v1/support/requests", api.SupportRequest{OwnerEmail: plain.email,
		Reason: "r", Ticket: "t", Camera: "Front door", From: w.base, To: w.base.Add(time.Minute), Recipient: key.Recipient()}, &pg)
	pw := &grantWorld{e: e, o: plain, hub: hubP}
	if st, code := e.status(call{token: plain.token}, "POST", "/v1/grants/"+pg.ID+"/approve", pw.signGrant(plain.dev, pg, cam)); st != http.StatusForbidden || code != api.CodeFactorRequired {
		t.Errorf("approval without a second factor: %d %s, want 403 factor_required", st, code)
	}
}

// TestSupportRequestValidation: bad requests get clear errors.
func TestSupportRequestValidation(t *testing.T) {
	w := newGrantWorld(t)
	e := w.e
	key, _ := keys.Generate("request")
	good := api.SupportRequest{OwnerEmail: w.o.email, Reason: "r", Ticket: "t", Camera: "c", From: w.base, To: w.base.Add(time.Minute), Recipient: key.Recipient()}
	for name, tc := range map[string]struct {
		mut  func(*api.SupportRequest)
		want int
	}{
		"too long":       {func(r *api.SupportRequest) { r.DurationS = int64(25 * time.Hour / time.Second) }, 400},
		"no reason":      {func(r *api.SupportRequest) { r.Reason = " " }, 400},
		"reversed":       {func(r *api.SupportRequest) { r.To = r.From.Add(-time.Minute) }, 400},
		"bad key":        {func(r *api.SupportRequest) { r.Recipient = "age1notakey" }, 400},
		"unknown owner":  {func(r *api.SupportRequest) { r.OwnerEmail = "nobody-" + randomHex(3) + "@example.org" }, 404},
		"staff as owner": {func(r *api.SupportRequest) { r.OwnerEmail = "x" }, 400},
	} {
		in := good
		tc.mut(&in)
		if st, code := e.status(call{token: w.support}, "POST", "/v1/support/requests", in); st != tc.want {
			t.Errorf("%s: %d %s, want %d", name, st, code, tc.want)
		}
	}
	var g api.Grant
	e.must(http.StatusCreated, call{token: w.support}, "POST", "/v1/support/requests", good, &g)
	if g.DurationS != int64(api.GrantDefaultDuration/time.Second) || g.Video {
		t.Errorf("defaults: duration %ds, video %t; want 3600s, false", g.DurationS, g.Video)
	}
}

// TestOperatorSeesEnvelopesOnly: the operator lists the log's clear
// envelopes, never a body, and cannot read a household's log.
func TestOperatorSeesEnvelopesOnly(t *testing.T) {
	w := newGrantWorld(t)
	e := w.e
	w.request("Front door", true, time.Hour)
	e.srv.WaitAudit()
	op := newStaffToken(t, e, api.RoleOperator)
	var env api.AuditEnvelopes
	for deadline := time.Now().Add(10 * time.Second); env.Size == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		e.must(http.StatusOK, call{token: op}, "GET", "/v1/ops/audit", nil, &env)
	}
	if len(env.Envelopes) == 0 || env.Size == 0 {
		t.Fatalf("operator envelopes = %+v", env)
	}
	raw, _ := json.Marshal(env)
	if strings.Contains(string(raw), "body") || strings.Contains(string(raw), "T-4711") || strings.Contains(string(raw), w.o.email) {
		t.Errorf("operator listing reveals more than envelopes: %s", raw)
	}
	if st, _ := e.status(call{token: op}, "GET", "/v1/audit", nil); st != http.StatusForbidden {
		t.Errorf("operator reading a household log: %d, want 403", st)
	}
}

// newStaffToken creates a staff account of role and signs it in.
func newStaffToken(t *testing.T, e *acctEnv, role string) string {
	ts := httptest.NewServer(e.srv.AdminHandler())
	defer ts.Close()
	admin := &acctEnv{t: t, url: ts.URL}
	email, password := role+"-"+randomHex(4)+"@example.com", "staff badge "+randomHex(6)+" corridor"
	var out api.AdminStaffCreated
	admin.must(http.StatusCreated, call{}, "POST", "/admin/staff", api.AdminStaffCreate{Email: email, Role: role, Password: password}, &out)
	secret, err := base32Raw.DecodeString(out.TOTPSecret)
	if err != nil {
		t.Fatal(err)
	}
	return e.loginTOTP(email, password, secret, "desk").token
}

// TestOwnerEventsLogged: the owner's own security events are in the log
// (sign-ins and failures, factor changes, session revocations, roster
// versions, hub claims), sealed so only owner devices read them.
func TestOwnerEventsLogged(t *testing.T) {
	w := newGrantWorld(t)
	e := w.e
	e.status(call{}, "POST", "/v1/login", api.LoginRequest{Email: w.o.email, Password: "wrong password entirely", DeviceName: "x"})
	// Another household's owner probing our camera: 404, as for a missing
	// one, but in our log.
	stranger := signup(t, e)
	if st, _ := e.status(call{token: stranger.token}, "GET", "/v1/cameras/"+w.camA+"/epochs", nil); st != http.StatusNotFound {
		t.Errorf("stranger on our camera: %d, want 404", st)
	}
	log := w.ownerLog()
	probes := find(log, api.AuditDenial, "denied", w.camA)
	if len(probes) != 1 || probes[0].Body.Actor.Kind != api.ActorCustomer || probes[0].Body.Status != 404 {
		t.Errorf("stranger's probe logged as %+v", probes)
	}
	for _, want := range []struct{ class, action string }{
		{api.AuditAuth, "login_failed"},
		{api.AuditAuth, api.NoticeFactorChange},
		{api.AuditDevice, "roster_version"},
		{api.AuditHub, "hub_claimed"},
	} {
		if len(find(log, want.class, want.action, "")) == 0 {
			t.Errorf("no %s/%s entry in the owner's log", want.class, want.action)
		}
	}
}

// TestServiceDumpDecryptsNothing: with a grant approved and used, a full
// copy of what the service holds — database, blobs, audit log and its
// signing key, every wrap including the grant's — plus the operator's
// credentials opens nothing: no age identity is anywhere in it, and no
// object, wrap or audit body decrypts with anything in it.
func TestServiceDumpDecryptsNothing(t *testing.T) {
	w := newGrantWorld(t)
	e, ctx := w.e, t.Context()
	g, _ := w.request("Front door", true, time.Hour)
	w.approve(g, w.camA, w.epochA)
	if st := w.fetch(g, w.segsA["10:02"]); st != http.StatusOK {
		t.Fatalf("fetch under the grant: %d", st)
	}
	op := newStaffToken(t, e, api.RoleOperator)
	for _, p := range []string{"/v1/objects/" + w.segsA["10:02"], "/v1/cameras/" + w.camA + "/epochs", "/v1/grants/" + g.ID + "/epochs", "/v1/audit"} {
		if st, _ := e.status(call{token: op}, "GET", p, nil); st != http.StatusForbidden {
			t.Errorf("operator GET %s: %d, want 403", p, st)
		}
	}
	w.ownerLog()

	// Everything on disk, and every wrap in the store.
	var ageFiles [][]byte
	var dump []byte
	err := filepath.WalkDir(e.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dump = append(dump, b...)
		if bytes.HasPrefix(b, []byte("age-encryption.org/v1\n")) {
			ageFiles = append(ageFiles, b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, cam := range []string{w.camA, w.camB} {
		for _, dev := range []string{w.o.dev.ID, store.GrantDevice(g.ID)} {
			eps, err := e.st.Epochs(ctx, cam, dev)
			if err != nil {
				t.Fatal(err)
			}
			for _, ep := range eps {
				if ep.Wrap != nil {
					ageFiles = append(ageFiles, ep.Wrap)
				}
			}
		}
	}
	if len(ageFiles) < 8 {
		t.Fatalf("only %d age files in the dump: the test looked in the wrong place", len(ageFiles))
	}
	if n, _ := e.st.GrantWrapCount(ctx, g.ID); n == 0 {
		t.Fatal("the grant's wraps are not in the store: nothing to test")
	}
	if bytes.Contains(dump, []byte("mdat segment")) {
		t.Error("the dump contains segment plaintext")
	}
	ids := regexp.MustCompile(`AGE-SECRET-KEY-(?:PQ-)?1[A-Z0-9]+`).FindAll(dump, -1)
	if len(ids) > 0 {
		t.Errorf("the dump holds %d age identities", len(ids))
	}
	// Whatever the dump holds that might be a key: identities (none, as
	// checked) and the log signing key; plus the operator's token.
	var tries []age.Identity
	for _, s := range ids {
		if id, err := age.ParseHybridIdentity(string(s)); err == nil {
			tries = append(tries, id)
		}
	}
	keyFile, err := os.ReadFile(filepath.Join(e.dir, "log.key"))
	if err != nil {
		t.Fatal(err)
	}
	for _, candidate := range []string{strings.TrimSpace(string(keyFile)), op} {
		if id, err := age.ParseX25519Identity(candidate); err == nil {
			tries = append(tries, id)
		}
		if id, err := age.ParseHybridIdentity(candidate); err == nil {
			tries = append(tries, id)
		}
	}
	opened := 0
	for _, f := range ageFiles {
		if len(tries) == 0 {
			break
		}
		if _, err := keys.Decrypt(f, tries...); err == nil {
			opened++
		}
	}
	if opened != 0 || len(tries) != 0 {
		t.Errorf("%d of %d age files open with %d keys found in the dump", opened, len(ageFiles), len(tries))
	}
	t.Logf("dump: %d bytes, %d age files, 0 keys", len(dump), len(ageFiles))
}

// TestLogDownFailsClosed: with the audit log's storage broken for real
// (its entry bundle directory replaced by a file: even root cannot write
// there), approving a grant, releasing keys and fetching under a grant
// answer 503 and release nothing, while the owner keeps reading its own
// recordings and keys.
func TestLogDownFailsClosed(t *testing.T) {
	w := newGrantWorld(t)
	e, ctx := w.e, t.Context()
	approved, _ := w.request("Front door", true, time.Hour)
	w.approve(approved, w.camA, w.epochA)
	pending, _ := w.request("Front door", true, time.Hour)
	e.srv.WaitAudit()

	entries := filepath.Join(e.dir, "log", "tile", "entries")
	if err := os.Rename(entries, entries+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(entries, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}

	st, code := e.status(call{token: w.o.token}, "POST", "/v1/grants/"+pending.ID+"/approve", w.signGrant(w.o.dev, pending, w.camA, w.epochA))
	if st != http.StatusServiceUnavailable || code != "audit_log_unavailable" {
		t.Errorf("approval with the log down: %d %s, want 503 audit_log_unavailable", st, code)
	}
	if g, _ := e.st.Grant(ctx, pending.ID); g.State != api.GrantPending {
		t.Errorf("grant after a refused approval: %s", g.State)
	}
	if n, _ := e.st.GrantWrapCount(ctx, pending.ID); n != 0 {
		t.Errorf("refused approval stored %d wraps", n)
	}
	resp, _ := e.do(call{token: w.support}, "GET", "/v1/grants/"+approved.ID+"/epochs", nil, nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("key release with the log down: %d, want 503", resp.StatusCode)
	}
	if st := w.fetch(approved, w.segsA["10:02"]); st != http.StatusServiceUnavailable {
		t.Errorf("support fetch with the log down: %d, want 503", st)
	}

	// The owner's own keys and recordings work as before.
	if _, err := w.o.c.Epochs(ctx, w.camA, w.o.dev.ID); err != nil {
		t.Errorf("owner's epochs with the log down: %v", err)
	}
	if b, err := w.o.c.Object(ctx, w.segsA["10:02"]); err != nil || len(b) == 0 {
		t.Errorf("owner's object with the log down: %d bytes, %v", len(b), err)
	}
	if ms, err := w.o.c.Manifests(ctx, w.camA, w.base, w.base.Add(time.Hour), true); err != nil || len(ms) != 1 {
		t.Errorf("owner's manifests with the log down: %d, %v", len(ms), err)
	}
	e.srv.WaitAudit()
	if !strings.Contains(e.logs.String(), "audit log") {
		t.Error("the failure is not in the service's log")
	}
}
