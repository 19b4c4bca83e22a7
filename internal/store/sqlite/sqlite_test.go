package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/porchlight/porchlight/internal/store"
	sqlitestore "github.com/porchlight/porchlight/internal/store/sqlite"
	"github.com/porchlight/porchlight/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "porchlight.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "porchlight.db")
	s, err := sqlitestore.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	a := store.Account{ID: "acct1", Email: "a@example.org", PasswordHash: "h"}
	if err := s.CreateAccount(t.Context(), a, store.Household{ID: "hh1", Owner: "acct1"}); err != nil {
		t.Fatal(err)
	}
	v1, err := s.SchemaVersion(t.Context())
	if err != nil || v1 < 1 {
		t.Fatalf("SchemaVersion = %d, %v", v1, err)
	}
	s.Close()
	s, err = sqlitestore.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if v2, _ := s.SchemaVersion(t.Context()); v2 != v1 {
		t.Errorf("schema version %d after reopen, want %d", v2, v1)
	}
	if _, err := s.Account(t.Context(), "acct1"); err != nil {
		t.Errorf("account lost on reopen: %v", err)
	}
}
