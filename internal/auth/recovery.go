package auth

import (
	"crypto/rand"
	"strings"
)

// RecoveryCodeCount is how many recovery codes an account gets at a time.
const RecoveryCodeCount = 10

// recoveryLen is the length of a code without dashes: 12 characters of the
// 31-letter alphabet of claim codes, about 59 bits. That is far beyond
// guessing under the sign-in limits, so a fast hash suffices.
const recoveryLen = 12

// NewRecoveryCodes returns fresh recovery codes ("xxxx-xxxx-xxxx") for an
// account and their hashes, the only thing to store.
func NewRecoveryCodes(accountID string) (codes, hashes []string) {
	for range RecoveryCodeCount {
		c := randomCode(recoveryLen)
		code := strings.ToLower(c[0:4] + "-" + c[4:8] + "-" + c[8:12])
		h, _ := HashRecoveryCode(accountID, code)
		codes = append(codes, code)
		hashes = append(hashes, h)
	}
	return codes, hashes
}

// HashRecoveryCode normalises a code as a person may type it (any case,
// with or without dashes and spaces) and returns its hash for the account.
// ok is false if it cannot be a recovery code.
func HashRecoveryCode(accountID, code string) (hash string, ok bool) {
	b, ok := typedCode(code, recoveryLen)
	if !ok {
		return "", false
	}
	return HashToken("porchlight-recovery:" + accountID + ":" + b), true
}

// randomCode returns n characters of claimAlphabet without modulo bias.
func randomCode(n int) string {
	out := make([]byte, 0, n)
	var b [1]byte
	for len(out) < n {
		if _, err := rand.Read(b[:]); err != nil {
			panic("auth: crypto/rand failed: " + err.Error())
		}
		if int(b[0]) >= 256-256%len(claimAlphabet) {
			continue
		}
		out = append(out, claimAlphabet[int(b[0])%len(claimAlphabet)])
	}
	return string(out)
}
