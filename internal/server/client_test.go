package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/httpapi"
	"github.com/porchlight/porchlight/internal/server"
)

// TestServesWebApp: porchlightd serves the web app it is given at / with
// the CSP, says which bundle at /v1/client, and remembers the bundle it has
// recorded (no household has devices yet, so no entry is written).
func TestServesWebApp(t *testing.T) {
	index := []byte("<!doctype html><title>Porchlight</title>")
	h := sha256.New()
	h.Write([]byte("index.html\x00"))
	h.Write(index)
	h.Write([]byte{0})
	sum := hex.EncodeToString(h.Sum(nil))
	bundle, _ := json.Marshal(map[string]any{"v": 1, "sha256": sum, "files": []string{"index.html"}})
	data := filepath.Join(t.TempDir(), "data")
	m := &server.Main{Listen: "127.0.0.1:0", DataDir: data, Stdout: io.Discard, Logger: quietLogger(io.Discard),
		Web: fstest.MapFS{"index.html": {Data: index}, "bundle.json": {Data: bundle}}}
	addr, err := m.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })

	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != string(index) || resp.Header.Get("Content-Security-Policy") != httpapi.ContentSecurityPolicy {
		t.Errorf("GET /: %d %q, CSP %q", resp.StatusCode, body, resp.Header.Get("Content-Security-Policy"))
	}
	resp, err = http.Get("http://" + addr + "/v1/client")
	if err != nil {
		t.Fatal(err)
	}
	var c api.Client
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || c.SHA256 != sum {
		t.Errorf("GET /v1/client: %+v, %v; want sha256 %s", c, err, sum)
	}
	resp.Body.Close()

	marker := filepath.Join(data, "client-bundle")
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(marker)
		if err == nil && strings.TrimSpace(string(b)) == sum {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q, %v; want the bundle hash alone", marker, b, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
