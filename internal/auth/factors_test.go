package auth

import (
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/store"
)

// RFC 6238 appendix B, SHA-1 rows, cut to six digits as apps show them.
func TestTOTPVectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, tc := range []struct {
		unix int64
		want string
	}{
		{59, "287082"},
		{1111111109, "081804"},
		{1111111111, "050471"},
		{1234567890, "005924"},
		{2000000000, "279037"},
		{20000000000, "353130"},
	} {
		if got := TOTPCode(secret, TOTPStep(time.Unix(tc.unix, 0))); got != tc.want {
			t.Errorf("TOTP at %d = %s, want %s", tc.unix, got, tc.want)
		}
	}
}

func TestVerifyTOTP(t *testing.T) {
	secret := NewTOTPSecret()
	now := time.Date(2026, 11, 23, 10, 0, 15, 0, time.UTC)
	cur := TOTPStep(now)
	for _, tc := range []struct {
		name     string
		code     string
		lastStep int64
		want     int64
		ok       bool
	}{
		{"current", TOTPCode(secret, cur), 0, cur, true},
		{"spaced", TOTPCode(secret, cur)[:3] + " " + TOTPCode(secret, cur)[3:], 0, cur, true},
		{"one step early", TOTPCode(secret, cur-1), 0, cur - 1, true},
		{"one step late", TOTPCode(secret, cur+1), 0, cur + 1, true},
		{"two steps old", TOTPCode(secret, cur-2), 0, 0, false},
		{"replayed", TOTPCode(secret, cur), cur, 0, false},
		{"older than last", TOTPCode(secret, cur-1), cur, 0, false},
		{"short", "12345", 0, 0, false},
		{"letters", "abcdef", 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			step, ok := VerifyTOTP(secret, tc.code, now, tc.lastStep)
			if ok != tc.ok || step != tc.want {
				t.Errorf("VerifyTOTP = (%d, %v), want (%d, %v)", step, ok, tc.want, tc.ok)
			}
		})
	}
	if _, ok := VerifyTOTP(NewTOTPSecret(), TOTPCode(secret, cur), now, 0); ok {
		t.Error("a code of another secret was accepted")
	}
}

func TestTOTPURI(t *testing.T) {
	secret := []byte("12345678901234567890")
	u, err := url.Parse(TOTPURI(secret, "Porchlight", "ann@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Porchlight:ann@example.org" {
		t.Errorf("uri = %s", u)
	}
	q := u.Query()
	if q.Get("secret") != "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" || q.Get("issuer") != "Porchlight" || q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Errorf("query = %v", q)
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes, hashes := NewRecoveryCodes("acct1")
	if len(codes) != RecoveryCodeCount || len(hashes) != RecoveryCodeCount {
		t.Fatalf("got %d codes, %d hashes", len(codes), len(hashes))
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if len(c) != 14 || c[4] != '-' || c[9] != '-' || c != strings.ToLower(c) {
			t.Errorf("code %q is not xxxx-xxxx-xxxx", c)
		}
		if seen[c] {
			t.Errorf("duplicate code %q", c)
		}
		seen[c] = true
		for _, typed := range []string{c, strings.ToUpper(c), strings.ReplaceAll(c, "-", ""), strings.ReplaceAll(c, "-", " ")} {
			if h, ok := HashRecoveryCode("acct1", typed); !ok || h != hashes[i] {
				t.Errorf("typed %q does not match its hash", typed)
			}
		}
		if h, _ := HashRecoveryCode("acct2", c); h == hashes[i] {
			t.Error("the hash does not depend on the account")
		}
	}
	for _, bad := range []string{"", "abcd-efgh", "abcd-efgh-ijk0", "abcd-efgh-ijkl-mnop", "ab€d-efgh-ijkl"} {
		if _, ok := HashRecoveryCode("acct1", bad); ok {
			t.Errorf("HashRecoveryCode(%q) ok", bad)
		}
	}
}

func TestLimits(t *testing.T) {
	l := Limits{Window: time.Minute, Block: 10 * time.Minute}.WithDefaults()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var th store.Throttle
	for i := 1; i < 3; i++ {
		l.Failure(3, now)(&th)
		if _, blocked := l.Check(th, now); blocked {
			t.Fatalf("blocked after %d failures, limit 3", i)
		}
	}
	l.Failure(3, now)(&th)
	ra, blocked := l.Check(th, now.Add(time.Second+time.Millisecond))
	if !blocked || ra != 9*time.Minute+59*time.Second {
		t.Fatalf("after 3 failures: blocked %v, retry after %v", blocked, ra)
	}
	// Attempts during the block do not extend it.
	l.Failure(3, now.Add(5*time.Minute))(&th)
	if !th.BlockedUntil.Equal(now.Add(10 * time.Minute)) {
		t.Errorf("block extended to %v", th.BlockedUntil)
	}
	if _, blocked := l.Check(th, now.Add(10*time.Minute)); blocked {
		t.Error("still blocked when the block ended")
	}
	// After the block a failure starts a new window.
	l.Failure(3, now.Add(11*time.Minute))(&th)
	if th.Failures != 1 || !th.BlockedUntil.IsZero() {
		t.Errorf("after the block: %+v", th)
	}
	// Failures spread beyond the window never block.
	var slow store.Throttle
	for i := range 10 {
		l.Failure(3, now.Add(time.Duration(i)*61*time.Second))(&slow)
	}
	if _, blocked := l.Check(slow, now.Add(10*61*time.Second)); blocked {
		t.Error("failures a window apart blocked the key")
	}
}

func TestKeys(t *testing.T) {
	if AccountKey("a@example.org") == AccountKey("b@example.org") || strings.Contains(AccountKey("a@example.org"), "example") {
		t.Error("account keys collide or reveal the e-mail")
	}
	if got := AddressKey(netip.MustParseAddr("2001:db8:1:2:3::4")); got != "addr:2001:db8:1:2::/64" {
		t.Errorf("IPv6 key %s", got)
	}
	if got := AddressKey(netip.MustParseAddr("::ffff:192.0.2.7")); got != "addr:192.0.2.7" {
		t.Errorf("mapped IPv4 key %s", got)
	}
}

func TestClientAddr(t *testing.T) {
	proxy := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name, remote, xff string
		trusted           []netip.Prefix
		want              string
	}{
		{"direct", "192.0.2.7:1234", "", nil, "192.0.2.7"},
		{"forged header ignored", "192.0.2.7:1234", "198.51.100.1", nil, "192.0.2.7"},
		{"untrusted peer ignored", "192.0.2.7:1234", "198.51.100.1", proxy, "192.0.2.7"},
		{"trusted proxy", "10.0.0.2:1234", "198.51.100.1", proxy, "198.51.100.1"},
		{"client-supplied left hop ignored", "10.0.0.2:1234", "203.0.113.9, 198.51.100.1", proxy, "198.51.100.1"},
		{"proxy chain", "10.0.0.2:1234", "198.51.100.1, 10.0.0.3", proxy, "198.51.100.1"},
		{"garbage hop", "10.0.0.2:1234", "nonsense", proxy, "10.0.0.2"},
		{"ipv6", "[2001:db8::1]:443", "", nil, "2001:db8::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if got := ClientAddr(r, tc.trusted); got.String() != tc.want {
				t.Errorf("ClientAddr = %s, want %s", got, tc.want)
			}
		})
	}
	if got := AddrPrefix(netip.MustParseAddr("192.0.2.77")); got != "192.0.2.0/24" {
		t.Errorf("AddrPrefix v4 = %s", got)
	}
	if got := AddrPrefix(netip.MustParseAddr("2001:db8:1:2::9")); got != "2001:db8:1::/48" {
		t.Errorf("AddrPrefix v6 = %s", got)
	}
	if got := CleanClient("porchlight-cli/1.0\x00\n" + strings.Repeat("x", 200)); strings.ContainsAny(got, "\x00\n") || len([]rune(got)) != 100 {
		t.Errorf("CleanClient = %q", got)
	}
	if CleanClient("  ") != "unknown" {
		t.Error("empty User-Agent is not unknown")
	}
}

func TestPasswordStrength(t *testing.T) {
	for _, tc := range []struct {
		pw, email, want string
	}{
		{"correct horse battery staple", "ann@example.org", ""},
		{"kitchen-lantern-47-orbit", "ann@example.org", ""},
		{"Summer2024!x", "ann@example.org", "guessed too easily"},
		{"iloveyoubaby", "ann@example.org", "guessed too easily"},
		{"asdfghjkl-zxcv", "ann@example.org", "commonly used password"},
		{"zxcvbnmasdfgh", "ann@example.org", "guessed too easily"},
		{"annsmith2026x", "annsmith@example.org", "part of your e-mail"},
	} {
		err := CheckPassword(tc.pw, tc.email)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckPassword(%q) = %v, want ok", tc.pw, err)
		case tc.want != "" && (err == nil || !errors.Is(err, ErrWeakPassword) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckPassword(%q) = %v, want an ErrWeakPassword saying %q", tc.pw, err, tc.want)
		}
	}
}
