package cli

// Redaction jobs: what `porchlight publish` and `porchlight donate` share.
// This device (an owner) reads the clip's verified manifests, unwraps the
// keys of exactly the clip's epochs and sends the camera's hub an
// owner-signed job sealed to the hub's key from the verified roster. The
// hub decrypts, redacts and seals the result to the job's outputs, which
// always include this device, so the owner previews exactly what leaves.
// The service relays both sealed; it reads neither.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// clipSpec is the clip a redaction job is about: an event (its camera,
// start−5s .. end+5s, and its track as the subject to keep), or a camera
// and a range.
type clipSpec struct {
	Event    string
	Camera   string
	From, To time.Time
}

// redacted is a verified redaction result.
type redacted struct {
	Job    string
	Header seal.Redaction
	MP4    []byte
	Camera *camera
}

// redactWait bounds the wait for a hub to finish a job.
var redactWait = 30 * time.Minute

// clip resolves a clipSpec to a camera of this household, a range and a
// subject.
func (h *household) clip(ctx context.Context, spec clipSpec) (*camera, time.Time, time.Time, []seal.TrackPoint, error) {
	if spec.Event == "" {
		if spec.Camera == "" || spec.From.IsZero() || spec.To.IsZero() {
			return nil, time.Time{}, time.Time{}, nil, errors.New("pick a clip: an event (--event ID) or a camera with a range (--camera NAME --from T --to T)")
		}
		c, err := h.camera(ctx, spec.Camera)
		return c, spec.From, spec.To, nil, err
	}
	e, err := h.m.findEvent(ctx, "redact", spec.Event, spec.Camera, "")
	if err != nil {
		return nil, time.Time{}, time.Time{}, nil, err
	}
	if e.h.roster.Household != h.roster.Household {
		return nil, time.Time{}, time.Time{}, nil, fmt.Errorf("event %s is of a camera another household shares with you: only its owner may publish or donate it", spec.Event)
	}
	c, err := h.camera(ctx, e.c.ID)
	if err != nil {
		return nil, time.Time{}, time.Time{}, nil, err
	}
	end := e.ev.End
	if !end.After(e.ev.Start) { // going on, or a moment (a doorbell press)
		end = e.ev.Start.Add(eventOpenLength)
	}
	return c, e.ev.Start.Add(-eventPreRoll), end.Add(eventPostRoll), e.ev.Track, nil
}

// redact builds and sends a redaction job for the clip, shows its progress
// on Stderr, downloads the result, opens it with this device's key and
// verifies it: the camera's hub (from the verified roster) signed its
// header, for this job, household, camera, purpose and range, and the
// MP4 has the signed hash. output are the recipients besides this device.
func (h *household) redact(ctx context.Context, spec clipSpec, purpose, campaign string, output []age.Recipient) (*redacted, error) {
	if err := h.requireOwner("have clips redacted"); err != nil {
		return nil, err
	}
	c, from, to, subject, err := h.clip(ctx, spec)
	if err != nil {
		return nil, err
	}
	if !to.After(from) || to.Sub(from) > seal.MaxRedactClip {
		return nil, fmt.Errorf("the clip must end after it starts and last at most %s: pick a shorter range", seal.MaxRedactClip)
	}
	name := clean(c.Name)
	segs, err := h.segments(ctx, c, from, to)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("no recordings of %s between %s and %s (see `porchlight recordings --camera %s`)", name, h.m.when(from), h.m.when(to), name)
	}
	if len(segs) > seal.MaxRedactSegments {
		return nil, fmt.Errorf("the clip has %d segments, more than a job may carry (%d): pick a shorter range", len(segs), seal.MaxRedactSegments)
	}
	job := seal.RedactJob{ID: seal.NewID(), Household: h.roster.Household, Camera: c.ID, Purpose: purpose, Campaign: campaign,
		From: from.UTC(), To: to.UTC(), Subject: subject, Created: h.m.Now().UTC()}
	keyed := map[string]bool{}
	for _, s := range segs {
		job.Segments = append(job.Segments, seal.RedactSegment{ID: s.ID, Epoch: s.Epoch, SHA256: s.SHA256, Start: s.Start, DurationMS: s.DurationMS})
		if keyed[s.Epoch] {
			continue
		}
		keyed[s.Epoch] = true
		k, err := h.epochKey(ctx, c, s.Epoch)
		if err != nil {
			return nil, err
		}
		job.Keys = append(job.Keys, seal.RedactKey{Epoch: s.Epoch, Identity: k.String()})
	}
	self := h.dev.Recipient()
	job.Output = []string{self}
	for _, o := range output {
		hr, ok := o.(*age.HybridRecipient)
		if !ok {
			return nil, errors.New("a redacted clip is sealed to post-quantum (age1pq…) recipients only")
		}
		if s := hr.String(); s != self {
			job.Output = append(job.Output, s)
		}
	}
	hubEntry := h.roster.Entry(c.HubID)
	if hubEntry == nil || hubEntry.Kind != seal.KindHub {
		return nil, fmt.Errorf("the hub of %s is not in your household's roster: it cannot be sent a job", name)
	}
	hubRcp, err := seal.ParseRecipient(hubEntry.KEM)
	if err != nil {
		return nil, fmt.Errorf("the hub of %s has no usable key in the roster: %w", name, err)
	}
	sealed, err := seal.SealRedactJob(h.dev.Sign, hubRcp, job)
	if err != nil {
		return nil, fmt.Errorf("make the redaction job: %w", err)
	}
	if _, err := h.conn.c.CreateRedaction(ctx, api.RedactionCreate{ID: job.ID, Camera: c.ID, Purpose: purpose, Campaign: campaign, Sealed: sealed}); err != nil {
		return nil, h.conn.explain("send the redaction job", err)
	}
	fmt.Fprintf(h.m.Stderr, "Redaction job %s: %d segments of %s from %s to %s sent to hub %q\n",
		job.ID, len(segs), name, h.m.when(from), h.m.when(to), clean(c.HubName))
	if err := h.waitRedaction(ctx, job.ID); err != nil {
		return nil, err
	}
	res, err := h.conn.c.RedactionResult(ctx, job.ID)
	if err != nil {
		return nil, h.conn.explain("download the redacted clip", err)
	}
	pt, err := keys.Decrypt(res, h.dev.KEM)
	if err != nil {
		return nil, fmt.Errorf("the redacted clip does not open with this device's key: %w", err)
	}
	hdr, mp4, err := seal.ParseRedactionPlaintext(pt, c.hub)
	if err != nil {
		return nil, fmt.Errorf("the redacted clip is not signed by the hub of %s or was altered: %w", name, err)
	}
	if hdr.Job != job.ID || hdr.Household != job.Household || hdr.Camera != job.Camera || hdr.Purpose != purpose || hdr.Campaign != campaign ||
		!hdr.From.Equal(job.From) || !hdr.To.Equal(job.To) {
		return nil, fmt.Errorf("the redacted clip is signed for another job, camera, purpose or range: refusing it")
	}
	fmt.Fprintf(h.m.Stderr, "Redacted: %d frames, %d people blurred, %s\n", hdr.Frames, hdr.Blurred, formatBytes(hdr.Size))
	return &redacted{Job: job.ID, Header: *hdr, MP4: mp4, Camera: c}, nil
}

// waitRedaction polls a job until it is done, printing each new state.
func (h *household) waitRedaction(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, redactWait)
	defer cancel()
	t := time.NewTicker(h.m.PollInterval)
	defer t.Stop()
	last := ""
	for {
		st, err := h.conn.c.Redaction(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("redaction job %s: the hub did not finish within %s: is it running and online? (`porchlight cameras`)", id, redactWait)
			}
			return h.conn.explain("check the redaction job", err)
		}
		if st.State != last {
			last = st.State
			fmt.Fprintf(h.m.Stderr, "Redaction job %s: %s\n", id, st.State)
		}
		switch st.State {
		case api.RedactionDone:
			return nil
		case api.RedactionFailed:
			return fmt.Errorf("the hub could not redact the clip: %s", clean(st.Error))
		case api.RedactionPending, api.RedactionRunning:
		default:
			return fmt.Errorf("redaction job %s is %s: make a new one", id, clean(st.State))
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("redaction job %s: the hub did not finish within %s: is it running and online? (`porchlight cameras`)", id, redactWait)
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}
