package httpapi

// The browser app: porchlightd serves the files web/build.mjs built (the
// web package embeds them) at the site's root, beside the API under /v1/.
//
//   - GET / is index.html, revalidated on every load (ETag = the bundle's
//     hash), so a new build reaches browsers at once.
//   - The script and stylesheet have content-hashed names and are cached
//     for a year as immutable; index.html pins them with subresource
//     integrity.
//   - /sw.js, the service worker, is never cached (browsers check it for
//     updates) and may control the whole origin.
//   - Every file carries the strict Content-Security-Policy below: scripts
//     and styles from this origin only, no inline code, no eval, media and
//     images from this origin or blob: URLs the app made after decrypting.
//   - Anything else is the API's JSON 404.
//
// GET /v1/client tells anyone which client this service serves (the
// bundle's hash and files), the same hash porchlightd writes to each
// household's audit log when it starts serving a new build
// (RecordClientBundle), so an owner can compare what their browser ran with
// what the log says was served.

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auditlog"
	"github.com/porchlight/porchlight/web"
)

// ContentSecurityPolicy is the policy of every file of the browser app.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
	"media-src 'self' blob:; connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; " +
	"frame-ancestors 'none'; form-action 'self'"

// hashedAsset matches the content-hashed names build.mjs gives the script
// and the stylesheet.
var hashedAsset = regexp.MustCompile(`^app\.[0-9a-f]{16}\.(js|css)$`)

// webApp is the loaded bundle; err says why there is none.
type webApp struct {
	bundle web.Bundle
	files  map[string][]byte // served files by name
	err    error
}

// loadWeb reads the app from s.Web once (Server.init).
func (s *Server) loadWeb() {
	if s.Web == nil {
		s.web.err = web.ErrNotBuilt
		return
	}
	b, err := web.Load(s.Web)
	if err != nil {
		s.web.err = err
		if !errors.Is(err, web.ErrNotBuilt) {
			s.Logger.Error("the web app cannot be served", "err", err)
		}
		return
	}
	files := make(map[string][]byte, len(b.Files))
	for _, f := range b.Files {
		data, err := fs.ReadFile(s.Web, f)
		if err != nil {
			s.web.err = err
			return
		}
		files[f] = data
	}
	s.web = webApp{bundle: b, files: files}
}

// ClientBundle returns the browser app porchlightd serves, or an error
// wrapping web.ErrNotBuilt when it has none.
func (s *Server) ClientBundle() (web.Bundle, error) {
	s.init()
	return s.web.bundle, s.web.err
}

// isWebPath reports whether r is for the browser app rather than the API.
func isWebPath(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		r.URL.Path != "/v1" && !strings.HasPrefix(r.URL.Path, "/v1/")
}

// serveWeb serves one file of the browser app.
func (s *Server) serveWeb(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Del("Vary") // the files are the same for everyone
	name := strings.TrimPrefix(r.URL.Path, "/")
	if name == "" {
		name = "index.html"
	} else if name == "index.html" || path.Clean(r.URL.Path) != r.URL.Path {
		return webNotFound(w)
	}
	if s.web.err != nil {
		if name != "index.html" {
			return webNotFound(w)
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(notBuiltPage))
		return nil
	}
	data, ok := s.web.files[name]
	if !ok {
		return webNotFound(w)
	}
	switch {
	case name == "index.html":
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", `"`+s.web.bundle.SHA256+`"`)
	case name == "sw.js":
		h.Set("Cache-Control", "no-cache")
		h.Set("Service-Worker-Allowed", "/")
		h.Set("ETag", `"`+s.web.bundle.SHA256+`"`)
	case hashedAsset.MatchString(name):
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	default:
		h.Set("Cache-Control", "no-cache")
	}
	switch path.Ext(name) {
	case ".html":
		h.Set("Content-Type", "text/html; charset=utf-8")
	case ".js":
		h.Set("Content-Type", "text/javascript; charset=utf-8")
	case ".css":
		h.Set("Content-Type", "text/css; charset=utf-8")
	case ".json":
		h.Set("Content-Type", "application/json")
	default:
		h.Set("Content-Type", "application/octet-stream")
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
	return nil
}

// webNotFound is the API's JSON 404, so that every error porchlightd
// answers has the same shape.
func webNotFound(http.ResponseWriter) error {
	return errNotFound("no such file: the Porchlight app is at /")
}

// notBuiltPage is GET / when porchlightd was built without the app.
const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Porchlight</title></head>
<body><h1>Porchlight</h1><p>web app not built: run make build (it builds web/dist before porchlightd embeds it), then restart porchlightd.</p></body></html>
`

// client answers GET /v1/client: the served bundle's hash and files.
func (s *Server) client(w http.ResponseWriter, r *http.Request) error {
	b, err := s.ClientBundle()
	if err != nil {
		return &httpError{http.StatusNotFound, "not_found", "this porchlightd serves no web app: it was built without one (run make build)", err}
	}
	writeJSON(w, http.StatusOK, api.Client{SHA256: b.SHA256, Files: b.Files})
	return nil
}

// RecordClientBundle writes the served bundle's hash and files to the audit
// log of each household listed, as an entry of class api.AuditClient
// sealed like every other (porchlightd calls it at startup for the
// households with devices, once per new bundle). It returns how many
// entries were written; it stops at the first failure.
func (s *Server) RecordClientBundle(ctx context.Context, households []string) (int, error) {
	b, err := s.ClientBundle()
	if err != nil {
		return 0, err
	}
	files := slices.Clone(b.Files)
	n := 0
	for _, hh := range households {
		body := auditlog.Body{
			Actor:    auditlog.Actor{Kind: api.ActorService},
			Action:   "client_served",
			Resource: "client:" + b.SHA256,
			Detail:   "web app bundle sha256 " + b.SHA256 + "; files " + strings.Join(files, " "),
		}
		if err := s.record(ctx, hh, api.AuditClient, body, false); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
