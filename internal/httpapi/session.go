package httpapi

// Sessions: who the caller is (bearer token or session cookie), how a
// session starts (signIn), how recent its last full sign-in is (recent),
// and the rate limits of every step that checks a secret (limited,
// failed).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auditlog"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// touchEvery limits last-used writes to one per session (or hub) per minute.
const touchEvery = time.Minute

// caller is an authenticated account on a user route.
type caller struct {
	session   store.Session
	household string // the household the account owns; "" for staff
	account   string
	role      string // api.RoleOwner for customers, else the staff role (api.RoleSupport …)
	cookie    bool   // authenticated by the session cookie, not a bearer token
}

// isStaff reports whether the caller is a staff account.
func (c *caller) isStaff() bool { return c.role != api.RoleOwner }

// apiRole is the API role of an account kind.
func apiRole(storeRole string) string {
	if storeRole == store.RoleCustomer {
		return api.RoleOwner
	}
	return storeRole
}

// bearer returns the bearer token of r, or "".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// user authenticates any signed-in account (customer or staff) by bearer
// token or, without an Authorization header, by the session cookie; then
// runs h.
func (s *Server) user(h func(http.ResponseWriter, *http.Request, *caller) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := s.authenticate(w, r)
		if err != nil {
			return err
		}
		addLog(r, "account", c.account)
		if la, ok := r.Context().Value(logKey{}).(*logAttrs); ok {
			la.caller = c
		}
		return h(w, r, c)
	}
}

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*caller, error) {
	unauthorized := func(msg string) error {
		w.Header().Set("WWW-Authenticate", `Bearer realm="porchlight"`)
		return errUnauthorized(msg)
	}
	tok, cookie := bearer(r), false
	if r.Header.Get("Authorization") == "" {
		if ck, err := r.Cookie(api.SessionCookie); err == nil {
			tok, cookie = ck.Value, true
		}
	}
	if cookie && !s.sameOrigin(r) {
		return nil, errForbidden("a request signed in by cookie must come from " + s.origin(r) + " (Origin header)")
	}
	if !auth.ValidToken(tok, auth.SessionPrefix) {
		return nil, unauthorized("sign in first: this needs a session")
	}
	hash := auth.HashToken(tok)
	se, err := s.Store.SessionByTokenHash(r.Context(), hash)
	se.TokenHash = hash
	if errors.Is(err, store.ErrNotFound) {
		return nil, unauthorized("session ended or unknown: sign in again")
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	now := s.Now()
	if !auth.SessionAlive(se.LastUsed, se.Expires, now, s.SessionIdle) {
		if err := s.Store.DeleteSession(r.Context(), se.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.Logger.WarnContext(r.Context(), "delete expired session", "session", se.ID, "err", err)
		}
		s.EndSessions([]string{se.ID})
		return nil, unauthorized("session expired: sign in again")
	}
	if now.Sub(se.LastUsed) > touchEvery {
		if err := s.Store.TouchSession(r.Context(), se.ID, now); err != nil {
			s.Logger.WarnContext(r.Context(), "touch session", "err", err)
		}
	}
	return &caller{session: se, household: se.HouseholdID, account: se.AccountID, role: apiRole(se.Role), cookie: cookie}, nil
}

// origin is the service's public origin: PublicOrigin, or the request's
// own scheme and host.
func (s *Server) origin(r *http.Request) string {
	if s.PublicOrigin != "" {
		return strings.TrimSuffix(s.PublicOrigin, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// sameOrigin reports whether r carries an Origin header equal to the
// service's origin (scheme and host compared without regard to case), or,
// without an Origin header, "Sec-Fetch-Site: same-origin": browsers send no
// Origin on their own same-origin GET and HEAD requests (Fetch standard),
// but every current one sends Sec-Fetch-Site, which pages cannot set.
func (s *Server) sameOrigin(r *http.Request) bool {
	got := r.Header.Values("Origin")
	if len(got) == 0 && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		site := r.Header.Values("Sec-Fetch-Site")
		return len(site) == 1 && site[0] == "same-origin"
	}
	if len(got) != 1 {
		return false
	}
	return normOrigin(got[0]) != "" && normOrigin(got[0]) == normOrigin(s.origin(r))
}

func normOrigin(o string) string {
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

var errReauth = &httpError{http.StatusForbidden, api.CodeReauthRequired,
	"this needs a recent sign-in: confirm it is you at POST /v1/reauth, then retry", nil}

// recent returns nil if the caller's session fully signed in within
// api.ReauthWindow, else a 403 reauth_required.
func (s *Server) recent(c *caller) error {
	if c.session.AuthAt.IsZero() || s.Now().Sub(c.session.AuthAt) > api.ReauthWindow {
		return errReauth
	}
	return nil
}

// signInInfo is what a completed sign-in knows about the device.
type signInInfo struct {
	Method      string // api.Method* or "password"
	DeviceName  string
	DeviceID    string // the device's roster key id, "" if none
	DeviceToken string // the pld_ token the device presented, if any
	Cookie      bool   // set the session as a cookie instead of returning the token
}

// methodPassword names a sign-in by password alone in notifications.
const methodPassword = "password"

var (
	errDisabled = &httpError{http.StatusForbidden, api.CodeDisabled,
		"this account is disabled: contact the service's operator", nil}
	errStaffFactor = &httpError{http.StatusForbidden, api.CodeFactorRequired,
		"staff accounts must have a second factor: ask the operator to enrol an authenticator (porchlightd admin)", nil}
)

// signIn creates a session for a, which has just proven itself (AuthAt
// now), records or issues the device's known-device token, stores a
// NoticeNewSignIn if the device is new, sets the cookie if asked, forgets
// the account's failed attempts (unless it is blocked: an attack goes on
// whatever the owner does) and returns the response for the caller to
// write. It refuses disabled accounts and staff without a factor.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, a store.Account, in signInInfo) (*api.SessionResponse, error) {
	return s.openSession(w, r, a, in, true)
}

// openSession is signIn; notify false skips the new-device notice (the
// very first session, at signup).
func (s *Server) openSession(w http.ResponseWriter, r *http.Request, a store.Account, in signInInfo, notify bool) (*api.SessionResponse, error) {
	ctx := r.Context()
	if a.Disabled {
		return nil, errDisabled
	}
	if a.Role != store.RoleCustomer {
		f, err := s.factorsOf(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		if !f.any() {
			return nil, errStaffFactor
		}
	}
	household := ""
	if a.Role == store.RoleCustomer {
		h, err := s.Store.HouseholdOf(ctx, a.ID)
		if err != nil {
			return nil, fmt.Errorf("load household: %w", err)
		}
		household = h.ID
	}
	now := s.Now().UTC()
	addr := auth.ClientAddr(r, s.TrustedProxies)
	tok, hash := auth.NewToken(auth.SessionPrefix)
	se := store.Session{
		ID: seal.NewID(), TokenHash: hash, AccountID: a.ID, DeviceName: deviceName(in.DeviceName), DeviceID: in.DeviceID,
		Client: auth.CleanClient(r.UserAgent()), AddrPrefix: auth.AddrPrefix(addr),
		Created: now, LastUsed: now, AuthAt: now, AuthFactor: in.Method != methodPassword, Expires: now.Add(s.SessionAbsolute),
	}
	if err := s.Store.CreateSession(ctx, se); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	addLog(r, "session", se.ID)
	s.recordAsync(ctx, household, api.AuditAuth, auditlog.Body{
		Actor:  auditlog.Actor{Kind: api.ActorOwner, Account: a.ID, Device: se.DeviceID, Addr: se.AddrPrefix},
		Action: "login", Resource: "session:" + se.ID, Decision: "allowed", Detail: strings.TrimSpace(in.Method + " " + se.DeviceName + " " + se.Client),
	})

	devTok, known, err := s.knownDevice(ctx, a.ID, in.DeviceToken)
	if err != nil {
		return nil, err
	}
	if known {
		if err := s.Store.TouchKnownDevice(ctx, auth.HashToken(devTok), now); err != nil {
			s.Logger.WarnContext(ctx, "touch known device", "err", err)
		}
		s.resetThrottle(ctx, auth.DeviceKey(auth.HashToken(devTok)))
	} else {
		var devHash string
		devTok, devHash = auth.NewToken(auth.DevicePrefix)
		if err := s.Store.PutKnownDevice(ctx, store.KnownDevice{TokenHash: devHash, AccountID: a.ID, Name: se.DeviceName, Created: now, LastUsed: now}); err != nil {
			return nil, fmt.Errorf("store known device: %w", err)
		}
		if notify {
			s.notify(ctx, a.ID, api.NoticeNewSignIn, noticeData{
				DeviceName: se.DeviceName, Client: se.Client, AddrPrefix: se.AddrPrefix, Method: in.Method,
			})
		}
	}
	s.resetThrottle(ctx, auth.AccountKey(a.Email))

	resp := &api.SessionResponse{
		Token: tok, SessionID: se.ID, AccountID: a.ID, HouseholdID: household, Role: apiRole(a.Role),
		ExpiresAt: se.Expires, DeviceToken: devTok,
	}
	if in.Cookie {
		s.setSessionCookie(w, tok, se.Expires.Sub(now))
		resp.Token = ""
	}
	return resp, nil
}

// knownDevice reports whether token is a known-device token of account;
// it returns the token if so.
func (s *Server) knownDevice(ctx context.Context, account, token string) (string, bool, error) {
	if !auth.ValidToken(token, auth.DevicePrefix) {
		return "", false, nil
	}
	kd, err := s.Store.KnownDevice(ctx, auth.HashToken(token))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("load known device: %w", err)
	case kd.AccountID != account:
		return "", false, nil
	}
	return token, true, nil
}

// setSessionCookie sets the session cookie for maxAge (at least a second).
func (s *Server) setSessionCookie(w http.ResponseWriter, token string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: api.SessionCookie, Value: token, Path: "/", MaxAge: max(int(maxAge/time.Second), 1),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
	})
}

// clearSessionCookie tells the browser to forget the session cookie.
func clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: api.SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
	})
}

// deviceName cleans a client-supplied device name.
func deviceName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if r := []rune(s); len(r) > 64 {
		s = string(r[:64])
	}
	if s == "" {
		s = "device"
	}
	return s
}

// factors is what an account can prove besides its password.
type factors struct {
	totp          bool // a confirmed authenticator
	passkeys      int
	recoveryCodes int // unused recovery codes
}

// any reports whether the account has a second factor (recovery codes
// alone are none: they stand in for one).
func (f factors) any() bool { return f.totp || f.passkeys > 0 }

func (s *Server) factorsOf(ctx context.Context, account string) (factors, error) {
	var f factors
	t, err := s.Store.TOTP(ctx, account)
	switch {
	case err == nil:
		f.totp = t.Confirmed
	case !errors.Is(err, store.ErrNotFound):
		return f, fmt.Errorf("load authenticator: %w", err)
	}
	keys, err := s.Store.Passkeys(ctx, account)
	if err != nil {
		return f, fmt.Errorf("load passkeys: %w", err)
	}
	f.passkeys = len(keys)
	if f.recoveryCodes, err = s.Store.RecoveryCodesLeft(ctx, account); err != nil {
		return f, fmt.Errorf("count recovery codes: %w", err)
	}
	return f, nil
}

// factorChanged closes the streams of the sessions a factor change ended
// and tells the account's devices (NoticeFactorChange with detail).
func (s *Server) factorChanged(ctx context.Context, c *caller, ended []string, detail string) {
	s.EndSessions(ended)
	s.notify(ctx, c.account, api.NoticeFactorChange, noticeData{
		DeviceName: c.session.DeviceName, Client: c.session.Client, AddrPrefix: c.session.AddrPrefix, Detail: detail,
	})
}

// noticeData is the stored JSON of a notification (store.Notification.Data):
// the fields of api.Notification that describe the event.
type noticeData struct {
	DeviceName string `json:"device_name,omitempty"`
	Client     string `json:"client,omitempty"`
	AddrPrefix string `json:"address_prefix,omitempty"`
	Method     string `json:"method,omitempty"`
	Detail     string `json:"detail,omitempty"`
	// Camera events (api.NoticeCameraEvent).
	CameraID string    `json:"camera_id,omitempty"`
	ObjectID string    `json:"object_id,omitempty"`
	At       time.Time `json:"at,omitzero"`
}

// notify stores a notification for an account's devices and wakes its
// open event streams. A failure is logged, not returned: the change it
// reports has happened.
func (s *Server) notify(ctx context.Context, account, kind string, d noticeData) {
	b, err := json.Marshal(d)
	if err == nil {
		_, err = s.Store.AddNotification(context.WithoutCancel(ctx), store.Notification{AccountID: account, Kind: kind, Data: b, Created: s.Now().UTC()})
	}
	if err != nil {
		s.Logger.ErrorContext(ctx, "store notification", "account", account, "kind", kind, "err", err)
	} else {
		s.streams.wake(account)
	}
	if auditedNotices[kind] {
		s.recordAccount(ctx, account, api.AuditAuth, auditlog.Body{
			Actor:  auditlog.Actor{Kind: api.ActorOwner, Account: account, Addr: d.AddrPrefix},
			Action: kind, Decision: "done", Detail: strings.TrimSpace(d.DeviceName + " " + d.Client + " " + d.Method + " " + d.Detail),
		})
	}
}

// --- rate limits ---

// rateLimited is the error of a blocked attempt: 429 with Retry-After.
type rateLimited struct{ retry time.Duration }

func (e *rateLimited) Error() string { return fmt.Sprintf("rate limited for %s", e.retry) }

// limits returns the rate-limit policy in force.
func (s *Server) limits() auth.Limits { return s.Limits.WithDefaults() }

// limited returns a 429 error if any of the keys is blocked now (the
// longest wait wins). It reads the store only: call it before any
// password hashing.
func (s *Server) limited(ctx context.Context, keys ...string) error {
	l, now := s.limits(), s.Now()
	var wait time.Duration
	for _, k := range keys {
		t, err := s.Store.Throttle(ctx, k)
		if err != nil {
			return fmt.Errorf("read throttle: %w", err)
		}
		if d, blocked := l.Check(t, now); blocked {
			wait = max(wait, d)
		}
	}
	if wait > 0 {
		return &rateLimited{retry: wait}
	}
	return nil
}

// failed counts one failure for key with its limit. A store failure is
// logged: the attempt has failed either way.
func (s *Server) failed(ctx context.Context, key string, limit int) {
	if _, err := s.Store.UpdateThrottle(context.WithoutCancel(ctx), key, s.limits().Failure(limit, s.Now())); err != nil {
		s.Logger.ErrorContext(ctx, "count failed attempt", "err", err)
	}
}

// resetThrottle forgets a key's failures unless it is blocked now.
func (s *Server) resetThrottle(ctx context.Context, key string) {
	t, err := s.Store.Throttle(ctx, key)
	if err == nil {
		if _, blocked := s.limits().Check(t, s.Now()); blocked || t.Failures == 0 {
			return
		}
		err = s.Store.ResetThrottle(ctx, key)
	}
	if err != nil {
		s.Logger.WarnContext(ctx, "reset throttle", "err", err)
	}
}

// lockKeys serialises, within this replica, the attempts that touch any of
// keys, so that check → verify → count cannot be raced past a limit. Keys
// are locked in sorted order (no deadlock).
func (s *Server) lockKeys(keys ...string) (unlock func()) {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	unlocks := make([]func(), 0, len(keys))
	for _, k := range keys {
		unlocks = append(unlocks, s.throttleLocks.lock(k))
	}
	return func() {
		for i := len(unlocks) - 1; i >= 0; i-- {
			unlocks[i]()
		}
	}
}

// hub authenticates a hub token before h.
func (s *Server) hub(h func(http.ResponseWriter, *http.Request, *store.Hub) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		tok := bearer(r)
		if !auth.ValidToken(tok, auth.HubPrefix) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="porchlight-hub"`)
			return errUnauthorized("this needs a hub token: claim the hub first")
		}
		hb, err := s.Store.HubByTokenHash(r.Context(), auth.HashToken(tok))
		if errors.Is(err, store.ErrNotFound) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="porchlight-hub"`)
			return errUnauthorized("unknown hub token: claim the hub again")
		}
		if err != nil {
			return err
		}
		if now := s.Now(); now.Sub(hb.LastSeen) > touchEvery {
			if err := s.Store.TouchHub(r.Context(), hb.ID, now); err != nil {
				s.Logger.WarnContext(r.Context(), "touch hub", "err", err)
			}
		}
		addLog(r, "hub", hb.ID)
		return h(w, r, &hb)
	}
}
