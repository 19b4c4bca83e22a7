package hub

import (
	"io"
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
