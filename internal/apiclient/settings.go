package apiclient

import (
	"context"
	"net/http"
	"net/url"

	"github.com/porchlight/porchlight/internal/api"
)

// PutCameraSettings stores a camera's sealed settings (owner). A version
// not newer than the stored one is a 409.
func (c *Client) PutCameraSettings(ctx context.Context, camera string, in api.CameraSettings) error {
	return c.callJSON(ctx, http.MethodPut, "/v1/cameras/"+url.PathEscape(camera)+"/settings", in, nil)
}

// CameraSettings returns a camera's newest sealed settings (owner); 404 if
// none were set.
func (c *Client) CameraSettings(ctx context.Context, camera string) (*api.CameraSettings, error) {
	var out api.CameraSettings
	if err := c.callJSON(ctx, http.MethodGet, "/v1/cameras/"+url.PathEscape(camera)+"/settings", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// HubCameraSettings is CameraSettings for the camera's hub.
func (c *Client) HubCameraSettings(ctx context.Context, camera string) (*api.CameraSettings, error) {
	var out api.CameraSettings
	if err := c.callJSON(ctx, http.MethodGet, "/v1/hub/cameras/"+url.PathEscape(camera)+"/settings", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
