package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/server"
)

// config compares the configuration fields only.
var config = cmpopts.IgnoreFields(server.Main{}, "Logger", "Stdout", "Now")

func ignoreState() cmp.Option { return cmpopts.IgnoreUnexported(server.Main{}) }

func TestSampleConfigEqualsDefaults(t *testing.T) {
	var m server.Main
	if err := m.Load("../../docs/porchlightd.sample.toml", func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	d := server.Defaults()
	if diff := cmp.Diff(&d, &m, config, ignoreState(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("docs/porchlightd.sample.toml differs from the defaults (-defaults +sample):\n%s", diff)
	}
	if err := m.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestLoadOrder(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "porchlightd.toml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("listen = \"127.0.0.1:9000\"\ndata_dir = \"/from/file\"\nretention_interval = \"5m\"\n")
	write("listen = \"127.0.0.1:9000\"\ndata_dir = \"/from/file\"\nretention_interval = \"5m\"\n" +
		"tls_cert = \"/file/cert.pem\"\ntls_key = \"/file/key.pem\"\nacme_domains = [\"file.example.org\"]\n" +
		"trusted_proxies = [\"10.0.0.0/8\"]\nsession_idle = \"1h\"\n[login_limits]\nblock = \"1h\"\n")
	env := map[string]string{"PORCHLIGHT_DATA": "/from/env", "PORCHLIGHT_MAX_UPLOADS": "3", "PORCHLIGHT_LOG_FORMAT": "json",
		"PORCHLIGHT_TLS_CERT": "/env/cert.pem", "PORCHLIGHT_ACME_DOMAINS": " a.example.org, ,b.example.org",
		"PORCHLIGHT_ALLOW_PLAIN_HTTP": "true", "PORCHLIGHT_PUBLIC_URL": "https://cams.example.org",
		"PORCHLIGHT_TRUSTED_PROXIES": "192.0.2.1,2001:db8::/32", "PORCHLIGHT_ACME_EMAIL": "ops@example.org"}
	var m server.Main
	if err := m.Load(file, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	want := server.Defaults()
	want.Listen, want.DataDir, want.RetentionInterval, want.MaxUploads, want.LogFormat = "127.0.0.1:9000", "/from/env", 5*time.Minute, 3, "json"
	want.TLSCert, want.TLSKey, want.ACMEDomains = "/env/cert.pem", "/file/key.pem", []string{"a.example.org", "b.example.org"}
	want.AllowPlainHTTP, want.PublicURL, want.ACMEEmail = true, "https://cams.example.org", "ops@example.org"
	want.TrustedProxies, want.SessionIdle, want.LoginLimits.Block = []string{"192.0.2.1", "2001:db8::/32"}, time.Hour, time.Hour
	if diff := cmp.Diff(&want, &m, config, ignoreState()); diff != "" {
		t.Errorf("defaults → file → env (-want +got):\n%s", diff)
	}
	// PORCHLIGHT_LISTEN beats the file.
	env["PORCHLIGHT_LISTEN"] = "127.0.0.1:9999"
	if err := m.Load(file, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	want.Listen = "127.0.0.1:9999"
	if diff := cmp.Diff(&want, &m, config, ignoreState()); diff != "" {
		t.Errorf("defaults → file → env (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		name, file string
		env        map[string]string
		wantErr    string
	}{
		{"unknown key", "listen = \"127.0.0.1:1\"\nlisten_addr = \"x\"\n", nil, "unknown keys: listen_addr"},
		{"bad toml", "listen = \n", nil, "porchlightd.toml"},
		{"bad env duration", "", map[string]string{"PORCHLIGHT_RETENTION_INTERVAL": "often"}, "PORCHLIGHT_RETENTION_INTERVAL"},
		{"bad env number", "", map[string]string{"PORCHLIGHT_MAX_UPLOADS": "many"}, "PORCHLIGHT_MAX_UPLOADS"},
		{"bad env bool", "", map[string]string{"PORCHLIGHT_ALLOW_PLAIN_HTTP": "sure"}, `PORCHLIGHT_ALLOW_PLAIN_HTTP: "sure" is not true or false`},
		{"unknown login_limits key", "[login_limits]\nattempts = 3\n", nil, "unknown keys: login_limits.attempts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			write(tc.file)
			var m server.Main
			err := m.Load(file, func(k string) string { return tc.env[k] })
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Load: %v, want an error mentioning %q", err, tc.wantErr)
			}
		})
	}
	var m2 server.Main
	if err := m2.Load(filepath.Join(dir, "missing.toml"), nil); err == nil {
		t.Error("a missing config file is not an error")
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*server.Main)
		want   string // "" means valid
	}{
		{"defaults", func(*server.Main) {}, ""},
		{"any interface, plain", func(m *server.Main) { m.Listen = ":8080" },
			`listen: ":8080" would serve plain HTTP to other machines, so passwords and tokens would cross the network readable: ` +
				"set tls_cert and tls_key (or acme_domains) to serve HTTPS, or listen on 127.0.0.1 behind a TLS-terminating proxy; " +
				"set allow_plain_http = true only when such a proxy reaches porchlightd over a network you trust"},
		{"LAN address, plain", func(m *server.Main) { m.Listen = "192.168.1.5:8080" }, `listen: "192.168.1.5:8080" would serve plain HTTP`},
		{"any interface, allowed plain", func(m *server.Main) { m.Listen, m.AllowPlainHTTP = ":8080", true }, ""},
		{"any interface, TLS", func(m *server.Main) { m.Listen, m.TLSCert, m.TLSKey = ":8443", "c.pem", "k.pem" }, ""},
		{"any interface, ACME", func(m *server.Main) { m.Listen, m.ACMEDomains = ":443", []string{"cams.example.org"} }, ""},
		{"ipv6 loopback", func(m *server.Main) { m.Listen = "[::1]:8080" }, ""},
		{"127/8", func(m *server.Main) { m.Listen = "127.1.2.3:8080" }, ""},
		{"cert without key", func(m *server.Main) { m.TLSCert = "c.pem" }, "tls_cert and tls_key: set both (the PEM certificate chain and its private key) or neither"},
		{"key without cert", func(m *server.Main) { m.TLSKey = "k.pem" }, "tls_cert and tls_key: set both"},
		{"files and ACME", func(m *server.Main) {
			m.TLSCert, m.TLSKey, m.ACMEDomains = "c.pem", "k.pem", []string{"cams.example.org"}
		},
			"tls_cert and acme_domains: choose one: a certificate from files, or certificates obtained with ACME"},
		{"ACME IP", func(m *server.Main) { m.ACMEDomains = []string{"192.0.2.1"} }, `acme_domains: "192.0.2.1" is not a DNS name such as cams.example.org`},
		{"ACME wildcard", func(m *server.Main) { m.ACMEDomains = []string{"*.example.org"} }, `acme_domains: "*.example.org" is not a DNS name`},
		{"ACME single label", func(m *server.Main) { m.ACMEDomains = []string{"cams"} }, `acme_domains: "cams" is not a DNS name`},
		{"ACME with port", func(m *server.Main) { m.ACMEDomains = []string{"cams.example.org:443"} }, `acme_domains: "cams.example.org:443" is not a DNS name`},
		{"ACME email", func(m *server.Main) {
			m.ACMEDomains, m.ACMEEmail = []string{"cams.example.org"}, "Ops <ops@example.org>"
		},
			`acme_email: "Ops <ops@example.org>" is not an e-mail address such as ops@example.org`},
		{"ACME directory", func(m *server.Main) {
			m.ACMEDomains, m.ACMEDirectoryURL = []string{"cams.example.org"}, "http://ca.example/dir"
		},
			`acme_directory_url: "http://ca.example/dir" is not an https:// URL (the default is Let's Encrypt: https://acme-v02.api.letsencrypt.org/directory)`},
		{"ACME HTTP listen", func(m *server.Main) { m.ACMEDomains, m.ACMEHTTPListen = []string{"cams.example.org"}, ":80" }, ""},
		{"ACME HTTP listen without ACME", func(m *server.Main) { m.ACMEHTTPListen = ":80" },
			"acme_http_listen: only used with acme_domains; remove it, or set acme_domains"},
		{"ACME HTTP listen bad", func(m *server.Main) { m.ACMEDomains, m.ACMEHTTPListen = []string{"cams.example.org"}, "80" },
			`acme_http_listen: "80" is not host:port (e.g. :80)`},
		{"public url", func(m *server.Main) { m.PublicURL = "https://cams.example.org:8443" }, ""},
		{"public url slash", func(m *server.Main) { m.PublicURL = "https://cams.example.org/" }, ""},
		{"public url path", func(m *server.Main) { m.PublicURL = "https://cams.example.org/porchlight" },
			`public_url: "https://cams.example.org/porchlight" must be https://host[:port] with no path, e.g. https://cams.example.org`},
		{"public url no scheme", func(m *server.Main) { m.PublicURL = "cams.example.org" }, `public_url: "cams.example.org" must be https://host[:port]`},
		{"public url http with TLS", func(m *server.Main) { m.PublicURL, m.TLSCert, m.TLSKey = "http://cams.example.org", "c.pem", "k.pem" },
			`public_url: "http://cams.example.org" is http:// but porchlightd serves HTTPS; use https://`},
		{"trusted proxies", func(m *server.Main) { m.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/48"} }, ""},
		{"trusted proxy bad", func(m *server.Main) { m.TrustedProxies = []string{"proxy.internal"} },
			`trusted_proxies: "proxy.internal" is not an address or CIDR prefix such as 10.0.0.0/8 or 192.0.2.7`},
		{"session idle short", func(m *server.Main) { m.SessionIdle = time.Second }, "session_idle: 1s is too short; use at least 1m (default 168h0m0s)"},
		{"session absolute short", func(m *server.Main) { m.SessionAbsolute = -time.Hour }, "session_absolute: -1h0m0s is too short; use at least 1m (default 720h0m0s)"},
		{"session idle over absolute", func(m *server.Main) { m.SessionIdle, m.SessionAbsolute = 48*time.Hour, 24*time.Hour },
			"session_idle: 48h0m0s is longer than session_absolute 24h0m0s, so it never applies (swapped?)"},
		{"account failures", func(m *server.Main) { m.LoginLimits.AccountFailures = 0 }, "login_limits.account_failures: 0 is outside 1 to 10000"},
		{"address failures", func(m *server.Main) { m.LoginLimits.AddressFailures = 20000 }, "login_limits.address_failures: 20000 is outside 1 to 10000"},
		{"device failures", func(m *server.Main) { m.LoginLimits.DeviceFailures = -1 }, "login_limits.device_failures: -1 is outside 1 to 10000"},
		{"window", func(m *server.Main) { m.LoginLimits.Window = 0 }, "login_limits.window: 0s is outside 1s to 24h (default 15m)"},
		{"block", func(m *server.Main) { m.LoginLimits.Block = 48 * time.Hour }, "login_limits.block: 48h0m0s is outside 1s to 24h (default 15m)"},
		{"rp id", func(m *server.Main) { m.PublicURL, m.WebAuthnRPID = "https://cams.example.org", "example.org" }, ""},
		{"rp id localhost", func(m *server.Main) { m.WebAuthnRPID = "localhost" }, ""},
		{"rp id with scheme", func(m *server.Main) { m.WebAuthnRPID = "https://example.org" },
			`webauthn_rp_id: "https://example.org" is not a domain name such as cams.example.org (no scheme or port)`},
		{"rp id elsewhere", func(m *server.Main) { m.PublicURL, m.WebAuthnRPID = "https://cams.example.org", "example.com" },
			`webauthn_rp_id: "example.com" must be public_url's host "cams.example.org" or a domain it is under`},
		{"rp id suffix trick", func(m *server.Main) { m.PublicURL, m.WebAuthnRPID = "https://badexample.org", "example.org" },
			`webauthn_rp_id: "example.org" must be public_url's host "badexample.org"`},
		{"port 0", func(m *server.Main) { m.Listen = "127.0.0.1:0" }, ""},
		{"localhost", func(m *server.Main) { m.Listen = "localhost:8080" }, ""},
		{"no port", func(m *server.Main) { m.Listen = "127.0.0.1" }, `listen: "127.0.0.1" is not host:port`},
		{"bad port", func(m *server.Main) { m.Listen = "127.0.0.1:http" }, `listen: port "http" is not a number from 0 to 65535`},
		{"port too big", func(m *server.Main) { m.Listen = "127.0.0.1:70000" }, `listen: port "70000"`},
		{"hostname", func(m *server.Main) { m.Listen = "example.org:80" }, `listen: host "example.org" must be an IP address`},
		{"no data dir", func(m *server.Main) { m.DataDir = " " }, "data_dir: must name a directory"},
		{"retention too often", func(m *server.Main) { m.RetentionInterval = time.Millisecond }, "retention_interval: 1ms is too short"},
		{"no uploads", func(m *server.Main) { m.MaxUploads = 0 }, "max_uploads: 0 is outside 1 to 1024"},
		{"negative shutdown", func(m *server.Main) { m.ShutdownTimeout = -time.Second }, "shutdown_timeout: -1s is negative"},
		{"log level", func(m *server.Main) { m.LogLevel = "loud" }, `log_level: "loud" is not debug, info, warn or error`},
		{"log format", func(m *server.Main) { m.LogFormat = "xml" }, `log_format: "xml" is not text or json`},
		{"postgres url", func(m *server.Main) { m.Database = "postgres://porchlight@127.0.0.1/porchlight" }, ""},
		{"other database", func(m *server.Main) { m.Database = "mysql://x" }, `database: use "" for SQLite in data_dir, or a postgres:// URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := server.Defaults()
			tc.change(&m)
			err := m.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v, want valid", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
}

func quietLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func TestStartServeClose(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	var out, logs bytes.Buffer
	m := &server.Main{Listen: "127.0.0.1:0", DataDir: data, Stdout: &out, Logger: quietLogger(&logs)}
	addr, err := m.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "porchlightd: listening on http://"+addr+"\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if m.Addr() != addr || strings.HasSuffix(addr, ":0") {
		t.Errorf("Addr = %q, Start = %q", m.Addr(), addr)
	}
	if err := apiclient.New("http://"+addr, "").Healthz(t.Context()); err != nil {
		t.Errorf("healthz: %v", err)
	}
	if _, err := m.Start(t.Context()); err == nil {
		t.Error("second Start succeeded")
	}
	for _, p := range []string{"porchlight.db", "blobs"} {
		if _, err := os.Stat(filepath.Join(data, p)); err != nil {
			t.Errorf("data dir lacks %s: %v", p, err)
		}
	}
	if st, err := os.Stat(data); err == nil && st.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v, want 0700", st.Mode().Perm())
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := apiclient.New("http://"+addr, "").Healthz(t.Context()); err == nil || !apiclient.IsRetryable(err) {
		t.Errorf("healthz after Close: %v, want a retryable network error", err)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var logs bytes.Buffer
	m := &server.Main{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Stdout: io.Discard, Logger: quietLogger(&logs)}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for m.Addr() == "" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := apiclient.New("http://"+m.Addr(), "").Healthz(t.Context()); err != nil {
		t.Fatalf("healthz: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	m := &server.Main{Listen: "nowhere", DataDir: t.TempDir(), Stdout: io.Discard, Logger: quietLogger(io.Discard)}
	if err := m.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "listen:") {
		t.Errorf("Run with a bad listen address: %v", err)
	}
}

// TestOrphanBlobsSweptOnStart: a blob with no metadata row (a crash between
// blob write and row insert) is removed at the next start.
func TestOrphanBlobsSweptOnStart(t *testing.T) {
	data := t.TempDir()
	id := "orphanorphanorphanorphan22"
	p := filepath.Join(data, "blobs", id[0:2], id[2:4], id)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("age-encryption.org/v1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	m := &server.Main{Listen: "127.0.0.1:0", DataDir: data, Stdout: io.Discard, Logger: quietLogger(&logs)}
	if _, err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("orphan blob survived start: %v", err)
	}
	if !strings.Contains(logs.String(), "orphan") {
		t.Errorf("orphan sweep not logged:\n%s", logs.String())
	}
}

// TestCleanRestartSkipsSweep: after a clean stop the next start does not
// walk the blob store (only a crash leaves orphans); after a crash it does.
func TestCleanRestartSkipsSweep(t *testing.T) {
	data := t.TempDir()
	start := func() (*server.Main, *bytes.Buffer) {
		var logs bytes.Buffer
		m := &server.Main{Listen: "127.0.0.1:0", DataDir: data, Stdout: io.Discard, Logger: quietLogger(&logs)}
		if _, err := m.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		return m, &logs
	}
	m, _ := start()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	id := "orphanorphanorphanorphan22"
	p := filepath.Join(data, "blobs", id[0:2], id[2:4], id)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("age-encryption.org/v1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, _ = start()
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("a clean restart swept the blob store: %v", err)
	}
	// Simulate a crash: the marker a clean stop writes is absent at start.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(data, "clean-stop")); err != nil {
		t.Fatal(err)
	}
	m, logs := start()
	defer m.Close()
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("orphan blob survived a start after a crash: %v", err)
	}
	if !strings.Contains(logs.String(), "orphan") {
		t.Errorf("orphan sweep not logged:\n%s", logs.String())
	}
}

func TestVersion(t *testing.T) {
	if v := server.Version(); !strings.HasPrefix(v, "porchlightd ") {
		t.Errorf("Version = %q", v)
	}
}
