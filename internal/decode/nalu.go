package decode

import (
	"encoding/hex"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// Codecs accepted in Config.Codec (the same names as internal/segment).
const (
	H264 = "h264"
	H265 = "h265"
)

// tagUUID marks the SEI the decoder puts in front of every picture it feeds
// to ffmpeg. It is ASCII "porchlight-time1": no zero bytes, so the SEI needs
// no emulation prevention.
var tagUUID = [16]byte{'p', 'o', 'r', 'c', 'h', 'l', 'i', 'g', 'h', 't', '-', 't', 'i', 'm', 'e', '1'}

// tagUUIDHex is tagUUID as showinfo prints it, without the dashes.
var tagUUIDHex = hex.EncodeToString(tagUUID[:])

// tagLen is the length of the SEI payload after the UUID: a sequence
// number as 16 letters 'a'+nibble, most significant first (fixed width, no
// zero bytes).
const tagLen = 16

func naluType(codec string, n []byte) int {
	if codec == H265 {
		return int(n[0]>>1) & 0x3f
	}
	return int(n[0] & 0x1f)
}

func isVCL(codec string, n []byte) bool {
	t := naluType(codec, n)
	if codec == H265 {
		return t < 32
	}
	return t >= 1 && t <= 5
}

// isIDRNALU reports an IDR slice (H.265 IDR_W_RADL/IDR_N_LP; CRA is not a
// clean start, see internal/segment).
func isIDRNALU(codec string, n []byte) bool {
	t := naluType(codec, n)
	if codec == H265 {
		return t == int(h265.NALUType_IDR_W_RADL) || t == int(h265.NALUType_IDR_N_LP)
	}
	return t == int(h264.NALUTypeIDR)
}

func isAUD(codec string, n []byte) bool {
	t := naluType(codec, n)
	if codec == H265 {
		return t == int(h265.NALUType_AUD_NUT)
	}
	return t == int(h264.NALUTypeAccessUnitDelimiter)
}

// paramKind is 'v', 's' or 'p' for VPS, SPS and PPS, 0 otherwise.
func paramKind(codec string, n []byte) byte {
	t := naluType(codec, n)
	if codec == H265 {
		switch h265.NALUType(t) {
		case h265.NALUType_VPS_NUT:
			return 'v'
		case h265.NALUType_SPS_NUT:
			return 's'
		case h265.NALUType_PPS_NUT:
			return 'p'
		}
		return 0
	}
	switch h264.NALUType(t) {
	case h264.NALUTypeSPS:
		return 's'
	case h264.NALUTypePPS:
		return 'p'
	}
	return 0
}

// spsSize returns the picture size an SPS declares (after cropping).
func spsSize(codec string, sps []byte) (w, h int, ok bool) {
	defer func() {
		// The SPS parsers are defensive, but this is camera input: a panic
		// in them must not take the recorder down.
		if recover() != nil {
			w, h, ok = 0, 0, false
		}
	}()
	if codec == H265 {
		var s h265.SPS
		if s.Unmarshal(sps) != nil {
			return 0, 0, false
		}
		return s.Width(), s.Height(), s.Width() > 0 && s.Height() > 0
	}
	var s h264.SPS
	if s.Unmarshal(sps) != nil {
		return 0, 0, false
	}
	return s.Width(), s.Height(), s.Width() > 0 && s.Height() > 0
}

// tagSEI returns a user-data-unregistered SEI NAL unit carrying seq.
func tagSEI(codec string, seq uint64) []byte {
	var b []byte
	if codec == H265 {
		b = append(b, 39<<1, 0x01) // PREFIX_SEI_NUT, layer 0, temporal id 0
	} else {
		b = append(b, 0x06) // SEI
	}
	b = append(b, 5, 16+tagLen) // payload type user_data_unregistered, size
	b = append(b, tagUUID[:]...)
	for i := tagLen - 1; i >= 0; i-- {
		b = append(b, 'a'+byte(seq>>(4*i)&0xf))
	}
	return append(b, 0x80) // rbsp trailing bits
}

// parseTag decodes the user data after the UUID, as bytes.
func parseTag(data []byte) (uint64, bool) {
	if len(data) != tagLen {
		return 0, false
	}
	var seq uint64
	for _, c := range data {
		if c < 'a' || c > 'p' {
			return 0, false
		}
		seq = seq<<4 | uint64(c-'a')
	}
	return seq, true
}

// annexB writes pre then au as an Annex-B stream, with sei in front of the
// first VCL NAL unit of au. Empty NAL units and access unit delimiters of au
// are left out (a delimiter would have to come before pre), and so are
// parameter sets unless keepParams (they only take effect at an IDR).
func annexB(codec string, pre, au [][]byte, sei []byte, keepParams bool) []byte {
	size := len(sei) + 4 + 7
	for _, n := range pre {
		size += len(n) + 4
	}
	for _, n := range au {
		size += len(n) + 4
	}
	out := make([]byte, 0, size)
	for _, n := range pre {
		out = append(out, 0, 0, 0, 1)
		out = append(out, n...)
	}
	for _, n := range au {
		if len(n) == 0 || isAUD(codec, n) || (!keepParams && paramKind(codec, n) != 0) {
			continue
		}
		if sei != nil && isVCL(codec, n) {
			out = append(out, 0, 0, 0, 1)
			out = append(out, sei...)
			sei = nil
		}
		out = append(out, 0, 0, 0, 1)
		out = append(out, n...)
	}
	// An access unit delimiter at the end lets ffmpeg's parser see that
	// the picture is complete now, not when the next one arrives (40 ms at
	// 25 fps). It is the first NAL unit of the next access unit.
	if codec == H265 {
		out = append(out, 0, 0, 0, 1, 35<<1, 1, 0x50) // AUD_NUT, pic_type 2 (any)
	} else {
		out = append(out, 0, 0, 0, 1, 9, 0xf0) // AUD, primary_pic_type 7 (any)
	}
	return out
}
