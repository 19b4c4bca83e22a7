package redact

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/porchlight/porchlight/internal/detect"
	"github.com/porchlight/porchlight/internal/frame"
	"github.com/porchlight/porchlight/internal/seal"
)

// People runs det over every frame of mp4 (t=0 at start) and counts the
// person detections that are not the subject: not matching the subject's
// box at that time (IoU of at least 0.3, or each centre inside the other
// box). On a redacted clip it should be 0. It is a check for tests and
// audits, not part of redaction.
func People(ctx context.Context, mp4 []byte, det Detector, subject []seal.TrackPoint, start time.Time) (unblurred int, err error) {
	frames, err := scan(ctx, mp4, det, start)
	if err != nil {
		return 0, err
	}
	sub := newPath(subject)
	for _, f := range frames {
		sb, ok := sub.at(f.t)
		for _, d := range f.people {
			if !ok || subjectScore(d.Box, sb) == 0 {
				unblurred++
			}
		}
	}
	return unblurred, nil
}

// scanned is one decoded frame's person detections.
type scanned struct {
	t      time.Time
	people []detect.Detection
}

// scan decodes mp4 at its own frame rate and size and runs det on every
// frame, keeping the person detections.
func scan(ctx context.Context, mp4 []byte, det Detector, start time.Time) ([]scanned, error) {
	if det == nil {
		return nil, ErrNoDetector
	}
	if !isMP4(mp4) {
		return nil, fmt.Errorf("%w: no ftyp box at the start", ErrNotMP4)
	}
	info, err := probe(ctx, mp4)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, h := outSize(info.w, info.h, info.w)
	dec, err := startDecoder(ctx, mp4, 0, 0, info.fps, w, h)
	if err != nil {
		return nil, err
	}
	defer dec.kill()
	var out []scanned
	for i := 0; ; i++ {
		f := &frame.Frame{W: w, H: h, RGB: make([]byte, w*h*3), Time: start.Add(time.Duration(float64(i) / info.fps * float64(time.Second)))}
		if _, err := io.ReadFull(dec.stdout, f.RGB); err == io.EOF {
			break
		} else if err != nil {
			return nil, dec.fail(err)
		}
		dets, err := det.Detect(f)
		if err != nil {
			return nil, fmt.Errorf("redact: detect at %s: %w", f.Time.Format(time.RFC3339Nano), err)
		}
		s := scanned{t: f.Time}
		for _, d := range dets {
			if d.Class == detect.Person {
				s.people = append(s.people, d)
			}
		}
		out = append(out, s)
	}
	if err := dec.wait(); err != nil {
		return nil, err
	}
	return out, nil
}
