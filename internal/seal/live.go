package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"filippo.io/age"
)

// TypeLive is the signed envelope type of a live view's hello.
const TypeLive = "porchlight.live"

// Live view wire format (docs/formats.md, "Live view"). A hub sends a viewer
// one text message, the hello:
//
//	{"type":"hello","signed":<signed envelope of type porchlight.live>}
//
// whose body is a LiveHello carrying a fresh 32-byte AES-256-GCM key sealed
// to the viewer device's age recipient. Every later message is binary:
//
//	0x01 | seq (uint64 BE) | AES-256-GCM(key, nonce = 4 zero bytes ‖ seq BE,
//	                                     aad = "porchlight-live-v1" 0x00 session id)
//
// seq starts at 0 and grows by one. seq 0's plaintext is the fMP4 init
// segment (ftyp+moov); seq ≥ 1 is LiveFragment: 8 bytes of big-endian Unix
// milliseconds (when the hub received the first access unit in it), then
// moof+mdat.
const (
	// LiveMessageVersion is the first byte of every binary live message.
	LiveMessageVersion = 0x01
	// LiveKeySize is the size of a live session's AES-256-GCM key.
	LiveKeySize = 32
	// LiveHeaderSize is the size of a binary message's clear header.
	LiveHeaderSize = 1 + 8
	// MaxLiveMessage bounds a binary live message; it equals what the
	// service relays (apiclient.MaxLiveMessage). A hub's first media
	// message carries the current GOP, which internal/live keeps below it.
	MaxLiveMessage = 16 << 20
	// liveAADLabel starts each message's associated data.
	liveAADLabel = "porchlight-live-v1\x00"
)

// LiveHello is the hub-signed body of a live view's hello: which household,
// camera, hub, live session and viewer device the stream is for, the
// session key sealed to that device, and the stream's MIME type for Media
// Source Extensions.
type LiveHello struct {
	V         int       `json:"v"`
	Household string    `json:"household"`
	Camera    string    `json:"camera"`
	Hub       string    `json:"hub"`     // the hub's KeyID; must be the envelope's signer
	Session   string    `json:"session"` // the live session's id (the service's)
	Device    string    `json:"device"`  // the viewer device's KeyID
	Key       []byte    `json:"key"`     // age file to the device; plaintext: LiveKeySize random bytes
	MIME      string    `json:"mime"`    // e.g. video/mp4; codecs="avc1.64001f"
	Created   time.Time `json:"created"`
}

// liveHelloMessage is the JSON text message that carries a signed hello.
type liveHelloMessage struct {
	Type   string          `json:"type"`
	Signed json.RawMessage `json:"signed"`
}

func (h *LiveHello) check() error {
	if h.V != FormatVersion {
		return fmt.Errorf("%w: live hello v%d", ErrVersion, h.V)
	}
	if !ValidID(h.Household) || !ValidID(h.Camera) || !ValidID(h.Hub) || !ValidID(h.Session) || !ValidID(h.Device) {
		return fmt.Errorf("%w: live hello needs household, camera, hub, session and device ids", ErrMalformed)
	}
	if err := CheckAgeFile(h.Key); err != nil {
		return fmt.Errorf("%w: live hello key: %v", ErrMalformed, err)
	}
	if !strings.HasPrefix(h.MIME, "video/mp4") || h.Created.IsZero() {
		return fmt.Errorf("%w: live hello needs a video/mp4 MIME type and a creation time", ErrMalformed)
	}
	return nil
}

// LiveAAD returns the associated data of every binary message of a session.
func LiveAAD(session string) []byte {
	return append([]byte(liveAADLabel), session...)
}

// LiveNonce returns the AES-GCM nonce of message seq: 4 zero bytes, then seq
// big-endian.
func LiveNonce(seq uint64) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n[4:], seq)
	return n
}

// NewLiveAEAD returns the AES-256-GCM of a session key.
func NewLiveAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != LiveKeySize {
		return nil, fmt.Errorf("%w: live key of %d bytes, want %d", ErrMalformed, len(key), LiveKeySize)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// ParseLiveHeader splits a binary live message into its sequence number and
// ciphertext.
func ParseLiveHeader(msg []byte) (seq uint64, ciphertext []byte, err error) {
	if len(msg) > MaxLiveMessage {
		return 0, nil, fmt.Errorf("%w: live message of %d bytes", ErrMalformed, len(msg))
	}
	if len(msg) < LiveHeaderSize+16 {
		return 0, nil, fmt.Errorf("%w: live message too short", ErrMalformed)
	}
	if msg[0] != LiveMessageVersion {
		return 0, nil, fmt.Errorf("%w: live message version %d", ErrVersion, msg[0])
	}
	return binary.BigEndian.Uint64(msg[1:9]), msg[LiveHeaderSize:], nil
}

// LiveFragment returns the plaintext of a media message (seq ≥ 1): captured
// as Unix milliseconds, then media (moof+mdat).
func LiveFragment(captured time.Time, media []byte) []byte {
	b := make([]byte, 8, 8+len(media))
	binary.BigEndian.PutUint64(b, uint64(captured.UnixMilli()))
	return append(b, media...)
}

// ParseLiveFragment splits a media message's plaintext (seq ≥ 1).
func ParseLiveFragment(pt []byte) (captured time.Time, media []byte, err error) {
	if len(pt) < 8 {
		return time.Time{}, nil, fmt.Errorf("%w: live fragment shorter than its timestamp", ErrMalformed)
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(pt))).UTC(), pt[8:], nil
}

// LiveSender seals one live session's messages, numbering them from 0. It
// is not safe for concurrent use: one goroutine sends a viewer's stream.
type LiveSender struct {
	aead    cipher.AEAD
	aad     []byte
	seq     uint64
	session string
}

// NewLiveSender makes a fresh session key, seals it to the viewer device's
// recipient, signs hello with the hub's key and returns the sender and the
// hello message to send first. hello.V, Hub and Key are filled in; Created
// defaults to now.
func NewLiveSender(hubSign ed25519.PrivateKey, hello LiveHello, viewer age.Recipient) (*LiveSender, []byte, error) {
	key := make([]byte, LiveKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, nil, fmt.Errorf("live key: %w", err)
	}
	return newLiveSender(hubSign, hello, viewer, key)
}

func newLiveSender(hubSign ed25519.PrivateKey, hello LiveHello, viewer age.Recipient, key []byte) (*LiveSender, []byte, error) {
	aead, err := NewLiveAEAD(key)
	if err != nil {
		return nil, nil, err
	}
	wrapped, err := SealTo(key, viewer)
	if err != nil {
		return nil, nil, fmt.Errorf("live key: %w", err)
	}
	hello.V = FormatVersion
	hello.Hub = KeyID(hubSign.Public().(ed25519.PublicKey))
	hello.Key = wrapped
	if hello.Created.IsZero() {
		hello.Created = time.Now().UTC()
	}
	if err := hello.check(); err != nil {
		return nil, nil, err
	}
	signed, err := Sign(hubSign, TypeLive, hello)
	if err != nil {
		return nil, nil, err
	}
	msg, err := json.Marshal(liveHelloMessage{Type: "hello", Signed: signed})
	if err != nil {
		return nil, nil, err
	}
	return &LiveSender{aead: aead, aad: LiveAAD(hello.Session), session: hello.Session}, msg, nil
}

// Seq returns the sequence number the next Seal assigns.
func (s *LiveSender) Seq() uint64 { return s.seq }

// Seal encrypts plaintext as the next message: the init segment first, then
// LiveFragment plaintexts.
func (s *LiveSender) Seal(plaintext []byte) []byte {
	out := make([]byte, LiveHeaderSize, LiveHeaderSize+len(plaintext)+s.aead.Overhead())
	out[0] = LiveMessageVersion
	binary.BigEndian.PutUint64(out[1:], s.seq)
	out = s.aead.Seal(out, LiveNonce(s.seq), plaintext, s.aad)
	s.seq++
	return out
}

// VerifyLiveHello parses a hello message strictly and verifies its envelope
// against the trusted signers (a viewer's: the camera's hub from its
// verified roster). It checks that the body names its signer as the hub. It
// does not check household, camera, session or device: the caller compares
// them with what it asked for (keys.OpenLiveHello does).
func VerifyLiveHello(msg []byte, trusted Signers) (*LiveHello, error) {
	if len(msg) > MaxSigned {
		return nil, fmt.Errorf("%w: live hello larger than %d bytes", ErrMalformed, MaxSigned)
	}
	var m liveHelloMessage
	if err := strictUnmarshal(msg, &m); err != nil {
		return nil, fmt.Errorf("%w: live hello: %v", ErrMalformed, err)
	}
	if m.Type != "hello" {
		return nil, fmt.Errorf("%w: live message type %q, want \"hello\"", ErrMalformed, m.Type)
	}
	env, err := ParseSigned(m.Signed, TypeLive)
	if err != nil {
		return nil, err
	}
	pub := trusted(env.Signer)
	if pub == nil {
		return nil, fmt.Errorf("%w: live hello signed by %s, not a trusted hub", ErrSignature, env.Signer)
	}
	if err := env.Verify(pub); err != nil {
		return nil, err
	}
	var h LiveHello
	if err := env.Decode(&h); err != nil {
		return nil, err
	}
	if err := h.check(); err != nil {
		return nil, err
	}
	if h.Hub != env.Signer {
		return nil, fmt.Errorf("%w: live hello names hub %s but is signed by %s", ErrSignature, h.Hub, env.Signer)
	}
	return &h, nil
}
