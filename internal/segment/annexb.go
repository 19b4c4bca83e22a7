package segment

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxAccessUnitSize bounds what AccessUnitReader accepts, so a stream without
// start codes cannot make it buffer without limit.
const MaxAccessUnitSize = 8 << 20

// AccessUnitReader splits an Annex-B byte stream (start-code delimited NAL
// units, as written by ffmpeg -f h264 / -f hevc) into access units.
//
// A new access unit starts at an access unit delimiter, at a parameter set or
// SEI following a picture, or at a picture whose first slice begins the frame
// (H.264 first_mb_in_slice = 0, H.265 first_slice_segment_in_pic_flag = 1).
// An access unit is only known complete when the next one begins, so a live
// stream is delayed by one frame. Bytes before the first start code are
// ignored; trailing zero bytes of NAL units are removed.
//
// The zero value is not usable: set R and Codec.
type AccessUnitReader struct {
	R     io.Reader
	Codec string // "h264" or "h265"

	buf    []byte   // unread stream bytes; buf[0:] starts after a start code when synced
	synced bool     // a start code has been seen
	scan   int      // bytes of buf already searched for a start code
	au     [][]byte // NAL units of the access unit being assembled
	auSize int
	hasVCL bool
	eof    bool
}

// Next returns the next access unit. The returned NAL units are copies owned by
// the caller. At the end of the stream it returns io.EOF.
func (r *AccessUnitReader) Next() ([][]byte, error) {
	if r.Codec != H264 && r.Codec != H265 {
		return nil, fmt.Errorf("%w: %q", ErrUnknownCodec, r.Codec)
	}
	for {
		nalu, err := r.nextNALU()
		if err == io.EOF {
			if len(r.au) == 0 {
				return nil, io.EOF
			}
			return r.take(), nil
		}
		if err != nil {
			return nil, err
		}
		if r.startsNewAU(nalu) && len(r.au) != 0 {
			out := r.take()
			r.add(nalu)
			return out, nil
		}
		if r.auSize+len(nalu) > MaxAccessUnitSize {
			return nil, fmt.Errorf("segment: access unit larger than %d bytes", MaxAccessUnitSize)
		}
		r.add(nalu)
	}
}

func (r *AccessUnitReader) add(nalu []byte) {
	r.au = append(r.au, nalu)
	r.auSize += len(nalu)
	if r.isVCL(nalu) {
		r.hasVCL = true
	}
}

func (r *AccessUnitReader) take() [][]byte {
	out := r.au
	r.au, r.auSize, r.hasVCL = nil, 0, false
	return out
}

func (r *AccessUnitReader) isVCL(n []byte) bool {
	t := naluType(r.Codec, n)
	if r.Codec == H265 {
		return t < 32
	}
	return t >= 1 && t <= 5
}

// startsNewAU decides whether nalu begins a new access unit given the current one.
func (r *AccessUnitReader) startsNewAU(n []byte) bool {
	t := naluType(r.Codec, n)
	if r.Codec == H265 {
		switch {
		case t == 35: // AUD
			return true
		case t == 32 || t == 33 || t == 34 || t == 39 || (t >= 41 && t <= 44) || (t >= 48 && t <= 55):
			// VPS, SPS, PPS, prefix SEI, reserved prefix types
			return r.hasVCL
		case t < 32:
			// first_slice_segment_in_pic_flag is the first bit after the 2-byte header
			return r.hasVCL && len(n) > 2 && n[2]&0x80 != 0
		}
		return false
	}
	switch {
	case t == 9: // AUD
		return true
	case t == 6 || t == 7 || t == 8 || (t >= 14 && t <= 18):
		return r.hasVCL
	case t >= 1 && t <= 5:
		// first_mb_in_slice is ue(v) right after the header: 0 is the single bit 1
		return r.hasVCL && len(n) > 1 && n[1]&0x80 != 0
	}
	return false
}

// nextNALU returns the next non-empty NAL unit (a copy) or io.EOF.
func (r *AccessUnitReader) nextNALU() ([]byte, error) {
	for {
		if r.synced {
			if i := bytes.Index(r.buf[r.scan:], []byte{0, 0, 1}); i >= 0 {
				end := r.scan + i
				nalu := trimZeros(r.buf[:end])
				r.buf = r.buf[end+3:]
				r.scan = 0
				if len(nalu) != 0 {
					return bytes.Clone(nalu), nil
				}
				continue
			}
			// keep the last 2 bytes: they may start a start code
			r.scan = max(len(r.buf)-2, 0)
			if len(r.buf) > MaxAccessUnitSize {
				return nil, fmt.Errorf("segment: NAL unit larger than %d bytes", MaxAccessUnitSize)
			}
		} else {
			if i := bytes.Index(r.buf, []byte{0, 0, 1}); i >= 0 {
				r.buf = r.buf[i+3:]
				r.synced = true
				r.scan = 0
				continue
			}
			// discard garbage before the first start code, keeping 2 bytes
			if len(r.buf) > 2 {
				r.buf = append(r.buf[:0], r.buf[len(r.buf)-2:]...)
			}
		}

		if r.eof {
			if r.synced {
				nalu := trimZeros(r.buf)
				r.buf = nil
				r.synced = false
				if len(nalu) != 0 {
					return bytes.Clone(nalu), nil
				}
			}
			return nil, io.EOF
		}
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
}

// fill reads more bytes into buf, setting eof at the end of the stream.
func (r *AccessUnitReader) fill() error {
	if cap(r.buf)-len(r.buf) < 32<<10 {
		nb := make([]byte, len(r.buf), 2*cap(r.buf)+64<<10)
		copy(nb, r.buf)
		r.buf = nb
	}
	n, err := r.R.Read(r.buf[len(r.buf):cap(r.buf)])
	r.buf = r.buf[:len(r.buf)+n]
	if errors.Is(err, io.EOF) {
		r.eof = true
		return nil
	}
	return err
}

func trimZeros(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// MarshalAnnexB writes access units as an Annex-B byte stream (4-byte start
// codes), the inverse of AccessUnitReader for well-formed input.
func MarshalAnnexB(aus ...[][]byte) []byte {
	var out []byte
	for _, au := range aus {
		for _, n := range au {
			out = append(out, 0, 0, 0, 1)
			out = append(out, n...)
		}
	}
	return out
}
