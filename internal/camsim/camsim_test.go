package camsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"

	"github.com/porchlight/porchlight/internal/testutil"
)

// start runs m on free ports until the test ends and returns what it printed.
func start(tb testing.TB, m *Main) *bytes.Buffer {
	tb.Helper()
	testutil.RequireFFmpeg(tb)
	var out bytes.Buffer
	m.Listen = "127.0.0.1:0"
	if m.Size == "" {
		m.Size = "160x120"
	}
	m.Stdout = &out
	m.Logger = slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Start(ctx); err != nil {
		cancel()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cancel()
		if err := m.Wait(); err != nil {
			tb.Errorf("Wait: %v", err)
		}
	})
	return &out
}

// describe sends an RTSP DESCRIBE and returns the status code.
func describe(tb testing.TB, rawURL string) (base.StatusCode, error) {
	tb.Helper()
	u, err := base.ParseURL(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host}
	if err := c.Start(); err != nil {
		return 0, err
	}
	defer c.Close()
	_, res, err := c.Describe(u)
	var bad liberrors.ErrClientBadStatusCode
	if errors.As(err, &bad) {
		return bad.Code, nil
	}
	if err != nil {
		return 0, err
	}
	return res.StatusCode, nil
}

// record reads the stream with ffmpeg (an independent client) for d and
// returns the PTS (seconds) of the packets received, sorted. ffmpeg starts
// copying at the first keyframe and counts d from the first packet.
func record(tb testing.TB, rawURL, transport string, d time.Duration) []float64 {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "rec.ts")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-rtsp_transport", transport,
		"-i", rawURL, "-t", strconv.FormatFloat(d.Seconds(), 'f', 3, 64), "-c", "copy", "-y", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("ffmpeg reading %s over %s: %v\n%s", rawURL, transport, err, b)
	}
	b, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "packet=pts_time", "-of", "csv=p=0", out).Output()
	if err != nil {
		tb.Fatal(err)
	}
	var pts []float64
	for _, l := range strings.Fields(string(b)) {
		f, err := strconv.ParseFloat(strings.TrimSuffix(l, ","), 64)
		if err != nil {
			tb.Fatalf("ffprobe line %q", l)
		}
		pts = append(pts, f)
	}
	slices.Sort(pts)
	return pts
}

func TestPatternOverTCPAndUDP(t *testing.T) {
	m := &Main{FPS: 25, GOP: 10}
	out := start(t, m)
	if want := "porchlight-camsim: streaming " + m.URL() + " (h264 160x120@25)\n"; out.String() != want {
		t.Errorf("start-up line %q, want %q", out.String(), want)
	}
	for _, transport := range []string{"tcp", "udp"} {
		pts := record(t, m.URL(), transport, 2*time.Second)
		// at most 0.4 s is lost waiting for a keyframe
		if len(pts) < 38 || len(pts) > 52 {
			t.Errorf("%s: %d packets in 2 s at 25 fps", transport, len(pts))
		}
	}
}

func TestPatternH265(t *testing.T) {
	m := &Main{Codec: "h265", FPS: 25}
	out := start(t, m)
	if !strings.Contains(out.String(), "(h265 160x120@25)") {
		t.Errorf("start-up line %q", out.String())
	}
	b, err := exec.Command("ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", m.URL()).Output()
	if err != nil || strings.TrimSpace(string(b)) != "hevc,160,120" {
		t.Errorf("ffprobe: %q, %v; want hevc,160,120", b, err)
	}
}

func TestFileLoopsWithContinuousTimeline(t *testing.T) {
	testutil.RequireFFmpeg(t)
	// 1 s with B-frames in MP4: timestamps must survive the Annex-B detour.
	file := filepath.Join(t.TempDir(), "clip.mp4")
	if b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "testsrc2=size=160x120:rate=25", "-t", "1", "-pix_fmt", "yuv420p", "-c:v", "libx264",
		"-preset", "veryfast", "-bf", "2", "-g", "25", "-y", file).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	m := &Main{File: file}
	out := start(t, m)
	if !strings.Contains(out.String(), "h264 from clip.mp4, 25 frames, looping every 1s") {
		t.Errorf("start-up line %q", out.String())
	}
	pts := record(t, m.URL(), "tcp", 4*time.Second)
	// at most 1 s is lost waiting for the loop's only keyframe
	if len(pts) < 70 {
		t.Fatalf("%d packets in 4 s of a 25 fps loop", len(pts))
	}
	// ffmpeg's -t stops in decode order, so with B-frames the recording's
	// last P-frame can come without the B-frames shown before it: the
	// last few packets are not the camera's to answer for.
	pts = pts[:len(pts)-3]
	for i := 1; i < len(pts); i++ {
		if step := pts[i] - pts[i-1]; step < 0.035 || step > 0.045 {
			t.Fatalf("frame %d of %d: PTS step %.3f s, want 0.040 across loops", i, len(pts), step)
		}
	}
}

func TestCredentials(t *testing.T) {
	m := &Main{User: "admin", Pass: "pw-1234"}
	start(t, m)
	withCreds := strings.Replace(m.URL(), "rtsp://", "rtsp://admin:pw-1234@", 1)
	wrong := strings.Replace(m.URL(), "rtsp://", "rtsp://admin:nope@", 1)
	for _, tc := range []struct {
		url  string
		want base.StatusCode
	}{
		{m.URL(), base.StatusUnauthorized},
		{wrong, base.StatusUnauthorized},
		{withCreds, base.StatusOK},
		{strings.Replace(withCreds, "/cam", "/other", 1), base.StatusNotFound},
	} {
		got, err := describe(t, tc.url)
		if err != nil && tc.want != base.StatusUnauthorized {
			t.Errorf("DESCRIBE %s: %v", tc.url, err)
		} else if err == nil && got != tc.want {
			t.Errorf("DESCRIBE %s: %d, want %d", tc.url, got, tc.want)
		}
	}
}

func TestDropAndControl(t *testing.T) {
	m := &Main{Control: "127.0.0.1:0"}
	out := start(t, m)
	if !strings.Contains(out.String(), "control http://"+m.ControlAddr()) {
		t.Errorf("start-up lines %q lack the control address", out.String())
	}
	ctl := "http://" + m.ControlAddr()

	health := func() (dropped bool) {
		res, err := http.Get(ctl + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var v struct {
			OK      bool `json:"ok"`
			Dropped bool `json:"dropped"`
		}
		if err := json.NewDecoder(res.Body).Decode(&v); err != nil || !v.OK {
			t.Fatalf("healthz: %v %+v", err, v)
		}
		return v.Dropped
	}

	// a connected reader is cut off by a drop
	u, _ := base.ParseURL(m.URL())
	c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	desc, _, err := c.Describe(u)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Play(nil); err != nil {
		t.Fatal(err)
	}

	if res, err := http.Post(ctl+"/drop?for=bogus", "", nil); err != nil || res.StatusCode != http.StatusBadRequest {
		t.Errorf("POST /drop?for=bogus: %v %v, want 400", res.StatusCode, err)
	}
	res, err := http.Post(ctl+"/drop?for=1500ms", "", nil)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("POST /drop: %v %v", res, err)
	}
	res.Body.Close()

	waitErr := make(chan error, 1)
	go func() { waitErr <- c.Wait() }()
	select {
	case <-waitErr:
	case <-time.After(5 * time.Second):
		t.Fatal("reader still connected after a drop")
	}
	if !health() {
		t.Error("healthz does not report the drop")
	}
	if code, err := describe(t, m.URL()); err != nil || code != base.StatusServiceUnavailable {
		t.Errorf("DESCRIBE during a drop: %d %v, want 503", code, err)
	}
	time.Sleep(1600 * time.Millisecond)
	if health() {
		t.Error("still dropped after the period")
	}
	if code, err := describe(t, m.URL()); err != nil || code != base.StatusOK {
		t.Errorf("DESCRIBE after the drop: %d %v, want 200", code, err)
	}
}

func TestStartErrors(t *testing.T) {
	testutil.RequireFFmpeg(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name string
		m    *Main
		want string
	}{
		{"codec", &Main{Codec: "mjpeg"}, "codec"},
		{"size", &Main{Size: "big"}, "size"},
		{"missing file", &Main{File: "/nonexistent/clip.mp4"}, "clip.mp4"},
		{"port in use", &Main{Listen: busy.Addr().String(), Size: "160x120"}, "address already in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.m.Stdout = io.Discard
			if tc.m.Listen == "" {
				tc.m.Listen = "127.0.0.1:0"
			}
			err := tc.m.Start(t.Context())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Start: %v, want an error about %q", err, tc.want)
			}
			if werr := tc.m.Wait(); werr != err {
				t.Errorf("Wait after a failed Start: %v, want %v", werr, err)
			}
		})
	}
}
