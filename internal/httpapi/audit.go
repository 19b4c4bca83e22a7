package httpapi

// The audit log: what handlers record, how, and who reads it.
//
// Every entry goes to the service's transparency log (Server.Audit, an
// *auditlog.Log) with a clear envelope (id, time, household, class) and a
// body sealed to the household's owner devices and recovery identity, as
// listed in its latest verified roster. The store keeps only an index of
// which log entries are whose (store.AuditRef).
//
// Two ways to record:
//   - recordAsync: best effort for events that have already happened
//     (sign-ins, changes the owner made, denials, members' fetches). A
//     failure is logged loudly, never returned. Server.WaitAudit waits for
//     these, so tests and shutdown see them.
//   - recordNow / recordPublished: for access beyond the household's own
//     devices (support under a grant). The access happens only after its
//     entry is durably sequenced (recordNow) or covered by a published
//     checkpoint (recordPublished: grant approval and key release). If the
//     log cannot be written the handler answers 503 and nothing is
//     released: these paths fail closed, while owners keep using their own
//     keys.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auditlog"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// AuditLog is the transparency log handlers record to; *auditlog.Log
// implements it.
type AuditLog interface {
	Origin() string
	VerifierKey() string
	Append(ctx context.Context, leaf []byte) (uint64, error)
	AppendPublished(ctx context.Context, leaf []byte) (uint64, error)
	Checkpoint(ctx context.Context) ([]byte, error)
	Size(ctx context.Context) (uint64, error)
	TileByPath(ctx context.Context, path string) ([]byte, error)
	ReadEntry(ctx context.Context, index, treeSize uint64) ([]byte, error)
	ReadEntries(ctx context.Context, from, treeSize uint64, limit int) ([][]byte, error)
}

var _ AuditLog = (*auditlog.Log)(nil)

// errLogDown answers a request that must be logged before it acts when the
// log cannot be written.
func errLogDown(cause error) error {
	return &httpError{http.StatusServiceUnavailable, "audit_log_unavailable",
		"the audit log cannot be written, and this access is allowed only once it is logged: nothing was released; try again later", cause}
}

// actorOf describes a signed-in caller for the log. Staff carry their
// e-mail, organisation and office country.
func (s *Server) actorOf(ctx context.Context, c *caller, household string) auditlog.Actor {
	if c == nil {
		return auditlog.Actor{Kind: api.ActorAnonymous}
	}
	a := auditlog.Actor{Kind: c.role, Account: c.account, Device: c.session.DeviceID, Addr: c.session.AddrPrefix}
	if c.role == api.RoleOwner && household != "" && household != c.household {
		// A customer acting on another household: its member, or a
		// stranger to it.
		a.Kind = api.ActorCustomer
		if _, err := s.Store.Membership(ctx, household, c.account); err == nil {
			a.Kind = api.ActorMember
		}
	}
	if c.isStaff() {
		if acc, err := s.Store.Account(ctx, c.account); err == nil {
			a.Email, a.Org, a.Country = acc.Email, acc.Org, acc.Country
		}
	}
	return a
}

// requestActor is actorOf with the request's address for callers not
// signed in.
func (s *Server) requestActor(r *http.Request, c *caller, household string) auditlog.Actor {
	a := s.actorOf(r.Context(), c, household)
	if a.Addr == "" {
		a.Addr = auth.AddrPrefix(auth.ClientAddr(r, s.TrustedProxies))
	}
	return a
}

// auditRecipients are the keys a household's entries are sealed to: its
// owner devices and recovery identity in the latest verified roster. None
// (and no error) before the first roster version.
func (s *Server) auditRecipients(ctx context.Context, household string) ([]age.Recipient, error) {
	ro, err := s.currentRoster(ctx, household)
	if err != nil || ro == nil {
		return nil, err
	}
	var out []age.Recipient
	for _, e := range ro.Entries {
		if e.Kind != seal.KindDevice || (e.Role != seal.RoleOwner && e.Role != seal.RoleRecovery) {
			continue
		}
		rcp, err := seal.ParseRecipient(e.KEM)
		if err != nil {
			return nil, err
		}
		out = append(out, rcp)
	}
	return out, nil
}

// auditLeaf builds one entry for household.
func (s *Server) auditLeaf(ctx context.Context, household, class string, b auditlog.Body) (auditlog.Entry, []byte, error) {
	rcps, err := s.auditRecipients(ctx, household)
	if err != nil {
		return auditlog.Entry{}, nil, err
	}
	body, err := auditlog.SealBody(b, rcps...)
	if err != nil {
		return auditlog.Entry{}, nil, fmt.Errorf("seal audit body: %w", err)
	}
	e := auditlog.Entry{
		Envelope: auditlog.Envelope{V: auditlog.FormatVersion, ID: seal.NewID(), Time: s.Now().UTC().Truncate(time.Second), Household: household, Class: class},
		Body:     body,
	}
	leaf, err := e.Marshal()
	return e, leaf, err
}

// record appends one entry and indexes it; published waits for a
// checkpoint covering it.
func (s *Server) record(ctx context.Context, household, class string, b auditlog.Body, published bool) error {
	if s.Audit == nil {
		return fmt.Errorf("%w: no audit log configured", auditlog.ErrUnavailable)
	}
	if household == "" {
		return nil
	}
	e, leaf, err := s.auditLeaf(ctx, household, class, b)
	if err != nil {
		return err
	}
	var idx uint64
	if published {
		idx, err = s.Audit.AppendPublished(ctx, leaf)
	} else {
		idx, err = s.Audit.Append(ctx, leaf)
	}
	if err != nil {
		return err
	}
	if err := s.Store.AddAuditRef(context.WithoutCancel(ctx), store.AuditRef{HouseholdID: household, Index: idx, ID: e.ID, Class: class, Time: e.Time}); err != nil {
		return fmt.Errorf("index audit entry %d: %w", idx, err)
	}
	return nil
}

// recordNow records before an access beyond the household's own devices:
// the caller proceeds only on nil.
func (s *Server) recordNow(ctx context.Context, household, class string, b auditlog.Body) error {
	if err := s.record(ctx, household, class, b, false); err != nil {
		s.Logger.ErrorContext(ctx, "audit log write failed: access refused", "class", class, "action", b.Action, "err", err)
		return errLogDown(err)
	}
	return nil
}

// recordPublished records and waits until a published checkpoint covers
// the entry: nothing is released for a grant before.
func (s *Server) recordPublished(ctx context.Context, household, class string, b auditlog.Body) error {
	if err := s.record(ctx, household, class, b, true); err != nil {
		s.Logger.ErrorContext(ctx, "audit log publication failed: nothing released", "class", class, "action", b.Action, "err", err)
		return errLogDown(err)
	}
	return nil
}

// recordAsync records an event that has already happened, in the
// background. Failures are logged.
func (s *Server) recordAsync(ctx context.Context, household, class string, b auditlog.Body) {
	if household == "" || s.Audit == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	s.auditWG.Add(1)
	go func() {
		defer s.auditWG.Done()
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := s.record(ctx, household, class, b, false); err != nil {
			s.Logger.ErrorContext(ctx, "audit entry not written", "household", household, "class", class, "action", b.Action, "err", err)
		}
	}()
}

// WaitAudit waits until every entry recorded in the background so far is
// in the log (or failed).
func (s *Server) WaitAudit() { s.auditWG.Wait() }

// recordAccount records an account event in the log of the household the
// account owns (staff accounts own none: their sign-ins are in the service
// log only).
func (s *Server) recordAccount(ctx context.Context, account, class string, b auditlog.Body) {
	h, err := s.Store.HouseholdOf(ctx, account)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.Logger.ErrorContext(ctx, "audit: find household", "account", account, "err", err)
		}
		return
	}
	s.recordAsync(ctx, h.ID, class, b)
}

// --- denials, found centrally by wrap ---

// householdOfPath resolves the household a request's path object belongs
// to (camera, epoch, object or grant), or "" if the route names none or the
// object does not exist.
func (s *Server) householdOfPath(r *http.Request, pattern string) string {
	_, path, _ := strings.Cut(pattern, " ")
	id := r.PathValue("id")
	if !seal.ValidID(id) {
		return ""
	}
	ctx := r.Context()
	switch {
	case strings.HasPrefix(path, "/v1/cameras/{id}"):
		if cam, err := s.Store.Camera(ctx, id); err == nil {
			return cam.HouseholdID
		}
	case strings.HasPrefix(path, "/v1/epochs/{id}"):
		if e, err := s.Store.Epoch(ctx, id); err == nil {
			if cam, err := s.Store.Camera(ctx, e.CameraID); err == nil {
				return cam.HouseholdID
			}
		}
	case strings.HasPrefix(path, "/v1/objects/{id}"):
		if o, err := s.Store.Object(ctx, id); err == nil {
			return o.HouseholdID
		}
	case strings.HasPrefix(path, "/v1/grants/{id}"):
		if g, err := s.Store.Grant(ctx, id); err == nil {
			return g.HouseholdID
		}
	}
	return ""
}

// auditDenial records a refused request on a household's resource: any
// 401 or 403, and a 404 answered to someone outside the household for an
// object that does exist. Re-authentication prompts and rate limits are
// not denials.
func (s *Server) auditDenial(r *http.Request, pattern string, c *caller, status int, body api.Error) {
	if s.Audit == nil {
		return
	}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
	default:
		return
	}
	if body.Code == api.CodeReauthRequired || body.Code == api.CodeRateLimited || body.Code == api.CodeFactorRequired {
		return
	}
	hh := s.householdOfPath(r, pattern)
	if hh == "" || (c != nil && c.household == hh && !c.isStaff()) {
		return
	}
	s.recordAsync(r.Context(), hh, api.AuditDenial, auditlog.Body{
		Actor: s.requestActor(r, c, hh), Action: "denied", Resource: "route:" + pattern + " " + r.PathValue("id"),
		Decision: "denied", Status: status, Detail: body.Message,
	})
}

// auditMemberAccess records a member's successful read of a household's
// camera data (wrap calls it for requests cameraAccess let through as a
// member).
func (s *Server) auditMemberAccess(r *http.Request, pattern string, c *caller, household string, status int) {
	s.recordAsync(r.Context(), household, api.AuditAccess, auditlog.Body{
		Actor: s.requestActor(r, c, household), Action: "fetch", Resource: "route:" + pattern + " " + r.PathValue("id"),
		Decision: "allowed", Status: status,
	})
}

// --- reading the log ---

// logInfo is GET /v1/log.
func (s *Server) logInfo(w http.ResponseWriter, r *http.Request, _ *caller) error {
	if s.Audit == nil {
		return errLogDown(nil)
	}
	writeJSON(w, http.StatusOK, api.LogInfo{Origin: s.Audit.Origin(), VerifierKey: s.Audit.VerifierKey()})
	return nil
}

// logCheckpoint is GET /v1/log/checkpoint: the latest published
// checkpoint, a signed note.
func (s *Server) logCheckpoint(w http.ResponseWriter, r *http.Request, _ *caller) error {
	if s.Audit == nil {
		return errLogDown(nil)
	}
	cp, err := s.Audit.Checkpoint(r.Context())
	if err != nil {
		return errLogDown(err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(cp)
	return nil
}

// logTile is GET /v1/log/tile/{path...}: a hash tile (never an entry
// bundle: other households' envelopes are not for customers).
func (s *Server) logTile(w http.ResponseWriter, r *http.Request, _ *caller) error {
	if s.Audit == nil {
		return errLogDown(nil)
	}
	b, err := s.Audit.TileByPath(r.Context(), r.PathValue("path"))
	if errors.Is(err, auditlog.ErrNotFound) {
		return errNotFound("no such tile")
	}
	if err != nil {
		return fmt.Errorf("read tile: %w", err)
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(b)
	return nil
}

// queryUint reads an optional unsigned query parameter.
func queryUint(r *http.Request, name string, def uint64) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, errInvalid(name + " must be a non-negative integer")
	}
	return n, nil
}

// auditPage bounds one page of the audit listings.
const auditPage = 1000

// auditPageParams reads from= and limit= of an audit listing.
func auditPageParams(r *http.Request) (from, limit uint64, err error) {
	if from, err = queryUint(r, "from", 0); err != nil {
		return 0, 0, err
	}
	if limit, err = queryUint(r, "limit", auditPage); err != nil {
		return 0, 0, err
	}
	return from, min(max(limit, 1), auditPage), nil
}

// audit is GET /v1/audit?from=&limit= (owner): the household's entries the
// published checkpoint covers, with that checkpoint.
func (s *Server) audit(w http.ResponseWriter, r *http.Request, c *caller) error {
	if c.household == "" {
		return errForbidden("only a household's owner reads its audit log")
	}
	if s.Audit == nil {
		return errLogDown(nil)
	}
	from, limit, err := auditPageParams(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	cp, err := s.Audit.Checkpoint(ctx)
	if err != nil {
		return errLogDown(err)
	}
	size, err := s.Audit.Size(ctx)
	if err != nil {
		return errLogDown(err)
	}
	refs, err := s.Store.AuditRefs(ctx, c.household, from, int(limit)+1)
	if err != nil {
		return fmt.Errorf("list audit refs: %w", err)
	}
	out := api.AuditList{Checkpoint: cp, Entries: []api.AuditEntry{}}
	for i, ref := range refs {
		if ref.Index >= size {
			// Sequenced, not yet published: count what is waiting.
			rest, err := s.Store.AuditRefs(ctx, c.household, ref.Index, auditPage)
			if err != nil {
				return fmt.Errorf("list audit refs: %w", err)
			}
			out.Pending = len(rest)
			break
		}
		if i == int(limit) {
			out.Next = ref.Index
			break
		}
		leaf, err := s.Audit.ReadEntry(ctx, ref.Index, size)
		if err != nil {
			return fmt.Errorf("read audit entry %d: %w", ref.Index, err)
		}
		out.Entries = append(out.Entries, api.AuditEntry{Index: ref.Index, Entry: leaf})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// opsAudit is GET /v1/ops/audit?from=&limit= (operator): the clear
// envelopes of every household's entries, for operations. No body.
func (s *Server) opsAudit(w http.ResponseWriter, r *http.Request, c *caller) error {
	if s.Audit == nil {
		return errLogDown(nil)
	}
	from, limit, err := auditPageParams(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	size, err := s.Audit.Size(ctx)
	if err != nil {
		return errLogDown(err)
	}
	out := api.AuditEnvelopes{Size: size, Envelopes: []api.AuditEnvelope{}}
	if from < size {
		leaves, err := s.Audit.ReadEntries(ctx, from, size, int(limit))
		if err != nil {
			return fmt.Errorf("read audit entries: %w", err)
		}
		for i, leaf := range leaves {
			e, err := auditlog.Parse(leaf)
			if err != nil {
				return fmt.Errorf("audit entry %d: %w", from+uint64(i), err)
			}
			out.Envelopes = append(out.Envelopes, api.AuditEnvelope{Index: from + uint64(i), ID: e.ID, Time: e.Time, Household: e.Household, Class: e.Class})
		}
		if next := from + uint64(len(leaves)); next < size {
			out.Next = next
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// recordOwner records, in the background, something the signed-in owner
// (or a device of the household) did to its own household.
func (s *Server) recordOwner(r *http.Request, c *caller, class, action, resource, detail string) {
	s.recordAsync(r.Context(), c.household, class, auditlog.Body{
		Actor: s.requestActor(r, c, c.household), Action: action, Resource: resource, Decision: "done", Detail: detail,
	})
}

// auditedNotices are the notification kinds that are also account events
// in the owner's log.
var auditedNotices = map[string]bool{
	api.NoticeNewSignIn: true, api.NoticePasswordChange: true, api.NoticeFactorChange: true,
	api.NoticeRecoveryUsed: true, api.NoticeEmailChange: true,
}

// recordLoginFailure records a failed sign-in to an existing account.
func (s *Server) recordLoginFailure(r *http.Request, account, why string) {
	s.recordAccount(r.Context(), account, api.AuditAuth, auditlog.Body{
		Actor:  auditlog.Actor{Kind: api.ActorAnonymous, Addr: auth.AddrPrefix(auth.ClientAddr(r, s.TrustedProxies))},
		Action: "login_failed", Resource: "account:" + account, Decision: "denied", Detail: why,
	})
}

// recordReceipt records a deletion: the log entry is the owner's deletion
// receipt.
func (s *Server) recordReceipt(r *http.Request, c *caller, rc api.DeletionReceipt) {
	action := "recordings_deleted"
	if rc.CameraRemoved {
		action = "camera_removed"
	}
	s.recordOwner(r, c, api.AuditDeletion, action, "camera:"+rc.CameraID, fmt.Sprintf(
		"receipt %s: %d manifests, %d segments, %d bytes deleted; %d epochs shredded (%d key wraps deleted): %s",
		rc.ID, rc.Manifests, rc.Segments, rc.Bytes, len(rc.ShreddedEpochs), rc.WrapsDeleted, strings.Join(rc.ShreddedEpochs, " ")))
}

// rosterChange describes what a roster version changed.
func rosterChange(prev, next *seal.Roster) string {
	var parts []string
	seen := map[string]bool{}
	for _, e := range next.Entries {
		seen[e.ID] = true
		var old *seal.RosterEntry
		if prev != nil {
			old = prev.Entry(e.ID)
		}
		switch {
		case old == nil:
			parts = append(parts, fmt.Sprintf("added %s %s %q (%s)", e.Role, e.Kind, e.Name, e.ID))
		case old.KEM != e.KEM || !slices.Equal(old.Cameras, e.Cameras) || old.Role != e.Role:
			parts = append(parts, fmt.Sprintf("changed %s %q (%s)", e.Role, e.Name, e.ID))
		}
	}
	if prev != nil {
		for _, e := range prev.Entries {
			if !seen[e.ID] {
				parts = append(parts, fmt.Sprintf("removed %s %s %q (%s)", e.Role, e.Kind, e.Name, e.ID))
			}
		}
	}
	if len(parts) == 0 {
		return "no entry changed"
	}
	return strings.Join(parts, "; ")
}
