package apiclient

import (
	"context"
	"net/http"

	"github.com/porchlight/porchlight/internal/api"
)

// StartPair offers this new device's public keys for approval by an owner
// device of the same account and returns the one-time pairing code.
func (c *Client) StartPair(ctx context.Context, in api.DevicePairStart) (*api.DevicePairCode, error) {
	var out api.DevicePairCode
	if err := c.callJSON(ctx, http.MethodPost, "/v1/devices/pair", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PairOffer returns the keys a new device offered under code (404 if the
// code is unknown, expired or another account's).
func (c *Client) PairOffer(ctx context.Context, code string) (*api.DevicePairOffer, error) {
	var out api.DevicePairOffer
	if err := c.callJSON(ctx, http.MethodGet, "/v1/devices/pair/"+seg(code), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
