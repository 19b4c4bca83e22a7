package hub

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/porchlight/porchlight/internal/spool"
)

// maxPending bounds the sealed items kept in memory while the spool refuses
// writes (a full disk, or a cap filled with items that may not be evicted).
const maxPending = 64 << 20

// outbox puts items into the spool in order. When the spool refuses a write
// it keeps the item, and every later one, in memory (so the order — an epoch
// before the segments sealed to it, segments before their manifest — holds)
// and tries again on the next put or flush. Past maxPending bytes it refuses
// new segments; other kinds are always kept.
//
// mu guards pending, bytes and the summary; it is held across spool writes
// so items reach the spool in the order they were put.
type outbox struct {
	sp  *spool.Spool
	log *slog.Logger

	mu      sync.Mutex
	pending []spool.Item
	bytes   int
	dropped int64
	sum     summary
}

// put queues it. It reports whether the item is durable (in the spool) and
// whether it was accepted at all (false only for a segment refused because
// memory is full too).
func (o *outbox) put(it spool.Item) (durable, accepted bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flushLocked()
	if len(o.pending) == 0 {
		err := o.sp.Put(it)
		if err == nil || errors.Is(err, spool.ErrExists) {
			return true, true
		}
		o.sum.fail(time.Now(), "cannot write to the spool; keeping recordings in memory until it can", "err", err)
	}
	if it.Kind == spool.KindSegment && o.bytes+len(it.Body) > maxPending {
		o.dropped++
		o.sum.fail(time.Now(), "spool and memory buffer full: dropping new segments", "camera", it.Meta.Camera, "seq", it.Meta.Seq, "dropped", o.dropped)
		return false, false
	}
	o.pending = append(o.pending, it)
	o.bytes += len(it.Body)
	return false, true
}

// flush retries the pending items.
func (o *outbox) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flushLocked()
}

func (o *outbox) flushLocked() {
	n := len(o.pending)
	for len(o.pending) > 0 {
		it := o.pending[0]
		if err := o.sp.Put(it); err != nil && !errors.Is(err, spool.ErrExists) {
			return
		}
		o.pending = o.pending[1:]
		o.bytes -= len(it.Body)
	}
	if n > 0 {
		o.log.Info("spool writable again: buffered recordings saved", "items", n)
		o.sum.ok()
	}
}

// len returns the number of items held in memory.
func (o *outbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pending)
}
