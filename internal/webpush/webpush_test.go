package webpush

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func b64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return b
}

// rfc8291 is the example of RFC 8291 §5.
var rfc8291 = struct {
	plaintext, asPriv, uaPriv, uaPub, auth, salt, body string
}{
	plaintext: "When I grow up, I want to be a watermelon",
	asPriv:    "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw",
	uaPriv:    "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94",
	uaPub:     "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
	auth:      "BTBZMqHH6r4Tts7J_aSIgg",
	salt:      "DGv6ra1nlYgDCS1FRnbzlw",
	body: "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_" +
		"yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
}

func TestRFC8291Vector(t *testing.T) {
	v := rfc8291
	as, err := ecdh.P256().NewPrivateKey(b64(t, v.asPriv))
	if err != nil {
		t.Fatal(err)
	}
	sub := Subscription{Endpoint: "https://push.example/x", P256DH: b64(t, v.uaPub), Auth: b64(t, v.auth)}
	got, err := encrypt(sub, []byte(v.plaintext), as, b64(t, v.salt))
	if err != nil {
		t.Fatal(err)
	}
	if enc := base64.RawURLEncoding.EncodeToString(got); enc != v.body {
		t.Errorf("Encrypt = %s\nwant       %s", enc, v.body)
	}
	ua, err := ecdh.P256().NewPrivateKey(b64(t, v.uaPriv))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := Decrypt(ua, b64(t, v.auth), b64(t, v.body))
	if err != nil || string(pt) != v.plaintext {
		t.Errorf("Decrypt(vector) = %q, %v; want %q", pt, err, v.plaintext)
	}
}

func newBrowser(t testing.TB) (*ecdh.PrivateKey, Subscription) {
	ua, err := ecdh.P256().GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return ua, Subscription{Endpoint: "https://push.example/x", P256DH: ua.PublicKey().Bytes(), Auth: []byte("0123456789abcdef")}
}

func TestRoundTripAndTamper(t *testing.T) {
	ua, sub := newBrowser(t)
	msg := []byte(strings.Repeat("sealed ", 200))
	body, err := Encrypt(sub, msg)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := Decrypt(ua, sub.Auth, body); err != nil || string(pt) != string(msg) {
		t.Fatalf("round trip = %q, %v", pt, err)
	}
	body[len(body)-1] ^= 1
	if _, err := Decrypt(ua, sub.Auth, body); err == nil {
		t.Error("Decrypt accepted a tampered body")
	}
	body[len(body)-1] ^= 1
	if _, err := Decrypt(ua, []byte("fedcba9876543210"), body); err == nil {
		t.Error("Decrypt accepted the wrong auth secret")
	}
	if _, err := Encrypt(sub, make([]byte, MaxPayload+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Encrypt of %d bytes: err = %v, want ErrTooLarge", MaxPayload+1, err)
	}
	if b, err := Encrypt(sub, make([]byte, MaxPayload)); err != nil || len(b) != 4096 {
		t.Errorf("Encrypt of MaxPayload bytes = %d bytes, %v; want 4096", len(b), err)
	}
}

func TestSubscriptionCheck(t *testing.T) {
	_, good := newBrowser(t)
	for _, tc := range []struct {
		name string
		edit func(*Subscription)
		want string
	}{
		{"ok", func(*Subscription) {}, ""},
		{"http", func(s *Subscription) { s.Endpoint = "http://push.example/x" }, "https URL"},
		{"userinfo", func(s *Subscription) { s.Endpoint = "https://u:p@push.example/x" }, "https URL"},
		{"bad point", func(s *Subscription) { s.P256DH = []byte{4, 1, 2} }, "P-256"},
		{"short auth", func(s *Subscription) { s.Auth = []byte("short") }, "16-byte"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.edit(&s)
			err := s.Check()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Check = %v, want %q", err, tc.want)
			}
		})
	}
}

// verifyVAPID checks an Authorization header as a push service does and
// returns the token's claims.
func verifyVAPID(t *testing.T, header string) map[string]any {
	t.Helper()
	rest, ok := strings.CutPrefix(header, "vapid t=")
	if !ok {
		t.Fatalf("Authorization %q: not vapid", header)
	}
	tok, k, ok := strings.Cut(rest, ", k=")
	if !ok {
		t.Fatalf("Authorization %q: no k=", header)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), b64(t, k))
	if err != nil {
		t.Fatalf("k: %v", err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	sig := b64(t, parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if len(sig) != 64 || !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Fatal("VAPID signature does not verify")
	}
	var hdr map[string]string
	if err := json.Unmarshal(b64(t, parts[0]), &hdr); err != nil || hdr["alg"] != "ES256" {
		t.Errorf("JWT header = %v, %v", hdr, err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b64(t, parts[1]), &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func TestSend(t *testing.T) {
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	v := &VAPID{Key: key, Subject: "mailto:ops@example.org"}
	ua, sub := newBrowser(t)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	status := http.StatusCreated
	var got []byte
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims := verifyVAPID(t, r.Header.Get("Authorization"))
		if claims["aud"] != "https://"+r.Host || claims["sub"] != "mailto:ops@example.org" || claims["exp"] != float64(now.Add(12*time.Hour).Unix()) {
			t.Errorf("claims = %v", claims)
		}
		if r.Header.Get("Content-Encoding") != "aes128gcm" || r.Header.Get("TTL") != "60" || r.Header.Get("Urgency") != "high" || r.Header.Get("Topic") != "cam1" {
			t.Errorf("headers = %v", r.Header)
		}
		body := make([]byte, r.ContentLength)
		_, _ = r.Body.Read(body)
		if got, err = Decrypt(ua, sub.Auth, body); err != nil {
			t.Errorf("decrypt: %v", err)
		}
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(status)
	}))
	defer srv.Close()
	sub.Endpoint = srv.URL + "/push/abc"
	s := &Sender{VAPID: v, Client: srv.Client(), Now: func() time.Time { return now }}
	m := Message{Payload: []byte("hello"), TTL: time.Minute, Urgency: "high", Topic: "cam1"}
	if err := s.Send(t.Context(), sub, m); err != nil || string(got) != "hello" {
		t.Fatalf("Send = %v, received %q", err, got)
	}
	status = http.StatusGone
	if err := s.Send(t.Context(), sub, m); !errors.Is(err, ErrGone) {
		t.Errorf("Send to a 410: err = %v, want ErrGone", err)
	}
	status = http.StatusTooManyRequests
	var se *StatusError
	if err := s.Send(t.Context(), sub, m); !errors.As(err, &se) || !se.Temporary() || se.RetryAfter != 7*time.Second {
		t.Errorf("Send to a 429: err = %#v, want a temporary StatusError retrying after 7s", err)
	}
	status = http.StatusBadRequest
	if err := s.Send(t.Context(), sub, m); !errors.As(err, &se) || se.Temporary() {
		t.Errorf("Send to a 400: err = %v, want a permanent StatusError", err)
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vapid.pem")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || !k1.Equal(k2) {
		t.Errorf("reloaded key differs (err %v)", err)
	}
	if err := os.WriteFile(path, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); err == nil || !strings.Contains(err.Error(), "remove it") {
		t.Errorf("LoadOrCreateKey(junk) err = %v, want advice to remove it", err)
	}
}

func FuzzDecrypt(f *testing.F) {
	f.Add(b64(f, rfc8291.body))
	f.Add([]byte{})
	f.Add(make([]byte, 21))
	ua, err := ecdh.P256().NewPrivateKey(b64(f, rfc8291.uaPriv))
	if err != nil {
		f.Fatal(err)
	}
	auth := b64(f, rfc8291.auth)
	f.Fuzz(func(t *testing.T, body []byte) {
		pt, err := Decrypt(ua, auth, body)
		if err == nil && string(body) != string(b64(t, rfc8291.body)) {
			t.Errorf("Decrypt accepted a forged body: %q", pt)
		}
	})
}
