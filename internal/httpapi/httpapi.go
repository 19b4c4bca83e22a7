// Package httpapi holds porchlightd's HTTP handlers: the JSON API of
// internal/api on the standard net/http.ServeMux (Go 1.22 patterns), used by
// hubs and clients, and the admin API of the local Unix socket
// (AdminHandler). Server.Handler returns the whole public API;
// internal/server wires it to a listener, a store.Store and a blob.Store.
//
// Rules every handler follows: ids in paths are checked before they reach a
// store; bodies are bounded and decoded strictly; every object, camera and
// claim access is authorised against the store (never a cache; see
// authz.go for the roles); every error response is an api.Error whose id is
// also in the log line; logs name the route pattern, never the raw path, a
// token, a code, a password, an e-mail address or a secret; every response
// carries the headers of securityHeaders (no-store, Vary on the credential,
// no sniffing, framing or referrer). Sessions are bearer tokens or the
// browser app's cookie (session.go); each session's long-lived connections
// end the moment it does (events.go). The service handles ciphertext only:
// this package never decrypts and never imports internal/keys.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/blob"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// Size limits.
const (
	// MaxSegmentSize bounds an uploaded segment.
	MaxSegmentSize = 64 << 20
	// MaxManifestSize bounds an uploaded manifest.
	MaxManifestSize = 1 << 20
	// MaxEventSize bounds a sealed event record; MaxThumbSize its
	// thumbnail.
	MaxEventSize = 1 << 20
	MaxThumbSize = 4 << 20
	// MaxJSONBody bounds a JSON request body.
	MaxJSONBody = 4 << 20
	// MaxDescriptor bounds a sealed camera descriptor.
	MaxDescriptor = 256 << 10
	// MaxWrap bounds one wrapped epoch key; MaxWraps their number per call.
	MaxWrap  = 64 << 10
	MaxWraps = 1024
	// MaxRefs bounds the ids a manifest lists.
	MaxRefs = 10000
	// MaxManifestList bounds one manifest listing.
	MaxManifestList = 20000
)

// Server serves the API. Set Store and Blobs; other fields have working
// defaults. Do not change fields after the first call to Handler.
type Server struct {
	// Store is the metadata store. Required.
	Store store.Store
	// Blobs is the ciphertext store. Required.
	Blobs blob.Store
	// Logger receives one line per failed request (and, at debug level,
	// per request). It defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock. It defaults to time.Now.
	Now func() time.Time
	// MaxUploads bounds the upload bodies held in memory at once (each up
	// to MaxSegmentSize). It defaults to 8.
	MaxUploads int
	// SessionIdle and SessionAbsolute are session lifetimes. They default
	// to auth.IdleTimeout and auth.AbsoluteTimeout.
	SessionIdle, SessionAbsolute time.Duration
	// Limits is the sign-in rate-limit policy; zero fields take
	// auth.Limits' defaults.
	Limits auth.Limits
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed. It defaults to none: the peer address counts.
	TrustedProxies []netip.Prefix
	// PublicOrigin is the service's origin as browsers see it,
	// "https://host[:port]": requests signed in by cookie must carry it as
	// Origin, and passkeys are bound to it. It defaults to the request's
	// own scheme and host.
	PublicOrigin string
	// RPID is the WebAuthn relying party id. It defaults to PublicOrigin's
	// host name, else "localhost".
	RPID string
	// Audit is the transparency log every grant, key release, staff action,
	// non-owner access and denial goes to (audit.go). Without one, those
	// that must be logged before they act answer 503 and the rest go
	// unrecorded: porchlightd always sets it.
	Audit AuditLog
	// Web is the browser app's built files (web.FS()), served outside /v1/
	// (web.go). Without it, / says the app is not built.
	Web fs.FS
	// Push sends Web Push notifications of camera events to subscribed
	// browsers (push.go). Without it the push routes answer 404 and
	// nothing is pushed.
	Push *Push
	// TestHooks are for tests only (see TestHooks); leave them zero.
	TestHooks TestHooks

	once          sync.Once
	mux           *http.ServeMux
	routes        []string
	uploads       chan struct{}
	idLocks       keyedMutex
	rosterNews    rosterNews // wakes hubs waiting for a roster change
	redactionNews rosterNews // wakes hubs waiting for redaction jobs (redactions.go)
	throttleLocks keyedMutex
	streams       streams
	live          liveRelay      // live views of this replica (live.go)
	web           webApp         // the loaded browser app (web.go)
	auditWG       sync.WaitGroup // background audit records in flight
	// verifiedRosters maps a household id to its verifiedRoster
	// (currentRoster); entries are replaced, never trusted without the
	// store's latest hash.
	verifiedRosters sync.Map
}

func (s *Server) init() {
	s.once.Do(func() {
		if s.Logger == nil {
			s.Logger = slog.Default()
		}
		if s.Now == nil {
			s.Now = time.Now
		}
		if s.MaxUploads <= 0 {
			s.MaxUploads = 8
		}
		if s.SessionIdle <= 0 {
			s.SessionIdle = auth.IdleTimeout
		}
		if s.SessionAbsolute <= 0 {
			s.SessionAbsolute = auth.AbsoluteTimeout
		}
		s.uploads = make(chan struct{}, s.MaxUploads)
		s.loadWeb()
		s.mux = http.NewServeMux()
		s.register()
		// Anything else: a JSON 404, not the mux's plain text.
		s.mux.Handle("/", s.wrap("/", func(w http.ResponseWriter, r *http.Request) error {
			if isWebPath(r) {
				return s.serveWeb(w, r)
			}
			if allow := s.allowed(r); allow != "" {
				w.Header().Set("Allow", allow)
				return &httpError{http.StatusMethodNotAllowed, "method_not_allowed", r.Method + " is not served here; allowed: " + allow, nil}
			}
			return errNotFound("no such route")
		}))
	})
}

// allowed lists the methods that do have a route at r's path.
func (s *Server) allowed(r *http.Request) string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	return strings.Join(allow, ", ")
}

// Handler returns the API handler.
func (s *Server) Handler() http.Handler {
	s.init()
	return s.mux
}

// Routes returns the patterns served, e.g. "GET /v1/me", in registration
// order. The OpenAPI document lists exactly these (a test checks).
func (s *Server) Routes() []string {
	s.init()
	return append([]string(nil), s.routes...)
}

func (s *Server) register() {
	s.handle("GET /healthz", s.healthz)
	s.handle("GET /v1/client", s.client)

	// Signing in.
	s.handle("POST /v1/signup", s.signup)
	s.handle("POST /v1/login", s.login)
	s.handle("POST /v1/login/mfa", s.loginMFA)
	s.handle("POST /v1/login/passkey/begin", s.passkeyLoginBegin)
	s.handle("POST /v1/login/passkey/finish", s.passkeyLoginFinish)
	s.handle("POST /v1/reauth", s.user(s.reauth))
	s.handle("POST /v1/logout", s.user(s.logout))

	// The account itself: any signed-in account, staff included.
	s.handle("GET /v1/me", s.user(s.me))
	s.handle("PATCH /v1/me", s.user(s.changeEmail))
	s.handle("POST /v1/me/password", s.user(s.changePassword))
	s.handle("POST /v1/me/totp", s.user(s.totpSetup))
	s.handle("POST /v1/me/totp/confirm", s.user(s.totpConfirm))
	s.handle("DELETE /v1/me/totp", s.user(s.totpDelete))
	s.handle("POST /v1/me/recovery-codes", s.user(s.newRecoveryCodes))
	s.handle("GET /v1/me/passkeys", s.user(s.passkeys))
	s.handle("POST /v1/me/passkeys/begin", s.user(s.passkeyRegisterBegin))
	s.handle("POST /v1/me/passkeys/finish", s.user(s.passkeyRegisterFinish))
	s.handle("DELETE /v1/me/passkeys/{id}", s.user(s.deletePasskey))
	s.handle("GET /v1/sessions", s.user(s.sessions))
	s.handle("DELETE /v1/sessions/{id}", s.user(s.revokeSession))
	s.handle("POST /v1/sessions/revoke-others", s.user(s.revokeOthers))
	s.handle("GET /v1/notifications", s.user(s.notifications))
	s.handle("GET /v1/events", s.user(s.events))
	s.handle("GET /v1/push/vapid", s.customer(s.pushVAPID))
	s.handle("PUT /v1/push/subscriptions", s.customer(s.putPushSubscription))
	s.handle("DELETE /v1/push/subscriptions/{id}", s.customer(s.deletePushSubscription))

	// Staff.
	s.handle("GET /v1/ops/overview", s.staffOnly(api.RoleOperator, s.opsOverview))
	s.handle("GET /v1/ops/audit", s.staffOnly(api.RoleOperator, s.opsAudit))

	// The transparency log: any signed-in account verifies it; a
	// household's own entries only to its owner (audit.go).
	s.handle("GET /v1/log", s.user(s.logInfo))
	s.handle("GET /v1/log/checkpoint", s.user(s.logCheckpoint))
	s.handle("GET /v1/log/tile/{path...}", s.user(s.logTile))
	s.handle("GET /v1/audit", s.customer(s.audit))

	// Support grants (grants.go): support asks, the owner decides, support
	// uses an approved grant within its scope.
	s.handle("POST /v1/support/requests", s.staffOnly(api.RoleSupport, s.supportRequest))
	s.handle("GET /v1/support/requests", s.staffOnly(api.RoleSupport, s.supportRequests))
	s.handle("GET /v1/grants", s.customer(s.grants))
	s.handle("GET /v1/grants/{id}", s.user(s.grant))
	s.handle("POST /v1/grants/{id}/approve", s.customer(s.fresh(s.approveGrant)))
	s.handle("POST /v1/grants/{id}/deny", s.customer(s.denyGrant))
	s.handle("POST /v1/grants/{id}/revoke", s.customer(s.revokeGrant))
	s.handle("GET /v1/grants/{id}/epochs", s.staffOnly(api.RoleSupport, s.grantEpochs))
	s.handle("GET /v1/grants/{id}/manifests", s.staffOnly(api.RoleSupport, s.grantManifests))
	s.handle("GET /v1/grants/{id}/objects/{oid}", s.staffOnly(api.RoleSupport, s.grantObject))

	// A household's data: customers only, each object checked against the
	// caller's household in the store.
	s.handle("GET /v1/roster", s.customer(s.getRoster))
	s.handle("POST /v1/roster", s.customer(s.fresh(s.appendRoster)))
	s.handle("PUT /v1/recovery-kit", s.customer(s.fresh(s.putRecoveryKit)))
	s.handle("GET /v1/recovery-kit", s.customer(s.getRecoveryKit))

	s.handle("POST /v1/claims", s.customer(s.createClaim))
	s.handle("GET /v1/claims/{code}", s.customer(s.claimStatus))
	s.handle("POST /v1/claims/{code}/confirm", s.customer(s.fresh(s.confirmClaim)))

	s.handle("POST /v1/hub/claim", s.presentHub)
	s.handle("POST /v1/hub/claim/poll", s.pollHub)
	s.handle("GET /v1/hub/roster", s.hub(s.hubRoster))
	s.handle("PUT /v1/hub/cameras/{id}", s.hub(s.putCamera))
	s.handle("GET /v1/hub/cameras/{id}/settings", s.hub(s.hubCameraSettings))
	s.handle("PUT /v1/hub/epochs/{id}", s.hub(s.putEpoch))
	s.handle("PUT /v1/hub/objects/{id}", s.hub(s.putObject))

	s.handle("GET /v1/cameras", s.customer(s.cameras))
	s.handle("PATCH /v1/cameras/{id}", s.customer(s.updateCamera))
	s.handle("PUT /v1/cameras/{id}/settings", s.customer(s.putCameraSettings))
	s.handle("GET /v1/cameras/{id}/settings", s.customer(s.cameraSettings))
	s.handle("DELETE /v1/cameras/{id}", s.customer(s.fresh(s.removeCamera)))
	s.handle("POST /v1/cameras/{id}/delete", s.customer(s.fresh(s.deleteCameraData)))
	s.handle("GET /v1/cameras/{id}/epochs", s.customer(s.epochs))
	s.handle("PUT /v1/epochs/{id}/wraps", s.customer(s.putWraps))
	s.handle("PUT /v1/epochs/{id}", s.customer(s.fresh(s.putOwnerEpoch)))
	s.handle("PUT /v1/objects/{id}", s.customer(s.fresh(s.putOwnerObject)))
	s.handle("POST /v1/cameras/{id}/retire-epochs", s.customer(s.fresh(s.retireEpochs)))
	s.handle("POST /v1/devices/pair", s.customer(s.startPair))
	s.handle("GET /v1/devices/pair/{code}", s.customer(s.pairOffer))
	s.handle("POST /v1/members/invites", s.customer(s.fresh(s.createInvite)))
	s.handle("GET /v1/members/invites/{code}", s.customer(s.getInvite))
	s.handle("POST /v1/members/invites/{code}/accept", s.customer(s.acceptInvite))
	s.handle("POST /v1/members/invites/{code}/confirm", s.customer(s.fresh(s.confirmInvite)))
	s.handle("POST /v1/members/remove", s.customer(s.fresh(s.removeMember)))
	s.handle("GET /v1/shared", s.customer(s.shared))
	s.handle("GET /v1/cameras/{id}/manifests", s.customer(s.manifests))
	s.handle("GET /v1/cameras/{id}/events", s.customer(s.cameraEvents))
	s.handle("GET /v1/objects/{id}", s.customer(s.object))

	// Live view (live.go): the viewer asks and opens its socket; the
	// camera's hub long-polls and opens its own; ciphertext is relayed.
	s.handle("POST /v1/cameras/{id}/live", s.customer(s.startLive))
	s.handle("GET /v1/live/{id}", s.customer(s.viewLive))
	s.handle("GET /v1/hub/live", s.hub(s.hubLiveRequests))
	s.handle("GET /v1/hub/live/{id}", s.hub(s.hubLive))

	// The neighbours feed (feed.go): owners publish redacted clips under a
	// signed record; any signed-in account reads; the operator moderates.
	s.handle("POST /v1/feed/posts", s.customer(s.createFeedPost))
	s.handle("GET /v1/feed", s.user(s.feed))
	s.handle("GET /v1/feed/posts/{id}", s.user(s.getFeedPost))
	s.handle("GET /v1/feed/posts/{id}/media", s.user(s.feedMedia))
	s.handle("DELETE /v1/feed/posts/{id}", s.customer(s.withdrawFeedPost))
	s.handle("POST /v1/feed/posts/{id}/report", s.user(s.reportFeedPost))
	s.handle("GET /v1/ops/feed/reports", s.staffOnly(api.RoleOperator, s.opsFeedReports))
	s.handle("POST /v1/ops/feed/posts/{id}/remove", s.staffOnly(api.RoleOperator, s.opsRemoveFeedPost))

	// Redaction jobs (redactions.go): the owner asks, the camera's hub
	// redacts; the service keeps only sealed jobs and sealed results.
	s.handle("POST /v1/redactions", s.customer(s.createRedaction))
	s.handle("GET /v1/redactions/{id}", s.customer(s.redaction))
	s.handle("GET /v1/redactions/{id}/result", s.customer(s.redactionResult))
	s.handle("GET /v1/hub/redactions", s.hub(s.hubRedactions))
	s.handle("GET /v1/hub/objects/{id}", s.hub(s.hubObject))
	s.handle("PUT /v1/hub/redactions/{id}/result", s.hub(s.putRedactionResult))
	s.handle("POST /v1/hub/redactions/{id}/fail", s.hub(s.failRedaction))

	// Annotation campaigns (campaigns.go, annotate.go): owners donate and
	// withdraw; annotators see their organisation's campaigns only.
	s.handle("GET /v1/campaigns", s.customer(s.campaigns))
	s.handle("POST /v1/campaigns/{id}/donations", s.customer(s.donate))
	s.handle("GET /v1/consents", s.customer(s.consents))
	s.handle("POST /v1/consents/{id}/withdraw", s.customer(s.withdrawConsent))
	s.handle("GET /v1/annotate/campaigns", s.staffOnly(api.RoleAnnotator, s.annotateCampaigns))
	s.handle("GET /v1/annotate/campaigns/{id}/tasks", s.staffOnly(api.RoleAnnotator, s.annotateTasks))
	s.handle("GET /v1/annotate/tasks/{id}/media", s.staffOnly(api.RoleAnnotator, s.annotateMedia))
	s.handle("GET /v1/annotate/tasks/{id}/labels", s.staffOnly(api.RoleAnnotator, s.annotateLabels))
	s.handle("PUT /v1/annotate/tasks/{id}/labels", s.staffOnly(api.RoleAnnotator, s.putAnnotateLabels))
}

// handlerFunc is a handler that reports failure as an error; wrap turns it
// into an api.Error response and a log line.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) handle(pattern string, h handlerFunc) {
	s.routes = append(s.routes, pattern)
	s.mux.Handle(pattern, s.wrap(pattern, h))
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logKey carries attributes a handler adds to its request's log line.
type logKey struct{}

type logAttrs struct {
	attrs    []any
	caller   *caller // the signed-in caller, once authenticated
	memberOf string  // the household a member read from (cameraAccess)
}

func addLog(r *http.Request, args ...any) {
	if la, ok := r.Context().Value(logKey{}).(*logAttrs); ok {
		la.attrs = append(la.attrs, args...)
	}
}

func (s *Server) wrap(pattern string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		la := &logAttrs{}
		r = r.WithContext(context.WithValue(r.Context(), logKey{}, la))
		securityHeaders(w.Header())
		sw := &statusWriter{ResponseWriter: w}
		err := h(sw, r)
		attrs := []any{"method", r.Method, "route", pattern}
		if err != nil {
			status, body := s.errorBody(err)
			attrs = append(attrs, "status", status, "error_id", body.ID, "err", logText(err))
			if sw.status == 0 {
				var rl *rateLimited
				if errors.As(err, &rl) {
					sw.Header().Set("Retry-After", strconv.Itoa(int(rl.retry/time.Second)))
				}
				writeJSON(sw, status, body)
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			attrs = append(attrs, la.attrs...)
			attrs = append(attrs, "dur", time.Since(start).Round(time.Microsecond))
			s.Logger.Log(r.Context(), level, "request failed", attrs...)
			s.auditDenial(r, pattern, la.caller, status, body)
			return
		}
		if la.memberOf != "" {
			s.auditMemberAccess(r, pattern, la.caller, la.memberOf, sw.status)
		}
		if s.Logger.Enabled(r.Context(), slog.LevelDebug) {
			attrs = append(attrs, "status", sw.status, "bytes", sw.bytes)
			attrs = append(attrs, la.attrs...)
			attrs = append(attrs, "dur", time.Since(start).Round(time.Microsecond))
			s.Logger.DebugContext(r.Context(), "request", attrs...)
		}
	})
}

// logText is an error as the log shows it. A refused password's
// explanation may quote words of the password: the log says only that it
// was refused.
func logText(err error) string {
	if errors.Is(err, auth.ErrWeakPassword) {
		return auth.ErrWeakPassword.Error()
	}
	return err.Error()
}

// securityHeaders sets the headers every response carries: nothing is
// cached (responses depend on the credential), sniffed, framed or given a
// referrer.
func securityHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Authorization, Cookie")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "frame-ancestors 'none'")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":"internal","message":"internal error","id":""}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// decodeJSON reads a bounded JSON body strictly into v.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return errTooLarge(fmt.Sprintf("request body larger than %d bytes", limit))
		case errors.Is(err, io.EOF):
			return errInvalid("request body is empty: send a JSON object")
		}
		return errInvalidf(err, "malformed JSON body: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errInvalid("malformed JSON body: trailing data after the object")
	}
	return nil
}

// jsonProblem describes a decode error without echoing the body.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be %s", te.Field, te.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "not a valid JSON object"
}

var errIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newErrorID returns the id of one error response.
func newErrorID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return errIDEncoding.EncodeToString(b[:])
}

// pathID returns the path value name if it is a well-formed id.
func pathID(r *http.Request, name string) (string, error) {
	id := r.PathValue(name)
	if !seal.ValidID(id) {
		return "", errInvalid("malformed " + name + " in path")
	}
	return id, nil
}

// keyedMutex serialises work on one key (an object id): the check, blob
// write and row insert of an upload happen as one step per id.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		return &httpError{status: http.StatusServiceUnavailable, code: "unavailable", msg: "the store does not answer", cause: err}
	}
	if s.Audit != nil {
		if _, err := s.Audit.Size(ctx); err != nil {
			return &httpError{status: http.StatusServiceUnavailable, code: "unavailable", msg: "the audit log does not answer: support grants are refused until it does", cause: err}
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
