package apiclient

import (
	"context"
	"net/http"

	"github.com/porchlight/porchlight/internal/api"
)

// CreateInvite invites an e-mail address to some cameras of the caller's
// household (owner, recent sign-in) and returns the one-time code.
func (c *Client) CreateInvite(ctx context.Context, in api.MemberInviteCreate) (*api.MemberInviteCode, error) {
	var out api.MemberInviteCode
	if err := c.callJSON(ctx, http.MethodPost, "/v1/members/invites", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AcceptInvite offers this device's public keys to the invite with code
// (the invited account only; 404 otherwise).
func (c *Client) AcceptInvite(ctx context.Context, code string, in api.MemberAccept) (*api.MemberAccepted, error) {
	var out api.MemberAccepted
	if err := c.callJSON(ctx, http.MethodPost, "/v1/members/invites/"+seg(code)+"/accept", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Invite returns an invite of the caller's household with the keys the
// member's device offered, if it accepted.
func (c *Client) Invite(ctx context.Context, code string) (*api.MemberInvite, error) {
	var out api.MemberInvite
	if err := c.callJSON(ctx, http.MethodGet, "/v1/members/invites/"+seg(code), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ConfirmInvite records the membership once the latest roster lists the
// member's device (owner, recent sign-in).
func (c *Client) ConfirmInvite(ctx context.Context, code string) error {
	return c.callJSON(ctx, http.MethodPost, "/v1/members/invites/"+seg(code)+"/confirm", nil, nil)
}

// RemoveMember ends an account's membership of the caller's household
// (owner, recent sign-in).
func (c *Client) RemoveMember(ctx context.Context, email string) error {
	return c.callJSON(ctx, http.MethodPost, "/v1/members/remove", api.MemberRemove{Email: email}, nil)
}

// Shared lists the households sharing cameras with the caller, with their
// roster chains and the cameras in scope.
func (c *Client) Shared(ctx context.Context) ([]api.Shared, error) {
	var out []api.Shared
	if err := c.callJSON(ctx, http.MethodGet, "/v1/shared", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}
