package redact

// ffmpeg plumbing: probing, decoding to raw RGB, encoding the output.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// streamInfo is what probe found.
type streamInfo struct {
	w, h int
	fps  float64
}

// probe reads the first video stream's size and frame rate with ffprobe.
func probe(ctx context.Context, mp4 []byte) (streamInfo, error) {
	cmd := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "stream=width,height,avg_frame_rate,r_frame_rate", "-of", "json", "-i", "pipe:0")
	cmd.Stdin = bytes.NewReader(mp4)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return streamInfo{}, ctx.Err()
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return streamInfo{}, fmt.Errorf("%w: ffprobe: %s", ErrNotMP4, lastLine(stderr.String()))
		}
		return streamInfo{}, fmt.Errorf("%w: run ffprobe: %v", ErrFFmpeg, err)
	}
	var res struct {
		Streams []struct {
			Width  int    `json:"width"`
			Height int    `json:"height"`
			Avg    string `json:"avg_frame_rate"`
			R      string `json:"r_frame_rate"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Streams) == 0 || res.Streams[0].Width <= 0 || res.Streams[0].Height <= 0 {
		return streamInfo{}, fmt.Errorf("%w: no video stream", ErrNotMP4)
	}
	s := res.Streams[0]
	// r_frame_rate is the stream's nominal rate; a camera's variable-rate
	// stream may report a timebase there instead, then the average serves.
	fps := rate(s.R)
	if fps <= 0 || fps > 60 {
		fps = rate(s.Avg)
	}
	if fps <= 0 || fps > 60 {
		fps = detectFPS
	}
	return streamInfo{w: s.Width, h: s.Height, fps: fps}, nil
}

// rate parses an ffprobe rational like "30000/1001".
func rate(s string) float64 {
	n, d, ok := strings.Cut(s, "/")
	num, err1 := strconv.ParseFloat(n, 64)
	if !ok {
		if err1 != nil {
			return 0
		}
		return num
	}
	den, err2 := strconv.ParseFloat(d, 64)
	if err1 != nil || err2 != nil || den == 0 {
		return 0
	}
	return num / den
}

// outSize scales w×h down to at most maxW wide, both even (yuv420p).
func outSize(w, h, maxW int) (int, int) {
	if w > maxW {
		h = int(math.Round(float64(h) * float64(maxW) / float64(w)))
		w = maxW
	}
	return max(2, w&^1), max(2, h&^1)
}

// proc is a running ffmpeg with its stderr kept for errors.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.Reader
	stderr *bytes.Buffer
	done   bool
}

func (p *proc) wait() error {
	if p.done {
		return nil
	}
	p.done = true
	if err := p.cmd.Wait(); err != nil {
		return fmt.Errorf("%w: %s: %v: %s", ErrFFmpeg, p.name, err, lastLine(p.stderr.String()))
	}
	return nil
}

// fail reports an I/O error on a pipe together with ffmpeg's own error.
func (p *proc) fail(err error) error {
	if werr := p.wait(); werr != nil {
		return werr
	}
	return fmt.Errorf("%w: %s: %v", ErrFFmpeg, p.name, err)
}

func (p *proc) kill() {
	if p.done {
		return
	}
	if p.stdin != nil {
		p.stdin.Close()
	}
	p.cmd.Process.Kill()
	p.done = true
	p.cmd.Wait()
}

// startDecoder runs ffmpeg from mp4 (fed on stdin) to raw RGB frames of w×h
// at fps, from off for dur (0: to the end).
func startDecoder(ctx context.Context, mp4 []byte, off, dur time.Duration, fps float64, w, h int) (*proc, error) {
	vf := fmt.Sprintf("trim=start=%.6f", off.Seconds())
	if dur > 0 {
		vf += fmt.Sprintf(":duration=%.6f", dur.Seconds())
	}
	vf += fmt.Sprintf(",setpts=PTS-STARTPTS,fps=%.6f,scale=%d:%d,format=rgb24", fps, w, h)
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-i", "pipe:0",
		"-map", "0:v:0", "-vf", vf, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &proc{name: "decode", cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: run ffmpeg: %v", ErrFFmpeg, err)
	}
	p.stdout = bufio.NewReaderSize(out, w*h*3)
	go func() {
		// A write error means ffmpeg stopped reading; its exit says why.
		in.Write(mp4)
		in.Close()
	}()
	return p, nil
}

// startEncoder runs ffmpeg from raw RGB frames on stdin to an H.264 MP4 at
// path: no audio, no metadata, bit-exact (no encoder version tags, zero
// creation time), SEI (x264's settings banner) removed, moov first.
func startEncoder(ctx context.Context, path string, fps float64, w, h int) (*proc, error) {
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "rawvideo", "-pix_fmt", "rgb24", "-s", fmt.Sprintf("%dx%d", w, h), "-framerate", fmt.Sprintf("%.6f", fps), "-i", "pipe:0",
		"-an", "-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1",
		"-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
		"-bsf:v", "filter_units=remove_types=6",
		"-fflags", "+bitexact", "-flags", "+bitexact", "-movflags", "+faststart",
		"-f", "mp4", path)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	p := &proc{name: "encode", cmd: cmd, stdin: in, stderr: &bytes.Buffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: run ffmpeg: %v", ErrFFmpeg, err)
	}
	return p, nil
}

// lastLine is the last non-empty line of ffmpeg's stderr, capped.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300]
	}
	if s == "" {
		return "no message"
	}
	return s
}
