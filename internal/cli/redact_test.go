package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/testutil"
)

// redactWorker plays the hub's side of redaction jobs: it takes jobs,
// verifies them against the hub's roster, checks and opens the segments
// and "redacts" by prefixing a marker. mode changes what it answers.
type redactWorker struct {
	h *testHub

	mu   sync.Mutex
	mode string // "" ok, "fail", "forge"
	jobs []*seal.RedactJob
}

const redactMarker = "\x00\x00\x00\x18ftypisom redacted:"

func (w *redactWorker) setMode(m string) {
	w.mu.Lock()
	w.mode = m
	w.mu.Unlock()
}

func (w *redactWorker) run(ctx context.Context) {
	for ctx.Err() == nil {
		jobs, err := w.h.c.HubRedactions(ctx, 2*time.Second)
		if err != nil {
			continue
		}
		for _, j := range jobs {
			if err := w.do(ctx, j); err != nil && ctx.Err() == nil {
				w.h.t.Errorf("test hub: job %s: %v", j.ID, err)
			}
		}
	}
}

func (w *redactWorker) do(ctx context.Context, j api.HubRedaction) error {
	w.mu.Lock()
	mode := w.mode
	w.mu.Unlock()
	signed, err := keys.Decrypt(j.Sealed, w.h.key.KEM)
	if err != nil {
		return err
	}
	job, err := seal.VerifyRedactJob(signed, w.h.roster)
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.jobs = append(w.jobs, job)
	w.mu.Unlock()
	if mode == "fail" {
		return w.h.c.FailRedaction(ctx, j.ID, "segment "+job.Segments[0].ID+": the ciphertext's SHA-256 differs from the job's")
	}
	ids := map[string]age.Identity{}
	for _, k := range job.Keys {
		id, err := age.ParseHybridIdentity(k.Identity)
		if err != nil {
			return err
		}
		ids[k.Epoch] = id
	}
	mp4 := []byte(redactMarker)
	for _, s := range job.Segments {
		ct, err := w.h.c.HubObject(ctx, s.ID)
		if err != nil {
			return err
		}
		if seal.SHA256Hex(ct) != s.SHA256 {
			return fmt.Errorf("segment %s: hash differs", s.ID)
		}
		hdr, media, err := keys.OpenSegment(ct, ids[s.Epoch])
		if err != nil {
			return err
		}
		if hdr.Camera != job.Camera || hdr.Epoch != s.Epoch {
			return errors.New("segment header names another camera or epoch")
		}
		mp4 = append(mp4, media...)
	}
	out, err := job.OutputRecipients()
	if err != nil {
		return err
	}
	signer := w.h.key.Sign
	if mode == "forge" {
		other, err := keys.Generate("not the hub")
		if err != nil {
			return err
		}
		signer = other.Sign
	}
	res, err := seal.SealRedaction(signer, seal.Redaction{Job: job.ID, Household: job.Household, Camera: job.Camera, Purpose: job.Purpose,
		Campaign: job.Campaign, From: job.From, To: job.To, Frames: 100, Blurred: 1, Created: time.Now().UTC()}, mp4, out...)
	if err != nil {
		return err
	}
	return w.h.c.PutRedactionResult(ctx, j.ID, res)
}

func (w *redactWorker) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.jobs)
}

func (w *redactWorker) last() *seal.RedactJob {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.jobs[len(w.jobs)-1]
}

// TestRedact runs the owner's side of redaction jobs against a real
// porchlightd and a test hub: the job carries exactly the clip's segments
// and the keys of their epochs, the result opens on this device (and for
// the extra outputs) and is verified; a hub's failure and a result not
// signed by the camera's hub are errors.
func TestRedact(t *testing.T) {
	segs := testSegments(t)[:4]
	dir := t.TempDir()
	env, server := signedUp(t, filepath.Join(dir, "home"), filepath.Join(dir, "service"))
	hub, _ := claimTestHub(t, env, server)
	cam := hub.addCamera("front door")
	ep1, ep2, ep3 := hub.newEpoch(cam), hub.newEpoch(cam), hub.newEpoch(cam)
	base := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	hub.record(ep1, base, segs[:2])
	hub.record(ep2, base.Add(2*time.Second), segs[2:])
	hub.record(ep3, base.Add(time.Minute), segs[:1]) // outside the clip

	w := &redactWorker{h: hub}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { w.run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	stderr := &testutil.SyncBuffer{}
	m := &Main{Env: env.get, Stderr: stderr, PollInterval: 20 * time.Millisecond}
	m.defaults()
	h, err := m.openHousehold(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	campaign, err := keys.Generate("campaign")
	if err != nil {
		t.Fatal(err)
	}
	spec := clipSpec{Camera: "front door", From: base.Add(-time.Second), To: base.Add(6 * time.Second)}
	res, err := h.redact(t.Context(), spec, seal.PurposeDonate, seal.NewID(), []age.Recipient{campaign.KEM.Recipient()})
	if err != nil {
		t.Fatalf("redact: %v\n%s", err, stderr)
	}
	var want []byte
	for _, s := range segs {
		want = append(want, s.Data...)
	}
	if !bytes.Equal(res.MP4, append([]byte(redactMarker), want...)) || res.Camera.ID != cam || res.Header.Frames != 100 {
		t.Errorf("result: header %+v, %d bytes of MP4", res.Header, len(res.MP4))
	}
	job := w.last()
	if job.ID != res.Job || len(job.Segments) != 4 || len(job.Keys) != 2 {
		t.Fatalf("job: %d segments, %d keys (want 4 and 2)", len(job.Segments), len(job.Keys))
	}
	for _, k := range job.Keys {
		if k.Epoch != ep1.id && k.Epoch != ep2.id {
			t.Errorf("job carries the key of epoch %s, outside the clip", k.Epoch)
		}
		if k.Epoch == ep1.id && k.Identity != ep1.key.String() {
			t.Errorf("job carries a wrong key for epoch %s", k.Epoch)
		}
	}
	if len(job.Output) != 2 || job.Output[0] != h.dev.Recipient() || job.Output[1] != campaign.Recipient() {
		t.Errorf("job outputs %v, want this device then the campaign", job.Output)
	}
	// "pending" shows only if a poll comes before the hub takes the job.
	for _, s := range []string{"sent to hub", "done", "Redacted: 100 frames"} {
		if !strings.Contains(stderr.String(), s) {
			t.Errorf("progress does not show %q:\n%s", s, stderr)
		}
	}

	// The hub's reason reaches the owner.
	w.setMode("fail")
	_, err = h.redact(t.Context(), spec, seal.PurposePublish, "", nil)
	if err == nil || !strings.Contains(err.Error(), "could not redact the clip: segment") {
		t.Errorf("failed job: err = %v", err)
	}
	// A result signed by anyone but the camera's hub is refused.
	w.setMode("forge")
	_, err = h.redact(t.Context(), spec, seal.PurposePublish, "", nil)
	if err == nil || !strings.Contains(err.Error(), "not signed by the hub") {
		t.Errorf("forged result: err = %v", err)
	}
	// A range without recordings sends no job.
	w.setMode("")
	n := w.count()
	_, err = h.redact(t.Context(), clipSpec{Camera: "front door", From: base.Add(-5 * time.Minute), To: base.Add(-4 * time.Minute)}, seal.PurposePublish, "", nil)
	if err == nil || !strings.Contains(err.Error(), "no recordings") || w.count() != n {
		t.Errorf("empty range: err = %v, %d jobs sent", err, w.count()-n)
	}
}
