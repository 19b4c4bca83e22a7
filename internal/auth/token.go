package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
)

// Token prefixes say what a bearer token is for, so a leaked one is easy to
// recognise (and to scan for) and a hub token never passes as a session.
const (
	SessionPrefix  = "pls_" // a user session
	HubPrefix      = "plh_" // a hub
	MFAPrefix      = "plm_" // a sign-in waiting for its second factor
	DevicePrefix   = "pld_" // a known device of an account
	CeremonyPrefix = "plc_" // a WebAuthn ceremony
)

// Session lifetimes.
const (
	// IdleTimeout ends a session not used for this long.
	IdleTimeout = 7 * 24 * time.Hour
	// AbsoluteTimeout ends every session this long after login.
	AbsoluteTimeout = 30 * 24 * time.Hour
)

// tokenBytes is the entropy of a token: 256 bits.
const tokenBytes = 32

var tokenEncoding = base64.RawURLEncoding

// tokenLen is the length of a token after its prefix.
var tokenLen = tokenEncoding.EncodedLen(tokenBytes)

// NewSessionToken returns a fresh user session token and its hash (the only
// thing to store).
func NewSessionToken() (token, hash string) { return newToken(SessionPrefix) }

// NewHubToken returns a fresh hub token and its hash.
func NewHubToken() (token, hash string) { return newToken(HubPrefix) }

// NewToken returns a fresh 256-bit token with the given prefix and its
// hash.
func NewToken(prefix string) (token, hash string) { return newToken(prefix) }

func newToken(prefix string) (string, string) {
	var b [tokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("auth: crypto/rand failed: " + err.Error())
	}
	tok := prefix + tokenEncoding.EncodeToString(b[:])
	return tok, HashToken(tok)
}

// HashToken returns the hex SHA-256 of a token or secret: what the store
// keeps. A 256-bit random token needs no slow hash.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ValidToken reports whether token has the shape of a token with the given
// prefix. Check it before hashing and looking up, so garbage never reaches
// the store.
func ValidToken(token, prefix string) bool {
	rest, ok := strings.CutPrefix(token, prefix)
	if !ok || len(rest) != tokenLen {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// SessionAlive reports whether a session created, last used and with the
// absolute expiry given is still valid at now under the idle timeout.
func SessionAlive(lastUsed, expires, now time.Time, idle time.Duration) bool {
	return now.Before(expires) && now.Before(lastUsed.Add(idle))
}

// Claim codes: 12 characters of an alphabet without look-alikes (no 0/O,
// 1/I/L), shown as XXXX-XXXX-XXXX: 31^12 ≈ 2^59 codes.
const claimAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

const claimLen = 12

// ClaimTTL is how long a claim code is valid.
const ClaimTTL = 15 * time.Minute

// NewClaimCode returns a fresh claim code, e.g. "K7QM-XR4T-9PWC".
func NewClaimCode() string {
	c := randomCode(claimLen)
	return c[0:4] + "-" + c[4:8] + "-" + c[8:12]
}

// NormalizeClaimCode accepts a code as a person may type it (any case,
// with or without dashes and spaces) and returns its canonical form, or
// false if it cannot be a claim code.
func NormalizeClaimCode(s string) (string, bool) {
	b, ok := typedCode(s, claimLen)
	if !ok {
		return "", false
	}
	return b[0:4] + "-" + b[4:8] + "-" + b[8:12], true
}

// typedCode reads a code of n characters of claimAlphabet as a person may
// type it: any case, with or without dashes and spaces. It returns the
// characters alone, upper case.
func typedCode(s string, n int) (string, bool) {
	if len(s) > 3*n {
		return "", false
	}
	var b []byte
	for _, c := range strings.ToUpper(s) {
		switch {
		case c == '-' || c == ' ':
		case c < 128 && strings.IndexByte(claimAlphabet, byte(c)) >= 0:
			b = append(b, byte(c))
		default:
			return "", false
		}
	}
	if len(b) != n {
		return "", false
	}
	return string(b), true
}

// HashClaimCode returns what the store keeps of a (canonical) claim code.
func HashClaimCode(code string) string { return HashToken("porchlight-claim:" + code) }
