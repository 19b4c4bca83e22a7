package web_test

import (
	"errors"
	"io/fs"
	"regexp"
	"testing"
	"testing/fstest"

	"github.com/porchlight/porchlight/web"
)

// TestEmbedded checks the embedded build, if there is one, the way
// porchlightd loads it: bundle.json's hash covers exactly the files served.
func TestEmbedded(t *testing.T) {
	b, err := web.Load(web.FS())
	if errors.Is(err, web.ErrNotBuilt) {
		if _, err := fs.Stat(web.FS(), ".keep"); err != nil {
			t.Fatalf("dist/.keep is not embedded: %v", err)
		}
		t.Log("no web build embedded (run make build to embed one)")
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(b.SHA256) {
		t.Errorf("bundle hash %q", b.SHA256)
	}
}

func TestLoadRefuses(t *testing.T) {
	idx := &fstest.MapFile{Data: []byte("<!doctype html>")}
	for name, c := range map[string]struct {
		fsys fstest.MapFS
		not  bool // want ErrNotBuilt
	}{
		"empty":          {fstest.MapFS{".keep": {}}, true},
		"no bundle.json": {fstest.MapFS{"index.html": idx}, false},
		"not JSON":       {fstest.MapFS{"index.html": idx, "bundle.json": {Data: []byte("{")}}, false},
		"wrong version": {fstest.MapFS{"index.html": idx, "bundle.json": {Data: []byte(
			`{"v":2,"sha256":"` + zeros + `","files":["index.html"]}`)}}, false},
		"missing file": {fstest.MapFS{"index.html": idx, "bundle.json": {Data: []byte(
			`{"v":1,"sha256":"` + zeros + `","files":["index.html","app.js"]}`)}}, false},
		"wrong hash": {fstest.MapFS{"index.html": idx, "bundle.json": {Data: []byte(
			`{"v":1,"sha256":"` + zeros + `","files":["index.html"]}`)}}, false},
	} {
		_, err := web.Load(c.fsys)
		if err == nil || errors.Is(err, web.ErrNotBuilt) != c.not {
			t.Errorf("%s: Load = %v, want ErrNotBuilt %v", name, err, c.not)
		}
	}
}

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"
