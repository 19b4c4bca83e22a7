package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/porchlight/porchlight/internal/conf"
)

// Load sets the configuration fields: defaults, then the TOML file at path
// (if path is not empty; unknown keys are errors), then PORCHLIGHT_*
// variables from getenv (nil: os.Getenv). Flags the caller applies after
// Load win over all three. Start validates.
//
// Environment: PORCHLIGHT_LISTEN, PORCHLIGHT_DATA, PORCHLIGHT_RETENTION_INTERVAL,
// PORCHLIGHT_MAX_UPLOADS, PORCHLIGHT_SHUTDOWN_TIMEOUT, PORCHLIGHT_LOG_LEVEL,
// PORCHLIGHT_LOG_FORMAT, PORCHLIGHT_DATABASE.
func (m *Main) Load(path string, getenv func(string) string) error {
	d := Defaults()
	m.Listen, m.DataDir, m.RetentionInterval, m.MaxUploads = d.Listen, d.DataDir, d.RetentionInterval, d.MaxUploads
	m.ShutdownTimeout, m.LogLevel, m.LogFormat = d.ShutdownTimeout, d.LogLevel, d.LogFormat
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

// Validate checks the configuration fields and says what to fix.
func (m *Main) Validate() error {
	var errs []error
	if host, port, err := net.SplitHostPort(m.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen: %q is not host:port (e.g. 127.0.0.1:8080, or :8080 for every interface)", m.Listen))
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
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
	if len(errs) > 0 {
		return fmt.Errorf("porchlightd config: %w", errors.Join(errs...))
	}
	return nil
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
