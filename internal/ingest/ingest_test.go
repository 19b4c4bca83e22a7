package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/base"

	"github.com/porchlight/porchlight/internal/camsim"
	"github.com/porchlight/porchlight/internal/segment"
	"github.com/porchlight/porchlight/internal/testutil"
)

// startCam starts a small simulated camera on a free port; it stops with the test.
func startCam(tb testing.TB, m *camsim.Main) *camsim.Main {
	tb.Helper()
	testutil.RequireFFmpeg(tb)
	m.Listen = "127.0.0.1:0"
	if m.Size == "" {
		m.Size = "160x120"
	}
	m.FPS, m.GOP = 25, 25 // an IDR every second
	m.Stdout = io.Discard
	m.Logger = slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Start(ctx); err != nil {
		cancel()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cancel()
		if err := m.Wait(); err != nil {
			tb.Errorf("camsim: %v", err)
		}
	})
	return m
}

type stateEvent struct {
	online bool
	err    error
}

// harness runs a Source and collects what it reports.
type harness struct {
	src    *Source
	segs   chan segment.Segment
	states chan stateEvent
	logs   *testutil.SyncBuffer
}

func runSource(t *testing.T, src *Source) *harness {
	t.Helper()
	h := &harness{src: src, segs: make(chan segment.Segment, 100), states: make(chan stateEvent, 100), logs: &testutil.SyncBuffer{}}
	src.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	src.OnSegment = func(s segment.Segment) { h.segs <- s }
	src.OnState = func(online bool, err error) { h.states <- stateEvent{online, err} }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if t.Failed() {
			t.Logf("ingest logs:\n%s", h.logs.String())
		}
	})
	return h
}

func (h *harness) segment(t *testing.T, timeout time.Duration) segment.Segment {
	t.Helper()
	select {
	case s := <-h.segs:
		return s
	case <-time.After(timeout):
		t.Fatalf("no segment within %v", timeout)
	}
	panic("unreachable")
}

func (h *harness) state(t *testing.T, timeout time.Duration) stateEvent {
	t.Helper()
	select {
	case s := <-h.states:
		return s
	case <-time.After(timeout):
		t.Fatalf("no state change within %v", timeout)
	}
	panic("unreachable")
}

// probe reports the codec, decoded frame count and first frame type of an fMP4.
func probe(t *testing.T, data []byte) (codec string, frames int, firstKey bool) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "seg.mp4")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
		"stream=codec_name:frame=key_frame,pict_type", "-of", "json", p).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var v struct {
		Streams []struct {
			Codec string `json:"codec_name"`
		} `json:"streams"`
		Frames []struct {
			Key  int    `json:"key_frame"`
			Type string `json:"pict_type"`
		} `json:"frames"`
	}
	if err := json.Unmarshal(out, &v); err != nil || len(v.Streams) != 1 {
		t.Fatalf("ffprobe output %s: %v", out, err)
	}
	return v.Streams[0].Codec, len(v.Frames), len(v.Frames) > 0 && v.Frames[0].Key == 1 && v.Frames[0].Type == "I"
}

// checkSegment asserts a segment is a decodable IDR-started fMP4 of sane duration.
func checkSegment(t *testing.T, s segment.Segment, wantCodec string, minD, maxD time.Duration) {
	t.Helper()
	codec, frames, key := probe(t, s.Data)
	if codec != wantCodec || frames != s.Frames || !key {
		t.Errorf("segment: ffprobe says %s, %d frames, first key=%v; want %s, %d frames, keyframe first",
			codec, frames, key, wantCodec, s.Frames)
	}
	if s.Duration < minD || s.Duration > maxD {
		t.Errorf("segment lasts %v, want within [%v, %v]", s.Duration, minD, maxD)
	}
	if d := time.Since(s.Start); d < 0 || d > s.Duration+3*time.Second {
		t.Errorf("segment Start %v is %v before now, want about its duration", s.Start, d)
	}
}

const gopDur = time.Second

func TestIngestTransports(t *testing.T) {
	for _, transport := range []string{"tcp", "udp"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			cam := startCam(t, &camsim.Main{})
			h := runSource(t, &Source{Name: "porch", URL: cam.URL(), Transport: transport,
				MinSegment: time.Second, MaxSegment: 2 * time.Second})
			if st := h.state(t, 10*time.Second); !st.online {
				t.Fatalf("first state: offline (%v)", st.err)
			}
			var prev segment.Segment
			for i := range 3 {
				s := h.segment(t, 10*time.Second)
				checkSegment(t, s, "h264", time.Second, 2*time.Second+gopDur)
				if i > 0 && s.Start.Before(prev.Start.Add(prev.Duration-100*time.Millisecond)) {
					t.Errorf("segment %d starts at %v, before the previous one ends (%v)", i, s.Start, prev.Start.Add(prev.Duration))
				}
				prev = s
			}
			if want := "transport=" + strings.ToUpper(transport); !strings.Contains(h.logs.String(), want) {
				t.Errorf("logs lack %q:\n%s", want, h.logs.String())
			}
			st := h.src.Stats()
			if st.Segments < 3 || st.Bytes == 0 || st.Frames < 75 || !st.Online || st.Reconnects != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestIngestReconnectsAfterDrop(t *testing.T) {
	t.Parallel()
	cam := startCam(t, &camsim.Main{})
	h := runSource(t, &Source{Name: "drive", URL: cam.URL(), MinSegment: time.Second, MaxSegment: 2 * time.Second})
	if st := h.state(t, 10*time.Second); !st.online {
		t.Fatalf("first state: offline (%v)", st.err)
	}
	h.segment(t, 10*time.Second)

	cam.Drop(2 * time.Second)
	dropped := time.Now()
	if st := h.state(t, 5*time.Second); st.online || st.err == nil {
		t.Fatalf("after Drop: state %+v, want offline with an error", st)
	}
	// The segment in progress is flushed, not lost.
	flushed := h.segment(t, 5*time.Second)
	if flushed.Frames == 0 {
		t.Error("flushed segment is empty")
	}
	if st := h.state(t, 15*time.Second); !st.online {
		t.Fatalf("after the drop: state %+v, want online again", st)
	}
	if d := time.Since(dropped); d < 2*time.Second {
		t.Errorf("reconnected %v after a 2s drop", d)
	}
	s := h.segment(t, 10*time.Second)
	checkSegment(t, s, "h264", time.Second, 2*time.Second+gopDur)
	if !s.Start.After(dropped) {
		t.Errorf("segment after reconnect starts at %v, before the drop at %v", s.Start, dropped)
	}
	if st := h.src.Stats(); st.Reconnects == 0 || !st.Online {
		t.Errorf("stats %+v, want reconnects > 0 and online", st)
	}
}

func TestIngestCredentials(t *testing.T) {
	t.Parallel()
	const user, pass = "admin", "s3cret-Passw0rd"
	cam := startCam(t, &camsim.Main{User: user, Pass: pass})
	u, _ := url.Parse(cam.URL())

	t.Run("wrong password", func(t *testing.T) {
		u := *u
		u.User = url.UserPassword(user, "wrong-Passw0rd")
		h := runSource(t, &Source{Name: "gate", URL: u.String()})
		st := h.state(t, 10*time.Second)
		if st.online || !errors.Is(st.err, ErrUnauthorized) {
			t.Fatalf("state %+v, want offline with ErrUnauthorized", st)
		}
		// keeps retrying without crashing, and never logs the password
		time.Sleep(1500 * time.Millisecond)
		if n := h.src.Stats().Reconnects; n == 0 {
			t.Error("no retry after a refused password")
		}
		if logs := h.logs.String(); strings.Contains(logs, "wrong-Passw0rd") || strings.Contains(logs, pass) {
			t.Errorf("logs contain the password:\n%s", logs)
		} else if !strings.Contains(logs, "credentials") {
			t.Errorf("logs do not say what is wrong:\n%s", logs)
		}
	})
	t.Run("no password", func(t *testing.T) {
		h := runSource(t, &Source{Name: "gate", URL: cam.URL()})
		if st := h.state(t, 10*time.Second); st.online || !errors.Is(st.err, ErrUnauthorized) {
			t.Fatalf("state %+v, want offline with ErrUnauthorized", st)
		}
	})
	t.Run("right password", func(t *testing.T) {
		u := *u
		u.User = url.UserPassword(user, pass)
		h := runSource(t, &Source{Name: "gate", URL: u.String(), MinSegment: time.Second})
		if st := h.state(t, 10*time.Second); !st.online {
			t.Fatalf("state %+v, want online", st)
		}
		h.segment(t, 10*time.Second)
		if logs := h.logs.String(); strings.Contains(logs, pass) {
			t.Errorf("logs contain the password:\n%s", logs)
		}
	})
}

func TestIngestH265(t *testing.T) {
	t.Parallel()
	cam := startCam(t, &camsim.Main{Codec: "h265"})
	h := runSource(t, &Source{Name: "yard", URL: cam.URL(), MinSegment: time.Second, MaxSegment: 2 * time.Second})
	for range 2 {
		s := h.segment(t, 15*time.Second)
		if s.Codec != segment.H265 {
			t.Errorf("segment codec %q", s.Codec)
		}
		checkSegment(t, s, "hevc", time.Second, 2*time.Second+gopDur)
	}
}

func TestIngestParametersOnlyInSDP(t *testing.T) {
	t.Parallel()
	for _, codec := range []string{"h264", "h265"} {
		t.Run(codec, func(t *testing.T) {
			cam := startCam(t, &camsim.Main{Codec: codec, SDPOnlyParams: true})
			h := runSource(t, &Source{Name: "sdp", URL: cam.URL(), MinSegment: time.Second})
			want := map[string]string{"h264": "h264", "h265": "hevc"}[codec]
			checkSegment(t, h.segment(t, 15*time.Second), want, time.Second, 2*time.Second)
		})
	}
}

func TestIngestCameraDown(t *testing.T) {
	t.Parallel()
	// a port nothing listens on
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()

	h := runSource(t, &Source{Name: "attic", URL: "rtsp://u:p4ssword@" + dead + "/cam"})
	st := h.state(t, 10*time.Second)
	if st.online || st.err == nil || !strings.Contains(st.err.Error(), "refused") {
		t.Fatalf("state %+v, want offline, connection refused", st)
	}
	time.Sleep(2 * time.Second) // attempts at ~0.5 s and ~1.5 s
	select {
	case st := <-h.states:
		t.Errorf("repeated failure reported again: %+v", st)
	default:
	}
	if n := h.src.Stats().Reconnects; n < 1 {
		t.Errorf("%d reconnects, want retries", n)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	for _, src := range []*Source{
		{URL: "http://u:topsecret@h/x"},
		{URL: "rtsp://u:topsecret@[::1/x"},
		{URL: "rtsp://u:topsecret@h/x", Transport: "carrier-pigeon"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := src.Run(ctx)
		cancel()
		if err == nil {
			t.Errorf("Run(%q, %q) succeeded", src.URL, src.Transport)
		} else if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestErrorSummary(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	e := &errorSummary{
		log:    slog.New(slog.NewTextHandler(&buf, nil)),
		name:   "porch",
		window: time.Minute,
		now:    func() time.Time { return now },
	}
	refused := errors.New("connection refused")
	e.seen(refused) // logged by the caller
	for range 12 {
		now = now.Add(5 * time.Second)
		e.report(refused)
	}
	e.report(errors.New("no route to host"))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want a summary then the new error:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[0], "camera porch: connection refused (repeated 12 times in 1m0s)") {
		t.Errorf("summary line: %s", lines[0])
	}
	if !strings.Contains(lines[1], "no route to host") {
		t.Errorf("second line: %s", lines[1])
	}
}

func TestRedact(t *testing.T) {
	s := &Source{URL: "rtsp://admin:hunter2hunter2@10.0.0.5:554/stream1"}
	err := s.redact(errors.New("dial rtsp://admin:hunter2hunter2@10.0.0.5:554/stream1: refused; pass=hunter2hunter2"))
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("not redacted: %v", err)
	}
	wrapped := s.redact(ErrUnauthorized)
	if !errors.Is(wrapped, ErrUnauthorized) {
		t.Error("redaction lost the error chain")
	}
	if got := strconv.Quote(redactURL(mustParse(t, s.URL))); strings.Contains(got, "admin") || strings.Contains(got, "hunter2") {
		t.Errorf("redactURL = %s", got)
	}
}

func mustParse(t *testing.T, s string) *base.URL {
	t.Helper()
	u, err := base.ParseURL(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
