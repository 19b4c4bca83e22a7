package ingest

import (
	"fmt"
	"log/slog"
	"time"
)

// errorSummary logs repeated identical errors once per window with a count,
// instead of one line per connection attempt. It is used from Run's goroutine
// only.
type errorSummary struct {
	log    *slog.Logger
	name   string
	window time.Duration
	now    func() time.Time // defaults to time.Now

	last  string    // message of the error being repeated
	since time.Time // start of the current window
	count int       // repeats of last since the window started, not yet logged
}

func (e *errorSummary) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

// seen records err as already logged by the caller.
func (e *errorSummary) seen(err error) {
	e.flush()
	e.last, e.since, e.count = err.Error(), e.clock(), 0
}

// report logs err, or counts it if it repeats the previous one; a count is
// logged when the window ends or a different error or a success comes.
func (e *errorSummary) report(err error) {
	msg := err.Error()
	now := e.clock()
	if msg == e.last {
		e.count++
		if now.Sub(e.since) >= e.window {
			e.flush()
			e.since = now
		}
		return
	}
	e.flush()
	e.last, e.since, e.count = msg, now, 0
	e.log.Warn("camera "+e.name+": "+msg, "err", msg)
}

// clear logs any pending count and forgets the last error (on success).
func (e *errorSummary) clear() {
	e.flush()
	e.last, e.count = "", 0
}

func (e *errorSummary) flush() {
	if e.count == 0 {
		return
	}
	elapsed := e.clock().Sub(e.since).Round(time.Second)
	e.log.Warn(fmt.Sprintf("camera %s: %s (repeated %d times in %v)", e.name, e.last, e.count, elapsed),
		"err", e.last, "repeated", e.count, "in", elapsed)
	e.count = 0
}
