package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/testutil"
)

func mustOpen(t testing.TB, dir string, max int64) (*Spool, *testutil.SyncBuffer) {
	t.Helper()
	lb := &testutil.SyncBuffer{}
	s, err := Open(dir, Options{Max: max, Logger: slog.New(slog.NewTextHandler(lb, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s, lb
}

func mustPut(t testing.TB, s *Spool, it Item) {
	t.Helper()
	if err := s.Put(it); err != nil {
		t.Fatal(err)
	}
}

func seg(cam string, seq uint64, n int) Item {
	return Item{ID: seal.NewID(), Kind: KindSegment, Meta: Meta{Camera: cam, Seq: seq, Time: time.Unix(1700000000, 0).UTC()},
		Body: bytes.Repeat([]byte{byte(seq)}, n)}
}

func manifest(cam string, seq uint64, segs ...Item) Item {
	var refs []string
	for _, s := range segs {
		refs = append(refs, s.ID)
	}
	return Item{ID: seal.NewID(), Kind: KindManifest, Meta: Meta{Camera: cam, Seq: seq, Refs: refs}, Body: []byte("manifest")}
}

func TestFIFOAndDone(t *testing.T) {
	s, _ := mustOpen(t, t.TempDir(), 0)
	ep := Item{ID: seal.NewID(), Kind: KindEpoch, Meta: Meta{Camera: "c"}, Body: []byte(`{"camera_id":"c"}`)}
	a, b := seg("c", 1, 100), seg("c", 2, 200)
	for _, it := range []Item{ep, a, b} {
		mustPut(t, s, it)
	}
	if s.Len() != 3 {
		t.Fatalf("Len = %d", s.Len())
	}
	if err := s.Put(a); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate Put: %v", err)
	}
	ctx := t.Context()
	for _, want := range []Item{ep, a, b} {
		got, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != want.ID || got.Kind != want.Kind || !bytes.Equal(got.Body, want.Body) || got.Meta.Seq != want.Meta.Seq {
			t.Fatalf("Next = %+v, want %+v", got, want)
		}
		// Next without Done returns the same item.
		if again, _ := s.Next(ctx); again.ID != want.ID {
			t.Fatalf("second Next = %s", again.ID)
		}
		if err := s.Done(got.ID); err != nil {
			t.Fatal(err)
		}
	}
	if s.Len() != 0 || s.Bytes() != 0 {
		t.Fatalf("after drain: %d items, %d bytes", s.Len(), s.Bytes())
	}
	if err := s.Done(a.ID); err != nil {
		t.Fatalf("Done of a gone item: %v", err)
	}
	st := s.Stats()
	if st.Put != 3 || st.Done != 3 {
		t.Fatalf("stats %+v", st)
	}
	ctx2, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := s.Next(ctx2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on empty: %v", err)
	}
}

func TestNextWaitsForPut(t *testing.T) {
	s, _ := mustOpen(t, t.TempDir(), 0)
	a := seg("c", 1, 10)
	go func() {
		time.Sleep(20 * time.Millisecond)
		s.Put(a)
	}()
	got, err := s.Next(t.Context())
	if err != nil || got.ID != a.ID {
		t.Fatalf("Next = %v, %v", got.ID, err)
	}
}

func TestReopenKeepsOrderAndMeta(t *testing.T) {
	dir := t.TempDir()
	s, _ := mustOpen(t, dir, 0)
	var ids []string
	for i := range 5 {
		it := seg("cam", uint64(i+1), 10*(i+1))
		it.Meta.Extra = []byte(fmt.Sprintf(`{"n":%d}`, i))
		mustPut(t, s, it)
		ids = append(ids, it.ID)
	}
	m := manifest("cam", 1)
	m.Meta.Refs = ids[:3]
	mustPut(t, s, m)
	s.Done(ids[0])

	s2, _ := mustOpen(t, dir, 0)
	items := s2.Items()
	if len(items) != 5 {
		t.Fatalf("reopened %d items", len(items))
	}
	for i, it := range items[:4] {
		if it.ID != ids[i+1] || string(it.Meta.Extra) != fmt.Sprintf(`{"n":%d}`, i+1) {
			t.Fatalf("item %d = %+v", i, it)
		}
	}
	if items[4].Kind != KindManifest || len(items[4].Meta.Refs) != 3 {
		t.Fatalf("manifest = %+v", items[4])
	}
	if s2.Bytes() != s.Bytes() {
		t.Fatalf("bytes %d, want %d", s2.Bytes(), s.Bytes())
	}
	// New items continue the sequence.
	n := seg("cam", 9, 1)
	mustPut(t, s2, n)
	if it := s2.Items(); it[len(it)-1].Seq <= items[4].Seq {
		t.Fatalf("sequence went backwards: %d after %d", it[len(it)-1].Seq, items[4].Seq)
	}
}

// TestCrash simulates a crash at every point of a Put: temp files left
// behind (partial and complete but not renamed), plus a torn file under a
// final name that a broken filesystem could leave. Reopening shows only
// whole items, removes the temp files and moves the torn one aside.
func TestCrash(t *testing.T) {
	dir := t.TempDir()
	s, _ := mustOpen(t, dir, 0)
	a, b := seg("c", 1, 1000), seg("c", 2, 1000)
	mustPut(t, s, a)
	mustPut(t, s, b)

	// A Put that crashed before its rename: a temp file, partially written.
	os.WriteFile(filepath.Join(dir, ".tmp-123"), []byte(Magic+`{"v":1,"id":"x`), 0o600)
	// A Put that crashed after fsync, before rename.
	full, _ := os.ReadFile(filepath.Join(dir, FileName(1, KindSegment, a.ID)))
	os.WriteFile(filepath.Join(dir, ".tmp-456"), full, 0o600)
	// A torn item under a final name.
	torn := FileName(7, KindSegment, seal.NewID())
	os.WriteFile(filepath.Join(dir, torn), full[:40], 0o600)
	// A body flipped on disk.
	c := seg("c", 3, 1000)
	mustPut(t, s, c)
	cname := filepath.Join(dir, FileName(3, KindSegment, c.ID))
	cb, _ := os.ReadFile(cname)
	cb[len(cb)-1] ^= 1
	os.WriteFile(cname, cb, 0o600)

	s2, lb := mustOpen(t, dir, 0)
	items := s2.Items()
	if len(items) != 3 || items[0].ID != a.ID || items[1].ID != b.ID || items[2].ID != c.ID {
		t.Fatalf("after crash: %+v", items)
	}
	for _, n := range []string{".tmp-123", ".tmp-456"} {
		if _, err := os.Stat(filepath.Join(dir, n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("temp file %s survived Open", n)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "quarantine", torn)); err != nil {
		t.Errorf("torn item not quarantined: %v", err)
	}
	if !strings.Contains(lb.String(), "unreadable item") {
		t.Errorf("no log line for the torn item:\n%s", lb)
	}
	// The flipped body is detected when read.
	if _, err := s2.Read(c.ID); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Read of a flipped body: %v", err)
	}
	if p, err := s2.Quarantine(c.ID); err != nil || !strings.Contains(p, "quarantine") {
		t.Fatalf("Quarantine = %q, %v", p, err)
	}
	if s2.Len() != 2 || s2.Stats().Quarantined != 2 {
		t.Fatalf("after quarantine: len %d, stats %+v", s2.Len(), s2.Stats())
	}
}

func TestEvictionOldestWholeUnits(t *testing.T) {
	dir := t.TempDir()
	// Each segment file is ~1 KiB + header; cap fits about 8 of them.
	s, lb := mustOpen(t, dir, 9000)
	ep := Item{ID: seal.NewID(), Kind: KindEpoch, Meta: Meta{Camera: "cam"}, Body: []byte("{}")}
	cd := Item{ID: seal.NewID(), Kind: KindCamera, Meta: Meta{Camera: "cam"}, Body: []byte("desc")}
	mustPut(t, s, ep)
	mustPut(t, s, cd)
	var batches [][]Item
	var mans []Item
	seq := uint64(0)
	for range 2 {
		var b []Item
		for range 3 {
			seq++
			it := seg("cam", seq, 1000)
			mustPut(t, s, it)
			b = append(b, it)
		}
		m := manifest("cam", uint64(len(mans)+1), b...)
		mustPut(t, s, m)
		batches = append(batches, b)
		mans = append(mans, m)
	}
	// The uploader already sent the first segment of batch 0.
	if err := s.Done(batches[0][0].ID); err != nil {
		t.Fatal(err)
	}
	// Open batch: segments without a manifest yet, never evictable.
	open1 := seg("cam", 7, 1000)
	mustPut(t, s, open1)
	open2 := seg("cam", 8, 1000)
	mustPut(t, s, open2) // forces eviction of batch 0 (2 spooled segments + manifest)
	ids := map[string]bool{}
	for _, it := range s.Items() {
		ids[it.ID] = true
	}
	for _, it := range append(batches[0], mans[0]) {
		if ids[it.ID] {
			t.Errorf("item %s of the oldest unit was not evicted", it.ID)
		}
	}
	for _, it := range append(batches[1], mans[1], ep, cd, open1, open2) {
		if !ids[it.ID] {
			t.Errorf("item %s (%s seq %d) was evicted", it.ID, it.Kind, it.Meta.Seq)
		}
	}
	st := s.Stats()
	if st.Evicted != 3 || st.EvictedSegments != 2 || st.EvictedBytes == 0 {
		t.Fatalf("stats %+v", st)
	}
	if s.Bytes() > 9000 {
		t.Fatalf("over cap: %d", s.Bytes())
	}
	log := lb.String()
	if strings.Count(log, "evicted the oldest recording") != 1 || !strings.Contains(log, "camera=cam") ||
		!strings.Contains(log, "seq=2-3") || !strings.Contains(log, "reason=\"spool cap reached\"") {
		t.Fatalf("eviction log:\n%s", log)
	}

	// Fill up with open-batch segments: once only unmanifested segments,
	// the epoch and the descriptor are left, a segment is refused.
	var err error
	for i := range 20 {
		if err = s.Put(seg("cam", uint64(9+i), 1000)); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("want ErrFull, got %v", err)
	}
	for _, it := range []Item{ep, cd} {
		if _, err := s.Read(it.ID); err != nil {
			t.Fatalf("epoch/camera item evicted: %v", err)
		}
	}
	// Metadata kinds are accepted over the cap.
	if err := s.Put(Item{ID: seal.NewID(), Kind: KindEpoch, Body: bytes.Repeat([]byte("x"), 2000)}); err != nil {
		t.Fatalf("epoch over the cap: %v", err)
	}
}

func TestENOSPCEvictsAndRetries(t *testing.T) {
	s, lb := mustOpen(t, t.TempDir(), 0)
	a, b := seg("cam", 1, 100), seg("cam", 2, 100)
	mustPut(t, s, a)
	mustPut(t, s, b)
	mustPut(t, s, manifest("cam", 1, a, b))

	fails := 1
	s.writeFile = func(f *os.File, data ...[]byte) error {
		if fails > 0 {
			fails--
			f.Write([]byte("partial"))
			return &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
		}
		return writeSync(f, data...)
	}
	c := seg("cam", 3, 100)
	if err := s.Put(c); err != nil {
		t.Fatalf("Put after one ENOSPC: %v", err)
	}
	if s.Len() != 1 || s.Stats().Evicted != 3 {
		t.Fatalf("after ENOSPC: len %d stats %+v", s.Len(), s.Stats())
	}
	if !strings.Contains(lb.String(), `reason="disk full"`) {
		t.Fatalf("log:\n%s", lb)
	}
	// Disk stays full and nothing is evictable: an error, no panic, no
	// leftover temp file.
	fails = 2
	d := seg("cam", 4, 100)
	if err := s.Put(d); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Put on a full disk: %v", err)
	}
	des, _ := os.ReadDir(s.Dir())
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".tmp-") {
			t.Fatalf("temp file left: %s", de.Name())
		}
	}
}

func TestPutRejectsBadItems(t *testing.T) {
	s, _ := mustOpen(t, t.TempDir(), 0)
	for name, it := range map[string]Item{
		"kind": {ID: seal.NewID(), Kind: "photo"},
		"id":   {ID: "../../etc/passwd", Kind: KindSegment},
		"dash": {ID: "abc-def", Kind: KindSegment},
	} {
		if err := s.Put(it); err == nil {
			t.Errorf("%s: Put accepted %+v", name, it)
		}
	}
}

func TestParseName(t *testing.T) {
	id := seal.NewID()
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{FileName(1, KindSegment, id), true},
		{FileName(0xffffffffffffffff, KindManifest, id), true},
		{FileName(0, KindSegment, id), false},
		{"000000000000001-segment-" + id, false},
		{"000000000000001G-segment-" + id, false},
		{"000000000000001A-segment-" + id, false},
		{"0000000000000001-video-" + id, false},
		{"0000000000000001-segment-" + id + "-x", false},
		{"0000000000000001-segment-ABC", false},
		{".tmp-1", false},
		{"", false},
	} {
		seq, kind, gotID, err := ParseName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ParseName(%q) err = %v", tc.name, err)
			continue
		}
		if tc.ok && FileName(seq, kind, gotID) != tc.name {
			t.Errorf("ParseName(%q) does not round-trip", tc.name)
		}
	}
}

func FuzzParseName(f *testing.F) {
	id := seal.NewID()
	for _, s := range []string{FileName(1, KindSegment, id), FileName(42, KindEpoch, id), "0000000000000001-segment-x", "", "---"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		seq, kind, id, err := ParseName(name)
		if err != nil {
			return
		}
		// Non-malleable: an accepted name is exactly the canonical one.
		if FileName(seq, kind, id) != name {
			t.Fatalf("ParseName(%q) accepted a non-canonical name", name)
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	good, _ := encodeHeader(header{ID: seal.NewID(), Kind: KindManifest, BodySHA256: strings.Repeat("a", 64),
		Meta: Meta{Camera: "c", Refs: []string{"x"}, Extra: []byte(`{"a":1}`)}})
	f.Add(append(good, "body"...))
	f.Add(good[:len(good)-1])
	f.Add([]byte(Magic + "{}\n"))
	f.Add([]byte("porchlight.spool/v2\n{}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, off, err := parseHeader(b)
		if err != nil {
			return
		}
		if off > len(b) || off < len(Magic) {
			t.Fatalf("body offset %d out of range (len %d)", off, len(b))
		}
		// Re-encoding the parsed header parses to the same header.
		enc, err := encodeHeader(h)
		if err != nil {
			return
		}
		h2, off2, err := parseHeader(enc)
		if err != nil || off2 != len(enc) || h2.ID != h.ID || h2.Kind != h.Kind || h2.BodySHA256 != h.BodySHA256 {
			t.Fatalf("round trip: %v %+v %+v", err, h, h2)
		}
	})
}
