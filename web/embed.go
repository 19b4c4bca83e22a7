// Package web embeds the browser app built by web/build.mjs (`make build`
// runs it): index.html, the content-hashed script and stylesheet, the
// service worker and bundle.json, which names the files and the hash of the
// whole client. internal/httpapi serves these files; porchlightd writes the
// bundle's hash to the audit log at startup so owners can tell which client
// they were served.
//
// Do not put anything here that the browser should not download: every file
// in dist/ is public.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
)

//go:embed all:dist
var dist embed.FS

// Bundle describes one build of the client (dist/bundle.json).
type Bundle struct {
	V      int      `json:"v"`
	SHA256 string   `json:"sha256"` // over every file's name and bytes, in name order
	Files  []string `json:"files"`  // served file names, sorted
}

// ErrNotBuilt means dist holds no built app: run `make build` (or
// `cd web && node build.mjs`) before `go build`.
var ErrNotBuilt = errors.New("web app not built: run make build")

var hexHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

// FS returns the built files, rooted at dist.
func FS() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path
	}
	return sub
}

// Load reads bundle.json from fsys (FS() in porchlightd). It returns
// ErrNotBuilt when there is no index.html, and an error for a bundle.json
// that does not parse or names files that are missing.
func Load(fsys fs.FS) (Bundle, error) {
	if _, err := fs.Stat(fsys, "index.html"); err != nil {
		return Bundle{}, ErrNotBuilt
	}
	b, err := fs.ReadFile(fsys, "bundle.json")
	if err != nil {
		return Bundle{}, fmt.Errorf("web app bundle.json missing: rebuild with make build: %w", err)
	}
	var bu Bundle
	if err := json.Unmarshal(b, &bu); err != nil {
		return Bundle{}, fmt.Errorf("web app bundle.json does not parse: rebuild with make build: %w", err)
	}
	if bu.V != 1 || !hexHash.MatchString(bu.SHA256) || len(bu.Files) == 0 {
		return Bundle{}, fmt.Errorf("web app bundle.json is not a version 1 bundle with a sha256 and files: rebuild with make build")
	}
	// The hash is build.mjs's: each file's name, NUL, bytes, NUL, in the
	// listed (sorted) order. Recomputing it here means the hash porchlightd
	// logs is the hash of what it serves.
	h := sha256.New()
	for _, f := range bu.Files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return Bundle{}, fmt.Errorf("web app bundle.json names %s, which is missing: rebuild with make build", f)
		}
		h.Write([]byte(f + "\x00"))
		h.Write(data)
		h.Write([]byte{0})
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != bu.SHA256 {
		return Bundle{}, fmt.Errorf("web app files hash to %s, bundle.json says %s: rebuild with make build", got, bu.SHA256)
	}
	return bu, nil
}
