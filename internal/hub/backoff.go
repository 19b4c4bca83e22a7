package hub

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/porchlight/porchlight/internal/apiclient"
)

// Backoff bounds for calls to the service.
var (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// backoff is exponential backoff with ±20 % jitter.
type backoff struct{ next time.Duration }

// wait returns the next delay and doubles it, up to maxBackoff.
func (b *backoff) wait() time.Duration {
	if b.next == 0 {
		b.next = minBackoff
	}
	d := time.Duration(float64(b.next) * (0.8 + 0.4*rand.Float64()))
	b.next = min(2*b.next, maxBackoff)
	return d
}

func (b *backoff) reset() { b.next = 0 }

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retry calls f until it succeeds, fails with an error that is not
// retryable, or ctx is done. Failures are logged once, then summarised at
// most once a minute.
func retry(ctx context.Context, log *slog.Logger, what string, f func() error) error {
	var b backoff
	sum := summary{log: log, every: time.Minute}
	for {
		err := f()
		if err == nil || !apiclient.IsRetryable(err) {
			if err == nil && sum.failures > 0 {
				log.Info("service reachable again", "step", what, "failures", sum.failures)
			}
			return err
		}
		d := b.wait()
		sum.fail(time.Now(), "cannot reach the service, retrying", "step", what, "err", err, "retry_in", d.Round(100*time.Millisecond))
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// summary logs a repeated failure once, then at most once per every with
// the count of failures since the last line.
type summary struct {
	log      *slog.Logger
	every    time.Duration
	last     time.Time
	failures int // since the last success
	unlogged int // since the last line
}

func (s *summary) fail(now time.Time, msg string, args ...any) {
	s.failures++
	s.unlogged++
	if s.failures > 1 && now.Sub(s.last) < s.every {
		return
	}
	if s.unlogged > 1 {
		args = append(args, "repeated", s.unlogged)
	}
	s.log.Warn(msg, args...)
	s.last = now
	s.unlogged = 0
}

func (s *summary) ok() {
	s.failures = 0
	s.unlogged = 0
}
