package redact

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/porchlight/porchlight/internal/detect"
	"github.com/porchlight/porchlight/internal/frame"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/track"
)

const vtestClip = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"

// t0 is the wall time of the test clip's t=0.
var t0 = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

var (
	detOnce sync.Once
	det     *detect.Detector
	detErr  error
)

// openDetector opens the real detector once for the package's tests (the
// model loads in about a second); it stays open for the process.
func openDetector(t testing.TB) *detect.Detector {
	t.Helper()
	detOnce.Do(func() { det, detErr = detect.Open(detect.Config{}) })
	if detErr != nil {
		t.Fatalf("open the detector (run `bash scripts/setup`): %v", detErr)
	}
	return det
}

// clipMP4 converts 8 s of OpenCV's vtest.avi (pedestrians, 768×576, 10
// fps) to a fragmented MP4 like segment.Concat's output, with a silent
// audio track and metadata that redaction must drop.
func clipMP4(t testing.TB) []byte {
	t.Helper()
	return clipAt(t, 20, "")
}

// clipAt is clipMP4 from second off of vtest.avi, with vf as a video
// filter when set.
func clipAt(t testing.TB, off int, vf string) []byte {
	t.Helper()
	if _, err := os.Stat(vtestClip); err != nil {
		t.Fatalf("test clip missing (install opencv-doc): %v", err)
	}
	out := filepath.Join(t.TempDir(), "clip.mp4")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-ss", strconv.Itoa(off), "-t", "8", "-i", vtestClip,
		"-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-shortest", "-map", "0:v", "-map", "1:a", "-vf", orNull(vf),
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-c:a", "aac",
		"-metadata", "title=secret-title", "-metadata", "comment=secret-comment", "-metadata", "creation_time=2026-03-01T09:30:00Z",
		"-movflags", "frag_keyframe+empty_moov+default_base_moof", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make the test clip with ffmpeg: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type probed struct {
	Streams []struct {
		CodecType string            `json:"codec_type"`
		CodecName string            `json:"codec_name"`
		Width     int               `json:"width"`
		Tags      map[string]string `json:"tags"`
	} `json:"streams"`
	Format struct {
		Duration string            `json:"duration"`
		Tags     map[string]string `json:"tags"`
	} `json:"format"`
}

func ffprobe(t testing.TB, mp4 []byte) probed {
	t.Helper()
	path := filepath.Join(t.TempDir(), "probe.mp4")
	if err := os.WriteFile(path, mp4, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var p probed
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// subjectTrack runs the detector and tracker over the clip from..to and
// returns the person track seen in the most frames, as an event's track.
func subjectTrack(t testing.TB, mp4 []byte, from, to time.Time) []seal.TrackPoint {
	t.Helper()
	frames, err := scan(t.Context(), mp4, openDetector(t), t0)
	if err != nil {
		t.Fatal(err)
	}
	tr := track.New(track.Config{})
	paths := map[int][]seal.TrackPoint{}
	for _, f := range frames {
		tracks, _ := tr.Update(f.t, f.people)
		for _, k := range tracks {
			if k.Last.Equal(f.t) && k.Class == detect.Person && !f.t.Before(from) && f.t.Before(to) {
				paths[k.ID] = append(paths[k.ID], seal.TrackPoint{T: f.t, X0: k.Box.X0, Y0: k.Box.Y0, X1: k.Box.X1, Y1: k.Box.Y1})
			}
		}
	}
	var best []seal.TrackPoint
	for _, p := range paths {
		if len(p) > len(best) {
			best = p
		}
	}
	if len(best) < 20 {
		t.Fatalf("no person followed for 20 frames in the test clip (best %d)", len(best))
	}
	return best
}

// TestRedactBlursEveryone redacts a trimmed clip with several people and
// no subject: the detector finds no person in the output, the output is a
// plain H.264 MP4 without audio or metadata, and it has the trimmed length.
func TestRedactBlursEveryone(t *testing.T) {
	d := openDetector(t)
	clip := clipMP4(t)
	before, err := People(t.Context(), clip, d, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	if before < 50 {
		t.Fatalf("the input has %d person detections; the test needs a crowd", before)
	}
	from, to := t0.Add(1500*time.Millisecond), t0.Add(6500*time.Millisecond)
	out, rep, err := Redact(t.Context(), Input{MP4: clip, Start: t0, From: from, To: to, Detector: d})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report %+v, %d bytes", rep, len(out))
	if rep.Frames != 50 || rep.Blurred < 3 || rep.Kept != 0 {
		t.Errorf("report %+v, want 50 frames, ≥ 3 people blurred, none kept", rep)
	}

	t.Run("no unblurred person", func(t *testing.T) {
		n, err := People(t.Context(), out, d, nil, from)
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d person detections in the redacted clip, want 0", n)
		}
	})
	t.Run("no audio, no metadata", func(t *testing.T) {
		p := ffprobe(t, out)
		var types []string
		for _, s := range p.Streams {
			types = append(types, s.CodecType+"/"+s.CodecName)
			for k := range s.Tags {
				// The encoder tag is the sample entry's compressor name;
				// bit-exact mode keeps the version out of it.
				if k != "handler_name" && k != "vendor_id" && k != "language" && (k != "encoder" || s.Tags[k] != "Lavc libx264") {
					t.Errorf("stream tag %s=%q", k, s.Tags[k])
				}
			}
		}
		if diff := cmp.Diff([]string{"video/h264"}, types); diff != "" {
			t.Errorf("streams (-want +got):\n%s", diff)
		}
		for k := range p.Format.Tags {
			// The brand fields are the ftyp box, not metadata.
			if k != "major_brand" && k != "minor_version" && k != "compatible_brands" {
				t.Errorf("format tag %s=%q", k, p.Format.Tags[k])
			}
		}
		for _, s := range []string{"secret-title", "secret-comment", "Lavf", "x264 - core", "options: ", "creation_time"} {
			if bytes.Contains(out, []byte(s)) {
				t.Errorf("output contains %q", s)
			}
		}
		if !isMP4(out) {
			t.Errorf("output does not start with ftyp")
		}
		// faststart: moov before mdat.
		if m, d := bytes.Index(out, []byte("moov")), bytes.Index(out, []byte("mdat")); m < 0 || d < 0 || m > d {
			t.Errorf("moov at %d, mdat at %d: want moov first", m, d)
		}
	})
	t.Run("trimmed", func(t *testing.T) {
		p := ffprobe(t, out)
		dur, err := strconv.ParseFloat(p.Format.Duration, 64)
		if err != nil {
			t.Fatal(err)
		}
		if want := to.Sub(from).Seconds(); dur < want-0.15 || dur > want+0.15 {
			t.Errorf("duration %.3f s, want %.3f", dur, want)
		}
	})
}

// TestRedactKeepsSubject gives the track of one person (the detector's own,
// on the input) as the subject: that person is still found in the output
// where the track says, and nobody else is.
func TestRedactKeepsSubject(t *testing.T) {
	d := openDetector(t)
	clip := clipMP4(t)
	from, to := t0.Add(time.Second), t0.Add(7*time.Second)
	subject := subjectTrack(t, clip, from, to)
	out, rep, err := Redact(t.Context(), Input{MP4: clip, Start: t0, From: from, To: to, Detector: d, Subject: subject, MaxWidth: 640})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report %+v, subject %d points %s..%s", rep, len(subject), subject[0].T.Sub(t0), subject[len(subject)-1].T.Sub(t0))
	if rep.Kept < len(subject)*3/4 || rep.Blurred < 2 {
		t.Errorf("report %+v: want the subject kept in ≥ %d frames and others blurred", rep, len(subject)*3/4)
	}
	if w := ffprobe(t, out).Streams[0].Width; w != 640 {
		t.Errorf("width %d, want MaxWidth 640", w)
	}
	n, err := People(t.Context(), out, d, subject, from)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d person detections other than the subject in the output, want 0", n)
	}
	frames, err := scan(t.Context(), out, d, from)
	if err != nil {
		t.Fatal(err)
	}
	sub := newPath(subject)
	var want, found int
	for _, f := range frames {
		sb, ok := sub.at(f.t)
		if !ok || f.t.Before(subject[0].T) || f.t.After(subject[len(subject)-1].T) {
			continue
		}
		want++
		ok = false
		for _, p := range f.people {
			if detect.IoU(p.Box, sb) >= 0.5 {
				found++
				ok = true
				break
			}
		}
		if !ok {
			t.Logf("subject not found at %s (box %+v): %+v", f.t.Sub(t0), sb, f.people)
		}
	}
	if want == 0 || found < want*3/4 {
		t.Errorf("subject found in %d of %d frames of its track, want ≥ 3/4", found, want)
	}
}

// countingDetector counts calls and finds nothing.
type countingDetector struct{ n int }

func (c *countingDetector) Detect(*frame.Frame) ([]detect.Detection, error) {
	c.n++
	return nil, nil
}

func TestRedactBadInput(t *testing.T) {
	clip := clipMP4(t)
	cd := &countingDetector{}
	ftypJunk := append([]byte{0, 0, 0, 16, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm', 0, 0, 2, 0}, bytes.Repeat([]byte{7}, 4096)...)
	for _, tc := range []struct {
		name string
		in   Input
		want error
	}{
		{"no detector", Input{MP4: clip, Start: t0}, ErrNoDetector},
		{"not an mp4", Input{MP4: []byte("RIFF....AVI LIST"), Start: t0, Detector: cd}, ErrNotMP4},
		{"empty", Input{Start: t0, Detector: cd}, ErrNotMP4},
		{"ftyp then junk", Input{MP4: ftypJunk, Start: t0, Detector: cd}, ErrNotMP4},
		{"to before from", Input{MP4: clip, Start: t0, From: t0.Add(3 * time.Second), To: t0.Add(2 * time.Second), Detector: cd}, ErrEmptyRange},
		{"to equals from", Input{MP4: clip, Start: t0, From: t0.Add(3 * time.Second), To: t0.Add(3 * time.Second), Detector: cd}, ErrEmptyRange},
		{"to before the clip", Input{MP4: clip, Start: t0, From: t0.Add(-5 * time.Second), To: t0.Add(-time.Second), Detector: cd}, ErrEmptyRange},
		{"after the clip", Input{MP4: clip, Start: t0, From: t0.Add(20 * time.Second), To: t0.Add(30 * time.Second), Detector: cd}, ErrEmptyRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := Redact(t.Context(), tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if out != nil {
				t.Errorf("got %d bytes of output with the error", len(out))
			}
		})
	}
	if _, err := People(t.Context(), []byte("nope"), cd, nil, t0); !errors.Is(err, ErrNotMP4) {
		t.Errorf("People on junk: %v, want ErrNotMP4", err)
	}
	if _, err := People(t.Context(), clip, nil, nil, t0); !errors.Is(err, ErrNoDetector) {
		t.Errorf("People without detector: %v, want ErrNoDetector", err)
	}
}

// TestRedactClampsAndCancels: a range reaching before the clip starts at
// the clip, a zero To runs to the end, and a cancelled context stops it.
func TestRedactClampsAndCancels(t *testing.T) {
	clip := clipMP4(t)
	cd := &countingDetector{}
	_, rep, err := Redact(t.Context(), Input{MP4: clip, Start: t0, From: t0.Add(-time.Hour), Detector: cd, MaxWidth: 320})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Frames < 79 || rep.Frames > 82 || cd.n != 5*rep.Frames {
		t.Errorf("frames %d, detector calls %d: want the whole 8 s clip (80 frames), each detected whole and in 4 tiles", rep.Frames, cd.n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := Redact(ctx, Input{MP4: clip, Start: t0, Detector: cd}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled redaction: %v, want context.Canceled", err)
	}
}

func TestPixelate(t *testing.T) {
	const w, h = 40, 30
	f := &frame.Frame{W: w, H: h, RGB: make([]byte, w*h*3)}
	for i := range f.RGB {
		f.RGB[i] = byte(i * 7)
	}
	orig := bytes.Clone(f.RGB)
	b := blurBox{x0: 4, y0: 2, x1: 24, y1: 22} // 20×20: blocks of minBlock
	pixelate(f, []blurBox{b})
	at := func(x, y int) [3]byte { i := (y*w + x) * 3; return [3]byte{f.RGB[i], f.RGB[i+1], f.RGB[i+2]} }
	for y := range h {
		for x := range w {
			i := (y*w + x) * 3
			in := x >= b.x0 && x < b.x1 && y >= b.y0 && y < b.y1
			if !in && !bytes.Equal(f.RGB[i:i+3], orig[i:i+3]) {
				t.Fatalf("pixel %d,%d outside the box changed", x, y)
			}
			if in {
				// Every pixel equals its block's top-left pixel.
				bx, by := b.x0+(x-b.x0)/minBlock*minBlock, b.y0+(y-b.y0)/minBlock*minBlock
				if at(x, y) != at(bx, by) {
					t.Fatalf("pixel %d,%d differs from its block's corner %d,%d", x, y, bx, by)
				}
			}
		}
	}
	if at(4, 2) == at(12, 2) && at(4, 2) == at(4, 10) {
		t.Error("neighbouring blocks are all equal: no structure left is fine, but this input has a gradient")
	}
}

func TestPathAt(t *testing.T) {
	p := newPath([]seal.TrackPoint{
		{T: t0.Add(2 * time.Second), X0: 0.2, Y0: 0.2, X1: 0.4, Y1: 0.6},
		{T: t0, X0: 0, Y0: 0, X1: 0.2, Y1: 0.4},
		{T: t0.Add(time.Second)}, // empty box: dropped
	})
	for _, tc := range []struct {
		at   time.Duration
		want detect.Box
		ok   bool
	}{
		{-2 * time.Second, detect.Box{}, false},
		{-500 * time.Millisecond, detect.Box{X0: 0, Y0: 0, X1: 0.2, Y1: 0.4}, true},
		{time.Second, detect.Box{X0: 0.1, Y0: 0.1, X1: 0.3, Y1: 0.5}, true},
		{2500 * time.Millisecond, detect.Box{X0: 0.2, Y0: 0.2, X1: 0.4, Y1: 0.6}, true},
		{4 * time.Second, detect.Box{}, false},
	} {
		got, ok := p.at(t0.Add(tc.at))
		if ok != tc.ok || cmp.Diff(tc.want, got, cmp.Comparer(func(a, b float32) bool { return a-b < 1e-5 && b-a < 1e-5 })) != "" {
			t.Errorf("at %s: %+v %v, want %+v %v", tc.at, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := newPath(nil).at(t0); ok {
		t.Error("an empty path has a box")
	}
}

func TestOutSizeAndRate(t *testing.T) {
	for _, tc := range []struct{ w, h, max, ww, wh int }{
		{768, 576, 1280, 768, 576},
		{1920, 1080, 1280, 1280, 720},
		{1921, 1081, 1280, 1280, 720},
		{641, 481, 1280, 640, 480},
	} {
		if w, h := outSize(tc.w, tc.h, tc.max); w != tc.ww || h != tc.wh {
			t.Errorf("outSize(%d, %d, %d) = %d×%d, want %d×%d", tc.w, tc.h, tc.max, w, h, tc.ww, tc.wh)
		}
	}
	for s, want := range map[string]float64{"10/1": 10, "30000/1001": 30000.0 / 1001, "0/0": 0, "25": 25, "x/1": 0} {
		if got := rate(s); got != want {
			t.Errorf("rate(%q) = %g, want %g", s, got, want)
		}
	}
}

func orNull(vf string) string {
	if vf == "" {
		return "null"
	}
	return vf
}

// tileDetector finds one person at a fixed place of whatever it is shown.
type tileDetector struct{ sizes [][2]int }

func (d *tileDetector) Detect(f *frame.Frame) ([]detect.Detection, error) {
	d.sizes = append(d.sizes, [2]int{f.W, f.H})
	return []detect.Detection{{Class: detect.Person, Label: "person", Score: 0.5, Box: detect.Box{X0: 0.4, Y0: 0.4, X1: 0.5, Y1: 0.6}}}, nil
}

// TestDetectTiled checks that crops' boxes are mapped back to the frame.
func TestDetectTiled(t *testing.T) {
	const w, h = 200, 100
	d := &tileDetector{}
	dets, err := detectTiled(d, &frame.Frame{W: w, H: h, RGB: make([]byte, w*h*3)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][2]int{{200, 100}, {120, 60}, {120, 60}, {120, 60}, {120, 60}}, d.sizes); diff != "" {
		t.Errorf("detector saw (-want +got):\n%s", diff)
	}
	// The whole frame's box, then each crop's 0.4..0.5 × 0.4..0.6 mapped
	// from its corner (crops are 0.6 of the frame, at 0 or 0.4).
	var got []detect.Box
	for _, d := range dets {
		got = append(got, d.Box)
	}
	want := []detect.Box{
		{X0: 0.4, Y0: 0.4, X1: 0.5, Y1: 0.6},
		{X0: 0.24, Y0: 0.24, X1: 0.3, Y1: 0.36},
		{X0: 0.64, Y0: 0.24, X1: 0.7, Y1: 0.36},
		{X0: 0.24, Y0: 0.64, X1: 0.3, Y1: 0.76},
		{X0: 0.64, Y0: 0.64, X1: 0.7, Y1: 0.76},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b float32) bool { return a-b < 1e-4 && b-a < 1e-4 })); diff != "" {
		t.Errorf("boxes (-want +got):\n%s", diff)
	}
}
