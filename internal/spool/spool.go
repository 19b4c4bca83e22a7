// Package spool is the hub's durable FIFO queue of sealed items waiting to be
// uploaded: epoch announcements and wraps, camera descriptors, sealed
// segments and sealed manifests. It holds ciphertext only (and public
// metadata); nothing in it needs a key to upload.
//
// # Layout
//
// One file per item in one directory, named
//
//	<16 hex digits spool sequence>-<kind>-<id>
//
// so a directory listing sorted by name is the FIFO order. A file is
//
//	"porchlight.spool/v1\n" <header JSON, one line> "\n" <body>
//
// where the header holds the id, the kind, the SHA-256 of the body and the
// item's Meta. Open reads only headers to rebuild the index; bodies are read
// when an item is uploaded, and checked against the recorded hash.
//
// # Durability
//
// Put writes a temp file (".tmp-…"), fsyncs it, renames it to its final name
// and fsyncs the directory: after a crash an item is either whole and
// visible or absent, and leftover temp files are removed at Open. Done
// deletes the file without fsyncing the directory: a deletion lost in a crash
// only makes the uploader send the item again, which the service answers as
// an idempotent retry.
//
// # Cap and eviction
//
// The spool keeps its files under a byte cap. When a Put would exceed it, it
// evicts oldest first, but only whole recording units that are safe to drop:
// a manifest together with every segment it lists that is still spooled.
// Epochs, camera descriptors and segments not yet listed by a spooled
// manifest (an open batch) are never evicted; a manifest is never dropped
// without its segments nor a segment without its manifest, so the service
// never sees a manifest whose objects are missing. Each eviction logs one
// line and is counted in Stats.
//
// # Concurrency
//
// A Spool is safe for concurrent use. mu guards the index (items, byID,
// refBy), the byte total, the sequence counter and the stats. File writes
// happen outside mu; only the rename (which makes an item visible and fixes
// its place in the order) and deletions happen under it.
package spool

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// Errors.
var (
	// ErrFull means an item did not fit under the cap even after evicting
	// every unit that is safe to drop. The caller keeps the item and tries
	// again later (the uploader frees room as it drains).
	ErrFull = errors.New("spool is full")
	// ErrExists means an item with that id is already spooled; ids are
	// unique.
	ErrExists = errors.New("spool item id already queued")
	// ErrNotFound means no item with that id is spooled (it was uploaded or
	// evicted meanwhile).
	ErrNotFound = errors.New("spool item not found")
)

// Item is one queued item. Seq and Size are set by the spool. Body is set by
// Put's caller and filled by Next and Read; Peek and Items leave it nil.
type Item struct {
	Seq  uint64 // spool sequence: the FIFO position, unique, increasing
	ID   string // seal.ValidID; unique in the spool
	Kind Kind
	Meta Meta
	Size int64 // bytes of the item file on disk
	Body []byte
	// BodySHA256 is optional on Put: the hex SHA-256 of Body, when the caller
	// computed it anyway (the hub hashes each ciphertext as it seals it).
	// Put then records it instead of hashing Body a second time. It is not
	// trusted further than that: every Read checks the body read from disk
	// against it, so a wrong hash makes the item ErrCorrupt and it is never
	// uploaded. Next and Read leave it empty.
	BodySHA256 string
}

// Stats counts what the spool did since Open (Items and Bytes are current).
type Stats struct {
	Items           int   // items queued now
	Bytes           int64 // bytes of their files
	Put             int64 // items written
	Done            int64 // items removed after upload
	Evicted         int64 // items evicted to stay under the cap or on a full disk
	EvictedBytes    int64
	EvictedSegments int64
	Quarantined     int64 // items moved aside as corrupt or refused
}

// Options configure Open.
type Options struct {
	// Max is the byte cap of the spool's files. It defaults to 2 GiB.
	Max int64
	// QuarantineDir receives items moved aside. It defaults to
	// "quarantine" beside the spool directory.
	QuarantineDir string
	// Logger receives eviction and recovery lines. It defaults to
	// slog.Default().
	Logger *slog.Logger
}

// DefaultMax is the default byte cap.
const DefaultMax = 2 << 30

type entry struct {
	seq  uint64
	id   string
	kind Kind
	meta Meta
	size int64
	name string
}

// Spool is a durable FIFO queue in a directory. Make it with Open.
type Spool struct {
	dir   string
	quar  string
	max   int64
	log   *slog.Logger
	ready chan struct{} // buffered 1: signalled on Put

	// writeFile writes and fsyncs a temp file; tests replace it to
	// simulate a full disk.
	writeFile func(f *os.File, data ...[]byte) error

	mu      sync.Mutex
	items   []*entry          // by seq, oldest first
	byID    map[string]*entry // every queued item
	refBy   map[string]string // segment id → id of a queued manifest listing it
	bytes   int64
	lastSeq uint64
	stats   Stats
}

// Open opens (creating if needed) the spool in dir: it removes leftover
// temp files, moves unparsable files to the quarantine directory and
// rebuilds the index from the item headers.
func Open(dir string, opt Options) (*Spool, error) {
	if opt.Max <= 0 {
		opt.Max = DefaultMax
	}
	if opt.QuarantineDir == "" {
		opt.QuarantineDir = filepath.Join(filepath.Dir(filepath.Clean(dir)), "quarantine")
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	s := &Spool{
		dir: dir, quar: opt.QuarantineDir, max: opt.Max, log: opt.Logger,
		ready:     make(chan struct{}, 1),
		writeFile: writeSync,
		byID:      map[string]*entry{},
		refBy:     map[string]string{},
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	removed := 0
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".tmp-") {
			// A Put that never reached its rename: never visible, drop it.
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("open spool: remove temp file: %w", err)
			}
			removed++
			continue
		}
		if de.IsDir() {
			continue
		}
		e, err := s.load(name)
		if err != nil {
			s.log.Error("spool: moving aside an unreadable item", "file", name, "err", err)
			if err := s.moveAside(name); err != nil {
				return nil, err
			}
			continue
		}
		if s.byID[e.id] != nil {
			s.log.Error("spool: moving aside a duplicate item", "file", name, "id", e.id)
			if err := s.moveAside(name); err != nil {
				return nil, err
			}
			continue
		}
		s.add(e)
	}
	slices.SortFunc(s.items, func(a, b *entry) int { return cmpU64(a.seq, b.seq) })
	if removed > 0 {
		s.log.Info("spool: removed unfinished writes from before a crash", "files", removed)
	}
	if len(s.items) > 0 {
		s.ready <- struct{}{}
		s.log.Info("spool: recovered queued items", "items", len(s.items), "bytes", s.bytes)
	}
	return s, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// load reads one item file's name and header.
func (s *Spool) load(name string) (*entry, error) {
	seq, kind, id, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(s.dir, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, min(fi.Size(), int64(len(Magic)+MaxHeader+1)))
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	h, _, err := parseHeader(buf)
	if err != nil {
		return nil, err
	}
	if h.ID != id || h.Kind != kind {
		return nil, fmt.Errorf("%w: header does not match the file name", ErrCorrupt)
	}
	return &entry{seq: seq, id: id, kind: kind, meta: h.Meta, size: fi.Size(), name: name}, nil
}

// add indexes e; the caller holds mu (or is Open).
func (s *Spool) add(e *entry) {
	s.items = append(s.items, e)
	s.byID[e.id] = e
	s.bytes += e.size
	s.lastSeq = max(s.lastSeq, e.seq)
	if e.kind == KindManifest {
		for _, r := range e.meta.Refs {
			s.refBy[r] = e.id
		}
	}
}

// drop unindexes e and deletes its file; the caller holds mu.
func (s *Spool) drop(e *entry) error {
	if err := os.Remove(filepath.Join(s.dir, e.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	s.unindex(e)
	return nil
}

func (s *Spool) unindex(e *entry) {
	s.items = slices.DeleteFunc(s.items, func(x *entry) bool { return x == e })
	delete(s.byID, e.id)
	s.bytes -= e.size
	if e.kind == KindManifest {
		for _, r := range e.meta.Refs {
			if s.refBy[r] == e.id {
				delete(s.refBy, r)
			}
		}
	}
}

func (s *Spool) moveAside(name string) error {
	if err := os.MkdirAll(s.quar, 0o700); err != nil {
		return fmt.Errorf("spool: quarantine: %w", err)
	}
	if err := os.Rename(filepath.Join(s.dir, name), filepath.Join(s.quar, name)); err != nil {
		return fmt.Errorf("spool: quarantine: %w", err)
	}
	s.stats.Quarantined++
	return nil
}

// writeSync writes the parts to f and fsyncs it.
func writeSync(f *os.File, data ...[]byte) error {
	for _, d := range data {
		if _, err := f.Write(d); err != nil {
			return err
		}
	}
	return f.Sync()
}

// Put appends an item. It returns once the item is durable. A Put that would
// go over the cap first evicts the oldest safe units; if the item still does
// not fit, a segment is refused with ErrFull while other kinds (small, and
// never to be lost) are accepted over the cap. A full disk (ENOSPC) evicts
// one unit and retries once, then returns the error.
func (s *Spool) Put(it Item) error {
	if !it.Kind.Valid() {
		return fmt.Errorf("spool: put: unknown kind %q", it.Kind)
	}
	bodySum := it.BodySHA256
	if !validHexSHA256(bodySum) {
		sum := sha256.Sum256(it.Body)
		bodySum = hex.EncodeToString(sum[:])
	}
	hdr, err := encodeHeader(header{ID: it.ID, Kind: it.Kind, BodySHA256: bodySum, Meta: it.Meta})
	if err != nil {
		return err
	}
	if _, _, _, err := ParseName(FileName(1, it.Kind, it.ID)); err != nil {
		return fmt.Errorf("spool: put: bad id %q", it.ID)
	}
	size := int64(len(hdr) + len(it.Body))

	s.mu.Lock()
	if s.byID[it.ID] != nil {
		s.mu.Unlock()
		return fmt.Errorf("spool: put %s: %w", it.ID, ErrExists)
	}
	s.evictFor(size, "spool cap reached")
	if s.bytes+size > s.max && it.Kind == KindSegment {
		s.mu.Unlock()
		return fmt.Errorf("spool: put segment %s (%d bytes, %d of %d queued): %w", it.ID, size, s.bytes, s.max, ErrFull)
	}
	s.mu.Unlock()

	tmp, err := s.writeTemp(hdr, it.Body)
	if errors.Is(err, syscall.ENOSPC) {
		s.mu.Lock()
		freed := s.evictOne("disk full")
		s.mu.Unlock()
		if freed {
			tmp, err = s.writeTemp(hdr, it.Body)
		}
	}
	if err != nil {
		return fmt.Errorf("spool: put %s %s: %w", it.Kind, it.ID, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID[it.ID] != nil {
		os.Remove(tmp)
		return fmt.Errorf("spool: put %s: %w", it.ID, ErrExists)
	}
	seq := s.lastSeq + 1
	name := FileName(seq, it.Kind, it.ID)
	if err := os.Rename(tmp, filepath.Join(s.dir, name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("spool: put %s: %w", it.ID, err)
	}
	if err := syncDir(s.dir); err != nil {
		// The item is visible but its name may not survive a crash; keep
		// it (a later fsync covers it) and report.
		s.log.Warn("spool: fsync of the spool directory failed", "err", err)
	}
	meta := it.Meta
	meta.Refs = slices.Clone(meta.Refs)
	s.add(&entry{seq: seq, id: it.ID, kind: it.Kind, meta: meta, size: size, name: name})
	s.stats.Put++
	select {
	case s.ready <- struct{}{}:
	default:
	}
	return nil
}

func (s *Spool) writeTemp(hdr, body []byte) (string, error) {
	f, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return "", err
	}
	if err := s.writeFile(f, hdr, body); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// evictFor evicts units until size more bytes fit under the cap, or none
// is left to evict. The caller holds mu.
func (s *Spool) evictFor(size int64, reason string) {
	for s.bytes+size > s.max {
		if !s.evictOne(reason) {
			return
		}
	}
}

// evictOne evicts the oldest safe unit: the manifest listing the oldest
// spooled segment that some spooled manifest lists, with every spooled
// segment it lists. It reports whether it freed anything. The caller holds
// mu.
func (s *Spool) evictOne(reason string) bool {
	for _, e := range s.items {
		if e.kind != KindSegment {
			continue
		}
		mid, ok := s.refBy[e.id]
		if !ok {
			continue // open batch: its manifest is not written yet
		}
		m := s.byID[mid]
		unit := []*entry{}
		var first, last uint64
		for _, r := range m.meta.Refs {
			if seg := s.byID[r]; seg != nil {
				unit = append(unit, seg)
				if first == 0 || seg.meta.Seq < first {
					first = seg.meta.Seq
				}
				last = max(last, seg.meta.Seq)
			}
		}
		unit = append(unit, m)
		var bytes int64
		segs := 0
		for _, u := range unit {
			if err := s.drop(u); err != nil {
				s.log.Error("spool: eviction could not delete an item", "id", u.id, "err", err)
				continue
			}
			bytes += u.size
			s.stats.Evicted++
			s.stats.EvictedBytes += u.size
			if u.kind == KindSegment {
				segs++
				s.stats.EvictedSegments++
			}
		}
		uploaded := len(m.meta.Refs) - (len(unit) - 1)
		s.log.Warn("spool: evicted the oldest recording to make room",
			"camera", m.meta.Camera, "seq", seqRange(first, last), "segments", segs,
			"already_uploaded", uploaded, "bytes", bytes, "reason", reason)
		return bytes > 0
	}
	return false
}

func seqRange(first, last uint64) string {
	if first == last {
		return fmt.Sprint(first)
	}
	return fmt.Sprintf("%d-%d", first, last)
}

func (e *entry) item() Item {
	m := e.meta
	m.Refs = slices.Clone(m.Refs)
	return Item{Seq: e.seq, ID: e.id, Kind: e.kind, Meta: m, Size: e.size}
}

// Peek returns the oldest queued item without its body.
func (s *Spool) Peek() (Item, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.items) == 0 {
		return Item{}, false
	}
	return s.items[0].item(), true
}

// Next waits until an item is queued and returns the oldest one with its
// body. It returns the same item until that item is Done, evicted or
// quarantined. A body that no longer matches its hash returns the item with
// an error wrapping ErrCorrupt.
func (s *Spool) Next(ctx context.Context) (Item, error) {
	for {
		it, ok := s.Peek()
		if ok {
			body, err := s.Read(it.ID)
			if errors.Is(err, ErrNotFound) {
				continue // evicted or done meanwhile
			}
			it.Body = body
			return it, err
		}
		select {
		case <-s.ready:
		case <-ctx.Done():
			return Item{}, ctx.Err()
		}
	}
}

// Read reads an item's body from disk and checks it against the hash
// recorded when it was written.
func (s *Spool) Read(id string) ([]byte, error) {
	s.mu.Lock()
	e := s.byID[id]
	s.mu.Unlock()
	if e == nil {
		return nil, fmt.Errorf("spool: read %s: %w", id, ErrNotFound)
	}
	b, err := os.ReadFile(filepath.Join(s.dir, e.name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("spool: read %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("spool: read %s: %w", id, err)
	}
	h, off, err := parseHeader(b)
	if err != nil {
		return nil, fmt.Errorf("spool: read %s: %w", id, err)
	}
	// The body is returned in place (no copy): b is this call's own buffer.
	// The header bytes in front of it stay allocated with it; they are small.
	body := b[off:len(b):len(b)]
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != h.BodySHA256 || h.ID != id {
		return nil, fmt.Errorf("spool: read %s: %w: body does not match its recorded hash", id, ErrCorrupt)
	}
	return body, nil
}

// validHexSHA256 reports whether s is 64 lower-case hex digits.
func validHexSHA256(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Done removes an uploaded item. Removing an item that is gone already
// (evicted meanwhile) is not an error.
func (s *Spool) Done(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byID[id]
	if e == nil {
		return nil
	}
	if err := s.drop(e); err != nil {
		return fmt.Errorf("spool: done %s: %w", id, err)
	}
	s.stats.Done++
	return nil
}

// Quarantine moves an item's file to the quarantine directory, out of the
// queue, and returns its new path. Nothing is ever silently dropped: the
// caller logs why.
func (s *Spool) Quarantine(id string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byID[id]
	if e == nil {
		return "", fmt.Errorf("spool: quarantine %s: %w", id, ErrNotFound)
	}
	if err := s.moveAside(e.name); err != nil {
		return "", err
	}
	s.unindex(e)
	return filepath.Join(s.quar, e.name), nil
}

// Items returns every queued item's metadata, oldest first, without bodies.
func (s *Spool) Items() []Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Item, len(s.items))
	for i, e := range s.items {
		out[i] = e.item()
	}
	return out
}

// Len returns the number of queued items.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items)
}

// Bytes returns the bytes of the queued items' files.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// Stats returns the counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Items = len(s.items)
	st.Bytes = s.bytes
	return st
}

// Dir returns the spool directory.
func (s *Spool) Dir() string { return s.dir }
