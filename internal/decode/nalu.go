package decode

import (
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// Codecs accepted in Config.Codec (the same names as internal/segment).
const (
	H264 = "h264"
	H265 = "h265"
)

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

// annexB writes pre then au as an Annex-B access unit. Empty NAL units and
// access unit delimiters of au are left out (a delimiter would have to come
// before pre), and so are parameter sets unless keepParams (they only take
// effect at an IDR).
func annexB(codec string, pre, au [][]byte, keepParams bool) []byte {
	size := 0
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
		out = append(out, 0, 0, 0, 1)
		out = append(out, n...)
	}
	return out
}
