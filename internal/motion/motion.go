// Package motion finds moving regions in a stream of decoded grey frames on
// the hub. It gates the object detector: only frames with motion are worth
// an inference.
//
// The model works on a grid of cells (each the mean of a square block of
// pixels), which averages away sensor noise and compression artefacts. Each
// cell keeps a running background mean and variance, so a cell that always
// fluctuates (leaves, water, a flag) raises its own threshold. Before cells
// are compared, a frame-wide gain and offset is fitted between the frame and
// the background and removed, so exposure changes and lights switching on do
// not read as motion. Cells enter the foreground above a high threshold and
// leave it below a lower one (hysteresis); neighbouring foreground cells form
// blobs, and blobs smaller than a minimum area are dropped.
//
// It is not an object detector and says nothing about what moved; use
// internal/detect for that. A Detector is not safe for concurrent use.
package motion

import (
	"math"
	"slices"

	"github.com/porchlight/porchlight/internal/detect"
	"github.com/porchlight/porchlight/internal/frame"
)

// Point is a position normalised to 0..1, X to the right, Y down.
type Point struct{ X, Y float32 }

// Polygon is a closed polygon in normalised coordinates; the last point
// joins the first.
type Polygon []Point

// Contains reports whether p lies inside the polygon (even-odd rule). A
// polygon with fewer than three points contains nothing.
func (poly Polygon) Contains(p Point) bool {
	if len(poly) < 3 {
		return false
	}
	in := false
	j := len(poly) - 1
	for i := range poly {
		a, b := poly[i], poly[j]
		if (a.Y > p.Y) != (b.Y > p.Y) && p.X < (b.X-a.X)*(p.Y-a.Y)/(b.Y-a.Y)+a.X {
			in = !in
		}
		j = i
	}
	return in
}

// Config tunes a Detector. Its zero value works: every field documents the
// default it takes when zero.
type Config struct {
	// Columns is the number of grid cells across the frame; cells are
	// square, so a 320×240 frame with 80 columns has 4×4-pixel cells.
	// It defaults to 80.
	Columns int
	// Alpha is the background learning rate per frame (at 5 fps, 0.05 is a
	// time constant of about 4 s). It defaults to 0.05.
	Alpha float32
	// High is the threshold, in background standard deviations, above
	// which a cell enters the foreground. It defaults to 4.
	High float32
	// Low is the threshold below which a foreground cell leaves it. It
	// defaults to 2.5.
	Low float32
	// MinDiff is the smallest grey-level difference (0..255) that can ever
	// count as motion, whatever the learned variance. It defaults to 8.
	MinDiff float32
	// MinSigma is the floor of the per-cell standard deviation. It
	// defaults to 2.
	MinSigma float32
	// MinArea is the smallest blob, as a fraction of the frame, that
	// counts as motion. It defaults to 0.0015.
	MinArea float32
	// Warmup is how many frames after a (re)start are used only to learn
	// the background. It defaults to 5.
	Warmup int
	// Mask lists regions where motion is ignored.
	Mask []Polygon
}

func (c Config) withDefaults() Config {
	if c.Columns <= 0 {
		c.Columns = 80
	}
	if c.Alpha <= 0 {
		c.Alpha = 0.05
	}
	if c.High <= 0 {
		c.High = 4
	}
	if c.Low <= 0 || c.Low > c.High {
		c.Low = min(2.5, c.High)
	}
	if c.MinDiff <= 0 {
		c.MinDiff = 8
	}
	if c.MinSigma <= 0 {
		c.MinSigma = 2
	}
	if c.MinArea <= 0 {
		c.MinArea = 0.0015
	}
	if c.Warmup <= 0 {
		c.Warmup = 5
	}
	return c
}

// Result is what one frame showed.
type Result struct {
	// Moving is true when at least one blob is at least Config.MinArea.
	Moving bool
	// Fraction is the share of unmasked cells in the foreground, counting
	// only blobs that passed the area filter.
	Fraction float32
	// Regions are the bounding boxes of the moving blobs, largest first.
	Regions []detect.Box
}

// Detector holds the background model of one camera.
type Detector struct {
	cfg Config

	w, h   int // frame size the model was built for
	cell   int // pixels per cell side
	gw, gh int // grid size
	frames int // frames fed since the model was (re)built

	masked []bool    // per cell: ignored
	active int       // unmasked cells
	mean   []float32 // per cell: background mean
	vari   []float32 // per cell: background variance
	fg     []bool    // per cell: foreground in the previous frame
	cur    []float32 // per cell: this frame's mean (scratch)
	diff   []float32 // per cell: compensated difference (scratch)
	label  []int32   // per cell: blob label (scratch)
	idx    []int     // cells used in the lighting fit (scratch)
	res    []float32 // their residuals (scratch)
	sorted []float32 // the residuals sorted (scratch)
	stack  []int     // blob flood fill (scratch)
}

// New returns a Detector; the first frames it is fed build its background.
func New(cfg Config) *Detector {
	return &Detector{cfg: cfg.withDefaults()}
}

// Feed adds one frame and reports the motion in it. It uses f.Gray only. A
// frame whose size differs from the previous one restarts the model; a
// malformed frame (Gray shorter than W*H) is ignored and reports no motion.
func (d *Detector) Feed(f *frame.Frame) Result {
	if f == nil || f.W <= 0 || f.H <= 0 || len(f.Gray) < f.W*f.H {
		return Result{}
	}
	if f.W != d.w || f.H != d.h {
		d.reset(f.W, f.H)
	}
	d.cellMeans(f.Gray)
	d.frames++
	if d.frames == 1 {
		copy(d.mean, d.cur)
		return Result{}
	}
	gain, offset := d.fitLighting()
	// Follow the lighting at once: the background is re-expressed in the
	// new exposure, so only the residual is compared.
	for i := range d.mean {
		d.mean[i] = gain*d.mean[i] + offset
		d.diff[i] = d.cur[i] - d.mean[i]
	}
	warm := d.frames > d.cfg.Warmup
	if warm {
		d.classify()
	}
	d.learn(warm)
	if !warm {
		return Result{}
	}
	return d.blobs()
}

// reset rebuilds the model for a new frame size.
func (d *Detector) reset(w, h int) {
	d.w, d.h = w, h
	d.cell = max(1, min(w/d.cfg.Columns, h))
	d.gw = w / d.cell
	d.gh = h / d.cell
	n := d.gw * d.gh
	d.frames = 0
	d.masked = make([]bool, n)
	d.mean = make([]float32, n)
	d.vari = make([]float32, n)
	d.fg = make([]bool, n)
	d.cur = make([]float32, n)
	d.diff = make([]float32, n)
	d.label = make([]int32, n)
	d.idx = make([]int, 0, n)
	d.res = make([]float32, n)
	d.sorted = make([]float32, 0, n)
	init := d.cfg.MinSigma * 2
	for i := range d.vari {
		d.vari[i] = init * init
	}
	d.active = 0
	for gy := range d.gh {
		for gx := range d.gw {
			c := d.cellCentre(gx, gy)
			for _, p := range d.cfg.Mask {
				if p.Contains(c) {
					d.masked[gy*d.gw+gx] = true
					break
				}
			}
			if !d.masked[gy*d.gw+gx] {
				d.active++
			}
		}
	}
}

func (d *Detector) cellCentre(gx, gy int) Point {
	return Point{
		X: (float32(gx*d.cell) + float32(d.cell)/2) / float32(d.w),
		Y: (float32(gy*d.cell) + float32(d.cell)/2) / float32(d.h),
	}
}

// cellMeans fills d.cur with the mean grey level of each cell. Pixels past
// the last whole cell on the right and bottom are left out.
func (d *Detector) cellMeans(gray []byte) {
	clear(d.cur)
	for y := range d.gh * d.cell {
		row := gray[y*d.w : y*d.w+d.gw*d.cell]
		base := (y / d.cell) * d.gw
		for gx := range d.gw {
			var s int
			for _, v := range row[gx*d.cell : (gx+1)*d.cell] {
				s += int(v)
			}
			d.cur[base+gx] += float32(s)
		}
	}
	inv := 1 / float32(d.cell*d.cell)
	for i := range d.cur {
		d.cur[i] *= inv
	}
}

// fitLighting fits cur ≈ gain*mean + offset over the unmasked cells by least
// squares, then refits on the half of the cells that fit best, so that
// moving objects (a minority of the frame) do not pull the fit. Saturated
// cells are left out.
func (d *Detector) fitLighting() (gain, offset float32) {
	idx := d.idx[:0]
	for i, m := range d.masked {
		if !m && d.cur[i] > 2 && d.cur[i] < 253 && d.mean[i] > 2 && d.mean[i] < 253 {
			idx = append(idx, i)
		}
	}
	if len(idx) < 8 {
		return 1, 0
	}
	gain, offset = d.fit(idx)
	res := d.res[:len(idx)]
	for k, i := range idx {
		res[k] = abs(d.cur[i] - gain*d.mean[i] - offset)
	}
	sorted := append(d.sorted[:0], res...)
	slices.Sort(sorted)
	cut := sorted[len(sorted)/2]
	keep := idx[:0]
	for k, i := range idx {
		if res[k] <= cut {
			keep = append(keep, i)
		}
	}
	if len(keep) >= 8 {
		gain, offset = d.fit(keep)
	}
	return gain, offset
}

func (d *Detector) fit(idx []int) (gain, offset float32) {
	var sx, sy, sxx, sxy float64
	for _, i := range idx {
		x, y := float64(d.mean[i]), float64(d.cur[i])
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	n := float64(len(idx))
	den := n*sxx - sx*sx
	if den < 1e-6*n*n {
		// A flat background: only an offset can be measured.
		return 1, float32((sy - sx) / n)
	}
	g := (n*sxy - sx*sy) / den
	// A gain outside this range is not a lighting change but a different
	// scene (camera moved, lens covered); fit an offset only and let the
	// cells report it.
	if g < 0.25 || g > 4 {
		return 1, float32((sy - sx) / n)
	}
	return float32(g), float32((sy - g*sx) / n)
}

// classify marks foreground cells with hysteresis.
func (d *Detector) classify() {
	for i := range d.fg {
		if d.masked[i] {
			d.fg[i] = false
			continue
		}
		sigma := float32(math.Sqrt(float64(d.vari[i])))
		thr := max(d.cfg.High*sigma, d.cfg.MinDiff)
		if d.fg[i] {
			thr = max(d.cfg.Low*sigma, d.cfg.MinDiff*d.cfg.Low/d.cfg.High)
		}
		d.fg[i] = abs(d.diff[i]) > thr
	}
}

// learn updates the background. Foreground cells learn ten times slower, so
// a moving object does not smear into the background but one that stops
// for long becomes part of it. The variance learns from every frame, with
// the squared difference capped, so cells that keep changing raise their
// threshold while a single passer-by barely does.
func (d *Detector) learn(warm bool) {
	a := d.cfg.Alpha
	if !warm {
		a = max(a, 1/float32(d.frames))
	}
	for i := range d.mean {
		am, av := a, a
		if warm && d.fg[i] {
			am /= 10
			av /= 4
		}
		e := d.diff[i]
		d.mean[i] += am * e
		capv := 4 * d.cfg.High * d.cfg.High * d.vari[i]
		sq := min(e*e, capv)
		d.vari[i] += av * (sq - d.vari[i])
		if floor := d.cfg.MinSigma * d.cfg.MinSigma; d.vari[i] < floor {
			d.vari[i] = floor
		}
	}
}

// blobs groups foreground cells into 8-connected blobs, bridging one-cell
// gaps, and returns those at least MinArea.
func (d *Detector) blobs() Result {
	clear(d.label)
	type blob struct {
		n              int
		x0, y0, x1, y1 int
	}
	var out []blob
	stack := d.stack[:0]
	next := int32(0)
	for start, on := range d.fg {
		if !on || d.label[start] != 0 {
			continue
		}
		next++
		b := blob{x0: d.gw, y0: d.gh, x1: -1, y1: -1}
		d.label[start] = next
		stack = append(stack[:0], start)
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			x, y := i%d.gw, i/d.gw
			b.n++
			b.x0, b.y0 = min(b.x0, x), min(b.y0, y)
			b.x1, b.y1 = max(b.x1, x), max(b.y1, y)
			for dy := -2; dy <= 2; dy++ {
				for dx := -2; dx <= 2; dx++ {
					nx, ny := x+dx, y+dy
					if nx < 0 || ny < 0 || nx >= d.gw || ny >= d.gh {
						continue
					}
					j := ny*d.gw + nx
					if d.fg[j] && d.label[j] == 0 {
						d.label[j] = next
						stack = append(stack, j)
					}
				}
			}
		}
		out = append(out, b)
	}
	d.stack = stack
	var r Result
	if d.active == 0 {
		return r
	}
	minCells := d.cfg.MinArea * float32(d.gw*d.gh)
	slices.SortFunc(out, func(a, b blob) int { return b.n - a.n })
	var moving int
	for _, b := range out {
		if float32(b.n) < minCells {
			continue
		}
		moving += b.n
		r.Regions = append(r.Regions, detect.Box{
			X0: float32(b.x0*d.cell) / float32(d.w),
			Y0: float32(b.y0*d.cell) / float32(d.h),
			X1: float32((b.x1+1)*d.cell) / float32(d.w),
			Y1: float32((b.y1+1)*d.cell) / float32(d.h),
		})
	}
	r.Moving = len(r.Regions) > 0
	r.Fraction = float32(moving) / float32(d.active)
	return r
}

func abs(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
