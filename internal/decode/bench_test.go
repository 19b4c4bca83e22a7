package decode

import (
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/frame"
)

func rusageCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCPU720p measures the CPU one camera costs: a 720p 25 fps
// 2 Mb/s stream decoded to 640x360 frames at 5 fps, written all at once.
// It reports the decoding thread's CPU (decoding and scaling) and the
// whole process's, as a percentage of one core per camera.
func BenchmarkCPU720p(b *testing.B) {
	for _, codec := range []string{H264, H265} {
		for _, color := range []bool{false, true} {
			name := codec + "/gray"
			if color {
				name = codec + "/rgb"
			}
			b.Run(name, func(b *testing.B) {
				const seconds = 10
				aus := mustSplit(b, codec, mustEncode(b, clip{codec: codec, size: "1280x720", seconds: seconds, gop: 50, bitrate: "2M"}), 25)
				var decodeCPU, procCPU time.Duration
				var frames uint64
				b.ResetTimer()
				for b.Loop() {
					d, err := New(b.Context(), Config{Codec: codec, FPS: 5, Width: 640, Color: color, Queue: len(aus)}, func(*frame.Frame) {})
					if err != nil {
						b.Fatal(err)
					}
					before := rusageCPU(b)
					for _, a := range aus {
						d.WriteAccessUnit(anchor, a.pts, a.au)
					}
					d.Close()
					procCPU += rusageCPU(b) - before
					st := d.Stats()
					decodeCPU += st.CPU
					frames += st.Out
				}
				video := time.Duration(b.N) * seconds * time.Second
				b.ReportMetric(100*decodeCPU.Seconds()/video.Seconds(), "decode-%core")
				b.ReportMetric(100*procCPU.Seconds()/video.Seconds(), "process-%core")
				b.ReportMetric(video.Seconds()/procCPU.Seconds(), "cameras/core")
				b.ReportMetric(float64(frames)/float64(b.N)/seconds, "frames/s")
			})
		}
	}
}

// BenchmarkLatency720p feeds a 720p stream in real time and measures how
// long after an access unit is written its frame reaches the consumer.
func BenchmarkLatency720p(b *testing.B) {
	const seconds = 6
	aus := mustSplit(b, H264, mustEncode(b, clip{codec: H264, size: "1280x720", seconds: seconds, gop: 50, bitrate: "2M"}), 25)
	var mu sync.Mutex
	written := map[time.Time]time.Time{}
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		d, err := New(b.Context(), Config{Codec: H264, FPS: 5}, func(f *frame.Frame) {
			mu.Lock()
			defer mu.Unlock()
			if w, ok := written[f.Time]; ok {
				lat = append(lat, time.Since(w))
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		tick := time.NewTicker(40 * time.Millisecond)
		for _, a := range aus {
			<-tick.C
			mu.Lock()
			written[anchor.Add(a.pts)] = time.Now()
			mu.Unlock()
			d.WriteAccessUnit(anchor, a.pts, a.au)
		}
		tick.Stop()
		d.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	if len(lat) == 0 {
		b.Fatal("no frame")
	}
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}
