package decode

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/frame"
	"github.com/porchlight/porchlight/internal/segment"
	"github.com/porchlight/porchlight/internal/testutil"
)

// clip describes a synthetic test stream.
type clip struct {
	codec   string
	size    string // WxH
	seconds float64
	rate    int // frames a second; default 25
	gop     int // default 25
	bitrate string
}

// mustEncode makes an Annex-B stream of testsrc2 with ffmpeg and returns it.
func mustEncode(tb testing.TB, c clip) []byte {
	tb.Helper()
	testutil.RequireFFmpeg(tb)
	if c.rate == 0 {
		c.rate = 25
	}
	if c.gop == 0 {
		c.gop = 25
	}
	g := strconv.Itoa(c.gop)
	args := []string{"-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "testsrc2=size=" + c.size + ":rate=" + strconv.Itoa(c.rate),
		"-t", strconv.FormatFloat(c.seconds, 'f', -1, 64), "-pix_fmt", "yuv420p"}
	if c.bitrate != "" {
		args = append(args, "-b:v", c.bitrate)
	}
	out := filepath.Join(tb.TempDir(), "clip")
	if c.codec == H265 {
		args = append(args, "-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
			"log-level=error:keyint="+g+":min-keyint="+g+":scenecut=0:bframes=0:open-gop=0", "-f", "hevc")
	} else {
		args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-g", g, "-keyint_min", g,
			"-sc_threshold", "0", "-bf", "0", "-f", "h264")
	}
	args = append(args, "-y", out)
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		tb.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// timedAU is an access unit with its presentation time.
type timedAU struct {
	pts time.Duration
	au  [][]byte
}

// mustSplit splits an Annex-B stream into access units, 1/rate apart.
func mustSplit(tb testing.TB, codec string, stream []byte, rate int) []timedAU {
	tb.Helper()
	if rate == 0 {
		rate = 25
	}
	r := &segment.AccessUnitReader{R: bytes.NewReader(stream), Codec: codec}
	var out []timedAU
	for i := 0; ; i++ {
		au, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, timedAU{time.Duration(i) * time.Second / time.Duration(rate), au})
	}
}

// collector records the frames a Decoder delivers.
type collector struct {
	mu     sync.Mutex
	frames []*frame.Frame
}

func (c *collector) out(f *frame.Frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames = append(c.frames, f)
}

func (c *collector) get() []*frame.Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*frame.Frame(nil), c.frames...)
}

// waitFor polls cond until it holds, failing the test after a while.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mustNew starts a decoder that is closed at the end of the test.
func mustNew(tb testing.TB, cfg Config, out func(*frame.Frame)) *Decoder {
	tb.Helper()
	d, err := New(tb.Context(), cfg, out)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}

// referenceGray decodes every frame of an Annex-B stream with ffmpeg,
// scaled as the Decoder scales, and returns them in order.
func referenceGray(tb testing.TB, codec string, stream []byte, width, w, h int) [][]byte {
	tb.Helper()
	demux := "h264"
	if codec == H265 {
		demux = "hevc"
	}
	// The same decoder options as Decoder's (no deblocking), so that its
	// frames are bit-exact copies of the reference's.
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-threads", "1", "-skip_loop_filter", "all", "-f", demux, "-i", "pipe:0",
		"-vf", "scale="+strconv.Itoa(width)+":-2:flags=bilinear,format=gray", "-fps_mode", "passthrough", "-f", "rawvideo", "pipe:1")
	cmd.Stdin = bytes.NewReader(stream)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		tb.Fatalf("reference decode: %v\n%s", err, stderr.Bytes())
	}
	var out [][]byte
	for len(b) >= w*h {
		out = append(out, b[:w*h])
		b = b[w*h:]
	}
	return out
}

// meanAbsDiff is the mean absolute difference of two equal-size images.
func meanAbsDiff(a, b []byte) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return 255
	}
	var sum int
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < 0 {
			d = -d
		}
		sum += d
	}
	return float64(sum) / float64(len(a))
}
