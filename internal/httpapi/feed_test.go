package httpapi_test

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	diskblob "github.com/porchlight/porchlight/internal/blob/disk"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// feedPostPath is a post id no one published, for the authorization
// matrix: every caller allowed past the role gets 404.
func (w *world) feedPostPath(actor, bool) string { return seal.NewID() }

// fakeMP4 is bytes that start like an MP4 (an ftyp box), unique per call.
func fakeMP4(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 4096)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	copy(b, "\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")
	return b
}

// publication is a valid record of media for o's household.
func publication(o *owner, media []byte) seal.Publication {
	return seal.Publication{V: seal.FormatVersion, ID: seal.NewID(), Household: o.household, SHA256: seal.SHA256Hex(media), Size: int64(len(media)),
		Title: "Someone tried the car doors", Category: seal.CategorySuspicious, Cell: "u4pruy", Pseudonym: seal.NewPseudonym(),
		Job: seal.NewID(), Created: time.Now().UTC()}
}

// signRaw signs p without SignPublication's checks, as a forger would.
func signRaw(t *testing.T, k *keys.Pair, p seal.Publication) []byte {
	t.Helper()
	b, err := seal.Sign(k.Sign, seal.TypePublication, p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// getRaw fetches path and returns status, content type and body.
func getRaw(t *testing.T, e *acctEnv, token, path string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// blobCount counts the blobs of the test service.
func blobCount(t *testing.T, e *acctEnv) int {
	t.Helper()
	bs, err := diskblob.Open(filepath.Join(e.dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := bs.List(t.Context(), func(string, int64) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPublishNeedsOwnerSignedRecordOfTheFile: the service publishes a file
// only with a record an owner device of the household signed for exactly
// that file and a cell: a forged record, a mismatched file, a member's or
// hub's signature, a finer location or coordinates, a file that is not an
// MP4 — each is 400 with nothing stored, and each refusal is in the
// owner's verified log.
func TestPublishNeedsOwnerSignedRecordOfTheFile(t *testing.T) {
	e := startAccounts(t)
	o := signup(t, e)
	member, err := keys.Generate("member phone")
	if err != nil {
		t.Fatal(err)
	}
	o.appendRoster(o.deviceEntry(), seal.RosterEntry{ID: member.ID, Kind: seal.KindDevice, Role: seal.RoleMember, Name: "member phone",
		Sign: member.SignPub(), KEM: member.Recipient(), Cameras: []string{seal.AllCameras}})
	hub := claimHub(t, e, o)
	stranger, err := keys.Generate("forger")
	if err != nil {
		t.Fatal(err)
	}
	other := signup(t, e)

	media := fakeMP4(t)
	good := publication(o, media)
	signedGood, err := seal.SignPublication(o.dev.Sign, good)
	if err != nil {
		t.Fatal(err)
	}
	with := func(mod func(p *seal.Publication)) seal.Publication {
		p := good
		p.ID = seal.NewID()
		mod(&p)
		return p
	}
	tampered := []byte(strings.Replace(string(signedGood), `"sig":"`, `"sig":"AAAA`, 1))
	notMP4 := []byte("just some bytes, not a video at all " + randomHex(16))

	blobsBefore := blobCount(t, e)
	cases := []struct {
		name   string
		record []byte
		media  []byte
	}{
		{"signed by a key not in the roster", signRaw(t, stranger, good), media},
		{"signature altered", tampered, media},
		{"another file than the one signed", signedGood, fakeMP4(t)},
		{"file cut short", signedGood, media[:len(media)-1]},
		{"size differs", signRaw(t, o.dev, with(func(p *seal.Publication) { p.Size++ })), media},
		{"signed by a member device", signRaw(t, member, good), media},
		{"signed by the hub", signRaw(t, hub.keys, good), media},
		{"signed by another household's owner", signRaw(t, other.dev, good), media},
		{"for another household", signRaw(t, o.dev, with(func(p *seal.Publication) { p.Household = other.household })), media},
		{"7-character geohash", signRaw(t, o.dev, with(func(p *seal.Publication) { p.Cell = "u4pruyd" })), media},
		{"full geohash", signRaw(t, o.dev, with(func(p *seal.Publication) { p.Cell = "u4pruydqqvj" })), media},
		{"coordinates", signRaw(t, o.dev, with(func(p *seal.Publication) { p.Cell = "48.1371,11.5754" })), media},
		{"not an MP4", signRaw(t, o.dev, with(func(p *seal.Publication) { p.SHA256, p.Size = seal.SHA256Hex(notMP4), int64(len(notMP4)) })), notMP4},
		{"no record", nil, media},
	}
	for _, tc := range cases {
		st, code := e.status(call{token: o.token}, "POST", "/v1/feed/posts", api.FeedPostCreate{Record: tc.record, Media: tc.media})
		if st != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", tc.name, st, code)
		}
	}
	if n := blobCount(t, e); n != blobsBefore {
		t.Errorf("refused publications left %d blobs behind", n-blobsBefore)
	}
	var feed api.Feed
	e.must(http.StatusOK, call{token: o.token}, "GET", "/v1/feed?mine=1", nil, &feed)
	if len(feed.Posts) != 0 {
		t.Fatalf("refused publications stored posts: %+v", feed.Posts)
	}
	// A member's account (not the household's) cannot publish the
	// household's clip either: the record names another household.
	if st, _ := e.status(call{token: other.token}, "POST", "/v1/feed/posts", api.FeedPostCreate{Record: signedGood, Media: media}); st != http.StatusBadRequest {
		t.Errorf("another household's owner posting our record: %d, want 400", st)
	}

	// The real one.
	var post api.FeedPost
	e.must(http.StatusCreated, call{token: o.token}, "POST", "/v1/feed/posts", api.FeedPostCreate{Record: signedGood, Media: media}, &post)
	if post.ID != good.ID || post.Cell != "u4pruy" || post.SHA256 != good.SHA256 || post.State != api.FeedPublished || !post.Mine {
		t.Errorf("created post = %+v", post)
	}
	if st, _ := e.status(call{token: o.token}, "POST", "/v1/feed/posts", api.FeedPostCreate{Record: signedGood, Media: media}); st != http.StatusConflict {
		t.Errorf("same record again: %d, want 409", st)
	}

	log := readOwnerLog(e, o)
	if got := find(log, api.AuditDeclassification, "publish_refused", ""); len(got) != len(cases) {
		// The other household's attempt is in its own log.
		t.Errorf("%d refusals logged, want %d", len(got), len(cases))
	}
	pub := find(log, api.AuditDeclassification, "publish", "post:"+good.ID)
	if len(pub) != 1 || !strings.Contains(pub[0].Body.Detail, good.SHA256) || pub[0].Body.Actor.Kind != api.ActorOwner {
		t.Errorf("publication logged as %+v, want one entry with the file's hash", pub)
	}
}

// TestFeedLifecycle: a published post is in the feed of its cell and the
// neighbouring ones under its pseudonym, with nothing finer than the cell
// and nothing about the household; only cells are accepted; withdrawal and
// removal delete the public file and answer 410; reports reach the
// operator without the reporter; every step is in the owner's log.
func TestFeedLifecycle(t *testing.T) {
	e := startAccounts(t)
	o := signup(t, e)
	neighbour := signup(t, e)
	op := newStaffToken(t, e, api.RoleOperator)

	publish := func(cell string) (api.FeedPost, []byte) {
		t.Helper()
		media := fakeMP4(t)
		p := publication(o, media)
		p.Cell = cell
		signed, err := seal.SignPublication(o.dev.Sign, p)
		if err != nil {
			t.Fatal(err)
		}
		var post api.FeedPost
		e.must(http.StatusCreated, call{token: o.token}, "POST", "/v1/feed/posts", api.FeedPostCreate{Record: signed, Media: media}, &post)
		e.clock.Advance(time.Second)
		return post, media
	}
	blobsBefore := blobCount(t, e)
	p1, media1 := publish("u4pruy")
	p2, _ := publish("u4pruz") // a neighbouring cell
	p3, _ := publish("u4pruy")
	far, _ := publish("9q8yyk")
	if n := blobCount(t, e); n != blobsBefore+4 {
		t.Errorf("4 posts made %d blobs", n-blobsBefore)
	}

	var feed api.Feed
	e.must(http.StatusOK, call{token: neighbour.token}, "GET", "/v1/feed?cell=u4pruy&radius=1", nil, &feed)
	var ids []string
	for _, p := range feed.Posts {
		ids = append(ids, p.ID)
		if p.Mine || len(p.Record) != 0 || p.Pseudonym == "" || len(p.Cell) != 6 {
			t.Errorf("post as a neighbour sees it: %+v", p)
		}
	}
	if want := []string{p3.ID, p2.ID, p1.ID}; strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("feed = %v, want %v (newest first, without the far one %s)", ids, want, far.ID)
	}
	raw, _ := json.Marshal(feed)
	for _, secret := range []string{o.household, o.email, o.dev.ID} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("the feed reveals %q: %s", secret, raw)
		}
	}
	e.must(http.StatusOK, call{token: neighbour.token}, "GET", "/v1/feed?cell=u4pruy&radius=0", nil, &feed)
	if len(feed.Posts) != 2 {
		t.Errorf("radius 0: %d posts, want 2", len(feed.Posts))
	}
	if pseud := map[string]bool{p1.Pseudonym: true, p2.Pseudonym: true, p3.Pseudonym: true}; len(pseud) != 3 {
		t.Errorf("posts share pseudonyms: %s %s %s", p1.Pseudonym, p2.Pseudonym, p3.Pseudonym)
	}
	// Staff may read the feed too (it is public to signed-in accounts).
	e.must(http.StatusOK, call{token: op}, "GET", "/v1/feed?cell=u4pruy", nil, &feed)
	// Only cells: finer geohashes, coordinates and unknown parameters are
	// refused.
	for _, q := range []string{"cell=u4pruyd", "cell=u4pruydqqvj", "cell=48.1371,11.5754", "cell=U4PRUY", "", "lat=48.1371&lon=11.5754",
		"cell=u4pruy&lat=48.1371", "cell=u4pruy&radius=6", "cell=u4pruy&radius=-1", "mine=1&cell=u4pruy"} {
		if st, _ := e.status(call{token: neighbour.token}, "GET", "/v1/feed?"+q, nil); st != http.StatusBadRequest {
			t.Errorf("GET /v1/feed?%s: %d, want 400", q, st)
		}
	}
	if st, _ := e.status(call{}, "GET", "/v1/feed?cell=u4pruy", nil); st != http.StatusUnauthorized {
		t.Errorf("feed without a session: %d, want 401", st)
	}

	// The media is the exact file, as video/mp4.
	st, ctype, body := getRaw(t, e, neighbour.token, p1.Media)
	if st != http.StatusOK || ctype != "video/mp4" || string(body) != string(media1) {
		t.Errorf("media: %d %s, %d bytes (same: %v)", st, ctype, len(body), string(body) == string(media1))
	}

	// Reports: once per account; the operator sees post and reason, not
	// who reported.
	e.must(http.StatusNoContent, call{token: neighbour.token}, "POST", "/v1/feed/posts/"+p1.ID+"/report", api.FeedReason{Reason: "shows a neighbour's face"}, nil)
	if st, _ := e.status(call{token: neighbour.token}, "POST", "/v1/feed/posts/"+p1.ID+"/report", api.FeedReason{Reason: "again"}); st != http.StatusConflict {
		t.Errorf("second report: %d, want 409", st)
	}
	if st, _ := e.status(call{token: neighbour.token}, "POST", "/v1/feed/posts/"+p1.ID+"/report", api.FeedReason{Reason: ""}); st != http.StatusBadRequest {
		t.Errorf("report without a reason: %d, want 400", st)
	}
	var reps api.FeedReports
	e.must(http.StatusOK, call{token: op}, "GET", "/v1/ops/feed/reports", nil, &reps)
	if len(reps.Reports) != 1 || reps.Reports[0].Post.ID != p1.ID || reps.Reports[0].Reason != "shows a neighbour's face" {
		t.Errorf("operator's reports = %+v", reps)
	}
	raw, _ = json.Marshal(reps)
	if strings.Contains(string(raw), neighbour.email) || strings.Contains(string(raw), neighbour.household) {
		t.Errorf("reports reveal the reporter: %s", raw)
	}
	if st, _ := e.status(call{token: neighbour.token}, "GET", "/v1/ops/feed/reports", nil); st != http.StatusForbidden {
		t.Errorf("a customer listing reports: %d, want 403", st)
	}

	// Withdrawal: only by the poster's household; then 410 everywhere.
	if st, _ := e.status(call{token: neighbour.token}, "DELETE", "/v1/feed/posts/"+p1.ID, nil); st != http.StatusNotFound {
		t.Errorf("a neighbour withdrawing our post: %d, want 404", st)
	}
	if st, _ := e.status(call{token: op}, "DELETE", "/v1/feed/posts/"+p1.ID, nil); st != http.StatusForbidden {
		t.Errorf("the operator withdrawing a post: %d, want 403", st)
	}
	e.must(http.StatusOK, call{token: o.token}, "DELETE", "/v1/feed/posts/"+p1.ID, nil, nil)
	for _, path := range []string{"/v1/feed/posts/" + p1.ID, p1.Media} {
		if st, _, _ := getRaw(t, e, neighbour.token, path); st != http.StatusGone {
			t.Errorf("GET %s after withdrawal: %d, want 410", path, st)
		}
	}
	if st, _ := e.status(call{token: o.token}, "DELETE", "/v1/feed/posts/"+p1.ID, nil); st != http.StatusGone {
		t.Errorf("withdrawing twice: %d, want 410", st)
	}
	if st, _ := e.status(call{token: neighbour.token}, "POST", "/v1/feed/posts/"+p1.ID+"/report", api.FeedReason{Reason: "x"}); st != http.StatusGone {
		t.Errorf("reporting a withdrawn post: %d, want 410", st)
	}
	e.must(http.StatusOK, call{token: op}, "GET", "/v1/ops/feed/reports", nil, &reps)
	if len(reps.Reports) != 0 {
		t.Errorf("reports of a withdrawn post still listed: %+v", reps)
	}

	// Removal by the operator over the API, and over the admin socket.
	if st, _ := e.status(call{token: op}, "POST", "/v1/ops/feed/posts/"+p2.ID+"/remove", api.FeedReason{}); st != http.StatusBadRequest {
		t.Errorf("removal without a reason: %d, want 400", st)
	}
	if st, _ := e.status(call{token: neighbour.token}, "POST", "/v1/ops/feed/posts/"+p2.ID+"/remove", api.FeedReason{Reason: "x"}); st != http.StatusForbidden {
		t.Errorf("a customer removing a post: %d, want 403", st)
	}
	// (The typed client, as an operator's tool would use it.)
	if reports, err := e.client(op).FeedReports(t.Context()); err != nil || len(reports) != 0 {
		t.Errorf("FeedReports = %+v, %v", reports, err)
	}
	if rm, err := e.client(op).RemovePost(t.Context(), p2.ID, "identifiable bystander"); err != nil || rm.State != api.FeedRemoved {
		t.Fatalf("RemovePost = %+v, %v", rm, err)
	}
	ts := httptest.NewServer(e.srv.AdminHandler())
	defer ts.Close()
	admin := &acctEnv{t: t, url: ts.URL}
	var removed api.FeedPost
	admin.must(http.StatusOK, call{}, "POST", "/admin/feed/remove", api.AdminFeedRemove{Post: p3.ID, Reason: "doxxing in the title"}, &removed)
	if removed.State != api.FeedRemoved || removed.Reason != "doxxing in the title" {
		t.Errorf("admin removal = %+v", removed)
	}
	if st, _ := admin.status(call{}, "POST", "/admin/feed/remove", api.AdminFeedRemove{Post: p3.ID, Reason: "again"}); st != http.StatusGone {
		t.Errorf("removing twice: %d, want 410", st)
	}
	for _, p := range []api.FeedPost{p2, p3} {
		if st, _, _ := getRaw(t, e, neighbour.token, p.Media); st != http.StatusGone {
			t.Errorf("media of removed post %s: %d, want 410", p.ID, st)
		}
	}
	e.must(http.StatusOK, call{token: neighbour.token}, "GET", "/v1/feed?cell=u4pruy&radius=1", nil, &feed)
	if len(feed.Posts) != 0 {
		t.Errorf("feed after withdrawal and removals: %+v", feed.Posts)
	}
	if n := blobCount(t, e); n != blobsBefore+1 {
		t.Errorf("%d public blobs left, want 1 (the far post)", n-blobsBefore)
	}
	// The owner sees its own posts with their states and reasons.
	e.must(http.StatusOK, call{token: o.token}, "GET", "/v1/feed?mine=1", nil, &feed)
	states := map[string]string{}
	for _, p := range feed.Posts {
		states[p.ID] = p.State + ":" + p.Reason
	}
	if states[p1.ID] != "withdrawn:" || states[p2.ID] != "removed:identifiable bystander" || states[far.ID] != "published:" {
		t.Errorf("own posts = %v", states)
	}

	log := readOwnerLog(e, o)
	for _, want := range []struct{ action, post, reason string }{
		{"publish", p1.ID, ""}, {"publish", far.ID, ""},
		{"post_reported", p1.ID, "shows a neighbour's face"},
		{"withdraw", p1.ID, ""},
		{"post_removed", p2.ID, "identifiable bystander"},
		{"post_removed", p3.ID, "doxxing in the title"},
	} {
		got := find(log, api.AuditDeclassification, want.action, "post:"+want.post)
		if len(got) != 1 || got[0].Body.Reason != want.reason {
			t.Errorf("log entries for %s of %s = %+v, want one with reason %q", want.action, want.post, got, want.reason)
			continue
		}
		if want.action == "post_reported" && (got[0].Body.Actor.Account != "" || got[0].Body.Actor.Addr != "") {
			t.Errorf("the report's entry names the reporter: %+v", got[0].Body.Actor)
		}
		if want.action == "post_removed" && got[0].Body.Actor.Kind != api.ActorOperator {
			t.Errorf("removal logged with actor %+v, want the operator", got[0].Body.Actor)
		}
	}
}
