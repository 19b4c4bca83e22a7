package diskblob_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/porchlight/porchlight/internal/blob"
	"github.com/porchlight/porchlight/internal/blob/blobtest"
	diskblob "github.com/porchlight/porchlight/internal/blob/disk"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		d, err := diskblob.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

func TestLayoutAndTempCleanup(t *testing.T) {
	root := t.TempDir()
	d, err := diskblob.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	id := "abcdefghijklmnopqrstuvwxyz"
	blobtest.MustPut(t, d, id, []byte("age-encryption.org/v1\n..."))
	if _, err := os.Stat(filepath.Join(root, "ab", "cd", id)); err != nil {
		t.Errorf("blob not at ab/cd/<id>: %v", err)
	}
	// A failed put leaves no temp file behind.
	_ = d.Put(t.Context(), "zzzzzzzzzzzzzzzzzzzzzzzzzz", bytes.NewReader([]byte("x")), 2)
	if left, _ := os.ReadDir(filepath.Join(root, "tmp")); len(left) != 0 {
		t.Errorf("temp files left after a failed put: %v", left)
	}
	// Temp files from a crash are removed on Open and never listed.
	if err := os.WriteFile(filepath.Join(root, "tmp", id+".partial"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := diskblob.Open(root); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "tmp")); len(left) != 0 {
		t.Errorf("Open kept crash leftovers: %v", left)
	}
	if _, _, err := d.Get(t.Context(), "zzzzzzzzzzzzzzzzzzzzzzzzzz"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("failed put visible: %v", err)
	}
}
