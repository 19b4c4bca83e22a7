package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/seal"
)

// TestPublishCommand runs `porchlight publish` end to end against a real
// porchlightd and a test hub doing the redaction: the preview is the
// hub's redacted clip, the published file is exactly the preview, and the
// post carries the cell, title and category asked for.
func TestPublishCommand(t *testing.T) {
	segs := testSegments(t)[:2]
	dir := t.TempDir()
	env, server := signedUp(t, filepath.Join(dir, "home"), filepath.Join(dir, "service"))
	hub, _ := claimTestHub(t, env, server)
	cam := hub.addCamera("front door")
	ep := hub.newEpoch(cam)
	base := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	hub.record(ep, base, segs)
	w := &redactWorker{h: hub}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { w.run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	preview := filepath.Join(dir, "preview.mp4")
	args := []string{"publish", "--camera", "front door", "--from", base.Add(-time.Second).Format(time.RFC3339), "--to", base.Add(3 * time.Second).Format(time.RFC3339),
		"--title", "Van circling the block", "--category", "suspicious", "--lat", "51.5007", "--lon", "-0.1246", "-o", preview}
	// Declined at the prompt: a preview, no post.
	if r := runCLI(t, env, "n\n", args...); r.code != 1 || !strings.Contains(r.stderr, "Publish exactly this file?") {
		t.Fatalf("declined publish: exit %d\n%s", r.code, r.stderr)
	}
	if r := mustCLI(t, env, "feed", "mine"); !strings.Contains(r.stdout, "published nothing") {
		t.Fatalf("a declined publish left a post:\n%s", r.stdout)
	}
	r := runCLI(t, env, "y\n", args...)
	if r.code != 0 {
		t.Fatalf("publish: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	job := w.last()
	if job.Purpose != seal.PurposePublish || len(job.Output) != 1 {
		t.Errorf("redaction job: purpose %q, outputs %v; want publish, this device only", job.Purpose, job.Output)
	}
	pv, err := os.ReadFile(preview)
	if err != nil || !bytes.HasPrefix(pv, []byte(redactMarker)) {
		t.Fatalf("preview: %v, %q…", err, pv[:min(len(pv), 32)])
	}
	token := readSessionToken(t, env)
	posts, err := apiclient.New(server, token).MyPosts(t.Context())
	if err != nil || len(posts) != 1 {
		t.Fatalf("posts = %+v, %v", posts, err)
	}
	p := posts[0]
	if p.Cell != "gcpuvp" || p.Title != "Van circling the block" || p.Category != seal.CategorySuspicious || p.SHA256 != seal.SHA256Hex(pv) {
		t.Errorf("post = %+v, want cell gcpuvp and the preview's hash %s", p, seal.SHA256Hex(pv))
	}
	media, err := apiclient.New(server, token).FeedMedia(t.Context(), p.ID)
	if err != nil || !bytes.Equal(media, pv) {
		t.Errorf("published media differs from the preview: %v", err)
	}
}

// readSessionToken reads the bearer token of a CLI device's saved session.
func readSessionToken(t *testing.T, env cliEnv) string {
	t.Helper()
	m := &Main{Env: env.get}
	m.defaults()
	s, err := m.loadSession()
	if err != nil {
		t.Fatal(err)
	}
	return s.Token
}
