// Package segment cuts H.264/H.265 access units into self-contained
// fragmented MP4 segments, each starting at an IDR frame, and joins such
// segments back into one file for export.
//
// It only remuxes: it never decodes or transcodes video, and it knows nothing
// about RTSP, encryption or storage. Use it on plaintext access units inside the
// hub (recording) and inside clients (export); do not use it to inspect or
// repair arbitrary MP4 files, it only reads what it writes (single-track video
// fMP4 with a 90 kHz timescale).
package segment

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// Timescale is the time base of every segment's video track, in ticks per
// second (the RTP clock rate of H.264 and H.265).
const Timescale = 90000

// Defaults of Cutter.Min and Cutter.Max.
const (
	DefaultMin = 2 * time.Second
	DefaultMax = 6 * time.Second
)

// Codec names, as used in Segment.Codec and Cutter.Codec.
const (
	H264 = "h264"
	H265 = "h265"
)

// trackID is the ID of the single video track of every segment.
const trackID = 1

// Errors returned by Cutter.WriteAccessUnit. The access unit that caused them
// has been dropped; the cutter stays usable and the caller should log the error
// (they can repeat for every frame of a broken stream, so summarise them).
var (
	// ErrNoParameterSets means an IDR arrived but no SPS/PPS (and VPS for
	// H.265) is known, neither in-band nor from SetParameterSets. Recording
	// resumes at the first IDR that carries them.
	ErrNoParameterSets = errors.New("segment: IDR without known parameter sets (none in-band, none from the SDP)")
	// ErrUnknownCodec means Cutter.Codec is neither "h264" nor "h265".
	ErrUnknownCodec = errors.New(`segment: unknown codec (want "h264" or "h265")`)
)

// Segment is one self-contained fragmented MP4 (ftyp+moov init followed by one
// moof+mdat fragment), starting with an IDR access unit, playable alone by
// ffprobe, ffmpeg and browsers.
//
// Decode times inside each segment start at 0; Start says where the segment is
// on the wall clock.
type Segment struct {
	Start    time.Time     // wall-clock time of the first sample: stream anchor + its PTS
	Duration time.Duration // sum of sample durations
	Codec    string        // "h264" or "h265"
	Frames   int
	// Init is the ftyp+moov alone, identical for consecutive segments while
	// SPS/PPS/VPS do not change. It is a prefix of Data (same backing array).
	Init []byte
	Data []byte // complete fMP4: Init followed by the fragment
}

// dtsExtractor is what Cutter needs from mediacommon's h264/h265 DTS extractors.
type dtsExtractor interface {
	Extract(au [][]byte, pts int64) (int64, error)
}

// Cutter receives the access units of one camera and emits a Segment each time
// it closes one. It cuts only before IDR access units (H.264 IDR, H.265
// IDR_W_RADL/IDR_N_LP; never at CRA), closing a segment at the first IDR whose
// start is at least Min after the segment's start. If no IDR arrives by Max,
// the segment keeps growing until the next IDR (a warning is logged); past
// 10×Max (at least 60 s) without an IDR the segment is closed and frames are
// dropped until the next IDR, so a stream without keyframes cannot exhaust
// memory.
//
// Access units before the first IDR are dropped. If an IDR lacks SPS/PPS (or
// VPS for H.265) in-band, the last known ones (from an earlier IDR or
// SetParameterSets) are put in front of it; in-band ones replace the known ones,
// and a change closes the segment and regenerates the init.
//
// B-frames are supported: decode times are derived from PTS with mediacommon's
// DTS extractors, and composition offsets are written to the trun. At the
// start of a stream with B-frames the extractor cannot know the reorder delay
// yet, so the first frames get very short decode durations: the first segment's
// Duration is then shorter than its presentation span by that delay (one or two
// frames); presentation times stay exact.
//
// A Cutter is not safe for concurrent use. The zero value is usable: H.264,
// Min 2 s, Max 6 s, segments discarded unless OnSegment is set.
type Cutter struct {
	// Codec is "h264" or "h265". It defaults to "h264".
	Codec string
	// Min is the shortest segment (except the last before Flush or a
	// parameter change). It defaults to DefaultMin (2 s).
	Min time.Duration
	// Max is the duration after which a segment still waiting for an IDR is
	// reported as overlong. It defaults to DefaultMax (6 s), and is raised to
	// Min if smaller.
	Max time.Duration
	// OnSegment receives every closed segment, synchronously, from the
	// goroutine calling WriteAccessUnit or Flush. It defaults to discarding.
	OnSegment func(Segment)
	// Logger receives warnings about the stream. It defaults to slog.Default().
	Logger *slog.Logger

	// state guarded by the caller (not safe for concurrent use)
	started      bool
	codec        string
	vps, sps     []byte
	pps          []byte
	initBytes    []byte // marshalled init for vps/sps/pps; nil when they changed
	anchor       time.Time
	dts          dtsExtractor
	waitIDR      bool
	seq          uint32
	lastDur      uint32 // duration of the most recent completed sample, ticks
	overlongLogs int
	arena        []byte // AVCC payloads of cur's samples; see WriteAccessUnit

	cur *pending
}

// pending is the segment being built.
type pending struct {
	init     []byte
	firstPTS int64 // ticks
	firstDTS int64
	samples  []*fmp4.Sample
	lastDTS  int64 // DTS of the last sample, whose duration is still unknown
	warned   bool
}

// SetParameterSets sets the parameter sets known out of band, typically from
// the SDP (sprop-parameter-sets / sprop-vps,sps,pps). vps is ignored for H.264.
// Nil arguments leave the current value unchanged. In-band parameter sets later
// replace them.
func (c *Cutter) SetParameterSets(vps, sps, pps []byte) {
	c.setup()
	if c.codec == H265 && vps != nil {
		c.setParam(&c.vps, vps)
	}
	if sps != nil {
		c.setParam(&c.sps, sps)
	}
	if pps != nil {
		c.setParam(&c.pps, pps)
	}
}

// ParameterSets returns the current parameter sets (VPS for H.265, SPS,
// PPS), as known out of band or last seen in band: what a decoder needs in
// front of an IDR that does not carry them. The slices are the Cutter's;
// do not modify them.
func (c *Cutter) ParameterSets() [][]byte {
	var out [][]byte
	for _, p := range [][]byte{c.vps, c.sps, c.pps} {
		if len(p) > 0 {
			out = append(out, p)
		}
	}
	return out
}

// setParam replaces *dst with a copy of v if different, invalidating the init.
func (c *Cutter) setParam(dst *[]byte, v []byte) {
	if !bytes.Equal(*dst, v) {
		*dst = bytes.Clone(v)
		c.initBytes = nil
	}
}

func (c *Cutter) setup() {
	if c.started {
		return
	}
	c.started = true
	c.codec = c.Codec
	if c.codec == "" {
		c.codec = H264
	}
	if c.Min <= 0 {
		c.Min = DefaultMin
	}
	if c.Max <= 0 {
		c.Max = DefaultMax
	}
	if c.Max < c.Min {
		c.Max = c.Min
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.resetStream()
}

// resetStream forgets timing state: the next access unit must be an IDR.
func (c *Cutter) resetStream() {
	c.waitIDR = true
	c.anchor = time.Time{}
	switch c.codec {
	case H265:
		e := &h265.DTSExtractor{}
		e.Initialize()
		c.dts = e
	default:
		e := &h264.DTSExtractor{}
		e.Initialize()
		c.dts = e
	}
}

// hardLimit is the duration past which a segment without IDR is abandoned.
func (c *Cutter) hardLimit() time.Duration {
	return max(10*c.Max, time.Minute)
}

// WriteAccessUnit adds one access unit (its NAL units, without start codes).
// pts is its presentation time relative to the stream start, anchor the wall
// clock of the stream start (the same for every access unit of one RTSP PLAY;
// a different anchor means a new stream and closes the current segment).
//
// The NAL units are copied; the caller may reuse them. An error means the
// access unit was dropped; see ErrNoParameterSets.
func (c *Cutter) WriteAccessUnit(anchor time.Time, pts time.Duration, au [][]byte) error {
	c.setup()
	if c.codec != H264 && c.codec != H265 {
		return fmt.Errorf("%w: %q", ErrUnknownCodec, c.codec)
	}

	if !c.anchor.IsZero() && !anchor.Equal(c.anchor) {
		c.Flush()
	}
	c.anchor = anchor

	au = cleanAU(c.codec, au)
	if len(au) == 0 {
		return nil
	}

	idr := isIDR(c.codec, au)
	paramsChanged := false
	if idr {
		var err error
		if au, err = c.withParameterSets(au); err != nil {
			return err
		}
		if c.initBytes == nil {
			if c.initBytes, err = c.marshalInit(); err != nil {
				return fmt.Errorf("segment: building init from parameter sets: %w", err)
			}
		}
		paramsChanged = c.cur != nil && !bytes.Equal(c.cur.init, c.initBytes)
	}

	if c.waitIDR {
		if !idr {
			return nil // leading non-IDR frames are undecodable: drop them
		}
		c.waitIDR = false
	}

	ptsTicks := durationToTicks(pts)
	dts, err := c.dts.Extract(au, ptsTicks)
	if err != nil {
		// Cannot place this frame on the decode timeline: drop it. If it was
		// an IDR, drop until the next one so nothing references it.
		if idr {
			c.closeSegment(0)
			c.waitIDR = true
		}
		return fmt.Errorf("segment: computing DTS: %w", err)
	}

	if p := c.cur; p != nil {
		dur := dts - p.lastDTS
		if dur <= 0 {
			dur = 1 // equal DTS: keep decode times strictly increasing
		}
		elapsed := ticksToDuration(dts - p.firstDTS)
		switch {
		// IDRs are never reordered, so their PTS measure the segment exactly
		// (DTS are compressed at a stream start when there are B-frames).
		case idr && (ticksToDuration(ptsTicks-p.firstPTS) >= c.Min || paramsChanged):
			c.closeSegment(uint32(dur))
		case !idr && elapsed > c.hardLimit():
			c.closeSegment(uint32(dur))
			c.waitIDR = true
			c.Logger.Warn("segment: no IDR for too long, dropping frames until the next IDR",
				"codec", c.codec, "limit", c.hardLimit())
			return nil
		default:
			p.samples[len(p.samples)-1].Duration = uint32(dur)
			c.lastDur = uint32(dur)
			if !p.warned && elapsed > c.Max {
				p.warned = true
				c.overlongLogs++
				level := slog.LevelWarn
				if c.overlongLogs > 1 {
					level = slog.LevelDebug // the GOP is simply longer than Max: say it once
				}
				c.Logger.Log(context.Background(), level, "segment: longer than max, waiting for the next IDR (cutting only at IDR)",
					"codec", c.codec, "max", c.Max)
			}
		}
	}

	// Pack the access unit as AVCC (a 4-byte length before each NAL unit)
	// into the cutter's arena, reused from segment to segment: the fragment
	// marshaller copies every payload into the segment, so the arena is free
	// again once a segment is closed. When the arena grows, earlier samples
	// keep pointing into the old array, which stays alive until then.
	start := len(c.arena)
	for _, n := range au {
		c.arena = binary.BigEndian.AppendUint32(c.arena, uint32(len(n)))
		c.arena = append(c.arena, n...)
	}
	avcc := c.arena[start:len(c.arena):len(c.arena)]
	sample := &fmp4.Sample{
		PTSOffset:       int32(ptsTicks - dts),
		IsNonSyncSample: !idr,
		Payload:         avcc,
	}
	if c.cur == nil {
		c.cur = &pending{init: c.initBytes, firstPTS: ptsTicks, firstDTS: dts}
	}
	c.cur.samples = append(c.cur.samples, sample)
	c.cur.lastDTS = dts
	return nil
}

// Flush closes the current segment, if any, and emits it; use it when the
// camera drops or recording stops. The last frame's duration is unknown, so it
// is taken to be that of the frame before it. The next access unit starts a new
// stream and must be an IDR (earlier frames are dropped).
func (c *Cutter) Flush() {
	c.setup()
	if c.cur != nil {
		d := c.lastDur
		if d == 0 {
			d = Timescale / 25
		}
		c.closeSegment(d)
	}
	c.resetStream()
}

// closeSegment completes the last sample with lastDur and emits the segment.
// A lastDur of 0 drops the last sample instead.
func (c *Cutter) closeSegment(lastDur uint32) {
	p := c.cur
	c.cur = nil
	if p == nil {
		return
	}
	defer c.resetArena()
	if lastDur == 0 {
		p.samples = p.samples[:len(p.samples)-1]
		if len(p.samples) == 0 {
			return
		}
	} else {
		p.samples[len(p.samples)-1].Duration = lastDur
		c.lastDur = lastDur
	}

	var total uint64
	for _, s := range p.samples {
		total += uint64(s.Duration)
	}

	c.seq++
	part := fmp4.Part{
		SequenceNumber: c.seq,
		Tracks: []*fmp4.PartTrack{{
			ID:       trackID,
			BaseTime: 0,
			Samples:  p.samples,
		}},
	}
	// Size the buffer up front (init, then moof with a trun entry of at
	// most 16 bytes per sample, then mdat) so marshalling never regrows it.
	size := len(p.init) + 512 + 16*len(p.samples)
	for _, s := range p.samples {
		size += len(s.Payload)
	}
	var buf seekablebuffer.Buffer
	buf.Grow(size)
	buf.Write(p.init)
	if err := part.Marshal(&buf); err != nil {
		// Only fails on a broken writer; seekablebuffer never fails.
		c.Logger.Error("segment: marshalling fragment", "err", err)
		return
	}
	data := buf.Bytes()

	if c.OnSegment != nil {
		c.OnSegment(Segment{
			Start:    c.anchor.Add(ticksToDuration(p.firstPTS)),
			Duration: ticksToDuration(int64(total)),
			Codec:    c.codec,
			Frames:   len(p.samples),
			Init:     data[:len(p.init):len(p.init)],
			Data:     data,
		})
	}
}

// resetArena empties the AVCC arena once its segment is marshalled (every
// payload copied out), keeping its memory for the next segment unless a
// one-off overlong segment grew it far past the usual size.
func (c *Cutter) resetArena() {
	if cap(c.arena) > 1<<20 && cap(c.arena) > 4*len(c.arena) {
		c.arena = nil
		return
	}
	c.arena = c.arena[:0]
}

// withParameterSets learns the in-band parameter sets of an IDR access unit
// and puts the known ones in front of it where missing.
func (c *Cutter) withParameterSets(au [][]byte) ([][]byte, error) {
	var haveVPS, haveSPS, havePPS bool
	for _, n := range au {
		switch paramType(c.codec, n) {
		case paramVPS:
			if !haveVPS {
				c.setParam(&c.vps, n)
			}
			haveVPS = true
		case paramSPS:
			if !haveSPS {
				c.setParam(&c.sps, n)
			}
			haveSPS = true
		case paramPPS:
			if !havePPS {
				c.setParam(&c.pps, n)
			}
			havePPS = true
		}
	}
	if c.sps == nil || c.pps == nil || (c.codec == H265 && c.vps == nil) {
		return nil, ErrNoParameterSets
	}

	var pre [][]byte
	if c.codec == H265 && !haveVPS {
		pre = append(pre, c.vps)
	}
	if !haveSPS {
		pre = append(pre, c.sps)
	}
	if !havePPS {
		pre = append(pre, c.pps)
	}
	if len(pre) == 0 {
		return au, nil
	}
	return append(pre, au...), nil
}

func (c *Cutter) marshalInit() ([]byte, error) {
	var codec codecs.Codec
	if c.codec == H265 {
		codec = &codecs.H265{VPS: c.vps, SPS: c.sps, PPS: c.pps}
	} else {
		codec = &codecs.H264{SPS: c.sps, PPS: c.pps}
	}
	init := fmp4.Init{Tracks: []*fmp4.InitTrack{{
		ID:        trackID,
		TimeScale: Timescale,
		Codec:     codec,
	}}}
	var buf seekablebuffer.Buffer
	if err := init.Marshal(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// durationToTicks converts a duration to 90 kHz ticks without overflow.
func durationToTicks(d time.Duration) int64 {
	secs := int64(d / time.Second)
	rem := int64(d % time.Second)
	return secs*Timescale + rem*Timescale/int64(time.Second)
}

// ticksToDuration converts 90 kHz ticks to a duration without overflow.
func ticksToDuration(t int64) time.Duration {
	secs := t / Timescale
	rem := t % Timescale
	return time.Duration(secs)*time.Second + time.Duration(rem)*time.Second/Timescale
}
