package camsim

import (
	"bufio"
	"io"
	"math/rand/v2"
	"os/exec"
	"testing"
	"time"
)

// drawStrip paints value's strip into a w×h luma plane, with noise.
func drawStrip(luma []byte, w, h int, value uint32, r *rand.Rand) {
	bw, bh, _ := ClockStrip(w, h)
	for i := range luma {
		luma[i] = byte(100 + r.IntN(40))
	}
	for i := range ClockBits {
		v := byte(16)
		if value>>(ClockBits-1-i)&1 == 1 {
			v = 235
		}
		for y := range bh {
			for x := i * bw; x < (i+1)*bw; x++ {
				n := int(v) + r.IntN(31) - 15
				luma[y*w+x] = byte(min(255, max(0, n)))
			}
		}
	}
}

func TestReadClock(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range [][2]int{{512, 288}, {640, 360}, {1280, 720}, {1920, 1080}} {
		w, h := size[0], size[1]
		luma := make([]byte, w*h)
		for _, v := range []uint32{0, 1, 0x80000000, 0xffffffff, 0xdeadbeef, r.Uint32()} {
			drawStrip(luma, w, h, v, r)
			got, ok := ReadClock(luma, w, h)
			if !ok || got != v {
				t.Errorf("%dx%d: ReadClock = %#x, %v; want %#x", w, h, got, ok, v)
			}
		}
		// A frame without a strip (mid-grey) is refused, not misread.
		for i := range luma {
			luma[i] = 128
		}
		if _, ok := ReadClock(luma, w, h); ok {
			t.Errorf("%dx%d: a grey frame reads as a clock", w, h)
		}
	}
	if _, _, ok := ClockStrip(320, 240); ok {
		t.Error("a 320-pixel frame has room for 16-pixel blocks")
	}
	if _, ok := ReadClock(make([]byte, 320*240), 320, 240); ok {
		t.Error("ReadClock read a frame too small for a strip")
	}
}

func TestClockDelta(t *testing.T) {
	for _, c := range []struct {
		captured uint32
		now      int64
		want     int64
	}{
		{1000, 1250, 250},
		{0xffffff00, 1<<32 + 0x10, 0x110},                       // across the wrap
		{uint32(1795470072066 % (1 << 32)), 1795470072366, 300}, // a real time
		{500, 400, -100},
	} {
		if got := ClockDelta(c.captured, c.now); got != c.want {
			t.Errorf("ClockDelta(%d, %d) = %d, want %d", c.captured, c.now, got, c.want)
		}
	}
}

// TestPatternClockStrip reads the strip back from camsim's RTSP stream,
// decoded by ffmpeg: every frame carries a clock, each 40 ms (25 fps)
// after the previous within ±50 ms of accumulated drift, and no frame's
// clock is later than when it was decoded or more than 2 s before.
func TestPatternClockStrip(t *testing.T) {
	const w, h, fps = 640, 360, 25
	m := &Main{Size: "640x360", FPS: fps, GOP: fps}
	start(t, m)
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-rtsp_transport", "tcp",
		"-fflags", "nobuffer", "-flags", "low_delay", "-i", m.URL(), "-frames:v", "50",
		"-f", "rawvideo", "-pix_fmt", "gray", "pipe:1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	rd := bufio.NewReaderSize(stdout, w*h)
	frame := make([]byte, w*h)
	var clocks []uint32
	for i := 0; ; i++ {
		if _, err := io.ReadFull(rd, frame); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		now := time.Now().UnixMilli()
		c, ok := ReadClock(frame, w, h)
		if !ok {
			t.Fatalf("frame %d has no readable clock strip", i)
		}
		if d := ClockDelta(c, now); d < 0 || d > 2000 {
			t.Errorf("frame %d: clock %d ms before it was decoded, want 0..2000", i, d)
		}
		clocks = append(clocks, c)
	}
	if len(clocks) < 40 {
		t.Fatalf("decoded %d frames, want 50", len(clocks))
	}
	for i, c := range clocks {
		want := int64(i) * 1000 / fps
		got := int64(int32(c - clocks[0]))
		if got < want-50 || got > want+50 {
			t.Errorf("frame %d: clock %d ms after frame 0, want %d ± 50", i, got, want)
		}
	}
}
