package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// ErrCodecMismatch is returned by Concat when a segment's codec parameters
// differ from the first segment's (the camera changed resolution or codec).
// Export such runs as separate files, split where the parameters change.
var ErrCodecMismatch = errors.New("segment: codec parameters differ from the first segment")

// Concat writes one fragmented MP4 made of the given segments' fragments, in
// order, under the first segment's init. Decode times are rebased so that the
// output starts at 0 and is continuous: a gap between segments (camera offline,
// event-only recording) is closed, i.e. playback continues with the next
// segment, and wall-clock times are not preserved in the file.
//
// Every segment must be a single-track fMP4 as made by Cutter with the same
// codec parameters as the first; otherwise Concat returns an error wrapping
// ErrCodecMismatch (or a parse error) before writing anything.
func Concat(w io.Writer, segs [][]byte) error {
	if len(segs) == 0 {
		return errors.New("segment: concat: no segments")
	}

	var first *fmp4.InitTrack
	var firstInit []byte
	parts := make([]fmp4.Parts, len(segs))
	for i, seg := range segs {
		init, frags, err := splitInit(seg)
		if err != nil {
			return fmt.Errorf("segment: concat: segment %d: %w", i, err)
		}
		track, err := parseInit(init)
		if err != nil {
			return fmt.Errorf("segment: concat: segment %d: %w", i, err)
		}
		if i == 0 {
			first, firstInit = track, init
			if err := sameCodec(track, track); err != nil { // rejects unsupported codecs
				return fmt.Errorf("segment: concat: segment 0: %w", err)
			}
		} else if err := sameCodec(first, track); err != nil {
			return fmt.Errorf("segment: concat: segment %d: %w", i, err)
		}
		if err := parts[i].Unmarshal(frags); err != nil {
			return fmt.Errorf("segment: concat: segment %d: reading fragments: %w", i, err)
		}
		for _, p := range parts[i] {
			if len(p.Tracks) != 1 || p.Tracks[0].ID != track.ID {
				return fmt.Errorf("segment: concat: segment %d: fragment is not single-track video", i)
			}
		}
	}

	if _, err := w.Write(firstInit); err != nil {
		return fmt.Errorf("segment: concat: %w", err)
	}

	var offset uint64 // output decode time where the next segment starts
	seq := uint32(0)
	var buf seekablebuffer.Buffer
	for _, ps := range parts {
		if len(ps) == 0 {
			continue
		}
		base := ps[0].Tracks[0].BaseTime
		end := offset
		for _, p := range ps {
			t := p.Tracks[0]
			if t.BaseTime < base { // out-of-order fragments: keep them contiguous
				base = t.BaseTime
			}
			t.ID = first.ID
			t.BaseTime = offset + (t.BaseTime - base)
			tEnd := t.BaseTime
			for _, s := range t.Samples {
				tEnd += uint64(s.Duration)
			}
			end = max(end, tEnd)

			seq++
			p.SequenceNumber = seq
			buf.Reset()
			if _, err := buf.Seek(0, io.SeekStart); err != nil {
				return err
			}
			if err := p.Marshal(&buf); err != nil {
				return fmt.Errorf("segment: concat: writing fragment: %w", err)
			}
			if _, err := w.Write(buf.Bytes()); err != nil {
				return fmt.Errorf("segment: concat: %w", err)
			}
		}
		offset = end
	}
	return nil
}

// splitInit splits an fMP4 into its init (every top-level box before the first
// moof, which must include ftyp and moov) and the rest.
func splitInit(b []byte) (init, frags []byte, err error) {
	pos := 0
	var sawFtyp, sawMoov bool
	for pos < len(b) {
		size, typ, err := boxHeader(b[pos:])
		if err != nil {
			return nil, nil, err
		}
		if typ == "moof" {
			break
		}
		switch typ {
		case "ftyp":
			sawFtyp = true
		case "moov":
			sawMoov = true
		}
		pos += size
	}
	if !sawFtyp || !sawMoov {
		return nil, nil, errors.New("not an fMP4 segment (ftyp or moov missing before the first moof)")
	}
	return b[:pos], b[pos:], nil
}

// boxHeader parses the header of the box at the start of b and returns the
// box's total size, checked to fit in b.
func boxHeader(b []byte) (int, string, error) {
	if len(b) < 8 {
		return 0, "", errors.New("truncated box header")
	}
	size := uint64(binary.BigEndian.Uint32(b))
	typ := string(b[4:8])
	hdr := uint64(8)
	switch size {
	case 0: // box extends to the end
		size = uint64(len(b))
	case 1:
		if len(b) < 16 {
			return 0, "", errors.New("truncated box header")
		}
		size = binary.BigEndian.Uint64(b[8:])
		hdr = 16
	}
	if size < hdr || size > uint64(len(b)) {
		return 0, "", fmt.Errorf("box %q: invalid size %d", typ, size)
	}
	return int(size), typ, nil
}

// parseInit reads an init and returns its only track.
func parseInit(init []byte) (*fmp4.InitTrack, error) {
	var in fmp4.Init
	if err := in.Unmarshal(bytes.NewReader(init)); err != nil {
		return nil, fmt.Errorf("reading init: %w", err)
	}
	if len(in.Tracks) != 1 {
		return nil, fmt.Errorf("init has %d tracks, want 1 video track", len(in.Tracks))
	}
	return in.Tracks[0], nil
}

// sameCodec reports (as an error) how track b differs from track a.
func sameCodec(a, b *fmp4.InitTrack) error {
	if a.TimeScale != b.TimeScale {
		return fmt.Errorf("%w: timescale %d, first segment %d", ErrCodecMismatch, b.TimeScale, a.TimeScale)
	}
	switch ca := a.Codec.(type) {
	case *codecs.H264:
		cb, ok := b.Codec.(*codecs.H264)
		if !ok {
			return fmt.Errorf("%w: codec is not H.264", ErrCodecMismatch)
		}
		if !bytes.Equal(ca.SPS, cb.SPS) || !bytes.Equal(ca.PPS, cb.PPS) {
			return fmt.Errorf("%w: H.264 SPS/PPS changed", ErrCodecMismatch)
		}
	case *codecs.H265:
		cb, ok := b.Codec.(*codecs.H265)
		if !ok {
			return fmt.Errorf("%w: codec is not H.265", ErrCodecMismatch)
		}
		if !bytes.Equal(ca.VPS, cb.VPS) || !bytes.Equal(ca.SPS, cb.SPS) || !bytes.Equal(ca.PPS, cb.PPS) {
			return fmt.Errorf("%w: H.265 VPS/SPS/PPS changed", ErrCodecMismatch)
		}
	default:
		return fmt.Errorf("unsupported codec %T (want H.264 or H.265)", a.Codec)
	}
	return nil
}
