package auth

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"unicode"
)

// ClientAddr returns the address a request comes from: the peer address,
// or, when the peer is one of the trusted proxies, the right-most address
// in X-Forwarded-For that is not itself a trusted proxy. Headers from
// anyone else are ignored, so a client cannot pick its own address to
// dodge the per-address limit.
func ClientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := remoteAddr(r.RemoteAddr)
	if !inAny(peer, trusted) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer
		}
		a = a.Unmap()
		if !inAny(a, trusted) {
			return a
		}
	}
	return peer
}

func remoteAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		host = s
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.IPv4Unspecified()
	}
	return a.Unmap()
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// AddrPrefix returns the coarse network of an address, what a session
// list shows: the /24 of an IPv4 address, the /48 of an IPv6 address.
func AddrPrefix(a netip.Addr) string {
	a = a.Unmap()
	bits := 24
	if a.Is6() {
		bits = 48
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return "unknown"
	}
	return p.String()
}

// CleanClient turns a User-Agent into something safe to store and show:
// printable characters only, at most 100 of them, "unknown" if empty.
func CleanClient(userAgent string) string {
	s := strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, strings.TrimSpace(userAgent))
	if r := []rune(s); len(r) > 100 {
		s = string(r[:100])
	}
	if s == "" {
		return "unknown"
	}
	return s
}
