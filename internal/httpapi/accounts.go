package httpapi

// Accounts: signup, the password step of a sign-in, the second-factor step
// (TOTP, recovery code or passkey), re-authentication, logout, and the
// account's own settings (e-mail, password).
//
// Rate limits (see auth.Limits): a sign-in is judged by its account key
// (by e-mail, whether or not an account exists) and its address key, or,
// when it presents a known-device token of that account, by the device
// key alone; blocked keys are refused before any password is hashed.
// Within this replica, attempts on one key are serialised, so a burst
// cannot race past a limit.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// Ceremony kinds of the second-factor step.
const (
	ceremonyMFA    = "mfa"    // a sign-in waiting for its second factor
	ceremonyReauth = "reauth" // a re-authentication of a session waiting for its second factor
)

// mfaTTL is how long a second-factor challenge stays valid.
const mfaTTL = 5 * time.Minute

// mfaAttempts is how many wrong answers end a challenge.
const mfaAttempts = 5

var (
	errBadLogin = &httpError{http.StatusUnauthorized, "unauthorized", "e-mail address or password is wrong", nil}
	errMFAGone  = &httpError{http.StatusUnauthorized, "unauthorized", "this sign-in step expired or was already used: sign in again", nil}
	errMFAWrong = &httpError{http.StatusUnauthorized, "unauthorized", "that is not right: check the code (and your device's clock) and try again", nil}
	errMFADead  = &httpError{http.StatusUnauthorized, "unauthorized", "too many wrong answers: sign in again", nil}
)

// throttleKey is a rate-limit key with its limit.
type throttleKey struct {
	Key   string `json:"key"`
	Limit int    `json:"limit"`
}

func keyNames(keys []throttleKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.Key
	}
	return out
}

// mfaData is the Data of an mfa or reauth ceremony.
type mfaData struct {
	Methods    []string      `json:"methods"`
	Keys       []throttleKey `json:"keys"`              // counted on a wrong answer
	Passkey    []byte        `json:"passkey,omitempty"` // WebAuthn session data of the passkey method
	DeviceName string        `json:"device_name,omitempty"`
	DeviceID   string        `json:"device_id,omitempty"`
	Cookie     bool          `json:"cookie,omitempty"`
}

func (s *Server) signup(w http.ResponseWriter, r *http.Request) error {
	var in api.SignupRequest
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	if err := checkDeviceID(in.DeviceID); err != nil {
		return err
	}
	ctx := r.Context()
	// Refused signups (a taken e-mail, a weak password) count per address,
	// so the e-mail check cannot be used to list accounts.
	key := "signup:" + auth.AddressKey(auth.ClientAddr(r, s.TrustedProxies))
	unlock := s.lockKeys(key)
	defer unlock()
	if err := s.limited(ctx, key); err != nil {
		return err
	}
	a, _, err := s.newCustomer(ctx, in)
	if err != nil {
		s.failed(ctx, key, s.limits().AddressFailures)
		return err
	}
	addLog(r, "account", a.ID)
	resp, err := s.openSession(w, r, a, signInInfo{Method: methodPassword, DeviceName: in.DeviceName, DeviceID: in.DeviceID, Cookie: in.Cookie}, false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

// newCustomer creates a customer account and its household.
func (s *Server) newCustomer(ctx context.Context, in api.SignupRequest) (store.Account, store.Household, error) {
	email, err := auth.NormalizeEmail(in.Email)
	if err != nil {
		return store.Account{}, store.Household{}, err
	}
	if err := auth.CheckPassword(in.Password, email); err != nil {
		return store.Account{}, store.Household{}, err
	}
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return store.Account{}, store.Household{}, fmt.Errorf("hash password: %w", err)
	}
	now := s.Now().UTC()
	a := store.Account{ID: seal.NewID(), Email: email, PasswordHash: hash, Role: store.RoleCustomer, Created: now}
	h := store.Household{ID: seal.NewID(), Owner: a.ID, Created: now}
	if err := s.Store.CreateAccount(ctx, a, h); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return a, h, errConflict("an account with this e-mail address exists: sign in instead")
		}
		return a, h, fmt.Errorf("create account: %w", err)
	}
	return a, h, nil
}

// login is the password step. It answers a session, or a second-factor
// challenge when the account has a factor: a password alone never yields a
// session then.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var in api.LoginRequest
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	if err := checkDeviceID(in.DeviceID); err != nil {
		return err
	}
	ctx := r.Context()
	l := s.limits()
	email, emailErr := auth.NormalizeEmail(in.Email)
	if emailErr != nil {
		email = strings.ToLower(strings.TrimSpace(in.Email))
	}
	var a store.Account
	found := false
	if emailErr == nil {
		var err error
		a, err = s.Store.AccountByEmail(ctx, email)
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("load account: %w", err)
		}
	}
	keys := []throttleKey{
		{auth.AccountKey(email), l.AccountFailures},
		{auth.AddressKey(auth.ClientAddr(r, s.TrustedProxies)), l.AddressFailures},
	}
	if found {
		tok, known, err := s.knownDevice(ctx, a.ID, in.DeviceToken)
		if err != nil {
			return err
		}
		if known {
			keys = []throttleKey{{auth.DeviceKey(auth.HashToken(tok)), l.DeviceFailures}}
			addLog(r, "known_device", true)
		}
	}
	unlock := s.lockKeys(keyNames(keys)...)
	defer unlock()
	if err := s.limited(ctx, keyNames(keys)...); err != nil {
		return err
	}
	fail := func() error {
		for _, k := range keys {
			s.failed(ctx, k.Key, k.Limit)
		}
		if found {
			s.recordLoginFailure(r, a.ID, "wrong password")
		}
		return errBadLogin
	}
	if !found {
		auth.VerifyDummy(in.Password)
		return fail()
	}
	addLog(r, "account", a.ID)
	ok, err := auth.VerifyPassword(a.PasswordHash, in.Password)
	if err != nil {
		return fmt.Errorf("verify password: %w", err) // a malformed stored hash: 500, logged
	}
	if !ok {
		return fail()
	}
	if auth.NeedsRehash(a.PasswordHash) {
		if h, err := auth.HashPassword(in.Password); err == nil {
			if err := s.Store.SetPasswordHash(ctx, a.ID, h); err != nil {
				s.Logger.WarnContext(ctx, "rehash password", "account", a.ID, "err", err)
			}
		}
	}
	if a.Disabled {
		return errDisabled
	}
	f, err := s.factorsOf(ctx, a.ID)
	if err != nil {
		return err
	}
	if f.any() {
		ch, err := s.challenge(ctx, a, ceremonyMFA, "", f, mfaData{Keys: keys, DeviceName: in.DeviceName, DeviceID: in.DeviceID, Cookie: in.Cookie}, false)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, api.LoginResponse{MFA: ch})
		return nil
	}
	resp, err := s.signIn(w, r, a, signInInfo{Method: methodPassword, DeviceName: in.DeviceName, DeviceID: in.DeviceID, DeviceToken: in.DeviceToken, Cookie: in.Cookie})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.LoginResponse{Session: resp})
	return nil
}

// challenge stores a second-factor ceremony and returns its challenge.
// passkeyOnly offers the passkey alone (a re-authentication without a
// password).
func (s *Server) challenge(ctx context.Context, a store.Account, kind, session string, f factors, d mfaData, passkeyOnly bool) (*api.MFAChallenge, error) {
	if !passkeyOnly {
		if f.totp {
			d.Methods = append(d.Methods, api.MethodTOTP)
		}
		if f.recoveryCodes > 0 {
			d.Methods = append(d.Methods, api.MethodRecovery)
		}
	}
	var opts json.RawMessage
	if f.passkeys > 0 {
		var err error
		if opts, d.Passkey, err = s.passkeyRequest(ctx, a); err != nil {
			return nil, err
		}
		if opts != nil {
			d.Methods = append(d.Methods, api.MethodPasskey)
		}
	}
	if len(d.Methods) == 0 {
		return nil, errInvalid("this account has no way to confirm it is you here")
	}
	data, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode challenge: %w", err)
	}
	tok, hash := auth.NewToken(auth.MFAPrefix)
	exp := s.Now().UTC().Add(mfaTTL)
	if err := s.Store.PutCeremony(ctx, store.Ceremony{ID: hash, Kind: kind, AccountID: a.ID, SessionID: session, Data: data, Expires: exp}); err != nil {
		return nil, fmt.Errorf("store challenge: %w", err)
	}
	return &api.MFAChallenge{Token: tok, Methods: d.Methods, Passkey: opts, Expires: exp}, nil
}

// loginMFA is POST /v1/login/mfa: the answer to a challenge of login or
// reauth. Wrong answers count toward the sign-in's rate-limit keys;
// mfaAttempts of them end the challenge.
func (s *Server) loginMFA(w http.ResponseWriter, r *http.Request) error {
	var in api.MFAAnswer
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	if err := checkDeviceID(in.DeviceID); err != nil {
		return err
	}
	ctx := r.Context()
	if !auth.ValidToken(in.Token, auth.MFAPrefix) {
		return errMFAGone
	}
	cer, err := s.Store.Ceremony(ctx, auth.HashToken(in.Token))
	if errors.Is(err, store.ErrNotFound) {
		return errMFAGone
	}
	if err != nil {
		return fmt.Errorf("load challenge: %w", err)
	}
	if cer.Kind != ceremonyMFA && cer.Kind != ceremonyReauth {
		return errMFAGone
	}
	if !s.Now().Before(cer.Expires) || cer.Attempts >= mfaAttempts {
		_ = s.Store.DeleteCeremony(ctx, cer.ID)
		return errMFAGone
	}
	var d mfaData
	if err := json.Unmarshal(cer.Data, &d); err != nil {
		return fmt.Errorf("decode challenge: %w", err)
	}
	a, err := s.Store.Account(ctx, cer.AccountID)
	if err != nil {
		return fmt.Errorf("load account: %w", err)
	}
	addLog(r, "account", a.ID)
	unlock := s.lockKeys(keyNames(d.Keys)...)
	defer unlock()
	if err := s.limited(ctx, keyNames(d.Keys)...); err != nil {
		return err
	}
	method, wrong, err := s.checkAnswer(ctx, a, d, in)
	if err != nil {
		return err
	}
	if wrong != nil {
		for _, k := range d.Keys {
			s.failed(ctx, k.Key, k.Limit)
		}
		s.recordLoginFailure(r, a.ID, "wrong second factor")
		n, err := s.Store.CeremonyFailed(ctx, cer.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("count wrong answer: %w", err)
		}
		if err != nil || n >= mfaAttempts {
			_ = s.Store.DeleteCeremony(ctx, cer.ID)
			return errMFADead
		}
		return wrong
	}
	if err := s.Store.DeleteCeremony(ctx, cer.ID); errors.Is(err, store.ErrNotFound) {
		return errMFAGone // a concurrent answer used it
	} else if err != nil {
		return fmt.Errorf("consume challenge: %w", err)
	}
	addLog(r, "method", method)

	var resp *api.SessionResponse
	if cer.Kind == ceremonyReauth {
		resp, err = s.rotate(w, r, cer.SessionID, d.Cookie, true)
	} else {
		name, device := in.DeviceName, in.DeviceID
		if name == "" {
			name = d.DeviceName
		}
		if device == "" {
			device = d.DeviceID
		}
		resp, err = s.signIn(w, r, a, signInInfo{Method: method, DeviceName: name, DeviceID: device, DeviceToken: in.DeviceToken, Cookie: in.Cookie || d.Cookie})
	}
	if err != nil {
		return err
	}
	if method == api.MethodRecovery {
		// A recovery code means a lost factor, maybe a stolen device:
		// every other session ends.
		ended, err := s.Store.DeleteSessions(ctx, a.ID, resp.SessionID)
		if err != nil {
			return fmt.Errorf("end other sessions: %w", err)
		}
		s.EndSessions(ended)
		s.notify(ctx, a.ID, api.NoticeRecoveryUsed, noticeData{
			DeviceName: deviceName(in.DeviceName), Client: auth.CleanClient(r.UserAgent()),
			AddrPrefix: auth.AddrPrefix(auth.ClientAddr(r, s.TrustedProxies)), Method: api.MethodRecovery,
			Detail: fmt.Sprintf("every other session was ended (%d)", len(ended)),
		})
		left, err := s.Store.RecoveryCodesLeft(ctx, a.ID)
		if err != nil {
			return fmt.Errorf("count recovery codes: %w", err)
		}
		resp.RecoveryCodesLeft = &left
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// checkAnswer checks one answer. wrong is the error to answer for a wrong
// one (err is for failures of the service).
func (s *Server) checkAnswer(ctx context.Context, a store.Account, d mfaData, in api.MFAAnswer) (method string, wrong, err error) {
	n := 0
	for _, set := range []bool{in.Code != "", in.RecoveryCode != "", len(in.Passkey) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return "", nil, errInvalid("answer with exactly one of code, recovery_code or passkey")
	}
	switch {
	case in.Code != "":
		method = api.MethodTOTP
	case in.RecoveryCode != "":
		method = api.MethodRecovery
	default:
		method = api.MethodPasskey
	}
	if !slices.Contains(d.Methods, method) {
		return "", nil, errInvalid("this sign-in does not accept " + method + "; use one of: " + strings.Join(d.Methods, ", "))
	}
	switch method {
	case api.MethodTOTP:
		t, err := s.Store.TOTP(ctx, a.ID)
		if errors.Is(err, store.ErrNotFound) || err == nil && !t.Confirmed {
			return method, errMFAWrong, nil
		}
		if err != nil {
			return "", nil, fmt.Errorf("load authenticator: %w", err)
		}
		step, ok := auth.VerifyTOTP(t.Secret, in.Code, s.Now(), t.LastStep)
		if !ok {
			return method, errMFAWrong, nil
		}
		if err := s.Store.UseTOTPStep(ctx, a.ID, step); errors.Is(err, store.ErrConflict) {
			return method, errMFAWrong, nil // the code was used already
		} else if err != nil {
			return "", nil, fmt.Errorf("record authenticator step: %w", err)
		}
	case api.MethodRecovery:
		h, ok := auth.HashRecoveryCode(a.ID, in.RecoveryCode)
		if !ok {
			return method, errMFAWrong, nil
		}
		if err := s.Store.UseRecoveryCode(ctx, a.ID, h, s.Now().UTC()); errors.Is(err, store.ErrNotFound) {
			return method, errMFAWrong, nil
		} else if err != nil {
			return "", nil, fmt.Errorf("use recovery code: %w", err)
		}
	case api.MethodPasskey:
		err := s.passkeyVerify(ctx, a, d.Passkey, in.Passkey)
		var he *httpError
		if errors.As(err, &he) && he.status == http.StatusUnauthorized {
			return method, err, nil
		}
		if err != nil {
			return "", nil, err
		}
	}
	return method, nil, nil
}

// rotate gives a re-authenticated session a new token and AuthAt now; the
// old token stops working at once and the streams opened with it close.
func (s *Server) rotate(w http.ResponseWriter, r *http.Request, sessionID string, cookie, factor bool) (*api.SessionResponse, error) {
	ctx := r.Context()
	se, err := s.Store.SessionByID(ctx, sessionID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthorized("session ended: sign in again")
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	tok, hash := auth.NewToken(auth.SessionPrefix)
	now := s.Now().UTC()
	if err := s.Store.RotateSession(ctx, se.ID, hash, now, factor); errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthorized("session ended: sign in again")
	} else if err != nil {
		return nil, fmt.Errorf("rotate session: %w", err)
	}
	s.EndSessions([]string{se.ID})
	resp := &api.SessionResponse{Token: tok, SessionID: se.ID, AccountID: se.AccountID, HouseholdID: se.HouseholdID, Role: apiRole(se.Role), ExpiresAt: se.Expires}
	if cookie {
		s.setSessionCookie(w, tok, se.Expires.Sub(now))
		resp.Token = ""
	}
	return resp, nil
}

// reauth is POST /v1/reauth: the caller proves it is still them (password,
// then the second factor if any; or a passkey alone) and gets a new token
// with AuthAt now. Wrong passwords count on a per-session key: a stolen
// session cannot lock the owner's account.
func (s *Server) reauth(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in api.ReauthRequest
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	ctx := r.Context()
	a, err := s.Store.Account(ctx, c.account)
	if err != nil {
		return fmt.Errorf("load account: %w", err)
	}
	keys := []throttleKey{{"sess:" + c.session.ID, s.limits().AccountFailures}}
	unlock := s.lockKeys(keyNames(keys)...)
	defer unlock()
	if err := s.limited(ctx, keyNames(keys)...); err != nil {
		return err
	}
	f, err := s.factorsOf(ctx, a.ID)
	if err != nil {
		return err
	}
	d := mfaData{Keys: keys, Cookie: c.cookie}
	if in.Password == "" {
		if f.passkeys == 0 {
			return errInvalid("enter your password")
		}
		ch, err := s.challenge(ctx, a, ceremonyReauth, c.session.ID, f, d, true)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, api.LoginResponse{MFA: ch})
		return nil
	}
	ok, err := auth.VerifyPassword(a.PasswordHash, in.Password)
	if err != nil {
		return fmt.Errorf("verify password: %w", err)
	}
	if !ok {
		for _, k := range keys {
			s.failed(ctx, k.Key, k.Limit)
		}
		return &httpError{http.StatusForbidden, api.CodeWrongPassword, "the password is wrong", nil}
	}
	if f.any() {
		ch, err := s.challenge(ctx, a, ceremonyReauth, c.session.ID, f, d, false)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, api.LoginResponse{MFA: ch})
		return nil
	}
	resp, err := s.rotate(w, r, c.session.ID, c.cookie, false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.LoginResponse{Session: resp})
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := s.Store.DeleteSession(r.Context(), c.session.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete session: %w", err)
	}
	s.EndSessions([]string{c.session.ID})
	if c.cookie {
		clearSessionCookie(w)
	}
	return noContent(w)
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, c *caller) error {
	a, err := s.Store.Account(r.Context(), c.account)
	if err != nil {
		return fmt.Errorf("load account: %w", err)
	}
	f, err := s.factorsOf(r.Context(), a.ID)
	if err != nil {
		return err
	}
	me := api.Me{
		AccountID: a.ID, Email: a.Email, HouseholdID: c.household, Role: c.role, SessionID: c.session.ID,
		AuthAt: c.session.AuthAt, TOTP: f.totp, Passkeys: f.passkeys, RecoveryCodesLeft: f.recoveryCodes,
	}
	if c.household != "" {
		if me.QuotaBytes, me.UsedBytes, err = s.usage(r.Context(), c.household); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, me)
	return nil
}

// changeEmail is PATCH /v1/me.
func (s *Server) changeEmail(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in api.EmailChange
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	if err := s.recent(c); err != nil {
		return err
	}
	email, err := auth.NormalizeEmail(in.Email)
	if err != nil {
		return err
	}
	a, err := s.Store.Account(r.Context(), c.account)
	if err != nil {
		return fmt.Errorf("load account: %w", err)
	}
	if email != a.Email {
		if err := s.Store.SetEmail(r.Context(), a.ID, email); errors.Is(err, store.ErrConflict) {
			return errConflict("another account uses this e-mail address")
		} else if err != nil {
			return fmt.Errorf("set e-mail: %w", err)
		}
		s.notify(r.Context(), a.ID, api.NoticeEmailChange, noticeData{
			DeviceName: c.session.DeviceName, Client: c.session.Client, AddrPrefix: c.session.AddrPrefix,
		})
	}
	return s.me(w, r, c)
}

// changePassword is POST /v1/me/password: it keeps the caller's session
// and ends every other one, closing their streams.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in api.PasswordChange
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	if err := s.recent(c); err != nil {
		return err
	}
	ctx := r.Context()
	a, err := s.Store.Account(ctx, c.account)
	if err != nil {
		return fmt.Errorf("load account: %w", err)
	}
	if err := auth.CheckPassword(in.NewPassword, a.Email); err != nil {
		return err
	}
	hash, err := auth.HashPassword(in.NewPassword)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	ended, err := s.Store.ChangePassword(ctx, a.ID, hash, c.session.ID)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	s.EndSessions(ended)
	addLog(r, "sessions_ended", len(ended))
	s.recordOwner(r, c, api.AuditAuth, "sessions_revoked", "session:*", fmt.Sprintf("%d other sessions ended", len(ended)))
	s.notify(ctx, a.ID, api.NoticePasswordChange, noticeData{
		DeviceName: c.session.DeviceName, Client: c.session.Client, AddrPrefix: c.session.AddrPrefix,
		Detail: fmt.Sprintf("every other session was ended (%d)", len(ended)),
	})
	return noContent(w)
}

// --- sessions ---

func (s *Server) sessions(w http.ResponseWriter, r *http.Request, c *caller) error {
	ss, err := s.Store.Sessions(r.Context(), c.account)
	if err != nil {
		return fmt.Errorf("list sessions: %w", err)
	}
	out := api.Sessions{Sessions: make([]api.SessionInfo, 0, len(ss))}
	for _, se := range ss {
		out.Sessions = append(out.Sessions, api.SessionInfo{
			ID: se.ID, DeviceName: se.DeviceName, Client: se.Client, AddrPrefix: se.AddrPrefix,
			CreatedAt: se.Created, LastUsed: se.LastUsed, ExpiresAt: se.Expires, Current: se.ID == c.session.ID,
		})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// revokeSession is DELETE /v1/sessions/{id}: one of the caller's own
// sessions (another account's is reported as missing).
func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.Store.DeleteAccountSession(r.Context(), c.account, id); errors.Is(err, store.ErrNotFound) {
		return errNotFound("no such session")
	} else if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	s.EndSessions([]string{id})
	addLog(r, "session", id)
	s.recordOwner(r, c, api.AuditAuth, "session_revoked", "session:"+id, "")
	if id == c.session.ID && c.cookie {
		clearSessionCookie(w)
	}
	return noContent(w)
}

func (s *Server) revokeOthers(w http.ResponseWriter, r *http.Request, c *caller) error {
	ended, err := s.Store.DeleteSessions(r.Context(), c.account, c.session.ID)
	if err != nil {
		return fmt.Errorf("delete sessions: %w", err)
	}
	s.EndSessions(ended)
	addLog(r, "sessions_ended", len(ended))
	writeJSON(w, http.StatusOK, api.Revoked{Revoked: len(ended)})
	return nil
}
