// Package live turns a camera's access units into a low-latency fragmented
// MP4 stream for live view: an init segment (ftyp+moov) and one moof+mdat
// per access unit, with decode times (tfdt) that continue from fragment to
// fragment, plus the MIME type Media Source Extensions need
// (video/mp4; codecs="avc1.PPCCLL" or "hvc1.…"). It keeps the current group
// of pictures so a viewer who joins starts at once from the last IDR.
//
// It only remuxes plaintext inside the hub; it knows nothing about
// encryption or sockets (internal/hub seals its output with
// seal.LiveSender). For recording, use internal/segment.
package live

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/porchlight/porchlight/internal/segment"
)

// trackID is the single video track's id.
const trackID = 1

// MaxGOP bounds the bytes of the group of pictures kept for viewers who
// join: a stream whose GOP grows past it is not cached until its next IDR
// (joining viewers then wait for that IDR). It stays below what a live
// message may carry.
const MaxGOP = 12 << 20

// defaultDuration is a sample's duration before two have been seen (25 fps).
const defaultDuration = segment.Timescale / 25

// ErrNoParameterSets means an IDR arrived with no SPS/PPS (and VPS for
// H.265) known, in band or from the SDP; the stream starts at the next IDR
// that has them.
var ErrNoParameterSets = errors.New("live: IDR without known parameter sets")

// Frame is one access unit as a live fragment's sample.
type Frame struct {
	// Stream counts the streams the Fragmenter has seen (a new anchor, a
	// new codec or new parameter sets start one). A viewer that started on
	// another stream must start again with the new init.
	Stream   uint64
	IDR      bool
	Received time.Time // when the hub received the access unit

	dts       int64 // ticks since the stream's first IDR
	ptsOffset int32
	duration  uint32 // known once the next frame arrives; an estimate until then
	payload   []byte // AVCC
}

// dtsExtractor is what Fragmenter needs of mediacommon's H.264 and H.265
// DTS extractors.
type dtsExtractor interface {
	Extract(au [][]byte, pts int64) (int64, error)
}

// Fragmenter makes one camera's live stream. It is not safe for concurrent
// use. The zero value is ready.
type Fragmenter struct {
	codec    string
	vps, sps []byte
	pps      []byte
	init     []byte
	mime     string
	anchor   time.Time
	dts      dtsExtractor
	waitIDR  bool
	firstDTS int64
	lastDur  uint32
	stream   uint64
	seq      uint32

	gop      []*Frame // since the last IDR, oldest first; nil while not cacheable
	gopBytes int
}

// Stream returns the current stream's number, init segment and MIME type;
// init is nil until the first IDR.
func (f *Fragmenter) Stream() (stream uint64, init []byte, mime string) {
	if f.waitIDR || f.init == nil {
		return f.stream, nil, ""
	}
	return f.stream, f.init, f.mime
}

// Reset ends the current stream (the camera dropped): the next access unit
// must be an IDR.
func (f *Fragmenter) Reset() {
	f.anchor = time.Time{}
	f.waitIDR = true
	f.gop, f.gopBytes = nil, 0
}

// WriteAccessUnit takes one access unit, as internal/ingest delivers it:
// codec "h264" or "h265", the current parameter sets (VPS for H.265, SPS,
// PPS), the stream's wall-clock anchor and the unit's PTS from it, its NAL
// units without start codes (copied; the caller may reuse them) and when it
// was received. It returns the frame, or nil while waiting for the first
// IDR of a stream.
func (f *Fragmenter) WriteAccessUnit(codec string, params [][]byte, anchor time.Time, pts time.Duration, au [][]byte, received time.Time) (*Frame, error) {
	if codec != segment.H264 && codec != segment.H265 {
		return nil, fmt.Errorf("live: unknown codec %q", codec)
	}
	if codec != f.codec || !anchor.Equal(f.anchor) {
		f.newStream(codec, anchor)
	}
	for _, p := range params {
		f.learnParam(p)
	}
	au = clean(codec, au)
	if len(au) == 0 {
		return nil, nil
	}
	idr := segment.IsIDR(codec, au)
	if idr {
		for _, n := range au {
			f.learnParam(n)
		}
		if f.sps == nil || f.pps == nil || (codec == segment.H265 && f.vps == nil) {
			return nil, ErrNoParameterSets
		}
		if f.init == nil {
			if err := f.makeInit(); err != nil {
				f.waitIDR = true
				return nil, err
			}
		}
		au = f.withParameterSets(au)
	}
	if f.waitIDR && !idr {
		return nil, nil
	}
	ticks := durationToTicks(pts)
	dts, err := f.dts.Extract(au, ticks)
	if err != nil {
		f.Reset()
		return nil, fmt.Errorf("live: computing DTS: %w", err)
	}
	if f.waitIDR {
		f.waitIDR = false
		f.firstDTS = dts
		f.gop, f.gopBytes = []*Frame{}, 0
	}
	dts -= f.firstDTS
	if dts < 0 {
		dts = 0
	}

	n := 0
	for _, u := range au {
		n += 4 + len(u)
	}
	payload := make([]byte, 0, n)
	for _, u := range au {
		payload = binary.BigEndian.AppendUint32(payload, uint32(len(u)))
		payload = append(payload, u...)
	}
	fr := &Frame{Stream: f.stream, IDR: idr, Received: received, dts: dts, ptsOffset: int32(ticks - f.firstDTS - dts), payload: payload}

	if k := len(f.gop); k > 0 {
		prev := f.gop[k-1]
		if d := dts - prev.dts; d > 0 && d < segment.Timescale*10 {
			prev.duration = uint32(d)
			f.lastDur = uint32(d)
		}
	}
	fr.duration = f.lastDur
	if fr.duration == 0 {
		fr.duration = defaultDuration
	}
	switch {
	case idr:
		f.gop, f.gopBytes = []*Frame{fr}, len(payload)
	case f.gop != nil && f.gopBytes+len(payload) <= MaxGOP:
		f.gop = append(f.gop, fr)
		f.gopBytes += len(payload)
	default:
		f.gop, f.gopBytes = nil, 0 // too big to cache: joiners wait for the next IDR
	}
	return fr, nil
}

// Fragment returns one frame as a moof+mdat.
func (f *Fragmenter) Fragment(fr *Frame) []byte {
	return f.marshal([]*Frame{fr})
}

// Join returns what a viewer who joins now starts with: the current
// stream's number, init segment and MIME type, and one moof+mdat holding
// the group of pictures so far, from its IDR (received: when the IDR was).
// ok is false while there is no cached group of pictures; then start at
// the next IDR frame instead.
func (f *Fragmenter) Join() (stream uint64, init []byte, mime string, media []byte, received time.Time, ok bool) {
	if f.waitIDR || len(f.gop) == 0 || f.init == nil {
		return f.stream, nil, "", nil, time.Time{}, false
	}
	return f.stream, f.init, f.mime, f.marshal(f.gop), f.gop[0].Received, true
}

func (f *Fragmenter) marshal(frames []*Frame) []byte {
	samples := make([]*fmp4.Sample, len(frames))
	size := 256 + 16*len(frames)
	for i, fr := range frames {
		samples[i] = &fmp4.Sample{Duration: fr.duration, PTSOffset: fr.ptsOffset, IsNonSyncSample: !fr.IDR, Payload: fr.payload}
		size += len(fr.payload)
	}
	f.seq++
	part := fmp4.Part{SequenceNumber: f.seq, Tracks: []*fmp4.PartTrack{{ID: trackID, BaseTime: uint64(frames[0].dts), Samples: samples}}}
	var buf seekablebuffer.Buffer
	buf.Grow(size)
	if err := part.Marshal(&buf); err != nil {
		panic("live: marshalling a fragment into memory: " + err.Error()) // seekablebuffer never fails
	}
	return buf.Bytes()
}

func (f *Fragmenter) newStream(codec string, anchor time.Time) {
	if codec != f.codec {
		f.vps, f.sps, f.pps = nil, nil, nil
	}
	f.codec, f.anchor = codec, anchor
	f.init, f.mime = nil, ""
	f.waitIDR = true
	f.lastDur = 0
	f.gop, f.gopBytes = nil, 0
	f.stream++
	if codec == segment.H265 {
		e := &h265.DTSExtractor{}
		e.Initialize()
		f.dts = e
	} else {
		e := &h264.DTSExtractor{}
		e.Initialize()
		f.dts = e
	}
}

// learnParam keeps a copy of a parameter-set NAL unit; a change starts a
// new stream (a new init) at the next IDR.
func (f *Fragmenter) learnParam(n []byte) {
	var dst *[]byte
	switch paramType(f.codec, n) {
	case 32:
		dst = &f.vps
	case 33, 7:
		dst = &f.sps
	case 34, 8:
		dst = &f.pps
	default:
		return
	}
	if bytes.Equal(*dst, n) {
		return
	}
	had := *dst != nil
	*dst = bytes.Clone(n)
	if f.init != nil || had {
		anchor := f.anchor
		vps, sps, pps := f.vps, f.sps, f.pps
		f.newStream(f.codec, anchor)
		f.vps, f.sps, f.pps = vps, sps, pps
	}
}

// paramType returns the NAL unit type of a parameter set (H.264 7 SPS,
// 8 PPS; H.265 32 VPS, 33 SPS, 34 PPS), or -1.
func paramType(codec string, n []byte) int {
	if len(n) == 0 {
		return -1
	}
	if codec == segment.H265 {
		if t := int(n[0]>>1) & 0x3f; t >= 32 && t <= 34 {
			return t
		}
		return -1
	}
	if t := int(n[0] & 0x1f); t == 7 || t == 8 {
		return t
	}
	return -1
}

func (f *Fragmenter) makeInit() error {
	var c codecs.Codec
	mime, err := CodecString(f.codec, f.sps)
	if err != nil {
		return err
	}
	if f.codec == segment.H265 {
		c = &codecs.H265{VPS: f.vps, SPS: f.sps, PPS: f.pps}
	} else {
		c = &codecs.H264{SPS: f.sps, PPS: f.pps}
	}
	init := fmp4.Init{Tracks: []*fmp4.InitTrack{{ID: trackID, TimeScale: segment.Timescale, Codec: c}}}
	var buf seekablebuffer.Buffer
	if err := init.Marshal(&buf); err != nil {
		return fmt.Errorf("live: init segment: %w", err)
	}
	f.init = buf.Bytes()
	f.mime = MIME(mime)
	return nil
}

// withParameterSets puts the known parameter sets in front of an IDR that
// lacks them, as recorded segments have them.
func (f *Fragmenter) withParameterSets(au [][]byte) [][]byte {
	have := map[int]bool{}
	for _, n := range au {
		have[paramType(f.codec, n)] = true
	}
	var pre [][]byte
	if f.codec == segment.H265 {
		if !have[32] {
			pre = append(pre, f.vps)
		}
		if !have[33] {
			pre = append(pre, f.sps)
		}
		if !have[34] {
			pre = append(pre, f.pps)
		}
	} else {
		if !have[7] {
			pre = append(pre, f.sps)
		}
		if !have[8] {
			pre = append(pre, f.pps)
		}
	}
	if len(pre) == 0 {
		return au
	}
	return append(pre, au...)
}

// clean drops empty NAL units and access unit delimiters.
func clean(codec string, au [][]byte) [][]byte {
	out := make([][]byte, 0, len(au))
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		if codec == segment.H265 && int(n[0]>>1)&0x3f == int(h265.NALUType_AUD_NUT) {
			continue
		}
		if codec == segment.H264 && h264.NALUType(n[0]&0x1f) == h264.NALUTypeAccessUnitDelimiter {
			continue
		}
		out = append(out, n)
	}
	return out
}

// MIME returns the MIME type of a live stream with the given codec string.
func MIME(codec string) string { return `video/mp4; codecs="` + codec + `"` }

// CodecString returns the RFC 6381 codec string of a stream from its SPS
// NAL unit: "avc1.PPCCLL" (profile, constraint flags, level in hex) for
// H.264, "hvc1.P.C.TL.B…" (ISO/IEC 14496-15 annex E) for H.265.
func CodecString(codec string, sps []byte) (string, error) {
	switch codec {
	case segment.H264:
		if len(sps) < 4 || sps[0]&0x1f != 7 {
			return "", fmt.Errorf("live: not an H.264 SPS")
		}
		return fmt.Sprintf("avc1.%02x%02x%02x", sps[1], sps[2], sps[3]), nil
	case segment.H265:
		if len(sps) < 2 || int(sps[0]>>1)&0x3f != 33 {
			return "", fmt.Errorf("live: not an H.265 SPS")
		}
		// After the 2-byte NAL header: vps id, max sub layers and
		// temporal id nesting (1 byte), then profile_tier_level's general
		// part: space, tier, profile (1), compatibility flags (4),
		// constraint flags (6), level (1).
		b := h264.EmulationPreventionRemove(sps[2:])
		if len(b) < 13 {
			return "", fmt.Errorf("live: H.265 SPS too short")
		}
		space, tier, profile := b[1]>>6, (b[1]>>5)&1, b[1]&0x1f
		compat := binary.BigEndian.Uint32(b[2:6])
		var rev uint32 // the flags in reverse bit order
		for i := range 32 {
			if compat&(1<<i) != 0 {
				rev |= 1 << (31 - i)
			}
		}
		s := "hvc1."
		if space > 0 {
			s += string(rune('A' + space - 1))
		}
		s += fmt.Sprintf("%d.%x.", profile, rev)
		if tier == 1 {
			s += "H"
		} else {
			s += "L"
		}
		s += fmt.Sprintf("%d", b[12])
		cons := b[6:12]
		last := len(cons)
		for last > 0 && cons[last-1] == 0 {
			last--
		}
		for _, c := range cons[:last] {
			s += fmt.Sprintf(".%X", c)
		}
		return s, nil
	}
	return "", fmt.Errorf("live: unknown codec %q", codec)
}

// durationToTicks converts a duration to 90 kHz ticks without overflow.
func durationToTicks(d time.Duration) int64 {
	secs := int64(d / time.Second)
	rem := int64(d % time.Second)
	return secs*segment.Timescale + rem*segment.Timescale/int64(time.Second)
}
