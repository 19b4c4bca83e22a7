package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestHashVerify(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q does not carry the OWASP parameters", h)
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{
		{"correct horse battery", true},
		{"correct horse batterY", false},
		{"", false},
		{strings.Repeat("x", MaxPasswordLen+1), false},
	} {
		got, err := VerifyPassword(h, tc.pw)
		if err != nil || got != tc.want {
			t.Errorf("VerifyPassword(%.20q) = %v, %v; want %v", tc.pw, got, err, tc.want)
		}
	}
	h2, _ := HashPassword("correct horse battery")
	if h2 == h {
		t.Error("two hashes of one password are equal: salt not random")
	}
	if VerifyDummy("anything") {
		t.Error("VerifyDummy returned true")
	}
}

func TestNeedsRehash(t *testing.T) {
	cur, _ := HashPassword("a long password")
	weak, _ := HashPasswordParams("a long password", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if NeedsRehash(cur) {
		t.Error("current hash needs rehash")
	}
	if !NeedsRehash(weak) {
		t.Error("hash with old parameters does not need rehash")
	}
	if !NeedsRehash("garbage") {
		t.Error("garbage does not need rehash")
	}
	if ok, err := VerifyPassword(weak, "a long password"); !ok || err != nil {
		t.Errorf("old-parameter hash no longer verifies: %v %v", ok, err)
	}
}

var phcCases = []struct {
	in   string
	want Params
	ok   bool
}{
	{"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", Params{19456, 2, 1, 16, 32}, true},
	{"$argon2id$v=19$m=64,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", Params{64, 2, 1, 8, 16}, true},
	{"$argon2id$v=19$t=2,m=64,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", Params{}, false},
	{"$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", Params{}, false},
	{"$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", Params{}, false},
	{"$argon2id$v=19$m=19456,t=2$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", Params{}, false},
	{"$argon2id$v=19$m=19456,t=2,p=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", Params{}, false},
	{"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", Params{}, false},
	{"$argon2id$v=19$m=19456,t=0,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", Params{}, false},
	{"$argon2id$v=19$m=019456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", Params{}, false},
	{"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", Params{}, false},
	{"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", Params{}, false},
	{"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g$", Params{}, false},
	{"", Params{}, false},
}

func TestParsePHC(t *testing.T) {
	for _, tc := range phcCases {
		p, _, _, err := ParsePHC(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParsePHC(%q): err %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if err != nil && !errors.Is(err, ErrPHC) {
			t.Errorf("ParsePHC(%q): %v is not ErrPHC", tc.in, err)
		}
		if tc.ok {
			if diff := cmp.Diff(tc.want, p); diff != "" {
				t.Errorf("ParsePHC(%q) (-want +got):\n%s", tc.in, diff)
			}
		}
	}
}

// FuzzParsePHC: no input panics; whatever parses re-encodes to itself (so
// no two strings name the same hash: non-malleable), and never verifies a
// password without a valid parse.
func FuzzParsePHC(f *testing.F) {
	for _, tc := range phcCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := ParsePHC(s)
		if err != nil {
			if ok, verr := VerifyPassword(s, "x"); ok || verr == nil {
				t.Fatalf("unparseable %q verified: %v %v", s, ok, verr)
			}
			return
		}
		re := "$argon2id$v=19$m=" + itoa(p.Memory) + ",t=" + itoa(p.Time) + ",p=" + itoa(uint32(p.Threads)) + "$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key)
		if re != s {
			t.Fatalf("%q parses but re-encodes as %q: the format is malleable", s, re)
		}
	})
}

func itoa(n uint32) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func TestTokens(t *testing.T) {
	tok, hash := NewSessionToken()
	if !strings.HasPrefix(tok, "pls_") || !ValidToken(tok, SessionPrefix) || ValidToken(tok, HubPrefix) {
		t.Errorf("session token %q has the wrong shape", tok)
	}
	if hash != HashToken(tok) || len(hash) != 64 || strings.Contains(hash, tok[4:]) {
		t.Errorf("hash %q", hash)
	}
	htok, _ := NewHubToken()
	if !ValidToken(htok, HubPrefix) || ValidToken(htok, SessionPrefix) {
		t.Errorf("hub token %q", htok)
	}
	other, _ := NewSessionToken()
	if other == tok {
		t.Error("two tokens are equal")
	}
	for _, bad := range []string{"", "pls_", "pls_short", tok + "x", "PLS_" + tok[4:], tok[:len(tok)-1] + "!"} {
		if ValidToken(bad, SessionPrefix) {
			t.Errorf("ValidToken(%q) = true", bad)
		}
	}
}

func TestSessionAlive(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	exp := t0.Add(AbsoluteTimeout)
	for _, tc := range []struct {
		lastUsed, now time.Time
		want          bool
	}{
		{t0, t0.Add(time.Hour), true},
		{t0, t0.Add(IdleTimeout), false},
		{t0.Add(29 * 24 * time.Hour), t0.Add(29*24*time.Hour + time.Hour), true},
		{t0.Add(29 * 24 * time.Hour), t0.Add(AbsoluteTimeout), false},
	} {
		if got := SessionAlive(tc.lastUsed, exp, tc.now, IdleTimeout); got != tc.want {
			t.Errorf("SessionAlive(last %v, now %v) = %v", tc.lastUsed, tc.now, got)
		}
	}
}

func TestClaimCodes(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c := NewClaimCode()
		n, ok := NormalizeClaimCode(c)
		if !ok || n != c || len(c) != 14 || c[4] != '-' || c[9] != '-' {
			t.Fatalf("code %q does not round-trip (%q, %v)", c, n, ok)
		}
		if strings.ContainsAny(c, "01ILO") {
			t.Fatalf("code %q has an ambiguous character", c)
		}
		seen[c] = true
	}
	if len(seen) != 200 {
		t.Error("claim codes repeat")
	}
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"abcd-efgh-jkmn", "ABCD-EFGH-JKMN", true},
		{"ABCDEFGHJKMN", "ABCD-EFGH-JKMN", true},
		{" abcd efgh jkmn ", "ABCD-EFGH-JKMN", true},
		{"ABCD-EFGH-JKM", "", false},
		{"ABCD-EFGH-JKMI", "", false},
		{"ABCD-EFGH-JKM0", "", false},
		{"../../../etc/x", "", false},
	} {
		got, ok := NormalizeClaimCode(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("NormalizeClaimCode(%q) = %q, %v", tc.in, got, ok)
		}
	}
	if HashClaimCode("ABCD-EFGH-JKMN") == HashClaimCode("ABCD-EFGH-JKMP") {
		t.Error("claim hashes collide")
	}
}

func TestNormalizeEmail(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"Alice@Example.ORG", "alice@example.org"},
		{"  bob+cams@example.co.uk ", "bob+cams@example.co.uk"},
		{"", ""},
		{"alice", ""},
		{"alice@", ""},
		{"@example.org", ""},
		{"alice@example", ""},
		{"alice@@example.org", ""},
		{"a b@example.org", ""},
		{"alice@example..org", ""},
		{"alice@.example.org", ""},
		{strings.Repeat("a", 65) + "@example.org", ""},
		{"a<b>@example.org", ""},
	} {
		got, err := NormalizeEmail(tc.in)
		if tc.want == "" {
			if !errors.Is(err, ErrInvalidEmail) {
				t.Errorf("NormalizeEmail(%q) = %q, %v; want ErrInvalidEmail", tc.in, got, err)
			}
		} else if got != tc.want || err != nil {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	for _, tc := range []struct {
		pw      string
		wantMsg string // "" means accepted
	}{
		{"correct horse battery staple", ""},
		{"short", "at least 10 characters"},
		{"ünïcødé-pw", ""},
		{"1234567890", "most common"},
		{"Password123", "most common"},
		{"QWERTYUIOP", "most common"},
		{"alice.smith@example.org", "e-mail address"},
		{"alice.smith", "e-mail address"}, // the local part
		{"aaaaaaaaaaaa", "repeated"},
		{strings.Repeat("x", MaxPasswordLen) + "y", "at most"},
	} {
		err := CheckPassword(tc.pw, "alice.smith@example.org")
		switch {
		case tc.wantMsg == "" && err != nil:
			t.Errorf("CheckPassword(%.20q) = %v, want accepted", tc.pw, err)
		case tc.wantMsg != "" && (!errors.Is(err, ErrWeakPassword) || !strings.Contains(err.Error(), tc.wantMsg)):
			t.Errorf("CheckPassword(%.20q) = %v, want ErrWeakPassword mentioning %q", tc.pw, err, tc.wantMsg)
		}
	}
	if len(common) < 50 {
		t.Errorf("common password list has %d entries", len(common))
	}
}
