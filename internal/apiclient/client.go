// Package apiclient is the typed Go client of porchlightd's HTTP API, used by
// the hub and the porchlight CLI. One method per route; every body is a type
// of internal/api. It speaks only ciphertext and public keys: it never opens
// anything (that is internal/keys, on the client side).
//
// Errors from the service come back as *Error (status, code, message, the
// service's error id and, on 429, how long to wait); IsRetryable tells an
// uploader whether to try again, and IsReauthRequired a user's client that
// the action needs a fresh sign-in (Client.OnReauthRequired handles that).
// Events reads the account's notification stream. Response sizes are
// bounded, and the bearer token never appears in an error string.
package apiclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/porchlight/porchlight/internal/api"
)

// Size bounds of what the client reads.
const (
	// MaxJSONResponse bounds a JSON response body (a day of manifests with
	// include=data fits comfortably).
	MaxJSONResponse = 256 << 20
	// MaxObject bounds an object download: the service's largest upload
	// (a 64 MiB segment).
	MaxObject = 64 << 20
	// maxErrorBody bounds the body read from a non-2xx response.
	maxErrorBody = 64 << 10
)

// Client talks to one porchlightd. Its zero value is not usable: BaseURL must
// be set. A Client is safe for concurrent use if its fields are not changed
// while requests are in flight; the exception is Token being replaced after
// OnReauthRequired, which the client does under its own lock.
type Client struct {
	// BaseURL is the service's root, e.g. "http://127.0.0.1:8080".
	BaseURL string
	// Token is the bearer token: a user session (pls_…) or a hub token
	// (plh_…). Empty sends no Authorization header.
	Token string
	// UserAgent is sent with each request. It defaults to
	// "porchlight-apiclient"; programs set their own with
	// UserAgent(product, version).
	UserAgent string
	// HTTP is the client used. It defaults to a client with connect, TLS and
	// response-header timeouts and a 10-minute overall bound; callers bound
	// individual calls with their context. Event streams (Events) use it
	// without the overall bound.
	HTTP *http.Client
	// OnReauthRequired, if set, is called when a request is refused with 403
	// reauth_required (IsReauthRequired): it proves the user again (Reauth,
	// then LoginMFA if challenged) and returns the new session token. The
	// client then uses that token from now on and sends the refused request
	// once more. Calls are serialised; a request refused while another call
	// renewed the token is retried with the new one without a second call.
	// If it is nil, the refusal is returned.
	OnReauthRequired func(ctx context.Context) (token string, err error)

	mu       sync.Mutex // guards Token once requests are in flight
	reauthMu sync.Mutex // serialises calls of OnReauthRequired
}

// New returns a client of the service at baseURL with the given token.
func New(baseURL, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token}
}

var defaultHTTP = &http.Client{
	Timeout: 10 * time.Minute,
	Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   8,
		ForceAttemptHTTP2:     true,
	},
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// UserAgent returns the User-Agent of a Porchlight program:
// "product/version (GOOS/GOARCH)", e.g. "porchlight-cli/1.2.0 (linux/amd64)".
// The service shows it, cleaned, as a session's client.
func UserAgent(product, version string) string {
	if version == "" {
		version = "devel"
	}
	return fmt.Sprintf("%s/%s (%s/%s)", product, version, runtime.GOOS, runtime.GOARCH)
}

func (c *Client) token() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Token
}

func (c *Client) setToken(t string) {
	c.mu.Lock()
	c.Token = t
	c.mu.Unlock()
}

// Error is a non-2xx answer of the service. Code, Message and ID are the
// fields of the api.Error body (ID matches the service's log line). Test for
// a status with IsStatus, for retry with IsRetryable and for a needed fresh
// sign-in with IsReauthRequired.
type Error struct {
	Status  int
	Code    string
	Message string
	ID      string
	// RetryAfter is the service's Retry-After (429 and 503): how long to
	// wait before trying again; 0 if it did not say.
	RetryAfter time.Duration
}

// API returns the error as its wire body.
func (e *Error) API() api.Error { return api.Error{Code: e.Code, Message: e.Message, ID: e.ID} }

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = strings.ToLower(http.StatusText(e.Status))
	}
	s := fmt.Sprintf("porchlightd: %s (HTTP %d", msg, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.ID != "" {
		s += ", error id " + e.ID
	}
	return s + ")"
}

// IsStatus reports whether err is (or wraps) an *Error with the given HTTP
// status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// IsReauthRequired reports whether err is (or wraps) the service's 403
// reauth_required: the action needs a sign-in within api.ReauthWindow.
// Re-authenticate (Client.Reauth) and try again; setting
// Client.OnReauthRequired does that automatically.
func IsReauthRequired(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusForbidden && e.Code == api.CodeReauthRequired
}

// RetryAfter returns how long the service asked to wait before trying again
// (the Retry-After of a 429 or 503), or 0 if err carries no such advice.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// IsRetryable reports whether trying the same request again may succeed:
// true for network failures, timeouts, 5xx, 429 and 408; false for other
// 4xx (fix the request instead), for a cancelled context, and for nil.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout ||
			e.Code == api.CodeCorrupt // damaged in transit: the sender's copy may be intact
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var te *transportError
	return errors.As(err, &te)
}

// transportError marks a failure to reach the service or to read its answer.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// request is one call.
type request struct {
	method string
	path   string // already escaped
	query  url.Values
	body   []byte // nil: no body
	ctype  string
	header http.Header
	// noReauth: a refusal is returned even if OnReauthRequired is set (the
	// re-authentication requests themselves).
	noReauth bool
}

// do sends r and returns the response if 2xx; the caller closes its body. A
// reauth_required refusal is answered with OnReauthRequired and one retry.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	tok := c.token()
	resp, err := c.send(ctx, r, tok, c.httpClient())
	if err == nil || r.noReauth || c.OnReauthRequired == nil || !IsReauthRequired(err) {
		return resp, err
	}
	if tok, err = c.renew(ctx, tok); err != nil {
		return nil, err
	}
	return c.send(ctx, r, tok, c.httpClient())
}

// renew calls OnReauthRequired unless another request already replaced the
// token old meanwhile, and returns the token to retry with.
func (c *Client) renew(ctx context.Context, old string) (string, error) {
	c.reauthMu.Lock()
	defer c.reauthMu.Unlock()
	if cur := c.token(); cur != old {
		return cur, nil
	}
	tok, err := c.OnReauthRequired(ctx)
	if err != nil {
		return "", err
	}
	c.setToken(tok)
	return tok, nil
}

// send sends r once with the bearer token tok.
func (c *Client) send(ctx context.Context, r request, tok string, hc *http.Client) (*http.Response, error) {
	u := strings.TrimRight(c.BaseURL, "/") + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	ua := c.UserAgent
	if ua == "" {
		ua = "porchlight-apiclient"
	}
	req.Header.Set("User-Agent", ua)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", r.method, r.path, ctx.Err())
		}
		return nil, &transportError{fmt.Errorf("%s %s: %w", r.method, r.path, err)}
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	return resp, nil
}

func readError(resp *http.Response) error {
	e := &Error{Status: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body api.Error
	if json.Unmarshal(b, &body) == nil {
		e.Code, e.Message, e.ID = body.Code, body.Message, body.ID
	}
	return e
}

// maxRetryAfter bounds a Retry-After the client believes.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date
// (RFC 9110 §10.2.3). It returns 0 for an absent, malformed or past value.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		d = time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, maxRetryAfter))
}

// call sends r and decodes a JSON answer into out (nil: discard).
func (c *Client) call(ctx context.Context, r request, out any) error {
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxJSONResponse+1))
	if err != nil {
		return &transportError{fmt.Errorf("%s %s: read response: %w", r.method, r.path, err)}
	}
	if len(b) > MaxJSONResponse {
		return fmt.Errorf("%s %s: response larger than %d bytes", r.method, r.path, MaxJSONResponse)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", r.method, r.path, err)
	}
	return nil
}

func jsonRequest(method, path string, in any) (request, error) {
	r := request{method: method, path: path}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return r, fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
		r.body, r.ctype = b, "application/json"
	}
	return r, nil
}

func (c *Client) callJSON(ctx context.Context, method, path string, in, out any) error {
	r, err := jsonRequest(method, path, in)
	if err != nil {
		return err
	}
	return c.call(ctx, r, out)
}

func seg(s string) string { return url.PathEscape(s) }

// Healthz checks that the service and its store answer.
func (c *Client) Healthz(ctx context.Context) error {
	var out struct {
		Status string `json:"status"`
	}
	if err := c.callJSON(ctx, http.MethodGet, "/healthz", nil, &out); err != nil {
		return err
	}
	if out.Status != "ok" {
		return fmt.Errorf("GET /healthz: status %q", out.Status)
	}
	return nil
}

// Signup creates an account and its household and returns a session. It
// does not set c.Token.
func (c *Client) Signup(ctx context.Context, in api.SignupRequest) (*api.SessionResponse, error) {
	var out api.SessionResponse
	if err := c.callJSON(ctx, http.MethodPost, "/v1/signup", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Login starts a sign-in: the answer is a session, or (the account has a
// second factor) a challenge to answer with LoginMFA. A 429 carries
// RetryAfter. It does not set c.Token.
func (c *Client) Login(ctx context.Context, in api.LoginRequest) (*api.LoginResponse, error) {
	var out api.LoginResponse
	if err := c.callJSON(ctx, http.MethodPost, "/v1/login", in, &out); err != nil {
		return nil, err
	}
	if out.Session == nil && out.MFA == nil {
		return nil, errors.New("POST /v1/login: the answer has neither a session nor a challenge")
	}
	return &out, nil
}

// Logout ends the session of c.Token.
func (c *Client) Logout(ctx context.Context) error {
	return c.callJSON(ctx, http.MethodPost, "/v1/logout", nil, nil)
}

// Roster returns the household's roster chain, oldest first (empty if none).
func (c *Client) Roster(ctx context.Context) (*api.Roster, error) {
	var out api.Roster
	if err := c.callJSON(ctx, http.MethodGet, "/v1/roster", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AppendRoster appends the next signed roster version (a seal.SignRoster
// envelope). A 409 means another version won the race: fetch and retry.
func (c *Client) AppendRoster(ctx context.Context, signed []byte) error {
	return c.callJSON(ctx, http.MethodPost, "/v1/roster", api.RosterAppend{Signed: signed}, nil)
}

// CreateClaim issues a one-time hub claim code.
func (c *Client) CreateClaim(ctx context.Context) (*api.ClaimCode, error) {
	var out api.ClaimCode
	if err := c.callJSON(ctx, http.MethodPost, "/v1/claims", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ClaimStatus returns the state of a claim code and, once a hub presented
// itself, its keys.
func (c *Client) ClaimStatus(ctx context.Context, code string) (*api.ClaimStatus, error) {
	var out api.ClaimStatus
	if err := c.callJSON(ctx, http.MethodGet, "/v1/claims/"+seg(code), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ConfirmClaim confirms the hub that presented itself for code. Append a
// roster version listing the hub first.
func (c *Client) ConfirmClaim(ctx context.Context, code, hubID string) error {
	return c.callJSON(ctx, http.MethodPost, "/v1/claims/"+seg(code)+"/confirm", api.ClaimConfirm{HubID: hubID}, nil)
}

// Cameras lists the household's cameras.
func (c *Client) Cameras(ctx context.Context) ([]api.Camera, error) {
	var out []api.Camera
	if err := c.callJSON(ctx, http.MethodGet, "/v1/cameras", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateCamera changes a camera's settings.
func (c *Client) UpdateCamera(ctx context.Context, id string, u api.CameraUpdate) error {
	return c.callJSON(ctx, http.MethodPatch, "/v1/cameras/"+seg(id), u, nil)
}

// Epochs lists a camera's epochs with the wrap for deviceID (if any).
func (c *Client) Epochs(ctx context.Context, cameraID, deviceID string) ([]api.Epoch, error) {
	var out []api.Epoch
	r := request{method: http.MethodGet, path: "/v1/cameras/" + seg(cameraID) + "/epochs", query: url.Values{"device": {deviceID}}}
	if err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Manifests lists a camera's manifests whose coarse time is within a minute
// of [from, to], ordered by time; includeData inlines their ciphertext.
func (c *Client) Manifests(ctx context.Context, cameraID string, from, to time.Time, includeData bool) ([]api.ObjectInfo, error) {
	q := url.Values{"from": {from.UTC().Format(time.RFC3339)}, "to": {to.UTC().Format(time.RFC3339)}}
	if includeData {
		q.Set("include", "data")
	}
	var out api.Objects
	r := request{method: http.MethodGet, path: "/v1/cameras/" + seg(cameraID) + "/manifests", query: q}
	if err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return out.Objects, nil
}

// ObjectReader opens an object's ciphertext for streaming and returns its
// size (-1 if the service did not say). The reader stops with an error past
// MaxObject bytes. The caller closes it.
func (c *Client) ObjectReader(ctx context.Context, id string) (io.ReadCloser, int64, error) {
	r := request{method: http.MethodGet, path: "/v1/objects/" + seg(id), header: http.Header{}}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, 0, err
	}
	if resp.ContentLength > MaxObject {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("GET /v1/objects/%s: object of %d bytes is larger than %d", id, resp.ContentLength, MaxObject)
	}
	return &boundedBody{rc: resp.Body, left: MaxObject, path: r.path}, resp.ContentLength, nil
}

// Object downloads an object's ciphertext.
func (c *Client) Object(ctx context.Context, id string) ([]byte, error) {
	rc, size, err := c.ObjectReader(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if size > 0 {
		buf.Grow(int(size))
	}
	if _, err := io.Copy(&buf, rc); err != nil {
		return nil, err
	}
	if size >= 0 && int64(buf.Len()) != size {
		return nil, &transportError{fmt.Errorf("GET /v1/objects/%s: got %d of %d bytes", id, buf.Len(), size)}
	}
	return buf.Bytes(), nil
}

type boundedBody struct {
	rc   io.ReadCloser
	left int64
	path string
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Probe whether there is more than the bound.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("GET %s: object larger than %d bytes", b.path, MaxObject)
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if err != nil && err != io.EOF {
		err = &transportError{fmt.Errorf("GET %s: %w", b.path, err)}
	}
	return n, err
}

func (b *boundedBody) Close() error { return b.rc.Close() }

// PresentHub presents a hub's keys for a claim code (no token needed).
func (c *Client) PresentHub(ctx context.Context, in api.HubPresent) (*api.HubPresented, error) {
	var out api.HubPresented
	if err := c.callJSON(ctx, http.MethodPost, "/v1/hub/claim", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PollHub asks whether the owner confirmed the claim; the answer carries the
// hub token exactly once.
func (c *Client) PollHub(ctx context.Context, in api.HubPoll) (*api.HubPollResponse, error) {
	var out api.HubPollResponse
	if err := c.callJSON(ctx, http.MethodPost, "/v1/hub/claim/poll", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// HubRoster returns the hub's household roster chain (hub token).
func (c *Client) HubRoster(ctx context.Context) (*api.Roster, error) {
	var out api.Roster
	if err := c.callJSON(ctx, http.MethodGet, "/v1/hub/roster", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// HubRosterAfter is HubRoster as a long poll: the service answers as soon
// as the household has more than after versions, or after wait (at most
// 30 s) with the roster as it is.
func (c *Client) HubRosterAfter(ctx context.Context, after uint64, wait time.Duration) (*api.Roster, error) {
	var out api.Roster
	path := fmt.Sprintf("/v1/hub/roster?after=%d&wait=%s", after, wait)
	if err := c.callJSON(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PutCamera creates or updates a camera of this hub (idempotent).
func (c *Client) PutCamera(ctx context.Context, id string, in api.HubCamera) error {
	return c.callJSON(ctx, http.MethodPut, "/v1/hub/cameras/"+seg(id), in, nil)
}

// PutEpoch creates an epoch or adds wraps to it (idempotent).
func (c *Client) PutEpoch(ctx context.Context, id string, in api.EpochPut) error {
	return c.callJSON(ctx, http.MethodPut, "/v1/hub/epochs/"+seg(id), in, nil)
}

// ObjectMeta is the metadata of an object upload, sent as headers.
type ObjectMeta struct {
	Camera string    // camera id
	Epoch  string    // epoch id
	Kind   string    // api.ObjectSegment, ObjectManifest, ObjectEvent or ObjectThumb
	Time   time.Time // segment start (manifest: its first segment's start); the service keeps the minute
	SHA256 string    // hex SHA-256 of the body; computed when empty
	Refs   []string  // manifests: ids of the listed objects
}

// PutObject uploads one object's ciphertext (an age file). Retrying with the
// same id and body is safe: the result then has Existed set.
func (c *Client) PutObject(ctx context.Context, id string, m ObjectMeta, body []byte) (*api.UploadResult, error) {
	return c.putObjectAt(ctx, "/v1/hub/objects/"+seg(id), m, body)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
