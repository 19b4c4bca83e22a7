package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/httpapi"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

func TestAccountsAndSessions(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	anon := e.client("")

	o := signup(t, e)
	me, err := o.c.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := &api.Me{AccountID: me.AccountID, Email: o.email, HouseholdID: o.household, Role: "owner", SessionID: me.SessionID, AuthAt: me.AuthAt}
	if diff := cmp.Diff(want, me); diff != "" || me.SessionID == "" || me.AuthAt.IsZero() {
		t.Errorf("Me (-want +got):\n%s", diff)
	}

	// Signup refusals.
	_, err = anon.Signup(ctx, api.SignupRequest{Email: strings.ToUpper(o.email), Password: "quartz lantern mosaic river"})
	wantStatus(t, err, http.StatusConflict, "signup with a taken e-mail (other case)")
	_, err = anon.Signup(ctx, api.SignupRequest{Email: "new@example.org", Password: "short"})
	wantStatus(t, err, http.StatusBadRequest, "short password")
	if err == nil || !strings.Contains(err.Error(), "at least 10 characters") {
		t.Errorf("short password error %v does not say what to do", err)
	}
	_, err = anon.Signup(ctx, api.SignupRequest{Email: "new@example.org", Password: "password123"})
	wantStatus(t, err, http.StatusBadRequest, "common password")
	_, err = anon.Signup(ctx, api.SignupRequest{Email: "not-an-address", Password: "a perfectly good password"})
	wantStatus(t, err, http.StatusBadRequest, "bad e-mail")

	// Login: a second session; wrong password and unknown e-mail answer alike.
	s2, err := anon.Login(ctx, api.LoginRequest{Email: "  " + strings.ToUpper(o.email), Password: o.password, DeviceName: "phone"})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	_, errPw := anon.Login(ctx, api.LoginRequest{Email: o.email, Password: o.password + "x"})
	_, errMail := anon.Login(ctx, api.LoginRequest{Email: "nobody@example.org", Password: o.password})
	wantStatus(t, errPw, http.StatusUnauthorized, "wrong password")
	wantStatus(t, errMail, http.StatusUnauthorized, "unknown e-mail")
	var e1, e2 *apiclient.Error
	if errors.As(errPw, &e1) && errors.As(errMail, &e2) && e1.Message != e2.Message {
		t.Errorf("login messages differ: %q vs %q", e1.Message, e2.Message)
	}

	// Logout ends exactly this session.
	if err := o.c.Logout(ctx); err != nil {
		t.Fatalf("logout: %v", err)
	}
	_, err = o.c.Me(ctx)
	wantStatus(t, err, http.StatusUnauthorized, "old token after logout")
	if _, err := e.client(s2.Session.Token).Me(ctx); err != nil {
		t.Errorf("other session ended too: %v", err)
	}

	// No token, garbage, and a hub-shaped token on a user route.
	_, err = anon.Me(ctx)
	wantStatus(t, err, http.StatusUnauthorized, "no token")
	_, err = e.client("pls_garbage").Me(ctx)
	wantStatus(t, err, http.StatusUnauthorized, "garbage token")
	_, err = e.client("plh_" + strings.Repeat("A", 43)).Me(ctx)
	wantStatus(t, err, http.StatusUnauthorized, "hub token on a user route")

	// Idle timeout: a week unused ends the session.
	e.clock.Advance(8 * 24 * time.Hour)
	_, err = e.client(s2.Session.Token).Me(ctx)
	wantStatus(t, err, http.StatusUnauthorized, "session idle for 8 days")
}

func TestResponseHeadersAndErrors(t *testing.T) {
	e := start(t)
	o := signup(t, e)
	resp := e.raw("GET", "/v1/me", o.token, nil, nil)
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q on an authenticated response", got)
	}
	// Strict JSON: unknown fields and trailing data are refused.
	for _, body := range []string{
		`{"email":"a@example.org","password":"long enough pw","admin":true}`,
		`{"email":"a@example.org","password":"long enough pw"} {}`,
		`{"email":`,
		``,
	} {
		resp := e.raw("POST", "/v1/signup", "", strings.NewReader(body), map[string]string{"Content-Type": "application/json"})
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("signup with %q: %s, want 400", body, resp.Status)
		}
	}
	// Oversized JSON body.
	big := `{"email":"a@example.org","password":"` + strings.Repeat("x", httpapi.MaxJSONBody) + `"}`
	if resp := e.raw("POST", "/v1/signup", "", strings.NewReader(big), nil); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("huge signup body: %s, want 413", resp.Status)
	}
	// Unknown route: a JSON error with an id that is in the log line.
	_, err := o.c.Object(t.Context(), "../../etc/passwd")
	var ae *apiclient.Error
	if !errors.As(err, &ae) || ae.ID == "" || (ae.Status != 404 && ae.Status != 400) {
		t.Fatalf("bad object id: %v", err)
	}
	if !strings.Contains(e.logs.String(), ae.ID) {
		t.Errorf("error id %s not in the logs", ae.ID)
	}
	if err := e.client("").Healthz(t.Context()); err != nil {
		t.Errorf("healthz: %v", err)
	}
	// A served path with the wrong method: 405 with Allow, not 404.
	resp = e.raw("DELETE", "/v1/roster", o.token, nil, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, POST" {
		t.Errorf("DELETE /v1/roster: %s, Allow %q; want 405 with Allow: GET, POST", resp.Status, resp.Header.Get("Allow"))
	}
	if resp := e.raw("GET", "/v1/nothing-here", o.token, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /v1/nothing-here: %s, want 404", resp.Status)
	}
}

func TestClaimFlowAndPlayback(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	o := signup(t, e)
	hub := claimHub(t, e, o)

	ro, err := hub.c.HubRoster(ctx)
	if err != nil || len(ro.Versions) != 2 {
		t.Fatalf("hub roster: %d versions, %v", len(ro.Versions), err)
	}
	if _, err := seal.VerifyRosterChain(ro.Versions, o.dev.SignPub()); err != nil {
		t.Errorf("hub roster does not verify: %v", err)
	}

	cam := hub.camera()
	ep, rcpt := hub.epoch(cam)
	t0 := e.clock.Now().Add(-10 * time.Minute)
	var segs []seal.ManifestObject
	for i := range 3 {
		segs = append(segs, hub.segment(cam, ep, rcpt, uint64(i), t0.Add(time.Duration(i)*4*time.Second)))
	}
	man := hub.manifest(cam, ep, rcpt, 1, segs)

	// The owner's side: cameras → descriptor, epochs → key, manifests → segments.
	cams, err := o.c.Cameras(ctx)
	if err != nil || len(cams) != 1 || cams[0].ID != cam || cams[0].HubID != hub.keys.ID || cams[0].LastUpload.IsZero() {
		t.Fatalf("cameras = %+v, %v", cams, err)
	}
	desc, err := o.dev.OpenCamera(cams[0].Descriptor, hub.keys.SignPub())
	if err != nil || desc.Name != "Front door" {
		t.Fatalf("open descriptor: %+v, %v", desc, err)
	}
	eps, err := o.c.Epochs(ctx, cam, o.dev.ID)
	if err != nil || len(eps) != 1 || len(eps[0].Wrap) == 0 {
		t.Fatalf("epochs = %+v, %v", eps, err)
	}
	if others, _ := o.c.Epochs(ctx, cam, seal.NewID()); len(others) != 1 || others[0].Wrap != nil {
		t.Errorf("another device's epochs carry a wrap: %+v", others)
	}
	ann, err := seal.VerifyEpoch(eps[0].Announcement, hub.keys.SignPub())
	if err != nil {
		t.Fatal(err)
	}
	epochKey, err := o.dev.OpenEpochKey(eps[0].Wrap, ann)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := o.c.Manifests(ctx, cam, t0, t0, true)
	if err != nil || len(ms) != 1 || ms[0].ID != man || len(ms[0].Data) == 0 {
		t.Fatalf("manifests = %+v, %v", ms, err)
	}
	m, err := keys.OpenManifest(ms[0].Data, epochKey, hub.keys.SignPub(), o.household, cam, ep)
	if err != nil || len(m.Objects) != 3 {
		t.Fatalf("open manifest: %+v, %v", m, err)
	}
	for _, mo := range m.Objects {
		body, err := o.c.Object(ctx, mo.ID)
		if err != nil {
			t.Fatalf("object: %v", err)
		}
		if seal.SHA256Hex(body) != mo.SHA256 {
			t.Fatal("object hash does not match the manifest")
		}
		hdr, media, err := keys.OpenSegment(body, epochKey)
		if err != nil || hdr.Seq != mo.Seq || !hdr.Start.Equal(mo.Start) || !bytes.HasPrefix(media, []byte("ftyp")) {
			t.Fatalf("open segment: %+v %v", hdr, err)
		}
	}
	// Manifests out of range; without data.
	if far, _ := o.c.Manifests(ctx, cam, t0.Add(time.Hour), t0.Add(2*time.Hour), false); len(far) != 0 {
		t.Errorf("manifests an hour later: %d", len(far))
	}
	if near, _ := o.c.Manifests(ctx, cam, t0.Add(-50*time.Second), t0.Add(-40*time.Second), false); len(near) != 1 || near[0].Data != nil {
		t.Errorf("manifests within a minute without data: %+v", near)
	}

	// Retention setting.
	days := 3
	if err := o.c.UpdateCamera(ctx, cam, api.CameraUpdate{RetentionDays: &days}); err != nil {
		t.Fatal(err)
	}
	bad := -1
	wantStatus(t, o.c.UpdateCamera(ctx, cam, api.CameraUpdate{RetentionDays: &bad}), 400, "negative retention")
	if cams, _ := o.c.Cameras(ctx); cams[0].RetentionDays != 3 {
		t.Errorf("retention = %d", cams[0].RetentionDays)
	}
}

func TestClaimRefusals(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	anon := e.client("")

	// No roster yet: no claim.
	resp, err := anon.Signup(ctx, api.SignupRequest{Email: "bare@example.org", Password: "a long enough password"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client(resp.Token).CreateClaim(ctx)
	wantStatus(t, err, http.StatusConflict, "claim without a roster")

	o := signup(t, e)
	code, err := o.c.CreateClaim(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}$`).MatchString(code.Code) {
		t.Errorf("claim code %q has the wrong shape", code.Code)
	}
	hk, _ := keys.Generate("hub")
	other, _ := keys.Generate("intruder")
	present := func(k *keys.Pair, code, secret string) error {
		_, err := anon.PresentHub(ctx, api.HubPresent{Code: code, Name: "hub", Sign: k.SignPub(), KEM: k.Recipient(), Secret: secret})
		return err
	}
	wantStatus(t, present(hk, "AAAA-BBBB-CCCC", strings.Repeat("s", 32)), 404, "unknown code")
	secret := strings.Repeat("s", 32)
	if err := present(hk, strings.ToLower(code.Code), secret); err != nil {
		t.Fatalf("present (lower case): %v", err)
	}
	if err := present(hk, code.Code, secret); err != nil {
		t.Errorf("presenting again, same hub and secret: %v", err)
	}
	wantStatus(t, present(other, code.Code, strings.Repeat("t", 32)), 409, "another hub on a presented code")
	_, err = anon.PollHub(ctx, api.HubPoll{Code: code.Code, Secret: "wrong secret value"})
	wantStatus(t, err, 404, "poll with a wrong secret")

	// Confirm refusals: wrong hub id, roster without the hub.
	wantStatus(t, o.c.ConfirmClaim(ctx, code.Code, other.ID), 409, "confirm another hub id")
	wantStatus(t, o.c.ConfirmClaim(ctx, code.Code, hk.ID), 409, "confirm before the roster lists the hub")
	// Another household cannot see or confirm the claim.
	o2 := signup(t, e)
	_, err = o2.c.ClaimStatus(ctx, code.Code)
	wantStatus(t, err, 404, "another household's claim")
	wantStatus(t, o2.c.ConfirmClaim(ctx, code.Code, hk.ID), 404, "confirm another household's claim")

	// Expiry.
	code2, _ := o.c.CreateClaim(ctx)
	e.clock.Advance(16 * time.Minute)
	wantStatus(t, present(other, code2.Code, secret), 404, "expired code")
	if st, err := o.c.ClaimStatus(ctx, code2.Code); err != nil || st.State != api.ClaimExpired {
		t.Errorf("expired claim status = %+v, %v", st, err)
	}

	// A token is handed out once.
	e.clock.Advance(-16 * time.Minute)
	h := claimHub(t, e, o)
	_ = h
	// The claimed hub cannot be claimed again into another household.
	code3, _ := o2.c.CreateClaim(ctx)
	if err := present(h.keys, code3.Code, secret); !apiclient.IsStatus(err, 409) {
		t.Errorf("presenting a claimed hub: %v, want 409", err)
	}
}

func TestTokenOnlyOnce(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	o := signup(t, e)
	code, _ := o.c.CreateClaim(ctx)
	hk, _ := keys.Generate("hub")
	anon := e.client("")
	secret := randomHex(32)
	if _, err := anon.PresentHub(ctx, api.HubPresent{Code: code.Code, Name: "hub", Sign: hk.SignPub(), KEM: hk.Recipient(), Secret: secret}); err != nil {
		t.Fatal(err)
	}
	o.appendRoster(o.deviceEntry(), seal.RosterEntry{ID: hk.ID, Kind: seal.KindHub, Role: seal.RoleHub, Name: "hub", Sign: hk.SignPub(), KEM: hk.Recipient()})
	if err := o.c.ConfirmClaim(ctx, code.Code, hk.ID); err != nil {
		t.Fatal(err)
	}
	p1, err := anon.PollHub(ctx, api.HubPoll{Code: code.Code, Secret: secret})
	if err != nil || p1.Token == "" {
		t.Fatalf("first poll: %+v %v", p1, err)
	}
	p2, err := anon.PollHub(ctx, api.HubPoll{Code: code.Code, Secret: secret})
	if err != nil || p2.Token != "" || p2.State != api.ClaimConfirmed {
		t.Errorf("second poll: %+v %v", p2, err)
	}
	if _, err := e.client(p1.Token).HubRoster(ctx); err != nil {
		t.Errorf("hub token does not work: %v", err)
	}
	_, err = e.client(p1.Token).Cameras(ctx)
	wantStatus(t, err, 401, "hub token on an owner route")
	_, err = o.c.HubRoster(ctx)
	wantStatus(t, err, 401, "user token on a hub route")
}

func TestRosterAppend(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	o := signup(t, e)
	member, _ := keys.Generate("member phone")
	memberEntry := seal.RosterEntry{ID: member.ID, Kind: seal.KindDevice, Role: seal.RoleMember, Name: "phone", Sign: member.SignPub(), KEM: member.Recipient(), Cameras: []string{seal.AllCameras}}

	// Forged: signed by a key that is not an owner of version 1.
	forged := o.nextRoster(member, o.household, o.deviceEntry(), memberEntry)
	wantStatus(t, o.c.AppendRoster(ctx, forged), 400, "roster signed by a non-owner")
	// Tampered signature bytes.
	good := o.nextRoster(o.dev, o.household, o.deviceEntry(), memberEntry)
	env, _ := seal.ParseSigned(good, seal.TypeRoster)
	env.Sig[0] ^= 1
	if err := o.c.AppendRoster(ctx, mustJSON(t, env)); !apiclient.IsStatus(err, 400) {
		t.Errorf("roster with a flipped signature bit: %v, want 400", err)
	}
	// Skipped version.
	r := seal.Roster{Household: o.household, Version: 3, Prev: strings.Repeat("0", 64), Created: time.Now(), Entries: []seal.RosterEntry{o.deviceEntry()}}
	skipped, _ := seal.SignRoster(o.dev.Sign, r)
	wantStatus(t, o.c.AppendRoster(ctx, skipped), 400, "skipped version")
	// Another household.
	wrongHH := o.nextRoster(o.dev, seal.NewID(), o.deviceEntry())
	if err := o.c.AppendRoster(ctx, wrongHH); !apiclient.IsStatus(err, 403) && !apiclient.IsStatus(err, 400) {
		t.Errorf("roster for another household: %v, want 4xx", err)
	}
	// Not a roster at all.
	wantStatus(t, o.c.AppendRoster(ctx, []byte(`{"v":1}`)), 400, "garbage roster")
	// The good one, then the same version again (a lost race).
	if err := o.c.AppendRoster(ctx, good); err != nil {
		t.Fatalf("append v2: %v", err)
	}
	wantStatus(t, o.c.AppendRoster(ctx, good), 409, "version 2 again")
	ro, _ := o.c.Roster(ctx)
	latest, err := seal.VerifyRosterChain(ro.Versions, o.dev.SignPub())
	if err != nil || latest.Version != 2 || latest.Entry(member.ID) == nil {
		t.Errorf("chain after append: %+v, %v", latest, err)
	}
}

func mustJSON(t *testing.T, env *seal.Signed) []byte {
	t.Helper()
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUploads(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	o := signup(t, e)
	hub := claimHub(t, e, o)
	cam := hub.camera()
	ep, rcpt := hub.epoch(cam)
	now := e.clock.Now()
	meta := apiclient.ObjectMeta{Camera: cam, Epoch: ep, Kind: api.ObjectSegment, Time: now}

	_, err := hub.c.PutObject(ctx, seal.NewID(), meta, []byte("ftyp plaintext mp4, not an age file"))
	wantStatus(t, err, 400, "plaintext upload")

	body := ageBody(t)
	bad := meta
	bad.SHA256 = strings.Repeat("ab", 32)
	_, err = hub.c.PutObject(ctx, seal.NewID(), bad, body)
	wantStatus(t, err, 400, "hash mismatch")
	if err == nil || !strings.Contains(err.Error(), "body hash does not match X-Porchlight-SHA256") || !apiclient.IsRetryable(err) {
		t.Errorf("hash mismatch: %v (want the clear message, and retryable: the sender's copy may be intact)", err)
	}

	// Oversize: a manifest over 1 MiB, a segment over 64 MiB.
	bigMan := meta
	bigMan.Kind, bigMan.Refs = api.ObjectManifest, []string{seal.NewID()}
	_, err = hub.c.PutObject(ctx, seal.NewID(), bigMan, make([]byte, httpapi.MaxManifestSize+1))
	wantStatus(t, err, 413, "manifest over 1 MiB")
	_, err = hub.c.PutObject(ctx, seal.NewID(), meta, make([]byte, httpapi.MaxSegmentSize+1))
	wantStatus(t, err, 413, "segment over 64 MiB")

	// Idempotent retry; same id with other content.
	id := seal.NewID()
	if r, err := hub.c.PutObject(ctx, id, meta, body); err != nil || r.Existed {
		t.Fatalf("first upload: %+v %v", r, err)
	}
	if r, err := hub.c.PutObject(ctx, id, meta, body); err != nil || !r.Existed || r.ID != id {
		t.Errorf("retry: %+v %v", r, err)
	}
	_, err = hub.c.PutObject(ctx, id, meta, ageBody(t))
	wantStatus(t, err, 409, "same id, other hash")
	if got, _ := o.c.Object(ctx, id); !bytes.Equal(got, body) {
		t.Error("the refused upload changed the stored object")
	}

	// Manifest refs.
	seg := hub.segment(cam, ep, rcpt, 1, now)
	manMeta := apiclient.ObjectMeta{Camera: cam, Epoch: ep, Kind: api.ObjectManifest, Time: now, Refs: []string{seg.ID, seal.NewID()}}
	manID := seal.NewID()
	_, err = hub.c.PutObject(ctx, manID, manMeta, ageBody(t))
	wantStatus(t, err, 409, "manifest with a missing ref")
	if err == nil || !strings.Contains(err.Error(), "upload the listed objects first") {
		t.Errorf("missing ref message: %v", err)
	}
	if _, err := os.Stat(blobPath(e, manID)); !os.IsNotExist(err) {
		t.Errorf("refused manifest left a blob: %v", err)
	}
	manMeta.Refs = nil
	_, err = hub.c.PutObject(ctx, seal.NewID(), manMeta, ageBody(t))
	wantStatus(t, err, 400, "manifest without refs")

	// Header checks.
	for name, m := range map[string]apiclient.ObjectMeta{
		"unknown epoch":    {Camera: cam, Epoch: seal.NewID(), Kind: api.ObjectSegment, Time: now},
		"unknown camera":   {Camera: seal.NewID(), Epoch: ep, Kind: api.ObjectSegment, Time: now},
		"bad kind":         {Camera: cam, Epoch: ep, Kind: "thumbnail", Time: now},
		"refs on segment":  {Camera: cam, Epoch: ep, Kind: api.ObjectSegment, Time: now, Refs: []string{seg.ID}},
		"malformed camera": {Camera: "CAM!", Epoch: ep, Kind: api.ObjectSegment, Time: now},
	} {
		if _, err := hub.c.PutObject(ctx, seal.NewID(), m, ageBody(t)); err == nil || apiclient.IsRetryable(err) {
			t.Errorf("%s: %v, want a 4xx", name, err)
		}
	}
	_, err = hub.c.PutObject(ctx, "NOT-AN-ID", meta, body)
	wantStatus(t, err, 400, "malformed object id")
	_, err = e.client("").PutObject(ctx, seal.NewID(), meta, body)
	wantStatus(t, err, 401, "upload without a token")
	_, err = o.c.PutObject(ctx, seal.NewID(), meta, body)
	wantStatus(t, err, 401, "upload with a user token")

	// Coarse time is truncated to the minute.
	ms, err := o.c.Manifests(ctx, cam, now.Add(-time.Hour), now.Add(time.Hour), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if !m.Time.Equal(m.Time.Truncate(time.Minute)) {
			t.Errorf("coarse time %v not truncated", m.Time)
		}
	}

	// A non-age descriptor and epoch tampering.
	err = hub.c.PutCamera(ctx, seal.NewID(), api.HubCamera{Descriptor: []byte(`{"name":"Front door"}`)})
	wantStatus(t, err, 400, "plaintext camera descriptor")
	eps, _ := o.c.Epochs(ctx, cam, o.dev.ID)
	err = hub.c.PutEpoch(ctx, seal.NewID(), api.EpochPut{CameraID: cam, Announcement: eps[0].Announcement})
	wantStatus(t, err, 400, "announcement of another epoch id")
}

func blobPath(e *env, id string) string {
	return filepath.Join(e.data, "blobs", id[0:2], id[2:4], id)
}

func TestHouseholdIsolation(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	a := signup(t, e)
	hubA := claimHub(t, e, a)
	camA := hubA.camera()
	epA, rcptA := hubA.epoch(camA)
	seg := hubA.segment(camA, epA, rcptA, 0, e.clock.Now())
	hubA.manifest(camA, epA, rcptA, 0, []seal.ManifestObject{seg})

	b := signup(t, e)
	hubB := claimHub(t, e, b)
	camB := hubB.camera()

	if cams, err := b.c.Cameras(ctx); err != nil || len(cams) != 1 || cams[0].ID != camB {
		t.Errorf("B's cameras = %+v, %v", cams, err)
	}
	days := 1
	wantStatus(t, b.c.UpdateCamera(ctx, camA, api.CameraUpdate{RetentionDays: &days}), 404, "B patches A's camera")
	_, err := b.c.Epochs(ctx, camA, b.dev.ID)
	wantStatus(t, err, 404, "B lists A's epochs")
	_, err = b.c.Manifests(ctx, camA, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), true)
	wantStatus(t, err, 404, "B lists A's manifests")
	_, err = b.c.Object(ctx, seg.ID)
	wantStatus(t, err, 404, "B fetches A's object")
	if _, err := a.c.Object(ctx, seg.ID); err != nil {
		t.Errorf("A fetches its own object: %v", err)
	}

	// B's hub cannot write into A's camera.
	ann, _ := a.c.Epochs(ctx, camA, a.dev.ID)
	err = hubB.c.PutEpoch(ctx, seal.NewID(), api.EpochPut{CameraID: camA, Announcement: ann[0].Announcement})
	wantStatus(t, err, 403, "B's hub puts an epoch on A's camera")
	_, err = hubB.c.PutObject(ctx, seal.NewID(), apiclient.ObjectMeta{Camera: camA, Epoch: epA, Kind: api.ObjectSegment, Time: time.Now()}, ageBody(t))
	wantStatus(t, err, 403, "B's hub uploads to A's camera")
	desc, _ := seal.SealCamera(hubB.keys.Sign, seal.CameraDescriptor{Household: b.household, Camera: camA, Hub: hubB.keys.ID, Name: "x"}, b.dev.KEM.Recipient())
	wantStatus(t, hubB.c.PutCamera(ctx, camA, api.HubCamera{Descriptor: desc}), 409, "B's hub takes over A's camera id")
}

func TestRetention(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	o := signup(t, e)
	hub := claimHub(t, e, o)
	cam := hub.camera()
	ep, rcpt := hub.epoch(cam)
	keep := hub.camera() // a camera without retention

	start := e.clock.Now().Add(-time.Hour)
	var old []seal.ManifestObject
	for i := range 2 {
		old = append(old, hub.segment(cam, ep, rcpt, uint64(i), start.Add(time.Duration(i)*4*time.Second)))
	}
	oldMan := hub.manifest(cam, ep, rcpt, 0, old)
	epK, rcptK := hub.epoch(keep)
	kept := hub.segment(keep, epK, rcptK, 0, start)

	days := 1
	if err := o.c.UpdateCamera(ctx, cam, api.CameraUpdate{RetentionDays: &days}); err != nil {
		t.Fatal(err)
	}
	if n, err := e.m.Retain(ctx); err != nil || n != 0 {
		t.Fatalf("retention before the limit: %d, %v", n, err)
	}
	e.clock.Advance(2 * 24 * time.Hour)
	fresh := hub.segment(cam, ep, rcpt, 2, e.clock.Now())
	freshMan := hub.manifest(cam, ep, rcpt, 1, []seal.ManifestObject{fresh})

	n, err := e.m.Retain(ctx)
	if err != nil || n != 3 {
		t.Fatalf("retention deleted %d objects, %v; want 3", n, err)
	}
	for _, id := range []string{oldMan, old[0].ID, old[1].ID} {
		_, err := o.c.Object(ctx, id)
		wantStatus(t, err, 404, "expired object")
		if _, err := os.Stat(blobPath(e, id)); !os.IsNotExist(err) {
			t.Errorf("blob of expired object %s still on disk", id)
		}
	}
	for _, id := range []string{fresh.ID, freshMan, kept.ID} {
		if _, err := o.c.Object(ctx, id); err != nil {
			t.Errorf("object %s within retention: %v", id, err)
		}
	}
	ms, err := o.c.Manifests(ctx, cam, start.Add(-time.Hour), e.clock.Now().Add(time.Hour), false)
	if err != nil || len(ms) != 1 || ms[0].ID != freshMan {
		t.Errorf("manifests after retention = %+v, %v", ms, err)
	}
}

// TestNoSecretsInLogs runs every flow with debug logging and checks that no
// password, token, claim code, hub secret or e-mail reached the log.
func TestNoSecretsInLogs(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	o := signup(t, e)
	code, _ := o.c.CreateClaim(ctx)
	hk, _ := keys.Generate("hub")
	secret := "hub-secret-" + randomHex(16)
	anon := e.client("")
	_, _ = anon.PresentHub(ctx, api.HubPresent{Code: code.Code, Name: "hub", Sign: hk.SignPub(), KEM: hk.Recipient(), Secret: secret})
	_, _ = anon.PollHub(ctx, api.HubPoll{Code: code.Code, Secret: secret + "x"})
	_, _ = o.c.ClaimStatus(ctx, code.Code)
	o.appendRoster(o.deviceEntry(), seal.RosterEntry{ID: hk.ID, Kind: seal.KindHub, Role: seal.RoleHub, Name: "hub", Sign: hk.SignPub(), KEM: hk.Recipient()})
	_ = o.c.ConfirmClaim(ctx, code.Code, hk.ID)
	p, _ := anon.PollHub(ctx, api.HubPoll{Code: code.Code, Secret: secret})
	login, _ := anon.Login(ctx, api.LoginRequest{Email: o.email, Password: o.password})
	_, _ = anon.Login(ctx, api.LoginRequest{Email: o.email, Password: "wrong " + o.password})
	_, _ = anon.Signup(ctx, api.SignupRequest{Email: o.email, Password: o.password})
	_ = o.c.Logout(ctx)
	_, _ = o.c.Me(ctx)

	logs := e.logs.String()
	if !strings.Contains(logs, "route=") {
		t.Fatalf("no request log lines captured:\n%s", logs)
	}
	secrets := map[string]string{
		"password": o.password, "session token": o.token, "second session token": login.Session.Token,
		"hub token": p.Token, "claim code": code.Code, "claim code (bare)": strings.ReplaceAll(code.Code, "-", ""),
		"hub secret": secret, "e-mail": o.email,
	}
	for what, s := range secrets {
		if s == "" {
			t.Errorf("%s is empty: the flow did not run", what)
			continue
		}
		if strings.Contains(logs, s) {
			t.Errorf("the log contains the %s", what)
		}
	}
	if strings.Contains(logs, "/v1/claims/"+code.Code) {
		t.Error("the log contains a raw path with a claim code")
	}
}

// TestOpenAPIInSync fails when a served route is missing from
// docs/openapi.yaml or the document lists a route that is not served.
func TestOpenAPIInSync(t *testing.T) {
	doc, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	documented := openAPIRoutes(t, string(doc))
	served := (&httpapi.Server{}).Routes()
	for i, r := range served {
		served[i] = strings.ReplaceAll(r, "...}", "}") // OpenAPI has no wildcard segments
	}
	slices.Sort(served)
	if diff := cmp.Diff(served, documented); diff != "" {
		t.Errorf("docs/openapi.yaml and the served routes differ (-served +documented):\n%s", diff)
	}
}

// openAPIRoutes reads "METHOD /path" pairs from the paths section of an
// OpenAPI YAML document (two-space indentation, as docs/openapi.yaml is
// written).
func openAPIRoutes(t *testing.T, doc string) []string {
	var out []string
	inPaths := false
	path := ""
	methods := map[string]bool{"get": true, "put": true, "post": true, "delete": true, "patch": true, "head": true, "options": true}
	for _, line := range strings.Split(doc, "\n") {
		trimmed := strings.TrimRight(line, " ")
		switch {
		case trimmed == "paths:":
			inPaths = true
		case inPaths && trimmed != "" && !strings.HasPrefix(trimmed, " ") && !strings.HasPrefix(trimmed, "#"):
			inPaths = false
		case inPaths && strings.HasPrefix(trimmed, "  /") && strings.HasSuffix(trimmed, ":"):
			path = strings.TrimSuffix(strings.TrimSpace(trimmed), ":")
		case inPaths && strings.HasPrefix(trimmed, "    ") && !strings.HasPrefix(trimmed, "     ") && strings.HasSuffix(trimmed, ":"):
			m := strings.TrimSuffix(strings.TrimSpace(trimmed), ":")
			if methods[m] {
				out = append(out, strings.ToUpper(m)+" "+path)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no routes found in docs/openapi.yaml")
	}
	slices.Sort(out)
	return out
}
