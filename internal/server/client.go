package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/porchlight/porchlight/internal/httpapi"
	"github.com/porchlight/porchlight/internal/store"
	"github.com/porchlight/porchlight/web"
)

// clientMarker, in the data directory, holds the hash of the last web app
// bundle written to the audit log and the households it was written for,
// one per line: a restart with the same build writes only to households
// that got devices since; a new build is recorded once for each.
const clientMarker = "client-bundle"

// webFS is the browser app to serve: Main.Web, else the embedded build.
func (m *Main) webFS() fs.FS {
	if m.Web != nil {
		return m.Web
	}
	return web.FS()
}

// householdLister is the store ability recordClient needs: the households
// that have devices (a roster), whose owners read the audit log.
type householdLister interface {
	HouseholdsWithDevices(ctx context.Context) ([]string, error)
}

// recordClient writes the served web app's bundle hash to the audit log of
// every household with devices, once per bundle and household. Failures
// are logged; the next start tries again.
func (m *Main) recordClient(ctx context.Context, api *httpapi.Server, st store.Store) {
	b, err := api.ClientBundle()
	if errors.Is(err, web.ErrNotBuilt) {
		m.Logger.WarnContext(ctx, "the web app is not built into this porchlightd: browsers get a page saying so; run make build")
		return
	} else if err != nil {
		m.Logger.ErrorContext(ctx, "the web app cannot be served", "err", err)
		return
	}
	marker := filepath.Join(m.DataDir, clientMarker)
	done := map[string]bool{}
	if last, err := os.ReadFile(marker); err == nil {
		lines := strings.Fields(string(last))
		if len(lines) > 0 && lines[0] == b.SHA256 {
			for _, h := range lines[1:] {
				done[h] = true
			}
		}
	}
	hl, ok := st.(householdLister)
	if !ok {
		m.Logger.WarnContext(ctx, "serving a new web app bundle, but this store cannot list households: its hash is not in the audit log (GET /v1/client still says it)",
			"bundle_sha256", b.SHA256)
		return
	}
	all, err := hl.HouseholdsWithDevices(ctx)
	if err != nil {
		m.Logger.ErrorContext(ctx, "listing households for the web app's audit entry failed; the next start tries again", "err", err)
		return
	}
	var todo []string
	for _, h := range all {
		if !done[h] {
			todo = append(todo, h)
		}
	}
	n, err := api.RecordClientBundle(ctx, todo)
	for _, h := range todo[:n] {
		done[h] = true
	}
	if n > 0 || len(done) == 0 {
		lines := []string{b.SHA256}
		for h := range done {
			lines = append(lines, h)
		}
		slices.Sort(lines[1:])
		if err := writeFileAtomic(marker, []byte(strings.Join(lines, "\n")+"\n")); err != nil {
			m.Logger.ErrorContext(ctx, "remembering the recorded web app bundle failed: the next start records it again", "err", err)
		}
	}
	if err != nil {
		m.Logger.ErrorContext(ctx, "writing the web app's bundle hash to the audit log failed; the next start tries again",
			"bundle_sha256", b.SHA256, "written", n, "households", len(todo), "err", err)
		return
	}
	m.Logger.InfoContext(ctx, "serving the web app; its bundle hash is in each household's audit log", "bundle_sha256", b.SHA256, "new_entries", n)
}

// writeFileAtomic writes data to path through a synced temporary file and
// a rename.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp.Name(), err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
