package httpapi_test

import (
	"bytes"
	"testing"

	"github.com/porchlight/porchlight/internal/seal"
)

// TestRecoveryKit: an owner stores and reads back its household's kit; the
// service takes only age files of bounded size and keeps households apart.
func TestRecoveryKit(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	a, b := signup(t, e), signup(t, e)
	_, err := a.c.RecoveryKit(ctx)
	wantStatus(t, err, 404, "kit before one was stored")
	wantStatus(t, a.c.PutRecoveryKit(ctx, []byte("plaintext private keys")), 400, "a kit that is not an age file")
	big := append(ageBody(t), bytes.Repeat([]byte{'x'}, seal.MaxRecoveryKit)...)
	wantStatus(t, a.c.PutRecoveryKit(ctx, big), 413, "a kit over MaxRecoveryKit")
	kit := ageBody(t)
	if err := a.c.PutRecoveryKit(ctx, kit); err != nil {
		t.Fatalf("put kit: %v", err)
	}
	got, err := a.c.RecoveryKit(ctx)
	if err != nil || !bytes.Equal(got, kit) {
		t.Fatalf("get kit = %d bytes, %v; want the %d stored", len(got), err, len(kit))
	}
	_, err = b.c.RecoveryKit(ctx)
	wantStatus(t, err, 404, "another household's kit")
	kit2 := ageBody(t)
	if err := a.c.PutRecoveryKit(ctx, kit2); err != nil {
		t.Fatalf("replace kit: %v", err)
	}
	if got, _ := a.c.RecoveryKit(ctx); !bytes.Equal(got, kit2) {
		t.Error("the kit was not replaced")
	}
}
