package auditlog_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/porchlight/porchlight/internal/auditlog"
)

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "audit.key")
	s, vkey, err := auditlog.LoadOrCreateKey(path, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != testOrigin || !strings.HasPrefix(vkey, testOrigin+"+") {
		t.Errorf("signer %q, verifier key %q; want origin %q", s.Name(), vkey, testOrigin)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", fi.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil || !strings.HasPrefix(string(raw), "PRIVATE+KEY+"+testOrigin+"+") {
		t.Errorf("key file = %q, %v; want a note signer key", raw, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("key directory holds %d files, want only the key (no temp files left)", len(entries))
	}

	// Loading again gives the same key, and its signatures verify with the
	// verifier key returned the first time.
	s2, vkey2, err := auditlog.LoadOrCreateKey(path, testOrigin)
	if err != nil || vkey2 != vkey {
		t.Fatalf("second load: verifier key %q, %v; want %q", vkey2, err, vkey)
	}
	msg, err := note.Sign(&note.Note{Text: "hello\n"}, s2)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Errorf("signature of the reloaded key does not verify: %v", err)
	}

	if _, _, err := auditlog.LoadOrCreateKey(path, "another.example/log"); err == nil || !strings.Contains(err.Error(), testOrigin) {
		t.Errorf("load for another origin = %v; want an error naming the key's origin", err)
	}
}

func TestLoadOrCreateKeyRefuses(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.key")
	if err := os.WriteFile(garbage, []byte("PRIVATE+KEY+nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := auditlog.LoadOrCreateKey(garbage, testOrigin); err == nil {
		t.Error("garbage key file loaded")
	}
	if _, _, err := auditlog.LoadOrCreateKey(filepath.Join(dir, "bad.key"), "has space"); err == nil {
		t.Error("key made for an origin with a space")
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused origin left a key file: %v", err)
	}
}

func TestLoadOrCreateKeyRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.key")
	const n = 8
	vkeys := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, vk, err := auditlog.LoadOrCreateKey(path, testOrigin)
			if err != nil {
				t.Errorf("racer %d: %v", i, err)
			}
			vkeys[i] = vk
		})
	}
	wg.Wait()
	for i := range n {
		if vkeys[i] != vkeys[0] {
			t.Errorf("racer %d got key %q, racer 0 %q: racers must end up with one key", i, vkeys[i], vkeys[0])
		}
	}
}
