package segment

import (
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// paramKind classifies parameter-set NAL units.
type paramKind int

const (
	paramNone paramKind = iota
	paramVPS
	paramSPS
	paramPPS
)

// naluType returns the NAL unit type of a non-empty NAL unit.
func naluType(codec string, n []byte) int {
	if codec == H265 {
		return int(n[0]>>1) & 0x3f
	}
	return int(n[0] & 0x1f)
}

func paramType(codec string, n []byte) paramKind {
	if len(n) == 0 {
		return paramNone
	}
	t := naluType(codec, n)
	if codec == H265 {
		switch h265.NALUType(t) {
		case h265.NALUType_VPS_NUT:
			return paramVPS
		case h265.NALUType_SPS_NUT:
			return paramSPS
		case h265.NALUType_PPS_NUT:
			return paramPPS
		}
		return paramNone
	}
	switch h264.NALUType(t) {
	case h264.NALUTypeSPS:
		return paramSPS
	case h264.NALUTypePPS:
		return paramPPS
	}
	return paramNone
}

// isIDR reports whether an access unit holds an IDR picture: H.264 type 5,
// H.265 IDR_W_RADL or IDR_N_LP. H.265 CRA and BLA are deliberately excluded:
// the RASL pictures after a CRA reference frames before it, so a segment
// starting at a CRA would begin with undecodable frames.
func isIDR(codec string, au [][]byte) bool {
	for _, n := range au {
		t := naluType(codec, n)
		if codec == H265 {
			if t == int(h265.NALUType_IDR_W_RADL) || t == int(h265.NALUType_IDR_N_LP) {
				return true
			}
		} else if t == int(h264.NALUTypeIDR) {
			return true
		}
	}
	return false
}

// isAUD reports whether n is an access unit delimiter, which MP4 samples must
// not carry.
func isAUD(codec string, n []byte) bool {
	if codec == H265 {
		return naluType(codec, n) == int(h265.NALUType_AUD_NUT)
	}
	return naluType(codec, n) == int(h264.NALUTypeAccessUnitDelimiter)
}

// cleanAU drops empty NAL units and access unit delimiters. It returns au
// itself when nothing needs dropping.
func cleanAU(codec string, au [][]byte) [][]byte {
	clean := true
	for _, n := range au {
		if len(n) == 0 || isAUD(codec, n) {
			clean = false
			break
		}
	}
	if clean {
		return au
	}
	out := make([][]byte, 0, len(au))
	for _, n := range au {
		if len(n) != 0 && !isAUD(codec, n) {
			out = append(out, n)
		}
	}
	return out
}

// IsIDR reports whether an access unit (NAL units without start codes) of
// codec ("h264" or "h265") is a random access point a decoder can start at.
func IsIDR(codec string, au [][]byte) bool { return isIDR(codec, au) }

// HasSPS reports whether an access unit carries its sequence parameter set.
func HasSPS(codec string, au [][]byte) bool {
	for _, n := range au {
		if paramType(codec, n) == paramSPS {
			return true
		}
	}
	return false
}
