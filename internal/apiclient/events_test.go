package apiclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/api"
)

// sseService serves /v1/events from a script: one function per connection.
type sseService struct {
	mu    sync.Mutex
	conns []func(w http.ResponseWriter, r *http.Request)
	n     int
	ids   []string // Last-Event-ID of each connection
}

func (s *sseService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := s.n
	s.n++
	s.ids = append(s.ids, r.Header.Get("Last-Event-ID"))
	s.mu.Unlock()
	if r.Header.Get("Accept") != "text/event-stream" {
		http.Error(w, "want an event stream", http.StatusNotAcceptable)
		return
	}
	if i >= len(s.conns) {
		writeError(w, http.StatusUnauthorized, "unauthorized", "session ended or unknown: sign in again")
		return
	}
	s.conns[i](w, r)
}

func streamHead(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
}

func event(w http.ResponseWriter, seq int64, kind string) {
	fmt.Fprintf(w, "event: notification\nid: %d\ndata: {\"seq\":%d,\"kind\":%q}\n\n", seq, seq, kind)
	w.(http.Flusher).Flush()
}

func collect(t *testing.T, c *Client, ctx context.Context, after int64) ([]api.Notification, error) {
	t.Helper()
	var got []api.Notification
	for n, err := range c.Events(ctx, after) {
		if err != nil {
			return got, err
		}
		got = append(got, n)
	}
	t.Fatal("Events ended without an error")
	return nil, nil
}

// TestEventsResume: the stream is parsed (comments, unknown events, CRLF,
// split data lines), resumed with Last-Event-ID when the service closes it,
// and ends with the service's 401 once the session is gone.
func TestEventsResume(t *testing.T) {
	svc := &sseService{conns: []func(http.ResponseWriter, *http.Request){
		func(w http.ResponseWriter, r *http.Request) {
			streamHead(w)
			fmt.Fprint(w, ": ping\n\n")
			event(w, 1, api.NoticeNewSignIn)
			fmt.Fprint(w, "event: other\ndata: {\"seq\":99}\n\n")
			fmt.Fprint(w, "event: notification\r\nid: 2\r\ndata: {\"seq\":2,\r\ndata: \"kind\":\"password_changed\"}\r\n\r\n")
		},
		func(w http.ResponseWriter, r *http.Request) {
			streamHead(w)
			event(w, 3, api.NoticeFactorChange)
		},
	}}
	srv := httptest.NewServer(svc)
	defer srv.Close()
	got, err := collect(t, New(srv.URL, "pls_x"), t.Context(), 0)
	if !IsStatus(err, http.StatusUnauthorized) {
		t.Errorf("end of stream: %v, want the 401", err)
	}
	if len(got) != 3 || got[0].Kind != api.NoticeNewSignIn || got[1].Seq != 2 || got[1].Kind != api.NoticePasswordChange || got[2].Seq != 3 {
		t.Errorf("notifications: %+v", got)
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if fmt.Sprint(svc.ids) != "[ 2 3]" {
		t.Errorf("Last-Event-ID of each connection: %q", svc.ids)
	}
}

func TestEventsAfter(t *testing.T) {
	svc := &sseService{}
	srv := httptest.NewServer(svc)
	defer srv.Close()
	_, err := collect(t, New(srv.URL, "pls_x"), t.Context(), 41)
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if !IsStatus(err, http.StatusUnauthorized) || svc.ids[0] != "41" {
		t.Errorf("err %v, Last-Event-ID %q", err, svc.ids)
	}
}

func TestEventsCancel(t *testing.T) {
	svc := &sseService{conns: []func(http.ResponseWriter, *http.Request){
		func(w http.ResponseWriter, r *http.Request) {
			streamHead(w)
			event(w, 1, api.NoticeNewSignIn)
			<-r.Context().Done()
		},
	}}
	srv := httptest.NewServer(svc)
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	start := time.Now()
	var n int
	var err error
	for _, err = range New(srv.URL, "pls_x").Events(ctx, 0) {
		if err != nil {
			break
		}
		n++
		cancel()
	}
	if n != 1 || !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Errorf("after cancel: %d notifications, err %v, %v", n, err, time.Since(start))
	}

	// Stopping the loop early closes the stream without an error.
	svc2 := &sseService{conns: svc.conns}
	srv2 := httptest.NewServer(svc2)
	defer srv2.Close()
	for n, err := range New(srv2.URL, "pls_x").Events(t.Context(), 0) {
		if err != nil || n.Seq != 1 {
			t.Errorf("first: %+v, %v", n, err)
		}
		break
	}
}

func TestEventsGivesUp(t *testing.T) {
	closes := func(w http.ResponseWriter, r *http.Request) { streamHead(w) }
	svc := &sseService{conns: []func(http.ResponseWriter, *http.Request){closes, closes, closes, closes}}
	srv := httptest.NewServer(svc)
	defer srv.Close()
	_, err := collect(t, New(srv.URL, "pls_x"), t.Context(), 0)
	svc.mu.Lock()
	n := svc.n
	svc.mu.Unlock()
	if !errors.Is(err, ErrStreamEnded) || n != eventResumes {
		t.Errorf("err %v after %d connections", err, n)
	}

	bad := &sseService{conns: []func(http.ResponseWriter, *http.Request){
		func(w http.ResponseWriter, r *http.Request) {
			streamHead(w)
			fmt.Fprint(w, "data: {not json\n\n")
		},
	}}
	srv2 := httptest.NewServer(bad)
	defer srv2.Close()
	if _, err := collect(t, New(srv2.URL, "pls_x"), t.Context(), 0); err == nil || IsStatus(err, 401) {
		t.Errorf("malformed event: %v", err)
	}

	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<html>")
	}))
	defer html.Close()
	if _, err := collect(t, New(html.URL, "pls_x"), t.Context(), 0); err == nil || !strings.Contains(err.Error(), "not an event stream") {
		t.Errorf("not an event stream: %v", err)
	}
}
