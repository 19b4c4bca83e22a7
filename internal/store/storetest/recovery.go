package storetest

import (
	"bytes"
	"testing"

	"github.com/porchlight/porchlight/internal/store"
)

func testRecoveryKits(t *testing.T, s store.Store) {
	_, h := household(t, s)
	_, err := s.RecoveryKit(ctx(t), h.ID)
	wantErr(t, err, store.ErrNotFound, "kit of a new household")
	must(t, s.PutRecoveryKit(ctx(t), h.ID, []byte("kit one"), t0), "put kit")
	must(t, s.PutRecoveryKit(ctx(t), h.ID, []byte("kit two"), t0), "replace kit")
	got, err := s.RecoveryKit(ctx(t), h.ID)
	must(t, err, "get kit")
	if !bytes.Equal(got, []byte("kit two")) {
		t.Errorf("RecoveryKit = %q, want the replacement %q", got, "kit two")
	}
	// Another household's kit is separate.
	_, h2 := household(t, s)
	_, err = s.RecoveryKit(ctx(t), h2.ID)
	wantErr(t, err, store.ErrNotFound, "kit of another household")
	wantErr(t, s.PutRecoveryKit(ctx(t), "nosuchhousehold", []byte("x"), t0), store.ErrNotFound, "kit of a missing household")
}
