package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress draws a one-line progress bar of an export on a terminal:
//
//	[##########··········]  12/69 segments  3.1 MB / 12.3 MB
//
// It is safe for concurrent use. A disabled progress draws nothing.
type progress struct {
	mu       sync.Mutex // guards the fields below
	w        io.Writer
	on       bool
	segs     int
	total    int64
	doneSegs int
	bytes    int64
	last     time.Time // last draw, to draw at most ten times a second
	width    int       // length of the last line drawn
}

// newProgress returns a bar on w, drawn if w is a terminal or force is set.
func newProgress(w io.Writer, force bool, segs int, total int64) *progress {
	_, tty := terminalFd(w)
	return &progress{w: w, on: tty || force, segs: segs, total: total}
}

// bytesWriter counts downloaded bytes.
func (p *progress) bytesWriter() io.Writer { return progressWriter{p} }

type progressWriter struct{ p *progress }

func (pw progressWriter) Write(b []byte) (int, error) {
	pw.p.mu.Lock()
	pw.p.bytes += int64(len(b))
	pw.p.drawLocked(false)
	pw.p.mu.Unlock()
	return len(b), nil
}

func (p *progress) segmentDone() {
	p.mu.Lock()
	p.doneSegs++
	p.drawLocked(true)
	p.mu.Unlock()
}

// done erases the bar.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on && p.width > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
		p.width = 0
	}
}

func (p *progress) drawLocked(force bool) {
	if !p.on {
		return
	}
	now := time.Now()
	if !force && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	const cells = 20
	filled := 0
	if p.total > 0 {
		filled = int(min(p.bytes, p.total) * cells / p.total)
	}
	line := fmt.Sprintf("[%s%s]  %d/%d segments  %s / %s",
		strings.Repeat("#", filled), strings.Repeat("·", cells-filled),
		p.doneSegs, p.segs, formatBytes(p.bytes), formatBytes(p.total))
	pad := ""
	if n := len([]rune(line)); n < p.width {
		pad = strings.Repeat(" ", p.width-n)
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.width = len([]rune(line))
}
