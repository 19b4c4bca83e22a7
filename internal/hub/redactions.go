package hub

// Redaction jobs (issue 8). The hub long-polls the service for jobs
// (GET /v1/hub/redactions). Each job is an owner-signed
// porchlight.redact-job sealed to this hub's key; the hub opens it and
// accepts it only if
//
//   - the signer is an owner device of the hub's own verified roster and
//     the job is for this hub's household and one of its own cameras;
//   - every segment's ciphertext, fetched from the service, has the
//     SHA-256 the job names (the owner read it from a hub-signed
//     manifest), and its sealed header names this household, camera,
//     epoch and start.
//
// It then decrypts the segments with the job's epoch identities (held in
// memory for this job only and never written down or logged),
// concatenates them, redacts the clip (internal/redact) and seals the
// result — a hub-signed porchlight.redaction header and the MP4 — to the
// job's output recipients. A refused or failed job is reported to the
// service with a reason the owner sees. Jobs run one at a time: redaction
// is CPU-bound; each opens a detector of its own for its duration.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/detect"
	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/redact"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/segment"
)

// redactionService is what redaction jobs need from the service
// (*apiclient.Client has it). A service without it gets no jobs run.
type redactionService interface {
	HubRedactions(ctx context.Context, wait time.Duration) ([]api.HubRedaction, error)
	HubObject(ctx context.Context, id string) ([]byte, error)
	PutRedactionResult(ctx context.Context, id string, sealed []byte) error
	FailRedaction(ctx context.Context, id, reason string) error
}

// redactionLongPoll is how long one request for jobs waits at the service.
var redactionLongPoll = 25 * time.Second

// maxJobAge is how far a job's creation time may be from the hub's
// clock: an old job replayed by the service is refused.
const maxJobAge = 24 * time.Hour

// maxRedactionInput bounds the concatenated clip a job may decrypt.
const maxRedactionInput = 1 << 30

// errJobRefused marks a job the hub will not run (forged, not its own,
// inconsistent with what is stored). The reason goes to the owner.
var errJobRefused = errors.New("redaction job refused")

// redactor runs redaction jobs for one hub.
type redactor struct {
	h   *Hub
	svc redactionService
	// redact is redact.Redact; tests inject a fake.
	redact func(ctx context.Context, in redact.Input) ([]byte, redact.Report, error)
	// concat is segment.Concat; tests inject a fake.
	concat func(w io.Writer, segs [][]byte) error
	// detector opens a detector for one job and returns its closer. It
	// defaults to a detector of its own at redact.MinScore (lower than
	// alerting's: a needless blur costs little, a missed bystander much),
	// so jobs do not wait for live analysis. Tests inject a fake.
	detector func() (redact.Detector, func(), error)
}

func (h *Hub) newRedactor(svc redactionService) *redactor {
	return &redactor{h: h, svc: svc, redact: redact.Redact, concat: segment.Concat, detector: h.redactionDetector}
}

// redactionDetector opens the object detector for one redaction job.
func (h *Hub) redactionDetector() (redact.Detector, func(), error) {
	d, err := detect.Open(detect.Config{Dir: h.m.AssetsDir, Threads: h.m.DetectThreads, MinScore: redact.MinScore})
	if err != nil {
		return nil, nil, fmt.Errorf("the hub cannot open its detection model, so it cannot find the people to blur (install it with `bash scripts/setup`): %w", err)
	}
	return d, func() {
		if err := d.Close(); err != nil {
			h.log.Warn("closing the redaction detector", "err", err)
		}
	}, nil
}

// redactionLoop takes and runs jobs until ctx is done. hub.go's run
// starts it when the service has the redactionService ability.
func (h *Hub) redactionLoop(ctx context.Context, svc redactionService) {
	h.newRedactor(svc).loop(ctx)
}

func (rd *redactor) loop(ctx context.Context) {
	var b backoff
	sum := summary{log: rd.h.log, every: 10 * time.Minute}
	for {
		jobs, err := rd.svc.HubRedactions(ctx, redactionLongPoll)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			sum.fail(time.Now(), "redaction: cannot ask the service for jobs", "err", err)
			if sleep(ctx, b.wait()) != nil {
				return
			}
			continue
		}
		sum.ok()
		b.reset()
		for _, j := range jobs {
			rd.handle(ctx, j)
		}
	}
}

// handle runs one job and reports its result or failure.
func (rd *redactor) handle(ctx context.Context, j api.HubRedaction) {
	log := rd.h.log.With("redaction", j.ID, "camera", j.Camera)
	start := time.Now()
	sealed, hdr, err := rd.run(ctx, j)
	if ctx.Err() != nil {
		return // the service hands the job out again later
	}
	if err != nil {
		log.Warn("redaction job failed", "err", err)
		if ferr := retry(ctx, log, "report a failed redaction", func() error { return rd.svc.FailRedaction(ctx, j.ID, err.Error()) }); ferr != nil {
			log.Warn("cannot report the failed redaction", "err", ferr)
		}
		return
	}
	if err := retry(ctx, log, "upload a redaction result", func() error { return rd.svc.PutRedactionResult(ctx, j.ID, sealed) }); err != nil {
		log.Warn("cannot upload the redaction result", "err", err)
		return
	}
	log.Info("redaction job done", "purpose", hdr.Purpose, "frames", hdr.Frames, "blurred", hdr.Blurred, "bytes", len(sealed),
		"dur", time.Since(start).Round(time.Millisecond))
}

// ownCamera reports whether id is one of this hub's cameras.
func (h *Hub) ownCamera(id string) bool {
	return slices.ContainsFunc(h.recs, func(r *recorder) bool { return r.id == id })
}

// openJob decrypts and verifies a sealed job against the hub's roster.
func (rd *redactor) openJob(j api.HubRedaction) (*seal.RedactJob, error) {
	h := rd.h
	ro := h.currentRoster()
	if ro == nil {
		return nil, fmt.Errorf("%w: the hub has no verified roster yet", errJobRefused)
	}
	signed, err := keys.Decrypt(j.Sealed, h.key.KEM)
	if err != nil {
		return nil, fmt.Errorf("%w: the job is not sealed to this hub: %v", errJobRefused, err)
	}
	job, err := seal.VerifyRedactJob(signed, ro)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errJobRefused, err)
	}
	if job.ID != j.ID || job.Camera != j.Camera {
		return nil, fmt.Errorf("%w: the signed job names another id or camera than the service says", errJobRefused)
	}
	if d := h.m.Now().Sub(job.Created); d > maxJobAge || d < -maxJobAge {
		return nil, fmt.Errorf("%w: the job was made %s, more than %s from the hub's clock: send a new one", errJobRefused,
			job.Created.UTC().Format(time.RFC3339), maxJobAge)
	}
	if job.Household != h.household() {
		return nil, fmt.Errorf("%w: the job is for another household", errJobRefused)
	}
	if !h.ownCamera(job.Camera) {
		return nil, fmt.Errorf("%w: camera %s is not one of this hub's cameras", errJobRefused, job.Camera)
	}
	return job, nil
}

// run does one job and returns the sealed result.
func (rd *redactor) run(ctx context.Context, j api.HubRedaction) ([]byte, *seal.Redaction, error) {
	job, err := rd.openJob(j)
	if err != nil {
		return nil, nil, err
	}
	// The epoch identities live in this map for this call only.
	ids := make(map[string]*age.HybridIdentity, len(job.Keys))
	for _, k := range job.Keys {
		id, err := age.ParseHybridIdentity(k.Identity)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: the key of epoch %s is not a hybrid age identity", errJobRefused, k.Epoch)
		}
		ids[k.Epoch] = id
	}
	medias := make([][]byte, 0, len(job.Segments))
	total := 0
	for _, s := range job.Segments {
		media, err := rd.segment(ctx, job, s, ids[s.Epoch])
		if err != nil {
			return nil, nil, err
		}
		if total += len(media); total > maxRedactionInput {
			return nil, nil, fmt.Errorf("%w: the clip is larger than %d bytes: pick a shorter range", errJobRefused, maxRedactionInput)
		}
		medias = append(medias, media)
	}
	clear(ids)
	var clip bytes.Buffer
	if err := rd.concat(&clip, medias); err != nil {
		return nil, nil, fmt.Errorf("join the clip's segments: %w", err)
	}
	det, closeDet, err := rd.detector()
	if err != nil {
		return nil, nil, err
	}
	in := redact.Input{MP4: clip.Bytes(), Start: job.Segments[0].Start, From: job.From, To: job.To, Subject: job.Subject, Detector: det}
	mp4, rep, err := rd.redact(ctx, in)
	closeDet()
	if err != nil {
		return nil, nil, fmt.Errorf("redact: %w", err)
	}
	if len(mp4) == 0 {
		return nil, nil, errors.New("redact: the redacted clip is empty")
	}
	out, err := job.OutputRecipients()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errJobRefused, err)
	}
	hdr := seal.Redaction{Job: job.ID, Household: job.Household, Camera: job.Camera, Purpose: job.Purpose, Campaign: job.Campaign,
		From: job.From, To: job.To, Frames: rep.Frames, Blurred: rep.Blurred, Created: rd.h.m.Now().UTC()}
	sealed, err := seal.SealRedaction(rd.h.key.Sign, hdr, mp4, out...)
	if err != nil {
		return nil, nil, fmt.Errorf("seal the result: %w", err)
	}
	if len(sealed) > api.MaxRedactionResult {
		return nil, nil, fmt.Errorf("the sealed result of %d bytes is larger than the service keeps (%d): pick a shorter range", len(sealed), api.MaxRedactionResult)
	}
	hdr.MP4SHA256, hdr.Size = seal.SHA256Hex(mp4), int64(len(mp4))
	return sealed, &hdr, nil
}

// segment fetches one segment, checks its ciphertext hash and sealed
// header against the job, and returns its media.
func (rd *redactor) segment(ctx context.Context, job *seal.RedactJob, s seal.RedactSegment, id *age.HybridIdentity) ([]byte, error) {
	var ct []byte
	err := retry(ctx, rd.h.log, "fetch a segment for redaction", func() error {
		var err error
		ct, err = rd.svc.HubObject(ctx, s.ID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("fetch segment %s: %w", s.ID, err)
	}
	if got := seal.SHA256Hex(ct); got != s.SHA256 {
		return nil, fmt.Errorf("%w: segment %s: the ciphertext's SHA-256 %s differs from the job's %s: the stored object is not the one the manifest lists",
			errJobRefused, s.ID, got, s.SHA256)
	}
	hdr, media, err := keys.OpenSegment(ct, id)
	if err != nil {
		return nil, fmt.Errorf("%w: segment %s does not open with the key of epoch %s: %v", errJobRefused, s.ID, s.Epoch, err)
	}
	if hdr.Household != job.Household || hdr.Camera != job.Camera || hdr.Epoch != s.Epoch {
		return nil, fmt.Errorf("%w: segment %s's sealed header names another household, camera or epoch", errJobRefused, s.ID)
	}
	if !hdr.Start.Equal(s.Start) || hdr.DurationMS != s.DurationMS {
		return nil, fmt.Errorf("%w: segment %s's sealed header says %s for %d ms, the job %s for %d ms", errJobRefused, s.ID,
			hdr.Start.UTC().Format(time.RFC3339Nano), hdr.DurationMS, s.Start.UTC().Format(time.RFC3339Nano), s.DurationMS)
	}
	return media, nil
}
