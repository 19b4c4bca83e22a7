// Package auth holds porchlightd's account primitives: Argon2id password
// hashing in PHC strings, password strength checks (a bundled common list
// and zxcvbn), opaque 256-bit bearer tokens (sessions pls_…, hubs plh_…,
// pending second factors plm_…, known devices pld_…, WebAuthn ceremonies
// plc_…) stored only as SHA-256, TOTP (RFC 6238) and recovery codes, hub
// claim codes, the sign-in rate-limit policy, and the request facts a
// session records (client address and its prefix, a cleaned User-Agent).
// It stores nothing itself; internal/httpapi uses it with a store.Store.
//
// Not for: keys that decrypt anything (there are none in the service), or
// anything that decides who may see what (internal/httpapi does, against
// the store).
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Params are Argon2id parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // iterations
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams are OWASP's recommended Argon2id parameters: 19 MiB, two
// iterations, one lane.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds of parameters accepted when parsing a stored hash, so a tampered
// row cannot make a login allocate gigabytes.
const (
	maxMemory  = 1 << 20 // 1 GiB in KiB
	maxTime    = 64
	maxThreads = 64
	maxKeyLen  = 128
	maxSaltLen = 64
)

// MaxPasswordLen bounds a password in bytes.
const MaxPasswordLen = 1024

// ErrPHC means a stored hash is not a PHC Argon2id string this package can
// read. The account cannot log in until its password is reset.
var ErrPHC = errors.New("malformed argon2id hash")

var b64 = base64.RawStdEncoding

// HashPassword hashes password with DefaultParams and a fresh salt.
func HashPassword(password string) (string, error) {
	return HashPasswordParams(password, DefaultParams)
}

// HashPasswordParams hashes with the given parameters, returning
// "$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>" (unpadded standard base64).
func HashPasswordParams(password string, p Params) (string, error) {
	if len(password) > MaxPasswordLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrWeakPassword, MaxPasswordLen)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// ParsePHC parses an Argon2id PHC string into its parameters, salt and key.
func ParsePHC(s string) (Params, []byte, []byte, error) {
	var p Params
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("%w: want $argon2id$v=19$m=…,t=…,p=…$salt$hash", ErrPHC)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: version %q", ErrPHC, parts[2])
	}
	// Parameters in the canonical order m, t, p, decimal without leading
	// zeros, so one hash has exactly one spelling.
	kvs := strings.Split(parts[3], ",")
	if len(kvs) != 3 {
		return p, nil, nil, fmt.Errorf("%w: want m=…,t=…,p=…", ErrPHC)
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(kvs[i], name+"=")
		if !ok || v == "" || (len(v) > 1 && v[0] == '0') || strings.TrimLeft(v, "0123456789") != "" {
			return p, nil, nil, fmt.Errorf("%w: parameter %q", ErrPHC, kvs[i])
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, nil, nil, fmt.Errorf("%w: parameter %q", ErrPHC, kvs[i])
		}
		vals[i] = n
	}
	if vals[2] > maxThreads {
		return p, nil, nil, fmt.Errorf("%w: parameters out of range", ErrPHC)
	}
	p.Memory, p.Time, p.Threads = uint32(vals[0]), uint32(vals[1]), uint8(vals[2])
	if p.Time < 1 || p.Time > maxTime || p.Threads < 1 || p.Threads > maxThreads || p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory {
		return p, nil, nil, fmt.Errorf("%w: parameters out of range", ErrPHC)
	}
	salt, err := b64.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > maxSaltLen {
		return p, nil, nil, fmt.Errorf("%w: salt", ErrPHC)
	}
	key, err := b64.Strict().DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > maxKeyLen {
		return p, nil, nil, fmt.Errorf("%w: hash", ErrPHC)
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// VerifyPassword reports whether password matches the PHC hash, comparing
// in constant time. A malformed hash is an error, never a match.
func VerifyPassword(phc, password string) (bool, error) {
	p, salt, key, err := ParsePHC(phc)
	if err != nil {
		return false, err
	}
	if len(password) > MaxPasswordLen {
		return false, nil
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether a stored hash uses parameters other than
// DefaultParams (or cannot be parsed): after a successful login, hash the
// password again and store the new string.
func NeedsRehash(phc string) bool {
	p, _, _, err := ParsePHC(phc)
	if err != nil {
		return true
	}
	d := DefaultParams
	return p.Memory != d.Memory || p.Time != d.Time || p.Threads != d.Threads || p.KeyLen != d.KeyLen || p.SaltLen != d.SaltLen
}

// dummyHash is verified against when an account does not exist, so a login
// for an unknown e-mail takes as long as one with a wrong password.
var dummyHash = sync.OnceValue(func() string {
	h, err := HashPassword("porchlight-no-such-account")
	if err != nil {
		panic("auth: " + err.Error())
	}
	return h
})

// VerifyDummy spends the time of one VerifyPassword and returns false.
func VerifyDummy(password string) bool {
	_, _ = VerifyPassword(dummyHash(), password)
	return false
}
