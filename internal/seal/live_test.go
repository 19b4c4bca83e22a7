package seal_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/seal"
)

func liveHelloFor(t testing.TB) (ed25519.PrivateKey, *age.HybridIdentity, seal.LiveHello) {
	t.Helper()
	hub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	dev, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return hub, dev, seal.LiveHello{Household: evHousehold, Camera: evCamera, Session: "sessionaaaaaaaaaaaaaaaaaaa",
		Device: "deviceaaaaaaaaaaaaaa", MIME: `video/mp4; codecs="avc1.64001f"`, Created: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
}

func TestLiveSenderFraming(t *testing.T) {
	hub, dev, h := liveHelloFor(t)
	s, hello, err := seal.NewLiveSender(hub, h, dev.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	got, err := seal.VerifyLiveHello(hello, seal.OnlySigner(hub.Public().(ed25519.PublicKey)))
	if err != nil {
		t.Fatal(err)
	}
	if got.Hub != seal.KeyID(hub.Public().(ed25519.PublicKey)) || got.Session != h.Session || got.V != seal.FormatVersion {
		t.Fatalf("hello %+v", got)
	}
	for i := range 3 {
		msg := s.Seal([]byte("12345678payload"))
		seq, ct, err := seal.ParseLiveHeader(msg)
		if err != nil || seq != uint64(i) || msg[0] != seal.LiveMessageVersion || binary.BigEndian.Uint64(msg[1:9]) != uint64(i) {
			t.Fatalf("message %d: seq %d, %v", i, seq, err)
		}
		if len(ct) != len("12345678payload")+16 {
			t.Fatalf("ciphertext of %d bytes", len(ct))
		}
	}
	if s.Seq() != 3 {
		t.Fatalf("Seq %d", s.Seq())
	}
	if !bytes.Equal(seal.LiveNonce(0x0102), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2}) ||
		string(seal.LiveAAD("abc")) != "porchlight-live-v1\x00abc" {
		t.Fatal("nonce or associated data differ from the format")
	}
}

// TestLiveHelloStrict refuses hellos that are well signed but malformed:
// unknown fields, a hub that is not the signer, a missing key.
func TestLiveHelloStrict(t *testing.T) {
	hub, dev, h := liveHelloFor(t)
	pub := hub.Public().(ed25519.PublicKey)
	key, err := seal.SealTo(make([]byte, 32), dev.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	h.V, h.Hub, h.Key = seal.FormatVersion, seal.KeyID(pub), key
	wrap := func(body any) []byte {
		signed, err := seal.Sign(hub, seal.TypeLive, body)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(map[string]any{"type": "hello", "signed": json.RawMessage(signed)})
		return b
	}
	if _, err := seal.VerifyLiveHello(wrap(h), seal.OnlySigner(pub)); err != nil {
		t.Fatalf("a good hello refused: %v", err)
	}
	withExtra := map[string]any{}
	b, _ := json.Marshal(h)
	json.Unmarshal(b, &withExtra)
	withExtra["extra"] = true
	otherHub, noKey, badMIME, v2 := h, h, h, h
	otherHub.Hub = "hubbbbbbbbbbbbbbbbbb"
	noKey.Key = nil
	badMIME.MIME = "text/html"
	v2.V = 2
	asManifest, err := seal.Sign(hub, seal.TypeManifest, h)
	if err != nil {
		t.Fatal(err)
	}
	manifestMsg, _ := json.Marshal(map[string]any{"type": "hello", "signed": json.RawMessage(asManifest)})
	cases := []struct {
		name string
		msg  []byte
		want error
	}{
		{"unknown field", wrap(withExtra), seal.ErrMalformed},
		{"hub is not the signer", wrap(otherHub), seal.ErrSignature},
		{"no key", wrap(noKey), seal.ErrMalformed},
		{"not video/mp4", wrap(badMIME), seal.ErrMalformed},
		{"version 2", wrap(v2), seal.ErrVersion},
		{"another envelope type", manifestMsg, seal.ErrMalformed},
		{"not JSON", []byte("hello"), seal.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := seal.VerifyLiveHello(c.msg, seal.OnlySigner(pub)); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	if _, err := seal.VerifyLiveHello(wrap(h), seal.OnlySigner(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey))); !errors.Is(err, seal.ErrSignature) {
		t.Fatalf("hello from an untrusted hub: %v", err)
	}
}

func TestLiveFragmentRoundTrip(t *testing.T) {
	at := time.UnixMilli(1763892000123)
	pt := seal.LiveFragment(at, []byte("moof"))
	got, media, err := seal.ParseLiveFragment(pt)
	if err != nil || !got.Equal(at) || string(media) != "moof" {
		t.Fatalf("%v %q %v", got, media, err)
	}
	if _, _, err := seal.ParseLiveFragment([]byte{1, 2}); !errors.Is(err, seal.ErrMalformed) {
		t.Fatalf("short fragment: %v", err)
	}
}

func FuzzParseLiveHeader(f *testing.F) {
	hub, dev, h := liveHelloFor(f)
	s, _, err := seal.NewLiveSender(hub, h, dev.Recipient())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(s.Seal([]byte("init")))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, msg []byte) {
		seq, ct, err := seal.ParseLiveHeader(msg)
		if err != nil {
			return
		}
		if msg[0] != seal.LiveMessageVersion || binary.BigEndian.Uint64(msg[1:9]) != seq || !bytes.Equal(ct, msg[9:]) {
			t.Fatalf("header of % x parsed as seq %d", msg[:9], seq)
		}
	})
}

func FuzzVerifyLiveHello(f *testing.F) {
	hub, dev, h := liveHelloFor(f)
	_, hello, err := seal.NewLiveSender(hub, h, dev.Recipient())
	if err != nil {
		f.Fatal(err)
	}
	pub := hub.Public().(ed25519.PublicKey)
	f.Add(hello)
	f.Add([]byte(`{"type":"hello","signed":{}}`))
	f.Fuzz(func(t *testing.T, msg []byte) {
		got, err := seal.VerifyLiveHello(msg, seal.OnlySigner(pub))
		if err != nil {
			return
		}
		// Anything accepted was signed by the hub: it must be the hello
		// the seed carries, byte for byte in its signed body.
		if got.Session != h.Session || got.Hub != seal.KeyID(pub) {
			t.Fatalf("accepted a hello the hub never signed: %+v", got)
		}
	})
}
