package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"k8s.io/klog/v2"

	"github.com/porchlight/porchlight/internal/auditlog"
	"github.com/porchlight/porchlight/internal/httpapi"
)

// Where the audit log lives under the data directory: the tiles, entry
// bundles and checkpoint in log/ (served to clients as tlog-tiles), and the
// checkpoint signing key beside it, never inside the served tree.
const (
	auditDir = "log"
	auditKey = "log-signing.key"
)

// grantSweep is how often expired support grants lose their key wraps
// (every use of a grant checks its expiry too).
const grantSweep = 30 * time.Second

// auditOrigin names the log in its checkpoints. Clients pin the signing
// key itself, so two services' logs are told apart by their keys.
const auditOrigin = "porchlight/audit-log"

// openAudit opens the audit log, creating it and its signing key on first
// start.
func (m *Main) openAudit(ctx context.Context) (*auditlog.Log, error) {
	// Tessera reports through klog (a process-wide logger): its warnings
	// and errors go to porchlightd's log, its chatter nowhere.
	klog.SetSlogLogger(slog.New(minLevel{m.Logger.Handler(), slog.LevelWarn}))
	origin := auditOrigin
	signer, _, err := auditlog.LoadOrCreateKey(filepath.Join(m.DataDir, auditKey), origin)
	if err != nil {
		return nil, fmt.Errorf("audit log key: %w", err)
	}
	l, err := auditlog.Open(ctx, auditlog.Config{Dir: filepath.Join(m.DataDir, auditDir), Signer: signer, Logger: m.Logger})
	if err != nil {
		return nil, fmt.Errorf("open audit log in %s: %w", filepath.Join(m.DataDir, auditDir), err)
	}
	return l, nil
}

// grantLoop ends expired support grants, deletes donated clips past their
// campaign's retention and redaction results nobody claimed.
func (m *Main) grantLoop(ctx context.Context, api *httpapi.Server) {
	t := time.NewTicker(grantSweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := api.ExpireGrants(ctx); err != nil && ctx.Err() == nil {
			m.Logger.ErrorContext(ctx, "expiring grants failed", "err", err)
		} else if n > 0 {
			m.Logger.InfoContext(ctx, "support grants expired; their keys are deleted", "count", n)
		}
		if n, err := api.ExpireDonations(ctx); err != nil && ctx.Err() == nil {
			m.Logger.ErrorContext(ctx, "expiring donated clips failed", "err", err)
		} else if n > 0 {
			m.Logger.InfoContext(ctx, "donated clips past their campaign's retention deleted, their labels excluded", "count", n)
		}
		if n, err := api.ExpireRedactions(ctx); err != nil && ctx.Err() == nil {
			m.Logger.ErrorContext(ctx, "expiring redaction results failed", "err", err)
		} else if n > 0 {
			m.Logger.InfoContext(ctx, "unclaimed redaction results deleted", "count", n)
		}
	}
}

// minLevel is a slog handler that drops records below a level.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
