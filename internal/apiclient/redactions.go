package apiclient

// Redaction jobs: an owner device sends a sealed job and polls it; the
// camera's hub long-polls for jobs, fetches its cameras' ciphertext,
// uploads the sealed result or says why it failed (docs/formats.md,
// "Redaction jobs").

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/porchlight/porchlight/internal/api"
)

// CreateRedaction sends a sealed redaction job (owner).
func (c *Client) CreateRedaction(ctx context.Context, in api.RedactionCreate) (*api.Redaction, error) {
	var out api.Redaction
	if err := c.callJSON(ctx, http.MethodPost, "/v1/redactions", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Redaction returns a job's state (owner).
func (c *Client) Redaction(ctx context.Context, id string) (*api.Redaction, error) {
	var out api.Redaction
	if err := c.callJSON(ctx, http.MethodGet, "/v1/redactions/"+seg(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RedactionResult downloads a done job's sealed result (owner), at most
// api.MaxRedactionResult bytes.
func (c *Client) RedactionResult(ctx context.Context, id string) ([]byte, error) {
	return c.download(ctx, "/v1/redactions/"+seg(id)+"/result", api.MaxRedactionResult)
}

// HubRedactions takes the pending jobs of this hub's cameras (hub). With
// wait > 0 the service holds the request until one arrives or wait passes
// (it caps wait at 30 s), so an empty answer is normal. Jobs handed out
// are running: the hub must finish or fail each.
func (c *Client) HubRedactions(ctx context.Context, wait time.Duration) ([]api.HubRedaction, error) {
	r := request{method: http.MethodGet, path: "/v1/hub/redactions"}
	if wait > 0 {
		r.query = url.Values{"wait": {wait.String()}}
	}
	var out api.HubRedactions
	if err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return out.Jobs, nil
}

// HubObject downloads the ciphertext of an object of one of this hub's
// cameras (hub), at most MaxObject bytes.
func (c *Client) HubObject(ctx context.Context, id string) ([]byte, error) {
	return c.download(ctx, "/v1/hub/objects/"+seg(id), MaxObject)
}

// PutRedactionResult uploads a running job's sealed result (hub).
func (c *Client) PutRedactionResult(ctx context.Context, id string, sealed []byte) error {
	hdr := http.Header{}
	hdr.Set(api.HeaderSHA256, sha256Hex(sealed))
	r := request{method: http.MethodPut, path: "/v1/hub/redactions/" + seg(id) + "/result", body: sealed,
		ctype: "application/octet-stream", header: hdr}
	return c.call(ctx, r, nil)
}

// FailRedaction tells the owner why a running job failed (hub).
func (c *Client) FailRedaction(ctx context.Context, id, reason string) error {
	return c.callJSON(ctx, http.MethodPost, "/v1/hub/redactions/"+seg(id)+"/fail", api.RedactionFail{Error: reason}, nil)
}

// download reads a binary answer of at most limit bytes.
func (c *Client) download(ctx context.Context, path string, limit int64) ([]byte, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: path})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("GET %s: %d bytes is more than %d", path, resp.ContentLength, limit)
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, &transportError{fmt.Errorf("GET %s: %w", path, err)}
	}
	if n > limit {
		return nil, fmt.Errorf("GET %s: more than %d bytes", path, limit)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return nil, &transportError{fmt.Errorf("GET %s: got %d of %d bytes", path, n, resp.ContentLength)}
	}
	return buf.Bytes(), nil
}
