package detect

import (
	"errors"
	"fmt"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/porchlight/porchlight/internal/frame"
)

// darknetData holds the Debian darknet package's sample images, installed by
// scripts/setup.
const darknetData = "/usr/share/darknet/data"

// mustOpen opens a detector on the setup-made assets; missing assets fail
// the test (they are installed by `make test` via scripts/setup).
func mustOpen(tb testing.TB, cfg Config) *Detector {
	tb.Helper()
	d, err := Open(cfg)
	if err != nil {
		tb.Fatalf("open detector (run `bash scripts/setup`): %v", err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}

// mustJPEG decodes a JPEG file into an RGB frame.
func mustJPEG(tb testing.TB, path string) *frame.Frame {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("test image missing (run `bash scripts/setup`, which installs darknet): %v", err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		tb.Fatalf("decode %s: %v", path, err)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	fr := &frame.Frame{W: w, H: h, RGB: make([]byte, w*h*3), Gray: make([]byte, w*h)}
	for y := range h {
		for x := range w {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			i := y*w + x
			fr.RGB[3*i], fr.RGB[3*i+1], fr.RGB[3*i+2] = byte(r>>8), byte(g>>8), byte(bl>>8)
			fr.Gray[i] = byte((299*r + 587*g + 114*bl) / 1000 >> 8)
		}
	}
	return fr
}

type want struct {
	class    Class
	labels   []string // any of these COCO labels
	minScore float32
	box      Box
}

// Expectations on the darknet images, measured with this model and
// pipeline; the tolerances catch a regression in the model conversion, the
// resize, the box decoding or the NMS.
var darknetCases = []struct {
	image    string
	minScore float32 // Config.MinScore; 0 is the default
	want     []want
}{
	{"dog.jpg", 0, []want{
		{Animal, []string{"dog"}, 0.9, Box{0.167, 0.392, 0.416, 0.944}},
		{Vehicle, []string{"bicycle"}, 0.9, Box{0.147, 0.231, 0.737, 0.749}},
		{Vehicle, []string{"car", "truck"}, 0.7, Box{0.599, 0.141, 0.905, 0.302}},
	}},
	{"person.jpg", 0, []want{
		{Person, []string{"person"}, 0.9, Box{0.284, 0.244, 0.419, 0.890}},
		{Animal, []string{"horse"}, 0.9, Box{0.618, 0.315, 0.949, 0.803}},
	}},
	// The dog beside the person scores about 0.28: found below the default.
	{"person.jpg", 0.2, []want{
		{Person, []string{"person"}, 0.9, Box{0.284, 0.244, 0.419, 0.890}},
		{Animal, []string{"horse"}, 0.9, Box{0.618, 0.315, 0.949, 0.803}},
		{Animal, []string{"dog"}, 0.2, Box{0.110, 0.608, 0.327, 0.823}},
	}},
	{"giraffe.jpg", 0, []want{
		{Animal, []string{"zebra"}, 0.9, Box{0.470, 0.398, 0.846, 0.885}},
		{Animal, []string{"giraffe"}, 0.9, Box{0.328, 0.064, 0.904, 0.841}},
	}},
	{"eagle.jpg", 0, []want{
		{Animal, []string{"bird"}, 0.9, Box{0.166, 0.155, 0.780, 0.878}},
	}},
	{"scream.jpg", 0, nil}, // a painting: no object at the default score
}

func TestDetectDarknetImages(t *testing.T) {
	for _, tc := range darknetCases {
		t.Run(strings.TrimSuffix(tc.image, ".jpg"), func(t *testing.T) {
			d := mustOpen(t, Config{MinScore: tc.minScore})
			got, err := d.Detect(mustJPEG(t, filepath.Join(darknetData, tc.image)))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Errorf("got %d detections, want %d: %+v", len(got), len(tc.want), got)
			}
			for _, w := range tc.want {
				best := -1
				for i, g := range got {
					if g.Class == w.class && slices.Contains(w.labels, g.Label) && (best < 0 || IoU(g.Box, w.box) > IoU(got[best].Box, w.box)) {
						best = i
					}
				}
				if best < 0 {
					t.Errorf("no %s (%v) detected in %+v", w.class, w.labels, got)
					continue
				}
				g := got[best]
				if iou := IoU(g.Box, w.box); iou < 0.8 {
					t.Errorf("%s box %+v, want about %+v (IoU %.2f < 0.8)", g.Label, g.Box, w.box, iou)
				}
				if g.Score < w.minScore {
					t.Errorf("%s score %.2f < %.2f", g.Label, g.Score, w.minScore)
				}
			}
			for i := 1; i < len(got); i++ {
				if got[i].Score > got[i-1].Score {
					t.Errorf("detections not sorted by score: %+v", got)
				}
			}
		})
	}
}

func TestDetectAnySize(t *testing.T) {
	// The same picture at another size (a stream switching resolution) gives
	// the same objects.
	d := mustOpen(t, Config{})
	big := mustJPEG(t, filepath.Join(darknetData, "dog.jpg"))
	small := &frame.Frame{W: 300, H: 300, RGB: make([]byte, 300*300*3)}
	resizeBilinear(small.RGB, 300, 300, big.RGB, big.W, big.H)
	a, err := d.Detect(big)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Detect(small)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("a frame already at the model size detects differently (-full +300x300):\n%s", diff)
	}
}

func TestDetectBlankFrame(t *testing.T) {
	d := mustOpen(t, Config{})
	for _, v := range []byte{0, 128, 255} {
		f := &frame.Frame{W: 64, H: 48, RGB: make([]byte, 64*48*3)}
		for i := range f.RGB {
			f.RGB[i] = v
		}
		got, err := d.Detect(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("uniform %d frame: got %+v, want nothing", v, got)
		}
	}
}

func TestDetectBadFrames(t *testing.T) {
	d := mustOpen(t, Config{})
	for name, f := range map[string]*frame.Frame{
		"nil":          nil,
		"gray only":    {W: 4, H: 4, Gray: make([]byte, 16)},
		"short rgb":    {W: 4, H: 4, RGB: make([]byte, 47)},
		"zero size":    {W: 0, H: 0, RGB: []byte{}},
		"negative":     {W: -4, H: -4, RGB: make([]byte, 48)},
		"wrong stride": {W: 5, H: 4, RGB: make([]byte, 48)},
	} {
		if got, err := d.Detect(f); err == nil {
			t.Errorf("%s: got %v, want an error", name, got)
		}
	}
	// The detector still works after bad input.
	if _, err := d.Detect(&frame.Frame{W: 2, H: 2, RGB: make([]byte, 12)}); err != nil {
		t.Errorf("after bad frames: %v", err)
	}
}

func TestDetectConcurrentAndClose(t *testing.T) {
	d, err := Open(Config{Threads: 1})
	if err != nil {
		t.Fatalf("open detector (run `bash scripts/setup`): %v", err)
	}
	f := mustJPEG(t, filepath.Join(darknetData, "person.jpg"))
	want, err := d.Detect(f)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			got, err := d.Detect(f)
			if err == nil && !cmp.Equal(got, want) {
				err = errors.New("concurrent result differs: " + cmp.Diff(want, got))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := d.Detect(f); err == nil {
		t.Error("Detect after Close succeeded")
	}
}

func TestOpenMissingAssets(t *testing.T) {
	src := DefaultAssetsDir()
	for _, missing := range []string{ModelFile, LabelsFile, RuntimeFile} {
		t.Run(missing, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range []string{ModelFile, LabelsFile, RuntimeFile} {
				if f == missing {
					continue
				}
				if err := os.Symlink(filepath.Join(src, f), filepath.Join(dir, f)); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Open(Config{Dir: dir})
			if !errors.Is(err, ErrMissingAsset) {
				t.Fatalf("got %v, want ErrMissingAsset", err)
			}
			for _, s := range []string{"bash scripts/setup", filepath.Join(dir, missing)} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %q", err, s)
				}
			}
		})
	}
}

func TestOpenBadAssets(t *testing.T) {
	src := DefaultAssetsDir()
	for name, files := range map[string]map[string]string{
		"corrupt model":  {ModelFile: "not a model"},
		"corrupt labels": {LabelsFile: "person\n"},
		"empty labels":   {LabelsFile: "\n"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range []string{ModelFile, LabelsFile, RuntimeFile} {
				var err error
				if content, ok := files[f]; ok {
					err = os.WriteFile(filepath.Join(dir, f), []byte(content), 0o644)
				} else {
					err = os.Symlink(filepath.Join(src, f), filepath.Join(dir, f))
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			d, err := Open(Config{Dir: dir})
			if err == nil {
				d.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), "bash scripts/setup") {
				t.Errorf("error %q does not name `bash scripts/setup`", err)
			}
		})
	}
}

func TestDefaultAssetsDir(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	t.Setenv("PORCHLIGHT_ASSETS", "")
	if got, want := DefaultAssetsDir(), filepath.Join(root, ".assets"); got != want {
		t.Errorf("DefaultAssetsDir() = %q, want %q", got, want)
	}
	t.Setenv("PORCHLIGHT_ASSETS", "/somewhere")
	if got := DefaultAssetsDir(); got != "/somewhere" {
		t.Errorf("with PORCHLIGHT_ASSETS: %q", got)
	}
}

func TestDecodeBox(t *testing.T) {
	anchor := []float32{0.5, 0.4, 0.2, 0.1} // ycenter, xcenter, h, w
	for _, tc := range []struct {
		enc  []float32
		want Box
	}{
		{[]float32{0, 0, 0, 0}, Box{0.35, 0.4, 0.45, 0.6}},
		// ty=10 moves the centre down by one anchor height.
		{[]float32{10, 0, 0, 0}, Box{0.35, 0.6, 0.45, 0.8}},
		// th=5·ln2 doubles the height.
		{[]float32{0, 0, 5 * float32(math.Ln2), 0}, Box{0.35, 0.3, 0.45, 0.7}},
		// Clamped to the frame.
		{[]float32{0, 0, 20, 20}, Box{0, 0, 1, 1}},
	} {
		got := decodeBox(tc.enc, anchor)
		if !cmp.Equal(got, tc.want, cmp.Comparer(func(a, b float32) bool { return math.Abs(float64(a-b)) < 1e-5 })) {
			t.Errorf("decodeBox(%v) = %+v, want %+v", tc.enc, got, tc.want)
		}
	}
}

func TestNMS(t *testing.T) {
	a := Box{0, 0, 0.5, 0.5}
	a2 := Box{0.02, 0.02, 0.5, 0.5} // IoU with a ≈ 0.92
	b := Box{0.5, 0.5, 1, 1}
	cands := []Detection{
		{Animal, "cat", 0.6, a2},
		{Person, "person", 0.9, a},
		{Animal, "dog", 0.8, a},
		{Person, "person", 0.7, a2},
		{Person, "person", 0.5, b},
		{Vehicle, "car", 0.95, Box{0.3, 0.3, 0.3, 0.9}}, // empty
	}
	got := nms(cands, 0.5, 10)
	want := []Detection{
		{Person, "person", 0.9, a},
		{Animal, "dog", 0.8, a},
		{Person, "person", 0.5, b},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("nms (-want +got):\n%s", diff)
	}
	if got := nms(cands, 0.5, 1); len(got) != 1 || got[0].Score != 0.9 {
		t.Errorf("limit 1: %+v", got)
	}
}

func TestIoU(t *testing.T) {
	for _, tc := range []struct {
		a, b Box
		want float32
	}{
		{Box{0, 0, 1, 1}, Box{0, 0, 1, 1}, 1},
		{Box{0, 0, 0.5, 1}, Box{0.5, 0, 1, 1}, 0},
		{Box{0, 0, 0.5, 0.5}, Box{0.25, 0, 0.75, 0.5}, 1.0 / 3},
		{Box{}, Box{}, 0},
	} {
		if got := IoU(tc.a, tc.b); math.Abs(float64(got-tc.want)) > 1e-6 {
			t.Errorf("IoU(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestResizeBilinear(t *testing.T) {
	// A horizontal ramp keeps its ends and stays monotonic when shrunk.
	const sw, sh = 256, 8
	src := make([]byte, sw*sh*3)
	for y := range sh {
		for x := range sw {
			for c := range 3 {
				src[(y*sw+x)*3+c] = byte(x)
			}
		}
	}
	dst := make([]byte, 16*4*3)
	resizeBilinear(dst, 16, 4, src, sw, sh)
	for y := range 4 {
		prev := -1
		for x := range 16 {
			v := int(dst[(y*16+x)*3])
			if v <= prev {
				t.Fatalf("row %d not increasing at %d: %v", y, x, dst[y*16*3:(y+1)*16*3])
			}
			prev = v
		}
	}
	if first, last := dst[0], dst[15*3]; first > 16 || last < 239 {
		t.Errorf("ends %d, %d: want about 8 and 247", first, last)
	}
	// Enlarging a 1×1 image fills the output with its colour.
	one := make([]byte, 5*3*3)
	resizeBilinear(one, 5, 3, []byte{10, 20, 30}, 1, 1)
	for i := 0; i < len(one); i += 3 {
		if one[i] != 10 || one[i+1] != 20 || one[i+2] != 30 {
			t.Fatalf("enlarged pixel %d = %v", i/3, one[i:i+3])
		}
	}
}

func TestReadLabels(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "labels.txt")
	if err := os.WriteFile(p, []byte("0  person\n2  car\n16  dog\n12  stop sign\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readLabels(p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{0: "person", 2: "car", 16: "dog", 12: "stop sign"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
}

// BenchmarkDetect measures one 720p frame through resize, inference and
// decoding: wall time and process CPU time per frame.
func BenchmarkDetect(b *testing.B) {
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			d := mustOpen(b, Config{Threads: threads})
			src := mustJPEG(b, filepath.Join(darknetData, "dog.jpg"))
			f := &frame.Frame{W: 1280, H: 720, RGB: make([]byte, 1280*720*3)}
			resizeBilinear(f.RGB, f.W, f.H, src.RGB, src.W, src.H)
			cpu0 := cpuTime(b)
			b.ResetTimer()
			for b.Loop() {
				if _, err := d.Detect(f); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/frame")
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/frame")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestDetectMin: DetectMin at a lower score reports what Detect reports and
// more, none below the asked score; at the configured score it is Detect.
func TestDetectMin(t *testing.T) {
	d := mustOpen(t, Config{})
	if d.MinScore() != 0.4 {
		t.Errorf("MinScore() = %v, want the default 0.4", d.MinScore())
	}
	f := mustJPEG(t, filepath.Join(darknetData, "person.jpg"))
	def, err := d.Detect(f)
	if err != nil {
		t.Fatal(err)
	}
	same, err := d.DetectMin(f, d.MinScore())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(def, same); diff != "" {
		t.Errorf("DetectMin at MinScore differs from Detect (-Detect +DetectMin):\n%s", diff)
	}
	low, err := d.DetectMin(f, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	if len(low) <= len(def) {
		t.Errorf("DetectMin(0.1) found %d detections, want more than Detect's %d", len(low), len(def))
	}
	for _, g := range low {
		if g.Score < 0.1 {
			t.Errorf("DetectMin(0.1) reported %s at %.2f", g.Label, g.Score)
		}
	}
	for _, w := range def {
		if !slices.ContainsFunc(low, func(g Detection) bool { return g.Label == w.Label && IoU(g.Box, w.Box) > 0.9 }) {
			t.Errorf("DetectMin(0.1) lost %s at %+v", w.Label, w.Box)
		}
	}
}

// BenchmarkResize measures the resize of a 640×360 analysis frame to the
// model's 300×300 input.
func BenchmarkResize(b *testing.B) {
	src := make([]byte, 640*360*3)
	for i := range src {
		src[i] = byte(i * 7)
	}
	dst := make([]byte, 300*300*3)
	for b.Loop() {
		resizeBilinear(dst, 300, 300, src, 640, 360)
	}
}
