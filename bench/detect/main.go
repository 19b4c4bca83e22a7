// Command detect is the bench/detect benchmark (see bench/detect/run and
// docs/detection.md): it runs the hub's analysis chain — the libavcodec decoder
// at 5 fps, motion, the shared detector, the tracker — on N simulated
// cameras fed a 720p H.264 clip of pedestrians (opencv-doc's vtest.avi,
// scaled up) in real time, and prints per-camera CPU (all of it is this
// process: decoding runs in it),
// inference time per frame, motion-onset → alert latency (p50/p95) and
// cameras per core.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/porchlight/porchlight/internal/analysis"
	"github.com/porchlight/porchlight/internal/decode"
	"github.com/porchlight/porchlight/internal/detect"
	"github.com/porchlight/porchlight/internal/frame"
	"github.com/porchlight/porchlight/internal/motion"
	"github.com/porchlight/porchlight/internal/segment"
	"github.com/porchlight/porchlight/internal/track"
)

var (
	threadsFlag *int
	slowFlag    *time.Duration
)

func main() {
	cams := flag.Int("cameras", 2, "simulated cameras")
	seconds := flag.Int("seconds", 40, "seconds of video per camera")
	threadsFlag = flag.Int("threads", 0, "inference threads (0: the detector's default)")
	src := flag.String("clip", "/usr/share/doc/opencv-doc/examples/data/vtest.avi", "source clip")
	prof := flag.String("cpuprofile", "", "write a CPU profile of the Go side here")
	slowFlag = flag.Duration("slow", 0, "print the track of every alert slower than this (0: none)")
	flag.Parse()
	if *prof != "" {
		f, err := os.Create(*prof)
		if err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	if err := run(*cams, *seconds, *src); err != nil {
		fmt.Fprintln(os.Stderr, "bench/detect:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// stats are one camera's measurements.
type stats struct {
	frames    int
	analysed  int
	infer     []time.Duration
	latencies []time.Duration
	pipeline  []time.Duration // capture → analysed, per analysed frame
	decodeCPU time.Duration
}

func run(cams, seconds int, src string) error {
	dir, err := os.MkdirTemp("", "bench-detect-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	clip := filepath.Join(dir, "clip.h264")
	ff := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-stream_loop", "-1", "-i", src, "-t", fmt.Sprint(seconds),
		"-vf", "scale=1280:720", "-r", "25", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "2M", "-bf", "0", "-g", "50", "-f", "h264", clip)
	if out, err := ff.CombinedOutput(); err != nil {
		return fmt.Errorf("make the 720p clip (install ffmpeg and opencv-doc with bash scripts/setup): %v: %s", err, out)
	}
	data, err := os.ReadFile(clip)
	if err != nil {
		return err
	}
	var aus [][][]byte
	rd := &segment.AccessUnitReader{R: bytes.NewReader(data), Codec: segment.H264}
	for {
		au, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		aus = append(aus, au)
	}
	det, err := detect.Open(detect.Config{Threads: *threadsFlag})
	if err != nil {
		return err
	}
	defer det.Close()

	var before syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	start := time.Now()
	all := make([]*stats, cams)
	var wg sync.WaitGroup
	for i := range cams {
		all[i] = &stats{}
		wg.Go(func() { camera(det, aus, all[i]) })
	}
	wg.Wait()
	wall := time.Since(start)
	var after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	procCPU := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) / time.Duration(cams)

	var infer, lat, pipe []time.Duration
	var decCPU time.Duration
	frames, analysed := 0, 0
	for _, s := range all {
		infer = append(infer, s.infer...)
		lat = append(lat, s.latencies...)
		pipe = append(pipe, s.pipeline...)
		decCPU += s.decodeCPU
		frames += s.frames
		analysed += s.analysed
	}
	decCPU /= time.Duration(cams)
	perCam := float64(procCPU) / float64(wall)
	fmt.Printf("bench/detect: %d cameras, 720p H.264 25 fps 2 Mb/s (vtest.avi scaled), analysis at 5 fps, %s each\n\n", cams, wall.Round(time.Second))
	fmt.Printf("%-44s %s\n", "metric", "value")
	fmt.Printf("%-44s %.1f %% of a core (decoding %.1f %%)\n", "CPU per camera during motion", 100*perCam, 100*float64(decCPU)/float64(wall))
	fmt.Printf("%-44s %s / %s (%d frames)\n", "inference per frame, p50 / p95", pct(infer, 50), pct(infer, 95), len(infer))
	fmt.Printf("%-44s %s / %s\n", "capture → frame analysed, p50 / p95", pct(pipe, 50), pct(pipe, 95))
	fmt.Printf("%-44s %s / %s (%d alerts)\n", "motion onset → alert, p50 / p95", pct(lat, 50), pct(lat, 95), len(lat))
	fmt.Printf("%-44s %d of %d\n", "frames analysed (motion-gated)", analysed, frames)
	fmt.Printf("%-44s %.1f\n", "cameras per core (all moving all the time)", 1/perCam)
	return nil
}

// camera feeds the clip in real time through the chain.
func camera(det *detect.Detector, aus [][][]byte, s *stats) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	chain := analysis.New(det, motion.Config{}, track.Config{})
	frames := make(chan *frame.Frame, 2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for f := range frames {
			s.frames++
			r, err := chain.Frame(f)
			if err != nil || !r.Analysed {
				continue
			}
			s.infer = append(s.infer, r.Infer)
			s.pipeline = append(s.pipeline, time.Since(f.Time))
			s.analysed++
			for _, a := range r.Alerts {
				// The alert is raised now. Motion onset is when the
				// object started to move: where its centre first left
				// the spot it was first seen at by a tenth of its size
				// (camera time = wall time of its access unit). For an
				// object walking in, that is its first sighting; for one
				// that stood first, when it set off.
				lat := time.Since(a.Track.Onset())
				s.latencies = append(s.latencies, lat)
				if *slowFlag > 0 && lat > *slowFlag {
					printSlow(a.Track, lat)
				}
			}
		}
	}()
	dec, err := decode.New(ctx, decode.Config{Codec: decode.H264, FPS: 5, Width: 640, Color: true}, func(f *frame.Frame) {
		select {
		case frames <- f:
		default:
		}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	anchor := time.Now()
	for i, au := range aus {
		at := time.Duration(i) * 40 * time.Millisecond
		if d := time.Until(anchor.Add(at)); d > 0 {
			time.Sleep(d)
		}
		dec.WriteAccessUnit(anchor, at, au)
	}
	dec.Close()
	s.decodeCPU = dec.Stats().CPU
	close(frames)
	<-done
}

// printSlow shows a slow alert's track: each sighting's time from onset,
// centre and size in pixels of a 640×360 frame.
func printSlow(t track.Track, lat time.Duration) {
	on := t.Onset()
	var b bytes.Buffer
	fmt.Fprintf(&b, "slow alert: %v after onset, track %d %s (best %.2f), first seen %v before onset:", lat.Round(time.Millisecond), t.ID, t.Class, t.Score, on.Sub(t.First).Round(time.Millisecond))
	for i, x := range t.Path {
		fmt.Fprintf(&b, " [%v %.0f,%.0f %.0fx%.0f]", t.Times[i].Sub(on).Round(10*time.Millisecond), (x.X0+x.X1)/2*640, (x.Y0+x.Y1)/2*360, (x.X1-x.X0)*640, (x.Y1-x.Y0)*360)
	}
	fmt.Fprintln(os.Stderr, b.String())
}

func pct(ds []time.Duration, p int) string {
	if len(ds) == 0 {
		return "-"
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[(len(ds)-1)*p/100].Round(100 * time.Microsecond).String()
}
