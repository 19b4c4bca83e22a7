package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/spool"
)

// uploadAPI is what the uploader needs from the service.
type uploadAPI interface {
	PutCamera(ctx context.Context, id string, in api.HubCamera) error
	PutEpoch(ctx context.Context, id string, in api.EpochPut) error
	PutObject(ctx context.Context, id string, m apiclient.ObjectMeta, body []byte) (*api.UploadResult, error)
}

// Upload tuning.
var (
	// uploadTimeout bounds one upload.
	uploadTimeout = 2 * time.Minute
	// maxItemAttempts is how often an item the service refuses (4xx) is
	// re-read from disk and sent again before it is quarantined. The
	// spool checks the body against its recorded hash at each read, so a
	// refusal of a good body (a hash mismatch) means it was damaged in
	// transit: worth several tries, with backoff (about 2 minutes in all).
	maxItemAttempts = 10
)

// send uploads one item.
func send(ctx context.Context, c uploadAPI, it spool.Item) error {
	ctx, cancel := context.WithTimeout(ctx, uploadTimeout)
	defer cancel()
	switch it.Kind {
	case spool.KindEpoch:
		var put api.EpochPut
		if err := json.Unmarshal(it.Body, &put); err != nil {
			return fmt.Errorf("%w: epoch body: %v", spool.ErrCorrupt, err)
		}
		return c.PutEpoch(ctx, it.ID, put)
	case spool.KindCamera:
		return c.PutCamera(ctx, it.Meta.Camera, api.HubCamera{Descriptor: it.Body})
	case spool.KindSegment, spool.KindManifest, spool.KindEvent, spool.KindThumb:
		_, err := c.PutObject(ctx, it.ID, apiclient.ObjectMeta{
			Camera: it.Meta.Camera, Epoch: it.Meta.Epoch, Kind: string(it.Kind), Time: it.Meta.Time,
			SHA256: it.Meta.SHA256, Refs: it.Meta.Refs,
		}, it.Body)
		return err
	}
	return fmt.Errorf("%w: unknown kind %q", spool.ErrCorrupt, it.Kind)
}

// uploadLoop drains the spool in order until ctx is done. Failures that may
// pass (network, 5xx, 429, a refused token) are retried with backoff and
// logged in summary; an item the service refuses is re-read from disk and
// sent again a few times, then moved to DATA/quarantine with a log line.
func (h *Hub) uploadLoop(ctx context.Context, c uploadAPI) {
	var b backoff
	sum := summary{log: h.log, every: 30 * time.Second}
	attempts := map[string]int{}
	backlog, since := 0, time.Time{} // items sent since the last failure streak began
	for {
		it, err := h.sp.Next(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = send(ctx, c, it)
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			if err := h.sp.Done(it.ID); err != nil {
				h.log.Error("uploaded item not removed from the spool (it will be sent again)", "id", it.ID, "err", err)
			}
			delete(attempts, it.ID)
			h.stats.uploaded.Add(1)
			b.reset()
			h.out.flush() // room was freed
			if sum.failures > 0 {
				h.log.Info("service reachable again: uploading the backlog", "waiting", h.sp.Len())
				sum.ok()
				backlog, since = 0, time.Now()
			}
			if !since.IsZero() {
				backlog++
				if h.sp.Len() == 0 {
					h.log.Info("backlog drained", "uploads", backlog, "took", time.Since(since).Round(time.Second))
					since = time.Time{}
				}
			}
			continue
		}

		if since.IsZero() {
			since = time.Now()
		}
		switch {
		case apiclient.IsRetryable(err) || apiclient.IsStatus(err, http.StatusUnauthorized):
			h.stats.retries.Add(1)
			d := b.wait()
			msg := "service unreachable"
			switch {
			case apiclient.IsStatus(err, http.StatusInsufficientStorage):
				// The household's quota is full: keep everything in the
				// spool until the owner frees space.
				msg = "the household's storage quota at the service is full (recordings are kept here until the owner deletes some or shortens retention)"
				d = maxBackoff
			case apiclient.IsStatus(err, http.StatusUnauthorized):
				msg = "the service refuses this hub's token (was the hub removed from the household?)"
				d = maxBackoff
			}
			sum.fail(time.Now(), fmt.Sprintf("%s, %d uploads waiting, retrying in %v", msg, h.sp.Len(), roundDelay(d)), "err", err)
			if sleep(ctx, d) != nil {
				return
			}
		default:
			attempts[it.ID]++
			h.stats.retries.Add(1)
			// A body that changed on disk, a hash the service disagrees
			// with or a manifest whose objects are not there yet may pass
			// on a fresh read; a 409 on an object means the same id was
			// uploaded with other bytes: a bug, never retried.
			conflict := apiclient.IsStatus(err, http.StatusConflict) && it.Kind != spool.KindManifest
			if !conflict && attempts[it.ID] < maxItemAttempts {
				h.log.Warn("upload refused; reading the item from disk again and retrying", "kind", it.Kind, "id", it.ID, "attempt", attempts[it.ID], "err", err)
				if sleep(ctx, b.wait()) != nil {
					return
				}
				continue
			}
			delete(attempts, it.ID)
			path, qerr := h.sp.Quarantine(it.ID)
			if qerr != nil && !errors.Is(qerr, spool.ErrNotFound) {
				h.log.Error("cannot quarantine a refused item; stopping uploads", "id", it.ID, "err", qerr)
				<-ctx.Done()
				return
			}
			h.log.Error("upload refused for good: item moved to quarantine (report this as a bug)",
				"kind", it.Kind, "id", it.ID, "camera", it.Meta.Camera, "seq", it.Meta.Seq, "path", path, "err", err)
		}
	}
}

// roundDelay rounds a delay for a log line: 300ms, 4s, 30s.
func roundDelay(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
