package apiclient

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/porchlight/porchlight/internal/api"
)

// ErrStreamEnded means the event stream ended and could not be resumed: the
// service closed it repeatedly or could not be reached. A stream that ends
// because the session ended reports the service's 401 instead.
var ErrStreamEnded = errors.New("event stream ended")

// Event stream limits.
const (
	// maxEventLine bounds one line of the stream, and so one notification.
	maxEventLine = 64 << 10
	// eventResumes is how many times in a row Events reconnects without
	// having received anything before it gives up with ErrStreamEnded.
	eventResumes = 3
)

// Events streams the account's notifications with a sequence number above
// after, as the service sends them (GET /v1/events, text/event-stream), until
// ctx ends or the stream does. When the service closes the stream, Events
// reconnects with Last-Event-ID so nothing is missed; a reconnection the
// service refuses ends the sequence with that error (a 401 once the session
// has ended: the service closes its streams within a second). The sequence
// always ends with a non-nil error: ctx's when it was cancelled, else why the
// stream ended (*Error, ErrStreamEnded or a decoding failure).
//
// The stream is read without the HTTP client's overall timeout.
func (c *Client) Events(ctx context.Context, after int64) iter.Seq2[api.Notification, error] {
	return func(yield func(api.Notification, error) bool) {
		hc := *c.httpClient()
		hc.Timeout = 0
		last := after
		idle := 0 // consecutive streams that brought nothing
		for {
			got, stop, err := c.stream(ctx, &hc, &last, yield)
			if stop {
				return
			}
			if ctx.Err() != nil {
				yield(api.Notification{}, fmt.Errorf("GET /v1/events: %w", ctx.Err()))
				return
			}
			var e *Error
			if errors.As(err, &e) && !IsRetryable(err) {
				yield(api.Notification{}, err)
				return
			}
			if got {
				idle = 0
			} else {
				idle++
			}
			if idle >= eventResumes {
				yield(api.Notification{}, fmt.Errorf("GET /v1/events: %w (%v)", ErrStreamEnded, err))
				return
			}
			t := time.NewTimer(time.Duration(idle) * 500 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
	}
}

// stream reads one connection of the event stream. got reports whether
// anything (an event or a keep-alive) arrived; stop that yield asked to stop
// or that the answer cannot be an event stream (the error already yielded). err says why the
// connection ended.
func (c *Client) stream(ctx context.Context, hc *http.Client, last *int64, yield func(api.Notification, error) bool) (got, stop bool, err error) {
	r := request{method: http.MethodGet, path: "/v1/events", header: http.Header{"Accept": {"text/event-stream"}}}
	if *last > 0 {
		r.header.Set("Last-Event-ID", strconv.FormatInt(*last, 10))
	}
	resp, err := c.send(ctx, r, c.token(), hc)
	if err != nil {
		return false, false, err
	}
	defer resp.Body.Close()
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		err := fmt.Errorf("GET /v1/events: the service answered %q, not an event stream (is a proxy in the way?)", mt)
		yield(api.Notification{}, err)
		return false, true, err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 4096), maxEventLine)
	var event, id string
	var data strings.Builder
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			if data.Len() == 0 {
				event, id = "", ""
				continue
			}
			n, err := decodeEvent(event, id, data.String())
			event, id = "", ""
			data.Reset()
			if err != nil {
				yield(api.Notification{}, err)
				return true, true, err
			}
			if n == nil {
				continue // an event type this client does not know
			}
			if n.Seq > *last {
				*last = n.Seq
			}
			if !yield(*n, nil) {
				return true, true, nil
			}
			continue
		}
		got = true
		if strings.HasPrefix(line, ":") {
			continue // a comment: keep-alive
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			event = value
		case "id":
			id = value
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			if data.Len() > maxEventLine {
				return got, false, fmt.Errorf("GET /v1/events: an event larger than %d bytes", maxEventLine)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return got, false, &transportError{fmt.Errorf("GET /v1/events: read: %w", err)}
	}
	return got, false, errors.New("GET /v1/events: the service closed the stream")
}

// decodeEvent decodes one dispatched event; it returns nil for event types
// other than notifications.
func decodeEvent(event, id, data string) (*api.Notification, error) {
	if event != "" && event != "notification" && event != "message" {
		return nil, nil
	}
	var n api.Notification
	if err := json.Unmarshal([]byte(data), &n); err != nil {
		return nil, fmt.Errorf("GET /v1/events: decode notification: %w", err)
	}
	if n.Seq == 0 && id != "" {
		if seq, err := strconv.ParseInt(id, 10, 64); err == nil {
			n.Seq = seq
		}
	}
	return &n, nil
}
