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
