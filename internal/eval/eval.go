// Package eval measures the hub's detector: per-class precision and recall
// over a hand-labelled image set (testdata/detect/labels.json), and the
// alerts the whole analysis chain (motion gating the detector, then the
// tracker) raises on clips. `porchlight-hub eval` prints its tables; its
// tests pin the results so a regression of the model, its conversion or the
// pre/post-processing fails the build.
//
// It reads images and clips from disk and runs ffmpeg to decode clips; it is
// a measuring tool, not part of recording.
package eval

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg" // the labelled images
	_ "image/png"
	"io"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/porchlight/porchlight/internal/analysis"
	"github.com/porchlight/porchlight/internal/detect"
	"github.com/porchlight/porchlight/internal/frame"
	"github.com/porchlight/porchlight/internal/motion"
	"github.com/porchlight/porchlight/internal/track"
)

// Labels is labels.json.
type Labels struct {
	Version int     `json:"version"`
	Images  []Image `json:"images"`
}

// Image is one labelled image.
type Image struct {
	Path    string   `json:"path"`
	Package string   `json:"package"`
	Width   int      `json:"width"`
	Height  int      `json:"height"`
	Objects []Object `json:"objects"`
}

// Object is one labelled object.
type Object struct {
	Class     detect.Class `json:"class"`
	Label     string       `json:"label"`
	Box       jsonBox      `json:"box"`
	Difficult bool         `json:"difficult,omitempty"`
	Crowd     bool         `json:"crowd,omitempty"`
	Note      string       `json:"note,omitempty"`
}

type jsonBox struct {
	X0 float32 `json:"x0"`
	Y0 float32 `json:"y0"`
	X1 float32 `json:"x1"`
	Y1 float32 `json:"y1"`
}

func (b jsonBox) box() detect.Box { return detect.Box{X0: b.X0, Y0: b.Y0, X1: b.X1, Y1: b.Y1} }

// LoadLabels reads a labels file.
func LoadLabels(path string) (*Labels, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var l Labels
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if l.Version != 1 {
		return nil, fmt.Errorf("%s: labels version %d, want 1", path, l.Version)
	}
	return &l, nil
}

// Classes are the classes evaluated, in table order.
var Classes = []detect.Class{detect.Person, detect.Animal, detect.Vehicle}

// ClassScore is one class's result over the image set.
type ClassScore struct {
	TP, FP, FN int
	// FalseAlerts counts detections of the class on images with no object
	// at all (negatives): what would wake the owner for nothing.
	FalseAlerts int
}

// Precision is TP/(TP+FP) (1 when nothing was detected).
func (c ClassScore) Precision() float64 {
	if c.TP+c.FP == 0 {
		return 1
	}
	return float64(c.TP) / float64(c.TP+c.FP)
}

// Recall is TP/(TP+FN) (1 when nothing was labelled).
func (c ClassScore) Recall() float64 {
	if c.TP+c.FN == 0 {
		return 1
	}
	return float64(c.TP) / float64(c.TP+c.FN)
}

// ImageResult is the evaluation over the image set.
type ImageResult struct {
	Images  int
	Classes map[detect.Class]*ClassScore
	Took    time.Duration // detector time, all images
}

// Detector is what the evaluation runs (*detect.Detector).
type Detector = analysis.Detector

// minIoU matches a detection to a labelled box.
const minIoU = 0.5

// Images runs det over every labelled image.
func Images(det Detector, l *Labels) (*ImageResult, error) {
	res := &ImageResult{Classes: map[detect.Class]*ClassScore{}}
	for _, c := range Classes {
		res.Classes[c] = &ClassScore{}
	}
	for _, im := range l.Images {
		f, err := loadImage(im.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w (install the test images with `bash scripts/setup`)", im.Path, err)
		}
		if f.W != im.Width || f.H != im.Height {
			return nil, fmt.Errorf("%s is %d×%d, labelled as %d×%d: the file changed", im.Path, f.W, f.H, im.Width, im.Height)
		}
		start := time.Now()
		dets, err := det.Detect(f)
		res.Took += time.Since(start)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", im.Path, err)
		}
		res.Images++
		score(res, im, dets)
	}
	return res, nil
}

// score matches one image's detections to its labels, greedily by score.
func score(res *ImageResult, im Image, dets []detect.Detection) {
	dets = slices.Clone(dets)
	sort.SliceStable(dets, func(i, j int) bool { return dets[i].Score > dets[j].Score })
	used := make([]bool, len(im.Objects))
	negative := len(im.Objects) == 0
	for _, d := range dets {
		cs := res.Classes[d.Class]
		if cs == nil {
			continue
		}
		best, bestIoU := -1, float32(minIoU)
		for i, o := range im.Objects {
			if used[i] || o.Class != d.Class || o.Crowd {
				continue
			}
			if iou := iou(d.Box, o.Box.box()); iou >= bestIoU {
				best, bestIoU = i, iou
			}
		}
		switch {
		case best >= 0 && im.Objects[best].Difficult:
			used[best] = true // neither a hit nor a false alarm
		case best >= 0:
			used[best] = true
			cs.TP++
		case inCrowd(d, im.Objects) || matchesDifficult(d, im.Objects):
		default:
			cs.FP++
			if negative {
				cs.FalseAlerts++
			}
		}
	}
	for i, o := range im.Objects {
		if !used[i] && !o.Difficult && !o.Crowd {
			if cs := res.Classes[o.Class]; cs != nil {
				cs.FN++
			}
		}
	}
}

func inCrowd(d detect.Detection, objs []Object) bool {
	for _, o := range objs {
		if o.Crowd && o.Class == d.Class && intersection(d.Box, o.Box.box()) >= 0.5*area(d.Box) {
			return true
		}
	}
	return false
}

// matchesDifficult reports whether d lands on a difficult label. Those are
// mostly tiny, and hand-drawn boxes are good to about ±0.02 of the frame,
// so the detection's centre inside the label grown by that margin counts.
func matchesDifficult(d detect.Detection, objs []Object) bool {
	const margin = 0.02
	cx, cy := (d.Box.X0+d.Box.X1)/2, (d.Box.Y0+d.Box.Y1)/2
	for _, o := range objs {
		b := o.Box
		if o.Difficult && o.Class == d.Class &&
			(iou(d.Box, b.box()) >= minIoU || cx >= b.X0-margin && cx <= b.X1+margin && cy >= b.Y0-margin && cy <= b.Y1+margin) {
			return true
		}
	}
	return false
}

func area(b detect.Box) float32 { return max(0, b.X1-b.X0) * max(0, b.Y1-b.Y0) }

func intersection(a, b detect.Box) float32 {
	return area(detect.Box{X0: max(a.X0, b.X0), Y0: max(a.Y0, b.Y0), X1: min(a.X1, b.X1), Y1: min(a.Y1, b.Y1)})
}

func iou(a, b detect.Box) float32 {
	in := intersection(a, b)
	if in == 0 {
		return 0
	}
	return in / (area(a) + area(b) - in)
}

// loadImage decodes an image file into an RGB frame.
func loadImage(path string) (*frame.Frame, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	img, _, err := image.Decode(bufio.NewReader(fh))
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	f := &frame.Frame{W: b.Dx(), H: b.Dy(), RGB: make([]byte, b.Dx()*b.Dy()*3), Gray: make([]byte, b.Dx()*b.Dy())}
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			f.RGB[i*3], f.RGB[i*3+1], f.RGB[i*3+2] = byte(r>>8), byte(g>>8), byte(bl>>8)
			f.Gray[i] = byte((299*(r>>8) + 587*(g>>8) + 114*(bl>>8)) / 1000)
			i++
		}
	}
	return f, nil
}

// ClipResult is what the analysis chain raised on a clip.
type ClipResult struct {
	Frames, Analysed int
	Alerts           map[detect.Class]int
	Took             time.Duration
	// Delays are, per alert, the camera time from when its object started
	// to move (track.Track.Onset) to the frame that raised it: the
	// chain's own share of the alert latency, without decoding or
	// machine load (bench/detect measures those).
	Delays []time.Duration
}

// ClipConfig sets how clips are decoded and analysed.
type ClipConfig struct {
	FPS    float64 // default 5
	Width  int     // default 320
	FFmpeg string  // default "ffmpeg"
	Zones  []track.Zone
	Rules  []track.Rule
}

// Clip decodes a clip with ffmpeg at cfg.FPS and runs motion, the detector
// (while something moves, and 2 s after) and the tracker over it, as the
// hub does.
func Clip(ctx context.Context, det Detector, path string, cfg ClipConfig) (*ClipResult, error) {
	if cfg.FPS == 0 {
		cfg.FPS = 5
	}
	if cfg.Width == 0 {
		cfg.Width = 320
	}
	if cfg.FFmpeg == "" {
		cfg.FFmpeg = "ffmpeg"
	}
	w, h, err := probeSize(ctx, path, cfg.Width)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, cfg.FFmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-i", path,
		"-vf", fmt.Sprintf("fps=%g,scale=%d:%d", cfg.FPS, w, h), "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run ffmpeg (install it with `bash scripts/setup`): %w", err)
	}
	defer cmd.Wait()
	chain := analysis.New(det, motion.Config{}, track.Config{Zones: cfg.Zones, Rules: cfg.Rules})
	res := &ClipResult{Alerts: map[detect.Class]int{}}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	rd := bufio.NewReaderSize(out, w*h*3)
	for i := 0; ; i++ {
		f := &frame.Frame{W: w, H: h, RGB: make([]byte, w*h*3), Gray: make([]byte, w*h), Time: t0.Add(time.Duration(float64(i) / cfg.FPS * float64(time.Second)))}
		if _, err := io.ReadFull(rd, f.RGB); err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		} else if err != nil {
			return nil, err
		}
		for p := 0; p < w*h; p++ {
			f.Gray[p] = byte((299*int(f.RGB[p*3]) + 587*int(f.RGB[p*3+1]) + 114*int(f.RGB[p*3+2])) / 1000)
		}
		res.Frames++
		r, err := chain.Frame(f)
		res.Took += r.Infer
		if err != nil {
			return nil, err
		}
		if r.Analysed {
			res.Analysed++
		}
		for _, a := range r.Alerts {
			res.Alerts[a.Track.Class]++
			res.Delays = append(res.Delays, f.Time.Sub(a.Track.Onset()))
		}
	}
	if err := cmd.Wait(); err != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("ffmpeg %s: %w", path, err)
	}
	return res, nil
}

// probeSize returns the clip's size scaled to width (even height).
func probeSize(ctx context.Context, path string, width int) (int, int, error) {
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0:s=x", path).Output()
	if err != nil {
		return 0, 0, fmt.Errorf("ffprobe %s (install ffmpeg with `bash scripts/setup`): %w", path, err)
	}
	var w, h int
	if _, err := fmt.Sscanf(string(out), "%dx%d", &w, &h); err != nil || w <= 0 || h <= 0 {
		return 0, 0, fmt.Errorf("ffprobe %s: unexpected size %q", path, out)
	}
	nh := int(float64(h)*float64(width)/float64(w)+0.5) &^ 1
	return width, nh, nil
}

// FormatImages writes the image table.
func FormatImages(w io.Writer, r *ImageResult) {
	fmt.Fprintf(w, "%-8s %5s %5s %5s %9s %7s %12s\n", "class", "TP", "FP", "FN", "precision", "recall", "false alerts")
	for _, c := range Classes {
		s := r.Classes[c]
		fmt.Fprintf(w, "%-8s %5d %5d %5d %9.2f %7.2f %12d\n", c, s.TP, s.FP, s.FN, s.Precision(), s.Recall(), s.FalseAlerts)
	}
	if r.Images > 0 {
		fmt.Fprintf(w, "%d images, %s per image\n", r.Images, (r.Took / time.Duration(r.Images)).Round(100*time.Microsecond))
	}
}

// FormatClip writes one clip's line.
func FormatClip(w io.Writer, name string, r *ClipResult) {
	fmt.Fprintf(w, "%-10s %6d frames, %6d analysed: alerts person %s, animal %s, vehicle %s", name, r.Frames, r.Analysed,
		strconv.Itoa(r.Alerts[detect.Person]), strconv.Itoa(r.Alerts[detect.Animal]), strconv.Itoa(r.Alerts[detect.Vehicle]))
	if len(r.Delays) > 0 {
		d := slices.Clone(r.Delays)
		slices.Sort(d)
		fmt.Fprintf(w, "; onset → alert (camera time) p50 %v, p95 %v", d[len(d)/2], d[(len(d)-1)*95/100])
	}
	fmt.Fprintln(w)
}
