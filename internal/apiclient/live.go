package apiclient

// Live view: the viewer asks for a live view and opens its WebSocket; the
// hub long-polls for requests and opens its own WebSocket per request.
// porchlightd relays the hub's messages to the viewer unchanged. Both
// sockets authenticate with the bearer token.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/porchlight/porchlight/internal/api"
)

// MaxLiveMessage bounds one message a live socket reads (the hub's first
// media message may carry a whole group of pictures).
const MaxLiveMessage = 32 << 20

// StartLive asks for a live view of camera encrypted to device, which must
// be the device this client's session signed in with. Open the answer's
// socket with DialLive before its ExpiresAt.
func (c *Client) StartLive(ctx context.Context, camera, device string) (*api.LiveSession, error) {
	var out api.LiveSession
	if err := c.callJSON(ctx, http.MethodPost, "/v1/cameras/"+seg(camera)+"/live", api.LiveStart{DeviceID: device}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DialLive opens the viewer's WebSocket of live view id (GET
// /v1/live/{id}). Its first messages are porchlightd's status messages
// (api.LiveStatus), then the hub's hello and fragments; a close carries one
// of the api.LiveClosed* codes (websocket.CloseStatus reads it). Messages
// up to MaxLiveMessage are read.
func (c *Client) DialLive(ctx context.Context, id string) (*websocket.Conn, error) {
	return c.dialWS(ctx, "/v1/live/"+seg(id))
}

// HubLiveRequests returns the live views waiting for this hub (GET
// /v1/hub/live). With wait > 0 the service holds the request until one
// arrives or wait passes (it caps wait at 30 s), so an empty answer is
// normal. A request stays listed until the hub opens its socket or it
// expires; hubs skip the ids they already serve.
func (c *Client) HubLiveRequests(ctx context.Context, wait time.Duration) ([]api.LiveRequest, error) {
	r := request{method: http.MethodGet, path: "/v1/hub/live"}
	if wait > 0 {
		r.query = url.Values{"wait": {wait.String()}}
	}
	var out api.LiveRequests
	if err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return out.Requests, nil
}

// DialHubLive opens the hub's WebSocket for live request id (GET
// /v1/hub/live/{id}). Everything the hub writes goes to the viewer
// unchanged (text as text, binary as binary); the service closes the
// socket when the viewer leaves. The hub reads nothing but the close.
func (c *Client) DialHubLive(ctx context.Context, id string) (*websocket.Conn, error) {
	return c.dialWS(ctx, "/v1/hub/live/"+seg(id))
}

// dialWS opens a WebSocket at path with the bearer token, over HTTP/1.1
// (the upgrade does not exist in HTTP/2), without compression (the
// payload is ciphertext).
func (c *Client) dialWS(ctx context.Context, path string) (*websocket.Conn, error) {
	u := strings.TrimRight(c.BaseURL, "/") + path
	switch {
	case strings.HasPrefix(u, "https://"):
		u = "wss://" + strings.TrimPrefix(u, "https://")
	case strings.HasPrefix(u, "http://"):
		u = "ws://" + strings.TrimPrefix(u, "http://")
	}
	h := http.Header{}
	ua := c.UserAgent
	if ua == "" {
		ua = "porchlight-apiclient"
	}
	h.Set("User-Agent", ua)
	if tok := c.token(); tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	hc := *c.httpClient()
	hc.Timeout = 0
	if t, ok := hc.Transport.(*http.Transport); ok {
		t = t.Clone()
		t.Protocols = new(http.Protocols)
		t.Protocols.SetHTTP1(true)
		t.ForceAttemptHTTP2 = false
		hc.Transport = t
	}
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{
		HTTPClient: &hc, HTTPHeader: h, CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode/100 != 1 {
			return nil, readError(resp)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("GET %s: %w", path, ctx.Err())
		}
		return nil, &transportError{fmt.Errorf("GET %s: %w", path, err)}
	}
	conn.SetReadLimit(MaxLiveMessage)
	return conn, nil
}

// LiveClose returns the close code and reason of a live socket's read
// error, or -1 and "" if the socket did not end with a close message.
func LiveClose(err error) (code websocket.StatusCode, reason string) {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Reason
	}
	return -1, ""
}
