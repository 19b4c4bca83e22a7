// Package detect finds people, animals and vehicles in decoded frames on the
// hub, with SSD-MobileNet-v2 (COCO) run by ONNX Runtime.
//
// The model and the runtime library are assets obtained by `bash
// scripts/setup` (see DESIGN §7); nothing is downloaded at run time. The
// ONNX model is made by package convert; it takes raw RGB pixels and returns
// box encodings, class scores and anchors, and this package decodes the boxes,
// maps COCO labels to the three classes and runs per-class non-maximum
// suppression.
//
// Unsafe bits, in one place: ONNX Runtime is native code loaded into the
// process with dlopen by github.com/yalue/onnxruntime_go (cgo); a crash inside
// it ends the process, which is why setup pins the library by sha256. The
// input and output tensors are Go slices whose addresses ONNX Runtime keeps
// for the session's life (Go's heap does not move objects); a Detector keeps
// them reachable until Close and destroys the session before them. The
// runtime environment is process-wide: the first Open loads the library from
// its Config.Dir and later Opens reuse it.
//
// This package does not track objects or decide alerts; see package track.
package detect

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/porchlight/porchlight/internal/detect/convert"
	"github.com/porchlight/porchlight/internal/frame"
)

// Asset file names inside Config.Dir.
const (
	ModelFile   = "ssd_mobilenet_v2.onnx"
	LabelsFile  = "coco_labels.txt"
	RuntimeFile = "libonnxruntime.so.1"
)

// ErrMissingAsset is returned (wrapped, with the missing path) by Open when a
// model, label or runtime file is absent: run `bash scripts/setup`, or point
// PORCHLIGHT_ASSETS at a directory holding the assets.
var ErrMissingAsset = errors.New("detection asset missing: run `bash scripts/setup` (or set PORCHLIGHT_ASSETS to the assets directory)")

// Config configures a Detector. The zero value works once setup has run.
type Config struct {
	// Dir holds the assets. It defaults to DefaultAssetsDir().
	Dir string
	// Threads is the number of threads one inference uses. It defaults to 1:
	// with the integer model a second thread saves about 1 ms of the 9 but
	// costs a third more CPU.
	Threads int
	// MinScore is the lowest score reported. It defaults to 0.4.
	MinScore float32
	// IoU is the overlap above which a lower-scored box of the same class is
	// suppressed. It defaults to 0.5.
	IoU float32
	// MaxDetections caps the detections per frame. It defaults to 50.
	MaxDetections int
}

// Box decoding scales of the SSD box coder (TFLite_Detection_PostProcess's
// y_scale, x_scale, h_scale, w_scale for this model).
const (
	yScale, xScale = 10, 10
	hScale, wScale = 5, 5
)

// DefaultAssetsDir returns $PORCHLIGHT_ASSETS if set, else ".assets" next to
// the go.mod found by walking up from the working directory, else ".assets".
func DefaultAssetsDir() string {
	if d := os.Getenv("PORCHLIGHT_ASSETS"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return ".assets"
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".assets")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ".assets"
		}
		dir = parent
	}
}

// envMu guards the process-wide ONNX Runtime environment, initialised by the
// first Open and kept for the life of the process.
var envMu sync.Mutex

func initRuntime(lib string) error {
	envMu.Lock()
	defer envMu.Unlock()
	if ort.IsInitialized() {
		return nil
	}
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("load onnx runtime %s: %w (re-run `bash scripts/setup`)", lib, err)
	}
	return nil
}

// Detector runs the model on frames. Its methods are safe for concurrent
// use; inferences on one Detector run one at a time.
type Detector struct {
	cfg     Config
	columns []column // score columns that map to a class

	mu      sync.Mutex // guards everything below
	session *ort.AdvancedSession
	input   *ort.Tensor[uint8]
	boxes   *ort.Tensor[float32]
	scores  *ort.Tensor[float32]
	anchors *ort.Tensor[float32]
	w, h    int // model input size
	n, nc   int // anchors, score columns
	closed  bool
	cands   []Detection // scratch, reused between frames
}

type column struct {
	index int // column in the scores output
	label string
	class Class
}

// Open loads the assets and starts an inference session.
func Open(cfg Config) (*Detector, error) {
	if cfg.Dir == "" {
		cfg.Dir = DefaultAssetsDir()
	}
	if cfg.Threads <= 0 {
		cfg.Threads = 1
	}
	if cfg.MinScore <= 0 {
		cfg.MinScore = 0.4
	}
	if cfg.IoU <= 0 {
		cfg.IoU = 0.5
	}
	if cfg.MaxDetections <= 0 {
		cfg.MaxDetections = 50
	}
	paths := map[string]string{}
	for _, f := range []string{RuntimeFile, ModelFile, LabelsFile} {
		p := filepath.Join(cfg.Dir, f)
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("open detector: %s: %w", p, ErrMissingAsset)
		}
		paths[f] = p
	}
	labels, err := readLabels(paths[LabelsFile])
	if err != nil {
		return nil, fmt.Errorf("open detector: %w", err)
	}
	if err := initRuntime(paths[RuntimeFile]); err != nil {
		return nil, fmt.Errorf("open detector: %w", err)
	}
	d := &Detector{cfg: cfg}
	if err := d.start(paths[ModelFile], labels); err != nil {
		d.release()
		return nil, fmt.Errorf("open detector: %w", err)
	}
	return d, nil
}

// readLabels reads "id  label" lines; ids index the model's classes (score
// column id+1; column 0 is background).
func readLabels(path string) (map[int]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	labels := map[int]string{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		id, label, ok := strings.Cut(line, " ")
		n, err := strconv.Atoi(id)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("labels %s line %d: want \"ID LABEL\", got %q (re-run `bash scripts/setup`)", path, i+1, line)
		}
		labels[n] = strings.TrimSpace(label)
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("labels %s: empty (re-run `bash scripts/setup`)", path)
	}
	return labels, nil
}

func (d *Detector) start(model string, labels map[int]string) error {
	ins, outs, err := ort.GetInputOutputInfo(model)
	if err != nil {
		return fmt.Errorf("read model %s: %w (re-run `bash scripts/setup`)", model, err)
	}
	shapes := map[string]ort.Shape{}
	for _, io := range append(ins, outs...) {
		shapes[io.Name] = io.Dimensions
	}
	in, bx, sc, an := shapes[convert.InputName], shapes[convert.BoxesName], shapes[convert.ScoresName], shapes[convert.AnchorsName]
	if len(in) != 4 || in[0] != 1 || in[3] != 3 || len(bx) != 3 || len(sc) != 3 || len(an) != 2 ||
		bx[2] != 4 || an[1] != 4 || bx[1] != an[0] || sc[1] != an[0] || sc[2] < 2 {
		return fmt.Errorf("model %s has unexpected inputs/outputs %v (re-run `bash scripts/setup`)", model, shapes)
	}
	d.h, d.w, d.n, d.nc = int(in[1]), int(in[2]), int(an[0]), int(sc[2])
	for id, label := range labels {
		if c, ok := classOf[label]; ok && id+1 < d.nc {
			d.columns = append(d.columns, column{index: id + 1, label: label, class: c})
		}
	}
	sort.Slice(d.columns, func(i, j int) bool { return d.columns[i].index < d.columns[j].index })

	if d.input, err = ort.NewEmptyTensor[uint8](in); err != nil {
		return err
	}
	if d.boxes, err = ort.NewEmptyTensor[float32](bx); err != nil {
		return err
	}
	if d.scores, err = ort.NewEmptyTensor[float32](sc); err != nil {
		return err
	}
	if d.anchors, err = ort.NewEmptyTensor[float32](an); err != nil {
		return err
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return err
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(d.cfg.Threads); err != nil {
		return err
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return err
	}
	// Idle worker threads must not spin: the hub shares its cores with
	// recording and other cameras.
	if err := opts.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
		return err
	}
	d.session, err = ort.NewAdvancedSession(model,
		[]string{convert.InputName},
		[]string{convert.BoxesName, convert.ScoresName, convert.AnchorsName},
		[]ort.Value{d.input}, []ort.Value{d.boxes, d.scores, d.anchors}, opts)
	if err != nil {
		return fmt.Errorf("load model %s: %w (re-run `bash scripts/setup`)", model, err)
	}
	return nil
}

// Close ends the session. Detect after Close returns an error.
func (d *Detector) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	return d.release()
}

// release destroys the session, then the tensors it points into.
func (d *Detector) release() error {
	var errs []error
	if d.session != nil {
		errs = append(errs, d.session.Destroy())
		d.session = nil
	}
	if d.input != nil {
		errs = append(errs, d.input.Destroy())
	}
	for _, t := range []*ort.Tensor[float32]{d.boxes, d.scores, d.anchors} {
		if t != nil {
			errs = append(errs, t.Destroy())
		}
	}
	d.input, d.boxes, d.scores, d.anchors = nil, nil, nil, nil
	return errors.Join(errs...)
}

// InputSize is the model's input width and height (300×300).
func (d *Detector) InputSize() (w, h int) { return d.w, d.h }

// Detect finds objects in f, which must carry RGB pixels (any size; it is
// resized to the model's input). Detections are sorted by score, highest
// first.
func (d *Detector) Detect(f *frame.Frame) ([]Detection, error) {
	return d.DetectMin(f, d.cfg.MinScore)
}

// MinScore is the lowest score Detect reports (Config.MinScore).
func (d *Detector) MinScore() float32 { return d.cfg.MinScore }

// DetectMin is Detect reporting detections down to minScore instead of
// Config.MinScore (the tracker continues tracks with less sure ones).
func (d *Detector) DetectMin(f *frame.Frame, minScore float32) ([]Detection, error) {
	if f == nil || f.W <= 0 || f.H <= 0 || len(f.RGB) != f.W*f.H*3 {
		if f == nil {
			return nil, errors.New("detect: nil frame")
		}
		return nil, fmt.Errorf("detect: frame %dx%d has %d RGB bytes, want %d (decode with colour)", f.W, f.H, len(f.RGB), f.W*f.H*3)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errors.New("detect: detector is closed")
	}
	resizeBilinear(d.input.GetData(), d.w, d.h, f.RGB, f.W, f.H)
	if err := d.session.Run(); err != nil {
		return nil, fmt.Errorf("detect: run model: %w", err)
	}
	return d.decode(minScore), nil
}

// decode turns the raw outputs into detections: every (anchor, class
// column) whose score reaches minScore becomes a candidate, then per-class
// NMS keeps the best of overlapping candidates.
func (d *Detector) decode(minScore float32) []Detection {
	boxes, scores, anchors := d.boxes.GetData(), d.scores.GetData(), d.anchors.GetData()
	cands := d.cands[:0]
	for i := range d.n {
		row := scores[i*d.nc : (i+1)*d.nc]
		var box Box
		decoded := false
		for _, c := range d.columns {
			s := row[c.index]
			if s < minScore {
				continue
			}
			if !decoded {
				box = decodeBox(boxes[4*i:4*i+4], anchors[4*i:4*i+4])
				decoded = true
			}
			cands = append(cands, Detection{Class: c.class, Label: c.label, Score: s, Box: box})
		}
	}
	d.cands = cands
	return nms(cands, d.cfg.IoU, d.cfg.MaxDetections)
}

// decodeBox applies the SSD centre-size box coder: enc is ty, tx, th, tw and
// anchor is ycenter, xcenter, h, w.
func decodeBox(enc, anchor []float32) Box {
	yc := enc[0]/yScale*anchor[2] + anchor[0]
	xc := enc[1]/xScale*anchor[3] + anchor[1]
	h := float32(math.Exp(float64(enc[2]/hScale))) * anchor[2]
	w := float32(math.Exp(float64(enc[3]/wScale))) * anchor[3]
	clamp := func(v float32) float32 { return min(max(v, 0), 1) }
	return Box{X0: clamp(xc - w/2), Y0: clamp(yc - h/2), X1: clamp(xc + w/2), Y1: clamp(yc + h/2)}
}

// nms keeps, per class, each candidate that does not overlap a better one by
// more than iou; at most limit detections, best first. It reorders cands.
func nms(cands []Detection, iou float32, limit int) []Detection {
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].Score > cands[j].Score })
	var out []Detection
	for _, c := range cands {
		if len(out) == limit {
			break
		}
		keep := c.Box.Area() > 0
		for _, k := range out {
			if !keep {
				break
			}
			if k.Class == c.Class && IoU(k.Box, c.Box) > iou {
				keep = false
			}
		}
		if keep {
			out = append(out, c)
		}
	}
	return out
}

// resizeBilinear scales an RGB image (sw×sh) into dst (dw×dh×3), sampling at
// pixel centres like TensorFlow's half-pixel bilinear resize. It works in
// fixed point with 8-bit weights, one row pass then one column pass, each
// source row interpolated once (BenchmarkResize, 640×360 → 300×300: 0.40
// ms, against 0.48 ms for the float version it replaced).
func resizeBilinear(dst []byte, dw, dh int, src []byte, sw, sh int) {
	if dw == sw && dh == sh {
		copy(dst, src)
		return
	}
	type tap struct {
		i0, i1 int   // source indexes either side (in bytes, for columns)
		w      int32 // weight of i1, out of 256
	}
	taps := func(dn, sn, stride int) []tap {
		t := make([]tap, dn)
		scale := float64(sn) / float64(dn)
		for i := range t {
			p := min(max((float64(i)+0.5)*scale-0.5, 0), float64(sn-1))
			i0 := int(p)
			t[i] = tap{i0: i0 * stride, i1: min(i0+1, sn-1) * stride, w: int32((p-float64(i0))*256 + 0.5)}
		}
		return t
	}
	xs, ys := taps(dw, sw, 3), taps(dh, sh, 1)
	// row interpolates source row sy across into out, scaled by 256.
	row := func(out []int32, sy int) {
		r := src[sy*sw*3 : (sy+1)*sw*3]
		out = out[:len(xs)*3]
		for x, t := range xs {
			a, b, o := r[t.i0:t.i0+3:t.i0+3], r[t.i1:t.i1+3:t.i1+3], out[3*x:3*x+3:3*x+3]
			o[0] = int32(a[0])<<8 + t.w*(int32(b[0])-int32(a[0]))
			o[1] = int32(a[1])<<8 + t.w*(int32(b[1])-int32(a[1]))
			o[2] = int32(a[2])<<8 + t.w*(int32(b[2])-int32(a[2]))
		}
	}
	top, bot := make([]int32, dw*3), make([]int32, dw*3)
	have0, have1 := -1, -1 // the source rows in top and bot
	for y, t := range ys {
		switch {
		case t.i0 == have0:
		case t.i0 == have1:
			top, bot = bot, top
			have0, have1 = have1, have0
		default:
			row(top, t.i0)
			have0 = t.i0
		}
		if t.i1 != have1 {
			row(bot, t.i1)
			have1 = t.i1
		}
		out, bot := dst[y*dw*3:(y+1)*dw*3], bot[:len(top)]
		for i, v := range top {
			out[i] = uint8((v<<8 + t.w*(bot[i]-v) + 1<<15) >> 16)
		}
	}
}
