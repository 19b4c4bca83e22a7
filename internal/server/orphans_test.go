package server

import (
	"bytes"
	"path/filepath"
	"slices"
	"testing"

	"github.com/porchlight/porchlight/internal/blob/disk"
	"github.com/porchlight/porchlight/internal/seal"
	sqlitestore "github.com/porchlight/porchlight/internal/store/sqlite"
)

// TestSweepOrphansKeepsOtherBlobs: after an unclean stop the sweep deletes
// object-shaped blobs no object row names, and never public feed media,
// redaction results or campaign copies, which other rows own.
func TestSweepOrphansKeepsOtherBlobs(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlitestore.Open(t.Context(), filepath.Join(dir, "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	blobs, err := diskblob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	orphan := seal.NewID()
	public := "p0" + seal.NewID()
	result := "r" + seal.NewID() + seal.NewID()
	for _, id := range []string{orphan, public, result} {
		if err := blobs.Put(t.Context(), id, bytes.NewReader([]byte("x")), 1); err != nil {
			t.Fatal(err)
		}
	}
	n, err := sweepOrphans(t.Context(), st, blobs)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	if err := blobs.List(t.Context(), func(id string, _ int64) error { left = append(left, id); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(left)
	want := []string{public, result}
	slices.Sort(want)
	if n != 1 || !slices.Equal(left, want) {
		t.Fatalf("swept %d, left %v; want 1 swept and %v left", n, left, want)
	}
}
