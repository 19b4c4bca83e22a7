package segment

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestConcatDecodesEveryFrame(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts encodeOpts
	}{
		{"h264", encodeOpts{codec: H264, seconds: 4, gop: 20}},
		{"h264-bframes", encodeOpts{codec: H264, seconds: 4, gop: 20, bframes: true}},
		{"h265", encodeOpts{codec: H265, seconds: 4, gop: 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := mustEncode(t, tc.opts)
			aus := mustReadAUs(t, src, tc.opts.codec)
			segs := cut(t, &Cutter{Codec: tc.opts.codec, Min: time.Second}, testAnchor, aus)
			if len(segs) < 3 {
				t.Fatalf("%d segments, want several", len(segs))
			}
			var datas [][]byte
			for _, s := range segs {
				datas = append(datas, s.Data)
			}
			var out bytes.Buffer
			if err := Concat(&out, datas); err != nil {
				t.Fatal(err)
			}
			path := mustWriteFile(t, "out.mp4", out.Bytes())

			p := mustProbe(t, path)
			if p.Frames != len(aus) {
				t.Errorf("ffprobe: %d frames, want %d", p.Frames, len(aus))
			}
			want := mustFrameMD5(t, src)
			got := mustFrameMD5(t, path)
			if len(want) != len(aus) {
				t.Fatalf("source decodes to %d frames, want %d", len(want), len(aus))
			}
			if !slices.Equal(got, want) {
				t.Errorf("framemd5 of the export differs from the source (%d vs %d frames)", len(got), len(want))
			}
		})
	}
}

// packetTimes returns the DTS (seconds) of every video packet of a file.
func packetTimes(t *testing.T, path string) []float64 {
	t.Helper()
	b, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "packet=dts_time", "-of", "json", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Packets []struct {
			DTS string `json:"dts_time"`
		} `json:"packets"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, p := range v.Packets {
		f, err := strconv.ParseFloat(p.DTS, 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

func TestConcatClosesGaps(t *testing.T) {
	aus := mustReadAUs(t, mustEncode(t, encodeOpts{codec: H264, seconds: 4, gop: 25}), H264)
	segs := cut(t, &Cutter{Min: time.Second}, testAnchor, aus)
	if len(segs) != 4 {
		t.Fatalf("%d segments, want 4", len(segs))
	}
	// drop the second segment: a one-second hole on the wall clock
	var out bytes.Buffer
	if err := Concat(&out, [][]byte{segs[0].Data, segs[2].Data, segs[3].Data}); err != nil {
		t.Fatal(err)
	}
	path := mustWriteFile(t, "gap.mp4", out.Bytes())
	dts := packetTimes(t, path)
	if len(dts) != 75 {
		t.Fatalf("%d packets, want 75", len(dts))
	}
	for i := 1; i < len(dts); i++ {
		if d := dts[i] - dts[i-1]; d < 0.039 || d > 0.041 {
			t.Fatalf("packet %d: DTS step %.3fs, want 0.040 (continuous)", i, d)
		}
	}
	if dts[0] != 0 {
		t.Errorf("output starts at %v, want 0", dts[0])
	}
}

func TestConcatRejectsGarbage(t *testing.T) {
	aus := mustReadAUs(t, mustEncode(t, encodeOpts{codec: H264, seconds: 1, gop: 25}), H264)
	segs := cut(t, &Cutter{}, testAnchor, aus)
	good := segs[0].Data
	for _, tc := range []struct {
		name string
		segs [][]byte
	}{
		{"none", nil},
		{"empty", [][]byte{{}}},
		{"truncated", [][]byte{good[:len(good)-10]}},
		{"fragment only", [][]byte{good[len(segs[0].Init):]}},
		{"second truncated", [][]byte{good, good[:100]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Concat(&out, tc.segs); err == nil {
				t.Error("Concat succeeded")
			}
			if out.Len() != 0 {
				t.Errorf("Concat wrote %d bytes before failing", out.Len())
			}
		})
	}
}

// FuzzConcat checks that no input makes Concat panic, and that whatever it
// accepts it accepts again (its output is itself a valid one-segment input).
func FuzzConcat(f *testing.F) {
	aus := mustReadAUs(f, mustEncode(f, encodeOpts{codec: H264, seconds: 0.4, gop: 5, size: "64x48"}), H264)
	for _, s := range cut(f, &Cutter{Min: 100 * time.Millisecond}, testAnchor, aus) {
		f.Add(s.Data)
		f.Add(s.Data[:len(s.Data)/2])
	}
	f.Add([]byte{0, 0, 0, 8, 'f', 't', 'y', 'p'})
	f.Add([]byte{0, 0, 0, 1, 'f', 't', 'y', 'p', 0, 0, 0, 0, 0, 0, 0, 16})
	f.Fuzz(func(t *testing.T, b []byte) {
		var out bytes.Buffer
		if err := Concat(&out, [][]byte{b, b}); err != nil {
			return
		}
		var again bytes.Buffer
		if err := Concat(&again, [][]byte{out.Bytes()}); err != nil {
			t.Fatalf("Concat rejects its own output: %v", err)
		}
	})
}
