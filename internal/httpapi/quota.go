package httpapi

// Storage quotas. The operator sets a household's quota over the admin
// socket (logged in the household's audit log); uploads of new segments
// beyond it answer 507 quota_exceeded, which a hub treats like an outage:
// the recording stays in its spool and is retried, so nothing is lost
// while the owner frees space. Manifests are always accepted: they only
// list objects already stored. The check is not atomic with the upload, so
// concurrent uploads may pass the quota by a few segments.

import (
	"context"
	"fmt"
	"net/http"

	"github.com/dustin/go-humanize"

	"github.com/porchlight/porchlight/internal/api"
)

// usage returns a household's quota (0: none) and the bytes it stores.
func (s *Server) usage(ctx context.Context, household string) (quota, used int64, err error) {
	h, err := s.Store.Household(ctx, household)
	if err != nil {
		return 0, 0, fmt.Errorf("load household: %w", err)
	}
	used, err = s.Store.HouseholdUsage(ctx, household)
	if err != nil {
		return 0, 0, fmt.Errorf("household usage: %w", err)
	}
	return h.QuotaBytes, used, nil
}

// checkQuota refuses n more bytes for a household over its quota.
func (s *Server) checkQuota(ctx context.Context, household string, n int64) error {
	quota, used, err := s.usage(ctx, household)
	if err != nil {
		return err
	}
	if quota > 0 && used+n > quota {
		return &httpError{http.StatusInsufficientStorage, api.CodeQuotaExceeded, fmt.Sprintf(
			"the household's storage quota of %s is full (%s stored): recordings wait on the hub; delete some or shorten retention (porchlight cameras retention), or ask the service's operator for more",
			humanize.IBytes(uint64(quota)), humanize.IBytes(uint64(used))), nil}
	}
	return nil
}
