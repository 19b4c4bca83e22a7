package apiclient

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/porchlight/porchlight/internal/api"
)

// MaxFeedMedia bounds a downloaded feed MP4.
const MaxFeedMedia = 64 << 20

// Publish posts a redacted clip to the neighbours feed (owner): the
// owner-signed seal.Publication and exactly the MP4 it names. 400 means
// the service refused the record or the file; nothing was stored.
func (c *Client) Publish(ctx context.Context, record, media []byte) (*api.FeedPost, error) {
	var out api.FeedPost
	if err := c.callJSON(ctx, http.MethodPost, "/v1/feed/posts", api.FeedPostCreate{Record: record, Media: media}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Feed lists the published posts in a 6-character cell and radius rings
// of neighbouring cells around it (radius < 0: the service's default),
// newest first.
func (c *Client) Feed(ctx context.Context, cell string, radius int) (*api.Feed, error) {
	q := url.Values{"cell": {cell}}
	if radius >= 0 {
		q.Set("radius", strconv.Itoa(radius))
	}
	var out api.Feed
	if err := c.call(ctx, request{method: http.MethodGet, path: "/v1/feed", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// MyPosts lists the household's own posts, ended ones included (owner).
func (c *Client) MyPosts(ctx context.Context) ([]api.FeedPost, error) {
	var out api.Feed
	if err := c.call(ctx, request{method: http.MethodGet, path: "/v1/feed", query: url.Values{"mine": {"1"}}}, &out); err != nil {
		return nil, err
	}
	return out.Posts, nil
}

// FeedPost returns one post; 410 (IsStatus(err, http.StatusGone)) once it
// was withdrawn or removed.
func (c *Client) FeedPost(ctx context.Context, id string) (*api.FeedPost, error) {
	var out api.FeedPost
	if err := c.callJSON(ctx, http.MethodGet, "/v1/feed/posts/"+seg(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// FeedMedia downloads a post's public MP4.
func (c *Client) FeedMedia(ctx context.Context, id string) ([]byte, error) {
	path := "/v1/feed/posts/" + seg(id) + "/media"
	resp, err := c.do(ctx, request{method: http.MethodGet, path: path, header: http.Header{"Accept": {"video/mp4"}}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > MaxFeedMedia {
		return nil, fmt.Errorf("GET %s: %d bytes is larger than %d", path, resp.ContentLength, MaxFeedMedia)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(resp.Body, MaxFeedMedia+1)); err != nil {
		return nil, &transportError{fmt.Errorf("GET %s: %w", path, err)}
	}
	if buf.Len() > MaxFeedMedia {
		return nil, fmt.Errorf("GET %s: larger than %d bytes", path, MaxFeedMedia)
	}
	return buf.Bytes(), nil
}

// Withdraw withdraws one of the household's posts (owner): its public MP4
// is deleted and the post answers 410.
func (c *Client) Withdraw(ctx context.Context, id string) (*api.FeedPost, error) {
	var out api.FeedPost
	if err := c.callJSON(ctx, http.MethodDelete, "/v1/feed/posts/"+seg(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReportPost reports a post to the service's moderators.
func (c *Client) ReportPost(ctx context.Context, id, reason string) error {
	return c.callJSON(ctx, http.MethodPost, "/v1/feed/posts/"+seg(id)+"/report", api.FeedReason{Reason: reason}, nil)
}

// FeedReports lists the reports of published posts (operator).
func (c *Client) FeedReports(ctx context.Context) ([]api.FeedReport, error) {
	var out api.FeedReports
	if err := c.callJSON(ctx, http.MethodGet, "/v1/ops/feed/reports", nil, &out); err != nil {
		return nil, err
	}
	return out.Reports, nil
}

// RemovePost removes a post with a reason (operator).
func (c *Client) RemovePost(ctx context.Context, id, reason string) (*api.FeedPost, error) {
	var out api.FeedPost
	if err := c.callJSON(ctx, http.MethodPost, "/v1/ops/feed/posts/"+seg(id)+"/remove", api.FeedReason{Reason: reason}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
