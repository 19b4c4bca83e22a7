// Package analysis is the hub's per-camera analysis chain on decoded
// frames: motion gates the object detector, and the tracker turns
// detections into tracks and alerts. The hub, `porchlight-hub eval` and
// bench/detect all run this one chain, so what is measured is what runs.
// It decodes nothing and seals nothing: see internal/decode and
// internal/hub.
package analysis

import (
	"time"

	"github.com/porchlight/porchlight/internal/detect"
	"github.com/porchlight/porchlight/internal/frame"
	"github.com/porchlight/porchlight/internal/motion"
	"github.com/porchlight/porchlight/internal/track"
)

// Detector finds objects in a frame (*detect.Detector).
type Detector interface {
	Detect(f *frame.Frame) ([]detect.Detection, error)
}

// Linger is how long the detector keeps running after motion stops, so an
// object that stops is followed until it leaves.
const Linger = 2 * time.Second

// SettledStride is how often the detector runs while the scene is settled:
// every live track has raised its alert or is parked (see Parked), and all
// motion lies within the alerted tracks' boxes, so there is nothing left to
// confirm and no one new. It
// runs on every SettledStride-th frame then, to follow the tracks until
// they leave; anything unconfirmed, or motion elsewhere, brings back every
// frame.
const SettledStride = 2

// Margin widens a track's box on each side, as a fraction of its width and
// height, when deciding whether motion lies within it: the motion grid is
// coarse and the object moved since its box was found.
const Margin = 0.25

// Chain is one camera's analysis. It is not safe for concurrent use.
type Chain struct {
	motion *motion.Detector
	track  *track.Tracker
	det    Detector // nil: motion only

	lastMotion time.Time
	tracks     []track.Track // after the latest frame
	skipped    int           // settled frames skipped since the detector last ran
}

// New returns a chain; det may be nil (motion only, no alerts).
func New(det Detector, m motion.Config, t track.Config) *Chain {
	if l, ok := det.(LowDetector); ok && t.StartScore == 0 {
		t.StartScore = l.MinScore()
	}
	return &Chain{motion: motion.New(m), track: track.New(t), det: det}
}

// SetZones replaces the tracker's alerting zones.
func (c *Chain) SetZones(z []track.Zone) { c.track.SetZones(z) }

// Result is what one frame gave.
type Result struct {
	Motion   motion.Result
	Analysed bool          // the detector ran on this frame
	Infer    time.Duration // how long it took
	Tracks   []track.Track
	Alerts   []track.Alert
}

// Frame analyses one frame. A detector error is returned with what motion
// found; the chain goes on with the next frame.
func (c *Chain) Frame(f *frame.Frame) (Result, error) {
	var r Result
	r.Motion = c.motion.Feed(f)
	if r.Motion.Moving {
		c.lastMotion = f.Time
	}
	idle := !r.Motion.Moving && len(c.tracks) == 0 && f.Time.Sub(c.lastMotion) > Linger
	if c.det == nil || idle || (c.skipped < SettledStride-1 && settled(c.tracks, r.Motion.Regions)) {
		if !idle && c.det != nil {
			c.skipped++
		}
		r.Tracks, r.Alerts = c.track.Update(f.Time, nil)
		c.tracks = r.Tracks
		return r, nil
	}
	c.skipped = 0
	start := time.Now()
	dets, err := c.detect(f)
	r.Infer = time.Since(start)
	if err != nil {
		return r, err
	}
	r.Analysed = true
	r.Tracks, r.Alerts = c.track.UpdateWithMotion(f.Time, dets, r.Motion.Regions)
	c.tracks = r.Tracks
	return r, nil
}

// Parked is how many sightings make a track that has not moved "parked"
// (a parked car, someone standing): it does not keep the detector at
// every frame, but motion over it, not within an alerted track, does.
const Parked = 5

// settled reports whether every live track has alerted or is parked, at
// least one has alerted, and every motion region lies within the alerted
// tracks' boxes (widened by Margin).
func settled(tracks []track.Track, regions []detect.Box) bool {
	var boxes []detect.Box
	for _, t := range tracks {
		if !t.Alerted {
			if t.Moving || len(t.Path) < Parked {
				return false
			}
			continue
		}
		b := t.Box
		dx, dy := Margin*(b.X1-b.X0), Margin*(b.Y1-b.Y0)
		boxes = append(boxes, detect.Box{X0: b.X0 - dx, Y0: b.Y0 - dy, X1: b.X1 + dx, Y1: b.Y1 + dy})
	}
	if len(boxes) == 0 {
		return false
	}
	for _, m := range regions {
		if !covered(m, boxes) {
			return false
		}
	}
	return true
}

// covered reports whether at least 90 % of region lies within the union of
// boxes, sampled on a 16×16 grid.
func covered(region detect.Box, boxes []detect.Box) bool {
	const n = 16
	in := 0
	for i := range n {
		y := region.Y0 + (float32(i)+0.5)/n*(region.Y1-region.Y0)
		for j := range n {
			x := region.X0 + (float32(j)+0.5)/n*(region.X1-region.X0)
			for _, b := range boxes {
				if x >= b.X0 && x <= b.X1 && y >= b.Y0 && y <= b.Y1 {
					in++
					break
				}
			}
		}
	}
	return in*10 >= n*n*9
}

// LowDetector is a Detector that can report detections down to a lower
// score (*detect.Detector does). The chain asks it for detections down to
// LowScore: those below the detector's own minimum only continue tracks
// that exist (track.Config.StartScore), so a person the detector is less
// sure of in a crowd stays followed instead of being lost and found again.
type LowDetector interface {
	Detector
	DetectMin(f *frame.Frame, minScore float32) ([]detect.Detection, error)
	MinScore() float32
}

// LowScore is the least score that continues a track.
const LowScore = 0.25

func (c *Chain) detect(f *frame.Frame) ([]detect.Detection, error) {
	if l, ok := c.det.(LowDetector); ok {
		return l.DetectMin(f, LowScore)
	}
	return c.det.Detect(f)
}
