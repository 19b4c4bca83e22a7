package httpapi

// Second factors of the signed-in account: an authenticator app (TOTP)
// and recovery codes. (Passkeys are in passkeys.go.) Every change needs a
// recent sign-in and ends every other session of the account.

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/store"
)

// totpIssuer is the name authenticator apps show for the account.
const totpIssuer = "Porchlight"

// totpSetup is POST /v1/me/totp: a new, pending authenticator. It counts
// once confirmed with a code.
func (s *Server) totpSetup(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := s.recent(c); err != nil {
		return err
	}
	ctx := r.Context()
	a, err := s.Store.Account(ctx, c.account)
	if err != nil {
		return fmt.Errorf("load account: %w", err)
	}
	secret := auth.NewTOTPSecret()
	err = s.Store.PutPendingTOTP(ctx, store.TOTP{AccountID: a.ID, Secret: secret, Created: s.Now().UTC()})
	if errors.Is(err, store.ErrConflict) {
		return errConflict("this account has an authenticator already: remove it first (DELETE /v1/me/totp) to replace it")
	}
	if err != nil {
		return fmt.Errorf("store authenticator: %w", err)
	}
	writeJSON(w, http.StatusOK, api.TOTPSetup{Secret: auth.EncodeTOTPSecret(secret), URI: auth.TOTPURI(secret, totpIssuer, a.Email)})
	return nil
}

// totpConfirm is POST /v1/me/totp/confirm: the first code makes the
// authenticator count; it answers fresh recovery codes.
func (s *Server) totpConfirm(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in api.TOTPConfirm
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	if err := s.recent(c); err != nil {
		return err
	}
	ctx := r.Context()
	t, err := s.Store.TOTP(ctx, c.account)
	if errors.Is(err, store.ErrNotFound) || err == nil && t.Confirmed {
		return errConflict("no authenticator is waiting for confirmation: start with POST /v1/me/totp")
	}
	if err != nil {
		return fmt.Errorf("load authenticator: %w", err)
	}
	step, ok := auth.VerifyTOTP(t.Secret, in.Code, s.Now(), t.LastStep)
	if !ok {
		return errInvalid("the code is wrong: type the 6 digits the app shows now, and check your device's clock")
	}
	codes, hashes := auth.NewRecoveryCodes(c.account)
	ended, err := s.Store.ConfirmTOTP(ctx, c.account, step, hashes, c.session.ID)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return errConflict("the authenticator changed meanwhile: start again with POST /v1/me/totp")
	}
	if err != nil {
		return fmt.Errorf("confirm authenticator: %w", err)
	}
	addLog(r, "sessions_ended", len(ended))
	s.factorChanged(ctx, c, ended, "authenticator app added")
	writeJSON(w, http.StatusOK, api.RecoveryCodes{Codes: codes})
	return nil
}

// totpDelete is DELETE /v1/me/totp. A staff account keeps at least one
// factor. With no factor left, the recovery codes go too (they stand in
// for a factor that no longer exists).
func (s *Server) totpDelete(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := s.recent(c); err != nil {
		return err
	}
	ctx := r.Context()
	// Serialise factor removals of one account (as passkey removal does),
	// so two removals cannot both pass the last-factor check.
	unlock := s.idLocks.lock("factors:" + c.account)
	defer unlock()
	f, err := s.factorsOf(ctx, c.account)
	if err != nil {
		return err
	}
	if c.isStaff() && f.passkeys == 0 {
		return &httpError{http.StatusForbidden, api.CodeFactorRequired,
			"staff accounts must keep a second factor: add a passkey first", nil}
	}
	ended, err := s.Store.DeleteTOTP(ctx, c.account, c.session.ID)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound("this account has no authenticator")
	}
	if err != nil {
		return fmt.Errorf("delete authenticator: %w", err)
	}
	if f.passkeys == 0 && f.recoveryCodes > 0 {
		more, err := s.Store.ReplaceRecoveryCodes(ctx, c.account, nil, c.session.ID)
		if err != nil {
			return fmt.Errorf("delete recovery codes: %w", err)
		}
		ended = append(ended, more...)
	}
	addLog(r, "sessions_ended", len(ended))
	s.factorChanged(ctx, c, ended, "authenticator app removed")
	return noContent(w)
}

// newRecoveryCodes is POST /v1/me/recovery-codes: a fresh set replaces the
// old one.
func (s *Server) newRecoveryCodes(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := s.recent(c); err != nil {
		return err
	}
	ctx := r.Context()
	f, err := s.factorsOf(ctx, c.account)
	if err != nil {
		return err
	}
	if !f.any() {
		return errConflict("recovery codes stand in for a second factor: add an authenticator app or a passkey first")
	}
	codes, hashes := auth.NewRecoveryCodes(c.account)
	ended, err := s.Store.ReplaceRecoveryCodes(ctx, c.account, hashes, c.session.ID)
	if err != nil {
		return fmt.Errorf("replace recovery codes: %w", err)
	}
	addLog(r, "sessions_ended", len(ended))
	s.factorChanged(ctx, c, ended, "recovery codes replaced")
	writeJSON(w, http.StatusOK, api.RecoveryCodes{Codes: codes})
	return nil
}
