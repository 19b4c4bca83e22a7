package camsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/porchlight/porchlight/internal/segment"
)

// source produces access units for the stream.
type source interface {
	// params returns the parameter sets for the SDP (vps is nil for H.264).
	params() (vps, sps, pps []byte)
	// describe says what is streamed, for the start-up line.
	describe() string
	// run calls write for each access unit in real time, with its PTS in
	// 90 kHz ticks, until ctx is done (then it returns nil) or it fails.
	run(ctx context.Context, write func(pts int64, au [][]byte) error) error
	// close releases what the source holds (processes, files); idempotent.
	close()
}

// openSource starts the pattern generator or loads the file.
func (m *Main) openSource(ctx context.Context) (source, error) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		return nil, errors.New("camsim: ffmpeg not found: run scripts/setup (or apt-get install ffmpeg)")
	}
	m.rtpBase = randUint32()
	if m.File != "" {
		return m.loadFile(ctx)
	}
	return m.startPattern(ctx)
}

// paramSets extracts the parameter sets of an access unit.
func paramSets(codec string, au [][]byte) (vps, sps, pps []byte) {
	for _, n := range au {
		switch t := naluType(codec, n); {
		case codec == segment.H265 && t == 32:
			vps = n
		case codec == segment.H265 && t == 33, codec == segment.H264 && t == 7:
			sps = n
		case codec == segment.H265 && t == 34, codec == segment.H264 && t == 8:
			pps = n
		}
	}
	return vps, sps, pps
}

// withoutAUD drops access unit delimiters, which RTP cameras do not send.
func withoutAUD(codec string, au [][]byte) [][]byte {
	out := au[:0:0]
	for _, n := range au {
		if !isAUD(codec, n) {
			out = append(out, n)
		}
	}
	return out
}

// tailBuffer keeps the last bytes written to it (ffmpeg's stderr, for errors).
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2048 {
		t.buf = t.buf[len(t.buf)-2048:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// patternSource is a live ffmpeg test pattern read from a pipe.
type patternSource struct {
	m      *Main
	cmd    *exec.Cmd
	stderr *tailBuffer
	r      *segment.AccessUnitReader
	first  [][]byte
	vps    []byte
	sps    []byte
	pps    []byte
	desc   string
	once   sync.Once
}

// fontPaths are tried in order for the burned-in clock.
var fontPaths = []string{
	"/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
	"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
}

// clockFilter returns the drawtext filter burning in the wall clock to the
// millisecond, or "" if drawtext or a font is missing.
func clockFilter(height int) string {
	font := ""
	for _, p := range fontPaths {
		if _, err := os.Stat(p); err == nil {
			font = p
			break
		}
	}
	if font == "" {
		return ""
	}
	out, err := exec.Command("ffmpeg", "-hide_banner", "-filters").Output()
	if err != nil || !bytes.Contains(out, []byte(" drawtext ")) {
		return ""
	}
	// patternFilter makes t the frame's wall clock in Unix seconds (to the
	// millisecond): print it as local time. pts:localtime gives whole
	// seconds; the milliseconds come from t.
	size := max(height/14, 12)
	text := `%{pts\:localtime\:0\:%H\\\:%M\\\:%S}.%{eif\:mod(floor(t*1000+0.5)\,1000)\:d\:3}`
	return fmt.Sprintf("drawtext=fontfile=%s:fontsize=%d:fontcolor=white:box=1:boxcolor=black@0.7:boxborderw=6:x=(w-tw)/2:y=h-th-2*lh:text='%s'",
		font, size, text)
}

func (m *Main) startPattern(ctx context.Context) (source, error) {
	w, h, _ := parseSize(m.Size)
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", fmt.Sprintf("%s=size=%dx%d:rate=%d", m.Pattern, w, h, m.FPS)}
	text := clockFilter(h)
	if text == "" {
		// testsrc draws its own running timestamp without fonts
		m.Logger.Warn("camsim: drawtext or DejaVu font unavailable (install fonts-dejavu-core); no readable wall clock, using testsrc's counter")
		args[len(args)-1] = fmt.Sprintf("testsrc=size=%dx%d:rate=%d", w, h, m.FPS)
	}
	if _, _, ok := ClockStrip(w, h); !ok {
		m.Logger.Warn("camsim: the frame is narrower than 512 pixels: no machine-readable clock strip", "size", m.Size)
	}
	args = append(args, "-vf", patternFilter(w, h, m.FPS, text))
	g := strconv.Itoa(m.GOP)
	args = append(args, "-pix_fmt", "yuv420p")
	if m.codec == segment.H265 {
		args = append(args, "-c:v", "libx265", "-preset", "ultrafast", "-tune", "zerolatency",
			"-x265-params", "log-level=error:keyint="+g+":min-keyint="+g+":scenecut=0:bframes=0:open-gop=0:repeat-headers=1",
			"-bsf:v", "hevc_metadata=aud=insert", "-f", "hevc")
	} else {
		args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
			"-g", g, "-keyint_min", g, "-sc_threshold", "0", "-bf", "0",
			"-bsf:v", "h264_metadata=aud=insert", "-f", "h264")
	}
	args = append(args, "-flush_packets", "1", "pipe:1")

	p := &patternSource{m: m, stderr: &tailBuffer{}}
	p.cmd = exec.CommandContext(ctx, "ffmpeg", args...)
	p.cmd.Stderr = p.stderr
	p.cmd.WaitDelay = 2 * time.Second
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("camsim: starting ffmpeg: %w", err)
	}
	p.r = &segment.AccessUnitReader{R: stdout, Codec: m.codec}

	// The SDP needs the parameter sets: wait for the first IDR.
	for {
		au, err := p.r.Next()
		if err != nil {
			p.close()
			return nil, fmt.Errorf("camsim: ffmpeg pattern produced no keyframe: %v: %s", err, p.stderr)
		}
		if !isIDR(m.codec, au) {
			continue
		}
		p.vps, p.sps, p.pps = paramSets(m.codec, au)
		if p.sps == nil || p.pps == nil {
			p.close()
			return nil, errors.New("camsim: ffmpeg pattern keyframe without parameter sets")
		}
		p.first = au
		break
	}
	p.desc = fmt.Sprintf("%s %dx%d@%d", m.codec, w, h, m.FPS)
	return p, nil
}

func (p *patternSource) params() ([]byte, []byte, []byte) { return p.vps, p.sps, p.pps }
func (p *patternSource) describe() string                 { return p.desc }

func (p *patternSource) run(ctx context.Context, write func(int64, [][]byte) error) error {
	au := p.first
	for n := int64(0); ; n++ {
		if err := write(n*90000/int64(p.m.FPS), withoutAUD(p.m.codec, au)); err != nil {
			return err
		}
		var err error
		au, err = p.r.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("camsim: ffmpeg pattern stopped: %v: %s", err, p.stderr)
		}
	}
}

func (p *patternSource) close() {
	p.once.Do(func() {
		if p.cmd.Process != nil {
			p.cmd.Process.Kill()
		}
		p.cmd.Wait()
	})
}

// fileSource loops the access units of a file.
type fileSource struct {
	codec  string
	frames []fileFrame
	period int64 // ticks of one loop
	vps    []byte
	sps    []byte
	pps    []byte
	desc   string
}

type fileFrame struct {
	dts, pts int64 // ticks from the first frame's DTS
	au       [][]byte
}

// probeFile returns the codec of the file's first video stream.
func probeFile(path string) (string, error) {
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name", "-of", "csv=p=0", path).Output()
	if err != nil {
		return "", fmt.Errorf("camsim: ffprobe %s: %w", path, err)
	}
	switch c := strings.TrimSpace(string(out)); c {
	case "h264":
		return segment.H264, nil
	case "hevc":
		return segment.H265, nil
	case "":
		return "", fmt.Errorf("camsim: %s has no video stream", path)
	default:
		return "", fmt.Errorf("camsim: %s: video codec %q not supported (want h264 or hevc; re-encode it first)", path, c)
	}
}

// packetTimes returns the (pts, dts) in ticks of every packet of the file's
// first video stream, in decode order, or nil if they are not all known.
func packetTimes(path string) [][2]int64 {
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "packet=pts_time,dts_time", "-of", "csv=p=0", path).Output()
	if err != nil {
		return nil
	}
	var times [][2]int64
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		ps, ds, _ := strings.Cut(strings.TrimSpace(line), ",")
		ds, _, _ = strings.Cut(ds, ",")
		p, err1 := strconv.ParseFloat(ps, 64)
		d, err2 := strconv.ParseFloat(ds, 64)
		if err1 != nil || err2 != nil {
			return nil
		}
		times = append(times, [2]int64{int64(math.Round(p * 90000)), int64(math.Round(d * 90000))})
	}
	return times
}

func (m *Main) loadFile(ctx context.Context) (source, error) {
	codec, err := probeFile(m.File)
	if err != nil {
		return nil, err
	}
	m.codec = codec

	dir, err := os.MkdirTemp("", "camsim-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	raw := filepath.Join(dir, "video.annexb")
	bsf, muxer := "h264_mp4toannexb,h264_metadata=aud=insert", "h264"
	if codec == segment.H265 {
		bsf, muxer = "hevc_mp4toannexb,hevc_metadata=aud=insert", "hevc"
	}
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
		"-i", m.File, "-map", "0:v:0", "-c", "copy", "-bsf:v", bsf, "-f", muxer, raw)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("camsim: converting %s to Annex-B: %w: %s", m.File, err, bytes.TrimSpace(out))
	}
	f, err := os.Open(raw)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	r := &segment.AccessUnitReader{R: f, Codec: codec}
	var aus [][][]byte
	for {
		au, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("camsim: reading %s: %w", m.File, err)
		}
		aus = append(aus, au)
	}

	s := &fileSource{codec: codec}
	times := packetTimes(m.File)
	frameTicks := int64(90000 / m.FPS)
	if len(times) != len(aus) {
		m.Logger.Warn("camsim: file timestamps unavailable, pacing at --fps",
			"file", m.File, "packets", len(times), "access_units", len(aus), "fps", m.FPS)
		times = make([][2]int64, len(aus))
		for i := range times {
			times[i] = [2]int64{int64(i) * frameTicks, int64(i) * frameTicks}
		}
	}

	// Start at the first IDR with parameter sets, so every loop is decodable.
	start := -1
	for i, au := range aus {
		if isIDR(codec, au) {
			s.vps, s.sps, s.pps = paramSets(codec, au)
			if s.sps != nil && s.pps != nil && (codec == segment.H264 || s.vps != nil) {
				start = i
				break
			}
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("camsim: %s has no IDR frame with parameter sets", m.File)
	}
	dts0 := times[start][1]
	for i := start; i < len(aus); i++ {
		s.frames = append(s.frames, fileFrame{
			dts: times[i][1] - dts0,
			pts: times[i][0] - dts0,
			au:  withoutAUD(codec, aus[i]),
		})
	}
	n := len(s.frames)
	last := s.frames[n-1].dts
	step := frameTicks
	if n > 1 {
		step = max(1, last/int64(n-1)) // mean frame interval
	}
	s.period = last + step
	s.desc = fmt.Sprintf("%s from %s, %d frames, looping every %v",
		codec, filepath.Base(m.File), n, ticksToDuration(s.period))
	return s, nil
}

func (s *fileSource) params() ([]byte, []byte, []byte) { return s.vps, s.sps, s.pps }
func (s *fileSource) describe() string                 { return s.desc }
func (s *fileSource) close()                           {}

func (s *fileSource) run(ctx context.Context, write func(int64, [][]byte) error) error {
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for loop := int64(0); ; loop++ {
		base := loop * s.period
		for _, f := range s.frames {
			at := start.Add(ticksToDuration(base + f.dts))
			if d := time.Until(at); d > 0 {
				timer.Reset(d)
				select {
				case <-ctx.Done():
					return nil
				case <-timer.C:
				}
			} else if ctx.Err() != nil {
				return nil
			}
			if err := write(base+f.pts, f.au); err != nil {
				return err
			}
		}
	}
}

// ticksToDuration converts 90 kHz ticks to a duration (no overflow for
// centuries).
func ticksToDuration(t int64) time.Duration {
	return time.Duration(t/90000*int64(time.Second)) + time.Duration(t%90000*100000/9)
}
