package cli

import (
	"bytes"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/keys"
)

// TestRekey: an owner records a closed epoch and a current one; a removed
// device is modelled by the old epoch's key, which it may have kept.
// After `porchlight rekey` that key opens none of the stored objects, the
// owner's export of the range is byte-identical to before, the old objects
// and every wrap of the old key are gone, and the current epoch is left
// alone.
func TestRekey(t *testing.T) {
	segs := testSegments(t)
	dir := t.TempDir()
	service := filepath.Join(dir, "service")
	server, err := startServer(service, t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	env := userEnv(filepath.Join(dir, "home"), server)
	mustCLI(t, env, "signup", "--email", "owner@example.com")
	hub, _ := claimTestHub(t, env, server)
	cam := hub.addCamera("front door")

	now := time.Now().UTC().Truncate(time.Second)
	old := hub.newEpoch(cam)
	oldFrom, oldTo := hub.record(old, now.Add(-2*time.Hour), segs[:3])
	current := hub.newEpoch(cam)
	curFrom, curTo := hub.record(current, now.Add(-10*time.Minute), segs[3:4])

	before := filepath.Join(dir, "before.mp4")
	mustCLI(t, env, "export", "--camera", "front door", "--from", oldFrom, "--to", oldTo, "-o", before)
	want, err := os.ReadFile(before)
	if err != nil {
		t.Fatal(err)
	}
	oldObjects := queryStrings(t, service, `SELECT id FROM objects WHERE epoch = ?`, old.id)
	if len(oldObjects) != 4 {
		t.Fatalf("the old epoch holds %d objects, want 3 segments and a manifest", len(oldObjects))
	}
	// Its key opens them now: the check below can tell.
	if _, err := keys.Decrypt(mustRead(t, blobPath(service, oldObjects[0])), old.key); err != nil {
		t.Fatalf("the old key does not open an old object: %v", err)
	}

	if r := runCLI(t, env, "n\n", "rekey", "--camera", "front door"); r.code == 0 {
		t.Fatalf("rekey went ahead without confirmation:\n%s", r.stderr)
	}
	r := mustCLI(t, env, "rekey", "--camera", "front door", "--yes")
	for _, want := range []string{"Re-keying epoch " + old.id + " (1 of 1): 3 segments", "stored and verified as epoch"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("rekey progress lacks %q:\n%s", want, r.stderr)
		}
	}
	for _, want := range []string{"Deletion receipt", "3 segment(s), 1 manifest(s)", "shredded epochs:  1 (" + old.id + ")", "Re-keyed 1 epoch(s) of front door (3 segments)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("rekey output lacks %q:\n%s", want, r.stdout)
		}
	}

	// The owner's export is byte-identical.
	after := filepath.Join(dir, "after.mp4")
	mustCLI(t, env, "export", "--camera", "front door", "--from", oldFrom, "--to", oldTo, "-o", after)
	if got := mustRead(t, after); !bytes.Equal(got, want) {
		t.Errorf("export after rekey: %d bytes, differs from the %d bytes before", len(got), len(want))
	}
	// The old objects and every wrap of the old key are gone.
	for _, id := range oldObjects {
		if _, err := os.Stat(blobPath(service, id)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("old object %s: blob still stored (%v)", id, err)
		}
	}
	if n := queryStrings(t, service, `SELECT id FROM objects WHERE epoch = ?`, old.id); len(n) != 0 {
		t.Errorf("the old epoch still lists objects %v", n)
	}
	if n := queryStrings(t, service, `SELECT device_id FROM wraps WHERE epoch = ?`, old.id); len(n) != 0 {
		t.Errorf("the old epoch still has wraps for %v", n)
	}
	// The kept key opens nothing that is stored.
	all := queryStrings(t, service, `SELECT id FROM objects WHERE epoch <> ?`, current.id)
	if len(all) != 4 {
		t.Errorf("%d re-keyed objects stored, want 4", len(all))
	}
	for _, id := range all {
		if _, err := keys.Decrypt(mustRead(t, blobPath(service, id)), old.key); err == nil {
			t.Errorf("object %s opens with the old epoch key", id)
		}
	}
	// The current epoch is untouched, and a second run has nothing to do.
	assertExport(t, env, "front door", filepath.Join(dir, "current.mp4"), curFrom, curTo, segs[3:4])
	if r := runCLI(t, env, "", "rekey", "--camera", "front door", "--yes", "--to", oldTo); r.code == 0 {
		t.Errorf("a second rekey found work: %s", r.stdout)
	}
}

func queryStrings(t *testing.T, service, query string, args ...any) []string {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(service, "porchlight.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
