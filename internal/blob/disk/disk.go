// Package diskblob is the local-directory backend of blob.Store, the
// embedded default of porchlightd.
//
// Layout: a blob with id "abcdef…" lives at <root>/ab/cd/abcdef…, the path
// made from the random id alone. A Put writes <root>/tmp/<random>, fsyncs
// it, renames it into place and fsyncs the directory, so a crash at any
// point leaves either the old blob, the new blob, or (for a new id)
// nothing — never a partial file under its id. Leftover temp files are
// removed by Open.
package diskblob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/porchlight/porchlight/internal/blob"
)

// Disk is a blob.Store in a local directory.
type Disk struct {
	root string
}

var _ blob.Store = (*Disk)(nil)

const tmpDir = "tmp"

// Open opens (creating if needed, mode 0700) the blob directory at root and
// removes temp files a crash left behind.
func Open(root string) (*Disk, error) {
	if err := os.MkdirAll(filepath.Join(root, tmpDir), 0o700); err != nil {
		return nil, fmt.Errorf("open blob dir: %w", err)
	}
	entries, err := os.ReadDir(filepath.Join(root, tmpDir))
	if err != nil {
		return nil, fmt.Errorf("open blob dir: %w", err)
	}
	for _, e := range entries {
		_ = os.Remove(filepath.Join(root, tmpDir, e.Name()))
	}
	return &Disk{root: root}, nil
}

// Root returns the directory.
func (d *Disk) Root() string { return d.root }

func (d *Disk) path(id string) (string, error) {
	if !blob.ValidID(id) {
		return "", fmt.Errorf("%w: %q", blob.ErrInvalidID, id)
	}
	return filepath.Join(d.root, id[0:2], id[2:4], id), nil
}

// Put implements blob.Store.
func (d *Disk) Put(ctx context.Context, id string, r io.Reader, size int64) (err error) {
	final, err := d.path(id)
	if err != nil {
		return err
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(d.root, tmpDir, id+"."+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("put blob %s: %w", id, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	n, err := io.Copy(f, &ctxReader{ctx: ctx, r: r})
	if err != nil {
		return fmt.Errorf("put blob %s: write: %w", id, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("put blob %s: %w: got %d bytes, want %d", id, blob.ErrSize, n, size)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("put blob %s: fsync: %w", id, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("put blob %s: close: %w", id, err)
	}
	dir := filepath.Dir(final)
	if err = os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("put blob %s: %w", id, err)
	}
	if err = ctx.Err(); err != nil {
		return fmt.Errorf("put blob %s: %w", id, err)
	}
	if err = os.Rename(tmp, final); err != nil {
		return fmt.Errorf("put blob %s: rename: %w", id, err)
	}
	// The blob is in place; a failed directory fsync still reports an
	// error so the caller does not record it as durable.
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("put blob %s: fsync dir: %w", id, err)
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// ctxReader stops a copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Get implements blob.Store.
func (d *Disk) Get(ctx context.Context, id string) (io.ReadCloser, int64, error) {
	p, err := d.path(id)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("get blob %s: %w", id, blob.ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get blob %s: %w", id, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("get blob %s: %w", id, err)
	}
	return f, st.Size(), nil
}

// Stat implements blob.Store.
func (d *Disk) Stat(ctx context.Context, id string) (int64, error) {
	p, err := d.path(id)
	if err != nil {
		return 0, err
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("stat blob %s: %w", id, blob.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("stat blob %s: %w", id, err)
	}
	return st.Size(), nil
}

// Delete implements blob.Store.
func (d *Disk) Delete(ctx context.Context, id string) error {
	p, err := d.path(id)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete blob %s: %w", id, err)
	}
	return nil
}

// List implements blob.Store.
func (d *Disk) List(ctx context.Context, fn func(id string, size int64) error) error {
	l1, err := os.ReadDir(d.root)
	if err != nil {
		return fmt.Errorf("list blobs: %w", err)
	}
	for _, a := range l1 {
		if !a.IsDir() || len(a.Name()) != 2 {
			continue // tmp/ and anything foreign
		}
		l2, err := os.ReadDir(filepath.Join(d.root, a.Name()))
		if err != nil {
			return fmt.Errorf("list blobs: %w", err)
		}
		for _, b := range l2 {
			if !b.IsDir() || len(b.Name()) != 2 {
				continue
			}
			files, err := os.ReadDir(filepath.Join(d.root, a.Name(), b.Name()))
			if err != nil {
				return fmt.Errorf("list blobs: %w", err)
			}
			for _, f := range files {
				id := f.Name()
				if f.IsDir() || !blob.ValidID(id) || id[0:2] != a.Name() || id[2:4] != b.Name() {
					continue
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				info, err := f.Info()
				if errors.Is(err, fs.ErrNotExist) {
					continue // deleted meanwhile
				}
				if err != nil {
					return fmt.Errorf("list blobs: %w", err)
				}
				if err := fn(id, info.Size()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
