package apiclient

import (
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckBaseURL(t *testing.T) {
	for _, tc := range []struct {
		url      string
		insecure bool
		want     string // "" means allowed
	}{
		{"https://cams.example.org", false, ""},
		{"https://203.0.113.7:8443/", false, ""},
		{"http://127.0.0.1:8080", false, ""},
		{"http://127.9.9.9", false, ""},
		{"http://[::1]:8080", false, ""},
		{"http://localhost:8080", false, ""},
		{"http://LOCALHOST.:8080", false, ""},
		{"http://[::ffff:127.0.0.1]:80", false, ""},
		{"http://cams.example.org", true, ""},
		{"http://192.168.1.5:8080", true, ""},
		{"http://cams.example.org", false, `server URL "http://cams.example.org" uses plain HTTP to cams.example.org, which is not this machine`},
		{"http://192.168.1.5:8080", false, "use https://"},
		{"http://[2001:db8::1]:8080", false, "pass --insecure-http only if that network is trusted"},
		{"http://localhost.example.org", false, "not this machine"},
		{"http://0.0.0.0:8080", false, "not this machine"},
		{"ftp://cams.example.org", false, `server URL "ftp://cams.example.org": want https://host[:port]`},
		{"cams.example.org:8080", true, "want https://host[:port]"},
		{"https://", false, "want https://host[:port]"},
		{"", false, "want https://host[:port]"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			err := CheckBaseURL(tc.url, tc.insecure)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("CheckBaseURL(%q, %v) = %v, want nil", tc.url, tc.insecure, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("CheckBaseURL(%q, %v) = %v, want an error containing %q", tc.url, tc.insecure, err, tc.want)
			}
		})
	}
}

func TestNewHTTPClientTrustsCAFile(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	hc, err := NewHTTPClient(caFile)
	if err != nil {
		t.Fatal(err)
	}
	c := New(srv.URL, "")
	c.HTTP = hc
	if err := c.Healthz(t.Context()); err != nil {
		t.Errorf("healthz with the CA file: %v", err)
	}

	// Without the CA file the test server's certificate is not trusted.
	hc, err = NewHTTPClient("")
	if err != nil {
		t.Fatal(err)
	}
	c.HTTP = hc
	if err := c.Healthz(t.Context()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("healthz without the CA file: %v, want a certificate error", err)
	}

	notPEM := filepath.Join(dir, "ca.der")
	if err := os.WriteFile(notPEM, srv.Certificate().Raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewHTTPClient(notPEM); !errors.Is(err, errNoPEMCerts) {
		t.Errorf("DER file: %v, want errNoPEMCerts", err)
	}
	if _, err := NewHTTPClient(filepath.Join(dir, "missing.pem")); err == nil || !strings.Contains(err.Error(), "read CA file") {
		t.Errorf("missing file: %v", err)
	}
}

// TestNewHTTPClientMatchesDefault: the client NewHTTPClient builds keeps the
// timeouts of the default one.
func TestNewHTTPClientMatchesDefault(t *testing.T) {
	hc, err := NewHTTPClient("")
	if err != nil {
		t.Fatal(err)
	}
	got, want := hc.Transport.(*http.Transport), defaultHTTP.Transport.(*http.Transport)
	for _, f := range []struct {
		name      string
		got, want time.Duration
	}{
		{"Timeout", hc.Timeout, defaultHTTP.Timeout},
		{"TLSHandshakeTimeout", got.TLSHandshakeTimeout, want.TLSHandshakeTimeout},
		{"ResponseHeaderTimeout", got.ResponseHeaderTimeout, want.ResponseHeaderTimeout},
		{"ExpectContinueTimeout", got.ExpectContinueTimeout, want.ExpectContinueTimeout},
		{"IdleConnTimeout", got.IdleConnTimeout, want.IdleConnTimeout},
	} {
		if f.got != f.want {
			t.Errorf("%s = %v, want %v as in defaultHTTP", f.name, f.got, f.want)
		}
	}
	if got.MaxIdleConnsPerHost != want.MaxIdleConnsPerHost || got.ForceAttemptHTTP2 != want.ForceAttemptHTTP2 || got.Proxy == nil {
		t.Errorf("transport differs from defaultHTTP's")
	}
	if got.TLSClientConfig == nil || got.TLSClientConfig.MinVersion < 0x0303 {
		t.Errorf("TLS minimum is not 1.2")
	}
}
