package apiclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/porchlight/porchlight/internal/api"
)

const secretToken = "pls_THISisAsecretTOKENthatMUSTneverAPPEARinERRORS00"

func TestErrorsAndRetry(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer "+secretToken {
			t.Errorf("Authorization = %q", got)
		}
		switch r.URL.Path {
		case "/v1/me":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"code":"conflict","message":"upload the listed objects first","id":"err123"}`)
		case "/v1/roster":
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "<html>proxy error</html>")
		case "/v1/cameras":
			fmt.Fprint(w, `[{"id":"abcdefghijklmnopqrstuvwxyz","retention_days":3}]`)
		case "/v1/objects/big":
			w.Header().Set("Content-Length", fmt.Sprint(MaxObject+1))
			w.WriteHeader(http.StatusOK)
		case "/v1/objects/short":
			w.Header().Set("Content-Length", "10")
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, "12345")
		default:
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	defer srv.Close()
	c := New(srv.URL+"/", secretToken)
	ctx := t.Context()

	_, err := c.Me(ctx)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Me: %T %v, want *Error", err, err)
	}
	if diff := cmp.Diff(&Error{Status: 409, Code: "conflict", Message: "upload the listed objects first", ID: "err123"}, e); diff != "" {
		t.Errorf("Error (-want +got):\n%s", diff)
	}
	if msg := err.Error(); !strings.Contains(msg, "upload the listed objects first") || !strings.Contains(msg, "err123") || !strings.Contains(msg, "409") {
		t.Errorf("error message %q lacks the service's message, id or status", msg)
	}
	if !IsStatus(err, 409) || IsStatus(err, 404) || IsRetryable(err) {
		t.Error("409: IsStatus/IsRetryable wrong")
	}

	_, err = c.Roster(ctx)
	if !IsStatus(err, 502) || !IsRetryable(err) || !strings.Contains(err.Error(), "bad gateway") {
		t.Errorf("502 with a non-JSON body: %v", err)
	}

	cams, err := c.Cameras(ctx)
	if err != nil || len(cams) != 1 || cams[0].RetentionDays != 3 {
		t.Errorf("Cameras = %+v, %v", cams, err)
	}
	if _, err := c.Object(ctx, "big"); err == nil {
		t.Error("an object larger than MaxObject was accepted")
	}
	if _, err := c.Object(ctx, "short"); err == nil {
		t.Error("a truncated object was accepted")
	}
	for _, err := range []error{err, e} {
		if err != nil && strings.Contains(err.Error(), secretToken) {
			t.Errorf("error %q contains the token", err)
		}
	}
}

func TestIsRetryable(t *testing.T) {
	// A closed port: a network error, retryable, without the token.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, netErr := New("http://"+addr, secretToken).Me(t.Context())
	if netErr == nil || !IsRetryable(netErr) || strings.Contains(netErr.Error(), secretToken) {
		t.Errorf("network error: %v (retryable %v)", netErr, IsRetryable(netErr))
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, cancelled := New("http://"+addr, secretToken).Me(ctx)

	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"network", netErr, true},
		{"cancelled", cancelled, false},
		{"500", &Error{Status: 500}, true},
		{"503", &Error{Status: 503}, true},
		{"429", &Error{Status: 429}, true},
		{"408", &Error{Status: 408}, true},
		{"400", &Error{Status: 400}, false},
		{"401", &Error{Status: 401}, false},
		{"409", &Error{Status: 409}, false},
		{"413", &Error{Status: 413}, false},
		{"wrapped 503", fmt.Errorf("upload: %w", &Error{Status: 503}), true},
		{"plain", errors.New("decode response"), false},
	} {
		if got := IsRetryable(tc.err); got != tc.want {
			t.Errorf("IsRetryable(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPutObjectHeaders(t *testing.T) {
	body := []byte("age-encryption.org/v1\n...")
	at := time.Date(2026, 3, 1, 12, 34, 56, 0, time.FixedZone("x", 3600))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		want := map[string]string{
			api.HeaderCamera: "cam", api.HeaderEpoch: "ep", api.HeaderKind: api.ObjectManifest,
			api.HeaderTime: "2026-03-01T11:34:56Z", api.HeaderSHA256: sha256Hex(body), api.HeaderRefs: "a,b",
		}
		for k, v := range want {
			if r.Header.Get(k) != v {
				t.Errorf("%s = %q, want %q", k, r.Header.Get(k), v)
			}
		}
		if r.Method != http.MethodPut || r.URL.Path != "/v1/hub/objects/obj" || string(got) != string(body) || r.ContentLength != int64(len(body)) {
			t.Errorf("%s %s (%d bytes, CL %d)", r.Method, r.URL.Path, len(got), r.ContentLength)
		}
		fmt.Fprint(w, `{"id":"obj","existed":true}`)
	}))
	defer srv.Close()
	res, err := New(srv.URL, "plh_x").PutObject(t.Context(), "obj", ObjectMeta{Camera: "cam", Epoch: "ep", Kind: api.ObjectManifest, Time: at, Refs: []string{"a", "b"}}, body)
	if err != nil || !res.Existed || res.ID != "obj" {
		t.Errorf("PutObject = %+v, %v", res, err)
	}
}
