package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// touchEvery limits last-used writes to one per session (or hub) per minute.
const touchEvery = time.Minute

// caller is an authenticated user.
type caller struct {
	session   store.Session
	household string
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

// user authenticates a user session before h.
func (s *Server) user(h func(http.ResponseWriter, *http.Request, *caller) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		tok := bearer(r)
		if !auth.ValidToken(tok, auth.SessionPrefix) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="porchlight"`)
			return errUnauthorized("log in first: this needs a user session token")
		}
		se, err := s.Store.SessionByTokenHash(r.Context(), auth.HashToken(tok))
		if errors.Is(err, store.ErrNotFound) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="porchlight"`)
			return errUnauthorized("session ended or unknown: log in again")
		}
		if err != nil {
			return err
		}
		now := s.Now()
		if !auth.SessionAlive(se.LastUsed, se.Expires, now, s.SessionIdle) {
			_ = s.Store.DeleteSession(r.Context(), se.ID)
			w.Header().Set("WWW-Authenticate", `Bearer realm="porchlight"`)
			return errUnauthorized("session expired: log in again")
		}
		if now.Sub(se.LastUsed) > touchEvery {
			if err := s.Store.TouchSession(r.Context(), se.ID, now); err != nil {
				s.Logger.WarnContext(r.Context(), "touch session", "err", err)
			}
		}
		addLog(r, "account", se.AccountID)
		return h(w, r, &caller{session: se, household: se.HouseholdID})
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

func (s *Server) newSession(ctx context.Context, accountID, household, device string) (*api.SessionResponse, error) {
	now := s.Now().UTC()
	tok, hash := auth.NewSessionToken()
	se := store.Session{
		ID: seal.NewID(), TokenHash: hash, AccountID: accountID, DeviceName: deviceName(device),
		Created: now, LastUsed: now, Expires: now.Add(s.SessionAbsolute),
	}
	if err := s.Store.CreateSession(ctx, se); err != nil {
		return nil, err
	}
	return &api.SessionResponse{Token: tok, AccountID: accountID, HouseholdID: household, ExpiresAt: se.Expires}, nil
}

func (s *Server) signup(w http.ResponseWriter, r *http.Request) error {
	var in api.SignupRequest
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	email, err := auth.NormalizeEmail(in.Email)
	if err != nil {
		return err
	}
	if err := auth.CheckPassword(in.Password, email); err != nil {
		return err
	}
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return err
	}
	now := s.Now().UTC()
	a := store.Account{ID: seal.NewID(), Email: email, PasswordHash: hash, Created: now}
	h := store.Household{ID: seal.NewID(), Owner: a.ID, Created: now}
	if err := s.Store.CreateAccount(r.Context(), a, h); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return errConflict("an account with this e-mail address exists: log in instead")
		}
		return err
	}
	addLog(r, "account", a.ID)
	resp, err := s.newSession(r.Context(), a.ID, h.ID, in.DeviceName)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

var errBadLogin = &httpError{status: http.StatusUnauthorized, code: "unauthorized", msg: "e-mail address or password is wrong"}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var in api.LoginRequest
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	email, err := auth.NormalizeEmail(in.Email)
	if err != nil {
		auth.VerifyDummy(in.Password)
		return errBadLogin
	}
	a, err := s.Store.AccountByEmail(r.Context(), email)
	if errors.Is(err, store.ErrNotFound) {
		auth.VerifyDummy(in.Password)
		return errBadLogin
	}
	if err != nil {
		return err
	}
	ok, err := auth.VerifyPassword(a.PasswordHash, in.Password)
	if err != nil {
		return err // a malformed stored hash: 500, logged
	}
	if !ok {
		addLog(r, "account", a.ID)
		return errBadLogin
	}
	if auth.NeedsRehash(a.PasswordHash) {
		if h, err := auth.HashPassword(in.Password); err == nil {
			if err := s.Store.SetPasswordHash(r.Context(), a.ID, h); err != nil {
				s.Logger.WarnContext(r.Context(), "rehash password", "account", a.ID, "err", err)
			}
		}
	}
	h, err := s.Store.HouseholdOf(r.Context(), a.ID)
	if err != nil {
		return err
	}
	addLog(r, "account", a.ID)
	resp, err := s.newSession(r.Context(), a.ID, h.ID, in.DeviceName)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := s.Store.DeleteSession(r.Context(), c.session.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return noContent(w)
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, c *caller) error {
	a, err := s.Store.Account(r.Context(), c.session.AccountID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.Me{AccountID: a.ID, Email: a.Email, HouseholdID: c.household, Role: seal.RoleOwner})
	return nil
}
