package server

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/conf"
)

// Load sets the configuration fields: defaults, then the TOML file at path
// (if path is not empty; unknown keys are errors), then PORCHLIGHT_*
// variables from getenv (nil: os.Getenv). Flags the caller applies after
// Load win over all three. Start validates.
//
// Environment: PORCHLIGHT_LISTEN, PORCHLIGHT_DATA, PORCHLIGHT_RETENTION_INTERVAL,
// PORCHLIGHT_MAX_UPLOADS, PORCHLIGHT_SHUTDOWN_TIMEOUT, PORCHLIGHT_LOG_LEVEL,
// PORCHLIGHT_LOG_FORMAT, PORCHLIGHT_DATABASE, PORCHLIGHT_PUBLIC_URL,
// PORCHLIGHT_TLS_CERT, PORCHLIGHT_TLS_KEY, PORCHLIGHT_ACME_DOMAINS (comma
// list), PORCHLIGHT_ACME_EMAIL, PORCHLIGHT_ALLOW_PLAIN_HTTP,
// PORCHLIGHT_TRUSTED_PROXIES (comma list).
func (m *Main) Load(path string, getenv func(string) string) error {
	d := Defaults()
	copyConfig(m, &d)
	if path != "" {
		if err := m.loadFile(path); err != nil {
			return err
		}
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	return m.loadEnv(getenv)
}

// copyConfig sets every configuration field of dst (those with a TOML key)
// to src's, leaving the others (logger, clock, running state) alone.
func copyConfig(dst, src *Main) {
	dv, sv := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem()
	for _, f := range reflect.VisibleFields(dv.Type()) {
		if tag := f.Tag.Get("toml"); tag != "" && tag != "-" {
			dv.FieldByIndex(f.Index).Set(sv.FieldByIndex(f.Index))
		}
	}
}

func (m *Main) loadFile(path string) error { return conf.DecodeFile(path, m) }

func (m *Main) loadEnv(getenv func(string) string) error {
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	str("PORCHLIGHT_LISTEN", &m.Listen)
	str("PORCHLIGHT_DATA", &m.DataDir)
	str("PORCHLIGHT_DATABASE", &m.Database)
	str("PORCHLIGHT_LOG_LEVEL", &m.LogLevel)
	str("PORCHLIGHT_LOG_FORMAT", &m.LogFormat)
	str("PORCHLIGHT_PUBLIC_URL", &m.PublicURL)
	str("PORCHLIGHT_TLS_CERT", &m.TLSCert)
	str("PORCHLIGHT_TLS_KEY", &m.TLSKey)
	str("PORCHLIGHT_ACME_EMAIL", &m.ACMEEmail)
	list := func(name string, dst *[]string) {
		if v := getenv(name); v != "" {
			*dst = nil
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					*dst = append(*dst, s)
				}
			}
		}
	}
	list("PORCHLIGHT_ACME_DOMAINS", &m.ACMEDomains)
	list("PORCHLIGHT_TRUSTED_PROXIES", &m.TrustedProxies)
	if v := getenv("PORCHLIGHT_ALLOW_PLAIN_HTTP"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("PORCHLIGHT_ALLOW_PLAIN_HTTP: %q is not true or false", v)
		}
		m.AllowPlainHTTP = b
	}
	for name, dst := range map[string]*time.Duration{
		"PORCHLIGHT_RETENTION_INTERVAL": &m.RetentionInterval,
		"PORCHLIGHT_SHUTDOWN_TIMEOUT":   &m.ShutdownTimeout,
	} {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%s: %q is not a duration such as 30s or 1h", name, v)
			}
			*dst = d
		}
	}
	if v := getenv("PORCHLIGHT_MAX_UPLOADS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("PORCHLIGHT_MAX_UPLOADS: %q is not a number", v)
		}
		m.MaxUploads = n
	}
	return nil
}

// LoginLimits is the [login_limits] table: the sign-in rate limits of
// auth.Limits. A zero field takes auth.Limits' default.
type LoginLimits struct {
	// AccountFailures is the failed sign-ins per account (by e-mail) per
	// Window before the account key is blocked. It defaults to 10.
	AccountFailures int `toml:"account_failures"`
	// AddressFailures is the failed sign-ins per source address (IPv4 /32,
	// IPv6 /64) per Window. It defaults to 20.
	AddressFailures int `toml:"address_failures"`
	// DeviceFailures is the failed sign-ins per known-device token per
	// Window. It defaults to 10.
	DeviceFailures int `toml:"device_failures"`
	// Window is the counting window. It defaults to 15m.
	Window time.Duration `toml:"window"`
	// Block is how long a key stays blocked once over its limit. It
	// defaults to 15m.
	Block time.Duration `toml:"block"`
}

func limitsConfig(l auth.Limits) LoginLimits {
	return LoginLimits{l.AccountFailures, l.AddressFailures, l.DeviceFailures, l.Window, l.Block}
}

// Limits returns the policy as auth.Limits.
func (l LoginLimits) Limits() auth.Limits {
	return auth.Limits{
		AccountFailures: l.AccountFailures, AddressFailures: l.AddressFailures, DeviceFailures: l.DeviceFailures,
		Window: l.Window, Block: l.Block,
	}
}

func (l LoginLimits) withDefaults() LoginLimits {
	d := auth.Limits{}.WithDefaults()
	if l.AccountFailures == 0 {
		l.AccountFailures = d.AccountFailures
	}
	if l.AddressFailures == 0 {
		l.AddressFailures = d.AddressFailures
	}
	if l.DeviceFailures == 0 {
		l.DeviceFailures = d.DeviceFailures
	}
	if l.Window == 0 {
		l.Window = d.Window
	}
	if l.Block == 0 {
		l.Block = d.Block
	}
	return l
}

// Validate checks the configuration fields and says what to fix.
func (m *Main) Validate() error {
	var errs []error
	if host, port, err := net.SplitHostPort(m.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen: %q is not host:port (e.g. 127.0.0.1:8080, or :8080 for every interface)", m.Listen))
	} else if !validPort(port) {
		errs = append(errs, fmt.Errorf("listen: port %q is not a number from 0 to 65535", port))
	} else if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		errs = append(errs, fmt.Errorf("listen: host %q must be an IP address, localhost or empty", host))
	}
	if strings.TrimSpace(m.DataDir) == "" {
		errs = append(errs, errors.New("data_dir: must name a directory (PORCHLIGHT_DATA)"))
	}
	if m.Database != "" && !isPostgresURL(m.Database) {
		errs = append(errs, errors.New(`database: use "" for SQLite in data_dir, or a postgres:// URL (PORCHLIGHT_DATABASE)`))
	}
	if m.RetentionInterval < time.Second {
		errs = append(errs, fmt.Errorf("retention_interval: %v is too short; use at least 1s (default 1h)", m.RetentionInterval))
	}
	if m.MaxUploads < 1 || m.MaxUploads > 1024 {
		errs = append(errs, fmt.Errorf("max_uploads: %d is outside 1 to 1024", m.MaxUploads))
	}
	if m.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("shutdown_timeout: %v is negative", m.ShutdownTimeout))
	}
	switch m.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level: %q is not debug, info, warn or error", m.LogLevel))
	}
	switch m.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log_format: %q is not text or json", m.LogFormat))
	}
	errs = append(errs, m.validateTransport()...)
	errs = append(errs, m.validateSessions()...)
	if len(errs) > 0 {
		return fmt.Errorf("porchlightd config: %w", errors.Join(errs...))
	}
	return nil
}

// tlsOn reports whether Listen serves HTTPS.
func (m *Main) tlsOn() bool { return m.TLSCert != "" || m.TLSKey != "" || len(m.ACMEDomains) > 0 }

// validateTransport checks the TLS, ACME, plain-HTTP and public URL
// settings.
func (m *Main) validateTransport() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if (m.TLSCert == "") != (m.TLSKey == "") {
		add("tls_cert and tls_key: set both (the PEM certificate chain and its private key) or neither")
	}
	acme := len(m.ACMEDomains) > 0
	if acme && (m.TLSCert != "" || m.TLSKey != "") {
		add("tls_cert and acme_domains: choose one: a certificate from files, or certificates obtained with ACME")
	}
	for _, d := range m.ACMEDomains {
		if !isDNSName(d) {
			add("acme_domains: %q is not a DNS name such as cams.example.org (ACME here issues no IP addresses, wildcards or single-label names)", d)
		}
	}
	if m.ACMEEmail != "" {
		if a, err := mail.ParseAddress(m.ACMEEmail); err != nil || a.Address != m.ACMEEmail {
			add("acme_email: %q is not an e-mail address such as ops@example.org", m.ACMEEmail)
		}
	}
	if u, err := url.Parse(m.ACMEDirectoryURL); acme && (err != nil || u.Scheme != "https" || u.Host == "") {
		add("acme_directory_url: %q is not an https:// URL (the default is Let's Encrypt: %s)", m.ACMEDirectoryURL, autocert.DefaultACMEDirectory)
	}
	if m.ACMEHTTPListen != "" {
		if !acme {
			add("acme_http_listen: only used with acme_domains; remove it, or set acme_domains")
		} else if _, port, err := net.SplitHostPort(m.ACMEHTTPListen); err != nil || !validPort(port) {
			add("acme_http_listen: %q is not host:port (e.g. :80)", m.ACMEHTTPListen)
		}
	}
	if host, _, err := net.SplitHostPort(m.Listen); err == nil && !m.tlsOn() && !m.AllowPlainHTTP && !isLoopback(host) {
		add("listen: %q would serve plain HTTP to other machines, so passwords and tokens would cross the network readable: "+
			"set tls_cert and tls_key (or acme_domains) to serve HTTPS, or listen on 127.0.0.1 behind a TLS-terminating proxy; "+
			"set allow_plain_http = true only when such a proxy reaches porchlightd over a network you trust", m.Listen)
	}
	if m.PublicURL != "" {
		u, err := url.Parse(m.PublicURL)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
			add("public_url: %q must be https://host[:port] with no path, e.g. https://cams.example.org", m.PublicURL)
		case u.Scheme == "http" && m.tlsOn():
			add("public_url: %q is http:// but porchlightd serves HTTPS; use https://", m.PublicURL)
		}
	}
	for _, p := range m.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			add("trusted_proxies: %q is not an address or CIDR prefix such as 10.0.0.0/8 or 192.0.2.7", p)
		}
	}
	if id := m.WebAuthnRPID; id != "" {
		if !isDNSName(id) && id != "localhost" {
			add("webauthn_rp_id: %q is not a domain name such as cams.example.org (no scheme or port)", id)
		} else if u, err := url.Parse(m.PublicURL); m.PublicURL != "" && err == nil {
			if h := strings.ToLower(u.Hostname()); h != id && !strings.HasSuffix(h, "."+id) {
				add("webauthn_rp_id: %q must be public_url's host %q or a domain it is under", id, h)
			}
		}
	}
	return errs
}

// validateSessions checks session lifetimes and sign-in limits.
func (m *Main) validateSessions() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if m.SessionIdle < time.Minute {
		add("session_idle: %v is too short; use at least 1m (default %v)", m.SessionIdle, auth.IdleTimeout)
	}
	if m.SessionAbsolute < time.Minute {
		add("session_absolute: %v is too short; use at least 1m (default %v)", m.SessionAbsolute, auth.AbsoluteTimeout)
	} else if m.SessionIdle > m.SessionAbsolute {
		add("session_idle: %v is longer than session_absolute %v, so it never applies (swapped?)", m.SessionIdle, m.SessionAbsolute)
	}
	l := m.LoginLimits
	for _, f := range []struct {
		name string
		n    int
	}{{"account_failures", l.AccountFailures}, {"address_failures", l.AddressFailures}, {"device_failures", l.DeviceFailures}} {
		if f.n < 1 || f.n > 10000 {
			add("login_limits.%s: %d is outside 1 to 10000", f.name, f.n)
		}
	}
	if l.Window < time.Second || l.Window > 24*time.Hour {
		add("login_limits.window: %v is outside 1s to 24h (default 15m)", l.Window)
	}
	if l.Block < time.Second || l.Block > 24*time.Hour {
		add("login_limits.block: %v is outside 1s to 24h (default 15m)", l.Block)
	}
	return errs
}

func validPort(port string) bool {
	p, err := strconv.Atoi(port)
	return err == nil && p >= 0 && p <= 65535
}

// isLoopback reports whether a listen host is this machine only.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// isDNSName reports whether s is a fully qualified host name: two or more
// labels of letters, digits and hyphens, not an IP address.
func isDNSName(s string) bool {
	if len(s) > 253 || net.ParseIP(s) != nil {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// parsePrefix parses a CIDR prefix or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// trustedProxies parses TrustedProxies (validated).
func (m *Main) trustedProxies() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range m.TrustedProxies {
		if p, err := parsePrefix(s); err == nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// Version describes this build: the module version and, when built from a
// VCS checkout, the revision.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "porchlightd (unknown version)"
	}
	v := "porchlightd " + bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v + " " + bi.GoVersion
}
