// Package redact makes the shareable copy of a clip: it trims it, blurs
// every person except the one subject the owner chose to show, and writes a
// fresh H.264 MP4 with no audio and no metadata. The hub runs it on a
// redaction job's decrypted clip, for publishing and for donating.
//
// The clip is decoded by ffmpeg to RGB frames (scaled to Input.MaxWidth).
// The detector runs on every frame (every few frames above 10 fps), on the
// whole frame and on four overlapping corner crops, so distant people are
// found too. A tracker (package track) follows the people, so that a person
// the detector misses for a moment stays blurred where they were last seen,
// and each frame is also blurred where people were found up to 0.3 s before
// or after it. Person boxes, padded by a tenth of their larger side, are
// pixelated in Go into blocks so coarse that nobody can be recognised; the
// frames are then encoded by ffmpeg.
//
// It errs towards blurring: outside the times of the subject's track every
// person is blurred, and a false detection (a lamp post) is blurred like a
// person. One exception: a box lying mostly inside the subject's box (in
// practice the subject seen twice, but also someone right in front of or
// behind them) is left as the subject. It does not blur licence plates or
// text; it does not decrypt or seal anything (see internal/hub).
//
// The decrypted clip reaches ffmpeg through a pipe and is never written to
// disk; only the redacted output is, in a private temporary directory that
// is removed before Redact returns (MP4 faststart needs a seekable file).
package redact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/porchlight/porchlight/internal/detect"
	"github.com/porchlight/porchlight/internal/frame"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/track"
)

// Detector finds objects in a frame (*detect.Detector satisfies it).
// Redaction is better served by a detector opened with a low MinScore (see
// MinScore): a needless blur costs little, a missed bystander much.
type Detector interface {
	Detect(f *frame.Frame) ([]detect.Detection, error)
}

var _ Detector = (*detect.Detector)(nil)

// MinScore is the detector score the hub should open its redaction
// detector with (detect.Config.MinScore), below the alerting default.
const MinScore = 0.3

// DefaultMaxWidth is the output width cap when Input.MaxWidth is zero.
const DefaultMaxWidth = 1280

// Errors of Redact and People. Each is wrapped with the detail.
var (
	// ErrNotMP4 means the input is not an MP4 (no ftyp box first) or
	// ffmpeg could not decode it: pass segment.Concat's output.
	ErrNotMP4 = errors.New("redact: input is not a decodable MP4")
	// ErrEmptyRange means From..To, clamped to the clip, holds no frame:
	// pick a range inside the clip with To after From.
	ErrEmptyRange = errors.New("redact: empty time range")
	// ErrNoDetector means Input.Detector is nil: open one with
	// detect.Open (run `bash scripts/setup` for its assets).
	ErrNoDetector = errors.New("redact: no detector (open one with detect.Open)")
	// ErrFFmpeg means ffmpeg or ffprobe is missing or failed: install
	// ffmpeg with `bash scripts/setup`.
	ErrFFmpeg = errors.New("redact: ffmpeg failed (install it with `bash scripts/setup`)")
)

// Input is one redaction.
type Input struct {
	// MP4 is the clip: concatenated segments (segment.Concat output),
	// starting at Start. Fragmented MP4, since it is read from a pipe.
	MP4 []byte
	// Start is the wall time of the MP4's t=0.
	Start time.Time
	// From and To trim the output to this range, clamped to the clip. A
	// zero From is Start; a zero To is the end of the clip.
	From, To time.Time
	// Subject holds the boxes (0..1, with times) of the one object to
	// keep unblurred; empty: blur every person.
	Subject []seal.TrackPoint
	// Detector finds the people. Required.
	Detector Detector
	// MaxWidth caps the output width. It defaults to DefaultMaxWidth.
	MaxWidth int
}

// Report says what Redact did.
type Report struct {
	Frames  int // frames in the output
	Blurred int // distinct people (tracks) blurred at least once
	Kept    int // detected frames in which the subject was found and left unblurred
}

// Tuning. The padding and the coasting err towards blurring.
const (
	detectFPS    = 10                      // the detector runs at about this rate at most
	pad          = 0.10                    // each side of a box grows by this fraction of its size
	coast        = 1500 * time.Millisecond // a missed person stays blurred where last seen this long
	dilate       = 300 * time.Millisecond  // a frame is also blurred where people are this much earlier or later
	subjectSlack = time.Second             // the subject's track extends this far beyond its first and last points
	subjectIoU   = 0.3                     // least overlap of a track with the subject's box to be the subject
	subjectPart  = 0.7                     // a box this much inside the subject's (padded) is part of the subject
	blocksAcross = 5                       // a blurred box is about this many blocks across its larger side
	minBlock     = 8                       // pixels
)

// Redact decodes in.MP4, trims it to From..To, pixelates every person but
// the subject and returns an H.264 MP4 (no audio, no metadata, no creation
// time, faststart) with what it did.
func Redact(ctx context.Context, in Input) ([]byte, Report, error) {
	var rep Report
	if err := ctx.Err(); err != nil {
		return nil, rep, err
	}
	if in.Detector == nil {
		return nil, rep, ErrNoDetector
	}
	if !isMP4(in.MP4) {
		return nil, rep, fmt.Errorf("%w: no ftyp box at the start", ErrNotMP4)
	}
	if in.MaxWidth <= 0 {
		in.MaxWidth = DefaultMaxWidth
	}
	from, to := in.From, in.To
	if from.IsZero() || from.Before(in.Start) {
		from = in.Start
	}
	if !to.IsZero() && !to.After(from) {
		return nil, rep, fmt.Errorf("%w: %s..%s (clip starts %s)", ErrEmptyRange, in.From.Format(time.RFC3339Nano), in.To.Format(time.RFC3339Nano), in.Start.Format(time.RFC3339Nano))
	}
	var dur time.Duration
	if !to.IsZero() {
		dur = to.Sub(from)
	}

	info, err := probe(ctx, in.MP4)
	if err != nil {
		return nil, rep, err
	}
	w, h := outSize(info.w, info.h, in.MaxWidth)
	fps := info.fps
	stride := max(1, int(math.Round(fps/detectFPS)))

	dir, err := os.MkdirTemp("", "porchlight-redact-")
	if err != nil {
		return nil, rep, fmt.Errorf("redact: make a temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	outPath := filepath.Join(dir, "out.mp4")

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dec, err := startDecoder(ctx, in.MP4, from.Sub(in.Start), dur, fps, w, h)
	if err != nil {
		return nil, rep, err
	}
	defer dec.kill()
	enc, err := startEncoder(ctx, outPath, fps, w, h)
	if err != nil {
		return nil, rep, err
	}
	defer enc.kill()

	r := &redactor{
		det:     in.Detector,
		tracker: track.New(track.Config{MaxGap: coast, MinHits: 1}),
		subject: newPath(in.Subject),
		w:       w, h: h,
		blurred: map[int]bool{},
	}
	// Each frame is blurred with the boxes of every detected frame within
	// window frames before or after it, so a person the detector finds a
	// moment late or loses a moment early, or who walks between detected
	// frames, is still covered. Frames wait in queue until the frames
	// window ahead of them are detected; boxes are kept for window frames
	// behind.
	window := max(stride, int(math.Round(fps*dilate.Seconds())))
	type item struct {
		f     *frame.Frame // nil once written
		boxes []blurBox
	}
	var items []item               // items[k] is frame base+k
	base, next := 0, 0             // next: the first frame not yet written
	emit := func(upTo int) error { // write frames next..upTo
		for ; next <= upTo; next++ {
			it := &items[next-base]
			for j := max(base, next-window); j <= min(base+len(items)-1, next+window); j++ {
				pixelate(it.f, r.notSubject(items[j-base].boxes, it.f.Time))
			}
			if _, err := enc.stdin.Write(it.f.RGB); err != nil {
				return enc.fail(err)
			}
			it.f = nil
		}
		if drop := next - window - base; drop > 0 {
			items = items[drop:]
			base += drop
		}
		return nil
	}
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return nil, rep, err
		}
		f := &frame.Frame{W: w, H: h, RGB: make([]byte, w*h*3), Time: from.Add(time.Duration(float64(i) / fps * float64(time.Second)))}
		if _, err := io.ReadFull(dec.stdout, f.RGB); err == io.EOF {
			break
		} else if err != nil {
			return nil, rep, dec.fail(err)
		}
		rep.Frames++
		it := item{f: f}
		if i%stride == 0 {
			boxes, kept, err := r.frame(f)
			if err != nil {
				return nil, rep, err
			}
			if kept {
				rep.Kept++
			}
			it.boxes = boxes
		}
		items = append(items, it)
		if err := emit(i - window); err != nil {
			return nil, rep, err
		}
	}
	if err := emit(base + len(items) - 1); err != nil {
		return nil, rep, err
	}
	if err := dec.wait(); err != nil {
		if rep.Frames == 0 {
			return nil, rep, fmt.Errorf("%w: %v", ErrNotMP4, err)
		}
		return nil, rep, err
	}
	if rep.Frames == 0 {
		enc.kill()
		end := "its end"
		if !to.IsZero() {
			end = to.Format(time.RFC3339Nano)
		}
		return nil, rep, fmt.Errorf("%w: no frames between %s and %s of a clip starting %s", ErrEmptyRange,
			from.Format(time.RFC3339Nano), end, in.Start.Format(time.RFC3339Nano))
	}
	if err := enc.stdin.Close(); err != nil {
		return nil, rep, enc.fail(err)
	}
	if err := enc.wait(); err != nil {
		return nil, rep, err
	}
	out, err := os.ReadFile(outPath)
	if err != nil {
		return nil, rep, fmt.Errorf("redact: read the encoded output: %w", err)
	}
	rep.Blurred = len(r.blurred)
	slog.InfoContext(ctx, "clip redacted", "frames", rep.Frames, "blurred", rep.Blurred, "kept", rep.Kept,
		"width", w, "height", h, "fps", fps, "bytes", len(out))
	return out, rep, nil
}

// isMP4 reports whether b starts with an ftyp box.
func isMP4(b []byte) bool {
	return len(b) >= 8 && string(b[4:8]) == "ftyp"
}

// blurBox is a pixel rectangle, [x0,x1) × [y0,y1), padded from box.
type blurBox struct {
	x0, y0, x1, y1 int
	box            detect.Box
}

// redactor holds the state across detected frames.
type redactor struct {
	det     Detector
	tracker *track.Tracker
	subject path
	w, h    int
	blurred map[int]bool // track IDs blurred so far
}

// frame detects and tracks the people of f and returns the boxes to blur
// and whether the subject was found (and so left out of them).
func (r *redactor) frame(f *frame.Frame) ([]blurBox, bool, error) {
	dets, err := detectTiled(r.det, f)
	if err != nil {
		return nil, false, err
	}
	tracks, _ := r.tracker.Update(f.Time, dets)
	// People: tracks of class person seen lately, and any person detection
	// (a track's vote may have drifted to another class).
	type cand struct {
		id  int // 0: a detection without a person track
		box detect.Box
	}
	var cands []cand
	for _, t := range tracks {
		if t.Class == detect.Person && f.Time.Sub(t.Last) <= coast {
			cands = append(cands, cand{t.ID, t.Box})
		}
	}
	for _, d := range dets {
		if d.Class != detect.Person {
			continue
		}
		covered := false
		for _, c := range cands {
			if detect.IoU(c.box, d.Box) > 0.9 {
				covered = true
			}
		}
		if !covered {
			cands = append(cands, cand{0, d.Box})
		}
	}
	keep := -1
	if sb, ok := r.subject.at(f.Time); ok {
		var best float32
		for i, c := range cands {
			if s := subjectScore(c.box, sb); s > best {
				keep, best = i, s
			}
		}
	}
	boxes := make([]blurBox, 0, len(cands))
	for i, c := range cands {
		// Besides the best match, a box mostly inside it is the subject
		// seen twice (a crop's box of part of them, a split track).
		if i == keep || (keep >= 0 && within(c.box, cands[keep].box) >= subjectPart) {
			continue
		}
		if c.id != 0 {
			r.blurred[c.id] = true
		}
		boxes = append(boxes, r.pixels(c.box))
	}
	return boxes, keep >= 0, nil
}

// tileSize is the side of each of the 2×2 overlapping crops, as a fraction
// of the frame's; they are detected as well as the whole frame.
const tileSize = 0.6

// detectTiled runs det on f and on four overlapping corner crops of it,
// which the model sees at a larger scale: a distant person, a few pixels
// tall at the model's input size, is found in a crop. Boxes are mapped back
// to the frame; a crop's box that overlaps one already found (IoU > 0.5)
// is dropped unless it scores higher, when it replaces it.
func detectTiled(det Detector, f *frame.Frame) ([]detect.Detection, error) {
	dets, err := det.Detect(f)
	if err != nil {
		return nil, fmt.Errorf("redact: detect at %s: %w", f.Time.Format(time.RFC3339Nano), err)
	}
	tw, th := int(float64(f.W)*tileSize), int(float64(f.H)*tileSize)
	if tw < 32 || th < 32 {
		return dets, nil
	}
	crop := &frame.Frame{W: tw, H: th, RGB: make([]byte, tw*th*3), Time: f.Time}
	for _, origin := range [][2]int{{0, 0}, {f.W - tw, 0}, {0, f.H - th}, {f.W - tw, f.H - th}} {
		ox, oy := origin[0], origin[1]
		for y := range th {
			copy(crop.RGB[y*tw*3:(y+1)*tw*3], f.RGB[((oy+y)*f.W+ox)*3:((oy+y)*f.W+ox+tw)*3])
		}
		more, err := det.Detect(crop)
		if err != nil {
			return nil, fmt.Errorf("redact: detect at %s: %w", f.Time.Format(time.RFC3339Nano), err)
		}
		sx, sy := float32(tw)/float32(f.W), float32(th)/float32(f.H)
		dx, dy := float32(ox)/float32(f.W), float32(oy)/float32(f.H)
	next:
		for _, d := range more {
			d.Box = detect.Box{X0: dx + d.Box.X0*sx, Y0: dy + d.Box.Y0*sy, X1: dx + d.Box.X1*sx, Y1: dy + d.Box.Y1*sy}
			for i, e := range dets {
				if e.Class == d.Class && detect.IoU(e.Box, d.Box) > 0.5 {
					if d.Score > e.Score {
						dets[i] = d
					}
					continue next
				}
			}
			dets = append(dets, d)
		}
	}
	return dets, nil
}

// subjectScore is how well box b matches the subject's box s: their IoU
// when at least subjectIoU, or a small score when each one's centre is
// inside the other, else 0.
func subjectScore(b, s detect.Box) float32 {
	if v := detect.IoU(b, s); v >= subjectIoU {
		return v
	}
	if inside(centreOf(b), s) && inside(centreOf(s), b) {
		return 0.01
	}
	return 0
}

func centreOf(b detect.Box) [2]float32 { return [2]float32{(b.X0 + b.X1) / 2, (b.Y0 + b.Y1) / 2} }

func inside(p [2]float32, b detect.Box) bool {
	return p[0] >= b.X0 && p[0] <= b.X1 && p[1] >= b.Y0 && p[1] <= b.Y1
}

// within is the fraction of a's area inside b.
func within(a, b detect.Box) float32 {
	ix := min(a.X1, b.X1) - max(a.X0, b.X0)
	iy := min(a.Y1, b.Y1) - max(a.Y0, b.Y0)
	if ix <= 0 || iy <= 0 || a.Area() <= 0 {
		return 0
	}
	return ix * iy / a.Area()
}

// notSubject drops the boxes that are mostly inside the subject's padded
// box at t: boxes of nearby frames where the subject was missed or seen
// in part. With no subject at t it returns boxes unchanged.
func (r *redactor) notSubject(boxes []blurBox, t time.Time) []blurBox {
	sb, ok := r.subject.at(t)
	if !ok {
		return boxes
	}
	pw, ph := (sb.X1-sb.X0)*pad, (sb.Y1-sb.Y0)*pad
	sb = detect.Box{X0: sb.X0 - pw, Y0: sb.Y0 - ph, X1: sb.X1 + pw, Y1: sb.Y1 + ph}
	var out []blurBox
	for _, b := range boxes {
		if within(b.box, sb) < subjectPart {
			out = append(out, b)
		}
	}
	return out
}

// pixels pads a normalised box and converts it to a clamped pixel box.
func (r *redactor) pixels(b detect.Box) blurBox {
	// Padding relative to the larger side: a person's box is narrow and
	// an arm or a neighbour in a group sticks out sideways.
	side := max((b.X1-b.X0)*float32(r.w), (b.Y1-b.Y0)*float32(r.h)) * pad
	pw, ph := side/float32(r.w), side/float32(r.h)
	x0 := int(math.Floor(float64((b.X0 - pw) * float32(r.w))))
	y0 := int(math.Floor(float64((b.Y0 - ph) * float32(r.h))))
	x1 := int(math.Ceil(float64((b.X1 + pw) * float32(r.w))))
	y1 := int(math.Ceil(float64((b.Y1 + ph) * float32(r.h))))
	return blurBox{max(x0, 0), max(y0, 0), min(x1, r.w), min(y1, r.h), b}
}

// pixelate replaces each box of f with blocks of their mean colour, about
// blocksAcross blocks across the box's larger side (at least minBlock
// pixels): a person becomes a few coloured tiles.
func pixelate(f *frame.Frame, boxes []blurBox) {
	for _, b := range boxes {
		bw, bh := b.x1-b.x0, b.y1-b.y0
		if bw <= 0 || bh <= 0 {
			continue
		}
		n := max(minBlock, (max(bw, bh)+blocksAcross-1)/blocksAcross)
		for by := b.y0; by < b.y1; by += n {
			for bx := b.x0; bx < b.x1; bx += n {
				ex, ey := min(bx+n, b.x1), min(by+n, b.y1)
				var sum [3]int
				for y := by; y < ey; y++ {
					row := f.RGB[(y*f.W+bx)*3 : (y*f.W+ex)*3]
					for p := 0; p < len(row); p += 3 {
						sum[0] += int(row[p])
						sum[1] += int(row[p+1])
						sum[2] += int(row[p+2])
					}
				}
				cnt := (ex - bx) * (ey - by)
				c := [3]byte{byte(sum[0] / cnt), byte(sum[1] / cnt), byte(sum[2] / cnt)}
				for y := by; y < ey; y++ {
					row := f.RGB[(y*f.W+bx)*3 : (y*f.W+ex)*3]
					for p := 0; p < len(row); p += 3 {
						row[p], row[p+1], row[p+2] = c[0], c[1], c[2]
					}
				}
			}
		}
	}
}

// path is the subject's track, in time order.
type path []seal.TrackPoint

func newPath(pts []seal.TrackPoint) path {
	p := make(path, 0, len(pts))
	for _, t := range pts {
		if !t.T.IsZero() && t.X1 > t.X0 && t.Y1 > t.Y0 {
			p = append(p, t)
		}
	}
	// Insertion sort: tracks come sorted, so this is linear.
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j].T.Before(p[j-1].T); j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
	return p
}

// at is the subject's box at t: linear between the points around t, the
// end points for up to subjectSlack beyond them; false outside.
func (p path) at(t time.Time) (detect.Box, bool) {
	if len(p) == 0 || t.Before(p[0].T.Add(-subjectSlack)) || t.After(p[len(p)-1].T.Add(subjectSlack)) {
		return detect.Box{}, false
	}
	box := func(q seal.TrackPoint) detect.Box { return detect.Box{X0: q.X0, Y0: q.Y0, X1: q.X1, Y1: q.Y1} }
	if !t.After(p[0].T) {
		return box(p[0]), true
	}
	for i := 1; i < len(p); i++ {
		if t.After(p[i].T) {
			continue
		}
		a, b := p[i-1], p[i]
		span := b.T.Sub(a.T)
		if span <= 0 {
			return box(b), true
		}
		k := float32(t.Sub(a.T)) / float32(span)
		lerp := func(x, y float32) float32 { return x + (y-x)*k }
		return detect.Box{X0: lerp(a.X0, b.X0), Y0: lerp(a.Y0, b.Y0), X1: lerp(a.X1, b.X1), Y1: lerp(a.Y1, b.Y1)}, true
	}
	return box(p[len(p)-1]), true
}
