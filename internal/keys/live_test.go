package keys_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
)

// liveVectorFile is the live-view wire format's vector, opened by the Go
// receiver here and by the browser's (web/src/lib/live.ts) tests.
const liveVectorFile = "../../testdata/vectors/live-v1.json"

// liveVectors is the JSON layout of liveVectorFile. []byte fields are
// standard base64; the hello is the exact text message.
type liveVectors struct {
	Comment    string   `json:"comment"`
	DeviceKEM  string   `json:"device_kem_identity"` // AGE-SECRET-KEY-PQ-1…
	DeviceSeed []byte   `json:"device_sign_seed"`    // Ed25519 seed; device id = KeyID(pub)
	HubSeed    []byte   `json:"hub_sign_seed"`       // the hub's Ed25519 seed (its public key is what the roster lists)
	HubSignPub []byte   `json:"hub_sign_pub"`
	Hello      string   `json:"hello"`            // first text message
	Binary     [][]byte `json:"messages"`         // binary messages in order: seq 0 (init), 1, 2
	Tampered   []byte   `json:"tampered_message"` // messages[1] with one ciphertext bit flipped: must be refused

	Household   string   `json:"expect_household"`
	Camera      string   `json:"expect_camera"`
	Session     string   `json:"expect_session"`
	Device      string   `json:"expect_device"`
	Hub         string   `json:"expect_hub"`
	MIME        string   `json:"expect_mime"`
	Created     string   `json:"expect_created"`
	PlainSHA256 []string `json:"expect_plaintext_sha256"` // hex SHA-256 of each message's whole plaintext
	CapturedMS  []int64  `json:"expect_captured_ms"`      // per message: 0 for seq 0, else the 8-byte prefix
	MediaSHA256 []string `json:"expect_media_sha256"`     // per message: init, then moof+mdat after the prefix
}

type liveFixture struct {
	dev     *keys.Pair
	hub     ed25519.PrivateKey
	hello   seal.LiveHello
	want    keys.LiveWant
	trusted seal.Signers
}

func newLiveFixture(t *testing.T) liveFixture {
	t.Helper()
	dev, err := keys.Generate("browser")
	if err != nil {
		t.Fatal(err)
	}
	hub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x24}, 32))
	h := seal.LiveHello{Household: "householdaaaaaaaaaaaaaaaaa", Camera: "cameraaaaaaaaaaaaaaaaaaaaa",
		Session: "sessionaaaaaaaaaaaaaaaaaaa", Device: dev.ID, MIME: `video/mp4; codecs="avc1.64001f"`,
		Created: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	return liveFixture{dev: dev, hub: hub, hello: h,
		want:    keys.LiveWant{Household: h.Household, Camera: h.Camera, Session: h.Session, Device: dev.ID},
		trusted: seal.OnlySigner(hub.Public().(ed25519.PublicKey))}
}

func (f liveFixture) sender(t *testing.T) (*seal.LiveSender, []byte) {
	t.Helper()
	s, hello, err := seal.NewLiveSender(f.hub, f.hello, f.dev.KEM.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	return s, hello
}

func TestLiveRoundTrip(t *testing.T) {
	f := newLiveFixture(t)
	s, hello := f.sender(t)
	r, h, err := keys.OpenLiveHello(hello, f.trusted, f.dev, f.want)
	if err != nil {
		t.Fatal(err)
	}
	if h.MIME != f.hello.MIME || h.Hub != seal.KeyID(f.hub.Public().(ed25519.PublicKey)) {
		t.Fatalf("hello %+v", h)
	}
	at := time.UnixMilli(1763892000123).UTC()
	pts := [][]byte{[]byte("init"), seal.LiveFragment(at, []byte("moof+mdat 1")), seal.LiveFragment(at.Add(40*time.Millisecond), []byte("moof+mdat 2"))}
	for i, pt := range pts {
		seq, got, err := r.Open(s.Seal(pt))
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if seq != uint64(i) || !bytes.Equal(got, pt) {
			t.Fatalf("message %d: seq %d, plaintext %q", i, seq, got)
		}
	}
	captured, media, err := seal.ParseLiveFragment(pts[1])
	if err != nil || !captured.Equal(at) || string(media) != "moof+mdat 1" {
		t.Fatalf("fragment: %v %v %q", err, captured, media)
	}
}

// TestLiveRefuses checks that every out-of-order, replayed, altered or
// foreign message is refused, and that nothing is accepted after it.
func TestLiveRefuses(t *testing.T) {
	f := newLiveFixture(t)
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 1; return c }
	cases := []struct {
		name string
		// msgs returns the messages to feed; the last must be refused.
		msgs func(s, other *seal.LiveSender) [][]byte
	}{
		{"gap", func(s, _ *seal.LiveSender) [][]byte {
			m0 := s.Seal([]byte("i"))
			s.Seal([]byte("x"))
			return [][]byte{m0, s.Seal([]byte("y"))}
		}},
		{"replay", func(s, _ *seal.LiveSender) [][]byte { m0 := s.Seal([]byte("i")); return [][]byte{m0, m0} }},
		{"reorder", func(s, _ *seal.LiveSender) [][]byte {
			s.Seal([]byte("i"))
			return [][]byte{s.Seal([]byte("12345678a"))}
		}},
		{"tampered ciphertext", func(s, _ *seal.LiveSender) [][]byte { m := s.Seal([]byte("init")); return [][]byte{flip(m, len(m)-1)} }},
		{"tampered seq", func(s, _ *seal.LiveSender) [][]byte {
			m0, m1 := s.Seal([]byte("i")), s.Seal([]byte("12345678a"))
			m1[8] = 0 // claims seq 0 again
			return [][]byte{m0, m1}
		}},
		{"version", func(s, _ *seal.LiveSender) [][]byte { m := s.Seal([]byte("init")); m[0] = 2; return [][]byte{m} }},
		{"truncated", func(s, _ *seal.LiveSender) [][]byte { return [][]byte{s.Seal(nil)[:20]} }},
		{"another session", func(_, other *seal.LiveSender) [][]byte { return [][]byte{other.Seal([]byte("init"))} }},
		{"fragment without timestamp", func(s, _ *seal.LiveSender) [][]byte { return [][]byte{s.Seal([]byte("i")), s.Seal([]byte("short"))} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, hello := f.sender(t)
			g := f
			g.hello.Session = "sessionbbbbbbbbbbbbbbbbbbb"
			other, _ := g.sender(t)
			r, _, err := keys.OpenLiveHello(hello, f.trusted, f.dev, f.want)
			if err != nil {
				t.Fatal(err)
			}
			msgs := c.msgs(s, other)
			for i, m := range msgs[:len(msgs)-1] {
				if _, _, err := r.Open(m); err != nil {
					t.Fatalf("message %d refused: %v", i, err)
				}
			}
			if _, _, err := r.Open(msgs[len(msgs)-1]); !errors.Is(err, keys.ErrLiveStream) {
				t.Fatalf("accepted or wrong error: %v", err)
			}
			// Nothing after a refusal: the next genuine message is refused too.
			if _, _, err := r.Open(s.Seal([]byte("12345678later"))); !errors.Is(err, keys.ErrLiveStream) {
				t.Fatalf("stream not closed after a refusal: %v", err)
			}
		})
	}
}

func TestLiveHelloRefused(t *testing.T) {
	f := newLiveFixture(t)
	_, hello := f.sender(t)
	stranger, err := keys.Generate("stranger")
	if err != nil {
		t.Fatal(err)
	}
	otherHub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x25}, 32))
	_, forgedHello, err := seal.NewLiveSender(otherHub, f.hello, f.dev.KEM.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(hello, &m); err != nil {
		t.Fatal(err)
	}
	extra, _ := json.Marshal(map[string]any{"type": "hello", "signed": m["signed"], "extra": 1})
	notHello, _ := json.Marshal(map[string]any{"type": "status", "signed": m["signed"]})
	want := func(edit func(*keys.LiveWant)) keys.LiveWant { w := f.want; edit(&w); return w }
	cases := []struct {
		name string
		msg  []byte
		dev  *keys.Pair
		want keys.LiveWant
	}{
		{"untrusted hub", forgedHello, f.dev, f.want},
		{"unknown field", extra, f.dev, f.want},
		{"not a hello", notHello, f.dev, f.want},
		{"other household", hello, f.dev, want(func(w *keys.LiveWant) { w.Household = "householdbbbbbbbbbbbbbbbbb" })},
		{"other camera", hello, f.dev, want(func(w *keys.LiveWant) { w.Camera = "camerabbbbbbbbbbbbbbbbbbbb" })},
		{"other session", hello, f.dev, want(func(w *keys.LiveWant) { w.Session = "sessionbbbbbbbbbbbbbbbbbbb" })},
		{"other device", hello, stranger, want(func(w *keys.LiveWant) { w.Device = stranger.ID })},
		{"signature altered", bytes.Replace(hello, []byte(`"sig":"`), []byte(`"sig":"A`), 1), f.dev, f.want},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := keys.OpenLiveHello(c.msg, f.trusted, c.dev, c.want); err == nil {
				t.Fatal("hello accepted")
			}
		})
	}
	// A hello sealed to this device but opened with another's identity.
	if _, _, err := keys.OpenLiveHello(hello, f.trusted, &keys.Pair{ID: f.dev.ID, KEM: stranger.KEM, Sign: f.dev.Sign}, f.want); err == nil {
		t.Fatal("hello opened with another device's identity")
	}
}

func makeLiveVectors(t *testing.T) liveVectors {
	devSign := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x11}, 32))
	kem, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	hub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x42}, 32))
	dev := &keys.Pair{ID: seal.KeyID(devSign.Public().(ed25519.PublicKey)), KEM: kem, Sign: devSign}
	created := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	h := seal.LiveHello{Household: "householdaaaaaaaaaaaaaaaaa", Camera: "cameraaaaaaaaaaaaaaaaaaaaa",
		Session: "livesessionaaaaaaaaaaaaaaa", Device: dev.ID, MIME: `video/mp4; codecs="avc1.64001f"`, Created: created}
	s, hello, err := seal.NewLiveSender(hub, h, kem.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	v := liveVectors{
		Comment: "Porchlight live view v1 vector (docs/formats.md, \"Live view\"). Regenerate with go test ./internal/keys -run TestLiveVectors -update. " +
			"Receiver: trust hub_sign_pub (its KeyID is expect_hub); device = age identity device_kem_identity + Ed25519 seed device_sign_seed (id expect_device). " +
			"hello: verify the signed porchlight.live envelope, check household/camera/session/device, age-decrypt body.key to a 32-byte AES-256-GCM key. " +
			"messages (base64): 0x01 | seq u64 BE | AES-GCM(nonce = 4 zero bytes ‖ seq BE, aad = \"porchlight-live-v1\" 0x00 expect_session); " +
			"seq 0 plaintext = init, seq ≥ 1 = 8-byte BE unix ms (expect_captured_ms) ‖ moof+mdat. tampered_message must be refused.",
		DeviceKEM: kem.String(), DeviceSeed: devSign.Seed(), HubSeed: hub.Seed(), HubSignPub: hub.Public().(ed25519.PublicKey),
		Hello: string(hello), Household: h.Household, Camera: h.Camera, Session: h.Session, Device: dev.ID,
		Hub: seal.KeyID(hub.Public().(ed25519.PublicKey)), MIME: h.MIME, Created: created.Format(time.RFC3339),
	}
	at := time.UnixMilli(1763892000123).UTC()
	media := [][]byte{
		[]byte("\x00\x00\x00\x18ftypiso6\x00\x00\x00\x00iso6mp41 init: not real media"),
		[]byte("\x00\x00\x00\x10moof fragment 1 with the IDR"),
		[]byte("\x00\x00\x00\x10moof fragment 2, one access unit later"),
	}
	for i, m := range media {
		pt, ms := m, int64(0)
		if i > 0 {
			ms = at.Add(time.Duration(i-1) * 40 * time.Millisecond).UnixMilli()
			pt = seal.LiveFragment(time.UnixMilli(ms), m)
		}
		v.Binary = append(v.Binary, s.Seal(pt))
		v.PlainSHA256 = append(v.PlainSHA256, seal.SHA256Hex(pt))
		v.MediaSHA256 = append(v.MediaSHA256, seal.SHA256Hex(m))
		v.CapturedMS = append(v.CapturedMS, ms)
	}
	v.Tampered = bytes.Clone(v.Binary[1])
	v.Tampered[len(v.Tampered)-20] ^= 0x80
	return v
}

// TestLiveVectors opens the committed live vector as a viewer does.
func TestLiveVectors(t *testing.T) {
	if *update {
		b, err := json.MarshalIndent(makeLiveVectors(t), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(liveVectorFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(liveVectorFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(liveVectorFile)
	if err != nil {
		t.Fatalf("%v (regenerate with -update)", err)
	}
	var v liveVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	kem, err := age.ParseHybridIdentity(v.DeviceKEM)
	if err != nil {
		t.Fatal(err)
	}
	sign := ed25519.NewKeyFromSeed(v.DeviceSeed)
	dev := &keys.Pair{ID: seal.KeyID(sign.Public().(ed25519.PublicKey)), KEM: kem, Sign: sign}
	hubPub := ed25519.NewKeyFromSeed(v.HubSeed).Public().(ed25519.PublicKey)
	if !hubPub.Equal(ed25519.PublicKey(v.HubSignPub)) || seal.KeyID(hubPub) != v.Hub || dev.ID != v.Device {
		t.Fatal("vector keys and ids disagree")
	}
	r, h, err := keys.OpenLiveHello([]byte(v.Hello), seal.OnlySigner(hubPub), dev,
		keys.LiveWant{Household: v.Household, Camera: v.Camera, Session: v.Session, Device: v.Device})
	if err != nil {
		t.Fatalf("hello: %v", err)
	}
	if h.MIME != v.MIME || h.Created.Format(time.RFC3339) != v.Created || !strings.HasPrefix(v.Hello, `{"type":"hello","signed":{`) {
		t.Fatalf("hello %+v", h)
	}
	if len(v.Binary) != 3 {
		t.Fatalf("%d messages", len(v.Binary))
	}
	// The tampered message is refused (on a receiver of its own: a refusal ends a stream).
	r2, _, err := keys.OpenLiveHello([]byte(v.Hello), seal.OnlySigner(hubPub), dev, keys.LiveWant{Household: v.Household, Camera: v.Camera, Session: v.Session, Device: v.Device})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r2.Open(v.Binary[0]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r2.Open(v.Tampered); err == nil {
		t.Fatal("tampered message accepted")
	}
	for i, m := range v.Binary {
		seq, pt, err := r.Open(m)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if seq != uint64(i) || seal.SHA256Hex(pt) != v.PlainSHA256[i] {
			t.Fatalf("message %d: seq %d, plaintext hash %s", i, seq, seal.SHA256Hex(pt))
		}
		media := pt
		if i > 0 {
			var at time.Time
			if at, media, err = seal.ParseLiveFragment(pt); err != nil || at.UnixMilli() != v.CapturedMS[i] {
				t.Fatalf("message %d: captured %v, %v", i, at, err)
			}
		}
		if got := seal.SHA256Hex(media); got != v.MediaSHA256[i] {
			t.Fatalf("message %d: media hash %s", i, got)
		}
	}
}
