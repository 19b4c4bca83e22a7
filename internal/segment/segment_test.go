package segment

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"
)

var testAnchor = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// checkSegments asserts what must hold for every segment of one stream.
func checkSegments(t *testing.T, codec string, segs []Segment, totalFrames int) {
	t.Helper()
	if len(segs) == 0 {
		t.Fatal("no segments")
	}
	frames := 0
	for i, s := range segs {
		if s.Codec != codec {
			t.Errorf("segment %d: codec %q, want %q", i, s.Codec, codec)
		}
		if !bytes.HasPrefix(s.Data, s.Init) || !bytes.Equal(s.Init, segs[0].Init) {
			t.Errorf("segment %d: Init is not the (shared) prefix of Data", i)
		}
		samples := mustSamples(t, s.Data)
		if len(samples) != s.Frames {
			t.Errorf("segment %d: %d samples, Frames says %d", i, len(samples), s.Frames)
		}
		if samples[0].IsNonSyncSample || !isIDRTypes(codec, naluTypes(t, codec, samples[0])) {
			t.Errorf("segment %d does not start with an IDR: %v", i, naluTypes(t, codec, samples[0]))
		}
		var sum uint64
		for _, sm := range samples {
			sum += uint64(sm.Duration)
		}
		if got := ticksToDuration(int64(sum)); got != s.Duration {
			t.Errorf("segment %d: Duration %v, samples sum to %v", i, s.Duration, got)
		}
		if i > 0 {
			if want := segs[i-1].Start.Add(segs[i-1].Duration); !s.Start.Equal(want) {
				t.Errorf("segment %d: Start %v, want previous end %v", i, s.Start, want)
			}
		}
		frames += s.Frames

		p := mustProbe(t, mustWriteFile(t, "seg.mp4", s.Data))
		wantName := map[string]string{H264: "h264", H265: "hevc"}[codec]
		if p.Codec != wantName || p.Frames != s.Frames {
			t.Errorf("segment %d: ffprobe says %s with %d frames, want %s with %d", i, p.Codec, p.Frames, wantName, s.Frames)
		}
	}
	if frames != totalFrames {
		t.Errorf("segments hold %d frames, want %d", frames, totalFrames)
	}
	if !segs[0].Start.Equal(testAnchor) {
		t.Errorf("first segment starts at %v, want the anchor %v", segs[0].Start, testAnchor)
	}
}

func isIDRTypes(codec string, types []int) bool {
	if codec == H265 {
		return slices.Contains(types, 19) || slices.Contains(types, 20)
	}
	return slices.Contains(types, 5)
}

func TestCutterCutsAtIDRBetweenMinAndMax(t *testing.T) {
	for _, codec := range []string{H264, H265} {
		t.Run(codec, func(t *testing.T) {
			const gop = 15 // 0.6 s at 25 fps
			aus := mustReadAUs(t, mustEncode(t, encodeOpts{codec: codec, seconds: 5, gop: gop}), codec)
			c := &Cutter{Codec: codec, Min: time.Second, Max: 2 * time.Second}
			segs := cut(t, c, testAnchor, aus)
			checkSegments(t, codec, segs, len(aus))
			if len(segs) < 3 {
				t.Fatalf("%d segments, want at least 3", len(segs))
			}
			for i, s := range segs[:len(segs)-1] {
				// first IDR at/after Min: 1.2 s with IDRs every 0.6 s
				if s.Duration != 1200*time.Millisecond || s.Frames != 2*gop {
					t.Errorf("segment %d: %v, %d frames; want 1.2s, %d frames", i, s.Duration, s.Frames, 2*gop)
				}
			}
		})
	}
}

func TestCutterWaitsForIDRPastMax(t *testing.T) {
	const gop = 75 // 3 s: longer than Max
	aus := mustReadAUs(t, mustEncode(t, encodeOpts{codec: H264, seconds: 7, gop: gop}), H264)
	c := &Cutter{Min: time.Second, Max: 2 * time.Second}
	segs := cut(t, c, testAnchor, aus)
	checkSegments(t, H264, segs, len(aus))
	var durs []time.Duration
	for _, s := range segs {
		durs = append(durs, s.Duration)
	}
	want := []time.Duration{3 * time.Second, 3 * time.Second, time.Second}
	if !slices.Equal(durs, want) {
		t.Errorf("durations %v, want %v (cut only at IDR, never at Max)", durs, want)
	}
}

func TestCutterZeroValueDefaults(t *testing.T) {
	aus := mustReadAUs(t, mustEncode(t, encodeOpts{codec: H264, seconds: 5, gop: 25}), H264)
	var c Cutter
	segs := cut(t, &c, testAnchor, aus)
	if c.Min != DefaultMin || c.Max != DefaultMax {
		t.Errorf("defaults: Min %v Max %v", c.Min, c.Max)
	}
	var durs []time.Duration
	for _, s := range segs {
		durs = append(durs, s.Duration)
	}
	if want := []time.Duration{2 * time.Second, 2 * time.Second, time.Second}; !slices.Equal(durs, want) {
		t.Errorf("durations %v, want %v", durs, want)
	}
}

// stripParams removes in-band parameter sets, as a stream from ffmpeg's RTSP
// muxer (SDP only) looks, and returns them.
func stripParams(codec string, aus []timedAU) (vps, sps, pps []byte) {
	for i, a := range aus {
		var keep [][]byte
		for _, n := range a.au {
			switch paramType(codec, n) {
			case paramVPS:
				vps = n
			case paramSPS:
				sps = n
			case paramPPS:
				pps = n
			default:
				keep = append(keep, n)
			}
		}
		aus[i].au = keep
	}
	return vps, sps, pps
}

func TestCutterPrependsParameterSets(t *testing.T) {
	for _, codec := range []string{H264, H265} {
		t.Run(codec, func(t *testing.T) {
			aus := mustReadAUs(t, mustEncode(t, encodeOpts{codec: codec, seconds: 3, gop: 25}), codec)
			vps, sps, pps := stripParams(codec, aus)

			c := &Cutter{Codec: codec, Min: time.Second}
			if err := c.WriteAccessUnit(testAnchor, 0, aus[0].au); !errors.Is(err, ErrNoParameterSets) {
				t.Fatalf("IDR without any parameter sets: err %v, want ErrNoParameterSets", err)
			}

			c = &Cutter{Codec: codec, Min: time.Second}
			c.SetParameterSets(vps, sps, pps)
			segs := cut(t, c, testAnchor, aus)
			checkSegments(t, codec, segs, len(aus))
			want := []int{33, 34}
			if codec == H264 {
				want = []int{7, 8}
			}
			for i, s := range segs {
				types := naluTypes(t, codec, mustSamples(t, s.Data)[0])
				for _, w := range want {
					if !slices.Contains(types, w) {
						t.Errorf("segment %d: first sample NAL types %v lack %d", i, types, w)
					}
				}
			}
		})
	}
}

func TestCutterDropsLeadingNonIDR(t *testing.T) {
	aus := mustReadAUs(t, mustEncode(t, encodeOpts{codec: H264, seconds: 3, gop: 25}), H264)
	c := &Cutter{Min: time.Second}
	segs := cut(t, c, testAnchor, aus[5:])
	if len(segs) == 0 {
		t.Fatal("no segments")
	}
	// frames 5..24 are dropped; the first segment starts at frame 25 (1 s)
	if want := testAnchor.Add(time.Second); !segs[0].Start.Equal(want) {
		t.Errorf("first segment starts at %v, want %v", segs[0].Start, want)
	}
	total := 0
	for _, s := range segs {
		total += s.Frames
	}
	if total != len(aus)-25 {
		t.Errorf("%d frames kept, want %d", total, len(aus)-25)
	}
}

func TestCutterNeverCutsAtCRA(t *testing.T) {
	// x265's default open GOP: one IDR, then CRA keyframes every second.
	aus := mustReadAUs(t, mustEncode(t, encodeOpts{codec: H265, seconds: 4, gop: 25, openGOP: true}), H265)
	cras := 0
	for _, a := range aus[1:] {
		for _, n := range a.au {
			if naluType(H265, n) == 21 {
				cras++
			}
		}
	}
	if cras == 0 {
		t.Fatal("test stream has no CRA: x265 changed its defaults")
	}
	segs := cut(t, &Cutter{Codec: H265, Min: 500 * time.Millisecond, Max: time.Second}, testAnchor, aus)
	if len(segs) != 1 || segs[0].Frames != len(aus) {
		t.Fatalf("got %d segments, want 1 holding all %d frames (cut at CRA?)", len(segs), len(aus))
	}
	checkSegments(t, H265, segs, len(aus))
}

func TestCutterParameterChangeClosesSegment(t *testing.T) {
	a := mustReadAUs(t, mustEncode(t, encodeOpts{codec: H264, seconds: 1, gop: 25}), H264)
	b := mustReadAUs(t, mustEncode(t, encodeOpts{codec: H264, seconds: 1, gop: 25, size: "128x96"}), H264)
	for i := range b {
		b[i].pts += time.Second
	}
	segs := cut(t, &Cutter{Min: 5 * time.Second}, testAnchor, append(a, b...))
	if len(segs) != 2 || segs[0].Frames != len(a) || bytes.Equal(segs[0].Init, segs[1].Init) {
		t.Fatalf("got %d segments; want 2 with different inits, split at the resolution change", len(segs))
	}
	if p := mustProbe(t, mustWriteFile(t, "b.mp4", segs[1].Data)); p.Width != 128 || p.Height != 96 {
		t.Errorf("second segment is %dx%d, want 128x96", p.Width, p.Height)
	}
	var out bytes.Buffer
	if err := Concat(&out, [][]byte{segs[0].Data, segs[1].Data}); !errors.Is(err, ErrCodecMismatch) {
		t.Errorf("Concat across a resolution change: err %v, want ErrCodecMismatch", err)
	}
	if out.Len() != 0 {
		t.Errorf("Concat wrote %d bytes before failing", out.Len())
	}
}

func TestCutterNewAnchorFlushes(t *testing.T) {
	aus := mustReadAUs(t, mustEncode(t, encodeOpts{codec: H264, seconds: 2, gop: 25}), H264)
	var segs []Segment
	c := &Cutter{Min: 10 * time.Second, OnSegment: func(s Segment) { segs = append(segs, s) }}
	for _, a := range aus[:30] {
		if err := c.WriteAccessUnit(testAnchor, a.pts, a.au); err != nil {
			t.Fatal(err)
		}
	}
	// reconnect: a new stream with its own anchor, starting at an IDR
	anchor2 := testAnchor.Add(time.Minute)
	for _, a := range aus {
		if err := c.WriteAccessUnit(anchor2, a.pts, a.au); err != nil {
			t.Fatal(err)
		}
	}
	c.Flush()
	if len(segs) != 2 || segs[0].Frames != 30 || !segs[1].Start.Equal(anchor2) {
		t.Fatalf("got %d segments; want 30 frames then a segment at the new anchor", len(segs))
	}
	// the first segment's last frame lasts as long as the one before it
	if segs[0].Duration != 30*40*time.Millisecond {
		t.Errorf("flushed segment lasts %v, want 1.2s", segs[0].Duration)
	}
}

func TestCutterBFrames(t *testing.T) {
	aus := mustReadAUs(t, mustEncode(t, encodeOpts{codec: H264, seconds: 3, gop: 25, bframes: true}), H264)
	reordered := false
	for i := 1; i < len(aus); i++ {
		if aus[i].pts < aus[i-1].pts {
			reordered = true
		}
	}
	if !reordered {
		t.Fatal("test stream has no B-frames")
	}
	segs := cut(t, &Cutter{Min: time.Second}, testAnchor, aus)
	if len(segs) != 3 {
		t.Fatalf("%d segments, want 3", len(segs))
	}
	for i, s := range segs {
		// the first segment's decode durations lose the reorder delay
		if s.Frames != 25 || s.Duration > time.Second || s.Duration < 900*time.Millisecond {
			t.Errorf("segment %d: %d frames lasting %v, want 25 frames, ~1s", i, s.Frames, s.Duration)
		}
		if want := testAnchor.Add(time.Duration(i) * time.Second); !s.Start.Equal(want) {
			t.Errorf("segment %d starts at %v, want %v", i, s.Start, want)
		}
		p := mustProbe(t, mustWriteFile(t, "seg.mp4", s.Data))
		if p.Frames != s.Frames {
			t.Errorf("segment %d: ffprobe decodes %d frames, want %d", i, p.Frames, s.Frames)
		}
	}
}

func TestDurationTicks(t *testing.T) {
	for _, d := range []time.Duration{0, 40 * time.Millisecond, time.Second, 1000 * time.Hour} {
		if got := ticksToDuration(durationToTicks(d)); got != d {
			t.Errorf("round trip %v: got %v", d, got)
		}
	}
	if got := durationToTicks(40 * time.Millisecond); got != 3600 {
		t.Errorf("40ms = %d ticks, want 3600", got)
	}
}
