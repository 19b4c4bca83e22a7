package segment

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"

	"github.com/porchlight/porchlight/internal/testutil"
)

// requireFFmpeg fails the test when ffmpeg/ffprobe are missing: setup installs
// them, so a missing binary is a broken machine, not a reason to skip.
// encodeOpts describes a synthetic test stream.
type encodeOpts struct {
	codec   string
	seconds float64
	gop     int
	size    string // default 160x120
	bframes bool   // H.264 only; output is MPEG-TS to keep timestamps
	openGOP bool   // H.265 only: x265's default CRA keyframes
}

// mustEncode makes a 25 fps test stream with ffmpeg and returns its path:
// raw Annex-B, or MPEG-TS when o.bframes.
func mustEncode(tb testing.TB, o encodeOpts) string {
	tb.Helper()
	testutil.RequireFFmpeg(tb)
	if o.size == "" {
		o.size = "160x120"
	}
	g := strconv.Itoa(o.gop)
	args := []string{"-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "testsrc2=size=" + o.size + ":rate=25", "-t", strconv.FormatFloat(o.seconds, 'f', -1, 64),
		"-pix_fmt", "yuv420p"}
	var out string
	switch {
	case o.codec == H265:
		params := "log-level=error:keyint=" + g + ":min-keyint=" + g + ":scenecut=0:bframes=0"
		if !o.openGOP {
			params += ":open-gop=0"
		}
		out = "in.h265"
		args = append(args, "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", params, "-f", "hevc")
	case o.bframes:
		out = "in.ts"
		args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-g", g, "-keyint_min", g,
			"-sc_threshold", "0", "-bf", "2", "-f", "mpegts")
	default:
		out = "in.h264"
		args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-g", g, "-keyint_min", g,
			"-sc_threshold", "0", "-bf", "0", "-f", "h264")
	}
	out = filepath.Join(tb.TempDir(), out)
	args = append(args, "-y", out)
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		tb.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	return out
}

// timedAU is an access unit with its presentation time.
type timedAU struct {
	pts time.Duration
	au  [][]byte
}

// mustReadAUs reads a stream made by mustEncode. Without timestamps in the
// file (Annex-B), frames are 40 ms apart.
func mustReadAUs(tb testing.TB, path, codec string) []timedAU {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()

	var out []timedAU
	if strings.HasSuffix(path, ".ts") {
		r := &mpegts.Reader{R: f}
		if err := r.Initialize(); err != nil {
			tb.Fatal(err)
		}
		var td mpegts.TimeDecoder
		var pts0 *int64
		for _, tr := range r.Tracks() {
			if _, ok := tr.Codec.(*tscodecs.H264); ok {
				r.OnDataH264(tr, func(pts, _ int64, au [][]byte) error {
					pts = td.Decode(pts)
					if pts0 == nil {
						pts0 = &pts
					}
					out = append(out, timedAU{ticksToDuration(pts - *pts0), au})
					return nil
				})
			}
		}
		for {
			if err := r.Read(); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				tb.Fatal(err)
			}
		}
		return out
	}

	r := &AccessUnitReader{R: f, Codec: codec}
	for i := 0; ; i++ {
		au, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, timedAU{time.Duration(i) * 40 * time.Millisecond, au})
	}
	return out
}

// cut feeds aus to a cutter and returns the segments, flushing at the end.
func cut(tb testing.TB, c *Cutter, anchor time.Time, aus []timedAU) []Segment {
	tb.Helper()
	var segs []Segment
	c.OnSegment = func(s Segment) { segs = append(segs, s) }
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	for _, a := range aus {
		if err := c.WriteAccessUnit(anchor, a.pts, a.au); err != nil {
			tb.Fatalf("WriteAccessUnit(%v): %v", a.pts, err)
		}
	}
	c.Flush()
	return segs
}

// mustWriteFile writes b to a new file in a temp dir and returns its path.
func mustWriteFile(tb testing.TB, name string, b []byte) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// probeResult is what ffprobe says about the first video stream of a file.
type probeResult struct {
	Codec  string
	Frames int
	Width  int
	Height int
}

// mustProbe runs ffprobe, counting decoded frames.
func mustProbe(tb testing.TB, path string) probeResult {
	tb.Helper()
	b, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,nb_read_frames,width,height", "-of", "json", path).Output()
	if err != nil {
		tb.Fatalf("ffprobe %s: %v", path, err)
	}
	var v struct {
		Streams []struct {
			CodecName    string `json:"codec_name"`
			NbReadFrames string `json:"nb_read_frames"`
			Width        int    `json:"width"`
			Height       int    `json:"height"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(b, &v); err != nil || len(v.Streams) != 1 {
		tb.Fatalf("ffprobe %s: unexpected output %s (%v)", path, b, err)
	}
	n, _ := strconv.Atoi(v.Streams[0].NbReadFrames)
	return probeResult{v.Streams[0].CodecName, n, v.Streams[0].Width, v.Streams[0].Height}
}

// mustFrameMD5 decodes every frame of a file and returns their MD5s in
// presentation order.
func mustFrameMD5(tb testing.TB, path string) []string {
	tb.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-i", path, "-map", "0:v:0",
		"-f", "framemd5", "-")
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		tb.Fatalf("ffmpeg framemd5 %s: %v\n%s", path, err, stderr.Bytes())
	}
	if stderr.Len() != 0 {
		tb.Errorf("ffmpeg framemd5 %s: decoder complained:\n%s", path, stderr.Bytes())
	}
	var sums []string
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		sums = append(sums, strings.TrimSpace(f[len(f)-1]))
	}
	return sums
}

// mustSamples returns the samples of a segment's fragments.
func mustSamples(tb testing.TB, seg []byte) []*fmp4.Sample {
	tb.Helper()
	_, frags, err := splitInit(seg)
	if err != nil {
		tb.Fatal(err)
	}
	var ps fmp4.Parts
	if err := ps.Unmarshal(frags); err != nil {
		tb.Fatal(err)
	}
	var out []*fmp4.Sample
	for _, p := range ps {
		for _, tr := range p.Tracks {
			out = append(out, tr.Samples...)
		}
	}
	return out
}

// naluTypes lists the NAL unit types of an MP4 sample.
func naluTypes(tb testing.TB, codec string, s *fmp4.Sample) []int {
	tb.Helper()
	var au h264.AVCC
	if err := au.Unmarshal(s.Payload); err != nil {
		tb.Fatal(err)
	}
	var ts []int
	for _, n := range au {
		ts = append(ts, naluType(codec, n))
	}
	return ts
}
