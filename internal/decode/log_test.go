package decode

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ourData is "User Data=" for tag 0x12.
var ourData = hex.EncodeToString(tagSEI(H264, 0x12)[3+16 : 3+16+tagLen])

var logCases = []struct {
	name   string
	log    string
	frames []frameInfo
	errs   []string
}{
	{
		name: "tagged frame then untagged",
		log: `[info] Stream mapping:
[Parsed_showinfo_3 @ 0x55ccbbc63740] [info] config in time_base: 1/5, frame_rate: 5/1
[Parsed_showinfo_3 @ 0x55ccbbc63740] [info] n:   0 pts:      0 pts_time:0       pos:    11367 fmt:gray sar:1/1 s:640x480 i:P iskey:0 type:P 
[Parsed_showinfo_3 @ 0x55ccbbc63740] [info]   side data - User Data Unregistered:
[Parsed_showinfo_3 @ 0x55ccbbc63740] [info] UUID=dc45e9bd-e6d9-48b7-962c-d820d923eeef
[Parsed_showinfo_3 @ 0x55ccbbc63740] [info] User Data=78323634202d20636f7265
[Parsed_showinfo_3 @ 0x55ccbbc63740] [info] 
[Parsed_showinfo_3 @ 0x55ccbbc63740] [info]   side data - User Data Unregistered:
[Parsed_showinfo_3 @ 0x55ccbbc63740] [info] UUID=706f7263-686c-6967-6874-2d74696d6531
[Parsed_showinfo_3 @ 0x55ccbbc63740] [info] User Data=` + ourData + `
[Parsed_showinfo_3 @ 0x55ccbbc63740] [info] 
[Parsed_showinfo_3 @ 0x55ccbbc63740] [info] color_range:pc color_space:unknown color_primaries:unknown color_trc:unknown
[h264 @ 0x55ccbbc5f2c0] [error] error while decoding MB 3 4, bytestream -5
[Parsed_showinfo_3 @ 0x55ccbbc63740] [info] n:   1 pts:      1 pts_time:0.2     pos:    29757 fmt:rgb24 sar:1/1 s:320x180 i:P iskey:0 type:P 
[Parsed_showinfo_3 @ 0x55ccbbc63740] [info] color_range:pc color_space:unknown color_primaries:unknown color_trc:unknown
[fatal] Conversion failed!`,
		frames: []frameInfo{
			{N: 0, W: 640, H: 480, PixFmt: "gray", Seq: 0x12, Tagged: true},
			{N: 1, W: 320, H: 180, PixFmt: "rgb24"},
		},
		errs: []string{"h264: error while decoding MB 3 4, bytestream -5", "Conversion failed!"},
	},
	{
		name: "frame ended by the next one and by the end of the log",
		log: `[Parsed_showinfo_2 @ 0x1] [info] n:   7 pts: 7 fmt:gray s:16x8
[Parsed_showinfo_2 @ 0x1] [info] n:   8 pts: 8 fmt:gray s:16x8
[Parsed_showinfo_2 @ 0x1] [info] UUID=706f7263-686c-6967-6874-2d74696d6531
[Parsed_showinfo_2 @ 0x1] [info] User Data=` + ourData,
		frames: []frameInfo{
			{N: 7, W: 16, H: 8, PixFmt: "gray"},
			{N: 8, W: 16, H: 8, PixFmt: "gray", Seq: 0x12, Tagged: true},
		},
	},
	{
		name: "unreadable frame line, bad tags",
		log: `[Parsed_showinfo_2 @ 0x1] [info] n:   0 pts: 0 fmt:gray s:16by8
[Parsed_showinfo_2 @ 0x1] [info] color_range:pc
[Parsed_showinfo_2 @ 0x1] [info] n:   1 pts: 0 fmt:gray s:16x8
[Parsed_showinfo_2 @ 0x1] [info] UUID=706f7263-686c-6967-6874-2d74696d6531
[Parsed_showinfo_2 @ 0x1] [info] User Data=6161
[Parsed_showinfo_2 @ 0x1] [info] UUID=706f7263-686c-6967-6874-2d74696d6531
[Parsed_showinfo_2 @ 0x1] [info] User Data=7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a
[Parsed_showinfo_2 @ 0x1] [info] color_range:pc
[other @ 0x1] [info] n:   9 pts: 0 fmt:gray s:16x8
[info] UUID=706f7263-686c-6967-6874-2d74696d6531`,
		frames: []frameInfo{
			{N: -1},
			{N: 1, W: 16, H: 8, PixFmt: "gray"},
		},
	},
}

func runParser(log string) (frames []frameInfo, errs []string) {
	p := &logParser{
		onFrame: func(fi frameInfo) { frames = append(frames, fi) },
		onError: func(msg string) { errs = append(errs, msg) },
	}
	for _, l := range strings.Split(log, "\n") {
		p.line(l)
	}
	p.flush()
	return frames, errs
}

func TestLogParser(t *testing.T) {
	for _, tc := range logCases {
		t.Run(tc.name, func(t *testing.T) {
			frames, errs := runParser(tc.log)
			if diff := cmp.Diff(tc.frames, frames); diff != "" {
				t.Errorf("frames (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.errs, errs); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzLogParser(f *testing.F) {
	for _, tc := range logCases {
		f.Add(tc.log)
	}
	f.Fuzz(func(t *testing.T, log string) {
		frames, _ := runParser(log)
		for _, fi := range frames {
			if fi.N >= 0 && (fi.W <= 0 || fi.H <= 0 || fi.W > 1<<14 || fi.H > 1<<14 || fi.PixFmt == "") {
				t.Errorf("accepted frame %+v", fi)
			}
		}
	})
}

func TestTagSEI(t *testing.T) {
	for _, codec := range []string{H264, H265} {
		for _, seq := range []uint64{0, 1, 0x12, 1<<40 + 7, ^uint64(0)} {
			sei := tagSEI(codec, seq)
			if bytes.Contains(sei, []byte{0, 0}) {
				t.Errorf("%s %d: SEI %x has two zero bytes in a row (would need emulation prevention)", codec, seq, sei)
			}
			if !isSEI(codec, sei) || isVCL(codec, sei) {
				t.Errorf("%s: %x is not an SEI NAL unit", codec, sei)
			}
			hdr := 1
			if codec == H265 {
				hdr = 2
			}
			body := sei[hdr:]
			if body[0] != 5 || int(body[1]) != len(body)-3 || !bytes.Equal(body[2:18], tagUUID[:]) || body[len(body)-1] != 0x80 {
				t.Errorf("%s: malformed SEI %x", codec, sei)
			}
			got, ok := parseTag(body[18 : len(body)-1])
			if !ok || got != seq {
				t.Errorf("%s: tag %d came back as %d, %v", codec, seq, got, ok)
			}
		}
	}
	for _, bad := range []string{"", "aaaa", "aaaaaaaaaaaaaaaq", "aaaaaaaaaaaaaaaaa"} {
		if _, ok := parseTag([]byte(bad)); ok {
			t.Errorf("parseTag(%q) accepted", bad)
		}
	}
}

func isSEI(codec string, n []byte) bool {
	if codec == H265 {
		return naluType(codec, n) == 39
	}
	return naluType(codec, n) == 6
}

func TestAnnexB(t *testing.T) {
	sps, pps := []byte{0x67, 1}, []byte{0x68, 2}
	aud, sei, idr, slice := []byte{0x09, 0xf0}, []byte{0x06, 9}, []byte{0x65, 0x88}, []byte{0x65, 0x44}
	// the input's AUD is left out; one ends the output
	tag := []byte{0x06, 0x05}
	got := annexB(H264, [][]byte{sps, pps}, [][]byte{aud, sei, {}, idr, slice}, tag, true)
	want := bytes.Join([][]byte{nil, sps, pps, sei, tag, idr, slice, aud}, []byte{0, 0, 0, 1})
	if !bytes.Equal(got, want) {
		t.Errorf("annexB:\n got %x\nwant %x", got, want)
	}
	got = annexB(H264, nil, [][]byte{sps, pps, slice}, tag, false)
	want = bytes.Join([][]byte{nil, tag, slice, aud}, []byte{0, 0, 0, 1})
	if !bytes.Equal(got, want) {
		t.Errorf("annexB without parameter sets:\n got %x\nwant %x", got, want)
	}
}
