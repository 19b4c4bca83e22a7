package motion

import (
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/detect"
	"github.com/porchlight/porchlight/internal/frame"
	"github.com/porchlight/porchlight/internal/testutil"
)

const (
	synW, synH = 320, 240
	// Where the Debian package opencv-doc (installed by scripts/setup)
	// puts its sample clips.
	clipDir = "/usr/share/doc/opencv-doc/examples/data/"
)

// scene draws a textured static background: a diagonal gradient with a
// pattern, so that gain and offset changes affect cells differently.
func scene() []float64 {
	s := make([]float64, synW*synH)
	for y := range synH {
		for x := range synW {
			s[y*synW+x] = 40 + 120*float64(x+y)/float64(synW+synH) +
				30*math.Sin(float64(x)/7)*math.Cos(float64(y)/11)
		}
	}
	return s
}

type square struct {
	x, y, size int
	grey       float64
}

// render makes a frame of base*gain+offset with Gaussian noise and the
// given squares drawn on top.
func render(base []float64, gain, offset, noise float64, rng *rand.Rand, sq ...square) *frame.Frame {
	g := make([]byte, synW*synH)
	for i, v := range base {
		g[i] = clamp(v*gain + offset + rng.NormFloat64()*noise)
	}
	for _, s := range sq {
		for y := max(0, s.y); y < min(synH, s.y+s.size); y++ {
			for x := max(0, s.x); x < min(synW, s.x+s.size); x++ {
				g[y*synW+x] = clamp(s.grey + rng.NormFloat64()*noise)
			}
		}
	}
	return &frame.Frame{W: synW, H: synH, Gray: g}
}

func clamp(v float64) byte {
	return byte(max(0, min(255, math.Round(v))))
}

func TestNoiseIsNotMotion(t *testing.T) {
	base := scene()
	rng := rand.New(rand.NewPCG(1, 2))
	d := New(Config{})
	for i := range 100 {
		if r := d.Feed(render(base, 1, 0, 4, rng)); r.Moving {
			t.Fatalf("frame %d: sensor noise reported as motion: %+v", i, r)
		}
	}
}

func TestGlobalLightingIsNotMotion(t *testing.T) {
	for _, tc := range []struct {
		name         string
		gain, offset float64
	}{
		{"brighter", 1, 40},
		{"darker", 1, -30},
		{"exposure down", 0.6, 0},
		{"exposure up and offset", 1.3, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := scene()
			rng := rand.New(rand.NewPCG(3, 4))
			d := New(Config{})
			for range 20 {
				d.Feed(render(base, 1, 0, 3, rng))
			}
			for i := range 20 {
				if r := d.Feed(render(base, tc.gain, tc.offset, 3, rng)); r.Moving {
					t.Fatalf("frame %d after the lighting step: reported motion %+v", i, r)
				}
			}
		})
	}
}

func TestMovingSquare(t *testing.T) {
	base := scene()
	rng := rand.New(rand.NewPCG(5, 6))
	d := New(Config{})
	for range 20 {
		d.Feed(render(base, 1, 0, 3, rng))
	}
	for i := range 20 {
		sq := square{x: 40 + 8*i, y: 100, size: 30, grey: 230}
		r := d.Feed(render(base, 1, 0, 3, rng, sq))
		if !r.Moving {
			t.Fatalf("frame %d: square at x=%d not reported as motion", i, sq.x)
		}
		want := detect.Box{
			X0: float32(sq.x) / synW, Y0: float32(sq.y) / synH,
			X1: float32(sq.x+sq.size) / synW, Y1: float32(sq.y+sq.size) / synH,
		}
		if got := r.Regions[0]; iou(got, want) < 0.5 {
			t.Errorf("frame %d: largest region %+v, want one overlapping the square %+v", i, got, want)
		}
		if r.Fraction <= 0 || r.Fraction > 0.05 {
			t.Errorf("frame %d: fraction %v, want a small positive share", i, r.Fraction)
		}
	}
}

func TestMaskHidesMotion(t *testing.T) {
	base := scene()
	rng := rand.New(rand.NewPCG(7, 8))
	// The square runs along y=100..130 (0.42..0.54); mask a band around it.
	mask := Polygon{{0, 0.35}, {1, 0.35}, {1, 0.62}, {0, 0.62}}
	d := New(Config{Mask: []Polygon{mask}})
	for range 20 {
		d.Feed(render(base, 1, 0, 3, rng))
	}
	for i := range 20 {
		sq := square{x: 40 + 8*i, y: 100, size: 30, grey: 230}
		if r := d.Feed(render(base, 1, 0, 3, rng, sq)); r.Moving {
			t.Fatalf("frame %d: masked square reported as motion: %+v", i, r)
		}
	}
	// The same square outside the mask is seen.
	sq := square{x: 100, y: 180, size: 30, grey: 230}
	if r := d.Feed(render(base, 1, 0, 3, rng, sq)); !r.Moving {
		t.Fatal("square outside the mask not reported as motion")
	}
}

func TestSmallBlobIgnored(t *testing.T) {
	base := scene()
	rng := rand.New(rand.NewPCG(9, 10))
	d := New(Config{})
	for range 20 {
		d.Feed(render(base, 1, 0, 3, rng))
	}
	// A 4×4-pixel speck (one cell) is below the minimum area.
	for i := range 10 {
		if r := d.Feed(render(base, 1, 0, 3, rng, square{x: 60 + 8*i, y: 60, size: 4, grey: 250})); r.Moving {
			t.Fatalf("frame %d: a speck reported as motion: %+v", i, r)
		}
	}
}

func TestStoppedObjectFadesIntoBackground(t *testing.T) {
	base := scene()
	rng := rand.New(rand.NewPCG(11, 12))
	d := New(Config{})
	for range 20 {
		d.Feed(render(base, 1, 0, 3, rng))
	}
	sq := square{x: 100, y: 100, size: 40, grey: 240}
	if r := d.Feed(render(base, 1, 0, 3, rng, sq)); !r.Moving {
		t.Fatal("a square appearing was not reported")
	}
	var r Result
	for range 600 { // two minutes at 5 fps
		r = d.Feed(render(base, 1, 0, 3, rng, sq))
	}
	if r.Moving {
		t.Fatalf("a square that stopped two minutes ago is still motion: %+v", r)
	}
}

func TestBadFrames(t *testing.T) {
	base := scene()
	rng := rand.New(rand.NewPCG(13, 14))
	d := New(Config{})
	for range 10 {
		d.Feed(render(base, 1, 0, 3, rng))
	}
	for _, f := range []*frame.Frame{
		nil,
		{},
		{W: synW, H: synH, Gray: make([]byte, 10)},
		{W: -1, H: 5, Gray: make([]byte, 10)},
	} {
		if r := d.Feed(f); r.Moving || len(r.Regions) != 0 {
			t.Errorf("malformed frame %+v gave %+v, want no motion", f, r)
		}
	}
	// Degenerate sizes neither panic nor report motion.
	for _, sz := range [][2]int{{1, 1}, {320, 2}, {3, 240}, {79, 1}} {
		f := &frame.Frame{W: sz[0], H: sz[1], Gray: make([]byte, sz[0]*sz[1])}
		for range 10 {
			if r := d.Feed(f); r.Moving {
				t.Errorf("blank %dx%d frame reported motion", sz[0], sz[1])
			}
		}
	}
	// A resolution switch restarts the model instead of comparing
	// different pictures.
	small := &frame.Frame{W: 160, H: 120, Gray: make([]byte, 160*120)}
	for i := range small.Gray {
		small.Gray[i] = byte(i)
	}
	for i := range 10 {
		if r := d.Feed(small); r.Moving {
			t.Fatalf("frame %d after a resolution switch: %+v", i, r)
		}
	}
	// And back: the model learns the old size again and then sees motion.
	for range 10 {
		d.Feed(render(base, 1, 0, 3, rng))
	}
	if r := d.Feed(render(base, 1, 0, 3, rng, square{x: 10, y: 10, size: 40, grey: 250})); !r.Moving {
		t.Fatal("no motion after switching back to the first resolution")
	}
}

func TestPolygonContains(t *testing.T) {
	tri := Polygon{{0, 0}, {1, 0}, {0, 1}}
	for _, tc := range []struct {
		p    Point
		want bool
	}{
		{Point{0.2, 0.2}, true},
		{Point{0.8, 0.8}, false},
		{Point{-0.1, 0.5}, false},
		{Point{0.49, 0.49}, true},
	} {
		if got := tri.Contains(tc.p); got != tc.want {
			t.Errorf("triangle contains %v = %v, want %v", tc.p, got, tc.want)
		}
	}
	if (Polygon{{0, 0}, {1, 1}}).Contains(Point{0.5, 0.5}) {
		t.Error("a two-point polygon contains a point")
	}
}

// clipFrames decodes a sample clip as the hub does for analysis: 5 fps,
// 320 pixels wide, grey.
func clipFrames(t *testing.T, name string) []*frame.Frame {
	t.Helper()
	testutil.RequireFFmpeg(t)
	path := clipDir + name
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is missing: run bash scripts/setup (it installs opencv-doc)", path)
	}
	const w, h = 320, 240 // both clips are 4:3
	out, err := exec.CommandContext(t.Context(), "ffmpeg", "-v", "error", "-i", path,
		"-vf", "fps=5,scale=320:240", "-pix_fmt", "gray", "-f", "rawvideo", "-").Output()
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	var frames []*frame.Frame
	t0 := time.Unix(0, 0)
	for i := 0; (i+1)*w*h <= len(out); i++ {
		frames = append(frames, &frame.Frame{
			W: w, H: h, Gray: out[i*w*h : (i+1)*w*h],
			Time: t0.Add(time.Duration(i) * 200 * time.Millisecond),
		})
	}
	if len(frames) < 50 {
		t.Fatalf("decoded only %d frames from %s", len(frames), path)
	}
	return frames
}

// TestClipVtest: pedestrians walk through vtest.avi from its first frame to
// its last, so after the warm-up nearly every frame has motion, and the
// parked vans at the top (y < 0.2) are never a region on their own.
func TestClipVtest(t *testing.T) {
	frames := clipFrames(t, "vtest.avi")
	d := New(Config{})
	cfg := d.cfg
	moving := 0
	for i, f := range frames {
		r := d.Feed(f)
		if i < cfg.Warmup+1 {
			continue
		}
		if r.Moving {
			moving++
		}
		if r.Fraction > 0.2 {
			t.Errorf("frame %d: %.0f%% of the frame moving; pedestrians cover far less", i, 100*r.Fraction)
		}
	}
	n := len(frames) - cfg.Warmup - 1
	if moving < n*9/10 {
		t.Errorf("motion in %d of %d frames, want at least 90%%", moving, n)
	}
	t.Logf("vtest.avi: motion in %d of %d frames", moving, n)
}

// TestClipTree: tree.avi is a tree swaying in the wind for about 23 s, then
// a hand enters from the top right. The swaying may be reported as motion
// (the detector gates the object detector, it does not raise alerts), but
// only as small regions; the hand must be seen.
func TestClipTree(t *testing.T) {
	frames := clipFrames(t, "tree.avi")
	const handFrame = 5 * 23 // the hand appears at about 23.5 s
	d := New(Config{})
	swayMoving, handMoving := 0, 0
	var maxSway float32
	for i, f := range frames {
		r := d.Feed(f)
		if i < handFrame {
			if r.Moving {
				swayMoving++
			}
			maxSway = max(maxSway, r.Fraction)
			continue
		}
		if r.Moving {
			handMoving++
			if r.Regions[0].X1 < 0.5 {
				t.Errorf("frame %d: largest region %+v is not on the right, where the hand is", i, r.Regions[0])
			}
		}
	}
	t.Logf("tree.avi: swaying gave motion in %d of %d frames (max %.1f%% of the frame); hand in %d of %d",
		swayMoving, handFrame, 100*maxSway, handMoving, len(frames)-handFrame)
	if maxSway > 0.05 {
		t.Errorf("swaying leaves reached %.1f%% of the frame, want at most 5%%", 100*maxSway)
	}
	if swayMoving > handFrame/2 {
		t.Errorf("swaying gave motion in %d of %d frames, want under half", swayMoving, handFrame)
	}
	if handMoving < (len(frames)-handFrame)/2 {
		t.Errorf("the hand gave motion in only %d of %d frames", handMoving, len(frames)-handFrame)
	}
}

func iou(a, b detect.Box) float32 {
	ix := max(0, min(a.X1, b.X1)-max(a.X0, b.X0))
	iy := max(0, min(a.Y1, b.Y1)-max(a.Y0, b.Y0))
	inter := ix * iy
	union := (a.X1-a.X0)*(a.Y1-a.Y0) + (b.X1-b.X0)*(b.Y1-b.Y0) - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}

func BenchmarkFeed(b *testing.B) {
	base := scene()
	rng := rand.New(rand.NewPCG(15, 16))
	frames := make([]*frame.Frame, 16)
	for i := range frames {
		frames[i] = render(base, 1, 0, 3, rng, square{x: 10 + 15*i, y: 100, size: 30, grey: 230})
	}
	d := New(Config{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.Feed(frames[i%len(frames)])
	}
}
