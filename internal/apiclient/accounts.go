package apiclient

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/porchlight/porchlight/internal/api"
)

// This file holds the account routes: sign-in with a second factor or a
// passkey, re-authentication, the account's own settings and factors, its
// sessions and its notifications. Routes marked "recent" answer 403
// reauth_required unless the session signed in within api.ReauthWindow; a
// client with OnReauthRequired set handles that itself.

// callNoReauth is callJSON with OnReauthRequired turned off.
func (c *Client) callNoReauth(ctx context.Context, method, path string, in, out any) error {
	r, err := jsonRequest(method, path, in)
	if err != nil {
		return err
	}
	r.noReauth = true
	return c.call(ctx, r, out)
}

// LoginMFA answers a second-factor challenge of Login or Reauth with a TOTP
// code, a recovery code or a passkey assertion. For a Reauth challenge the
// answer is the caller's session rotated: its new token replaces the old one,
// which no longer works. Wrong answers count toward the sign-in limits (a 429
// carries RetryAfter). It does not set c.Token.
func (c *Client) LoginMFA(ctx context.Context, in api.MFAAnswer) (*api.SessionResponse, error) {
	var out api.SessionResponse
	if err := c.callNoReauth(ctx, http.MethodPost, "/v1/login/mfa", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PasskeyLoginBegin starts a passwordless sign-in with a discoverable
// passkey: the WebAuthn options for the authenticator and the ceremony token
// to send back with PasskeyLoginFinish.
func (c *Client) PasskeyLoginBegin(ctx context.Context) (*api.PasskeyBegin, error) {
	var out api.PasskeyBegin
	if err := c.callJSON(ctx, http.MethodPost, "/v1/login/passkey/begin", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PasskeyLoginFinish completes a passkey sign-in. It does not set c.Token.
func (c *Client) PasskeyLoginFinish(ctx context.Context, in api.PasskeyLogin) (*api.SessionResponse, error) {
	var out api.SessionResponse
	if err := c.callJSON(ctx, http.MethodPost, "/v1/login/passkey/finish", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Reauth proves the signed-in user again. The answer is the caller's session
// rotated (a new token with a fresh sign-in time; the old token no longer
// works), or a challenge bound to this session to answer with LoginMFA. It
// does not set c.Token.
func (c *Client) Reauth(ctx context.Context, in api.ReauthRequest) (*api.LoginResponse, error) {
	var out api.LoginResponse
	if err := c.callNoReauth(ctx, http.MethodPost, "/v1/reauth", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Me returns the caller's account, its factors and this session's sign-in
// time.
func (c *Client) Me(ctx context.Context) (*api.Me, error) {
	var out api.Me
	if err := c.callJSON(ctx, http.MethodGet, "/v1/me", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ChangeEmail changes the account's e-mail address (recent). A 409 means
// another account has it.
func (c *Client) ChangeEmail(ctx context.Context, email string) error {
	return c.callJSON(ctx, http.MethodPatch, "/v1/me", api.EmailChange{Email: email}, nil)
}

// ChangePassword sets a new password (recent). Every other session of the
// account ends; this one stays. A refused password is a 400 weak_password
// whose message says why.
func (c *Client) ChangePassword(ctx context.Context, newPassword string) error {
	return c.callJSON(ctx, http.MethodPost, "/v1/me/password", api.PasswordChange{NewPassword: newPassword}, nil)
}

// TOTPSetup starts adding an authenticator app (recent): a new secret that
// counts only once TOTPConfirm accepts a code made from it.
func (c *Client) TOTPSetup(ctx context.Context) (*api.TOTPSetup, error) {
	var out api.TOTPSetup
	if err := c.callJSON(ctx, http.MethodPost, "/v1/me/totp", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TOTPConfirm activates the pending authenticator with a code from it
// (recent) and returns a new set of recovery codes, shown once. Every other
// session ends.
func (c *Client) TOTPConfirm(ctx context.Context, code string) (*api.RecoveryCodes, error) {
	var out api.RecoveryCodes
	if err := c.callJSON(ctx, http.MethodPost, "/v1/me/totp/confirm", api.TOTPConfirm{Code: code}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteTOTP removes the authenticator app (recent). Every other session
// ends. Staff are refused (403 factor_required) if it is their last factor.
func (c *Client) DeleteTOTP(ctx context.Context) error {
	return c.callJSON(ctx, http.MethodDelete, "/v1/me/totp", nil, nil)
}

// RecoveryCodes replaces the account's recovery codes (recent; the account
// needs a second factor) and returns the new ones, shown once. Every other
// session ends.
func (c *Client) RecoveryCodes(ctx context.Context) (*api.RecoveryCodes, error) {
	var out api.RecoveryCodes
	if err := c.callJSON(ctx, http.MethodPost, "/v1/me/recovery-codes", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Passkeys lists the account's passkeys.
func (c *Client) Passkeys(ctx context.Context) ([]api.Passkey, error) {
	var out api.Passkeys
	if err := c.callJSON(ctx, http.MethodGet, "/v1/me/passkeys", nil, &out); err != nil {
		return nil, err
	}
	return out.Passkeys, nil
}

// PasskeyRegisterBegin starts adding a passkey (recent): the WebAuthn
// creation options and the ceremony token for PasskeyRegisterFinish.
func (c *Client) PasskeyRegisterBegin(ctx context.Context) (*api.PasskeyBegin, error) {
	var out api.PasskeyBegin
	if err := c.callJSON(ctx, http.MethodPost, "/v1/me/passkeys/begin", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PasskeyRegisterFinish stores the new passkey (recent). Every other session
// ends.
func (c *Client) PasskeyRegisterFinish(ctx context.Context, in api.PasskeyRegister) (*api.Passkey, error) {
	var out api.Passkey
	if err := c.callJSON(ctx, http.MethodPost, "/v1/me/passkeys/finish", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeletePasskey removes one of the account's passkeys (recent). Every other
// session ends. Staff are refused (403 factor_required) if it is their last
// factor.
func (c *Client) DeletePasskey(ctx context.Context, id string) error {
	return c.callJSON(ctx, http.MethodDelete, "/v1/me/passkeys/"+seg(id), nil, nil)
}

// Sessions lists the account's open sessions; Current marks the caller's.
func (c *Client) Sessions(ctx context.Context) ([]api.SessionInfo, error) {
	var out api.Sessions
	if err := c.callJSON(ctx, http.MethodGet, "/v1/sessions", nil, &out); err != nil {
		return nil, err
	}
	return out.Sessions, nil
}

// RevokeSession ends one of the account's sessions (404 if the account has
// no such session).
func (c *Client) RevokeSession(ctx context.Context, id string) error {
	return c.callJSON(ctx, http.MethodDelete, "/v1/sessions/"+seg(id), nil, nil)
}

// RevokeOtherSessions ends every session of the account but the caller's
// and returns how many ended.
func (c *Client) RevokeOtherSessions(ctx context.Context) (int, error) {
	var out api.Revoked
	if err := c.callJSON(ctx, http.MethodPost, "/v1/sessions/revoke-others", nil, &out); err != nil {
		return 0, err
	}
	return out.Revoked, nil
}

// Notifications returns up to 100 of the account's notifications with a
// sequence number above after, oldest first.
func (c *Client) Notifications(ctx context.Context, after int64) ([]api.Notification, error) {
	var out api.Notifications
	r := request{method: http.MethodGet, path: "/v1/notifications"}
	if after > 0 {
		r.query = url.Values{"after": {strconv.FormatInt(after, 10)}}
	}
	if err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return out.Notifications, nil
}

// OpsOverview returns the service's counts (operator accounts only).
func (c *Client) OpsOverview(ctx context.Context) (*api.OpsOverview, error) {
	var out api.OpsOverview
	if err := c.callJSON(ctx, http.MethodGet, "/v1/ops/overview", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
