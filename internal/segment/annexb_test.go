package segment

import (
	"bytes"
	"io"
	"slices"
	"testing"
	"testing/iotest"
)

// Hand-made NAL units (header byte(s) then a little payload).
var (
	h264AUD    = []byte{0x09, 0xf0}
	h264SPS    = []byte{0x67, 0x42, 0xc0, 0x1e}
	h264PPS    = []byte{0x68, 0xce, 0x3c, 0x80}
	h264SEI    = []byte{0x06, 0x05, 0x01, 0x80}
	h264IDR    = []byte{0x65, 0x88, 0x84, 0x21} // first_mb_in_slice = 0
	h264Slice0 = []byte{0x41, 0x9a, 0x02, 0x03} // non-IDR, first_mb_in_slice = 0
	h264Slice1 = []byte{0x41, 0x4a, 0x02, 0x03} // non-IDR, first_mb_in_slice != 0
	h265IDR    = []byte{0x26, 0x01, 0xaf, 0x10} // IDR_W_RADL, first slice
	h265Trail0 = []byte{0x02, 0x01, 0xd0, 0x10} // TRAIL_R, first slice
	h265Trail1 = []byte{0x02, 0x01, 0x50, 0x10} // TRAIL_R, later slice
	h265VPS    = []byte{0x40, 0x01, 0x0c, 0x01} // VPS
	h265AUD    = []byte{0x46, 0x01, 0x50}       // AUD
)

var annexBCases = []struct {
	name  string
	codec string
	in    []byte
	want  [][][]byte
}{
	{
		name:  "h264 with AUDs",
		codec: H264,
		in:    MarshalAnnexB([][]byte{h264AUD, h264SPS, h264PPS, h264IDR}, [][]byte{h264AUD, h264Slice0}),
		want:  [][][]byte{{h264AUD, h264SPS, h264PPS, h264IDR}, {h264AUD, h264Slice0}},
	},
	{
		name:  "h264 without AUDs, multi-slice",
		codec: H264,
		in:    MarshalAnnexB([][]byte{h264SPS, h264PPS, h264IDR}, [][]byte{h264Slice0, h264Slice1}, [][]byte{h264SEI, h264Slice0}),
		want:  [][][]byte{{h264SPS, h264PPS, h264IDR}, {h264Slice0, h264Slice1}, {h264SEI, h264Slice0}},
	},
	{
		name:  "garbage prefix, 3-byte start codes, trailing zeros",
		codec: H264,
		in: slices.Concat([]byte{0xff, 0x00, 0x12}, []byte{0, 0, 1}, h264SPS, []byte{0, 0, 1}, h264PPS,
			[]byte{0, 0, 1}, h264IDR, []byte{0, 0, 0, 0, 0, 1}, h264Slice0, []byte{0, 0}),
		want: [][][]byte{{h264SPS, h264PPS, h264IDR}, {h264Slice0}},
	},
	{
		name:  "h265",
		codec: H265,
		in:    MarshalAnnexB([][]byte{h265AUD, h265VPS, h265IDR}, [][]byte{h265Trail0, h265Trail1}, [][]byte{h265Trail0}),
		want:  [][][]byte{{h265AUD, h265VPS, h265IDR}, {h265Trail0, h265Trail1}, {h265Trail0}},
	},
	{
		name:  "empty",
		codec: H264,
		in:    nil,
		want:  nil,
	},
	{
		name:  "no start code",
		codec: H264,
		in:    []byte{1, 2, 3, 4, 5},
		want:  nil,
	},
}

func readAll(r *AccessUnitReader) ([][][]byte, error) {
	var out [][][]byte
	for {
		au, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, au)
	}
}

func equalAUs(a, b [][][]byte) bool {
	return slices.EqualFunc(a, b, func(x, y [][]byte) bool {
		return slices.EqualFunc(x, y, bytes.Equal)
	})
}

func TestAccessUnitReader(t *testing.T) {
	for _, tc := range annexBCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, oneByte := range []bool{false, true} {
				var r io.Reader = bytes.NewReader(tc.in)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				got, err := readAll(&AccessUnitReader{R: r, Codec: tc.codec})
				if err != nil {
					t.Fatal(err)
				}
				if !equalAUs(got, tc.want) {
					t.Errorf("oneByte=%v: got %x, want %x", oneByte, got, tc.want)
				}
			}
		})
	}
}

func TestAccessUnitReaderFFmpegStream(t *testing.T) {
	for _, codec := range []string{H264, H265} {
		t.Run(codec, func(t *testing.T) {
			aus := mustReadAUs(t, mustEncode(t, encodeOpts{codec: codec, seconds: 2, gop: 25}), codec)
			if len(aus) != 50 {
				t.Errorf("%d access units, want 50", len(aus))
			}
			for i, a := range aus {
				if got, want := isIDR(codec, a.au), i%25 == 0; got != want {
					t.Errorf("access unit %d: IDR %v, want %v", i, got, want)
				}
			}
		})
	}
}

// FuzzAccessUnitReader checks that the reader never panics, returns only
// non-empty NAL units, and that re-reading its marshalled output is a fixed
// point (no NAL unit is lost, split or merged on a second pass).
func FuzzAccessUnitReader(f *testing.F) {
	for _, tc := range annexBCases {
		f.Add(tc.in, tc.codec == H265)
	}
	f.Fuzz(func(t *testing.T, in []byte, hevc bool) {
		codec := H264
		if hevc {
			codec = H265
		}
		first, err := readAll(&AccessUnitReader{R: bytes.NewReader(in), Codec: codec})
		if err != nil {
			return
		}
		for _, au := range first {
			if len(au) == 0 {
				t.Fatal("empty access unit")
			}
			for _, n := range au {
				if len(n) == 0 || n[len(n)-1] == 0 || bytes.Contains(n, []byte{0, 0, 1}) {
					t.Fatalf("bad NAL unit %x", n)
				}
			}
		}
		second, err := readAll(&AccessUnitReader{R: bytes.NewReader(MarshalAnnexB(first...)), Codec: codec})
		if err != nil {
			t.Fatal(err)
		}
		if !equalAUs(first, second) {
			t.Fatalf("not a fixed point:\n%x\n%x", first, second)
		}
	})
}
