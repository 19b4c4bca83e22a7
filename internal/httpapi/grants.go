package httpapi

// Support grants. A support account files a request (reason, ticket, a
// camera by the name the customer used, a time window, video or not, how
// long, and a key made for this request on the support device). The owner
// approves it from an owner device with a recent sign-in that used a second
// factor: the device signs a seal.Grant and wraps only the in-scope epoch
// keys to the request key. Only then, and only once the approval is in a
// published checkpoint of the audit log, does the service store the wraps.
//
// Every use of a grant re-verifies the stored signed grant against the
// household's current roster, and takes the scope from the signed grant,
// not from the row: a grant inserted into the database, altered there, or
// signed by a device no longer (or never) an owner device releases nothing
// and is logged as forged. Keys are released (GET …/epochs) only after the
// release is in a published checkpoint; every fetch is in the log before
// the bytes go out. At expiry or revocation the wraps are deleted.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auditlog"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// Bounds of a support request's text fields and window.
const (
	maxGrantText   = 500
	maxGrantWindow = 31 * 24 * time.Hour
)

var errReauthFactor = &httpError{http.StatusForbidden, api.CodeReauthRequired,
	"approving support access needs a sign-in with your second factor in the last 5 minutes: confirm it is you at POST /v1/reauth, then retry", nil}

var errFactorForGrant = &httpError{http.StatusForbidden, api.CodeFactorRequired,
	"approving support access needs a second factor on your account: add an authenticator app (porchlight totp add) or a passkey, then sign in again", nil}

// apiGrant is the wire form of a grant.
func (s *Server) apiGrant(ctx context.Context, g store.Grant) api.Grant {
	out := api.Grant{
		ID: g.ID, State: g.State, Household: g.HouseholdID, RequesterID: g.Requester, Org: g.Org, Country: g.Country,
		Camera: g.Camera, CameraID: g.CameraID, From: g.From, To: g.To, Video: g.Video, DurationS: int64(g.Duration / time.Second),
		Reason: g.Reason, Ticket: g.Ticket, Recipient: g.Recipient, CreatedAt: g.Created, DecidedAt: g.Decided, ExpiresAt: g.Expires,
		Signed: g.Signed,
	}
	if a, err := s.Store.Account(ctx, g.Requester); err == nil {
		out.Requester = a.Email
	}
	if len(g.Signed) > 0 {
		if env, err := seal.ParseSigned(g.Signed, seal.TypeGrant); err == nil {
			if ro, err := s.currentRoster(ctx, g.HouseholdID); err == nil && ro != nil {
				if e := ro.Entry(env.Signer); e != nil {
					out.SignerSign = e.Sign
				}
			}
		}
	}
	return out
}

// currentRoster verifies and returns a household's latest roster (nil if
// it has none yet).
//
// The chain is always read from the store. Its verification (an Ed25519
// check per version) is remembered by the hash of the latest version: each
// version's prev hash commits to everything before it, so the same latest
// hash means the same chain. This matters because every audit entry seals
// to the roster's owner devices, and a member's export logs each segment.
func (s *Server) currentRoster(ctx context.Context, household string) (*seal.Roster, error) {
	versions, err := s.Store.RosterVersions(ctx, household)
	if err != nil || len(versions) == 0 {
		return nil, err
	}
	latest := seal.RosterHash(versions[len(versions)-1].Signed)
	if m, ok := s.verifiedRosters.Load(household); ok && m.(verifiedRoster).hash == latest {
		return m.(verifiedRoster).roster, nil
	}
	chain := make([][]byte, len(versions))
	for i, v := range versions {
		chain[i] = v.Signed
	}
	ro, err := seal.VerifyRosterChain(chain, nil)
	if err != nil {
		return nil, err
	}
	s.verifiedRosters.Store(household, verifiedRoster{hash: latest, roster: ro})
	return ro, nil
}

// verifiedRoster is a household's roster chain as last verified.
type verifiedRoster struct {
	hash   string // seal.RosterHash of the latest version
	roster *seal.Roster
}

func checkText(name, v string, required bool) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return errInvalid(name + " is required")
	case len(v) > maxGrantText || !utf8.ValidString(v):
		return errInvalid(fmt.Sprintf("%s must be UTF-8 text of at most %d bytes", name, maxGrantText))
	}
	return nil
}

// grantBody is the log body of a grant event.
func grantBody(actor auditlog.Actor, action string, g store.Grant, decision string) auditlog.Body {
	b := auditlog.Body{Actor: actor, Action: action, Resource: "grant:" + g.ID, Reason: g.Reason, Ticket: g.Ticket, Grant: g.ID, Decision: decision,
		Detail: fmt.Sprintf("camera %q (%s) %s–%s, video %t, for %s", g.Camera, g.CameraID, g.From.UTC().Format(time.RFC3339), g.To.UTC().Format(time.RFC3339), g.Video, g.Duration)}
	if len(g.Signed) > 0 {
		b.GrantHash = seal.GrantHash(g.Signed)
	}
	return b
}

// supportRequest is POST /v1/support/requests (support).
func (s *Server) supportRequest(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in api.SupportRequest
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	for _, f := range []struct {
		name, v string
	}{{"reason", in.Reason}, {"ticket", in.Ticket}, {"camera", in.Camera}} {
		if err := checkText(f.name, f.v, true); err != nil {
			return err
		}
	}
	if in.From.IsZero() || !in.To.After(in.From) {
		return errInvalid("from and to must be set, with from before to")
	}
	if in.To.Sub(in.From) > maxGrantWindow {
		return errInvalid("the window of recordings may span at most 31 days")
	}
	d := time.Duration(in.DurationS) * time.Second
	switch {
	case in.DurationS < 0:
		return errInvalid("duration_s must not be negative")
	case d == 0:
		d = api.GrantDefaultDuration
	case d > api.GrantMaxDuration:
		return errInvalid("a grant lasts at most 24 hours: ask for less")
	}
	if _, err := seal.ParseRecipient(in.Recipient); err != nil {
		return errInvalid("recipient must be an age1pq… recipient made for this request")
	}
	ctx := r.Context()
	email, err := auth.NormalizeEmail(in.OwnerEmail)
	if err != nil {
		return errInvalidf(err, "owner_email: %v", err)
	}
	owner, err := s.Store.AccountByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) || err == nil && (owner.Role != store.RoleCustomer || owner.Disabled) {
		return errNotFound("no customer account with that e-mail address")
	}
	if err != nil {
		return fmt.Errorf("find owner: %w", err)
	}
	hh, err := s.Store.HouseholdOf(ctx, owner.ID)
	if err != nil {
		return fmt.Errorf("find household: %w", err)
	}
	me, err := s.Store.Account(ctx, c.account)
	if err != nil {
		return fmt.Errorf("load account: %w", err)
	}
	now := s.Now().UTC()
	g := store.Grant{
		ID: seal.NewID(), HouseholdID: hh.ID, Requester: c.account, Org: me.Org, Country: me.Country,
		Camera: in.Camera, From: in.From.UTC(), To: in.To.UTC(), Video: in.Video, Duration: d,
		Reason: in.Reason, Ticket: in.Ticket, Recipient: in.Recipient, State: api.GrantPending,
		Created: now, Expires: now.Add(api.GrantRequestTTL),
	}
	if err := s.recordNow(ctx, hh.ID, api.AuditGrant, grantBody(s.requestActor(r, c, hh.ID), "grant_requested", g, "pending")); err != nil {
		return err
	}
	if err := s.Store.CreateGrant(ctx, g); err != nil {
		return fmt.Errorf("store grant: %w", err)
	}
	s.notify(ctx, owner.ID, api.NoticeGrantRequest, noticeData{
		Detail: fmt.Sprintf("%s (%s, %s) asks to see camera %q %s–%s (video %t) for ticket %s: %s — review with `porchlight grants`",
			me.Email, me.Org, me.Country, g.Camera, g.From.Format(time.RFC3339), g.To.Format(time.RFC3339), g.Video, g.Ticket, g.Reason),
	})
	addLog(r, "grant", g.ID)
	writeJSON(w, http.StatusCreated, s.apiGrant(ctx, g))
	return nil
}

// supportRequests is GET /v1/support/requests (support): its own.
func (s *Server) supportRequests(w http.ResponseWriter, r *http.Request, c *caller) error {
	gs, err := s.Store.RequesterGrants(r.Context(), c.account)
	if err != nil {
		return fmt.Errorf("list grants: %w", err)
	}
	return s.writeGrants(w, r, gs)
}

// grants is GET /v1/grants (owner).
func (s *Server) grants(w http.ResponseWriter, r *http.Request, c *caller) error {
	gs, err := s.Store.HouseholdGrants(r.Context(), c.household)
	if err != nil {
		return fmt.Errorf("list grants: %w", err)
	}
	return s.writeGrants(w, r, gs)
}

func (s *Server) writeGrants(w http.ResponseWriter, r *http.Request, gs []store.Grant) error {
	out := api.Grants{Grants: make([]api.Grant, 0, len(gs))}
	for _, g := range gs {
		out.Grants = append(out.Grants, s.apiGrant(r.Context(), g))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// loadGrant loads the grant in the path for its household's owner (other
// customers: 404) or its requester (other staff: 403).
func (s *Server) loadGrant(r *http.Request, c *caller, ownerOnly bool) (store.Grant, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return store.Grant{}, err
	}
	g, err := s.Store.Grant(r.Context(), id)
	notFound := errNotFound("no such grant")
	if errors.Is(err, store.ErrNotFound) {
		if c.isStaff() {
			return store.Grant{}, s.denied(r, c, "no grant of yours has that id")
		}
		return store.Grant{}, notFound
	}
	if err != nil {
		return store.Grant{}, fmt.Errorf("load grant: %w", err)
	}
	addLog(r, "grant", id)
	switch {
	case !c.isStaff() && g.HouseholdID == c.household:
		return g, nil
	case !c.isStaff():
		return store.Grant{}, notFound
	case ownerOnly || c.account != g.Requester:
		return store.Grant{}, s.denied(r, c, "this grant is not yours")
	}
	return g, nil
}

// grant is GET /v1/grants/{id} (owner or requester).
func (s *Server) grant(w http.ResponseWriter, r *http.Request, c *caller) error {
	g, err := s.loadGrant(r, c, false)
	if err != nil {
		return err
	}
	g, _ = s.lapse(r.Context(), g)
	writeJSON(w, http.StatusOK, s.apiGrant(r.Context(), g))
	return nil
}

// lapse ends a grant whose time is up (pending or approved) and reports
// whether it did.
func (s *Server) lapse(ctx context.Context, g store.Grant) (store.Grant, bool) {
	now := s.Now()
	if (g.State != api.GrantPending && g.State != api.GrantApproved) || now.Before(g.Expires) {
		return g, false
	}
	n, err := s.Store.EndGrant(ctx, g.ID, []string{g.State}, api.GrantExpired, now.UTC())
	if err != nil {
		if !errors.Is(err, store.ErrConflict) {
			s.Logger.ErrorContext(ctx, "expire grant", "grant", g.ID, "err", err)
		}
		if fresh, err := s.Store.Grant(ctx, g.ID); err == nil {
			return fresh, true
		}
		return g, true
	}
	b := grantBody(auditlog.Actor{Kind: api.ActorService}, "grant_expired", g, "expired")
	b.Detail += fmt.Sprintf("; %d key wraps deleted", n)
	s.recordAsync(ctx, g.HouseholdID, api.AuditGrant, b)
	g.State = api.GrantExpired
	return g, true
}

// ExpireGrants ends every grant whose time is up and deletes its wraps; it
// returns how many. porchlightd runs it periodically; uses of a grant also
// check expiry themselves.
func (s *Server) ExpireGrants(ctx context.Context) (int, error) {
	s.init()
	due, err := s.Store.DueGrants(ctx, s.Now().UTC())
	if err != nil {
		return 0, fmt.Errorf("list due grants: %w", err)
	}
	n := 0
	for _, g := range due {
		if _, ended := s.lapse(ctx, g); ended {
			n++
		}
	}
	return n, nil
}

// approveGrant is POST /v1/grants/{id}/approve (owner, recent sign-in with
// a second factor).
func (s *Server) approveGrant(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	g, err := s.loadGrant(r, c, true)
	if err != nil {
		return err
	}
	f, err := s.factorsOf(ctx, c.account)
	if err != nil {
		return err
	}
	if !f.any() {
		return errFactorForGrant
	}
	if !c.session.AuthFactor {
		// Fresh, but by password alone (e.g. before the factor existed).
		return errReauthFactor
	}
	var in api.GrantApproval
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	if g, lapsed := s.lapse(ctx, g); lapsed || g.State != api.GrantPending {
		return errConflict(fmt.Sprintf("this request is %s, not pending: nothing to approve", g.State))
	}
	ro, err := s.currentRoster(ctx, g.HouseholdID)
	if err != nil {
		return fmt.Errorf("load roster: %w", err)
	}
	if ro == nil {
		return errConflict("the household has no roster yet, so no device can sign a grant: pair a device first")
	}
	sg, err := seal.VerifyGrant(in.Signed, ro)
	if err != nil {
		b := grantBody(s.requestActor(r, c, g.HouseholdID), "grant_forged", g, "forged")
		b.Detail = "approval refused: " + err.Error()
		s.recordAsync(ctx, g.HouseholdID, api.AuditGrant, b)
		return errForbidden("the grant is not signed by an owner device of this household's roster: " + err.Error())
	}
	now := s.Now()
	switch {
	case sg.ID != g.ID || sg.Requester != g.Requester || sg.Recipient != g.Recipient:
		return errInvalid("the signed grant is for another request or key")
	case !sg.From.Equal(g.From) || !sg.To.Equal(g.To) || sg.Video != g.Video || sg.Reason != g.Reason || sg.Ticket != g.Ticket:
		return errInvalid("the signed grant's window, video, reason or ticket differ from the request")
	case !sg.NotAfter.After(now) || sg.NotAfter.After(now.Add(g.Duration+time.Minute)):
		return errInvalid(fmt.Sprintf("the signed grant must end within %s of now", g.Duration))
	}
	cam, err := s.Store.Camera(ctx, sg.Camera)
	if errors.Is(err, store.ErrNotFound) || err == nil && cam.HouseholdID != g.HouseholdID {
		return errInvalid("the signed grant names no camera of this household")
	}
	if err != nil {
		return fmt.Errorf("load camera: %w", err)
	}
	wraps, err := s.grantWraps(ctx, sg, in.Wraps)
	if err != nil {
		return err
	}
	g.Signed, g.CameraID = in.Signed, sg.Camera
	b := grantBody(s.requestActor(r, c, g.HouseholdID), "grant_approved", g, "approved")
	b.Detail += fmt.Sprintf("; %d epoch keys wrapped to the request key; ends %s", len(wraps), sg.NotAfter.UTC().Format(time.RFC3339))
	if err := s.recordPublished(ctx, g.HouseholdID, api.AuditGrant, b); err != nil {
		return err
	}
	if err := s.Store.ApproveGrant(ctx, g.ID, in.Signed, sg.Camera, now.UTC(), sg.NotAfter.UTC(), wraps); err != nil {
		fail := grantBody(s.requestActor(r, c, g.HouseholdID), "grant_approval_failed", g, "failed")
		fail.Detail = err.Error()
		s.recordAsync(ctx, g.HouseholdID, api.AuditGrant, fail)
		if errors.Is(err, store.ErrConflict) {
			return errConflict("the request changed while you approved it: list grants again")
		}
		return fmt.Errorf("approve grant: %w", err)
	}
	g, err = s.Store.Grant(ctx, g.ID)
	if err != nil {
		return fmt.Errorf("reload grant: %w", err)
	}
	writeJSON(w, http.StatusOK, s.apiGrant(ctx, g))
	return nil
}

// grantWraps checks an approval's wraps: none without video; otherwise
// each an age file for an epoch of the grant's camera that has recordings
// in the grant's window.
func (s *Server) grantWraps(ctx context.Context, sg *seal.Grant, in []api.GrantWrap) (map[string][]byte, error) {
	if !sg.Video {
		if len(in) > 0 {
			return nil, errInvalid("a grant without video releases no keys: send no wraps")
		}
		return map[string][]byte{}, nil
	}
	if len(in) > MaxWraps {
		return nil, errInvalid(fmt.Sprintf("at most %d wraps", MaxWraps))
	}
	objs, err := s.Store.RangeObjects(ctx, sg.Camera, sg.From.Add(-time.Minute), sg.To, MaxManifestList)
	if err != nil {
		return nil, fmt.Errorf("list objects in window: %w", err)
	}
	inWindow := map[string]bool{}
	for _, o := range objs {
		inWindow[o.EpochID] = true
	}
	out := make(map[string][]byte, len(in))
	for _, wr := range in {
		switch {
		case !seal.ValidID(wr.Epoch):
			return nil, errInvalid("malformed epoch id in wraps")
		case !inWindow[wr.Epoch]:
			return nil, errInvalid("epoch " + wr.Epoch + " has no recordings of the grant's camera in its window: only in-scope keys may be released")
		case len(wr.Data) > MaxWrap || seal.CheckAgeFile(wr.Data) != nil:
			return nil, errInvalid("wrap for epoch " + wr.Epoch + " is not an age file")
		}
		out[wr.Epoch] = wr.Data
	}
	return out, nil
}

// denyGrant is POST /v1/grants/{id}/deny (owner).
func (s *Server) denyGrant(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.endGrant(w, r, c, api.GrantPending, api.GrantDenied, "grant_denied")
}

// revokeGrant is POST /v1/grants/{id}/revoke (owner): ends an approved
// grant now and deletes its wraps.
func (s *Server) revokeGrant(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.endGrant(w, r, c, api.GrantApproved, api.GrantRevoked, "grant_revoked")
}

func (s *Server) endGrant(w http.ResponseWriter, r *http.Request, c *caller, from, to, action string) error {
	ctx := r.Context()
	g, err := s.loadGrant(r, c, true)
	if err != nil {
		return err
	}
	var in struct{}
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	n, err := s.Store.EndGrant(ctx, g.ID, []string{from}, to, s.Now().UTC())
	if errors.Is(err, store.ErrConflict) {
		g, _ = s.Store.Grant(ctx, g.ID)
		return errConflict(fmt.Sprintf("this grant is %s, not %s", g.State, from))
	}
	if err != nil {
		return fmt.Errorf("end grant: %w", err)
	}
	b := grantBody(s.requestActor(r, c, g.HouseholdID), action, g, to)
	b.Detail += fmt.Sprintf("; %d key wraps deleted", n)
	s.recordAsync(ctx, g.HouseholdID, api.AuditGrant, b)
	g, err = s.Store.Grant(ctx, g.ID)
	if err != nil {
		return fmt.Errorf("reload grant: %w", err)
	}
	writeJSON(w, http.StatusOK, s.apiGrant(ctx, g))
	return nil
}

// activeGrant loads the grant in the path for its requester and checks it
// may be used now: approved, not expired, and its signed grant verifying
// against the household's current roster and matching the stored row. It
// returns the signed grant: the scope comes from it, never from the row.
func (s *Server) activeGrant(r *http.Request, c *caller) (store.Grant, *seal.Grant, error) {
	ctx := r.Context()
	g, err := s.loadGrant(r, c, false)
	if err != nil {
		return g, nil, err
	}
	if !c.isStaff() {
		return g, nil, s.denied(r, c, "only the support account that asked uses a grant; owners use their own keys")
	}
	if g, lapsed := s.lapse(ctx, g); lapsed {
		return g, nil, s.denied(r, c, "this grant has expired: file a new request")
	}
	if g.State != api.GrantApproved {
		return g, nil, s.denied(r, c, "this grant is "+g.State+", not approved")
	}
	sg, err := s.verifyStoredGrant(ctx, g)
	if err != nil {
		n, _ := s.Store.EndGrant(ctx, g.ID, []string{api.GrantApproved}, api.GrantForged, s.Now().UTC())
		b := grantBody(s.requestActor(r, c, g.HouseholdID), "grant_forged", g, "forged")
		b.Detail = fmt.Sprintf("nothing released: %v; %d key wraps deleted", err, n)
		s.recordAsync(ctx, g.HouseholdID, api.AuditGrant, b)
		s.Logger.WarnContext(ctx, "forged grant refused", "grant", g.ID, "err", err)
		return g, nil, s.denied(r, c, "this grant does not verify against the household's roster: nothing is released")
	}
	if !s.Now().Before(sg.NotAfter) {
		g.Expires = sg.NotAfter
		s.lapse(ctx, g)
		return g, nil, s.denied(r, c, "this grant has expired: file a new request")
	}
	return g, sg, nil
}

// verifyStoredGrant checks a stored approved grant's signature against the
// current roster and that the row says what was signed.
func (s *Server) verifyStoredGrant(ctx context.Context, g store.Grant) (*seal.Grant, error) {
	if len(g.Signed) == 0 {
		return nil, errors.New("no signed grant")
	}
	ro, err := s.currentRoster(ctx, g.HouseholdID)
	if err != nil {
		return nil, err
	}
	if ro == nil {
		return nil, errors.New("the household has no roster")
	}
	sg, err := seal.VerifyGrant(g.Signed, ro)
	if err != nil {
		return nil, err
	}
	if sg.ID != g.ID || sg.Camera != g.CameraID || sg.Requester != g.Requester || sg.Recipient != g.Recipient ||
		!sg.From.Equal(g.From) || !sg.To.Equal(g.To) || sg.Video != g.Video {
		return nil, errors.New("the stored grant differs from what the owner signed")
	}
	return sg, nil
}

// grantEpochs is GET /v1/grants/{id}/epochs (requester): the key release,
// in the log's published checkpoint before it is answered.
func (s *Server) grantEpochs(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	g, sg, err := s.activeGrant(r, c)
	if err != nil {
		return err
	}
	if !sg.Video {
		return s.denied(r, c, "this grant does not include video: no keys are released")
	}
	es, err := s.Store.Epochs(ctx, sg.Camera, store.GrantDevice(g.ID))
	if err != nil {
		return fmt.Errorf("list epochs: %w", err)
	}
	out := api.GrantEpochs{Epochs: []api.Epoch{}}
	for _, e := range es {
		if e.Wrap != nil {
			out.Epochs = append(out.Epochs, api.Epoch{ID: e.ID, CameraID: e.CameraID, Announcement: e.Announcement, Wrap: e.Wrap, CreatedAt: e.Created})
		}
	}
	b := grantBody(s.requestActor(r, c, g.HouseholdID), "key_release", g, "allowed")
	b.Resource = "camera:" + sg.Camera
	b.Detail = fmt.Sprintf("%d epoch keys released to the request key", len(out.Epochs))
	if err := s.recordPublished(ctx, g.HouseholdID, api.AuditKeyRelease, b); err != nil {
		return err
	}
	s.notify(ctx, s.householdOwner(ctx, g.HouseholdID), api.NoticeStaffAccess, noticeData{
		Detail: fmt.Sprintf("support (%s) was given the keys of %d epoch(s) of camera %q under grant %s (ticket %s)", g.Org, len(out.Epochs), g.Camera, g.ID, g.Ticket),
	})
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) householdOwner(ctx context.Context, household string) string {
	h, err := s.Store.Household(ctx, household)
	if err != nil {
		return ""
	}
	return h.Owner
}

// inWindow reports whether an object's coarse (minute) time falls in the
// signed grant's window.
func inWindow(sg *seal.Grant, t time.Time) bool {
	return !t.Before(sg.From.Truncate(time.Minute)) && !t.After(sg.To)
}

// grantManifests is GET /v1/grants/{id}/manifests?from=&to=[&include=data]
// (requester): the grant camera's manifests, clamped to the window.
func (s *Server) grantManifests(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	g, sg, err := s.activeGrant(r, c)
	if err != nil {
		return err
	}
	from, to := sg.From.Truncate(time.Minute), sg.To
	q := r.URL.Query()
	if q.Get("from") != "" {
		t, err := queryTime(q, "from")
		if err != nil {
			return err
		}
		from = later(from, t.Add(-time.Minute))
	}
	if q.Get("to") != "" {
		t, err := queryTime(q, "to")
		if err != nil {
			return err
		}
		if t.Before(to) {
			to = t
		}
	}
	if to.Before(from) {
		return s.denied(r, c, "that range is outside the grant's window "+sg.From.Format(time.RFC3339)+"–"+sg.To.Format(time.RFC3339))
	}
	if q.Get("include") == "data" && !sg.Video {
		return s.denied(r, c, "this grant does not include video: list without include=data")
	}
	b := grantBody(s.requestActor(r, c, g.HouseholdID), "list_manifests", g, "allowed")
	b.Resource = "camera:" + sg.Camera
	b.Detail = fmt.Sprintf("manifests %s–%s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	if err := s.recordNow(ctx, g.HouseholdID, api.AuditAccess, b); err != nil {
		return err
	}
	return s.writeManifests(w, r, sg.Camera, from, to)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// grantObject is GET /v1/grants/{id}/objects/{oid} (requester): one
// segment or manifest of the grant's camera in its window.
func (s *Server) grantObject(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	g, sg, err := s.activeGrant(r, c)
	if err != nil {
		return err
	}
	if !sg.Video {
		return s.denied(r, c, "this grant does not include video")
	}
	oid, err := pathID(r, "oid")
	if err != nil {
		return err
	}
	o, err := s.Store.Object(ctx, oid)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound("no such object")
	}
	if err != nil {
		return fmt.Errorf("load object: %w", err)
	}
	if o.CameraID != sg.Camera || o.HouseholdID != g.HouseholdID {
		return s.denied(r, c, "that object is not of the grant's camera")
	}
	if !slices.Contains([]string{api.ObjectSegment, api.ObjectManifest}, o.Kind) || !inWindow(sg, o.CoarseTime) {
		return s.denied(r, c, "that recording is outside the grant's window "+sg.From.Format(time.RFC3339)+"–"+sg.To.Format(time.RFC3339))
	}
	b := grantBody(s.requestActor(r, c, g.HouseholdID), "fetch", g, "allowed")
	b.Resource = "object:" + oid
	b.Status = http.StatusOK
	if err := s.recordNow(ctx, g.HouseholdID, api.AuditAccess, b); err != nil {
		return err
	}
	return s.streamObject(w, r, oid)
}
