package apiclient

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/transparency-dev/tessera/api/layout"

	"github.com/porchlight/porchlight/internal/api"
)

// Size bounds of the transparency log's raw answers.
const (
	// MaxCheckpoint bounds a checkpoint (a signed note of a few lines).
	MaxCheckpoint = 64 << 10
	// MaxTile bounds a hash tile: 256 hashes of 32 bytes.
	MaxTile = 256 * 32
)

// LogInfo returns how to verify the service's transparency log: its origin
// and checkpoint verifier key (GET /v1/log).
func (c *Client) LogInfo(ctx context.Context) (*api.LogInfo, error) {
	var out api.LogInfo
	if err := c.callJSON(ctx, http.MethodGet, "/v1/log", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// LogCheckpoint returns the log's latest published checkpoint, a signed
// note (GET /v1/log/checkpoint). Verify it before use.
func (c *Client) LogCheckpoint(ctx context.Context) ([]byte, error) {
	return c.raw(ctx, "/v1/log/checkpoint", MaxCheckpoint)
}

// LogTile returns a tlog-tiles hash tile of the log (GET
// /v1/log/tile/{level}/{index}[.p/{width}]): p is the width of a partial
// tile, 0 for a full one. Its hashes prove nothing by themselves: check
// them with a proof against a verified checkpoint.
func (c *Client) LogTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	// layout.TilePath is "tile/L/N[.p/W]"; the route serves what follows "tile/".
	path := "/v1/log/" + layout.TilePath(level, index, p)
	return c.raw(ctx, path, MaxTile)
}

// Audit returns a page of the household's audit log entries with index ≥
// from (owner), at most limit (0: the service's default), with the
// checkpoint that covers them (GET /v1/audit).
func (c *Client) Audit(ctx context.Context, from uint64, limit int) (*api.AuditList, error) {
	q := url.Values{"from": {strconv.FormatUint(from, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out api.AuditList
	if err := c.call(ctx, request{method: http.MethodGet, path: "/v1/audit", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// raw GETs a small non-JSON answer of at most limit bytes.
func (c *Client) raw(ctx context.Context, path string, limit int64) ([]byte, error) {
	r := request{method: http.MethodGet, path: path, header: http.Header{"Accept": {"*/*"}}}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, &transportError{fmt.Errorf("GET %s: read response: %w", path, err)}
	}
	if n > limit {
		return nil, fmt.Errorf("GET %s: response larger than %d bytes", path, limit)
	}
	return buf.Bytes(), nil
}
