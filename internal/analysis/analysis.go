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

// Chain is one camera's analysis. It is not safe for concurrent use.
type Chain struct {
	motion *motion.Detector
	track  *track.Tracker
	det    Detector // nil: motion only

	lastMotion time.Time
	tracking   bool
}

// New returns a chain; det may be nil (motion only, no alerts).
func New(det Detector, m motion.Config, t track.Config) *Chain {
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
	if c.det == nil || (!r.Motion.Moving && !c.tracking && f.Time.Sub(c.lastMotion) > Linger) {
		r.Tracks, r.Alerts = c.track.Update(f.Time, nil)
		c.tracking = len(r.Tracks) > 0
		return r, nil
	}
	start := time.Now()
	dets, err := c.det.Detect(f)
	r.Infer = time.Since(start)
	if err != nil {
		return r, err
	}
	r.Analysed = true
	r.Tracks, r.Alerts = c.track.Update(f.Time, dets)
	c.tracking = len(r.Tracks) > 0
	return r, nil
}
