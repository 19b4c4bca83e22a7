package apiclient

import (
	"context"
	"net/http"

	"github.com/porchlight/porchlight/internal/api"
)

// PutWraps gives devices of the household's latest roster an epoch's key
// (owner only): each wrap is added or replaces that device's. The service
// answers 400 naming a device that is not in the latest roster or may not
// see the epoch's camera.
func (c *Client) PutWraps(ctx context.Context, epochID string, wraps []api.Wrap) error {
	return c.callJSON(ctx, http.MethodPut, "/v1/epochs/"+seg(epochID)+"/wraps", api.WrapsPut{Wraps: wraps}, nil)
}
