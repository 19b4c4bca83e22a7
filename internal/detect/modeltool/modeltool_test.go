package modeltool

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// writeTgz makes an npm-style tarball holding files.
func writeTgz(t *testing.T, files map[string][]byte) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "pkg.tgz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func zipOf(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExtract(t *testing.T) {
	model := []byte("model bytes")
	lib := []byte("\x7fELF library")
	tgz := writeTgz(t, map[string][]byte{
		"package/package.json":    []byte("{}"),
		"package/dist/plugin.zip": zipOf(t, map[string][]byte{"fs/model.tflite": model, "main.py": nil}),
		"package/bin/lib.so.1":    lib,
	})
	dir := t.TempDir()
	for _, tc := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{"package/dist/plugin.zip:fs/model.tflite", model, 0o644},
		{"package/bin/lib.so.1", lib, 0o755},
	} {
		out := filepath.Join(dir, "sub", filepath.Base(tc.path))
		if err := Extract(tgz, tc.path, sum(tc.data), out, tc.mode); err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		got, err := os.ReadFile(out)
		if err != nil || !bytes.Equal(got, tc.data) {
			t.Errorf("%s: wrote %q (%v), want %q", tc.path, got, err, tc.data)
		}
		if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != tc.mode {
			t.Errorf("%s: mode %v, want %v", tc.path, fi.Mode(), tc.mode)
		}
	}

	out := filepath.Join(dir, "bad")
	err := Extract(tgz, "package/bin/lib.so.1", sum([]byte("other")), out, 0o644)
	if !errors.Is(err, ErrChecksum) {
		t.Errorf("wrong sha256: got %v, want ErrChecksum", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file failing its checksum was written: %v", err)
	}
	for _, path := range []string{"package/none", "package/dist/plugin.zip:fs/none", "package/package.json:x"} {
		if err := Extract(tgz, path, sum(nil), out, 0o644); err == nil {
			t.Errorf("%s: extracted a missing member", path)
		}
	}
	if err := Extract(filepath.Join(dir, "none.tgz"), "x", sum(nil), out, 0o644); err == nil {
		t.Error("extracted from a missing tarball")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"frobnicate"},
		{"convert"},
		{"convert", "--tflite", "x"},
		{"extract", "--from", "x"},
		{"convert", "--bogus"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Run(args, &stdout, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("Run(%q) = %d with stderr %q, want 2 and a message", args, code, stderr.String())
		}
	}
}

func TestRunConvertErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.tflite")
	os.WriteFile(bad, []byte("not a model"), 0o644)
	for _, in := range []string{bad, filepath.Join(dir, "missing.tflite")} {
		var stdout, stderr bytes.Buffer
		out := filepath.Join(dir, "out.onnx")
		if code := Run([]string{"convert", "--tflite", in, "--onnx", out}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "porchlight-model:") {
			t.Errorf("convert %s: exit %d, stderr %q", in, code, stderr.String())
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("convert %s wrote an output", in)
		}
	}
}
