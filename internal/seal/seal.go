// Package seal defines Porchlight's versioned object formats and the
// operations that create and check them without any decryption key: signing
// envelopes, the household roster chain, manifests, epoch announcements, the
// sealed-segment envelope, epoch-key wraps and camera descriptors. Sealing is
// encryption *to* public age recipients (hybrid ML-KEM-768 + X25519).
//
// It is imported by the service, the hub and clients. It must never hold a
// decryption path: opening sealed objects needs a private key and lives in
// internal/keys, which porchlightd never imports. See docs/formats.md.
package seal

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"filippo.io/age"
)

// FormatVersion is the version every format of this package writes as "v".
// Readers refuse any other version with ErrVersion.
const FormatVersion = 1

// Errors callers may test for with errors.Is.
var (
	// ErrVersion means an object was written by a newer or unknown format
	// version; upgrade the reader.
	ErrVersion = errors.New("unsupported format version")
	// ErrSignature means a signature did not verify: the object was forged or
	// altered and must be discarded.
	ErrSignature = errors.New("signature does not verify")
	// ErrMalformed means the bytes are not a well-formed object of the
	// expected kind.
	ErrMalformed = errors.New("malformed object")
	// ErrNotAge means the bytes are not an age-encrypted file.
	ErrNotAge = errors.New("not an age file")
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a random 128-bit identifier as 26 lowercase base32
// characters. Object, camera, epoch and household ids are made this way, so
// they carry nothing about their owner.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("seal: crypto/rand failed: " + err.Error())
	}
	return idEncoding.EncodeToString(b[:])
}

// ValidID reports whether s has the shape of an id this package makes
// (NewID or KeyID): 20 to 32 lowercase base32 characters. Handlers use it to
// refuse path segments before they reach a store.
func ValidID(s string) bool {
	if len(s) < 20 || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// KeyID derives a device's or hub's id from its Ed25519 public key: the
// first 20 base32 characters (100 bits) of its SHA-256.
func KeyID(signPub []byte) string {
	sum := sha256.Sum256(signPub)
	return idEncoding.EncodeToString(sum[:])[:20]
}

// SHA256Hex returns the lowercase hex SHA-256 of b.
func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ParseRecipient parses an age hybrid (post-quantum) recipient, "age1pq1…".
// Only hybrid recipients are accepted: every Porchlight key is post-quantum.
func ParseRecipient(s string) (*age.HybridRecipient, error) {
	r, err := age.ParseHybridRecipient(s)
	if err != nil {
		return nil, fmt.Errorf("parse hybrid recipient: %w", err)
	}
	return r, nil
}

// SealTo encrypts plaintext as one age file to every recipient.
func SealTo(plaintext []byte, recipients ...age.Recipient) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, errors.New("seal: no recipients")
	}
	var buf bytes.Buffer
	buf.Grow(len(plaintext) + len(plaintext)/65536*16 + 2048*len(recipients))
	w, err := age.Encrypt(&buf, recipients...)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if _, err := w.Write(plaintext); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return buf.Bytes(), nil
}

const ageMagic = "age-encryption.org/v1\n"

// maxAgeHeader bounds the header a checker reads: a dozen hybrid stanzas
// fit easily.
const maxAgeHeader = 64 << 10

// CheckAgeFile reports whether b is shaped as an age file: the v1 magic, a
// header of well-formed stanzas with at least one recipient stanza, the MAC
// line, and a payload at least as long as a nonce and one (possibly empty)
// chunk. It does not and cannot decrypt. The service refuses uploads that
// fail it.
func CheckAgeFile(b []byte) error {
	if !bytes.HasPrefix(b, []byte(ageMagic)) {
		return fmt.Errorf("%w: missing the age v1 header line", ErrNotAge)
	}
	hdr, err := age.ExtractHeader(bytes.NewReader(b[:min(len(b), maxAgeHeader)]))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotAge, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(hdr))
	stanzas := 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "-> ") {
			stanzas++
		}
	}
	if stanzas == 0 {
		return fmt.Errorf("%w: no recipient stanza", ErrNotAge)
	}
	// 16-byte nonce, then at least one 16-byte-tagged chunk.
	if len(b)-len(hdr) < 16+16 {
		return fmt.Errorf("%w: payload truncated", ErrNotAge)
	}
	return nil
}
