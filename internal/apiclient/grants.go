package apiclient

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/porchlight/porchlight/internal/api"
)

// CreateSupportRequest files a support request for access to an owner's
// camera (support account) and returns it, pending.
func (c *Client) CreateSupportRequest(ctx context.Context, in api.SupportRequest) (*api.Grant, error) {
	var out api.Grant
	if err := c.callJSON(ctx, http.MethodPost, "/v1/support/requests", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SupportRequests lists the requests this support account filed, newest
// first.
func (c *Client) SupportRequests(ctx context.Context) ([]api.Grant, error) {
	var out api.Grants
	if err := c.callJSON(ctx, http.MethodGet, "/v1/support/requests", nil, &out); err != nil {
		return nil, err
	}
	return out.Grants, nil
}

// Grants lists the support requests and grants of the caller's household
// (owner), newest first.
func (c *Client) Grants(ctx context.Context) ([]api.Grant, error) {
	var out api.Grants
	if err := c.callJSON(ctx, http.MethodGet, "/v1/grants", nil, &out); err != nil {
		return nil, err
	}
	return out.Grants, nil
}

// Grant returns one grant (an owner of its household, or the support
// account that asked for it). Once approved it carries the signed grant
// and its signer's key: verify them before use.
func (c *Client) Grant(ctx context.Context, id string) (*api.Grant, error) {
	var out api.Grant
	if err := c.callJSON(ctx, http.MethodGet, "/v1/grants/"+seg(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ApproveGrant approves a pending request with the owner device's signed
// grant and the in-scope epoch keys wrapped to the request key (owner, a
// recent sign-in with a second factor: 403 reauth_required otherwise, and
// 403 factor_required when the account has none).
func (c *Client) ApproveGrant(ctx context.Context, id string, in api.GrantApproval) (*api.Grant, error) {
	return c.grantAction(ctx, id, "approve", in)
}

// DenyGrant refuses a pending request (owner).
func (c *Client) DenyGrant(ctx context.Context, id string) (*api.Grant, error) {
	return c.grantAction(ctx, id, "deny", struct{}{})
}

// RevokeGrant ends a grant early (owner): the service deletes its wraps.
func (c *Client) RevokeGrant(ctx context.Context, id string) (*api.Grant, error) {
	return c.grantAction(ctx, id, "revoke", struct{}{})
}

func (c *Client) grantAction(ctx context.Context, id, action string, in any) (*api.Grant, error) {
	var out api.Grant
	if err := c.callJSON(ctx, http.MethodPost, "/v1/grants/"+seg(id)+"/"+action, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GrantEpochs returns the key release of an approved grant with video (the
// requesting support account): the epochs in scope, each with its key
// wrapped to the request key. 403 when the grant has no video, is not
// approved, has expired or was revoked.
func (c *Client) GrantEpochs(ctx context.Context, id string) ([]api.Epoch, error) {
	var out api.GrantEpochs
	if err := c.callJSON(ctx, http.MethodGet, "/v1/grants/"+seg(id)+"/epochs", nil, &out); err != nil {
		return nil, err
	}
	return out.Epochs, nil
}

// GrantManifests lists the manifests of a grant's camera in [from, to],
// clamped by the service to the grant's window (the requesting support
// account); includeData inlines their ciphertext.
func (c *Client) GrantManifests(ctx context.Context, id string, from, to time.Time, includeData bool) ([]api.ObjectInfo, error) {
	q := url.Values{"from": {from.UTC().Format(time.RFC3339)}, "to": {to.UTC().Format(time.RFC3339)}}
	if includeData {
		q.Set("include", "data")
	}
	var out api.Objects
	r := request{method: http.MethodGet, path: "/v1/grants/" + seg(id) + "/manifests", query: q}
	if err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return out.Objects, nil
}

// GrantObjectReader opens the ciphertext of a segment or manifest in a
// grant's scope (the requesting support account), like ObjectReader; 403
// outside the scope or the grant's time.
func (c *Client) GrantObjectReader(ctx context.Context, grantID, objectID string) (io.ReadCloser, int64, error) {
	r := request{method: http.MethodGet, path: "/v1/grants/" + seg(grantID) + "/objects/" + seg(objectID), header: http.Header{}}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, 0, err
	}
	if resp.ContentLength > MaxObject {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("GET %s: object of %d bytes is larger than %d", r.path, resp.ContentLength, MaxObject)
	}
	return &boundedBody{rc: resp.Body, left: MaxObject, path: r.path}, resp.ContentLength, nil
}
