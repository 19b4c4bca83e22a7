package hub

import (
	"bytes"
	"io"
	"log/slog"
	"testing"

	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/spool"
)

// TestOutboxKeepsOrderWhileSpoolRefuses: a spool that refuses writes (here:
// full of items it may not evict) leaves later items in memory, in order,
// until room is freed.
func TestOutboxKeepsOrderWhileSpoolRefuses(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sp, err := spool.Open(t.TempDir(), spool.Options{Max: 3000, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	o := &outbox{sp: sp, log: log, sum: summary{log: log}}
	item := func(kind spool.Kind, n int) spool.Item {
		return spool.Item{ID: seal.NewID(), Kind: kind, Body: bytes.Repeat([]byte{1}, n)}
	}
	a := item(spool.KindSegment, 2000)
	b := item(spool.KindSegment, 2000) // does not fit: a is in an open batch
	e := item(spool.KindEpoch, 10)     // must stay behind b
	if d, ok := o.put(a); !d || !ok {
		t.Fatal("a not durable")
	}
	if d, ok := o.put(b); d || !ok {
		t.Fatalf("b: durable %v accepted %v", d, ok)
	}
	if d, ok := o.put(e); d || !ok {
		t.Fatalf("e: durable %v accepted %v", d, ok)
	}
	if o.len() != 2 || sp.Len() != 1 {
		t.Fatalf("pending %d spooled %d", o.len(), sp.Len())
	}
	sp.Done(a.ID) // uploaded
	o.flush()
	items := sp.Items()
	if o.len() != 0 || len(items) != 2 || items[0].ID != b.ID || items[1].ID != e.ID {
		t.Fatalf("after flush: pending %d, spool %+v", o.len(), items)
	}
}
