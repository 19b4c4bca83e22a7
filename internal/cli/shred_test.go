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
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/segment"
)

// TestShredding: an owner records two epochs, the whole store (database
// and blobs) is copied, one epoch is shredded with `porchlight delete
// --shred`, and the copy is restored into a fresh porchlightd. With the
// owner's current keys (PORCHLIGHT_HOME after shredding), 0 frames of the
// shredded epoch decrypt from the restored copy, while the other epoch
// still exports from the service; the pre-shred key would have opened it,
// so the test would see a failure to shred.
func TestShredding(t *testing.T) {
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
	shredded := hub.newEpoch(cam)
	shredFrom, shredTo := hub.record(shredded, now.Add(-2*time.Hour), segs[:2])
	kept := hub.newEpoch(cam)
	keptFrom, keptTo := hub.record(kept, now.Add(-10*time.Minute), segs[2:4])

	// The copy: a consistent snapshot of the database and every blob.
	backup := filepath.Join(dir, "backup")
	snapshot(t, service, backup)
	oldKey, err := keys.Load(filepath.Join(env[EnvHome], deviceKeyFile))
	if err != nil {
		t.Fatal(err)
	}

	r := mustCLI(t, env, "delete", "--camera", "front door", "--from", shredFrom, "--to", shredTo, "--shred", "--yes")
	for _, want := range []string{"Deletion receipt", "2 segment(s), 1 manifest(s)", "shredded epochs:  1 (" + shredded.id + ")",
		"Rotated this device's key", "re-wrapped the keys of 1 epoch(s)", "recovery passphrase can also still open"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("delete --shred output lacks %q:\n%s", want, r.stdout)
		}
	}
	newKey, err := keys.Load(filepath.Join(env[EnvHome], deviceKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if newKey.ID != oldKey.ID || newKey.Recipient() == oldKey.Recipient() {
		t.Fatalf("after shredding the device key is %s %s, want the same id with a new KEM key", newKey.ID, newKey.Recipient())
	}
	if _, err := os.Stat(filepath.Join(env[EnvHome], nextKeyFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s left behind: %v", nextKeyFile, err)
	}
	// The hub follows the roster (its new version lists the new key).
	hub.refreshRosterAndReseal(cam, "front door")
	if e := hub.roster.Entry(newKey.ID); e == nil || e.KEM != newKey.Recipient() {
		t.Fatalf("the roster does not list the device's new key: %+v", e)
	}

	// The service: the kept epoch exports with the new key, the shredded
	// one has nothing left; new recordings are sealed to the new key.
	assertExport(t, env, "front door", filepath.Join(dir, "kept.mp4"), keptFrom, keptTo, segs[2:4])
	if r := runCLI(t, env, "", "export", "--camera", "front door", "--from", shredFrom, "--to", shredTo, "-o", filepath.Join(dir, "gone.mp4")); r.code == 0 {
		t.Errorf("the shredded range still exports:\n%s", r.stdout)
	}
	later := hub.newEpoch(cam)
	laterFrom, laterTo := hub.record(later, now.Add(-time.Minute), segs[4:5])
	assertExport(t, env, "front door", filepath.Join(dir, "later.mp4"), laterFrom, laterTo, segs[4:5])
	if n := epochFrames(t, service, hub, shredded.id, newKey, oldKey); n != 0 {
		t.Errorf("the service still opens %d frames of the shredded epoch", n)
	}

	// The old copy, restored into a fresh porchlightd.
	restored := filepath.Join(dir, "restored")
	if err := os.CopyFS(restored, os.DirFS(backup)); err != nil {
		t.Fatal(err)
	}
	restoredURL, err := startServer(restored, t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	if n := epochFrames(t, restored, hub, shredded.id, newKey); n != 0 {
		t.Errorf("the current device key decrypts %d frames of the shredded epoch from a pre-shred copy", n)
	}
	if n := epochFrames(t, restored, hub, shredded.id, oldKey); n == 0 {
		t.Error("the pre-shred key opens nothing in the copy: the test cannot tell a shred from a broken copy")
	}
	// The client pointed at the restored service refuses it (its roster
	// is older than the one this device verified) and writes nothing.
	home2 := filepath.Join(dir, "home2")
	if err := os.CopyFS(home2, os.DirFS(env[EnvHome])); err != nil {
		t.Fatal(err)
	}
	env2 := cliEnv{EnvHome: home2, EnvServer: restoredURL, EnvPassword: env[EnvPassword], "TZ": "UTC"}
	out := filepath.Join(dir, "restored-out", "x.mp4")
	if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, env2, "", "export", "--camera", "front door", "--from", shredFrom, "--to", shredTo, "-o", out); r.code == 0 {
		t.Errorf("export of the shredded range from the restored copy succeeded:\n%s", r.stdout)
	}
	assertEmptyDir(t, filepath.Dir(out))
}

// snapshot copies a running service's database (VACUUM INTO: one
// consistent copy) and blob directory into dst.
func snapshot(t *testing.T, service, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(service, "porchlight.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), `VACUUM INTO ?`, filepath.Join(dst, "porchlight.db")); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(dst, "blobs"), os.DirFS(filepath.Join(service, "blobs"))); err != nil {
		t.Fatal(err)
	}
}

// epochFrames counts the frames of an epoch's segments that decrypt from a
// service's data directory with any of the given device keys: every wrap
// of the epoch (for any device) is tried with each key.
func epochFrames(t *testing.T, service string, hub *testHub, epochID string, devs ...*keys.Pair) int {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(service, "porchlight.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var annRaw []byte
	if err := db.QueryRowContext(t.Context(), `SELECT announcement FROM epochs WHERE id = ?`, epochID).Scan(&annRaw); err != nil {
		t.Fatalf("epoch %s in %s: %v", epochID, service, err)
	}
	ann, err := seal.VerifyEpoch(annRaw, hub.key.SignPub())
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(t.Context(), `SELECT data FROM wraps WHERE epoch = ?`, epochID)
	if err != nil {
		t.Fatal(err)
	}
	var wraps [][]byte
	for rows.Next() {
		var w []byte
		if err := rows.Scan(&w); err != nil {
			t.Fatal(err)
		}
		wraps = append(wraps, w)
	}
	rows.Close()
	rows, err = db.QueryContext(t.Context(), `SELECT id FROM objects WHERE epoch = ? AND kind = 'segment'`, epochID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()

	frames := 0
	for _, dev := range devs {
		for _, w := range wraps {
			k, err := dev.OpenEpochKey(w, ann)
			if err != nil {
				continue
			}
			for _, id := range ids {
				ct, err := os.ReadFile(blobPath(service, id))
				if err != nil {
					continue
				}
				if hdr, _, err := keys.OpenSegment(ct, k); err == nil {
					frames += hdr.Frames
				}
			}
		}
	}
	return frames
}

// assertExport exports camera's [from, to] and checks the file is exactly
// segs joined.
func assertExport(t *testing.T, env cliEnv, camera, out, from, to string, segs []segment.Segment) {
	t.Helper()
	mustCLI(t, env, "export", "--camera", camera, "--from", from, "--to", to, "-o", out)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var media [][]byte
	for _, s := range segs {
		media = append(media, s.Data)
	}
	var want bytes.Buffer
	if err := segment.Concat(&want, media); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("export %s..%s: %d bytes, want the %d bytes recorded", from, to, len(got), want.Len())
	}
}

// TestCamerasRemove: without --shred nothing happens; with it the camera,
// its recordings and keys are gone, a receipt is printed and the device
// key rotates.
func TestCamerasRemove(t *testing.T) {
	segs := testSegments(t)[:1]
	dir := t.TempDir()
	env, server := signedUp(t, filepath.Join(dir, "home"), filepath.Join(dir, "service"))
	hub, _ := claimTestHub(t, env, server)
	cam := hub.addCamera("garage")
	ep := hub.newEpoch(cam)
	hub.upload(ep, []clip{{seg: segs[0], start: time.Now().UTC().Add(-time.Minute)}})
	before, err := keys.Load(filepath.Join(env[EnvHome], deviceKeyFile))
	if err != nil {
		t.Fatal(err)
	}

	if r := runCLI(t, env, "", "cameras", "remove", "garage"); r.code == 0 || !strings.Contains(r.stderr, "--shred") {
		t.Errorf("cameras remove without --shred: exit %d\n%s", r.code, r.stderr)
	}
	if r := runCLI(t, env, "n\n", "cameras", "remove", "--shred", "garage"); r.code == 0 || !strings.Contains(r.stderr, "not removed") {
		t.Errorf("cameras remove answered no: exit %d\n%s", r.code, r.stderr)
	}
	if r := mustCLI(t, env, "cameras"); !strings.Contains(r.stdout, "garage") {
		t.Fatalf("the camera is gone after answering no:\n%s", r.stdout)
	}
	r := mustCLI(t, env, "cameras", "remove", "--shred", "--yes", "garage")
	for _, want := range []string{"1 segment(s), 1 manifest(s)", "shredded epochs:  1 (" + ep.id + ")", "the camera is removed", "Rotated this device's key"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("cameras remove output lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := mustCLI(t, env, "cameras"); strings.Contains(r.stdout, "garage") {
		t.Errorf("the camera is still listed:\n%s", r.stdout)
	}
	after, err := keys.Load(filepath.Join(env[EnvHome], deviceKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if after.Recipient() == before.Recipient() {
		t.Error("the device key did not rotate")
	}
	var n int
	db, err := sql.Open("sqlite", filepath.Join(dir, "service", "porchlight.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRowContext(t.Context(), `SELECT (SELECT count(*) FROM wraps WHERE epoch = ?) + (SELECT count(*) FROM objects WHERE camera = ?)`, ep.id, cam).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d wraps and objects of the removed camera left, %v", n, err)
	}
}
