package decode

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/porchlight/porchlight/internal/frame"
	"golang.org/x/sys/unix"
)

// proc is one ffmpeg process.
type proc struct {
	cmd        *exec.Cmd
	stdin      io.WriteCloser
	rate       float64
	releases   int // release frames after each kept one (pickWithRelease); 0: the fps filter
	frames     atomic.Uint64
	kept       atomic.Uint64 // tag of the latest kept frame read, plus one (0: none)
	stopping   atomic.Bool   // stdin closed: errors are expected
	readerDone chan struct{} // stdout read to the end
	stderrDone chan struct{}
}

// args returns ffmpeg's command line for an input at rate frames a second.
func (d *Decoder) args(rate float64) []string {
	demux, pix := "h264", "gray"
	if d.cfg.Codec == H265 {
		demux = "hevc"
	}
	if d.cfg.Color {
		// Scaling stays in YUV and the conversion to RGB is a separate,
		// unscaled step: swscale's scaled RGB output is its slow path
		// (about 1 ms a 640-px frame here, against 0.3 ms for both steps).
		pix = "yuv420p,format=rgb24"
	}
	pick := "fps=" + formatRate(min(d.cfg.FPS, rate))
	if r := releases(d.cfg.FPS, rate); r > 0 {
		pick = pickWithRelease(d.cfg.FPS, rate, r)
	}
	vf := fmt.Sprintf("%s,scale=%d:-2:flags=bilinear,format=%s,showinfo=checksum=0",
		pick, d.cfg.Width, pix)
	return []string{
		"-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info",
		"-filter_threads", "1",
		// one decoding thread: no frame-threading delay, least CPU per camera
		"-threads", "1", "-probesize", "32", "-analyzeduration", "0",
		// the deblocking filter is an eighth of the decoding CPU; analysis
		// at 640 px does not need it
		"-skip_loop_filter", "all",
		"-f", demux, "-framerate", formatRate(rate), "-i", "pipe:0",
		"-an", "-vf", vf, "-fps_mode", "passthrough",
		"-f", "rawvideo", "-flush_packets", "1", "pipe:1",
	}
}

// releases is how many release frames follow each kept frame
// (pickWithRelease): two when the input has at least three pictures per
// output interval, one when it has two, and none for slower inputs, which
// use the fps filter.
func releases(fps, rate float64) int {
	switch {
	case rate >= 3*fps:
		return 2
	case rate >= 2*fps:
		return 1
	}
	return 0
}

// pickWithRelease is the select filter that keeps about fps frames a
// second of an input at rate, each followed at once by count release
// frames.
//
// ffmpeg 5.1 moves frames through its filter graph when the output asks
// for one, and it asks once per input packet, before it blocks reading the
// next: a frame select lets through can stop short of the output until the
// next selected frame comes along, so a kept frame alone would wait a whole
// output interval (200 ms at 5 fps). Release frames, the pictures right
// after the kept one, push it out. Usually one is enough (the kept frame
// comes out one input interval later); but whether the graph holds one
// frame or two depends on timing at ffmpeg's start, and after about one
// start in four it holds two (bench/detect: capture → analysed p50 57 ms,
// or 216 ms with one release frame, 94 ms with two). So there are two when
// the rate allows. readFrames discards release frames: they carry the tags
// right after the kept frame's.
//
// Variables: ld(0) is when the next frame is due on ffmpeg's clock (t),
// ld(1) is the frame number (n) of the latest kept frame plus two, so the
// count frames after it, those with n+1 from ld(1) on, are its releases. A frame is kept once it is within half an input interval of
// being due; after a gap the schedule restarts from it.
func pickWithRelease(fps, rate float64, count int) string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }
	period, half := f(1/fps), f(0.5/rate)
	return "select='if(gt(ld(1),0)*between(n+1,ld(1),ld(1)+" + strconv.Itoa(count-1) + "),1," +
		"if(gte(t,ld(0)-" + half + "),st(0,if(gt(t,ld(0)+" + half + "),t,ld(0))+" + period + ")*0+st(1,n+2)*0+1,0))'"
}

func formatRate(r float64) string {
	return strconv.FormatFloat(r, 'f', 3, 64)
}

// start starts ffmpeg and its reader goroutines.
func (d *Decoder) start(rate float64) (*proc, error) {
	cmd := exec.CommandContext(d.ctx, d.ffmpeg, d.args(rate)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	growPipe(stdout)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("decode: starting ffmpeg: %w", err)
	}
	p := &proc{cmd: cmd, stdin: stdin, rate: rate, releases: releases(d.cfg.FPS, rate), readerDone: make(chan struct{}), stderrDone: make(chan struct{})}
	d.statMu.Lock()
	d.cur = p
	d.statMu.Unlock()
	d.log.Debug("decode: ffmpeg started", "pid", cmd.Process.Pid, "input_fps", rate)

	infos := make(chan frameInfo, 64)
	go func() {
		defer close(p.stderrDone)
		defer close(infos)
		lp := &logParser{
			onFrame: func(fi frameInfo) { infos <- fi },
			onError: func(msg string) {
				d.log.Debug("decode: ffmpeg error", "msg", msg)
				if !p.stopping.Load() {
					// At the end ffmpeg finds the delimiter that ends each
					// access unit alone ("no frame!", "missing picture").
					d.noteError(errors.New("decode: ffmpeg: " + msg))
				}
			},
		}
		r := bufio.NewReaderSize(stderr, maxLogLine)
		for {
			line, err := r.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				for err == bufio.ErrBufferFull { // not ours: skip it
					_, err = r.ReadSlice('\n')
				}
				line = nil
			}
			if len(line) > 0 {
				lp.line(strings.TrimRight(string(line), "\r\n"))
			}
			if err != nil {
				break
			}
		}
		lp.flush()
	}()
	go func() {
		defer close(p.readerDone)
		d.readFrames(p, stdout, infos)
	}()
	return p, nil
}

// readFrames reads the frames showinfo announces from stdout and delivers
// those carrying a known tag. It returns when stdout ends; on lost sync it
// kills ffmpeg (run then restarts it).
func (d *Decoder) readFrames(p *proc, stdout io.Reader, infos <-chan frameInfo) {
	defer func() {
		for range infos { // let the stderr reader finish
		}
		io.Copy(io.Discard, stdout)
	}()
	wantPix, bpp := "gray", 1
	if d.cfg.Color {
		wantPix, bpp = "rgb24", 3
	}
	var scratch []byte // release frames are read into it and dropped
	// Release frames are the pictures right after a kept one. They are
	// known by their tags, not by counting, so a frame ffmpeg never outputs
	// (a picture lost to corrupt input) cannot swap kept and release frames.
	var keptSeq uint64
	haveKept := false
	for n := 0; ; n++ {
		fi, ok := <-infos
		if !ok {
			return
		}
		if fi.N != n || fi.PixFmt != wantPix || fi.W != d.cfg.Width {
			d.noteError(fmt.Errorf("decode: lost sync with ffmpeg's output (frame %d: %+v)", n, fi))
			p.cmd.Process.Kill()
			return
		}
		size := fi.W * fi.H * bpp
		release := haveKept && fi.Tagged && fi.Seq > keptSeq && fi.Seq <= keptSeq+uint64(p.releases)
		if fi.Tagged && !release {
			keptSeq, haveKept = fi.Seq, true
		}
		if release {
			if cap(scratch) < size {
				scratch = make([]byte, size)
			}
			if _, err := io.ReadFull(stdout, scratch[:size]); err != nil {
				return
			}
			continue
		}
		buf := make([]byte, size)
		if _, err := io.ReadFull(stdout, buf); err != nil {
			return
		}
		if !fi.Tagged {
			continue // a picture ffmpeg found in corrupt input
		}
		p.kept.Store(fi.Seq + 1)
		t, ok := d.lookup(fi.Seq)
		if !ok || (!d.lastT.IsZero() && !t.After(d.lastT)) {
			continue // a duplicate from the fps filter, or out of order
		}
		d.lastT = t
		f := &frame.Frame{W: fi.W, H: fi.H, Time: t}
		if d.cfg.Color {
			f.RGB, f.Gray = buf, grayFromRGB(buf)
		} else {
			f.Gray = buf
		}
		p.frames.Add(1)
		d.deliver(f)
	}
}

// lookup returns the capture time of the access unit tagged seq.
func (d *Decoder) lookup(seq uint64) (time.Time, bool) {
	d.ringMu.Lock()
	defer d.ringMu.Unlock()
	e := d.ring[seq%ringSize]
	return e.t, e.ok && e.seq == seq
}

// stop ends p: stdin is closed so ffmpeg flushes its last frames (or it is
// killed at once), and killed if it has not finished within stopTimeout.
func (d *Decoder) stop(p *proc, kill bool) {
	p.stopping.Store(true)
	p.stdin.Close()
	if kill {
		p.cmd.Process.Kill()
	}
	t := time.NewTimer(stopTimeout)
	select {
	case <-p.readerDone:
	case <-t.C:
		p.cmd.Process.Kill()
		<-p.readerDone
	}
	t.Stop()
	<-p.stderrDone
	err := p.cmd.Wait()
	var cpu time.Duration
	if st := p.cmd.ProcessState; st != nil {
		cpu = st.UserTime() + st.SystemTime()
	}
	d.statMu.Lock()
	d.cur = nil
	d.cpuSpent += cpu
	d.statMu.Unlock()
	if err != nil && !kill && d.ctx.Err() == nil {
		d.noteError(fmt.Errorf("decode: ffmpeg exited: %w", err))
	}
}

// growPipe asks the kernel for a 1 MiB pipe buffer (fs.pipe-max-size by
// default), more than a 640-px RGB frame, so that ffmpeg writes a frame and
// this process reads it in one go rather than in 64 KiB pieces:
// BenchmarkCPU720p, ffmpeg 3.7 → 3.4 % and Go 0.66 → 0.53 % of a core per
// camera. Where the kernel refuses, the default stays.
func growPipe(r io.Reader) {
	f, ok := r.(*os.File)
	if !ok {
		return
	}
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.FcntlInt(fd, unix.F_SETPIPE_SZ, 1<<20) })
	}
}

// grayFromRGB computes BT.601 luma (full range) from packed RGB.
func grayFromRGB(rgb []byte) []byte {
	g := make([]byte, len(rgb)/3)
	for i := range g {
		r, gg, b := uint32(rgb[3*i]), uint32(rgb[3*i+1]), uint32(rgb[3*i+2])
		g[i] = byte((19595*r + 38470*gg + 7471*b + 1<<15) >> 16)
	}
	return g
}

// procCPU returns the CPU time a running process has used, from
// /proc/<pid>/stat (utime + stime, in clock ticks of 1/100 s on Linux).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	// after the command: state(0) ppid ... utime is field 14 overall, index 11 here
	if len(f) < 13 {
		return 0
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(u+s) * 10 * time.Millisecond
}
