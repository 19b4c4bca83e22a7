package httpapi

// Passkeys (WebAuthn, github.com/go-webauthn/webauthn): registration by a
// signed-in account, passwordless sign-in with a discoverable passkey, and
// a passkey as the second factor after a password (passkeyRequest and
// passkeyVerify, called by the MFA flow).
//
// Relying party. The RP id is Server.RPID; if empty, the host of
// PublicOrigin when that is a name, else "localhost" (an RP id cannot be an
// IP address). Allowed origins:
//   - PublicOrigin, exactly;
//   - if PublicOrigin is a loopback address (http://127.0.0.1:8080) and the
//     RP id is "localhost": the same scheme and port on "localhost" too,
//     because browsers only run passkeys for rpId "localhost" from a
//     localhost page: open http://localhost:8080 in the browser;
//   - if PublicOrigin is empty and the RP id is "localhost" (development on
//     loopback): http or https on "localhost", any port. Browsers scope a
//     credential by RP id, not port, so pinning a port would add nothing;
//   - if PublicOrigin is empty and RPID is set: https://RPID.
//
// Ceremonies are store.Ceremony records found by the SHA-256 of a plc_
// token, single use (deleted before the answer is checked) and expire after
// passkeyTTL. The library's session data is the ceremony's Data. A
// credential record is stored as the JSON of webauthn.Credential; a sign
// count that does not advance (a cloned authenticator) is refused and logged.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// Ceremony kinds of this file.
const (
	ceremonyPasskeyLogin    = "passkey_login"
	ceremonyPasskeyRegister = "passkey_register"
)

// passkeyTTL is how long a passkey ceremony stays valid.
const passkeyTTL = 5 * time.Minute

// maxPasskeys bounds an account's passkeys.
const maxPasskeys = 32

// maxPasskeyName bounds a passkey's name in runes.
const maxPasskeyName = 64

// rpName is the relying party name authenticators show.
const rpName = "Porchlight"

// errPasskeyCeremony answers a ceremony token that is unknown, used,
// expired or for something else.
var errPasskeyCeremony = &httpError{http.StatusUnauthorized, "unauthorized", "the passkey request expired or was already used: start again", nil}

// errPasskeyRejected is the 401 for an assertion that does not verify;
// cause goes to the log only.
func errPasskeyRejected(cause error) error {
	return &httpError{http.StatusUnauthorized, "unauthorized", "passkey not accepted: try again or sign in another way", webauthnCause(cause)}
}

// webauthnCause makes a library error readable in the log (its Error()
// is only the short description).
func webauthnCause(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return fmt.Errorf("%s: %s (%s)", pe.Type, pe.Details, pe.DevInfo)
	}
	return err
}

// passkeyUser is an account as the library sees it: its user handle is the
// account id.
type passkeyUser struct {
	account store.Account
	keys    []store.Passkey
	creds   []webauthn.Credential // parallel to keys
}

func (u *passkeyUser) WebAuthnID() []byte                         { return []byte(u.account.ID) }
func (u *passkeyUser) WebAuthnName() string                       { return u.account.Email }
func (u *passkeyUser) WebAuthnDisplayName() string                { return u.account.Email }
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

var _ webauthn.User = (*passkeyUser)(nil)

// passkeyUser loads an account's passkeys.
func (s *Server) passkeyUser(ctx context.Context, a store.Account) (*passkeyUser, error) {
	keys, err := s.Store.Passkeys(ctx, a.ID)
	if err != nil {
		return nil, fmt.Errorf("load passkeys: %w", err)
	}
	u := &passkeyUser{account: a, keys: keys, creds: make([]webauthn.Credential, len(keys))}
	for i, k := range keys {
		if err := json.Unmarshal(k.Credential, &u.creds[i]); err != nil {
			return nil, fmt.Errorf("decode passkey %s: %w", k.ID, err)
		}
	}
	return u, nil
}

// rpScope returns the relying party id, the origins always allowed, and
// whether any localhost origin is allowed (development without a
// PublicOrigin). See the file comment.
func (s *Server) rpScope() (rpID string, origins []string, anyLocalhost bool) {
	pub := strings.TrimSuffix(s.PublicOrigin, "/")
	var u *url.URL
	if pub != "" {
		if p, err := url.Parse(pub); err == nil && p.Host != "" {
			u = p
		}
	}
	rpID = s.RPID
	if rpID == "" {
		rpID = "localhost"
		if u != nil && net.ParseIP(u.Hostname()) == nil {
			rpID = strings.ToLower(u.Hostname())
		}
	}
	if u == nil {
		if rpID != "localhost" {
			return rpID, []string{"https://" + rpID}, false
		}
		return rpID, []string{"http://localhost", "https://localhost"}, true
	}
	origins = []string{pub}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && ip.IsLoopback() && rpID == "localhost" {
		local := u.Scheme + "://localhost"
		if port := u.Port(); port != "" {
			local += ":" + port
		}
		origins = append(origins, local)
	}
	return rpID, origins, false
}

// isLocalhostOrigin reports whether origin is http(s)://localhost[:port].
func isLocalhostOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	return (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() == "localhost"
}

// relyingParty returns the library configured for this service. origin is
// the origin the client reported ("" when starting a ceremony); it is
// allowed only under the development rule of rpScope.
func (s *Server) relyingParty(origin string) (*webauthn.WebAuthn, error) {
	rpID, origins, anyLocalhost := s.rpScope()
	if anyLocalhost && isLocalhostOrigin(origin) {
		origins = append(origins, origin)
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  rpID,
		RPDisplayName:         rpName,
		RPOrigins:             origins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred,
		},
		// Expiry is the ceremony's (on the server's clock); these are the
		// timeouts the browser is told.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: passkeyTTL, TimeoutUVD: passkeyTTL},
			Registration: webauthn.TimeoutConfig{Timeout: passkeyTTL, TimeoutUVD: passkeyTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("configure webauthn (rp id %q): %w", rpID, err)
	}
	return wa, nil
}

// passkeyRequest returns WebAuthn request options ({"publicKey":…}) for the
// account's passkeys and the session data to keep in the ceremony; (nil,
// nil, nil) if it has none.
func (s *Server) passkeyRequest(ctx context.Context, a store.Account) (options json.RawMessage, data []byte, err error) {
	u, err := s.passkeyUser(ctx, a)
	if err != nil || len(u.creds) == 0 {
		return nil, nil, err
	}
	wa, err := s.relyingParty("")
	if err != nil {
		return nil, nil, err
	}
	assertion, sd, err := wa.BeginLogin(u)
	if err != nil {
		return nil, nil, fmt.Errorf("begin passkey assertion: %w", webauthnCause(err))
	}
	if options, err = json.Marshal(assertion); err != nil {
		return nil, nil, fmt.Errorf("encode passkey options: %w", err)
	}
	if data, err = json.Marshal(sd); err != nil {
		return nil, nil, fmt.Errorf("encode passkey session: %w", err)
	}
	return options, data, nil
}

// passkeyVerify checks an assertion against that session data and the
// account's passkeys, updating sign count and last use. A bad assertion
// returns a 401-class error (an *httpError with status 401); any other
// error is internal.
func (s *Server) passkeyVerify(ctx context.Context, a store.Account, data []byte, credential json.RawMessage) error {
	var sd webauthn.SessionData
	if err := json.Unmarshal(data, &sd); err != nil {
		return fmt.Errorf("decode passkey session: %w", err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(credential)
	if err != nil {
		return errPasskeyRejected(err)
	}
	u, err := s.passkeyUser(ctx, a)
	if err != nil {
		return err
	}
	wa, err := s.relyingParty(parsed.Response.CollectedClientData.Origin)
	if err != nil {
		return err
	}
	cred, err := wa.ValidateLogin(u, sd, parsed)
	if err != nil {
		return errPasskeyRejected(err)
	}
	return s.passkeyUsed(ctx, u, cred)
}

// passkeyUsed stores a verified credential's new sign count and last use,
// or refuses it if the count did not advance (a cloned authenticator).
func (s *Server) passkeyUsed(ctx context.Context, u *passkeyUser, cred *webauthn.Credential) error {
	var key *store.Passkey
	for i := range u.keys {
		if string(u.keys[i].CredentialID) == string(cred.ID) {
			key = &u.keys[i]
		}
	}
	if key == nil {
		return errPasskeyRejected(errors.New("verified credential is not among the account's passkeys"))
	}
	if cred.Authenticator.CloneWarning {
		s.Logger.WarnContext(ctx, "passkey refused: its sign count did not advance, the authenticator may be cloned",
			"account", u.account.ID, "passkey", key.ID, "sign_count", cred.Authenticator.SignCount)
		return &httpError{http.StatusUnauthorized, "unauthorized",
			"this passkey is refused because it looks copied: sign in another way and remove it", nil}
	}
	b, err := json.Marshal(cred)
	if err != nil {
		return fmt.Errorf("encode passkey: %w", err)
	}
	if err := s.Store.UpdatePasskey(ctx, key.ID, b, s.Now().UTC()); err != nil {
		return fmt.Errorf("update passkey: %w", err)
	}
	return nil
}

// putPasskeyCeremony stores a ceremony and returns its token.
func (s *Server) putPasskeyCeremony(ctx context.Context, kind, account, session string, sd *webauthn.SessionData) (string, error) {
	data, err := json.Marshal(sd)
	if err != nil {
		return "", fmt.Errorf("encode passkey session: %w", err)
	}
	tok, hash := auth.NewToken(auth.CeremonyPrefix)
	c := store.Ceremony{ID: hash, Kind: kind, AccountID: account, SessionID: session, Data: data, Expires: s.Now().UTC().Add(passkeyTTL)}
	if err := s.Store.PutCeremony(ctx, c); err != nil {
		return "", fmt.Errorf("store passkey ceremony: %w", err)
	}
	return tok, nil
}

// takePasskeyCeremony consumes the ceremony of token: it must be of kind
// and, if session is set, bound to that session. It is deleted before its
// answer is checked, so it works once whatever the outcome.
func (s *Server) takePasskeyCeremony(ctx context.Context, token, kind, session string) (store.Ceremony, error) {
	if !auth.ValidToken(token, auth.CeremonyPrefix) {
		return store.Ceremony{}, errPasskeyCeremony
	}
	c, err := s.Store.Ceremony(ctx, auth.HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return store.Ceremony{}, errPasskeyCeremony
	}
	if err != nil {
		return store.Ceremony{}, fmt.Errorf("load ceremony: %w", err)
	}
	if c.Kind != kind || (session != "" && c.SessionID != session) {
		return store.Ceremony{}, errPasskeyCeremony
	}
	if err := s.Store.DeleteCeremony(ctx, c.ID); errors.Is(err, store.ErrNotFound) {
		return store.Ceremony{}, errPasskeyCeremony // a racing request took it
	} else if err != nil {
		return store.Ceremony{}, fmt.Errorf("consume ceremony: %w", err)
	}
	if !s.Now().Before(c.Expires) {
		return store.Ceremony{}, errPasskeyCeremony
	}
	return c, nil
}

// passkeyLoginBegin is POST /v1/login/passkey/begin: options for a
// discoverable passkey. User verification is required: the passkey stands
// in for the password and the second factor.
func (s *Server) passkeyLoginBegin(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	addrKey := auth.AddressKey(auth.ClientAddr(r, s.TrustedProxies))
	if err := s.limited(ctx, addrKey); err != nil {
		return err
	}
	wa, err := s.relyingParty("")
	if err != nil {
		return err
	}
	assertion, sd, err := wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return fmt.Errorf("begin discoverable login: %w", webauthnCause(err))
	}
	opts, err := json.Marshal(assertion)
	if err != nil {
		return fmt.Errorf("encode passkey options: %w", err)
	}
	tok, err := s.putPasskeyCeremony(ctx, ceremonyPasskeyLogin, "", "", sd)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.PasskeyBegin{Token: tok, Options: opts})
	return nil
}

// passkeyLoginFinish is POST /v1/login/passkey/finish.
func (s *Server) passkeyLoginFinish(w http.ResponseWriter, r *http.Request) error {
	var in api.PasskeyLogin
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	if err := checkDeviceID(in.DeviceID); err != nil {
		return err
	}
	ctx := r.Context()
	addrKey := auth.AddressKey(auth.ClientAddr(r, s.TrustedProxies))
	unlock := s.lockKeys(addrKey)
	defer unlock()
	if err := s.limited(ctx, addrKey); err != nil {
		return err
	}
	limit := s.limits().AddressFailures
	c, err := s.takePasskeyCeremony(ctx, in.Token, ceremonyPasskeyLogin, "")
	if err != nil {
		s.failedIfRefused(ctx, err, addrKey, limit)
		return err
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(c.Data, &sd); err != nil {
		return fmt.Errorf("decode passkey session: %w", err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(in.Credential)
	if err != nil {
		s.failed(ctx, addrKey, limit)
		return errPasskeyRejected(err)
	}
	wa, err := s.relyingParty(parsed.Response.CollectedClientData.Origin)
	if err != nil {
		return err
	}
	var u *passkeyUser
	var lookupErr error // an internal error inside the library's callback
	find := func(rawID, userHandle []byte) (webauthn.User, error) {
		pk, err := s.Store.PasskeyByCredentialID(ctx, rawID)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				lookupErr = err
			}
			return nil, fmt.Errorf("unknown credential: %w", err)
		}
		if string(userHandle) != pk.AccountID {
			return nil, errors.New("user handle does not match the credential's account")
		}
		a, err := s.Store.Account(ctx, pk.AccountID)
		if err != nil {
			lookupErr = err
			return nil, err
		}
		if u, err = s.passkeyUser(ctx, a); err != nil {
			lookupErr = err
			return nil, err
		}
		return u, nil
	}
	_, cred, err := wa.ValidatePasskeyLogin(find, sd, parsed)
	if lookupErr != nil {
		return lookupErr
	}
	if err != nil {
		s.failed(ctx, addrKey, limit)
		return errPasskeyRejected(err)
	}
	addLog(r, "account", u.account.ID)
	if err := s.passkeyUsed(ctx, u, cred); err != nil {
		s.failedIfRefused(ctx, err, addrKey, limit)
		return err
	}
	// signIn refuses a disabled account (403 account_disabled).
	resp, err := s.signIn(w, r, u.account, signInInfo{Method: api.MethodPasskey, DeviceName: in.DeviceName, DeviceID: in.DeviceID, DeviceToken: in.DeviceToken, Cookie: in.Cookie})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// failedIfRefused counts a failure when err is a 401.
func (s *Server) failedIfRefused(ctx context.Context, err error, key string, limit int) {
	var he *httpError
	if errors.As(err, &he) && he.status == http.StatusUnauthorized {
		s.failed(ctx, key, limit)
	}
}

// passkeys is GET /v1/me/passkeys.
func (s *Server) passkeys(w http.ResponseWriter, r *http.Request, c *caller) error {
	keys, err := s.Store.Passkeys(r.Context(), c.account)
	if err != nil {
		return err
	}
	out := api.Passkeys{Passkeys: make([]api.Passkey, 0, len(keys))}
	for _, k := range keys {
		out.Passkeys = append(out.Passkeys, apiPasskey(k))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func apiPasskey(k store.Passkey) api.Passkey {
	return api.Passkey{ID: k.ID, Name: k.Name, CreatedAt: k.Created, LastUsed: k.LastUsed}
}

// passkeyRegisterBegin is POST /v1/me/passkeys/begin: creation options
// (resident key and user verification preferred, no attestation, the
// account's passkeys excluded). The ceremony is bound to the session.
func (s *Server) passkeyRegisterBegin(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := s.recent(c); err != nil {
		return err
	}
	ctx := r.Context()
	a, err := s.Store.Account(ctx, c.account)
	if err != nil {
		return err
	}
	u, err := s.passkeyUser(ctx, a)
	if err != nil {
		return err
	}
	if len(u.creds) >= maxPasskeys {
		return errConflict(fmt.Sprintf("this account has %d passkeys, the most it can have: remove one first", maxPasskeys))
	}
	wa, err := s.relyingParty("")
	if err != nil {
		return err
	}
	creation, sd, err := wa.BeginRegistration(u,
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementPreferred),
		webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()))
	if err != nil {
		return fmt.Errorf("begin passkey registration: %w", webauthnCause(err))
	}
	opts, err := json.Marshal(creation)
	if err != nil {
		return fmt.Errorf("encode passkey options: %w", err)
	}
	tok, err := s.putPasskeyCeremony(ctx, ceremonyPasskeyRegister, a.ID, c.session.ID, sd)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.PasskeyBegin{Token: tok, Options: opts})
	return nil
}

// passkeyRegisterFinish is POST /v1/me/passkeys/finish: it stores the new
// passkey and ends every other session of the account.
func (s *Server) passkeyRegisterFinish(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in api.PasskeyRegister
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	if err := s.recent(c); err != nil {
		return err
	}
	ctx := r.Context()
	cer, err := s.takePasskeyCeremony(ctx, in.Token, ceremonyPasskeyRegister, c.session.ID)
	if err != nil {
		return err
	}
	if cer.AccountID != c.account {
		return errPasskeyCeremony
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(cer.Data, &sd); err != nil {
		return fmt.Errorf("decode passkey session: %w", err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(in.Credential)
	if err != nil {
		return errInvalidf(webauthnCause(err), "the passkey could not be read: create it again")
	}
	a, err := s.Store.Account(ctx, c.account)
	if err != nil {
		return err
	}
	u, err := s.passkeyUser(ctx, a)
	if err != nil {
		return err
	}
	wa, err := s.relyingParty(parsed.Response.CollectedClientData.Origin)
	if err != nil {
		return err
	}
	cred, err := wa.CreateCredential(u, sd, parsed)
	if err != nil {
		return errInvalidf(webauthnCause(err), "the passkey was not accepted: create it again on this site")
	}
	b, err := json.Marshal(cred)
	if err != nil {
		return fmt.Errorf("encode passkey: %w", err)
	}
	now := s.Now().UTC()
	p := store.Passkey{ID: seal.NewID(), AccountID: a.ID, CredentialID: cred.ID, Name: passkeyName(in.Name), Credential: b, Created: now}
	ended, err := s.Store.AddPasskey(ctx, p, c.session.ID)
	if errors.Is(err, store.ErrConflict) {
		return errConflict("this passkey is already registered")
	}
	if err != nil {
		return fmt.Errorf("add passkey: %w", err)
	}
	addLog(r, "passkey", p.ID)
	s.factorChanged(ctx, c, ended, "passkey added")
	writeJSON(w, http.StatusCreated, apiPasskey(p))
	return nil
}

// deletePasskey is DELETE /v1/me/passkeys/{id}: it ends every other session
// of the account. A staff account keeps at least one factor.
func (s *Server) deletePasskey(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.recent(c); err != nil {
		return err
	}
	ctx := r.Context()
	a, err := s.Store.Account(ctx, c.account)
	if err != nil {
		return err
	}
	unlock := s.lockFactors(a.ID)
	defer unlock()
	if a.Role != store.RoleCustomer {
		keys, err := s.Store.Passkeys(ctx, a.ID)
		if err != nil {
			return err
		}
		found, others := false, 0
		for _, k := range keys {
			if k.ID == id {
				found = true
			} else {
				others++
			}
		}
		if !found {
			return errNotFound("no such passkey")
		}
		if others == 0 {
			f, err := s.factorsOf(ctx, a.ID)
			if err != nil {
				return err
			}
			if !f.totp {
				return &httpError{http.StatusForbidden, api.CodeFactorRequired,
					"staff accounts must keep a second factor: add another passkey or an authenticator app first", nil}
			}
		}
	}
	ended, err := s.Store.DeletePasskey(ctx, a.ID, id, c.session.ID)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound("no such passkey")
	}
	if err != nil {
		return fmt.Errorf("delete passkey: %w", err)
	}
	addLog(r, "passkey", id)
	s.factorChanged(ctx, c, ended, "passkey removed")
	return noContent(w)
}

// lockFactors serialises, within this replica, the removals of one
// account's factors, so that two concurrent removals cannot both pass the
// staff last-factor check. Every handler that removes a factor takes it.
func (s *Server) lockFactors(account string) (unlock func()) {
	return s.idLocks.lock("factors:" + account)
}

// passkeyName cleans a passkey's name: printable, trimmed, bounded.
func passkeyName(s string) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, s))
	if r := []rune(s); len(r) > maxPasskeyName {
		s = strings.TrimSpace(string(r[:maxPasskeyName]))
	}
	if s == "" {
		s = "passkey"
	}
	return s
}
