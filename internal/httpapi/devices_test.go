package httpapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/store"
)

// pairPath makes a pairing code of the owner of the household an actor
// aims at ("own": its own, else the other one).
func (w *world) pairPath(a actor, own bool) string {
	who := map[string]actor{"A": ownerA, "B": ownerB}[a.letter(own)]
	code := auth.NewClaimCode()
	data, _ := json.Marshal(api.DevicePairOffer{DeviceID: "x", Name: "phone"})
	if err := w.e.st.PutCeremony(context.Background(), store.Ceremony{ID: auth.HashToken("porchlight-pair:" + code), Kind: "device_pair",
		AccountID: w.accounts[who], Data: data, Expires: w.e.clock.Now().Add(time.Hour)}); err != nil {
		w.e.t.Fatal(err)
	}
	return code
}

func TestDevicePairing(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	o := signup(t, e)
	k, entry := rosterDevice(t, "owner", "*")
	code, err := o.c.StartPair(ctx, api.DevicePairStart{Name: "new phone", Sign: entry.Sign, KEM: entry.KEM})
	if err != nil {
		t.Fatalf("start pairing: %v", err)
	}
	offer, err := o.c.PairOffer(ctx, code.Code)
	if err != nil {
		t.Fatalf("pairing offer: %v", err)
	}
	if offer.DeviceID != k.ID || offer.Name != "new phone" || string(offer.Sign) != string(entry.Sign) || offer.KEM != entry.KEM {
		t.Errorf("offer = %+v, want the keys of %s", offer, k.ID)
	}
	// Typed loosely: lower case, no dashes.
	if _, err := o.c.PairOffer(ctx, strings.ToLower(strings.ReplaceAll(code.Code, "-", ""))); err != nil {
		t.Errorf("offer by a loosely typed code: %v", err)
	}
	other := signup(t, e)
	_, err = other.c.PairOffer(ctx, code.Code)
	wantStatus(t, err, 404, "another account's pairing code")
	_, err = o.c.PairOffer(ctx, auth.NewClaimCode())
	wantStatus(t, err, 404, "unknown pairing code")
	e.clock.Advance(16 * time.Minute)
	_, err = o.c.PairOffer(ctx, code.Code)
	wantStatus(t, err, 404, "expired pairing code")

	for _, tc := range []struct {
		name string
		in   api.DevicePairStart
	}{
		{"short sign key", api.DevicePairStart{Name: "p", Sign: entry.Sign[:8], KEM: entry.KEM}},
		{"bad kem", api.DevicePairStart{Name: "p", Sign: entry.Sign, KEM: "age1notakey"}},
		{"no name", api.DevicePairStart{Sign: entry.Sign, KEM: entry.KEM}},
	} {
		_, err := o.c.StartPair(ctx, tc.in)
		wantStatus(t, err, 400, tc.name)
	}
}
