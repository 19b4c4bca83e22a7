package hub

// On-hub analysis: each camera's own stream (the access units the recorder
// already receives: one camera connection, not two) is decoded at a low
// rate; motion gates the object detector; a tracker turns detections into
// objects that move, and an object of an alerting class moving in an
// alerting zone becomes one event (version 1 when it starts, with a sealed
// thumbnail; version 2 when it ends, with its track). No pixel leaves the
// home for analysis: frames exist only in this process.
//
// The detector is shared by every camera (one ONNX Runtime session, used
// by one camera at a time); a camera whose analysis falls behind drops
// frames (counted), never segments: recording does not depend on analysis.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/porchlight/porchlight/internal/analysis"
	"github.com/porchlight/porchlight/internal/decode"
	"github.com/porchlight/porchlight/internal/detect"
	"github.com/porchlight/porchlight/internal/frame"
	"github.com/porchlight/porchlight/internal/motion"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/track"
)

// sharedDetector serialises the hub's one detector.
type sharedDetector struct {
	mu  sync.Mutex
	det *detect.Detector
}

func (s *sharedDetector) Detect(f *frame.Frame) ([]detect.Detection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.det.Detect(f)
}

// openDetector opens the model per Main.Detection: "off" → nil; "auto" →
// nil with a warning when the assets are missing; "on" → an error.
func (m *Main) openDetector() (*sharedDetector, error) {
	if m.Detection == DetectionOff {
		return nil, nil
	}
	d, err := detect.Open(detect.Config{Dir: m.AssetsDir, Threads: m.DetectThreads})
	if err != nil {
		if m.Detection == DetectionAuto && errors.Is(err, detect.ErrMissingAsset) {
			m.Logger.Warn("object detection is off: the model is not installed; recording and motion-free events (doorbell, offline) go on", "err", err)
			return nil, nil
		}
		return nil, fmt.Errorf("detection: %w", err)
	}
	return &sharedDetector{det: d}, nil
}

// analyzer is one camera's analysis.
type analyzer struct {
	r      *recorder
	log    *slog.Logger
	chain  *analysis.Chain
	dec    *decode.Decoder
	frames chan *frame.Frame

	// Owned by run.
	active   map[int]*liveEvent // track id → its event
	settings *ownerSettings     // the owner's settings in force (nil: configured)
}

// liveEvent is an object event in progress.
type liveEvent struct {
	id    string
	start time.Time
	seen  time.Time // last time its track was present
	track track.Track
	path  []seal.TrackPoint
}

// analysisGap is how long a track may be missing before its event ends.
const analysisGap = 3 * time.Second

func newAnalyzer(ctx context.Context, r *recorder, det *sharedDetector, codec string) (*analyzer, error) {
	var d analysis.Detector
	if det != nil {
		d = det
	}
	a := &analyzer{
		r: r, log: r.log,
		chain:  analysis.New(d, motion.Config{Mask: r.cam.motionMask()}, track.Config{Zones: r.zones(), Rules: r.cam.rules()}),
		frames: make(chan *frame.Frame, 2),
		active: map[int]*liveEvent{},
	}
	dec, err := decode.New(ctx, decode.Config{Codec: codec, FPS: r.h.m.AnalysisFPS, Width: 640, Color: det != nil}, a.offer)
	if err != nil {
		return nil, err
	}
	a.dec = dec
	go a.run(ctx)
	return a, nil
}

// offer hands a decoded frame to the analysis goroutine, dropping it when
// analysis is busy (the decoder counts what it drops upstream).
func (a *analyzer) offer(f *frame.Frame) {
	select {
	case a.frames <- f:
	default:
	}
}

func (a *analyzer) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			a.closeAll(a.r.h.m.Now())
			return
		case f := <-a.frames:
			a.frame(f)
		}
	}
}

// frame analyses one frame.
func (a *analyzer) frame(f *frame.Frame) {
	if s := a.r.settings.Load(); s != a.settings {
		a.settings = s
		a.chain.SetZones(a.r.zones())
	}
	res, err := a.chain.Frame(f)
	if res.Motion.Moving {
		a.r.activate(f.Time)
	}
	if err != nil {
		a.log.Warn("detector failed on a frame", "err", err)
		return
	}
	for _, al := range res.Alerts {
		a.start(f, al)
	}
	for _, t := range res.Tracks {
		if ev := a.active[t.ID]; ev != nil {
			ev.seen, ev.track = f.Time, t
			ev.path = append(ev.path, seal.TrackPoint{T: f.Time.UTC(), X0: t.Box.X0, Y0: t.Box.Y0, X1: t.Box.X1, Y1: t.Box.Y1})
			a.r.activate(f.Time)
		}
	}
	a.expire(f.Time)
}

// start opens the event of an alert, with a thumbnail of this frame.
func (a *analyzer) start(f *frame.Frame, al track.Alert) {
	t := al.Track
	ev := &liveEvent{id: seal.NewID(), start: al.Start, seen: f.Time, track: t,
		path: []seal.TrackPoint{{T: f.Time.UTC(), X0: t.Box.X0, Y0: t.Box.Y0, X1: t.Box.X1, Y1: t.Box.Y1}}}
	a.active[t.ID] = ev
	a.r.activateFrom(al.Start)
	thumb, err := thumbnail(f)
	if err != nil {
		a.log.Warn("event thumbnail not made", "err", err)
	}
	if err := a.r.emit(a.event(ev, 1, time.Time{}), thumb); err != nil {
		a.log.Error("event not queued", "err", err)
	}
}

// expire ends the events whose track has been gone for analysisGap.
func (a *analyzer) expire(now time.Time) {
	for id, ev := range a.active {
		if now.Sub(ev.seen) >= analysisGap {
			a.end(ev, ev.seen)
			delete(a.active, id)
		}
	}
}

func (a *analyzer) closeAll(now time.Time) {
	for id, ev := range a.active {
		a.end(ev, now)
		delete(a.active, id)
	}
}

func (a *analyzer) end(ev *liveEvent, at time.Time) {
	if err := a.r.emit(a.event(ev, 2, at), nil); err != nil {
		a.log.Error("event end not queued", "err", err)
	}
}

func (a *analyzer) event(ev *liveEvent, version int, end time.Time) seal.Event {
	t := ev.track
	out := seal.Event{
		ID: ev.id, Version: version, Kind: seal.EventObject, Start: ev.start.UTC(), End: end.UTC(),
		Classes: []string{string(t.Class)}, Labels: []string{t.Label}, Score: t.Score, Zone: t.Zone,
		Track: slices.Clone(ev.path),
	}
	if end.IsZero() {
		out.End = time.Time{}
	}
	return out
}

// thumbnail encodes a frame as a JPEG of at most 640 px wide.
func thumbnail(f *frame.Frame) ([]byte, error) {
	if len(f.RGB) != f.W*f.H*3 {
		return nil, errors.New("no colour frame")
	}
	img := image.NewRGBA(image.Rect(0, 0, f.W, f.H))
	for i, j := 0, 0; i < len(f.RGB); i, j = i+3, j+4 {
		img.Pix[j], img.Pix[j+1], img.Pix[j+2], img.Pix[j+3] = f.RGB[i], f.RGB[i+1], f.RGB[i+2], 0xff
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 75}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func polygon(ps [][2]float32) motion.Polygon {
	out := make(motion.Polygon, len(ps))
	for i, p := range ps {
		out[i] = motion.Point{X: p[0], Y: p[1]}
	}
	return out
}

// motionMask, zones and rules translate a camera's configuration.
func (c Camera) motionMask() []motion.Polygon {
	var out []motion.Polygon
	for _, p := range c.MotionMask {
		out = append(out, polygon(p))
	}
	return out
}

func (c Camera) zones() []track.Zone {
	var out []track.Zone
	for _, z := range c.Zones {
		tz := track.Zone{Name: z.Name, Polygon: polygon(z.Polygon)}
		for _, cl := range z.Classes {
			tz.Classes = append(tz.Classes, detect.Class(cl))
		}
		out = append(out, tz)
	}
	return out
}

func (c Camera) rules() []track.Rule {
	var out []track.Rule
	for _, r := range c.Rules {
		out = append(out, track.Rule{Class: detect.Class(r.Class), MinScore: r.MinScore, MinArea: r.MinArea})
	}
	return out
}
