// Package blobtest is the conformance suite every blob.Store backend passes:
// each backend's test is one call, blobtest.Run(t, newStore). It pins round
// trips, not-found, overwrite and failure atomicity, concurrency and List.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/porchlight/porchlight/internal/blob"
)

// Run runs the suite. newStore returns a fresh, empty store per subtest.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"NotFound", testNotFound},
		{"InvalidID", testInvalidID},
		{"Overwrite", testOverwrite},
		{"FailedPutLeavesNothing", testFailedPut},
		{"SizeMismatch", testSizeMismatch},
		{"CancelledPut", testCancelledPut},
		{"ConcurrentPuts", testConcurrentPuts},
		{"Delete", testDelete},
		{"List", testList},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

var seq atomic.Uint64

// ID returns a fresh id shaped like a Porchlight object id.
func ID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	var b [26]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[b[i]%32]
	}
	seq.Add(1)
	return string(b[:])
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// MustPut stores b under id or fails the test.
func MustPut(tb testing.TB, s blob.Store, id string, b []byte) {
	tb.Helper()
	if err := s.Put(context.Background(), id, bytes.NewReader(b), int64(len(b))); err != nil {
		tb.Fatalf("Put(%s): %v", id, err)
	}
}

// MustGet reads a blob or fails the test.
func MustGet(tb testing.TB, s blob.Store, id string) []byte {
	tb.Helper()
	rc, size, err := s.Get(context.Background(), id)
	if err != nil {
		tb.Fatalf("Get(%s): %v", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatalf("Get(%s): read: %v", id, err)
	}
	if int64(len(b)) != size {
		tb.Fatalf("Get(%s): size %d, read %d bytes", id, size, len(b))
	}
	return b
}

func testRoundTrip(t *testing.T, s blob.Store) {
	for _, n := range []int{0, 1, 4096, 200_000} {
		id := ID()
		want := randomBytes(n)
		MustPut(t, s, id, want)
		if got := MustGet(t, s, id); !bytes.Equal(got, want) {
			t.Errorf("%d bytes: round trip differs", n)
		}
		size, err := s.Stat(t.Context(), id)
		if err != nil || size != int64(n) {
			t.Errorf("Stat = %d, %v; want %d", size, err, n)
		}
	}
	// Unknown size.
	id := ID()
	want := randomBytes(1000)
	if err := s.Put(t.Context(), id, bytes.NewReader(want), -1); err != nil {
		t.Fatalf("Put with size -1: %v", err)
	}
	if got := MustGet(t, s, id); !bytes.Equal(got, want) {
		t.Error("size -1: round trip differs")
	}
}

func testNotFound(t *testing.T, s blob.Store) {
	id := ID()
	if _, _, err := s.Get(t.Context(), id); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Get missing: %v, want ErrNotFound", err)
	}
	if _, err := s.Stat(t.Context(), id); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat missing: %v, want ErrNotFound", err)
	}
}

func testInvalidID(t *testing.T, s blob.Store) {
	for _, id := range []string{"", "ab", "../../etc/passwd", "ABCDEFGH", "abcd/efgh", "abc.defgh", string(make([]byte, 65))} {
		if err := s.Put(t.Context(), id, bytes.NewReader([]byte("x")), 1); !errors.Is(err, blob.ErrInvalidID) {
			t.Errorf("Put(%q): %v, want ErrInvalidID", id, err)
		}
		if _, _, err := s.Get(t.Context(), id); !errors.Is(err, blob.ErrInvalidID) {
			t.Errorf("Get(%q): %v, want ErrInvalidID", id, err)
		}
	}
}

func testOverwrite(t *testing.T, s blob.Store) {
	id := ID()
	a := randomBytes(5000)
	MustPut(t, s, id, a)
	MustPut(t, s, id, a) // same content again: fine
	if got := MustGet(t, s, id); !bytes.Equal(got, a) {
		t.Fatal("same-content put changed the blob")
	}
	b := randomBytes(3000)
	MustPut(t, s, id, b)
	if got := MustGet(t, s, id); !bytes.Equal(got, b) {
		t.Fatal("overwrite did not replace the content")
	}
}

// failingReader yields n bytes, then an error.
type failingReader struct {
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	k := min(len(p), f.n)
	for i := range k {
		p[i] = 'x'
	}
	f.n -= k
	return k, nil
}

func testFailedPut(t *testing.T, s blob.Store) {
	boom := errors.New("network dropped")
	id := ID()
	err := s.Put(t.Context(), id, &failingReader{n: 100_000, err: boom}, 200_000)
	if !errors.Is(err, boom) {
		t.Errorf("Put with failing reader: %v, want the reader's error", err)
	}
	if _, _, err := s.Get(t.Context(), id); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("after failed Put, Get: %v, want ErrNotFound", err)
	}
	listed := 0
	if err := s.List(t.Context(), func(string, int64) error { listed++; return nil }); err != nil {
		t.Fatal(err)
	}
	if listed != 0 {
		t.Errorf("after failed Put, List shows %d blobs", listed)
	}
	// A failed overwrite keeps the old content.
	old := randomBytes(1000)
	MustPut(t, s, id, old)
	_ = s.Put(t.Context(), id, &failingReader{n: 10, err: boom}, -1)
	if got := MustGet(t, s, id); !bytes.Equal(got, old) {
		t.Error("failed overwrite changed the blob")
	}
}

func testSizeMismatch(t *testing.T, s blob.Store) {
	id := ID()
	err := s.Put(t.Context(), id, bytes.NewReader(randomBytes(10)), 11)
	if !errors.Is(err, blob.ErrSize) {
		t.Errorf("short body: %v, want ErrSize", err)
	}
	if _, _, err := s.Get(t.Context(), id); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("after size mismatch, Get: %v", err)
	}
}

func testCancelledPut(t *testing.T, s blob.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	id := ID()
	if err := s.Put(ctx, id, bytes.NewReader(randomBytes(10)), 10); err == nil {
		t.Error("Put with a cancelled context succeeded")
	}
	if _, _, err := s.Get(t.Context(), id); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("after cancelled Put, Get: %v", err)
	}
}

func testConcurrentPuts(t *testing.T, s blob.Store) {
	// Many writers of the same id: the result is exactly one of them.
	id := ID()
	contents := make([][]byte, 8)
	for i := range contents {
		contents[i] = bytes.Repeat([]byte{byte('a' + i)}, 100_000)
	}
	var wg sync.WaitGroup
	for _, c := range contents {
		wg.Go(func() {
			if err := s.Put(context.Background(), id, bytes.NewReader(c), int64(len(c))); err != nil {
				t.Errorf("concurrent Put: %v", err)
			}
		})
	}
	// And many ids at once.
	ids := make([]string, 16)
	for i := range ids {
		ids[i] = ID()
		wg.Go(func() {
			if err := s.Put(context.Background(), ids[i], bytes.NewReader([]byte(ids[i])), int64(len(ids[i]))); err != nil {
				t.Errorf("Put %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got := MustGet(t, s, id)
	ok := false
	for _, c := range contents {
		ok = ok || bytes.Equal(got, c)
	}
	if !ok {
		t.Error("concurrent puts of one id produced a mix")
	}
	for _, x := range ids {
		if got := MustGet(t, s, x); string(got) != x {
			t.Errorf("blob %s holds %q", x, got)
		}
	}
}

func testDelete(t *testing.T, s blob.Store) {
	id := ID()
	MustPut(t, s, id, []byte("hello"))
	if err := s.Delete(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(t.Context(), id); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}
	if err := s.Delete(t.Context(), id); err != nil {
		t.Errorf("Delete of a missing id: %v, want nil", err)
	}
}

func testList(t *testing.T, s blob.Store) {
	want := map[string]int64{}
	for i := range 20 {
		id := ID()
		MustPut(t, s, id, randomBytes(i))
		want[id] = int64(i)
	}
	got := map[string]int64{}
	err := s.List(t.Context(), func(id string, size int64) error {
		if _, dup := got[id]; dup {
			return fmt.Errorf("listed %s twice", id)
		}
		got[id] = size
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	stop := errors.New("stop")
	n := 0
	err = s.List(t.Context(), func(string, int64) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("List stops on fn error: err %v after %d calls", err, n)
	}
}
