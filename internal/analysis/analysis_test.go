package analysis

import (
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/detect"
	"github.com/porchlight/porchlight/internal/frame"
	"github.com/porchlight/porchlight/internal/motion"
	"github.com/porchlight/porchlight/internal/track"
)

// grey makes a W×H frame of one grey level with a bright square at x.
func grey(w, h, x int, t time.Time) *frame.Frame {
	f := &frame.Frame{W: w, H: h, Gray: make([]byte, w*h), RGB: make([]byte, w*h*3), Time: t}
	for i := range f.Gray {
		f.Gray[i] = 90
	}
	if x >= 0 {
		for y := h / 3; y < h/3+40; y++ {
			for dx := 0; dx < 40 && x+dx < w; dx++ {
				f.Gray[y*w+x+dx] = 230
			}
		}
	}
	for i, g := range f.Gray {
		f.RGB[3*i], f.RGB[3*i+1], f.RGB[3*i+2] = g, g, g
	}
	return f
}

// TestMotionGatesDetector: with the real detector, a still scene never
// reaches it; something moving does, and for Linger after it stops.
func TestMotionGatesDetector(t *testing.T) {
	det, err := detect.Open(detect.Config{})
	if err != nil {
		t.Fatalf("open the detector (run `bash scripts/setup`): %v", err)
	}
	defer det.Close()
	c := New(det, motion.Config{}, track.Config{})
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 200 * time.Millisecond) }
	i := 0
	for ; i < 20; i++ { // still
		r, err := c.Frame(grey(320, 240, -1, at(i)))
		if err != nil || r.Analysed || r.Motion.Moving {
			t.Fatalf("still frame %d: analysed %v, moving %v, %v", i, r.Analysed, r.Motion.Moving, err)
		}
	}
	analysed := 0
	for x := 0; x < 200; x, i = x+20, i+1 { // a square crossing
		r, err := c.Frame(grey(320, 240, x, at(i)))
		if err != nil {
			t.Fatal(err)
		}
		if r.Analysed {
			analysed++
		}
	}
	if analysed < 5 {
		t.Errorf("the detector ran on %d frames of motion, want most of 10", analysed)
	}
	// Still again: the detector runs for Linger, then stops.
	last := time.Time{}
	for j := 0; j < 30; j, i = j+1, i+1 {
		r, _ := c.Frame(grey(320, 240, -1, at(i)))
		if r.Analysed {
			last = at(i)
		}
	}
	if stop := at(i - 1); last.IsZero() == false && stop.Sub(last) < 2*time.Second {
		t.Errorf("the detector still ran %v before the end of 6 s of stillness", stop.Sub(last))
	}
}

// square is a fake detector: a person exactly on grey's bright square.
type square struct{ calls int }

func (s *square) Detect(f *frame.Frame) ([]detect.Detection, error) {
	s.calls++
	h := f.H / 3
	for x := range f.W {
		if f.Gray[h*f.W+x] > 200 {
			return []detect.Detection{{Class: detect.Person, Label: "person", Score: 0.9, Box: detect.Box{
				X0: float32(x) / float32(f.W), Y0: float32(h) / float32(f.H),
				X1: float32(x+40) / float32(f.W), Y1: float32(h+40) / float32(f.H),
			}}}, nil
		}
	}
	return nil, nil
}

// TestSettledStride: until the walking square has alerted the detector runs
// on every frame; once it has, and all motion is on it, on every
// SettledStride-th frame; new motion elsewhere brings back every frame.
func TestSettledStride(t *testing.T) {
	det := &square{}
	c := New(det, motion.Config{}, track.Config{})
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	i := 0
	next := func(f *frame.Frame) Result {
		t.Helper()
		r, err := c.Frame(f)
		if err != nil {
			t.Fatal(err)
		}
		i++
		return r
	}
	at := func() time.Time { return t0.Add(time.Duration(i) * 200 * time.Millisecond) }
	for range 20 { // still
		next(grey(320, 240, -1, at()))
	}
	x, alerted := 0, false
	for ; !alerted && x < 200; x += 4 {
		r := next(grey(320, 240, x, at()))
		if !r.Analysed && r.Motion.Moving {
			t.Fatalf("frame at x=%d skipped before the alert", x)
		}
		alerted = len(r.Alerts) > 0
	}
	if !alerted {
		t.Fatal("the walking square never alerted")
	}
	det.calls = 0
	n := 0
	for ; x < 280; x += 4 {
		next(grey(320, 240, x, at()))
		n++
	}
	if want := (n + SettledStride - 1) / SettledStride; det.calls > want+1 || det.calls < want-1 {
		t.Errorf("after the alert the detector ran on %d of %d frames, want about %d", det.calls, n, want)
	}
	// Something else moves at the bottom left: every frame again.
	det.calls = 0
	for k := range 6 {
		f := grey(320, 240, 280, at())
		for y := 200; y < 230; y++ {
			for dx := range 30 {
				v := byte(230)
				if k%2 == 1 {
					v = 20
				}
				f.Gray[y*320+10+dx] = v
				f.RGB[3*(y*320+10+dx)], f.RGB[3*(y*320+10+dx)+1], f.RGB[3*(y*320+10+dx)+2] = v, v, v
			}
		}
		next(f)
	}
	if det.calls < 5 {
		t.Errorf("with motion away from the track the detector ran on %d of 6 frames, want every one (at least 5)", det.calls)
	}
}

func TestSettled(t *testing.T) {
	p := detect.Box{X0: 0.4, Y0: 0.4, X1: 0.5, Y1: 0.6}
	alerted := track.Track{Alerted: true, Moving: true, Box: p, Path: make([]detect.Box, 10)}
	young := track.Track{Box: detect.Box{X0: 0.1, Y0: 0.1, X1: 0.2, Y1: 0.2}, Path: make([]detect.Box, 2)}
	parked := track.Track{Box: detect.Box{X0: 0.1, Y0: 0.1, X1: 0.2, Y1: 0.2}, Path: make([]detect.Box, Parked)}
	on := detect.Box{X0: 0.39, Y0: 0.42, X1: 0.52, Y1: 0.6}
	off := detect.Box{X0: 0.7, Y0: 0.7, X1: 0.8, Y1: 0.8}
	for _, tc := range []struct {
		name    string
		tracks  []track.Track
		regions []detect.Box
		want    bool
	}{
		{"no tracks", nil, nil, false},
		{"alerted, no motion", []track.Track{alerted}, nil, true},
		{"alerted, motion on it", []track.Track{alerted}, []detect.Box{on}, true},
		{"alerted, motion elsewhere", []track.Track{alerted}, []detect.Box{on, off}, false},
		{"a young track", []track.Track{alerted, young}, []detect.Box{on}, false},
		{"a parked track", []track.Track{alerted, parked}, []detect.Box{on}, true},
		{"only parked", []track.Track{parked}, nil, false},
	} {
		if got := settled(tc.tracks, tc.regions); got != tc.want {
			t.Errorf("%s: settled = %v, want %v", tc.name, got, tc.want)
		}
	}
}
