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
	if diff := cmp.Diff(&d, &m, config, ignoreState()); diff != "" {
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
	env := map[string]string{"PORCHLIGHT_DATA": "/from/env", "PORCHLIGHT_MAX_UPLOADS": "3", "PORCHLIGHT_LOG_FORMAT": "json"}
	var m server.Main
	if err := m.Load(file, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	want := server.Defaults()
	want.Listen, want.DataDir, want.RetentionInterval, want.MaxUploads, want.LogFormat = "127.0.0.1:9000", "/from/env", 5*time.Minute, 3, "json"
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
		{"any interface", func(m *server.Main) { m.Listen = ":8080" }, ""},
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
