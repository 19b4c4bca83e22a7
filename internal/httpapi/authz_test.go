package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// The authorization matrix. The routes come from the router itself
// (Server.Routes); each must have an entry in routePolicies below, so a
// new route without a decision fails TestAuthorizationMatrix. Every route
// is then called by every actor on its own household's object and on
// another household's object, and the status is checked against what the
// route's policy says that actor may do.

// actor is one kind of caller.
type actor string

const (
	anon      actor = "anonymous"
	ownerA    actor = "owner A"
	ownerB    actor = "owner B"
	memberA   actor = "member of A (camera A1 only)"
	support   actor = "support"
	annotator actor = "annotator"
	operator  actor = "operator"
	hubA      actor = "hub A"
	hubB      actor = "hub B"
)

var actors = []actor{anon, ownerA, ownerB, memberA, support, annotator, operator, hubA, hubB}

func (a actor) staff() bool { return a == support || a == annotator || a == operator }
func (a actor) hub() bool   { return a == hubA || a == hubB }

// policy is who may use a route.
type policy int

const (
	// open: no credential needed; every caller gets what an anonymous
	// caller gets (the body decides), never 403.
	open policy = iota
	// self: any signed-in account, staff included, about itself. Objects
	// in the path are the caller's own; another account's → 404.
	self
	// household: customers on their own household; a member on an
	// in-scope camera for reads; staff → 403; another household → 404.
	household
	// householdRead: as household, and a member may read in-scope cameras
	// (out of scope → 403).
	householdRead
	// hubOnly: a hub token for its own household's objects.
	hubOnly
	// operatorOnly: the operator role; any other account → 403.
	operatorOnly
	// supportOnly: the support role; any other account → 403. Support may
	// still be refused (403) by the grant itself: grants_test.go checks
	// those decisions.
	supportOnly
	// grantView: a grant's household owner, or the support account that
	// asked for it; other customers → 404, other staff → 403.
	grantView
	// annotatorOnly: the annotator role; any other account → 403
	// (annotate_test.go checks organisations).
	annotatorOnly
)

// routePolicy is the decision for one route. target returns the path's
// {id} or {code} for an actor aimed at its own ("own") or another
// household's object; body
// is the JSON sent (nil: none). may404 marks routes whose own target may
// legitimately not exist (e.g. removing an authenticator never added).
type routePolicy struct {
	policy policy
	target func(w *world, a actor, own bool) string
	body   any
	may404 bool
	// ownerOnly marks household objects a member never reaches (claims):
	// 404 for them, as for a stranger.
	ownerOnly bool
	// noOther: the route has no "another household's object" form.
	noOther bool
	// upload: the body is an object upload for the target's camera.
	upload bool
	// ageDescriptor: the body is a HubCamera with an age file descriptor.
	ageDescriptor bool
	// ageSettings: the body is CameraSettings with an age file and a
	// version newer than any before.
	ageSettings bool
	// cameraBody: the body is an EpochPut naming the target household's
	// camera 1 (and no announcement).
	cameraBody bool
}

var routePolicies = map[string]routePolicy{
	"GET /healthz":                  {policy: open},
	"GET /v1/client":                {policy: open},
	"POST /v1/signup":               {policy: open, body: map[string]any{}},
	"POST /v1/login":                {policy: open, body: map[string]any{}},
	"POST /v1/login/mfa":            {policy: open, body: map[string]any{}},
	"POST /v1/login/passkey/begin":  {policy: open, body: map[string]any{}},
	"POST /v1/login/passkey/finish": {policy: open, body: map[string]any{}},
	"POST /v1/hub/claim":            {policy: open, body: map[string]any{}},
	"POST /v1/hub/claim/poll":       {policy: open, body: map[string]any{}},

	"POST /v1/reauth":                 {policy: self, body: map[string]any{"password": "not the password at all"}},
	"POST /v1/logout":                 {policy: self},
	"GET /v1/me":                      {policy: self},
	"PATCH /v1/me":                    {policy: self, body: map[string]any{}},
	"POST /v1/me/password":            {policy: self, body: map[string]any{}},
	"POST /v1/me/totp":                {policy: self},
	"POST /v1/me/totp/confirm":        {policy: self, body: map[string]any{"code": "000000"}, may404: true},
	"DELETE /v1/me/totp":              {policy: self, may404: true},
	"POST /v1/me/recovery-codes":      {policy: self},
	"GET /v1/me/passkeys":             {policy: self},
	"POST /v1/me/passkeys/begin":      {policy: self},
	"POST /v1/me/passkeys/finish":     {policy: self, body: map[string]any{}},
	"DELETE /v1/me/passkeys/{id}":     {policy: self, target: (*world).passkeyPath},
	"GET /v1/sessions":                {policy: self},
	"DELETE /v1/sessions/{id}":        {policy: self, target: (*world).sessionPath},
	"POST /v1/sessions/revoke-others": {policy: self},
	"GET /v1/notifications":           {policy: self},
	"GET /v1/events":                  {policy: self},

	// Web Push (push_test.go): the matrix runs without push set up (404),
	// and its sessions have no device; a subscription id no one has is 404.
	"GET /v1/push/vapid":                 {policy: household, may404: true},
	"PUT /v1/push/subscriptions":         {policy: household, body: map[string]any{}, may404: true},
	"DELETE /v1/push/subscriptions/{id}": {policy: household, target: func(*world, actor, bool) string { return seal.NewID() }, ownerOnly: true, may404: true},

	"GET /v1/ops/overview": {policy: operatorOnly},
	"GET /v1/ops/audit":    {policy: operatorOnly},

	// The neighbours feed (feed_test.go): any signed-in account reads and
	// reports; customers publish and withdraw their own; the operator
	// moderates. A post id no one published is 404 to everyone allowed.
	"POST /v1/feed/posts":                 {policy: household, body: map[string]any{}},
	"GET /v1/feed":                        {policy: self},
	"GET /v1/feed/posts/{id}":             {policy: self, target: (*world).feedPostPath, may404: true},
	"GET /v1/feed/posts/{id}/media":       {policy: self, target: (*world).feedPostPath, may404: true},
	"DELETE /v1/feed/posts/{id}":          {policy: household, target: (*world).feedPostPath, ownerOnly: true, may404: true},
	"POST /v1/feed/posts/{id}/report":     {policy: self, target: (*world).feedPostPath, may404: true, body: map[string]any{"reason": "spam"}},
	"GET /v1/ops/feed/reports":            {policy: operatorOnly},
	"POST /v1/ops/feed/posts/{id}/remove": {policy: operatorOnly, target: (*world).feedPostPath, may404: true, body: map[string]any{"reason": "spam"}},

	"GET /v1/log":                {policy: self},
	"GET /v1/log/checkpoint":     {policy: self},
	"GET /v1/log/tile/{path...}": {policy: self, may404: true},
	"GET /v1/audit":              {policy: household},

	"POST /v1/support/requests":         {policy: supportOnly, body: map[string]any{}},
	"GET /v1/support/requests":          {policy: supportOnly},
	"GET /v1/grants":                    {policy: household},
	"GET /v1/grants/{id}":               {policy: grantView, target: (*world).grantPath},
	"POST /v1/grants/{id}/approve":      {policy: household, target: (*world).grantPath, ownerOnly: true, body: map[string]any{}},
	"POST /v1/grants/{id}/deny":         {policy: household, target: (*world).grantPath, ownerOnly: true, body: map[string]any{}},
	"POST /v1/grants/{id}/revoke":       {policy: household, target: (*world).grantPath, ownerOnly: true, body: map[string]any{}},
	"GET /v1/grants/{id}/epochs":        {policy: supportOnly, target: (*world).grantPath},
	"GET /v1/grants/{id}/manifests":     {policy: supportOnly, target: (*world).grantPath},
	"GET /v1/grants/{id}/objects/{oid}": {policy: supportOnly, target: (*world).grantPath},

	"GET /v1/roster":                          {policy: household},
	"POST /v1/roster":                         {policy: household, body: map[string]any{}},
	"PUT /v1/recovery-kit":                    {policy: household},
	"GET /v1/recovery-kit":                    {policy: household, may404: true},
	"POST /v1/claims":                         {policy: household},
	"GET /v1/claims/{code}":                   {policy: household, target: (*world).claimPath, ownerOnly: true},
	"POST /v1/claims/{code}/confirm":          {policy: household, target: (*world).claimPath, ownerOnly: true, body: map[string]any{"hub_id": "nosuchhub"}},
	"GET /v1/cameras":                         {policy: household},
	"PATCH /v1/cameras/{id}":                  {policy: household, target: (*world).cameraPath, body: map[string]any{"retention_days": 3}},
	"PUT /v1/cameras/{id}/settings":           {policy: household, target: (*world).cameraPath, ageSettings: true},
	"GET /v1/cameras/{id}/settings":           {policy: household, target: (*world).cameraPath, may404: true},
	"DELETE /v1/cameras/{id}":                 {policy: household, target: (*world).cameraPath},
	"POST /v1/cameras/{id}/delete":            {policy: household, target: (*world).cameraPath, body: map[string]any{}},
	"GET /v1/cameras/{id}/epochs":             {policy: householdRead, target: (*world).cameraPath},
	"GET /v1/cameras/{id}/manifests":          {policy: householdRead, target: (*world).cameraPath},
	"GET /v1/cameras/{id}/events":             {policy: householdRead, target: (*world).cameraPath},
	"GET /v1/objects/{id}":                    {policy: householdRead, target: (*world).objectPath},
	"PUT /v1/epochs/{id}/wraps":               {policy: household, target: (*world).epochPath, body: map[string]any{"wraps": []any{}}},
	"PUT /v1/epochs/{id}":                     {policy: household, target: (*world).hubEpochPath, cameraBody: true},
	"PUT /v1/objects/{id}":                    {policy: household, target: (*world).objectPath, upload: true},
	"POST /v1/cameras/{id}/retire-epochs":     {policy: household, target: (*world).cameraPath, body: map[string]any{}},
	"POST /v1/devices/pair":                   {policy: household, body: map[string]any{}},
	"GET /v1/devices/pair/{code}":             {policy: household, target: (*world).pairPath, ownerOnly: true},
	"POST /v1/members/invites":                {policy: household, body: map[string]any{}},
	"GET /v1/members/invites/{code}":          {policy: household, target: (*world).invitePath, ownerOnly: true, may404: true},
	"POST /v1/members/invites/{code}/accept":  {policy: household, target: (*world).invitePath, ownerOnly: true, may404: true, body: map[string]any{}},
	"POST /v1/members/invites/{code}/confirm": {policy: household, target: (*world).invitePath, ownerOnly: true, may404: true},
	"POST /v1/members/remove":                 {policy: household, body: map[string]any{"email": "nobody@example.com"}, may404: true},
	"GET /v1/shared":                          {policy: household},

	// Live view (live_test.go): the matrix's sessions have no device, so
	// the owner's start is refused 403 wrong_device (not "forbidden"); a
	// live id no one asked for is 404 to everyone allowed past the role.
	"POST /v1/cameras/{id}/live": {policy: householdRead, target: (*world).cameraPath, body: map[string]any{"device_id": "abcdefghijklmnopqrst"}},
	"GET /v1/live/{id}":          {policy: householdRead, target: (*world).livePath, noOther: true, may404: true},

	"GET /v1/hub/roster":                {policy: hubOnly},
	"PUT /v1/hub/cameras/{id}":          {policy: hubOnly, target: (*world).hubCameraPath, ageDescriptor: true},
	"GET /v1/hub/cameras/{id}/settings": {policy: hubOnly, target: (*world).hubCameraPath, may404: true},
	"PUT /v1/hub/epochs/{id}":           {policy: hubOnly, target: (*world).hubEpochPath, noOther: true, body: map[string]any{}},
	"PUT /v1/hub/objects/{id}":          {policy: hubOnly, target: (*world).hubObjectPath, upload: true},
	"GET /v1/hub/live":                  {policy: hubOnly},
	"GET /v1/hub/live/{id}":             {policy: hubOnly, target: (*world).livePath, noOther: true, may404: true},

	// Redaction jobs (redactions_test.go): each call gets a new pending
	// job of the target household's camera 1.
	"POST /v1/redactions":                {policy: household, body: map[string]any{}},
	"GET /v1/redactions/{id}":            {policy: household, target: (*world).redactionPath},
	"GET /v1/redactions/{id}/result":     {policy: household, target: (*world).redactionPath},
	"GET /v1/hub/redactions":             {policy: hubOnly},
	"GET /v1/hub/objects/{id}":           {policy: hubOnly, target: (*world).hubObjectPath},
	"PUT /v1/hub/redactions/{id}/result": {policy: hubOnly, target: (*world).redactionPath},
	"POST /v1/hub/redactions/{id}/fail":  {policy: hubOnly, target: (*world).redactionPath, body: map[string]any{"error": "test"}},

	// Annotation campaigns (campaigns_test.go, annotate_test.go): ids no
	// one made; the matrix's annotator has no organisation.
	"GET /v1/campaigns":                     {policy: household},
	"POST /v1/campaigns/{id}/donations":     {policy: household, target: (*world).randomPath, noOther: true, ownerOnly: true, may404: true, body: map[string]any{}},
	"GET /v1/consents":                      {policy: household},
	"POST /v1/consents/{id}/withdraw":       {policy: household, target: (*world).randomPath, noOther: true, ownerOnly: true, may404: true},
	"GET /v1/annotate/campaigns":            {policy: annotatorOnly},
	"GET /v1/annotate/campaigns/{id}/tasks": {policy: annotatorOnly, target: (*world).randomPath, noOther: true, may404: true},
	"GET /v1/annotate/tasks/{id}/media":     {policy: annotatorOnly, target: (*world).randomPath, noOther: true, may404: true},
	"GET /v1/annotate/tasks/{id}/labels":    {policy: annotatorOnly, target: (*world).randomPath, noOther: true, may404: true},
	"PUT /v1/annotate/tasks/{id}/labels":    {policy: annotatorOnly, target: (*world).randomPath, noOther: true, may404: true, body: map[string]any{}},
}

// world is two households with their hubs, cameras, epochs, objects and
// claims, a member of A, and the three staff roles, built in the store.
type world struct {
	e        *acctEnv
	accounts map[actor]string // account ids
	hubs     map[actor]string // hub tokens
	// Per household ("A", "B"): camera 1 (shared with the member), camera
	// 2 (not shared), an object of camera 1, a claim code.
	cam1, cam2, object1, object2, claim map[string]string
	grant                               map[string]string // a pending request by support
	ageFile                             []byte            // a real age file: what the service accepts as ciphertext
}

func newWorld(e *acctEnv) *world {
	t := e.t
	ctx := context.Background()
	w := &world{e: e, accounts: map[actor]string{}, hubs: map[actor]string{},
		cam1: map[string]string{}, cam2: map[string]string{}, object1: map[string]string{}, object2: map[string]string{}, claim: map[string]string{},
		grant:   map[string]string{},
		ageFile: ageBody(t)}
	now := e.clock.Now()
	for _, a := range []actor{ownerA, ownerB, memberA} {
		w.accounts[a] = e.signup(call{}).id
	}
	for _, a := range []actor{support, annotator, operator} {
		acct := store.Account{ID: seal.NewID(), Email: fmt.Sprintf("%s-%s@staff.example.org", strings.ToLower(string(a)), randomHex(3)),
			PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", Role: string(a), Created: now}
		if err := e.st.CreateAccount(ctx, acct, store.Household{}); err != nil {
			t.Fatalf("create %s: %v", a, err)
		}
		w.accounts[a] = acct.ID
	}
	for _, hh := range []struct {
		name string
		own  actor
		hub  actor
	}{{"A", ownerA, hubA}, {"B", ownerB, hubB}} {
		h, err := e.st.HouseholdOf(ctx, w.accounts[hh.own])
		if err != nil {
			t.Fatal(err)
		}
		hubID, hubToken := w.makeHub(h.ID, w.accounts[hh.own])
		w.hubs[hh.hub] = hubToken
		for i, cams := range []map[string]string{w.cam1, w.cam2} {
			cam := seal.NewID()
			if err := e.st.PutCamera(ctx, store.Camera{ID: cam, HubID: hubID, HouseholdID: h.ID, Descriptor: []byte("sealed"), Created: now}); err != nil {
				t.Fatal(err)
			}
			cams[hh.name] = cam
			epoch := seal.NewID()
			if err := e.st.PutEpoch(ctx, store.Epoch{ID: epoch, CameraID: cam, Announcement: []byte("signed"), Created: now}, nil); err != nil {
				t.Fatal(err)
			}
			body := ageBody(t)
			obj := store.Object{ID: seal.NewID(), HouseholdID: h.ID, CameraID: cam, EpochID: epoch, Kind: api.ObjectSegment,
				CoarseTime: now.Truncate(time.Minute), Size: int64(len(body)), SHA256: sha256Hex(body), Created: now}
			if err := e.srv.Blobs.Put(ctx, obj.ID, bytes.NewReader(body), obj.Size); err != nil {
				t.Fatal(err)
			}
			if _, err := e.st.PutObject(ctx, obj, nil); err != nil {
				t.Fatal(err)
			}
			[]map[string]string{w.object1, w.object2}[i][hh.name] = obj.ID
		}
		code := auth.NewClaimCode()
		if err := e.st.CreateClaim(ctx, store.Claim{CodeHash: auth.HashClaimCode(code), HouseholdID: h.ID, CreatedBy: w.accounts[hh.own],
			Created: now, Expires: now.Add(auth.ClaimTTL), State: api.ClaimWaiting}); err != nil {
			t.Fatal(err)
		}
		w.claim[hh.name] = code
		g := store.Grant{ID: seal.NewID(), HouseholdID: h.ID, Requester: w.accounts[support], Camera: "Front door",
			From: now.Add(-time.Hour), To: now, Duration: time.Hour, Reason: "camera offline", Ticket: "T-1",
			Recipient: testRecipient(t), State: api.GrantPending, Created: now, Expires: now.Add(api.GrantRequestTTL)}
		if err := e.st.CreateGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
		w.grant[hh.name] = g.ID
	}
	if err := e.st.PutMembership(ctx, store.Membership{HouseholdID: w.householdOf(ownerA), AccountID: w.accounts[memberA],
		Cameras: []string{w.cam1["A"]}, Created: now}); err != nil {
		t.Fatal(err)
	}
	return w
}

// makeHub claims a hub for a household through the store's claim steps
// and returns its id and token.
func (w *world) makeHub(household, owner string) (string, string) {
	t, ctx, st := w.e.t, context.Background(), w.e.st
	now := w.e.clock.Now()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	code := auth.NewClaimCode()
	hub := store.Hub{ID: seal.KeyID(pub), HouseholdID: household, Name: "hub", Sign: pub, KEM: "age1pq-not-used-here", Created: now}
	steps := []error{
		st.CreateClaim(ctx, store.Claim{CodeHash: auth.HashClaimCode(code), HouseholdID: household, CreatedBy: owner, Created: now, Expires: now.Add(auth.ClaimTTL), State: api.ClaimWaiting}),
		st.PresentClaim(ctx, auth.HashClaimCode(code), hub, auth.HashToken("secret")),
		st.ConfirmClaim(ctx, auth.HashClaimCode(code), hub),
	}
	tok, hash := auth.NewHubToken()
	steps = append(steps, st.IssueHubToken(ctx, auth.HashClaimCode(code), hash))
	for _, err := range steps {
		if err != nil {
			t.Fatalf("make hub: %v", err)
		}
	}
	return hub.ID, tok
}

func (w *world) householdOf(a actor) string {
	h, err := w.e.st.HouseholdOf(context.Background(), w.accounts[a])
	if err != nil {
		w.e.t.Fatal(err)
	}
	return h.ID
}

// letter is the household an actor's "own" objects are in.
func (a actor) letter(own bool) string {
	home := "A"
	if a == ownerB || a == hubB {
		home = "B"
	}
	if own {
		return home
	}
	return map[string]string{"A": "B", "B": "A"}[home]
}

// session makes a fresh, recently authenticated session for an account
// actor and returns its token.
func (w *world) session(a actor) string {
	now := w.e.clock.Now()
	tok, hash := auth.NewSessionToken()
	if err := w.e.st.CreateSession(context.Background(), store.Session{ID: seal.NewID(), TokenHash: hash, AccountID: w.accounts[a],
		DeviceName: "matrix", Client: "test", AddrPrefix: "127.0.0.0/24", Created: now, LastUsed: now, AuthAt: now, Expires: now.Add(time.Hour)}); err != nil {
		w.e.t.Fatal(err)
	}
	return tok
}

// The account whose object "other" targets for self routes.
func (a actor) otherAccount() actor {
	if a == ownerB {
		return ownerA
	}
	return ownerB
}

func (w *world) sessionPath(a actor, own bool) string {
	who := a
	if !own || a == anon || a.hub() {
		who = a.otherAccount()
	}
	w.session(who)
	ss, err := w.e.st.Sessions(context.Background(), w.accounts[who])
	if err != nil || len(ss) == 0 {
		w.e.t.Fatalf("sessions of %s: %v", who, err)
	}
	return ss[0].ID
}

func (w *world) passkeyPath(a actor, own bool) string {
	who := a
	if !own || a == anon || a.hub() {
		who = a.otherAccount()
	}
	id := seal.NewID()
	if _, err := w.e.st.AddPasskey(context.Background(), store.Passkey{ID: id, AccountID: w.accounts[who], CredentialID: []byte(randomHex(16)),
		Name: "key", Credential: []byte("{}"), Created: w.e.clock.Now()}, "keep-none"); err != nil {
		w.e.t.Fatal(err)
	}
	return id
}

// invitePath is an invite code no one issued: every caller gets 404, as
// for another household's invite (members_test.go covers real ones).
func (w *world) invitePath(a actor, own bool) string { return auth.NewClaimCode() }

func (w *world) claimPath(a actor, own bool) string {
	return w.claim[a.letter(own)]
}

// cameraPath aims at camera 1 of the household (the member's shared one)
// for "own", and at the other household's camera 1 otherwise. The member's
// unshared camera is checked separately.
func (w *world) cameraPath(a actor, own bool) string { return w.cam1[a.letter(own)] }
func (w *world) objectPath(a actor, own bool) string {
	return w.object1[a.letter(own)]
}
func (w *world) hubCameraPath(a actor, own bool) string {
	return w.cam1[a.letter(own)]
}
func (w *world) hubEpochPath(a actor, own bool) string { return seal.NewID() }
func (w *world) grantPath(a actor, own bool) string    { return w.grant[a.letter(own)] }
func (w *world) hubObjectPath(a actor, own bool) string {
	return w.object1[a.letter(own)]
}

// result is what one call answered.
type result struct {
	// challenge: a 401 that refuses the credential itself (it carries
	// WWW-Authenticate), as opposed to a 401 about a token in the body
	// (a spent sign-in step).
	challenge bool
	status    int
	code      string
	message   string
	header    http.Header
	body      string
}

func (w *world) send(a actor, method, path string, body any) result {
	return w.sendUpload(a, method, path, body, "")
}

// sendUpload sends an object upload for camera when camera is set.
func (w *world) sendUpload(a actor, method, path string, body any, camera string) result {
	t := w.e.t
	var rd io.Reader
	hdr := map[string]string{}
	if camera != "" {
		b := w.ageFile
		rd = bytes.NewReader(b)
		epochs, err := w.e.st.Epochs(context.Background(), camera, "")
		if err != nil || len(epochs) == 0 {
			t.Fatalf("epochs of %s: %v", camera, err)
		}
		hdr = map[string]string{api.HeaderCamera: camera, api.HeaderEpoch: epochs[0].ID, api.HeaderKind: api.ObjectSegment,
			api.HeaderTime: w.e.clock.Now().Format(time.RFC3339), api.HeaderSHA256: sha256Hex(b)}
	} else if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, w.e.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	switch {
	case a.hub():
		req.Header.Set("Authorization", "Bearer "+w.hubs[a])
	case a != anon:
		req.Header.Set("Authorization", "Bearer "+w.session(a))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s as %s: %v", method, path, a, err)
	}
	defer resp.Body.Close()
	r := result{status: resp.StatusCode, header: resp.Header, challenge: resp.Header.Get("WWW-Authenticate") != ""}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return r // a live stream: status and headers are the answer
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	r.body = string(b)
	if resp.StatusCode >= 400 {
		var ae api.Error
		if err := json.Unmarshal(b, &ae); err != nil || ae.ID == "" {
			t.Errorf("%s %s as %s: %d error body is not an api.Error with an id: %q", method, path, a, resp.StatusCode, b)
		}
		r.code, r.message = ae.Code, ae.Message
	}
	return r
}

// want is the expected outcome of one call.
type want int

const (
	allowed       want = iota // authorization passed (validation may still refuse)
	unauthorized              // 401
	forbidden                 // 403 code forbidden
	notFound                  // 404, as for a missing object
	refusedHub                // a hub on another household's object: 404 or 409, never 2xx
	public                    // anything but 403 and 5xx, the same for everyone
	supportAccess             // past the role check: allowed, or refused by the grant (403)
)

func (w want) String() string {
	return [...]string{"allowed", "401", "403", "404", "refused", "as anonymous", "support"}[w]
}

func expect(p routePolicy, a actor, own bool) want {
	switch p.policy {
	case open:
		return public
	case self:
		switch {
		case a == anon || a.hub():
			return unauthorized
		case !own && p.target != nil:
			return notFound
		}
		return allowed
	case operatorOnly:
		switch {
		case a == anon || a.hub():
			return unauthorized
		case a != operator:
			return forbidden
		}
		return allowed
	case hubOnly:
		switch {
		case !a.hub():
			return unauthorized
		case !own && p.target != nil:
			return refusedHub
		}
		return allowed
	case supportOnly:
		switch {
		case a == anon || a.hub():
			return unauthorized
		case a != support:
			return forbidden
		}
		return supportAccess
	case annotatorOnly:
		switch {
		case a == anon || a.hub():
			return unauthorized
		case a != annotator:
			return forbidden
		}
		return allowed
	case grantView:
		switch {
		case a == anon || a.hub():
			return unauthorized
		case a == support:
			return allowed // it asked for both households' grants
		case a.staff():
			return forbidden
		case a == memberA || !own:
			return notFound
		}
		return allowed
	}
	// household and householdRead.
	switch {
	case a == anon || a.hub():
		return unauthorized
	case a.staff():
		return forbidden
	case p.target == nil:
		return allowed // the caller's own household
	case a == memberA:
		// "own" aims at household A's shared camera: a member reads it
		// but may not change it, and never sees A's claims. Other
		// households are in TestMemberMatrix.
		switch {
		case p.ownerOnly:
			return notFound
		case p.policy == householdRead:
			return allowed
		}
		return forbidden
	case !own:
		return notFound
	}
	return allowed
}

var internals = regexp.MustCompile(`(?i)\.go:\d|goroutine |panic|sqlite|postgres|pgx|/tmp/|/var/|rtsp://|\b(?:10|192\.168|172\.(?:1[6-9]|2\d|3[01]))\.\d+\.\d+`)

func TestAuthorizationMatrix(t *testing.T) {
	e := startAccounts(t)
	w := newWorld(e)
	routes := e.srv.Routes()
	var missing []string
	for _, r := range routes {
		if _, ok := routePolicies[r]; !ok {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("routes without an authorization decision in routePolicies: %v", missing)
	}
	for p := range routePolicies {
		found := false
		for _, r := range routes {
			found = found || r == p
		}
		if !found {
			t.Errorf("routePolicies lists %q, which is not served", p)
		}
	}

	for _, route := range routes {
		p := routePolicies[route]
		method, pattern, _ := strings.Cut(route, " ")
		anonStatus := 0
		for _, a := range actors {
			for _, own := range []bool{true, false} {
				if !own && (p.target == nil || p.noOther) {
					continue
				}
				if a == memberA && !own {
					continue // covered by TestMemberMatrix with explicit cameras
				}
				path := pattern
				if p.target != nil {
					path = strings.NewReplacer("{id}", p.target(w, a, own), "{code}", p.target(w, a, own)).Replace(pattern)
				}
				name := fmt.Sprintf("%s %s/%s/own=%v", route, path, a, own)
				denialsBefore := strings.Count(e.logs.String(), "access denied")
				camera := ""
				if p.upload {
					camera = w.cam1[a.letter(own)]
					path = strings.Replace(pattern, "{id}", seal.NewID(), 1)
				}
				body := p.body
				if p.ageDescriptor {
					body = api.HubCamera{Descriptor: w.ageFile}
				}
				if p.ageSettings {
					body = api.CameraSettings{Version: uint64(time.Now().UnixNano()), Sealed: w.ageFile}
				}
				if p.cameraBody {
					body = api.EpochPut{CameraID: w.cam1[a.letter(own)]}
				}
				got := w.sendUpload(a, method, path, body, camera)
				exp := expect(p, a, own)
				if p.policy == open {
					// Credentials change nothing: everyone gets what an
					// anonymous caller gets.
					if anonStatus == 0 {
						anonStatus = got.status
					} else if got.status != anonStatus {
						t.Errorf("%s: %d, but anonymous got %d", name, got.status, anonStatus)
					}
				}
				check(t, name, got, exp, p.may404)
				if exp == forbidden && a.staff() && strings.Count(e.logs.String(), "access denied") <= denialsBefore {
					t.Errorf("%s: the denial was not logged", name)
				}
				checkHeaders(t, name, got, a != anon)
			}
		}
	}
}

func check(t *testing.T, name string, got result, exp want, may404 bool) {
	t.Helper()
	ok := false
	switch exp {
	case public:
		ok = got.status < 500 && got.status != 403
	case allowed:
		ok = got.status < 500 && !(got.status == 401 && got.challenge) && !(got.status == 403 && got.code == "forbidden") && (got.status != 404 || may404)
	case unauthorized:
		ok = got.status == 401 && got.challenge
	case forbidden:
		ok = got.status == 403 && got.code == "forbidden"
	case notFound:
		ok = got.status == 404
	case refusedHub:
		ok = got.status == 404 || got.status == 409 || got.status == 403
	case supportAccess:
		ok = got.status < 500 && got.status != 401
	}
	if !ok {
		t.Errorf("%s: got %d %s, want %s (%s)", name, got.status, got.code, exp, strings.TrimSpace(got.body))
	}
	// The message only: the random error id may spell anything.
	if got.status >= 400 && internals.MatchString(got.message) {
		t.Errorf("%s: error body reveals internals: %s", name, got.body)
	}
}

// checkHeaders checks the headers every response must carry.
func checkHeaders(t *testing.T, name string, got result, authenticated bool) {
	t.Helper()
	h := got.header
	if h.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q", name, h.Get("Cache-Control"))
	}
	vary := strings.Join(h.Values("Vary"), ",")
	if !strings.Contains(vary, "Authorization") || !strings.Contains(vary, "Cookie") {
		t.Errorf("%s: Vary %q lacks Authorization and Cookie", name, vary)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s: no nosniff", name)
	}
	if h.Get("Set-Cookie") != "" && authenticated {
		t.Errorf("%s: a bearer request was given a cookie", name)
	}
}

// TestMemberMatrix pins the member's view with explicit cameras: the
// shared camera is readable, the unshared one of the same household is
// 403, another household's is 404, and an expired membership ends it.
func TestMemberMatrix(t *testing.T) {
	e := startAccounts(t)
	w := newWorld(e)
	type tc struct {
		method, path string
		body         any
		want         int
	}
	from := e.clock.Now().Add(-time.Hour).Format(time.RFC3339)
	to := e.clock.Now().Add(time.Hour).Format(time.RFC3339)
	cases := func() []tc {
		var out []tc
		for _, c := range []struct {
			cam    string
			shared bool
			other  bool
		}{{w.cam1["A"], true, false}, {w.cam2["A"], false, false}, {w.cam1["B"], false, true}} {
			obj := w.object1["A"]
			switch {
			case c.other:
				obj = w.object1["B"]
			case !c.shared:
				obj = w.object2["A"]
			}
			read := http.StatusOK
			write := http.StatusForbidden
			switch {
			case c.other:
				read, write = http.StatusNotFound, http.StatusNotFound
			case !c.shared:
				read = http.StatusForbidden
			}
			out = append(out,
				tc{"GET", "/v1/cameras/" + c.cam + "/epochs?device=" + seal.NewID(), nil, read},
				tc{"GET", "/v1/cameras/" + c.cam + "/manifests?from=" + from + "&to=" + to, nil, read},
				tc{"GET", "/v1/cameras/" + c.cam + "/events?from=" + from + "&to=" + to, nil, read},
				tc{"GET", "/v1/objects/" + obj, nil, read},
				tc{"PATCH", "/v1/cameras/" + c.cam, map[string]any{"retention_days": 1}, write},
			)
		}
		return out
	}
	for _, c := range cases() {
		got := w.send(memberA, c.method, c.path, c.body)
		if got.status != c.want {
			t.Errorf("member %s %s: %d %s, want %d", c.method, c.path, got.status, got.code, c.want)
		}
	}
	// Once the membership expires, the shared camera is closed too.
	if err := e.st.PutMembership(context.Background(), store.Membership{HouseholdID: w.householdOf(ownerA), AccountID: w.accounts[memberA],
		Cameras: []string{w.cam1["A"]}, Expires: e.clock.Now().Add(time.Minute), Created: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute)
	for _, path := range []string{"/v1/cameras/" + w.cam1["A"] + "/epochs?device=" + seal.NewID(), "/v1/objects/" + w.object1["A"]} {
		if got := w.send(memberA, "GET", path, nil); got.status != http.StatusForbidden {
			t.Errorf("expired member GET %s: %d, want 403", path, got.status)
		}
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
