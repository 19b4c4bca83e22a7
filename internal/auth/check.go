package auth

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ccojocar/zxcvbn-go"
)

// Errors of the signup checks. Their messages are written for the person
// signing up and are safe to show.
var (
	// ErrInvalidEmail means the address is not plausibly an e-mail address.
	ErrInvalidEmail = errors.New("invalid e-mail address")
	// ErrWeakPassword means the password is refused; the wrapped message
	// says why and what to choose instead.
	ErrWeakPassword = errors.New("password refused")
)

// MinPasswordLen is the minimum password length in characters.
const MinPasswordLen = 10

//go:embed common-passwords.txt
var commonList string

var common = func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(commonList, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			m[strings.ToLower(line)] = true
		}
	}
	return m
}()

// NormalizeEmail trims and lower-cases an address and checks its shape:
// one @, a non-empty local part of at most 64 bytes, a domain with a dot,
// no spaces or control characters, at most 254 bytes in all.
func NormalizeEmail(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	if e == "" {
		return "", fmt.Errorf("%w: enter an e-mail address", ErrInvalidEmail)
	}
	if len(e) > 254 || !utf8.ValidString(e) {
		return "", fmt.Errorf("%w: too long or not UTF-8", ErrInvalidEmail)
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || strings.Contains(domain, "@") || local == "" || len(local) > 64 {
		return "", fmt.Errorf("%w: want name@example.org", ErrInvalidEmail)
	}
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", fmt.Errorf("%w: the part after @ must be a domain like example.org", ErrInvalidEmail)
	}
	for _, r := range e {
		if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`"(),:;<>[\]`, r) {
			return "", fmt.Errorf("%w: it contains %q", ErrInvalidEmail, r)
		}
	}
	return e, nil
}

// CheckPassword applies the rules for a new password of the account with
// the given (normalised) e-mail: at least MinPasswordLen characters, at
// most MaxPasswordLen bytes, not one of the bundled most common passwords,
// not the e-mail address, not one repeated character, and a zxcvbn score of
// at least MinStrength with the e-mail's parts counted as known words.
func CheckPassword(password, email string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLen:
		return fmt.Errorf("%w: use at least %d characters (a few unrelated words make a strong, memorable password)", ErrWeakPassword, MinPasswordLen)
	case len(password) > MaxPasswordLen:
		return fmt.Errorf("%w: use at most %d bytes", ErrWeakPassword, MaxPasswordLen)
	case common[strings.ToLower(password)]:
		return fmt.Errorf("%w: it is one of the most common passwords and is tried first by attackers; choose something unique, such as a few unrelated words", ErrWeakPassword)
	}
	low := strings.ToLower(password)
	if email != "" {
		local, _, _ := strings.Cut(email, "@")
		if low == email || low == local {
			return fmt.Errorf("%w: do not use your e-mail address as your password", ErrWeakPassword)
		}
	}
	first, _ := utf8.DecodeRuneInString(password)
	if strings.Trim(password, string(first)) == "" {
		return fmt.Errorf("%w: a single repeated character is guessed at once; choose something unique", ErrWeakPassword)
	}
	return checkStrength(password, email)
}

// MinStrength is the zxcvbn score (0–4) a new password needs: 3 is "safely
// unguessable: moderate protection from offline slow-hash attacks".
const MinStrength = 3

// checkStrength estimates how guessable password is with zxcvbn, counting
// the e-mail's parts as known words, and explains a refusal in terms of the
// patterns it found.
func checkStrength(password, email string) error {
	var inputs []string
	if email != "" {
		local, domain, _ := strings.Cut(email, "@")
		inputs = append(inputs, email, local, domain)
		inputs = append(inputs, strings.FieldsFunc(local, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })...)
		inputs = append(inputs, strings.Split(domain, ".")...)
	}
	res := zxcvbn.PasswordStrength(password, inputs)
	if res.Score >= MinStrength {
		return nil
	}
	seen := map[string]bool{}
	var why []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			why = append(why, s)
		}
	}
	for _, m := range res.MatchSequence {
		switch {
		case m.Pattern == "dictionary" && m.DictionaryName == "user_inputs":
			add("it contains part of your e-mail address")
		case m.Pattern == "dictionary" && m.DictionaryName == "Passwords":
			add(fmt.Sprintf("%q is a commonly used password", m.Token))
		case m.Pattern == "dictionary":
			add("single common words and names are guessed quickly")
		case m.Pattern == "repeat":
			add("repeats like \"aaa\" or \"abcabc\" add little")
		case m.Pattern == "sequence":
			add("sequences like \"abc\" or \"123\" add little")
		case m.Pattern == "spatial":
			add("keyboard patterns like \"qwerty\" are guessed early")
		case m.Pattern == "date":
			add("dates and years are easy to guess")
		}
	}
	msg := "it would be guessed too easily"
	if len(why) > 0 {
		msg += " (" + strings.Join(why, "; ") + ")"
	}
	return fmt.Errorf("%w: %s; add another uncommon word or two: four or more unrelated words make a strong password you can remember", ErrWeakPassword, msg)
}
