package auditlog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

// Errors of the service's log.
var (
	// ErrUnavailable means the log could not durably take an entry (or
	// publish a checkpoint covering it) in time: storage failed, the log is
	// closed, or the caller gave up. Paths that must log before acting (a key
	// release, a grant approval) fail closed on it: do not act, answer 503.
	// The entry may still appear in the log later; logging an action that
	// did not happen is the safe side.
	ErrUnavailable = errors.New("audit log unavailable")
	// ErrNotFound means no such tile: a malformed tile path, an entry bundle
	// asked for as a tile (bundles are not served), or a tile the log does
	// not have. Answer 404.
	ErrNotFound = errors.New("no such tile")
)

// Config configures Open. Dir and Signer are required.
type Config struct {
	// Dir is the POSIX storage directory, created 0700 if missing. Its
	// layout is C2SP tlog-tiles: checkpoint, tile/<level>/…,
	// tile/entries/…, and tessera's private state in .state/.
	Dir string
	// Signer signs checkpoints. Its name is the log's origin.
	Signer note.Signer
	// VerifierKey is the note verifier key of Signer
	// ("origin+hash+base64"). It defaults to the key of a signer returned by
	// LoadOrCreateKey, which knows it; set it for any other signer.
	VerifierKey string
	// CheckpointInterval is how often a new checkpoint is published. It
	// defaults to 200ms (small: grant approval waits for it) and must be at
	// least 100ms (tessera's POSIX driver refuses less).
	CheckpointInterval time.Duration
	// Timeout bounds how long Append and AppendPublished wait. It defaults
	// to 10s. On timeout they return an error wrapping ErrUnavailable.
	Timeout time.Duration
	// Logger receives the log's own events. It defaults to slog.Default().
	Logger *slog.Logger
}

const (
	defaultCheckpointInterval = 200 * time.Millisecond
	minCheckpointInterval     = 100 * time.Millisecond
	defaultTimeout            = 10 * time.Second
	// batchMaxAge is how long tessera gathers entries before sequencing
	// them in one batch (one set of fsyncs). Small, because callers wait.
	batchMaxAge = 20 * time.Millisecond
	// errorEvery is how often repeated append failures are logged.
	errorEvery = 10 * time.Second
)

// Log is the service's transparency log, an RFC 6962 Merkle tree stored by
// tessera's POSIX driver. Its methods are safe for concurrent use.
//
// How failures behave (read from tessera v1.0.4's storage/posix): entries
// are gathered in batches; each batch is written as entry bundles, hash
// tiles and the tree state, each by temp file (O_SYNC), rename and directory
// fsync. If any write fails, every entry of the batch gets that error and
// the tree state is not advanced, so nothing half-written is ever covered by
// a checkpoint; the next batch starts over from the same size and overwrites
// the partial files. Tessera does not retry, and a future only resolves once
// its batch has been written, so a hung filesystem would block it forever:
// Append and AppendPublished therefore wait at most Timeout and then return
// ErrUnavailable. Tessera panics, crashing the process, only if it cannot
// open or lock its state lock file (.state/treeState.lock).
type Log struct {
	cfg      Config
	origin   string
	verifier note.Verifier
	vkey     string

	add      tessera.AddFn
	reader   tessera.LogReader
	awaiter  *tessera.PublicationAwaiter
	shutdown func(context.Context) error
	cancel   context.CancelFunc // ends tessera's background work

	// mu guards closed and the error summary below it.
	mu         sync.Mutex
	closed     bool
	lastErrLog time.Time
	suppressed int
}

// verifierKeyer is the optional ability of a signer to name its verifier
// key; signers from LoadOrCreateKey have it.
type verifierKeyer interface {
	VerifierKey() string
}

// Open opens the log in cfg.Dir, creating it (and publishing a checkpoint of
// the empty tree) if it is new. Close it to stop its background work.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	if cfg.Dir == "" {
		return nil, errors.New("open audit log: no directory: set Config.Dir")
	}
	if cfg.Signer == nil {
		return nil, errors.New("open audit log: no checkpoint signer: set Config.Signer (see LoadOrCreateKey)")
	}
	if cfg.VerifierKey == "" {
		if k, ok := cfg.Signer.(verifierKeyer); ok {
			cfg.VerifierKey = k.VerifierKey()
		} else {
			return nil, errors.New("open audit log: the signer does not know its verifier key: set Config.VerifierKey")
		}
	}
	if cfg.CheckpointInterval == 0 {
		cfg.CheckpointInterval = defaultCheckpointInterval
	}
	if cfg.CheckpointInterval < minCheckpointInterval {
		return nil, fmt.Errorf("open audit log: checkpoint interval %v is below the minimum %v", cfg.CheckpointInterval, minCheckpointInterval)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	v, err := note.NewVerifier(cfg.VerifierKey)
	if err != nil {
		return nil, fmt.Errorf("open audit log: parse verifier key: %w", err)
	}
	if err := checkKeyPair(cfg.Signer, v); err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open audit log: create its directory: %w", err)
	}

	// Tessera's background work lives as long as the Log, not as long as
	// the caller's ctx.
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	driver, err := posix.New(bg, posix.Config{Path: cfg.Dir})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("open audit log storage in %s: %w", cfg.Dir, err)
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(cfg.Signer).
		WithCheckpointInterval(cfg.CheckpointInterval).
		WithBatching(tessera.DefaultBatchMaxSize, batchMaxAge).
		WithShutdownTimeout(cfg.Timeout)
	appender, shutdown, reader, err := tessera.NewAppender(bg, driver, opts)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("open audit log in %s: %w", cfg.Dir, err)
	}
	poll := max(cfg.CheckpointInterval/4, 10*time.Millisecond)
	l := &Log{
		cfg:      cfg,
		origin:   cfg.Signer.Name(),
		verifier: v,
		vkey:     cfg.VerifierKey,
		add:      appender.Add,
		reader:   reader,
		awaiter:  tessera.NewPublicationAwaiter(bg, reader.ReadCheckpoint, poll),
		shutdown: shutdown,
		cancel:   cancel,
	}
	size, err := l.Size(ctx)
	if err != nil {
		cancel()
		if !errors.Is(err, ErrUnavailable) {
			err = fmt.Errorf("its published checkpoint does not verify with this key (was the log made with another key?): %w", err)
		}
		return nil, fmt.Errorf("open audit log in %s: %w", cfg.Dir, err)
	}
	cfg.Logger.InfoContext(ctx, "audit log open", "dir", cfg.Dir, "origin", l.origin, "size", size)
	return l, nil
}

// checkKeyPair signs a probe note with s and opens it with v, so that a
// signer and verifier key that do not belong together fail at Open rather
// than in every client.
func checkKeyPair(s note.Signer, v note.Verifier) error {
	msg, err := note.Sign(&note.Note{Text: "porchlight audit log key check\n"}, s)
	if err != nil {
		return fmt.Errorf("sign with the checkpoint signer: %w", err)
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		return fmt.Errorf("the verifier key does not verify the signer's signatures: %w", err)
	}
	return nil
}

// Origin returns the log's origin, the checkpoint signer's name.
func (l *Log) Origin() string { return l.origin }

// VerifierKey returns the checkpoint verifier key in the signed-note format
// ("origin+hash+base64"), for clients to pin (NewVerifier).
func (l *Log) VerifierKey() string { return l.vkey }

// Append adds leaf (an Entry's Marshal bytes; anything else is refused with
// ErrMalformed) and waits until it is durably sequenced and integrated,
// returning its index. It waits at most Config.Timeout; on timeout, storage
// failure, a closed log or a cancelled ctx it returns an error wrapping
// ErrUnavailable. A published checkpoint may not cover the index yet: use
// AppendPublished when a client must be able to verify it at once.
func (l *Log) Append(ctx context.Context, leaf []byte) (uint64, error) {
	return l.append(ctx, leaf, false)
}

// AppendPublished is Append that also waits until a published checkpoint
// covers the index (Checkpoint's size > index). Grant approval uses it: no
// key is released for a grant until its entry is in a published checkpoint.
func (l *Log) AppendPublished(ctx context.Context, leaf []byte) (uint64, error) {
	return l.append(ctx, leaf, true)
}

type appendResult struct {
	index uint64
	err   error
}

func (l *Log) append(ctx context.Context, leaf []byte, published bool) (uint64, error) {
	if _, err := Parse(leaf); err != nil {
		return 0, fmt.Errorf("append to the audit log: %w", err)
	}
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return 0, fmt.Errorf("%w: the log is closed", ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	// Tessera's futures ignore ctx and Add can block behind Close, so both
	// run in a goroutine that may outlive this call (until tessera resolves
	// the future or the log is closed); the buffered channel lets it end.
	done := make(chan appendResult, 1)
	go func() {
		fut := l.add(ctx, tessera.NewEntry(leaf))
		var idx tessera.Index
		var err error
		if published {
			idx, _, err = l.awaiter.Await(ctx, fut)
		} else {
			idx, err = fut()
		}
		done <- appendResult{idx.Index, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			err := fmt.Errorf("%w: %w", ErrUnavailable, r.err)
			l.logFailure(ctx, err)
			return 0, err
		}
		return r.index, nil
	case <-ctx.Done():
		err := fmt.Errorf("%w: no answer from storage: %w", ErrUnavailable, context.Cause(ctx))
		l.logFailure(ctx, err)
		return 0, err
	}
}

// logFailure logs an append failure, at most once per errorEvery, with the
// number of failures left out since the last one logged.
func (l *Log) logFailure(ctx context.Context, err error) {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.lastErrLog) < errorEvery {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.lastErrLog, l.suppressed = now, 0
	l.mu.Unlock()
	l.cfg.Logger.ErrorContext(ctx, "audit log append failed", "dir", l.cfg.Dir, "error", err, "failures_not_logged", n)
}

// Checkpoint returns the latest published checkpoint, a signed note.
func (l *Log) Checkpoint(ctx context.Context) ([]byte, error) {
	cp, err := l.reader.ReadCheckpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: read checkpoint: %w", ErrUnavailable, err)
	}
	return cp, nil
}

// Size returns the size of the latest published checkpoint, after checking
// its signature.
func (l *Log) Size(ctx context.Context) (uint64, error) {
	raw, err := l.Checkpoint(ctx)
	if err != nil {
		return 0, err
	}
	cp, _, _, err := log.ParseCheckpoint(raw, l.origin, l.verifier)
	if err != nil {
		return 0, fmt.Errorf("parse the published checkpoint: %w", err)
	}
	return cp.Size, nil
}

// ReadTile returns the hash tile at level and index, partial width p (0 for
// a full tile). A partial tile that has been replaced by the full tile is
// answered with the full tile, whose first p hashes are the partial one. A
// missing tile is an error wrapping ErrNotFound.
func (l *Log) ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	b, err := l.reader.ReadTile(ctx, level, index, p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, layout.TilePath(level, index, p))
		}
		return nil, fmt.Errorf("read tile %s: %w", layout.TilePath(level, index, p), err)
	}
	return b, nil
}

// TileByPath serves a tlog-tiles hash tile given the part of its path after
// "tile/" (e.g. "0/x001/234.p/5"), as ReadTile. Entry bundles
// ("entries/…") are not served, and only the canonical spelling of a path is
// accepted; both are errors wrapping ErrNotFound.
func (l *Log) TileByPath(ctx context.Context, path string) ([]byte, error) {
	level, rest, ok := strings.Cut(path, "/")
	if !ok || level == "entries" {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, path)
	}
	lv, idx, p, err := layout.ParseTileLevelIndexPartial(level, rest)
	if err != nil || layout.TilePath(lv, idx, p) != "tile/"+path {
		return nil, fmt.Errorf("%w: %q is not a tile path", ErrNotFound, path)
	}
	return l.ReadTile(ctx, lv, idx, p)
}

// ReadEntry returns the leaf bytes at index from its entry bundle in a tree
// of treeSize (index < treeSize ≤ the integrated size). The bytes are as
// stored: verify them against a checkpoint before trusting them.
func (l *Log) ReadEntry(ctx context.Context, index, treeSize uint64) ([]byte, error) {
	leaves, err := l.ReadEntries(ctx, index, treeSize, 1)
	if err != nil {
		return nil, err
	}
	if len(leaves) != 1 {
		return nil, fmt.Errorf("read audit entry %d: the tree of size %d does not have it", index, treeSize)
	}
	return leaves[0], nil
}

// ReadEntries returns up to limit consecutive leaves starting at from, in a
// tree of treeSize (from < treeSize). The operator listing pages with it.
func (l *Log) ReadEntries(ctx context.Context, from, treeSize uint64, limit int) ([][]byte, error) {
	if from >= treeSize {
		return nil, fmt.Errorf("read audit entries: index %d is not below the tree size %d", from, treeSize)
	}
	if limit <= 0 {
		return nil, nil
	}
	var out [][]byte
	for ri := range layout.Range(from, uint64(limit), treeSize) {
		raw, err := l.reader.ReadEntryBundle(ctx, ri.Index, ri.Partial)
		if err != nil {
			return nil, fmt.Errorf("read audit entry bundle %d: %w", ri.Index, err)
		}
		var b api.EntryBundle
		if err := b.UnmarshalText(raw); err != nil {
			return nil, fmt.Errorf("read audit entry bundle %d: %w: %v", ri.Index, ErrMalformed, err)
		}
		if uint(len(b.Entries)) < ri.First+ri.N {
			return nil, fmt.Errorf("read audit entry bundle %d: %w: %d entries, want at least %d", ri.Index, ErrMalformed, len(b.Entries), ri.First+ri.N)
		}
		for _, e := range b.Entries[ri.First : ri.First+ri.N] {
			out = append(out, append([]byte(nil), e...))
		}
	}
	return out, nil
}

// Close stops taking entries, waits (at most Config.Timeout, or until ctx
// ends) for a published checkpoint to cover every entry Append has
// returned, and stops the background work. Later calls return nil.
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	defer l.cancel()
	if err := l.shutdown(ctx); err != nil {
		return fmt.Errorf("close audit log: wait for the last checkpoint: %w", err)
	}
	return nil
}
