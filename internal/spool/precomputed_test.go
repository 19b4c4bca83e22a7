package spool

import (
	"errors"
	"strings"
	"testing"

	"github.com/porchlight/porchlight/internal/seal"
)

// A hash given by the caller is recorded instead of hashing the body again,
// but never trusted past that: a wrong one makes the item corrupt at Read,
// so it is never uploaded; a malformed one is ignored and the body hashed.
func TestPutPrecomputedHash(t *testing.T) {
	s, _ := mustOpen(t, t.TempDir(), 0)

	good := seg("cam", 1, 1000)
	good.BodySHA256 = seal.SHA256Hex(good.Body)
	mustPut(t, s, good)
	if b, err := s.Read(good.ID); err != nil || string(b) != string(good.Body) {
		t.Fatalf("good hash: %v", err)
	}

	wrong := seg("cam", 2, 1000)
	wrong.BodySHA256 = strings.Repeat("0", 64)
	mustPut(t, s, wrong)
	if _, err := s.Read(wrong.ID); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("wrong hash: Read = %v, want ErrCorrupt", err)
	}

	bad := seg("cam", 3, 1000)
	bad.BodySHA256 = "not a hash"
	mustPut(t, s, bad)
	if b, err := s.Read(bad.ID); err != nil || string(b) != string(bad.Body) {
		t.Fatalf("malformed hash: %v", err)
	}
}
