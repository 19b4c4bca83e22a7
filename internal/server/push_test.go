package server_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/webpush"
)

// TestVAPIDKey: porchlightd makes its VAPID key once in data_dir (0600),
// keeps it across restarts, and serves its public half.
func TestVAPIDKey(t *testing.T) {
	data := t.TempDir()
	vapidOf := func() string {
		m, url := startMain(t, data)
		defer m.Close()
		resp, err := apiclient.New(url, "").Signup(t.Context(), api.SignupRequest{Email: "o" + filepath.Base(t.TempDir()) + "@example.org", Password: "sunlit quarry harbour 7781", DeviceName: "laptop"})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/v1/push/vapid", nil)
		req.Header.Set("Authorization", "Bearer "+resp.Token)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var out api.PushVAPID
		if r.StatusCode != http.StatusOK || json.NewDecoder(r.Body).Decode(&out) != nil {
			t.Fatalf("GET /v1/push/vapid: %d", r.StatusCode)
		}
		return out.PublicKey
	}
	first := vapidOf()
	path := filepath.Join(data, "vapid.pem")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, mode %v; want 0600", path, err, fi.Mode())
	}
	k, err := webpush.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := (&webpush.VAPID{Key: k}).PublicKey(); first != want {
		t.Errorf("served key %q, file holds %q", first, want)
	}
	if again := vapidOf(); again != first {
		t.Errorf("after a restart the key is %q, was %q", again, first)
	}
}
