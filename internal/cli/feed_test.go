package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/geocell"
	"github.com/porchlight/porchlight/internal/seal"
)

// recorder is an HTTP transport that keeps every request's URL and body.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	r.mu.Lock()
	r.seen = append(r.seen, req.URL.String()+"\n"+string(body))
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) contains(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.seen {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

// TestPublishAndFeed: an owner device publishes a redacted clip only
// after the preview and a yes, signing exactly that file; a neighbour
// finds it by coordinates that never leave the device, saves the exact
// file and reports it; the owner lists and withdraws it, after which it is
// gone; the owner's audit log shows each step.
func TestPublishAndFeed(t *testing.T) {
	env, server := signedUp(t, t.TempDir(), t.TempDir())
	lat, lon := 48.137154, 11.576124
	cell := geocell.Cell(lat, lon)

	media := append([]byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"), bytes.Repeat([]byte("redacted frames "), 200)...)
	job := seal.NewID()
	var out, errb bytes.Buffer
	m := &Main{Env: env.get, Stdout: &out, Stderr: &errb}
	m.defaults()
	h, err := m.openHousehold(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	hdr := seal.Redaction{V: 1, Job: job, Household: h.roster.Household, Purpose: seal.PurposePublish, MP4SHA256: seal.SHA256Hex(media), Size: int64(len(media)), Frames: 50, Blurred: 12}
	preview := filepath.Join(t.TempDir(), "preview.mp4")
	opts := publishOptions{title: "Grey cat missing since Tuesday", category: seal.CategoryLostPet, cell: cell, preview: preview}

	// Declined: the preview is written, nothing is published.
	m.in = bufio.NewReader(strings.NewReader("n\n"))
	if err := m.publishRedacted(t.Context(), h, job, hdr, media, opts); err == nil || !strings.Contains(err.Error(), "not published") {
		t.Fatalf("declined publish: %v", err)
	}
	if b, err := os.ReadFile(preview); err != nil || !bytes.Equal(b, media) {
		t.Fatalf("preview: %v (same: %v)", err, bytes.Equal(b, media))
	}
	// A clip that is not what the hub signed is refused before asking.
	bad := hdr
	bad.MP4SHA256 = seal.SHA256Hex([]byte("other"))
	if err := m.publishRedacted(t.Context(), h, job, bad, media, opts); err == nil || !strings.Contains(err.Error(), "nothing published") {
		t.Fatalf("publish of a mismatched clip: %v", err)
	}
	if r := mustCLI(t, env, "feed", "mine"); !strings.Contains(r.stdout, "published nothing") {
		t.Fatalf("feed mine before publishing:\n%s", r.stdout)
	}
	// Accepted.
	m.in = bufio.NewReader(strings.NewReader("y\n"))
	out.Reset()
	if err := m.publishRedacted(t.Context(), h, job, hdr, media, opts); err != nil {
		t.Fatalf("publish: %v\n%s", err, errb.String())
	}
	if !strings.Contains(errb.String(), "Publish exactly this file?") || !strings.Contains(errb.String(), hdr.MP4SHA256) {
		t.Errorf("the prompt did not show the file's hash:\n%s", errb.String())
	}
	var post string
	if _, err := fmt.Sscanf(out.String(), "Published post %s as", &post); err != nil || !seal.ValidID(post) {
		t.Fatalf("publish output %q: %v", out.String(), err)
	}

	// A neighbour, by coordinates: only the cell is sent.
	nenv := userEnv(t.TempDir(), server)
	mustCLI(t, nenv, "signup", "--email", "neighbour@example.com")
	rec := &recorder{}
	var nout, nerr bytes.Buffer
	code := Main{Args: []string{"feed", "--lat", "48.137154", "--lon", "11.576124", "--radius", "0"}, Stdout: &nout, Stderr: &nerr, Env: nenv.get,
		HTTP: &http.Client{Transport: rec}}.Run(t.Context())
	if code != 0 || !strings.Contains(nout.String(), post) || !strings.Contains(nout.String(), "Grey cat missing") || !strings.Contains(nout.String(), "lost pet") {
		t.Fatalf("feed by coordinates: exit %d\n%s\n%s", code, nout.String(), nerr.String())
	}
	for _, s := range []string{"48.13", "11.57", "48%2E13", "lat", "lon"} {
		if rec.contains(s) {
			t.Errorf("a request carried %q: coordinates left the device", s)
		}
	}
	if !rec.contains("cell=" + cell) {
		t.Errorf("the cell %s was not what was sent", cell)
	}
	for _, args := range [][]string{
		{"feed", "--near", cell + "d"},
		{"feed", "--near", "48.1371,11.5761"},
		{"feed", "--near", cell, "--lat", "1", "--lon", "2"},
		{"feed", "--lat", "91", "--lon", "0"},
		{"feed", "--lat", "48.1"},
		{"feed"},
		{"feed", "--near", cell, "--radius", "9"},
	} {
		if r := runCLI(t, nenv, "", args...); r.code != 2 {
			t.Errorf("porchlight %s: exit %d, want 2\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	saved := filepath.Join(t.TempDir(), "saved.mp4")
	mustCLI(t, nenv, "feed", "save", post, "-o", saved)
	if b, err := os.ReadFile(saved); err != nil || !bytes.Equal(b, media) {
		t.Errorf("saved post differs from the published file: %v", err)
	}
	mustCLI(t, nenv, "feed", "report", post, "--reason", "this is an advert")
	if r := runCLI(t, nenv, "", "feed", "report", post, "--reason", "again"); r.code != 1 || !strings.Contains(r.stderr, "already reported") {
		t.Errorf("second report: exit %d %s", r.code, r.stderr)
	}
	if r := runCLI(t, nenv, "", "withdraw", "--yes", post); r.code != 1 || !strings.Contains(r.stderr, "not your household's") {
		t.Errorf("a neighbour withdrawing: exit %d %s", r.code, r.stderr)
	}

	// The owner lists and withdraws it.
	if r := mustCLI(t, env, "feed", "mine"); !strings.Contains(r.stdout, post) || !strings.Contains(r.stdout, "published") {
		t.Errorf("feed mine:\n%s", r.stdout)
	}
	if r := runCLI(t, env, "n\n", "withdraw", post); r.code != 1 {
		t.Errorf("withdraw declined: exit %d", r.code)
	}
	mustCLI(t, env, "withdraw", "--yes", post)
	if r := runCLI(t, nenv, "", "feed", "save", post, "-o", saved+"2"); r.code != 1 || !strings.Contains(r.stderr, "gone") {
		t.Errorf("saving a withdrawn post: exit %d %s", r.code, r.stderr)
	}
	if r := mustCLI(t, env, "feed", "mine"); !strings.Contains(r.stdout, "withdrawn") {
		t.Errorf("feed mine after withdrawal:\n%s", r.stdout)
	}
	// Reports and withdrawals are logged as they happen: poll until the
	// log's published checkpoint covers them.
	want := []string{"publish ", "post_reported", "withdraw "}
	has := func(out string) bool {
		for _, a := range want {
			if !strings.Contains(out, a) {
				return false
			}
		}
		return true
	}
	r := mustCLI(t, env, "audit", "--class", "declassification")
	for deadline := time.Now().Add(15 * time.Second); !has(r.stdout) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		r = mustCLI(t, env, "audit", "--class", "declassification")
	}
	if !has(r.stdout) {
		t.Errorf("audit lacks one of %q:\n%s", want, r.stdout)
	}
}

// TestPublishUsage: mistakes are caught before any work is done.
func TestPublishUsage(t *testing.T) {
	env := userEnv(t.TempDir(), "http://127.0.0.1:1")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"publish", "--title", "x", "--category", "crime", "--near", "u4pruy"}, "say what to publish"},
		{[]string{"publish", "--event", seal.NewID(), "--camera", "Door", "--title", "x", "--category", "crime", "--near", "u4pruy"}, "does not go with"},
		{[]string{"publish", "--camera", "Door", "--from", "-1h", "--title", "x", "--category", "crime", "--near", "u4pruy"}, "--from and --to"},
		{[]string{"publish", "--event", seal.NewID(), "--category", "crime", "--near", "u4pruy"}, "--title is required"},
		{[]string{"publish", "--event", seal.NewID(), "--title", "x", "--category", "gossip", "--near", "u4pruy"}, "want one of"},
		{[]string{"publish", "--event", seal.NewID(), "--title", "x", "--category", "crime", "--near", "u4pruyd"}, "not a neighbourhood cell"},
		{[]string{"publish", "--event", seal.NewID(), "--title", "x", "--category", "crime"}, "a location is required"},
		{[]string{"feed", "report", seal.NewID()}, "--reason is required"},
		{[]string{"withdraw", "nope"}, "not a post id"},
	} {
		r := runCLI(t, env, "", tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("porchlight %s: exit %d, stderr %q, want 2 and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
}
