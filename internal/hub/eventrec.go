package hub

// Event-only recording and the analysis tap of a recorder.
//
// With record = "events", segments are kept in memory for PreRoll and
// recorded only when activity (motion, an object event, a doorbell press)
// falls within PreRoll before or PostRoll after them; the rest are dropped
// on purpose (counted, logged at debug). Continuous recording is unchanged.

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/porchlight/porchlight/internal/segment"
)

// activate marks activity at t: event-only recording keeps the segments
// from t−PreRoll to t+PostRoll.
func (r *recorder) activate(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.activateLocked(t, t)
}

// activateFrom marks activity since from (an event that started before it
// was recognised).
func (r *recorder) activateFrom(from time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.activateLocked(from, r.h.m.Now())
}

func (r *recorder) activateLocked(from, to time.Time) {
	if r.activeFrom.IsZero() || from.Before(r.activeFrom) || r.activeUntil.Before(from.Add(-r.cam.PreRoll)) {
		r.activeFrom = from
	}
	if until := to.Add(r.cam.PostRoll); until.After(r.activeUntil) {
		r.activeUntil = until
	}
	if r.cam.Record == RecordEvents {
		r.flushRingLocked()
	}
}

// wantedLocked reports whether event-only recording keeps seg.
func (r *recorder) wantedLocked(seg segment.Segment) bool {
	end := seg.Start.Add(seg.Duration)
	return !r.activeFrom.IsZero() && end.After(r.activeFrom.Add(-r.cam.PreRoll)) && seg.Start.Before(r.activeUntil)
}

// eventSegmentLocked is segmentLocked for record = "events".
func (r *recorder) eventSegmentLocked(seg segment.Segment) error {
	if r.wantedLocked(seg) {
		r.flushRingLocked()
		return r.segmentLocked(seg)
	}
	// Keep a private copy: the cutter reuses its buffers.
	data := bytes.Clone(seg.Data)
	seg.Init, seg.Data = data[:len(seg.Init)], data
	r.ring = append(r.ring, seg)
	cut := seg.Start.Add(seg.Duration).Add(-r.cam.PreRoll)
	for len(r.ring) > 0 && r.ring[0].Start.Add(r.ring[0].Duration).Before(cut) {
		r.skipped++
		r.ring = r.ring[1:]
	}
	return nil
}

// flushRingLocked records the held segments that activity now covers and
// drops the rest.
func (r *recorder) flushRingLocked() {
	ring := r.ring
	r.ring = nil
	for _, s := range ring {
		if !r.wantedLocked(s) {
			r.skipped++
			continue
		}
		if err := r.segmentLocked(s); err != nil {
			r.log.Error("pre-roll segment not recorded", "err", err)
		}
	}
}

// onAccessUnit feeds the camera's analysis, starting it on the first
// access unit (and again if the codec changes).
func (r *recorder) onAccessUnit(ctx context.Context, codec string, params [][]byte, anchor time.Time, pts time.Duration, au [][]byte) {
	if r.anFailed && r.anCodec == codec {
		return
	}
	if r.an == nil || r.anCodec != codec {
		if old := r.an; old != nil {
			go old.dec.Close() // drains for a while: never on the camera's goroutine
		}
		r.anCodec = codec
		an, err := newAnalyzer(ctx, r, r.h.det, codec)
		if err != nil {
			r.log.Error("analysis is off for this camera; recording goes on", "err", err)
			r.anFailed, r.an = true, nil
			return
		}
		r.an, r.anFailed = an, false
	}
	// Cameras often send parameter sets only in the SDP: put them in front
	// of IDRs that lack them. The decoder copies what it is given.
	if segment.IsIDR(codec, au) && !segment.HasSPS(codec, au) {
		au = append(slices.Clone(params), au...)
	}
	r.an.dec.WriteAccessUnit(anchor, pts, au)
}
