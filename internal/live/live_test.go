package live

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/segment"
	"github.com/porchlight/porchlight/internal/testutil"
)

// encode makes a 25 fps test stream (raw Annex-B, no B-frames, an IDR
// every gop frames) and returns its access units.
func encode(t *testing.T, codec string, frames, gop int) [][][]byte {
	t.Helper()
	testutil.RequireFFmpeg(t)
	g := strconv.Itoa(gop)
	out := filepath.Join(t.TempDir(), "in."+codec)
	args := []string{"-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
		"-frames:v", strconv.Itoa(frames), "-pix_fmt", "yuv420p"}
	if codec == segment.H265 {
		args = append(args, "-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
			"log-level=error:keyint="+g+":min-keyint="+g+":scenecut=0:bframes=0:open-gop=0", "-f", "hevc")
	} else {
		args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-g", g, "-keyint_min", g, "-sc_threshold", "0", "-bf", "0", "-f", "h264")
	}
	if b, err := exec.Command("ffmpeg", append(args, "-y", out)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := &segment.AccessUnitReader{R: f, Codec: codec}
	var aus [][][]byte
	for {
		au, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		aus = append(aus, au)
	}
	if len(aus) != frames {
		t.Fatalf("%d access units, want %d", len(aus), frames)
	}
	return aus
}

// probe decodes an fMP4 file with ffmpeg and returns the number of frames
// decoded, failing on any decoder error; and ffprobe's profile and level.
func probe(t *testing.T, data []byte) (frames int, profile string, level int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "live.mp4")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames,profile,level", "-of", "json", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	var p struct {
		Streams []struct {
			Frames  string `json:"nb_read_frames"`
			Profile string `json:"profile"`
			Level   int    `json:"level"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &p); err != nil || len(p.Streams) != 1 {
		t.Fatalf("ffprobe output %s: %v", out, err)
	}
	n, _ := strconv.Atoi(p.Streams[0].Frames)
	dec, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(dec)) > 0 {
		t.Fatalf("ffmpeg decode: %v\n%s", err, dec)
	}
	return n, p.Streams[0].Profile, p.Streams[0].Level
}

const frameDur = 40 * time.Millisecond

func TestFragmenterDecodes(t *testing.T) {
	for _, codec := range []string{segment.H264, segment.H265} {
		t.Run(codec, func(t *testing.T) {
			const n, gop = 60, 25
			aus := encode(t, codec, n, gop)
			var f Fragmenter
			anchor := time.Now()
			var stream bytes.Buffer
			var joined bytes.Buffer // a viewer joining at frame 35, mid-GOP
			joinAt, joinedFrames := 35, 0
			var lastDTS int64 = -1
			for i, au := range aus {
				fr, err := f.WriteAccessUnit(codec, nil, anchor, time.Duration(i)*frameDur, au, anchor.Add(time.Duration(i)*frameDur))
				if err != nil {
					t.Fatal(err)
				}
				if fr == nil {
					t.Fatalf("frame %d not taken", i)
				}
				if fr.IDR != (i%gop == 0) {
					t.Fatalf("frame %d: IDR %v", i, fr.IDR)
				}
				if fr.dts <= lastDTS {
					t.Fatalf("frame %d: decode time %d after %d", i, fr.dts, lastDTS)
				}
				lastDTS = fr.dts
				if i == 0 {
					_, init, mime := f.Stream()
					if init == nil || !strings.HasPrefix(mime, `video/mp4; codecs="`+map[string]string{"h264": "avc1.", "h265": "hvc1."}[codec]) {
						t.Fatalf("init %d bytes, mime %q", len(init), mime)
					}
					stream.Write(init)
				}
				stream.Write(f.Fragment(fr))
				if i == joinAt {
					_, init, _, media, received, ok := f.Join()
					if !ok || !received.Equal(anchor.Add(25*frameDur)) {
						t.Fatalf("join: ok %v, received %v", ok, received)
					}
					joined.Write(init)
					joined.Write(media)
					joinedFrames = i - 25 + 1
				} else if i > joinAt {
					joined.Write(f.Fragment(fr))
					joinedFrames++
				}
			}
			got, profile, level := probe(t, stream.Bytes())
			if got != n {
				t.Fatalf("decoded %d frames, want %d", got, n)
			}
			if got, _, _ := probe(t, joined.Bytes()); got != joinedFrames {
				t.Fatalf("joiner decoded %d frames, want %d", got, joinedFrames)
			}
			// The codec string agrees with what ffprobe reads from the SPS.
			_, _, mime := f.Stream()
			cs := strings.TrimSuffix(strings.TrimPrefix(mime, `video/mp4; codecs="`), `"`)
			switch codec {
			case segment.H264:
				want := map[string]string{"High": "64", "Main": "4d", "Constrained Baseline": "42"}[profile]
				if want == "" || !strings.HasPrefix(cs, "avc1."+want) || !strings.HasSuffix(cs, strconv.FormatInt(int64(level)+0x100, 16)[1:]) {
					t.Fatalf("codec string %q for profile %q level %d", cs, profile, level)
				}
			case segment.H265:
				if profile != "Main" || !strings.HasPrefix(cs, "hvc1.1.6.L"+strconv.Itoa(level)+".") {
					t.Fatalf("codec string %q for profile %q level %d", cs, profile, level)
				}
			}
		})
	}
}

func TestCodecString(t *testing.T) {
	cases := []struct {
		codec string
		sps   []byte
		want  string
	}{
		{segment.H264, []byte{0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9}, "avc1.64001f"},
		{segment.H264, []byte{0x67, 0x42, 0xc0, 0x1e, 0x95}, "avc1.42c01e"},
		// H.265 Main, level 3.1 (93), progressive + frame-only constraint
		// flags (0x90), compatibility flags 1 and 2.
		{segment.H265, []byte{0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0x00, 0x00, 0x5d, 0xa0}, "hvc1.1.6.L93.90"},
		// Main 10, high tier, level 5.1 (153), constraint bytes B0 then 0x03 after emulation prevention.
		{segment.H265, []byte{0x42, 0x01, 0x01, 0x22, 0x20, 0x00, 0x00, 0x00, 0xb0, 0x00, 0x00, 0x03, 0x03, 0x00, 0x00, 0x99}, "hvc1.2.4.H153.B0.0.0.3"},
	}
	for _, c := range cases {
		got, err := CodecString(c.codec, c.sps)
		if err != nil || got != c.want {
			t.Errorf("CodecString(%s, % x) = %q, %v; want %q", c.codec, c.sps, got, err, c.want)
		}
	}
	if _, err := CodecString(segment.H264, []byte{0x68, 1, 2, 3}); err == nil {
		t.Error("a PPS taken for an SPS")
	}
}

// TestFragmenterStreams checks that a new anchor (the camera reconnected)
// starts a new stream that waits for an IDR, and that the GOP cache is
// bounded.
func TestFragmenterStreams(t *testing.T) {
	aus := encode(t, segment.H264, 30, 10)
	var f Fragmenter
	a1, a2 := time.Now(), time.Now().Add(time.Hour)
	for i := range 5 {
		if _, err := f.WriteAccessUnit(segment.H264, nil, a1, time.Duration(i)*frameDur, aus[i], a1); err != nil {
			t.Fatal(err)
		}
	}
	s1, _, _ := f.Stream()
	fr, err := f.WriteAccessUnit(segment.H264, nil, a2, 0, aus[5], a2)
	if err != nil || fr != nil {
		t.Fatalf("a non-IDR frame started a new stream: %v %v", fr, err)
	}
	if _, _, _, _, _, ok := f.Join(); ok {
		t.Fatal("join offered before the new stream's IDR")
	}
	fr, err = f.WriteAccessUnit(segment.H264, nil, a2, 0, aus[10], a2)
	if err != nil || fr == nil || !fr.IDR || fr.Stream == s1 || fr.dts != 0 {
		t.Fatalf("new stream's IDR: %+v %v", fr, err)
	}
	f.Reset()
	if _, _, _, _, _, ok := f.Join(); ok {
		t.Fatal("join offered after Reset")
	}
	// A GOP over MaxGOP is not cached.
	big := [][]byte{bytes.Repeat([]byte{0x41, 0x9a}, MaxGOP/2+1)} // a non-IDR slice NAL unit
	f.WriteAccessUnit(segment.H264, nil, a2, 0, aus[20], a2)
	if _, _, _, _, _, ok := f.Join(); !ok {
		t.Fatal("no join at an IDR")
	}
	f.WriteAccessUnit(segment.H264, nil, a2, frameDur, big, a2)
	if _, _, _, _, _, ok := f.Join(); ok {
		t.Fatal("a GOP larger than MaxGOP was cached")
	}
}
