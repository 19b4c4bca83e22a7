package hub

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestSampleConfigEqualsDefaults(t *testing.T) {
	var m Main
	if err := m.LoadFile(filepath.Join("..", "..", "docs", "porchlight-hub.sample.toml")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Defaults(), m, cmpopts.IgnoreUnexported(Main{}), cmpopts.IgnoreFields(Main{}, "Logger", "Out", "Now")); diff != "" {
		t.Fatalf("sample config differs from the defaults (-defaults +sample):\n%s", diff)
	}
}

func TestLoadFileUnknownKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "hub.toml")
	os.WriteFile(p, []byte("server = \"http://x\"\nspool_maximum = \"1GiB\"\n[[camera]]\nname = \"a\"\nurl = \"rtsp://h/p\"\ncolour = \"red\"\n"), 0o600)
	var m Main
	err := m.LoadFile(p)
	if err == nil || !strings.Contains(err.Error(), "unknown keys: spool_maximum, camera.colour") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseFileThenFlags(t *testing.T) {
	p := filepath.Join(t.TempDir(), "hub.toml")
	os.WriteFile(p, []byte(`
server = "http://file:8080"
data = "/file/data"
min_segment = "3s"
spool_max = "512MiB"
transport = "udp"
[[camera]]
name = "garden"
url = "rtsp://cam1/stream"
`), 0o600)
	m, err := Parse([]string{"--config", p, "--server", "https://flag.example", "--camera", "door=rtsp://u:p@cam2/s", "--claim", "ABCD-EFGH-JKMN"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.Server = "https://flag.example"
	want.DataDir = "/file/data"
	want.Claim = "ABCD-EFGH-JKMN"
	want.Transport = "udp"
	want.MinSegment = 3 * time.Second
	want.SpoolMax = 512 << 20
	want.Cameras = []Camera{{Name: "garden", URL: "rtsp://cam1/stream"}, {Name: "door", URL: "rtsp://u:p@cam2/s"}}
	if diff := cmp.Diff(want, m, cmpopts.IgnoreUnexported(Main{}), cmpopts.IgnoreFields(Main{}, "Logger", "Out", "Now")); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if _, err := Parse([]string{"--camera", "nourl"}, io.Discard); err == nil {
		t.Fatal("--camera without = accepted")
	}
}

func TestValidate(t *testing.T) {
	ok := func() Main {
		m := Defaults()
		m.Server = "http://127.0.0.1:8080"
		m.Cameras = []Camera{{Name: "door", URL: "rtsp://cam/s"}}
		return m
	}
	for _, tc := range []struct {
		name string
		edit func(*Main)
		want string // "" means valid
	}{
		{"ok", func(*Main) {}, ""},
		{"no cameras is fine", func(m *Main) { m.Cameras = nil }, ""},
		{"no server", func(m *Main) { m.Server = "" }, "server: missing: set server in the config file or pass --server URL"},
		{"bad server", func(m *Main) { m.Server = "ftp://x" }, `server: "ftp://x" is not an http:// or https:// URL`},
		{"no data", func(m *Main) { m.DataDir = "" }, "data: missing"},
		{"transport", func(m *Main) { m.Transport = "quic" }, `transport: "quic": want tcp, udp or auto`},
		{"camera name", func(m *Main) { m.Cameras[0].Name = " " }, "camera 1: name is empty"},
		{"camera twice", func(m *Main) { m.Cameras = append(m.Cameras, m.Cameras[0]) }, `camera "door": listed twice`},
		{"camera url", func(m *Main) { m.Cameras[0].URL = "http://u:secret@cam/s" }, `camera "door": url must be rtsp://host/path or rtsps://host/path`},
		{"camera transport", func(m *Main) { m.Cameras[0].Transport = "x" }, `camera "door": transport "x": want tcp, udp or auto`},
		{"min segment", func(m *Main) { m.MinSegment = time.Millisecond }, "min_segment: 1ms is too short (at least 500ms)"},
		{"max segment", func(m *Main) { m.MaxSegment = time.Second }, "max_segment: 1s is shorter than min_segment 2s"},
		{"manifest every", func(m *Main) { m.ManifestEvery = -1 }, "manifest_every: -1: want 1 to 1000 segments"},
		{"manifest interval", func(m *Main) { m.ManifestInterval = time.Millisecond }, "manifest_interval: 1ms is too short (at least 1s)"},
		{"spool", func(m *Main) { m.SpoolMax = 1 << 20 }, "spool_max: 1.0 MiB is too small (at least 64 MiB)"},
		{"roster interval", func(m *Main) { m.RosterInterval = time.Millisecond }, "roster_interval: 1ms is too short (at least 1s)"},
		{"claim", func(m *Main) { m.Claim = "no spaces!" }, `claim: "no spaces!" does not look like a claim code`},
		{"https server", func(m *Main) { m.Server = "https://cams.example.org" }, ""},
		{"http to localhost", func(m *Main) { m.Server = "http://localhost:8080" }, ""},
		{"http to ::1", func(m *Main) { m.Server = "http://[::1]:8080" }, ""},
		{"plain http to the network", func(m *Main) { m.Server = "http://192.168.1.5:8080" },
			`server: server URL "http://192.168.1.5:8080" uses plain HTTP to 192.168.1.5, which is not this machine`},
		{"plain http says what to do", func(m *Main) { m.Server = "http://cams.example.org" },
			"use https:// (pass --ca FILE if the service has a private CA), or pass --insecure-http only if that network is trusted (insecure_http = true in the config file, or PORCHLIGHT_INSECURE_HTTP=1)"},
		{"insecure http allowed", func(m *Main) { m.Server, m.InsecureHTTP = "http://192.168.1.5:8080", true }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := ok()
			tc.edit(&m)
			err := m.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error leaks a camera password: %v", err)
			}
		})
	}
}

func TestParseTransportSettings(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hub.toml")
	os.WriteFile(file, []byte("server = \"http://10.0.0.2:8080\"\ninsecure_http = true\nca_file = \"/from/file.pem\"\n"), 0o600)
	for _, tc := range []struct {
		name     string
		args     []string
		env      map[string]string
		ca       string
		insecure bool
		wantErr  string
	}{
		{"file", []string{"--config", file}, nil, "/from/file.pem", true, ""},
		{"env beats file", []string{"--config", file}, map[string]string{"PORCHLIGHT_CA": "/from/env.pem"}, "/from/env.pem", true, ""},
		{"flag beats env", []string{"--config", file, "--ca", "/from/flag.pem"}, map[string]string{"PORCHLIGHT_CA": "/from/env.pem"}, "/from/flag.pem", true, ""},
		{"env turns insecure off", []string{"--config", file}, map[string]string{"PORCHLIGHT_INSECURE_HTTP": "false"}, "", false,
			`uses plain HTTP to 10.0.0.2, which is not this machine`},
		{"flag turns insecure off", []string{"--config", file, "--insecure-http=false"}, nil, "", false,
			"pass --insecure-http only if that network is trusted"},
		{"flag turns insecure on", []string{"--server", "http://10.0.0.2:8080", "--insecure-http"}, nil, "", true, ""},
		{"env turns insecure on", []string{"--server", "http://10.0.0.2:8080"}, map[string]string{"PORCHLIGHT_INSECURE_HTTP": "1"}, "", true, ""},
		{"bad env bool", []string{"--server", "https://x.example"}, map[string]string{"PORCHLIGHT_INSECURE_HTTP": "maybe"}, "", false,
			`PORCHLIGHT_INSECURE_HTTP: "maybe" is not true or false`},
		{"refused without", []string{"--server", "http://10.0.0.2:8080"}, nil, "", false, "use https://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseEnv(tc.args, io.Discard, func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.CAFile != tc.ca || m.InsecureHTTP != tc.insecure {
				t.Errorf("ca_file %q insecure_http %v, want %q %v", m.CAFile, m.InsecureHTTP, tc.ca, tc.insecure)
			}
		})
	}
}

// TestStartRefusesBadCAFile: a ca_file that holds no certificate stops the
// hub before it contacts the service, saying which setting is wrong.
func TestStartRefusesBadCAFile(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, []byte("not a certificate"), 0o600)
	m := Main{Server: "https://cams.example.org", DataDir: filepath.Join(dir, "data"), CAFile: ca, Out: io.Discard, Logger: slog.New(slog.DiscardHandler)}
	_, err := m.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "ca_file: CA file "+ca+": no PEM certificate found") {
		t.Fatalf("Start: %v", err)
	}
}
