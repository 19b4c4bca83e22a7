// Package webpush sends Web Push messages (RFC 8030) the way browsers'
// push services accept them: the payload encrypted to the subscription
// with the "aes128gcm" content coding of RFC 8291 (ECDH P-256 + HKDF +
// AES-128-GCM, one record), and the sender identified by a VAPID token
// (RFC 8292, an ES256 JWT).
//
// It knows nothing of Porchlight: callers seal their payload for the
// receiving device first (the push service, and this layer, only ever see
// that ciphertext). Decrypt is the browser's side, for tests.
package webpush

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Errors callers may test for with errors.Is.
var (
	// ErrGone means the push service no longer knows the subscription
	// (404 or 410): delete it; the browser subscribes again if it wants.
	ErrGone = errors.New("push subscription gone")
	// ErrTooLarge means the payload does not fit one push message
	// (MaxPayload bytes): send less.
	ErrTooLarge = errors.New("push payload too large")
)

// MaxPayload is the largest plaintext Encrypt accepts: push services take
// 4096 bytes of body, less the 86-byte header, the padding delimiter and
// the 16-byte tag.
const MaxPayload = 4096 - 86 - 1 - 16

// recordSize is the record size written in the header; the message is one
// record.
const recordSize = 4096

// Subscription is what a browser's PushManager.subscribe returns.
type Subscription struct {
	Endpoint string // the push service's URL for this browser (https)
	P256DH   []byte // the browser's uncompressed P-256 public key (65 bytes)
	Auth     []byte // the browser's authentication secret (16 bytes)
}

// Check reports whether the subscription is usable: an https endpoint, a
// valid P-256 point and a 16-byte secret.
func (s Subscription) Check() error {
	u, err := url.Parse(s.Endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return errors.New("endpoint must be an https URL of a push service")
	}
	if _, err := ecdh.P256().NewPublicKey(s.P256DH); err != nil {
		return errors.New("p256dh must be an uncompressed P-256 public key (65 bytes, base64url)")
	}
	if len(s.Auth) != 16 {
		return errors.New("auth must be a 16-byte secret (base64url)")
	}
	return nil
}

// Encrypt encrypts plaintext to the subscription as an aes128gcm body
// (RFC 8291 §4), with a fresh ephemeral key and salt.
func Encrypt(sub Subscription, plaintext []byte) ([]byte, error) {
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	return encrypt(sub, plaintext, eph, salt)
}

func encrypt(sub Subscription, plaintext []byte, eph *ecdh.PrivateKey, salt []byte) ([]byte, error) {
	if len(plaintext) > MaxPayload {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(plaintext), MaxPayload)
	}
	ua, err := ecdh.P256().NewPublicKey(sub.P256DH)
	if err != nil {
		return nil, fmt.Errorf("encrypt push message: p256dh: %w", err)
	}
	if len(sub.Auth) != 16 {
		return nil, errors.New("encrypt push message: auth secret must be 16 bytes")
	}
	shared, err := eph.ECDH(ua)
	if err != nil {
		return nil, fmt.Errorf("encrypt push message: %w", err)
	}
	asPub := eph.PublicKey().Bytes()
	aead, nonce, err := contentKeys(shared, sub.Auth, sub.P256DH, asPub, salt)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Write(salt)
	_ = binary.Write(&out, binary.BigEndian, uint32(recordSize))
	out.WriteByte(byte(len(asPub)))
	out.Write(asPub)
	record := append(append(make([]byte, 0, len(plaintext)+1), plaintext...), 0x02) // last-record delimiter, no padding
	return aead.Seal(out.Bytes(), nonce, record, nil), nil
}

// Decrypt opens an aes128gcm body sent to the subscription whose private
// key is ua and secret auth: the browser's side, for tests. It is strict:
// one record of the size Encrypt writes.
func Decrypt(ua *ecdh.PrivateKey, auth, body []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("decrypt push message: body shorter than its header")
	}
	salt, idLen := body[:16], int(body[20])
	if rs := binary.BigEndian.Uint32(body[16:20]); rs != recordSize || len(body)-21-idLen > recordSize {
		return nil, errors.New("decrypt push message: not one record of the size this package writes")
	}
	if len(body) < 21+idLen {
		return nil, errors.New("decrypt push message: truncated key id")
	}
	asPub, ct := body[21:21+idLen], body[21+idLen:]
	as, err := ecdh.P256().NewPublicKey(asPub)
	if err != nil {
		return nil, fmt.Errorf("decrypt push message: sender key: %w", err)
	}
	shared, err := ua.ECDH(as)
	if err != nil {
		return nil, fmt.Errorf("decrypt push message: %w", err)
	}
	aead, nonce, err := contentKeys(shared, auth, ua.PublicKey().Bytes(), asPub, salt)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, nonce, ct, nil)
	if err != nil {
		return nil, fmt.Errorf("decrypt push message: %w", err)
	}
	pt = bytes.TrimRight(pt, "\x00")
	if len(pt) == 0 || pt[len(pt)-1] != 0x02 {
		return nil, errors.New("decrypt push message: not a single last record")
	}
	return pt[:len(pt)-1], nil
}

// contentKeys derives the AES-128-GCM key and nonce (RFC 8291 §3.4 and
// RFC 8188 §2.2).
func contentKeys(shared, auth, uaPub, asPub, salt []byte) (cipher.AEAD, []byte, error) {
	keyInfo := append(append([]byte("WebPush: info\x00"), uaPub...), asPub...)
	prkKey, err := hkdf.Extract(sha256.New, shared, auth)
	if err != nil {
		return nil, nil, err
	}
	ikm, err := hkdf.Expand(sha256.New, prkKey, string(keyInfo), 32)
	if err != nil {
		return nil, nil, err
	}
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, nil, err
	}
	cek, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, nil, err
	}
	nonce, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, nil, err
	}
	aead, err := cipher.NewGCM(block)
	return aead, nonce, err
}

// VAPID identifies the sender to push services (RFC 8292).
type VAPID struct {
	// Key is the service's P-256 signing key. Required.
	Key *ecdsa.PrivateKey
	// Subject is a contact for the push service's operator, "mailto:…" or
	// "https://…". It defaults to "https://github.com/porchlight/porchlight".
	Subject string
}

// PublicKey is the key browsers pass to PushManager.subscribe as
// applicationServerKey: the uncompressed point, base64url without padding.
func (v *VAPID) PublicKey() string {
	pub, err := v.Key.PublicKey.ECDH()
	if err != nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(pub.Bytes())
}

// Authorization returns the Authorization header value for a request to
// endpoint: "vapid t=<ES256 JWT for the endpoint's origin>, k=<key>".
func (v *VAPID) Authorization(endpoint string, exp time.Time) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("vapid: endpoint: %w", err)
	}
	sub := v.Subject
	if sub == "" {
		sub = "https://github.com/porchlight/porchlight"
	}
	header, _ := json.Marshal(map[string]string{"typ": "JWT", "alg": "ES256"})
	claims, _ := json.Marshal(map[string]any{"aud": u.Scheme + "://" + u.Host, "exp": exp.Unix(), "sub": sub})
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, v.Key, digest[:])
	if err != nil {
		return "", fmt.Errorf("vapid: sign: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return "vapid t=" + signing + "." + enc.EncodeToString(sig) + ", k=" + v.PublicKey(), nil
}

// GenerateKey returns a new VAPID signing key.
func GenerateKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// LoadOrCreateKey reads the VAPID key at path (PKCS#8 PEM), creating it
// (mode 0600, written to a temporary file, synced and renamed) if it does
// not exist. Keep it: browsers' subscriptions are bound to it.
func LoadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("vapid key %s: not a PEM private key: remove it to make a new one (browsers then subscribe again)", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("vapid key %s: %w", path, err)
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok || ek.Curve != elliptic.P256() {
			return nil, fmt.Errorf("vapid key %s: not a P-256 key: remove it to make a new one", path)
		}
		return ek, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read vapid key: %w", err)
	}
	k, err := GenerateKey()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return nil, fmt.Errorf("write vapid key: %w", err)
	}
	return k, nil
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".vapid-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Link(f.Name(), path); err != nil { // never replace a key another process just made
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Message is one push.
type Message struct {
	// Payload is the plaintext (at most MaxPayload bytes); it is encrypted
	// to the subscription.
	Payload []byte
	// TTL is how long the push service keeps the message for an offline
	// browser. It defaults to 0: deliver now or drop.
	TTL time.Duration
	// Urgency is "very-low", "low", "normal" or "high" (RFC 8030 §5.3).
	// It defaults to "normal".
	Urgency string
	// Topic, if set, replaces an undelivered message with the same topic
	// (at most 32 base64url characters).
	Topic string
}

// Sender sends messages to push services.
type Sender struct {
	// VAPID identifies the sender. Required.
	VAPID *VAPID
	// Client makes the requests. It defaults to http.DefaultClient; give
	// it a timeout and a dialer that refuses private addresses (the
	// endpoint comes from a browser).
	Client *http.Client
	// Now is the clock. It defaults to time.Now.
	Now func() time.Time
}

// StatusError is a push service's refusal other than ErrGone.
type StatusError struct {
	Status     int
	RetryAfter time.Duration // from Retry-After, 0 if none
	Body       string        // the start of the response body
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("push service answered %d: %s", e.Status, e.Body)
}

// Temporary reports whether sending again later may succeed (429, 5xx).
func (e *StatusError) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// Send encrypts m for sub and posts it to the push service. It returns
// ErrGone (wrapped) for 404 and 410, a *StatusError for other refusals.
func (s *Sender) Send(ctx context.Context, sub Subscription, m Message) error {
	body, err := Encrypt(sub, m.Payload)
	if err != nil {
		return err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	authz, err := s.VAPID.Authorization(sub.Endpoint, now().Add(12*time.Hour))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.Endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("push request: %w", err)
	}
	req.Header.Set("Authorization", authz)
	req.Header.Set("Content-Encoding", "aes128gcm")
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("TTL", strconv.Itoa(int(m.TTL/time.Second)))
	urgency := m.Urgency
	if urgency == "" {
		urgency = "normal"
	}
	req.Header.Set("Urgency", urgency)
	if m.Topic != "" {
		req.Header.Set("Topic", m.Topic)
	}
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the endpoint is a capability: keep it out of errors and logs
		}
		return fmt.Errorf("push request: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return fmt.Errorf("%w (%d)", ErrGone, resp.StatusCode)
	}
	se := &StatusError{Status: resp.StatusCode, Body: strings.ToValidUTF8(strings.TrimSpace(string(snippet)), "?")}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		se.RetryAfter = time.Duration(secs) * time.Second
	}
	return se
}
