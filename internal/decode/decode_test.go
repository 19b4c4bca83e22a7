package decode

import (
	"bytes"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/frame"
	"github.com/porchlight/porchlight/internal/testutil"
)

var anchor = time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)

// checkTimes checks that frames have strictly increasing times, each the
// capture time of an input access unit, about 1/fps apart. restarts gaps
// may be shorter: where one ffmpeg stops and the next starts.
func checkTimes(t *testing.T, frames []*frame.Frame, aus []timedAU, fps float64, restarts int) {
	t.Helper()
	inputs := map[time.Time]bool{}
	for _, a := range aus {
		inputs[anchor.Add(a.pts)] = true
	}
	step := time.Duration(float64(time.Second) / fps)
	for i, f := range frames {
		if !inputs[f.Time] {
			t.Errorf("frame %d: time %v is not the time of an input access unit", i, f.Time)
		}
		if i == 0 {
			continue
		}
		gap := f.Time.Sub(frames[i-1].Time)
		if gap <= 0 {
			t.Errorf("frame %d: time %v not after the previous %v", i, f.Time, frames[i-1].Time)
		}
		if gap < step*3/4 && gap > 0 && restarts > 0 {
			restarts--
			continue
		}
		if gap < step*3/4 || gap > step*3/2 {
			t.Errorf("frame %d: %v after the previous, want about %v", i, gap, step)
		}
	}
}

func TestDecode(t *testing.T) {
	for _, codec := range []string{H264, H265} {
		for _, color := range []bool{false, true} {
			name := codec + "/gray"
			if color {
				name = codec + "/rgb"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				stream := mustEncode(t, clip{codec: codec, size: "320x240", seconds: 4})
				aus := mustSplit(t, codec, stream, 25)
				var c collector
				d := mustNew(t, Config{Codec: codec, FPS: 5, Width: 160, Color: color, Queue: 1000}, c.out)
				for _, a := range aus {
					d.WriteAccessUnit(anchor, a.pts, a.au)
				}
				if err := d.Close(); err != nil {
					t.Fatal(err)
				}
				frames := c.get()
				st := d.Stats()
				t.Logf("%d access units → %d frames; stats %+v", len(aus), len(frames), st)
				if n := len(frames); n < 18 || n > 21 {
					t.Errorf("%d frames from 4 s at 5 fps, want 18..21", n)
				}
				if st.In != uint64(len(aus)) || st.DroppedAUs != 0 {
					t.Errorf("stats: in %d dropped %d, want %d and 0", st.In, st.DroppedAUs, len(aus))
				}
				if st.Out != uint64(len(frames)) || st.CPU <= 0 || st.Errors != 0 || st.Restarts != 0 {
					t.Errorf("stats: out %d (delivered %d), CPU %v, %d errors, %d restarts", st.Out, len(frames), st.CPU, st.Errors, st.Restarts)
				}
				checkTimes(t, frames, aus, 5, 0)

				// Each frame is the very picture its time names: compare it
				// with a reference decode of every frame.
				ref := referenceGray(t, codec, stream, 160, 160, 120)
				for i, f := range frames {
					if f.W != 160 || f.H != 120 || len(f.Gray) != 160*120 {
						t.Fatalf("frame %d: %dx%d with %d gray bytes, want 160x120", i, f.W, f.H, len(f.Gray))
					}
					if color != (f.RGB != nil) || (color && len(f.RGB) != 3*160*120) {
						t.Fatalf("frame %d: %d RGB bytes with Color=%v", i, len(f.RGB), color)
					}
					idx := int(f.Time.Sub(anchor) / (40 * time.Millisecond))
					if idx >= len(ref) {
						t.Fatalf("frame %d: index %d beyond the reference's %d frames", i, idx, len(ref))
					}
					same := meanAbsDiff(f.Gray, ref[idx])
					limit := 0.01 // bit-exact but for rare rounding
					if color {
						limit = 2.5 // gray derived from RGB, not from Y
					}
					if same > limit {
						t.Errorf("frame %d (input %d): differs from the reference by %.2f", i, idx, same)
					}
					if idx+1 < len(ref) && meanAbsDiff(f.Gray, ref[idx+1]) <= same {
						t.Errorf("frame %d (input %d): as close to input %d", i, idx, idx+1)
					}
				}
			})
		}
	}
}

// TestSlowInputRate: a 10 fps camera gives frames 200 ms apart at FPS 5
// (the synthetic clock runs at the estimated input rate), and a 3 fps
// camera gives every frame.
func TestSlowInputRate(t *testing.T) {
	for _, rate := range []int{10, 3} {
		t.Run(time.Duration(int(time.Second)/rate).String(), func(t *testing.T) {
			t.Parallel()
			stream := mustEncode(t, clip{codec: H264, size: "160x120", seconds: 4, rate: rate, gop: rate})
			aus := mustSplit(t, H264, stream, rate)
			var c collector
			d := mustNew(t, Config{Codec: H264, FPS: 5, Width: 160, Queue: 1000}, c.out)
			for _, a := range aus {
				d.WriteAccessUnit(anchor, a.pts, a.au)
			}
			d.Close()
			frames := c.get()
			want := min(5, rate) * 4
			if n := len(frames); n < want-2 || n > want+1 {
				t.Errorf("%d frames, want about %d", n, want)
			}
			checkTimes(t, frames, aus, float64(min(5, rate)), 0)
		})
	}
}

// TestResolutionSwitch: two streams of different sizes back to back give
// frames of both sizes, with a restart between them.
func TestResolutionSwitch(t *testing.T) {
	for _, codec := range []string{H264, H265} {
		t.Run(codec, func(t *testing.T) {
			t.Parallel()
			a := mustEncode(t, clip{codec: codec, size: "320x240", seconds: 2})
			b := mustEncode(t, clip{codec: codec, size: "320x180", seconds: 2})
			aus := mustSplit(t, codec, slices.Concat(a, b, a), 25)
			var c collector
			d := mustNew(t, Config{Codec: codec, FPS: 5, Width: 160, Queue: 1000}, c.out)
			for _, au := range aus {
				d.WriteAccessUnit(anchor, au.pts, au.au)
			}
			d.Close()
			frames := c.get()
			sizes := map[[2]int]int{}
			var order [][2]int
			for _, f := range frames {
				s := [2]int{f.W, f.H}
				if len(f.Gray) != f.W*f.H {
					t.Fatalf("frame %v: %d gray bytes", s, len(f.Gray))
				}
				sizes[s]++
				if len(order) == 0 || order[len(order)-1] != s {
					order = append(order, s)
				}
			}
			st := d.Stats()
			t.Logf("sizes %v, order %v, stats %+v", sizes, order, st)
			if want := [][2]int{{160, 120}, {160, 90}, {160, 120}}; !slices.Equal(order, want) {
				t.Errorf("frame sizes in order %v, want %v", order, want)
			}
			if st.Restarts < 2 {
				t.Errorf("%d restarts, want at least 2", st.Restarts)
			}
			if len(frames) < 26 {
				t.Errorf("%d frames from 6 s at 5 fps, want at least 26", len(frames))
			}
			checkTimes(t, frames, aus, 5, 2)
		})
	}
}

// TestGarbage: garbage NAL units between access units and corrupt bytes
// inside them make ffmpeg complain, but frames keep coming.
func TestGarbage(t *testing.T) {
	for _, codec := range []string{H264, H265} {
		t.Run(codec, func(t *testing.T) {
			t.Parallel()
			aus := mustSplit(t, codec, mustEncode(t, clip{codec: codec, size: "320x240", seconds: 6}), 25)
			rng := rand.New(rand.NewPCG(1, 2))
			garbage := func() []byte {
				b := make([]byte, 50+rng.IntN(500))
				for i := range b {
					b[i] = byte(rng.Uint32())
				}
				return b
			}
			var c collector
			d := mustNew(t, Config{Codec: codec, FPS: 5, Width: 160, Queue: 1000}, c.out)
			for i, a := range aus {
				au := a.au
				if i%7 == 3 && i < 125 {
					// a corrupt slice: keep the header, garble the rest
					au = slices.Clone(au)
					last := slices.Clone(au[len(au)-1])
					copy(last[min(len(last), 3):], garbage())
					au[len(au)-1] = last
				}
				d.WriteAccessUnit(anchor, a.pts, au)
				if i%5 == 2 && i < 125 {
					// garbage between access units, with timestamps in between
					d.WriteAccessUnit(anchor, a.pts+time.Millisecond, [][]byte{garbage(), garbage()})
				}
			}
			d.Close()
			frames := c.get()
			st := d.Stats()
			t.Logf("%d frames, stats %+v", len(frames), st)
			if st.Errors == 0 {
				t.Errorf("no decoding error counted")
			}
			var late int
			for _, f := range frames {
				if f.Time.Sub(anchor) >= 5*time.Second {
					late++
				}
			}
			if late < 4 {
				t.Errorf("%d frames in the last, clean second, want about 5", late)
			}
			if len(frames) < 15 {
				t.Errorf("%d frames from 6 s, want at least 15", len(frames))
			}
			for i := 1; i < len(frames); i++ {
				if !frames[i].Time.After(frames[i-1].Time) {
					t.Errorf("frame %d: time %v not after %v", i, frames[i].Time, frames[i-1].Time)
				}
			}
		})
	}
}

// TestSlowConsumer: a consumer that does not return makes the decoder drop,
// never WriteAccessUnit block.
func TestSlowConsumer(t *testing.T) {
	aus := mustSplit(t, H264, mustEncode(t, clip{codec: H264, size: "640x480", seconds: 8}), 25)
	release := make(chan struct{})
	var c collector
	d := mustNew(t, Config{Codec: H264, FPS: 25, Width: 320, Queue: 10}, func(f *frame.Frame) {
		c.out(f)
		<-release
	})
	var worst time.Duration
	var total time.Duration
	for _, a := range aus {
		start := time.Now()
		d.WriteAccessUnit(anchor, a.pts, a.au)
		el := time.Since(start)
		total += el
		worst = max(worst, el)
	}
	st := d.Stats()
	t.Logf("%d writes: mean %v, worst %v; stats %+v", len(aus), total/time.Duration(len(aus)), worst, st)
	if worst > 50*time.Millisecond {
		t.Errorf("WriteAccessUnit took up to %v with a stuck consumer", worst)
	}
	if st.DroppedAUs == 0 {
		t.Errorf("no access unit dropped with a queue of 10 and 200 written at once")
	}
	waitFor(t, "frames dropped for the stuck consumer", func() bool { return d.Stats().DroppedFrames > 0 })
	close(release)
	d.Close()
	if got := len(c.get()); got < 2 {
		t.Errorf("%d frames delivered, want the first and the newest at least", got)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(t.Context(), Config{Codec: "vp8"}, nil); err == nil || !strings.Contains(err.Error(), "vp8") {
		t.Errorf("unknown codec: %v, want an error naming it", err)
	}
}

// TestWaitsForIDR: nothing is fed before the first IDR, nor after a new
// anchor until the next IDR.
func TestWaitsForIDR(t *testing.T) {
	aus := mustSplit(t, H264, mustEncode(t, clip{codec: H264, size: "160x120", seconds: 2}), 25)
	d := mustNew(t, Config{Codec: H264, Queue: 1000}, nil)
	for _, a := range aus[1:25] { // starts after the IDR
		d.WriteAccessUnit(anchor, a.pts, a.au)
	}
	if in := d.Stats().In; in != 0 {
		t.Errorf("%d access units queued before any IDR", in)
	}
	for _, a := range aus[25:30] {
		d.WriteAccessUnit(anchor, a.pts, a.au)
	}
	if in := d.Stats().In; in != 5 {
		t.Errorf("%d access units queued from the IDR, want 5", in)
	}
	d.WriteAccessUnit(anchor.Add(time.Hour), 0, aus[30].au) // a new stream, not at an IDR
	if in := d.Stats().In; in != 5 {
		t.Errorf("%d access units queued, want the non-IDR of a new stream skipped", in)
	}
}

// TestParameterSets: a stream without in-band parameter sets (as RTSP
// cameras send them, in the SDP) decodes with SetParameterSets; parameter
// sets alone in an access unit apply to the IDR after them; a bogus SPS
// outside an IDR does not replace the good one.
func TestParameterSets(t *testing.T) {
	for _, codec := range []string{H264, H265} {
		t.Run(codec, func(t *testing.T) {
			aus := mustSplit(t, codec, mustEncode(t, clip{codec: codec, size: "320x240", seconds: 3}), 25)
			var vps, sps, pps []byte
			var stripped []timedAU
			for _, a := range aus {
				var au [][]byte
				for _, n := range a.au {
					switch paramKind(codec, n) {
					case 'v':
						vps = n
					case 's':
						sps = n
					case 'p':
						pps = n
					default:
						au = append(au, n)
					}
				}
				stripped = append(stripped, timedAU{a.pts, au})
			}
			if sps == nil || pps == nil {
				t.Fatal("test stream has no SPS/PPS")
			}
			bogusSPS := slices.Clone(sps)
			for i := 4; i < len(bogusSPS); i++ {
				bogusSPS[i] ^= 0x5a
			}

			var c collector
			var logs testutil.SyncBuffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			d := mustNew(t, Config{Codec: codec, FPS: 5, Width: 160, Queue: 1000, Logger: log}, c.out)
			defer func() {
				if t.Failed() {
					t.Logf("log:\n%s", logs.String())
				}
			}()
			d.WriteAccessUnit(anchor, 0, stripped[0].au)
			if in := d.Stats().In; in != 0 {
				t.Fatalf("an IDR without known parameter sets was queued")
			}
			d.SetParameterSets(vps, sps, pps)
			for i, a := range stripped {
				au := a.au
				if i == 40 {
					au = append([][]byte{bogusSPS}, au...) // corrupt, in a non-IDR
				}
				if i == 50 {
					d.WriteAccessUnit(anchor, a.pts, [][]byte{vps, sps, pps}[boolIndex(codec == H264):]) // alone, before the IDR
				}
				d.WriteAccessUnit(anchor, a.pts, au)
			}
			d.Close()
			frames := c.get()
			st := d.Stats()
			t.Logf("%d frames, stats %+v", len(frames), st)
			if len(frames) < 14 {
				t.Errorf("%d frames from 3 s at 5 fps, want at least 14", len(frames))
			}
			if st.Restarts != 0 || st.Errors != 0 {
				t.Errorf("%d restarts and %d errors, want none", st.Restarts, st.Errors)
			}
			if !bytes.Equal(d.sps, sps) {
				t.Errorf("SPS replaced by %x", d.sps)
			}
		})
	}
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestRateChange: a camera that drops from 25 to 10 frames a second keeps
// giving frames about 1/FPS apart: they are picked by capture time, with
// no restart.
func TestRateChange(t *testing.T) {
	fast := mustSplit(t, H264, mustEncode(t, clip{codec: H264, size: "160x120", seconds: 3}), 25)
	slow := mustSplit(t, H264, mustEncode(t, clip{codec: H264, size: "160x120", seconds: 5, rate: 10, gop: 10}), 10)
	aus := slices.Clone(fast)
	for _, a := range slow {
		aus = append(aus, timedAU{3*time.Second + a.pts, a.au})
	}
	var c collector
	d := mustNew(t, Config{Codec: H264, FPS: 5, Width: 160, Queue: 1000}, c.out)
	for _, a := range aus {
		d.WriteAccessUnit(anchor, a.pts, a.au)
	}
	d.Close()
	frames := c.get()
	st := d.Stats()
	t.Logf("%d frames, stats %+v", len(frames), st)
	if st.Restarts != 0 || st.Errors != 0 {
		t.Errorf("%d restarts and %d errors, want none", st.Restarts, st.Errors)
	}
	if n := len(frames); n < 36 || n > 41 {
		t.Errorf("%d frames from 8 s at 5 fps, want about 40", n)
	}
	checkTimes(t, frames, aus, 5, 1)
}

func TestAnnexB(t *testing.T) {
	sps, pps := []byte{0x67, 1}, []byte{0x68, 2}
	aud, sei, idr, slice := []byte{0x09, 0xf0}, []byte{0x06, 9}, []byte{0x65, 0x88}, []byte{0x65, 0x44}
	// the input's AUD and empty NAL units are left out
	got := annexB(H264, [][]byte{sps, pps}, [][]byte{aud, sei, {}, idr, slice}, true)
	want := bytes.Join([][]byte{nil, sps, pps, sei, idr, slice}, []byte{0, 0, 0, 1})
	if !bytes.Equal(got, want) {
		t.Errorf("annexB:\n got %x\nwant %x", got, want)
	}
	// parameter sets outside an IDR are left out
	got = annexB(H264, nil, [][]byte{sps, pps, slice}, false)
	want = bytes.Join([][]byte{nil, slice}, []byte{0, 0, 0, 1})
	if !bytes.Equal(got, want) {
		t.Errorf("annexB without parameter sets:\n got %x\nwant %x", got, want)
	}
}

// TestPromptFrames: fed in real time, a kept frame reaches the consumer
// before the next access unit is written: the decoder holds no picture
// back waiting for more input.
func TestPromptFrames(t *testing.T) {
	aus := mustSplit(t, H264, mustEncode(t, clip{codec: H264, size: "320x240", seconds: 2}), 25)
	got := make(chan time.Time, 100)
	d := mustNew(t, Config{Codec: H264, FPS: 5, Width: 160}, func(f *frame.Frame) { got <- f.Time })
	var late []time.Duration
	for i, a := range aus {
		d.WriteAccessUnit(anchor, a.pts, a.au)
		if i%5 != 0 {
			continue
		}
		// Every fifth picture is due: wait for it (or give up after a
		// second, which counts as late) before writing the next one.
		select {
		case ft := <-got:
			if !ft.Equal(anchor.Add(a.pts)) {
				t.Errorf("access unit %d gave the frame of %v", i, ft.Sub(anchor))
			}
		case <-time.After(time.Second):
			late = append(late, a.pts)
		}
	}
	d.Close()
	if len(late) > 0 {
		t.Errorf("frames of %v came only after later access units were written", late)
	}
}

// FuzzDecode feeds a real stream with one access unit replaced by fuzzed
// bytes (after the IDR, so libavcodec parses it) and a few after it
// truncated: decoding goes on, and whatever comes out is well formed. The
// decoder runs in the hub's process, so a crash here would be a crash of
// the hub.
func FuzzDecode(f *testing.F) {
	aus := mustSplit(f, H264, mustEncode(f, clip{codec: H264, size: "160x120", seconds: 1, gop: 10}), 25)
	f.Add([]byte{0x65, 0x88, 0x84, 0x00, 0x33, 0xff}, uint8(3))
	f.Add([]byte{0x41, 0x9a, 0x00, 0x00, 0x01, 0x67, 0x42}, uint8(0))
	f.Add([]byte{0x67, 0x64, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff}, uint8(7))
	f.Fuzz(func(t *testing.T, junk []byte, cut uint8) {
		var frames []*frame.Frame
		d := mustNew(t, Config{Codec: H264, FPS: 25, Width: 64, Color: true, Queue: 1000}, func(fr *frame.Frame) { frames = append(frames, fr) })
		for i, a := range aus {
			au := a.au
			switch {
			case i == 2:
				au = [][]byte{junk}
			case i > 2 && i < 6 && int(cut) > 0:
				au = slices.Clone(au)
				last := au[len(au)-1]
				au[len(au)-1] = last[:len(last)*int(cut%8)/8]
			}
			d.WriteAccessUnit(anchor, a.pts, au)
		}
		d.Close()
		for _, fr := range frames {
			if fr.W != 64 || fr.H != 48 || len(fr.RGB) != 64*48*3 || len(fr.Gray) != 64*48 {
				t.Fatalf("frame %dx%d with %d RGB and %d gray bytes", fr.W, fr.H, len(fr.RGB), len(fr.Gray))
			}
		}
		if len(frames) < 10 {
			t.Errorf("%d frames from 25 access units with 1 to 4 damaged", len(frames))
		}
	})
}
