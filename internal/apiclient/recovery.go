package apiclient

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/porchlight/porchlight/internal/seal"
)

// PutRecoveryKit stores or replaces the household's recovery kit, an age
// file sealed to the recovery passphrase (owner session; needs a recent
// sign-in).
func (c *Client) PutRecoveryKit(ctx context.Context, kit []byte) error {
	if kit == nil {
		kit = []byte{}
	}
	return c.call(ctx, request{method: http.MethodPut, path: "/v1/recovery-kit", body: kit, ctype: "application/octet-stream"}, nil)
}

// RecoveryKit downloads the household's recovery kit (404 if it has none).
func (c *Client) RecoveryKit(ctx context.Context) ([]byte, error) {
	r := request{method: http.MethodGet, path: "/v1/recovery-kit", header: http.Header{"Accept": {"application/octet-stream"}}}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, seal.MaxRecoveryKit+1))
	if err != nil {
		return nil, &transportError{fmt.Errorf("GET /v1/recovery-kit: read response: %w", err)}
	}
	if len(b) > seal.MaxRecoveryKit {
		return nil, fmt.Errorf("GET /v1/recovery-kit: kit larger than %d bytes", seal.MaxRecoveryKit)
	}
	return b, nil
}
