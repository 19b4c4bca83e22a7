package auditlog_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/note"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auditlog"
	"github.com/porchlight/porchlight/internal/seal"
)

const testOrigin = "porchlight.test/audit"

// testLog is a Log under test with what its tests need beside it.
type testLog struct {
	*auditlog.Log
	dir string
	cfg auditlog.Config
}

func testConfig(t testing.TB, dir, keyPath string) auditlog.Config {
	t.Helper()
	s, _, err := auditlog.LoadOrCreateKey(keyPath, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	return auditlog.Config{
		Dir:                dir,
		Signer:             s,
		CheckpointInterval: 100 * time.Millisecond,
		Timeout:            5 * time.Second,
		Logger:             slog.New(slog.DiscardHandler),
	}
}

// openLog opens a log in a new directory with a new key, closed at the end
// of the test.
func openLog(t testing.TB) *testLog {
	t.Helper()
	base := t.TempDir()
	return openLogWith(t, testConfig(t, filepath.Join(base, "log"), filepath.Join(base, "log.key")))
}

func openLogWith(t testing.TB, cfg auditlog.Config) *testLog {
	t.Helper()
	l, err := auditlog.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := l.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &testLog{Log: l, dir: cfg.Dir, cfg: cfg}
}

// newLeaf returns a fresh valid leaf; detail makes it unique and findable.
func newLeaf(t testing.TB, class string) []byte {
	t.Helper()
	b, err := auditlog.Entry{Envelope: auditlog.Envelope{
		ID: seal.NewID(), Time: time.Now(), Household: testHousehold, Class: class,
	}}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// appendN appends n fresh leaves, concurrently, then the last with
// AppendPublished so that the latest checkpoint covers them all, and returns
// them by index.
func (l *testLog) appendN(t testing.TB, n int) map[uint64][]byte {
	t.Helper()
	var (
		mu  sync.Mutex
		out = make(map[uint64][]byte, n)
		wg  sync.WaitGroup
	)
	for range n - 1 {
		leaf := newLeaf(t, api.AuditAccess)
		wg.Go(func() {
			idx, err := l.Append(t.Context(), leaf)
			if err != nil {
				t.Errorf("Append: %v", err)
				return
			}
			mu.Lock()
			out[idx] = leaf
			mu.Unlock()
		})
	}
	wg.Wait()
	leaf := newLeaf(t, api.AuditAccess)
	idx, err := l.AppendPublished(t.Context(), leaf)
	if err != nil {
		t.Fatalf("AppendPublished: %v", err)
	}
	out[idx] = leaf
	if len(out) != n {
		t.Fatalf("%d distinct indices for %d appends", len(out), n)
	}
	return out
}

func (l *testLog) checkpoint(t testing.TB, v *auditlog.Verifier) auditlog.Checkpoint {
	t.Helper()
	raw, err := l.Checkpoint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cp, err := v.Checkpoint(raw)
	if err != nil {
		t.Fatalf("the log's own checkpoint: %v", err)
	}
	return cp
}

func (l *testLog) verifier(t testing.TB) *auditlog.Verifier {
	t.Helper()
	v, err := auditlog.NewVerifier(l.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOpenNewLogPublishesEmptyCheckpoint(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	if l.Origin() != testOrigin {
		t.Errorf("Origin = %q, want %q", l.Origin(), testOrigin)
	}
	v := l.verifier(t)
	if v.Origin() != testOrigin {
		t.Errorf("Verifier.Origin = %q, want %q", v.Origin(), testOrigin)
	}
	cp := l.checkpoint(t, v)
	if cp.Size != 0 {
		t.Errorf("new log's checkpoint size = %d, want 0", cp.Size)
	}
	fi, err := os.Stat(l.dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("log directory mode = %v, %v; want 0700", fi.Mode().Perm(), err)
	}
}

func TestAppendReadVerify(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	v := l.verifier(t)
	const n = 7
	leaves := make([][]byte, 0, n)
	for i := range n {
		leaf := newLeaf(t, classesForTest()[i%10])
		idx, err := l.AppendPublished(t.Context(), leaf)
		if err != nil {
			t.Fatalf("AppendPublished %d: %v", i, err)
		}
		if idx != uint64(i) {
			t.Fatalf("AppendPublished %d returned index %d", i, idx)
		}
		// It returns only once a published checkpoint covers the index.
		size, err := l.Size(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if size <= idx {
			t.Fatalf("after AppendPublished of index %d the checkpoint size is %d", idx, size)
		}
		leaves = append(leaves, leaf)
	}
	cp := l.checkpoint(t, v)
	if cp.Size != n {
		t.Fatalf("checkpoint size = %d, want %d", cp.Size, n)
	}
	for i, want := range leaves {
		got, err := l.ReadEntry(t.Context(), uint64(i), cp.Size)
		if err != nil {
			t.Fatalf("ReadEntry(%d): %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("ReadEntry(%d) = %s, want %s", i, got, want)
		}
		if err := v.VerifyInclusion(t.Context(), l.ReadTile, cp, uint64(i), got); err != nil {
			t.Errorf("VerifyInclusion(%d): %v", i, err)
		}
	}
	// Every other leaf at index 0 fails: the check is real.
	if err := v.VerifyInclusion(t.Context(), l.ReadTile, cp, 0, leaves[1]); !errors.Is(err, auditlog.ErrNotIncluded) {
		t.Errorf("VerifyInclusion of leaf 1 at index 0 = %v; want ErrNotIncluded", err)
	}
	if err := v.VerifyInclusion(t.Context(), l.ReadTile, cp, n, leaves[0]); !errors.Is(err, auditlog.ErrNotIncluded) {
		t.Errorf("VerifyInclusion beyond the checkpoint = %v; want ErrNotIncluded", err)
	}

	got, err := l.ReadEntries(t.Context(), 2, cp.Size, 3)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(leaves[2:5], got); diff != "" {
		t.Errorf("ReadEntries(2, limit 3) (-want +got):\n%s", diff)
	}
	got, err = l.ReadEntries(t.Context(), 5, cp.Size, 100)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(leaves[5:], got); diff != "" {
		t.Errorf("ReadEntries(5, limit 100) (-want +got):\n%s", diff)
	}
	if _, err := l.ReadEntry(t.Context(), n, cp.Size); err == nil {
		t.Error("ReadEntry beyond the tree size succeeded")
	}
}

func TestAppendRefusesMalformedLeaf(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	for _, leaf := range [][]byte{nil, []byte("hello"), []byte(validLeaf + " ")} {
		if _, err := l.Append(t.Context(), leaf); !errors.Is(err, auditlog.ErrMalformed) {
			t.Errorf("Append(%q) = %v; want ErrMalformed", leaf, err)
		}
	}
	if size, err := l.Size(t.Context()); err != nil || size != 0 {
		t.Errorf("size after refused appends = %d, %v; want 0", size, err)
	}
}

func TestConsistencyAcrossGrowth(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	v := l.verifier(t)
	var cps []auditlog.Checkpoint
	cps = append(cps, l.checkpoint(t, v)) // empty
	for _, n := range []int{1, 2, 5, 1, 9} {
		l.appendN(t, n)
		cps = append(cps, l.checkpoint(t, v))
	}
	for i := range cps {
		for j := i; j < len(cps); j++ {
			if err := v.VerifyConsistency(t.Context(), l.ReadTile, cps[i], cps[j]); err != nil {
				t.Errorf("consistency %d → %d: %v", cps[i].Size, cps[j].Size, err)
			}
		}
	}
	last, first := cps[len(cps)-1], cps[1]
	if err := v.VerifyConsistency(t.Context(), l.ReadTile, last, first); !errors.Is(err, auditlog.ErrFork) {
		t.Errorf("consistency from %d back to %d = %v; want ErrFork", last.Size, first.Size, err)
	}
}

func TestReopenKeepsEntries(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	cfg := testConfig(t, filepath.Join(base, "log"), filepath.Join(base, "log.key"))
	l, err := auditlog.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	first := (&testLog{Log: l}).appendN(t, 4)
	raw1, err := l.Checkpoint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Close(t.Context()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := l.Append(t.Context(), newLeaf(t, api.AuditAuth)); !errors.Is(err, auditlog.ErrUnavailable) {
		t.Errorf("Append after Close = %v; want ErrUnavailable", err)
	}

	// Reopen with the key loaded again from its file.
	cfg = testConfig(t, cfg.Dir, filepath.Join(base, "log.key"))
	l2 := openLogWith(t, cfg)
	v := l2.verifier(t)
	cp1, err := v.Checkpoint(raw1)
	if err != nil {
		t.Fatalf("checkpoint from before the reopen no longer verifies: %v", err)
	}
	size, err := l2.Size(t.Context())
	if err != nil || size != 4 {
		t.Fatalf("size after reopen = %d, %v; want 4", size, err)
	}
	for idx, want := range first {
		got, err := l2.ReadEntry(t.Context(), idx, size)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ReadEntry(%d) after reopen = %s, %v; want %s", idx, got, err, want)
		}
	}
	idx, err := l2.AppendPublished(t.Context(), newLeaf(t, api.AuditAuth))
	if err != nil || idx != 4 {
		t.Fatalf("AppendPublished after reopen = %d, %v; want index 4", idx, err)
	}
	if err := v.VerifyConsistency(t.Context(), l2.ReadTile, cp1, l2.checkpoint(t, v)); err != nil {
		t.Errorf("consistency across the reopen: %v", err)
	}
}

func TestConcurrentAppends(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	const n = 50
	var wg sync.WaitGroup
	idx := make([]uint64, n)
	errs := make([]error, n)
	leaves := make([][]byte, n)
	for i := range n {
		leaves[i] = newLeaf(t, api.AuditDenial)
		wg.Go(func() { idx[i], errs[i] = l.Append(t.Context(), leaves[i]) })
	}
	wg.Wait()
	seen := map[uint64]int{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Append %d: %v", i, errs[i])
		}
		if j, dup := seen[idx[i]]; dup {
			t.Errorf("appends %d and %d both got index %d", j, i, idx[i])
		}
		seen[idx[i]] = i
		if idx[i] >= n {
			t.Errorf("append %d got index %d, beyond %d entries", i, idx[i], n)
		}
	}
	// Each index holds its own leaf once a checkpoint covers them.
	if _, err := l.AppendPublished(t.Context(), newLeaf(t, api.AuditDenial)); err != nil {
		t.Fatal(err)
	}
	v := l.verifier(t)
	cp := l.checkpoint(t, v)
	for i := range n {
		if err := v.VerifyInclusion(t.Context(), l.ReadTile, cp, idx[i], leaves[i]); err != nil {
			t.Errorf("append %d at index %d: %v", i, idx[i], err)
		}
	}
}

func TestTileByPath(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	l.appendN(t, 3)
	want, err := l.ReadTile(t.Context(), 0, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 3*32 {
		t.Fatalf("tile of 3 leaves is %d bytes", len(want))
	}
	got, err := l.TileByPath(t.Context(), "0/000.p/3")
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("TileByPath(0/000.p/3) = %x, %v; want %x", got, err, want)
	}
	for _, p := range []string{
		"entries/000.p/3", // bundles are not served
		"0/000.p/4",       // no such tile
		"1/000",           // no level-1 tile in a tree of 3
		"0/0.p/3", "00/000.p/3", "0/000.p/03", "0/000.p/0", "0/000.p/256", "0/x000/000.p/3",
		"0", "", "0/000/../000.p/3", "64/000", "0/abc",
	} {
		if b, err := l.TileByPath(t.Context(), p); !errors.Is(err, auditlog.ErrNotFound) {
			t.Errorf("TileByPath(%q) = %x, %v; want ErrNotFound", p, b, err)
		}
	}
}

// tilePath is where the POSIX driver keeps a tile under the log directory.
func (l *testLog) tilePath(level, index uint64, size uint64) string {
	return filepath.Join(l.dir, layout.TilePath(level, index, layout.PartialTileSize(level, index, size)))
}

func flipByte(t *testing.T, path string, off int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func truncateBy(t *testing.T, path string, n int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()-n); err != nil {
		t.Fatal(err)
	}
}

func TestTamperedTileFailsInclusion(t *testing.T) {
	t.Parallel()
	const n, victim = 9, 4
	l := openLog(t)
	v := l.verifier(t)
	leaves := l.appendN(t, n)
	cp := l.checkpoint(t, v)
	tile := l.tilePath(0, 0, cp.Size)
	if _, err := os.Stat(tile); err != nil {
		t.Fatalf("the tile of a tree of %d is not at %s: %v", n, tile, err)
	}
	flipByte(t, tile, victim*32+7) // one byte of leaf victim's hash
	for idx, leaf := range leaves {
		err := v.VerifyInclusion(t.Context(), l.ReadTile, cp, idx, leaf)
		if idx == victim {
			// Leaf victim's own proof never reads its own hash from the
			// tile (the client hashes the leaf), so it still verifies:
			// the entry is in the log. Every other proof covers it.
			continue
		}
		if !errors.Is(err, auditlog.ErrNotIncluded) {
			t.Errorf("entry %d with a tampered tile: %v; want ErrNotIncluded", idx, err)
		}
	}

	for _, cut := range []int64{1, 32} {
		t.Run(fmt.Sprintf("truncated by %d", cut), func(t *testing.T) {
			l := openLog(t)
			v := l.verifier(t)
			leaves := l.appendN(t, n)
			cp := l.checkpoint(t, v)
			truncateBy(t, l.tilePath(0, 0, cp.Size), cut)
			for idx, leaf := range leaves {
				if err := v.VerifyInclusion(t.Context(), l.ReadTile, cp, idx, leaf); !errors.Is(err, auditlog.ErrNotIncluded) {
					t.Errorf("entry %d with a truncated tile: %v; want ErrNotIncluded", idx, err)
				}
			}
		})
	}
}

func TestTamperedTileFailsConsistency(t *testing.T) {
	t.Parallel()
	// An older size that is not a power of two: then every leaf below the
	// newer size is under some node of the consistency proof.
	const older, newer = 5, 12
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, path string)
	}{
		{"old leaf hash edited", func(t *testing.T, p string) { flipByte(t, p, 2*32) }},
		{"new leaf hash edited", func(t *testing.T, p string) { flipByte(t, p, 9*32+31) }},
		{"truncated by one byte", func(t *testing.T, p string) { truncateBy(t, p, 1) }},
		{"last hash cut", func(t *testing.T, p string) { truncateBy(t, p, 32) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := openLog(t)
			v := l.verifier(t)
			l.appendN(t, older)
			cpOld := l.checkpoint(t, v)
			l.appendN(t, newer-older)
			cpNew := l.checkpoint(t, v)
			if cpOld.Size != older || cpNew.Size != newer {
				t.Fatalf("checkpoints of %d and %d, want %d and %d", cpOld.Size, cpNew.Size, older, newer)
			}
			if err := v.VerifyConsistency(t.Context(), l.ReadTile, cpOld, cpNew); err != nil {
				t.Fatalf("before tampering: %v", err)
			}
			tc.tamper(t, l.tilePath(0, 0, newer))
			if err := v.VerifyConsistency(t.Context(), l.ReadTile, cpOld, cpNew); !errors.Is(err, auditlog.ErrFork) {
				t.Errorf("after tampering: %v; want ErrFork", err)
			}
		})
	}
}

func TestTamperedEntryBundleFailsInclusion(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	v := l.verifier(t)
	leaves := l.appendN(t, 6)
	cp := l.checkpoint(t, v)
	bundle := filepath.Join(l.dir, layout.EntriesPath(0, uint8(cp.Size)))
	b, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatalf("entry bundle of a tree of 6: %v", err)
	}
	// Change the class of entry 3 from "access" to "accesz": still the same
	// length, still a well-framed bundle.
	const victim = 3
	at := bytes.Index(b, leaves[victim])
	if at < 0 {
		t.Fatal("entry 3 is not in its bundle verbatim")
	}
	at += bytes.Index(leaves[victim], []byte(`"access"`)) + len(`"acces`)
	b[at] = 'z'
	if err := os.WriteFile(bundle, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := l.ReadEntry(t.Context(), victim, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(got, leaves[victim]) {
		t.Fatal("the edit did not reach ReadEntry")
	}
	if err := v.VerifyInclusion(t.Context(), l.ReadTile, cp, victim, got); !errors.Is(err, auditlog.ErrNotIncluded) {
		t.Errorf("edited entry: %v; want ErrNotIncluded", err)
	}
	if err := v.VerifyInclusion(t.Context(), l.ReadTile, cp, victim, leaves[victim]); err != nil {
		t.Errorf("original entry no longer verifies: %v", err)
	}
}

func TestForkWithSameKey(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	key := filepath.Join(base, "shared.key")
	a := openLogWith(t, testConfig(t, filepath.Join(base, "a"), key))
	b := openLogWith(t, testConfig(t, filepath.Join(base, "b"), key))
	v := a.verifier(t)
	if b.VerifierKey() != a.VerifierKey() {
		t.Fatal("the two logs do not share a key")
	}
	a.appendN(t, 3)
	b.appendN(t, 3)
	cpA := a.checkpoint(t, v)
	cpB := b.checkpoint(t, v) // same key: it verifies
	if err := v.VerifyConsistency(t.Context(), b.ReadTile, cpA, cpB); !errors.Is(err, auditlog.ErrFork) {
		t.Errorf("same size, different roots: %v; want ErrFork", err)
	}
	b.appendN(t, 4)
	cpB = b.checkpoint(t, v)
	if err := v.VerifyConsistency(t.Context(), b.ReadTile, cpA, cpB); !errors.Is(err, auditlog.ErrFork) {
		t.Errorf("larger checkpoint of another history: %v; want ErrFork", err)
	}
	if err := v.VerifyConsistency(t.Context(), b.ReadTile, cpB, cpA); !errors.Is(err, auditlog.ErrFork) {
		t.Errorf("smaller newer checkpoint: %v; want ErrFork", err)
	}
	// An entry of a is not in b's tree, at its index or anywhere.
	leaf, err := a.ReadEntry(t.Context(), 1, cpA.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifyInclusion(t.Context(), b.ReadTile, cpB, 1, leaf); !errors.Is(err, auditlog.ErrNotIncluded) {
		t.Errorf("a's entry against b's tree: %v; want ErrNotIncluded", err)
	}
}

func TestCheckpointFromAnotherKey(t *testing.T) {
	t.Parallel()
	a := openLog(t)
	other := openLog(t) // same origin, another key
	v := a.verifier(t)
	raw, err := other.Checkpoint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cp, err := v.Checkpoint(raw); !errors.Is(err, auditlog.ErrBadCheckpoint) {
		t.Errorf("checkpoint signed by another key = %+v, %v; want ErrBadCheckpoint", cp, err)
	}
	good, err := a.Checkpoint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Checkpoint(good); err != nil {
		t.Fatalf("own checkpoint: %v", err)
	}
	// Alter the signed text (the size line) but keep the signature.
	forged := bytes.Replace(good, []byte("\n0\n"), []byte("\n1\n"), 1)
	if bytes.Equal(forged, good) {
		t.Fatal("could not forge the size line")
	}
	for name, raw := range map[string][]byte{
		"altered size": forged,
		"empty":        nil,
		"garbage":      []byte("not a note"),
		"unsigned":     good[:bytes.Index(good, []byte("\n\n"))+2],
	} {
		if _, err := v.Checkpoint(raw); !errors.Is(err, auditlog.ErrBadCheckpoint) {
			t.Errorf("%s: %v; want ErrBadCheckpoint", name, err)
		}
	}
	// A checkpoint for another origin with a right-looking signature: a
	// verifier for that origin does not accept ours.
	s, vkey, err := auditlog.LoadOrCreateKey(filepath.Join(t.TempDir(), "k"), "other.example/log")
	if err != nil || s.Name() != "other.example/log" {
		t.Fatal(err)
	}
	ov, err := auditlog.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ov.Checkpoint(good); !errors.Is(err, auditlog.ErrBadCheckpoint) {
		t.Errorf("checkpoint of another origin: %v; want ErrBadCheckpoint", err)
	}
}

// TestStorageFailureFailsFast breaks the POSIX driver for real: the entry
// bundle directory is replaced by a regular file, so writing the next
// bundle fails (ENOTDIR; chmod would not stop root). Tessera fails the
// whole batch and does not advance the tree; Append and AppendPublished
// return ErrUnavailable well within Timeout. Once the directory is back,
// the log works again and its history is intact.
func TestStorageFailureFailsFast(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	cfg := testConfig(t, filepath.Join(base, "log"), filepath.Join(base, "log.key"))
	cfg.Timeout = 3 * time.Second
	l := openLogWith(t, cfg)
	v := l.verifier(t)
	l.appendN(t, 3)
	cpBefore := l.checkpoint(t, v)

	entries := filepath.Join(l.dir, "tile", "entries")
	moved := entries + ".moved"
	if err := os.Rename(entries, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(entries, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, add := range map[string]func(context.Context, []byte) (uint64, error){
		"Append": l.Append, "AppendPublished": l.AppendPublished,
	} {
		start := time.Now()
		idx, err := add(t.Context(), newLeaf(t, api.AuditKeyRelease))
		if took := time.Since(start); took >= cfg.Timeout {
			t.Errorf("%s took %v, not within the timeout %v", name, took, cfg.Timeout)
		}
		if !errors.Is(err, auditlog.ErrUnavailable) {
			t.Errorf("%s on broken storage = %d, %v; want ErrUnavailable", name, idx, err)
		}
	}
	if size, err := l.Size(t.Context()); err != nil || size != cpBefore.Size {
		t.Errorf("size on broken storage = %d, %v; want %d", size, err, cpBefore.Size)
	}

	if err := os.Remove(entries); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(moved, entries); err != nil {
		t.Fatal(err)
	}
	leaf := newLeaf(t, api.AuditKeyRelease)
	idx, err := l.AppendPublished(t.Context(), leaf)
	if err != nil {
		t.Fatalf("AppendPublished after repair: %v", err)
	}
	if idx != cpBefore.Size {
		t.Errorf("first index after repair = %d, want %d (failed batches take no index)", idx, cpBefore.Size)
	}
	cp := l.checkpoint(t, v)
	if err := v.VerifyConsistency(t.Context(), l.ReadTile, cpBefore, cp); err != nil {
		t.Errorf("consistency across the failure: %v", err)
	}
	if err := v.VerifyInclusion(t.Context(), l.ReadTile, cp, idx, leaf); err != nil {
		t.Errorf("inclusion after repair: %v", err)
	}
}

// TestStorageHangTimesOut makes the driver block instead of fail: another
// process holds the POSIX record lock on .state/treeState.lock, which
// tessera takes (F_SETLKW, waiting forever) before every batch. Append
// must give up with ErrUnavailable after Timeout, not hang; Close must
// return; and once the lock is released the queued entry is sequenced.
func TestStorageHangTimesOut(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	cfg := testConfig(t, filepath.Join(base, "log"), filepath.Join(base, "log.key"))
	cfg.Timeout = 500 * time.Millisecond
	l := openLogWith(t, cfg)
	l.appendN(t, 2)

	release := holdLock(t, filepath.Join(l.dir, ".state", "treeState.lock"))
	for name, add := range map[string]func(context.Context, []byte) (uint64, error){
		"Append": l.Append, "AppendPublished": l.AppendPublished,
	} {
		start := time.Now()
		_, err := add(t.Context(), newLeaf(t, api.AuditGrant))
		took := time.Since(start)
		if !errors.Is(err, auditlog.ErrUnavailable) {
			t.Errorf("%s while storage hangs = %v; want ErrUnavailable", name, err)
		}
		if took < cfg.Timeout || took > cfg.Timeout+2*time.Second {
			t.Errorf("%s returned after %v; want about the timeout %v", name, took, cfg.Timeout)
		}
	}
	// A caller's own deadline ends the wait too.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.Append(ctx, newLeaf(t, api.AuditGrant)); !errors.Is(err, auditlog.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Append with an expired ctx = %v; want ErrUnavailable and DeadlineExceeded", err)
	}
	release()

	// The timed-out entries were queued, not lost: they are sequenced once
	// storage answers (ErrUnavailable means "not known to be logged").
	idx, err := l.AppendPublished(t.Context(), newLeaf(t, api.AuditGrant))
	if err != nil {
		t.Fatalf("AppendPublished after the lock is released: %v", err)
	}
	if idx < 2 {
		t.Errorf("index after release = %d, want ≥ 2", idx)
	}
	closeCtx, cancelClose := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancelClose()
	if err := l.Close(closeCtx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// holdLock has a child process (this test binary) take a write lock on
// path with fcntl, as tessera does; locks of one process do not block
// itself, so the holder must be another process. It returns a function
// that releases the lock.
func holdLock(t *testing.T, path string) func() {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldLock$")
	cmd.Env = append(os.Environ(), "AUDITLOG_HOLD_LOCK="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("lock holder: %q, %v", line, err)
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			stdin.Close()
			if err := cmd.Wait(); err != nil {
				t.Errorf("lock holder: %v", err)
			}
		})
	}
	t.Cleanup(release)
	return release
}

// TestHelperHoldLock is the child of holdLock, not a test.
func TestHelperHoldLock(t *testing.T) {
	path := os.Getenv("AUDITLOG_HOLD_LOCK")
	if path == "" {
		t.Skip("helper process for TestStorageHangTimesOut")
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLKW, &lk); err != nil {
		t.Fatal(err)
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
	f.Close()
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	good := testConfig(t, filepath.Join(base, "log"), filepath.Join(base, "log.key"))
	skey, vkey, err := note.GenerateKey(rand.Reader, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	_, otherVkey, err := note.GenerateKey(rand.Reader, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(base, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, modify := range map[string]func(*auditlog.Config){
		"no dir":                          func(c *auditlog.Config) { c.Dir = "" },
		"no signer":                       func(c *auditlog.Config) { c.Signer = nil },
		"plain signer without verifier":   func(c *auditlog.Config) { c.Signer = plain },
		"verifier of another key":         func(c *auditlog.Config) { c.Signer, c.VerifierKey = plain, otherVkey },
		"checkpoint interval below 100ms": func(c *auditlog.Config) { c.CheckpointInterval = 50 * time.Millisecond },
		"dir is a file":                   func(c *auditlog.Config) { c.Dir = notDir },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := good
			modify(&cfg)
			if l, err := auditlog.Open(t.Context(), cfg); err == nil {
				l.Close(t.Context())
				t.Error("Open succeeded")
			}
		})
	}
	// A plain note signer works when its verifier key is given.
	cfg := good
	cfg.Dir = filepath.Join(base, "plain")
	cfg.Signer, cfg.VerifierKey = plain, vkey
	l := openLogWith(t, cfg)
	if l.VerifierKey() != vkey {
		t.Errorf("VerifierKey = %q, want %q", l.VerifierKey(), vkey)
	}
}

func TestReopenWithAnotherKeyFails(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	cfg := testConfig(t, filepath.Join(base, "log"), filepath.Join(base, "a.key"))
	l, err := auditlog.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	cfg = testConfig(t, cfg.Dir, filepath.Join(base, "b.key"))
	if l, err := auditlog.Open(t.Context(), cfg); err == nil {
		l.Close(t.Context())
		t.Fatal("a log opened with a key that did not sign its checkpoints")
	}
}

// TestBeyondOneTile grows the log past one tile (256 leaves): level-1
// tiles, a full level-0 tile, and a partial one after it. Verification
// against an older checkpoint must survive the removal of the partial tiles
// it was built on, as tessera's garbage collection does once the full
// tile exists.
func TestBeyondOneTile(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	v := l.verifier(t)
	small := l.appendN(t, 100)
	cpSmall := l.checkpoint(t, v)

	const more = 200
	var wg sync.WaitGroup
	leaves := make([][]byte, more)
	idx := make([]uint64, more)
	for i := range more {
		leaves[i] = newLeaf(t, api.AuditAccess)
		wg.Go(func() {
			var err error
			if idx[i], err = l.Append(t.Context(), leaves[i]); err != nil {
				t.Errorf("Append: %v", err)
			}
		})
	}
	wg.Wait()
	if _, err := l.AppendPublished(t.Context(), newLeaf(t, api.AuditAccess)); err != nil {
		t.Fatal(err)
	}
	cp := l.checkpoint(t, v)
	if cp.Size != 301 {
		t.Fatalf("size %d, want 301", cp.Size)
	}
	if _, err := l.TileByPath(t.Context(), "0/000"); err != nil {
		t.Errorf("full tile 0/000: %v", err)
	}
	if _, err := l.TileByPath(t.Context(), "1/000.p/1"); err != nil {
		t.Errorf("level-1 tile 1/000.p/1: %v", err)
	}
	// What garbage collection would do: drop the partial tiles under the
	// now full tile 0/000.
	if err := os.RemoveAll(filepath.Join(l.dir, "tile", "0", "000.p")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(l.dir, "tile", "entries", "000.p")); err != nil {
		t.Fatal(err)
	}
	for i, leaf := range small {
		if i%17 != 0 {
			continue
		}
		got, err := l.ReadEntry(t.Context(), i, cpSmall.Size)
		if err != nil || !bytes.Equal(got, leaf) {
			t.Errorf("ReadEntry(%d) in the old tree = %s, %v", i, got, err)
		}
		if err := v.VerifyInclusion(t.Context(), l.ReadTile, cpSmall, i, leaf); err != nil {
			t.Errorf("entry %d against the old checkpoint: %v", i, err)
		}
		if err := v.VerifyInclusion(t.Context(), l.ReadTile, cp, i, leaf); err != nil {
			t.Errorf("entry %d against the new checkpoint: %v", i, err)
		}
	}
	for i := 0; i < more; i += 13 {
		if err := v.VerifyInclusion(t.Context(), l.ReadTile, cp, idx[i], leaves[i]); err != nil {
			t.Errorf("entry %d: %v", idx[i], err)
		}
	}
	if err := v.VerifyConsistency(t.Context(), l.ReadTile, cpSmall, cp); err != nil {
		t.Errorf("consistency 100 → 301: %v", err)
	}
	got, err := l.ReadEntries(t.Context(), 250, cp.Size, 10)
	if err != nil || len(got) != 10 {
		t.Fatalf("ReadEntries across the bundle boundary = %d leaves, %v; want 10", len(got), err)
	}
	for k, leaf := range got {
		if err := v.VerifyInclusion(t.Context(), l.ReadTile, cp, uint64(250+k), leaf); err != nil {
			t.Errorf("ReadEntries leaf %d: %v", 250+k, err)
		}
	}
}
