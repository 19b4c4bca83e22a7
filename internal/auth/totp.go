package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// TOTP parameters (RFC 6238 as every authenticator app implements it):
// HMAC-SHA-1, 30-second steps, 6 digits. A code is accepted one step
// early or late, to absorb clock drift and typing time, and never for a
// step at or before the last one accepted, so a code cannot be replayed.
const (
	TOTPPeriod = 30 * time.Second
	TOTPDigits = 6
	totpSkew   = 1
	secretLen  = 20 // 160 bits, the HMAC-SHA-1 block-friendly size RFC 4226 recommends
)

var totpEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSecret returns a fresh 160-bit secret.
func NewTOTPSecret() []byte {
	b := make([]byte, secretLen)
	if _, err := rand.Read(b); err != nil {
		panic("auth: crypto/rand failed: " + err.Error())
	}
	return b
}

// EncodeTOTPSecret returns the secret in base32 without padding, as people
// type it into an authenticator app.
func EncodeTOTPSecret(secret []byte) string { return totpEncoding.EncodeToString(secret) }

// TOTPURI returns the otpauth:// URI of a secret, for a QR code.
func TOTPURI(secret []byte, issuer, accountName string) string {
	label := url.PathEscape(issuer) + ":" + url.PathEscape(accountName)
	q := url.Values{}
	q.Set("secret", EncodeTOTPSecret(secret))
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", fmt.Sprint(TOTPDigits))
	q.Set("period", fmt.Sprint(int(TOTPPeriod/time.Second)))
	return "otpauth://totp/" + label + "?" + q.Encode()
}

// TOTPStep returns the time step of t.
func TOTPStep(t time.Time) int64 { return t.Unix() / int64(TOTPPeriod/time.Second) }

// TOTPCode returns the code of a step (RFC 4226 HOTP with the step as
// counter, dynamic truncation).
func TOTPCode(secret []byte, step int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", TOTPDigits, v%1_000_000)
}

// VerifyTOTP checks a code typed at now against secret. It returns the
// step the code belongs to; the caller records it (Store.UseTOTPStep) and
// passes it as lastStep next time. Spaces and dashes in the code are
// ignored.
func VerifyTOTP(secret []byte, code string, now time.Time, lastStep int64) (step int64, ok bool) {
	code = strings.NewReplacer(" ", "", "-", "").Replace(code)
	if len(code) != TOTPDigits {
		return 0, false
	}
	cur := TOTPStep(now)
	found := int64(-1)
	// Compare every candidate without stopping early.
	for s := cur - totpSkew; s <= cur+totpSkew; s++ {
		if subtle.ConstantTimeCompare([]byte(TOTPCode(secret, s)), []byte(code)) == 1 && s > lastStep && found < 0 {
			found = s
		}
	}
	if found < 0 {
		return 0, false
	}
	return found, true
}
