package apiclient

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/porchlight/porchlight/internal/api"
)

// CameraEvents lists a camera's event objects (sealed, hub-signed event
// records, api.ObjectEvent) whose coarse time is within a minute of
// [from, to], ordered by time then id; includeData inlines their
// ciphertext. The caller decrypts and verifies each (seal.VerifyEventFrom)
// and keeps the highest version per event id.
func (c *Client) CameraEvents(ctx context.Context, cameraID string, from, to time.Time, includeData bool) ([]api.ObjectInfo, error) {
	q := url.Values{"from": {from.UTC().Format(time.RFC3339)}, "to": {to.UTC().Format(time.RFC3339)}}
	if includeData {
		q.Set("include", "data")
	}
	var out api.Objects
	r := request{method: http.MethodGet, path: "/v1/cameras/" + seg(cameraID) + "/events", query: q}
	if err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return out.Objects, nil
}
