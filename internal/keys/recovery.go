package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/seal"
)

// Recovery passphrases: 32 characters of an alphabet without look-alikes
// (no 0/O, 1/I/L), shown in 8 groups of 4. 32 × log2(31) ≈ 158 bits, far
// beyond offline guessing even before scrypt.
const (
	passphraseAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
	passphraseGroups   = 8
	passphraseGroupLen = 4
)

// ErrWrongPassphrase means the recovery kit did not open with the
// passphrase given: check it against the one written down at signup.
var ErrWrongPassphrase = errors.New("the recovery passphrase does not open this household's recovery kit")

// ErrPassphraseShape means a typed passphrase is not 32 characters of the
// recovery alphabet (spaces and dashes between groups are ignored).
var ErrPassphraseShape = errors.New("a recovery passphrase is 8 groups of 4 letters and digits, like ABCD-EFGH-…")

// NewRecoveryPassphrase returns a fresh passphrase, grouped for reading.
func NewRecoveryPassphrase() string {
	out := make([]byte, 0, passphraseGroups*(passphraseGroupLen+1))
	n := 0
	var b [1]byte
	for n < passphraseGroups*passphraseGroupLen {
		if _, err := rand.Read(b[:]); err != nil {
			panic("keys: crypto/rand failed: " + err.Error())
		}
		if int(b[0]) >= 256-256%len(passphraseAlphabet) {
			continue // no modulo bias
		}
		if n > 0 && n%passphraseGroupLen == 0 {
			out = append(out, '-')
		}
		out = append(out, passphraseAlphabet[int(b[0])%len(passphraseAlphabet)])
		n++
	}
	return string(out)
}

// NormalizePassphrase turns a passphrase as a person may type it (lower
// case, spaces or no dashes) into the canonical grouped form that is the
// scrypt passphrase.
func NormalizePassphrase(s string) (string, error) {
	var raw []byte
	for _, c := range strings.ToUpper(s) {
		switch {
		case c == '-' || c == ' ' || c == '\t' || c == '\r' || c == '\n':
		case c < 128 && strings.IndexByte(passphraseAlphabet, byte(c)) >= 0:
			raw = append(raw, byte(c))
		default:
			return "", ErrPassphraseShape
		}
	}
	if len(raw) != passphraseGroups*passphraseGroupLen {
		return "", ErrPassphraseShape
	}
	var out []byte
	for i, c := range raw {
		if i > 0 && i%passphraseGroupLen == 0 {
			out = append(out, '-')
		}
		out = append(out, c)
	}
	return string(out), nil
}

// SealRecoveryKit seals the private halves of a recovery identity, with
// the household's root key (the signer of roster version 1), with age's
// scrypt recipient to passphrase (canonical form). workFactor is
// scrypt's log2(N); 0 means age's default (18, about a second).
func SealRecoveryKit(p *Pair, household string, root ed25519.PublicKey, passphrase string, now time.Time, workFactor int) ([]byte, error) {
	pt, err := seal.MarshalRecoveryKit(seal.RecoveryKit{Household: household, Root: root, ID: p.ID, KEM: p.KEM.String(), Sign: p.Sign.Seed(), Created: now.UTC()})
	if err != nil {
		return nil, err
	}
	r, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		return nil, fmt.Errorf("recovery kit: %w", err)
	}
	if workFactor > 0 {
		r.SetWorkFactor(workFactor)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		return nil, fmt.Errorf("recovery kit: %w", err)
	}
	if _, err := w.Write(pt); err != nil {
		return nil, fmt.Errorf("recovery kit: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("recovery kit: %w", err)
	}
	return buf.Bytes(), nil
}

// OpenRecoveryKit opens a sealed kit with passphrase (canonical form) and
// returns the recovery identity and the kit. A wrong passphrase is
// ErrWrongPassphrase.
func OpenRecoveryKit(ciphertext []byte, passphrase string) (*Pair, *seal.RecoveryKit, error) {
	if len(ciphertext) > seal.MaxRecoveryKit {
		return nil, nil, fmt.Errorf("recovery kit: %w: larger than %d bytes", seal.ErrMalformed, seal.MaxRecoveryKit)
	}
	id, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		return nil, nil, fmt.Errorf("recovery kit: %w", err)
	}
	pt, err := Decrypt(ciphertext, id)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		if errors.As(err, &noMatch) || errors.Is(err, age.ErrIncorrectIdentity) {
			return nil, nil, ErrWrongPassphrase
		}
		return nil, nil, fmt.Errorf("recovery kit: %w", err)
	}
	k, err := seal.ParseRecoveryKit(pt)
	if err != nil {
		return nil, nil, err
	}
	kem, err := age.ParseHybridIdentity(k.KEM)
	if err != nil {
		return nil, nil, fmt.Errorf("recovery kit: %w: %v", seal.ErrMalformed, err)
	}
	sign := ed25519.NewKeyFromSeed(k.Sign)
	return &Pair{ID: k.ID, Name: "recovery key", KEM: kem, Sign: sign}, k, nil
}
