package apiclient

import (
	"context"
	"net/http"
	"net/url"

	"github.com/porchlight/porchlight/internal/api"
)

// DeleteCameraData deletes a camera's recordings in a time range and/or
// shreds epochs (every wrap of their keys), owner only with a recent
// sign-in, and returns the service's receipt.
func (c *Client) DeleteCameraData(ctx context.Context, cameraID string, d api.CameraDelete) (api.DeletionReceipt, error) {
	var out api.DeletionReceipt
	err := c.callJSON(ctx, http.MethodPost, "/v1/cameras/"+seg(cameraID)+"/delete", d, &out)
	return out, err
}

// RemoveCamera deletes a camera with every object, epoch and key wrap of
// it (owner only, recent sign-in) and returns the service's receipt.
func (c *Client) RemoveCamera(ctx context.Context, cameraID string) (api.DeletionReceipt, error) {
	var out api.DeletionReceipt
	r := request{method: http.MethodDelete, path: "/v1/cameras/" + seg(cameraID), query: url.Values{"shred": {"true"}}}
	err := c.call(ctx, r, &out)
	return out, err
}
