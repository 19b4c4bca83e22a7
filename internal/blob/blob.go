// Package blob defines porchlightd's ciphertext blob store: opaque bytes
// under random ids. Backends (internal/blob/disk now, S3 later) implement
// Store natively and pass the conformance suite internal/blob/blobtest.
//
// A blob store never sees a name, an e-mail or plaintext: ids are the random
// object ids, contents are age files. It is not an index either: the
// metadata store says which blobs exist for whom, and every access is
// authorised there first.
package blob

import (
	"context"
	"errors"
	"io"
)

// Errors backends return (possibly wrapped); test with errors.Is.
var (
	// ErrNotFound means no blob has that id. The caller's metadata and the
	// blob store disagree, or the id was deleted.
	ErrNotFound = errors.New("blob not found")
	// ErrInvalidID means the id has a shape a store refuses (empty, too
	// long, or characters other than lowercase letters and digits).
	ErrInvalidID = errors.New("invalid blob id")
	// ErrSize means a Put's reader gave a different number of bytes than
	// the size declared; nothing was stored.
	ErrSize = errors.New("blob size does not match")
)

// Store holds blobs by id. Every method is safe for concurrent use.
type Store interface {
	// Put stores the bytes of r under id. size is the expected length, or
	// -1 if unknown. A Put is atomic: readers see the previous content (or
	// none) until it succeeds, and a Put that fails (reader error, size
	// mismatch, cancelled context) leaves nothing new visible. Putting an
	// existing id replaces its content atomically.
	Put(ctx context.Context, id string, r io.Reader, size int64) error
	// Get opens a blob and returns its size. The caller closes the reader.
	Get(ctx context.Context, id string) (io.ReadCloser, int64, error)
	// Delete removes a blob. Deleting a missing id is not an error.
	Delete(ctx context.Context, id string) error
	// Stat returns a blob's size.
	Stat(ctx context.Context, id string) (int64, error)
	// List calls fn for every blob, in no particular order, until fn returns
	// an error (which List returns).
	List(ctx context.Context, fn func(id string, size int64) error) error
}

// ValidID reports whether a store accepts id: 4 to 64 lowercase ASCII
// letters and digits. Porchlight's object ids (26 base32 characters) fit.
func ValidID(id string) bool {
	if len(id) < 4 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
