package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"time"

	"github.com/porchlight/porchlight/internal/store"
)

// Limits is the sign-in rate-limit policy. Failures are counted per key in
// a fixed window; a key with more failures than its limit is blocked for
// Block, during which attempts are refused before any password is checked
// (so a flood costs no Argon2id time either). The state lives in the store
// (store.Throttle), so it survives restarts and replicas share it.
//
// Three kinds of key make the owner impossible to lock out: an attacker
// hammering an account blocks the account key, but a sign-in that presents
// a known-device token for that account is judged by that device's key
// instead of the account and address keys. An attacker has no such token.
type Limits struct {
	// AccountFailures is the failures per account (by e-mail, existing or
	// not) per Window. It defaults to 10.
	AccountFailures int
	// AddressFailures is the failures per source address (IPv4 /32, IPv6
	// /64) per Window. It defaults to 20.
	AddressFailures int
	// DeviceFailures is the failures per known-device token per Window. It
	// defaults to 10.
	DeviceFailures int
	// Window is the counting window. It defaults to 15 minutes.
	Window time.Duration
	// Block is how long a key stays blocked once over its limit. It
	// defaults to 15 minutes.
	Block time.Duration
}

// WithDefaults fills zero fields with their defaults.
func (l Limits) WithDefaults() Limits {
	if l.AccountFailures <= 0 {
		l.AccountFailures = 10
	}
	if l.AddressFailures <= 0 {
		l.AddressFailures = 20
	}
	if l.DeviceFailures <= 0 {
		l.DeviceFailures = 10
	}
	if l.Window <= 0 {
		l.Window = 15 * time.Minute
	}
	if l.Block <= 0 {
		l.Block = 15 * time.Minute
	}
	return l
}

// Check reports whether a key is blocked at now and for how long yet
// (rounded up to a whole second, at least one, for Retry-After).
func (l Limits) Check(t store.Throttle, now time.Time) (retryAfter time.Duration, blocked bool) {
	if t.BlockedUntil.IsZero() || !now.Before(t.BlockedUntil) {
		return 0, false
	}
	d := t.BlockedUntil.Sub(now)
	d = (d + time.Second - 1).Truncate(time.Second)
	return max(d, time.Second), true
}

// Failure returns an update for Store.UpdateThrottle that counts one
// failure at now and blocks the key for Block once it has more than limit
// failures in the window. A key that is already blocked is left as it is,
// so attempts during a block do not extend it.
func (l Limits) Failure(limit int, now time.Time) func(*store.Throttle) {
	l = l.WithDefaults()
	return func(t *store.Throttle) {
		if !t.BlockedUntil.IsZero() && now.Before(t.BlockedUntil) {
			return
		}
		if t.WindowStart.IsZero() || now.Sub(t.WindowStart) >= l.Window || !t.BlockedUntil.IsZero() {
			t.WindowStart, t.Failures, t.BlockedUntil = now, 0, time.Time{}
		}
		t.Failures++
		if t.Failures >= limit {
			t.BlockedUntil = now.Add(l.Block)
		}
	}
}

// AccountKey is the throttle key of an account by its normalised e-mail.
// It is a hash, so the throttle table holds no address, and it exists for
// e-mails without an account too, so throttling reveals nothing.
func AccountKey(normalizedEmail string) string {
	sum := sha256.Sum256([]byte("porchlight-throttle:" + normalizedEmail))
	return "acct:" + hex.EncodeToString(sum[:])
}

// AddressKey is the throttle key of a source address: the address itself
// for IPv4, its /64 for IPv6 (one subscriber's usual allocation).
func AddressKey(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "addr:" + p.String()
	}
	return "addr:" + a.String()
}

// DeviceKey is the throttle key of a known-device token (by its hash).
func DeviceKey(deviceTokenHash string) string { return "dev:" + deviceTokenHash }
