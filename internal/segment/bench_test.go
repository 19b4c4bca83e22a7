package segment

import (
	"log/slog"
	"testing"
	"time"
)

// BenchmarkCutter cuts 4 s of 720p H.264 (IDR every 2 s) into fMP4
// segments: AVCC packing, fragment marshalling and the segment buffer.
func BenchmarkCutter(b *testing.B) {
	aus := mustReadAUs(b, mustEncode(b, encodeOpts{codec: H264, seconds: 4, gop: 50, size: "1280x720"}), H264)
	var bytes int64
	for _, a := range aus {
		for _, n := range a.au {
			bytes += int64(len(n))
		}
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	anchor := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	// One cutter for the whole run, as for one camera connection; each
	// round is a new stream (a new anchor flushes the previous one).
	c := &Cutter{Codec: H264, Min: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)}
	for b.Loop() {
		anchor = anchor.Add(time.Hour)
		for _, a := range aus {
			if err := c.WriteAccessUnit(anchor, a.pts, a.au); err != nil {
				b.Fatal(err)
			}
		}
	}
	c.Flush()
}
