package httpapi_test

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/httpapi"
)

// fakeBundle builds what web/build.mjs writes: hashed script and
// stylesheet, a service worker, index.html with subresource integrity and
// bundle.json with the whole client's hash.
func fakeBundle(t *testing.T) (fstest.MapFS, api.Client) {
	t.Helper()
	js := []byte("console.log('porchlight');\n")
	css := []byte("body{margin:0}\n")
	short := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:])[:16] }
	sri := func(b []byte) string {
		s := sha512.Sum384(b)
		return "sha384-" + base64.StdEncoding.EncodeToString(s[:])
	}
	jsName, cssName := "app."+short(js)+".js", "app."+short(css)+".css"
	html := fmt.Sprintf(`<!doctype html><html><head><link rel="stylesheet" href="/%s" integrity="%s">`+
		`<script type="module" src="/%s" integrity="%s"></script></head><body></body></html>`, cssName, sri(css), jsName, sri(js))
	fsys := fstest.MapFS{
		jsName:       {Data: js},
		cssName:      {Data: css},
		"sw.js":      {Data: []byte("self.addEventListener('push',()=>{});\n")},
		"index.html": {Data: []byte(html)},
		".keep":      {Data: nil},
	}
	var files []string
	for n := range fsys {
		if n != ".keep" {
			files = append(files, n)
		}
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		h.Write([]byte(f + "\x00"))
		h.Write(fsys[f].Data)
		h.Write([]byte{0})
	}
	c := api.Client{SHA256: hex.EncodeToString(h.Sum(nil)), Files: files}
	b, _ := json.Marshal(map[string]any{"v": 1, "sha256": c.SHA256, "files": c.Files})
	fsys["bundle.json"] = &fstest.MapFile{Data: b}
	return fsys, c
}

func get(t *testing.T, h http.Handler, method, path string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var integrityAttr = regexp.MustCompile(`(?:src|href)="/([^"]+)" integrity="(sha384-[^"]+)"`)

func TestWebApp(t *testing.T) {
	fsys, want := fakeBundle(t)
	srv := &httpapi.Server{Web: fsys}
	h := srv.Handler()

	t.Run("index has the CSP and pins its files by integrity", func(t *testing.T) {
		resp := get(t, h, http.MethodGet, "/")
		page := body(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /: %d\n%s", resp.StatusCode, page)
		}
		for k, v := range map[string]string{
			"Content-Security-Policy": httpapi.ContentSecurityPolicy,
			"Content-Type":            "text/html; charset=utf-8",
			"Cache-Control":           "no-cache",
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Referrer-Policy":         "no-referrer",
			"Etag":                    `"` + want.SHA256 + `"`,
		} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("GET / %s = %q, want %q", k, got, v)
			}
		}
		for _, d := range []string{"script-src 'self'", "style-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "media-src 'self' blob:"} {
			if !strings.Contains(resp.Header.Get("Content-Security-Policy"), d) {
				t.Errorf("CSP lacks %q", d)
			}
		}
		refs := integrityAttr.FindAllStringSubmatch(page, -1)
		if len(refs) != 2 {
			t.Fatalf("index.html pins %d files by integrity, want 2 (script and stylesheet):\n%s", len(refs), page)
		}
		for _, m := range refs {
			resp := get(t, h, http.MethodGet, "/"+m[1])
			data := body(t, resp)
			sum := sha512.Sum384([]byte(data))
			if got := "sha384-" + base64.StdEncoding.EncodeToString(sum[:]); got != m[2] {
				t.Errorf("/%s serves bytes with integrity %s; index.html says %s", m[1], got, m[2])
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
				t.Errorf("/%s Cache-Control %q, want immutable for a year", m[1], cc)
			}
			if resp.Header.Get("Content-Security-Policy") != httpapi.ContentSecurityPolicy {
				t.Errorf("/%s lacks the CSP", m[1])
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") && !strings.HasPrefix(ct, "text/css") {
				t.Errorf("/%s Content-Type %q", m[1], ct)
			}
		}
	})

	t.Run("index revalidates by ETag", func(t *testing.T) {
		resp := get(t, h, http.MethodGet, "/", "If-None-Match", `"`+want.SHA256+`"`)
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("GET / with the current ETag: %d, want 304", resp.StatusCode)
		}
	})

	t.Run("service worker", func(t *testing.T) {
		resp := get(t, h, http.MethodGet, "/sw.js")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Service-Worker-Allowed") != "/" || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET /sw.js: %d, Service-Worker-Allowed %q, Cache-Control %q", resp.StatusCode,
				resp.Header.Get("Service-Worker-Allowed"), resp.Header.Get("Cache-Control"))
		}
	})

	t.Run("unknown paths", func(t *testing.T) {
		for _, p := range []string{"/nope.js", "/index.html", "/app.0000000000000000.js", "/.keep", "/bundle.json/x"} {
			resp := get(t, h, http.MethodGet, p)
			if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("GET %s: %d, Cache-Control %q; want 404, no-store", p, resp.StatusCode, resp.Header.Get("Cache-Control"))
			}
		}
		resp := get(t, h, http.MethodGet, "/v1/nope")
		var e api.Error
		if resp.StatusCode != http.StatusNotFound || json.NewDecoder(resp.Body).Decode(&e) != nil || e.Code != "not_found" {
			t.Errorf("GET /v1/nope: %d %+v, want the API's JSON 404", resp.StatusCode, e)
		}
		if resp := get(t, h, http.MethodPost, "/"); resp.StatusCode == http.StatusOK {
			t.Errorf("POST /: %d, want an error", resp.StatusCode)
		}
	})

	t.Run("GET /v1/client", func(t *testing.T) {
		resp := get(t, h, http.MethodGet, "/v1/client")
		var got api.Client
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v1/client: %d %v", resp.StatusCode, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GET /v1/client (-want +got):\n%s", diff)
		}
	})
}

func TestWebAppNotBuilt(t *testing.T) {
	fsys, _ := fakeBundle(t)
	tampered := fstest.MapFS{}
	for k, v := range fsys {
		tampered[k] = v
	}
	tampered["sw.js"] = &fstest.MapFile{Data: []byte("evil()")}
	for name, fsys := range map[string]fstest.MapFS{
		"no files":                   nil,
		"only .keep":                 {".keep": {}},
		"files differ from the hash": tampered,
	} {
		t.Run(name, func(t *testing.T) {
			srv := &httpapi.Server{}
			if fsys != nil {
				srv.Web = fsys
			}
			h := srv.Handler()
			resp := get(t, h, http.MethodGet, "/")
			page := body(t, resp)
			if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, "web app not built: run make build") {
				t.Errorf("GET /: %d\n%s", resp.StatusCode, page)
			}
			if resp.Header.Get("Content-Security-Policy") != httpapi.ContentSecurityPolicy {
				t.Errorf("the not-built page lacks the CSP")
			}
			if resp := get(t, h, http.MethodGet, "/sw.js"); resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET /sw.js: %d, want 404", resp.StatusCode)
			}
			if resp := get(t, h, http.MethodGet, "/v1/client"); resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET /v1/client: %d, want 404", resp.StatusCode)
			}
		})
	}
}
