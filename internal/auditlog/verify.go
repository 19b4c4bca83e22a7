package auditlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// Errors of verification. ErrNotIncluded and ErrFork are alarms: the log
// showed this client something it cannot take back. Keep the checkpoints and
// entries involved as evidence and tell the owner. Any other error from a
// Verifier (a tile that could not be fetched) means "not verified yet", not
// "verified".
var (
	// ErrBadCheckpoint means a checkpoint's signature or format is wrong:
	// it was not signed by the pinned log key, or is not a checkpoint of
	// this log. Reject it; if the service sends it, alarm.
	ErrBadCheckpoint = errors.New("checkpoint signature or format is wrong")
	// ErrNotIncluded means an entry is not in the log at the index and
	// checkpoint the service claimed: a rewrite of the log or of this
	// entry. Alarm.
	ErrNotIncluded = errors.New("entry is not in the log")
	// ErrFork means a newer checkpoint does not extend an older one this
	// client saw: the log was forked or rewritten. Alarm.
	ErrFork = errors.New("log is not consistent with the checkpoint seen before")
)

// maxCheckpoint bounds a checkpoint note: a few lines and a few signatures.
const maxCheckpoint = 16 << 10

// TileFetcher fetches a tlog-tiles hash tile, as Log.ReadTile does on the
// service and GET /v1/log/tile/{path} does for clients. It may answer a
// partial tile (p > 0) with the full tile. An error wrapping ErrNotFound or
// fs.ErrNotExist for a partial tile makes the Verifier try the full one.
type TileFetcher func(ctx context.Context, level, index uint64, p uint8) ([]byte, error)

// Checkpoint is a checkpoint whose signature has been verified.
type Checkpoint struct {
	Origin string
	Size   uint64
	Hash   []byte // RFC 6962 root hash of the first Size entries
	Raw    []byte // the signed note as received, to store and compare later
}

// Verifier checks checkpoints, inclusion and consistency against one log's
// pinned verifier key. It is safe for concurrent use.
type Verifier struct {
	v      note.Verifier
	origin string
}

// NewVerifier returns a Verifier for the note verifier key
// ("origin+hash+base64", api.LogInfo.VerifierKey).
func NewVerifier(verifierKey string) (*Verifier, error) {
	v, err := note.NewVerifier(verifierKey)
	if err != nil {
		return nil, fmt.Errorf("parse audit log verifier key: %w", err)
	}
	return &Verifier{v: v, origin: v.Name()}, nil
}

// Origin returns the log's origin, the verifier key's name.
func (v *Verifier) Origin() string { return v.origin }

// Checkpoint checks raw's signature against the pinned key and parses it.
// Every failure wraps ErrBadCheckpoint.
func (v *Verifier) Checkpoint(raw []byte) (Checkpoint, error) {
	if len(raw) > maxCheckpoint {
		return Checkpoint{}, fmt.Errorf("%w: %d bytes, more than %d", ErrBadCheckpoint, len(raw), maxCheckpoint)
	}
	cp, _, _, err := log.ParseCheckpoint(raw, v.origin, v.v)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	if len(cp.Hash) != sha256.Size {
		return Checkpoint{}, fmt.Errorf("%w: root hash is %d bytes, want %d", ErrBadCheckpoint, len(cp.Hash), sha256.Size)
	}
	if cp.Size == 0 && !bytes.Equal(cp.Hash, rfc6962.DefaultHasher.EmptyRoot()) {
		return Checkpoint{}, fmt.Errorf("%w: empty tree with a root hash other than the empty root", ErrBadCheckpoint)
	}
	return Checkpoint{Origin: cp.Origin, Size: cp.Size, Hash: cp.Hash, Raw: bytes.Clone(raw)}, nil
}

func (v *Verifier) checkOrigin(cps ...Checkpoint) error {
	for _, cp := range cps {
		if cp.Origin != v.origin {
			return fmt.Errorf("%w: checkpoint of %q, not of %q", ErrBadCheckpoint, cp.Origin, v.origin)
		}
		if len(cp.Hash) != sha256.Size {
			return fmt.Errorf("%w: root hash is %d bytes, want %d", ErrBadCheckpoint, len(cp.Hash), sha256.Size)
		}
	}
	return nil
}

// VerifyInclusion checks that leaf is the entry at index in the tree cp
// commits to, building the proof from tiles fetched with f. It fails with
// ErrNotIncluded when the proof does not hold or the tiles are malformed,
// and with another error (not an alarm) when a tile cannot be fetched.
func (v *Verifier) VerifyInclusion(ctx context.Context, f TileFetcher, cp Checkpoint, index uint64, leaf []byte) error {
	if err := v.checkOrigin(cp); err != nil {
		return err
	}
	if index >= cp.Size {
		return fmt.Errorf("%w: index %d is not below the checkpoint's size %d", ErrNotIncluded, index, cp.Size)
	}
	tf := &tileFetcher{f: f}
	pb, err := client.NewProofBuilder(ctx, cp.Size, tf.fetch)
	if err != nil {
		return fmt.Errorf("verify inclusion of entry %d: %w", index, err)
	}
	p, err := pb.InclusionProof(ctx, index)
	if err != nil {
		return tf.failure(ErrNotIncluded, fmt.Sprintf("build the inclusion proof of entry %d in a tree of %d", index, cp.Size), err)
	}
	hasher := rfc6962.DefaultHasher
	if err := proof.VerifyInclusion(hasher, index, cp.Size, hasher.HashLeaf(leaf), p, cp.Hash); err != nil {
		return fmt.Errorf("%w: entry %d in a tree of %d: %v", ErrNotIncluded, index, cp.Size, err)
	}
	return nil
}

// VerifyConsistency checks that newer extends older: the log only grew
// between them. A newer checkpoint that is smaller, of the same size with
// another root, or whose consistency proof (built from tiles fetched with
// f) fails or is malformed is ErrFork; a tile that cannot be fetched is
// another error (not an alarm).
func (v *Verifier) VerifyConsistency(ctx context.Context, f TileFetcher, older, newer Checkpoint) error {
	if err := v.checkOrigin(older, newer); err != nil {
		return err
	}
	switch {
	case newer.Size < older.Size:
		return fmt.Errorf("%w: the log shrank from %d to %d entries", ErrFork, older.Size, newer.Size)
	case newer.Size == older.Size:
		if !bytes.Equal(newer.Hash, older.Hash) {
			return fmt.Errorf("%w: two different roots for a tree of %d entries", ErrFork, older.Size)
		}
		return nil
	case older.Size == 0:
		return nil // every tree extends the empty one
	}
	tf := &tileFetcher{f: f}
	pb, err := client.NewProofBuilder(ctx, newer.Size, tf.fetch)
	if err != nil {
		return fmt.Errorf("verify consistency: %w", err)
	}
	p, err := pb.ConsistencyProof(ctx, older.Size, newer.Size)
	if err != nil {
		return tf.failure(ErrFork, fmt.Sprintf("build the consistency proof from %d to %d", older.Size, newer.Size), err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, older.Size, newer.Size, p, older.Hash, newer.Hash); err != nil {
		return fmt.Errorf("%w: from %d to %d entries: %v", ErrFork, older.Size, newer.Size, err)
	}
	return nil
}

// tileFetcher wraps a TileFetcher for tessera's ProofBuilder. It checks
// each tile's length, falls back from a missing partial tile to the full
// one, and remembers whether fetching failed, which tessera's errors do not
// tell apart from malformed tiles.
type tileFetcher struct {
	f        TileFetcher
	fetchErr error
}

func (t *tileFetcher) fetch(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	b, err := t.f(ctx, level, index, p)
	if err != nil && p > 0 && (errors.Is(err, ErrNotFound) || errors.Is(err, fs.ErrNotExist)) {
		b, err = t.f(ctx, level, index, 0)
	}
	if err != nil {
		t.fetchErr = fmt.Errorf("fetch tile %s: %w", layout.TilePath(level, index, p), err)
		return nil, t.fetchErr
	}
	const full = layout.TileWidth * sha256.Size
	if n := len(b); n != full && (p == 0 || n != int(p)*sha256.Size) {
		return nil, fmt.Errorf("tile %s is %d bytes, want %d or %d", layout.TilePath(level, index, p), n, int(p)*sha256.Size, full)
	}
	return b, nil
}

// failure turns a ProofBuilder error into the fetch error if a fetch failed
// (not verified, try again), or into alarm (the tiles were malformed).
func (t *tileFetcher) failure(alarm error, step string, err error) error {
	if t.fetchErr != nil {
		return fmt.Errorf("%s: %w", step, t.fetchErr)
	}
	return fmt.Errorf("%w: %s: %v", alarm, step, err)
}
