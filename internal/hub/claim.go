package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/seal"
)

// ErrNotClaimed means the hub has no owner yet and was started without a
// claim code.
var ErrNotClaimed = errors.New("this hub is not claimed: run `porchlight hub claim` on your owner device and start the hub with --claim CODE")

// ErrClaimExpired means the claim code expired or is unknown: get a new one.
var ErrClaimExpired = errors.New("the claim code is unknown or expired: run `porchlight hub claim` again on your owner device and restart the hub with the new --claim CODE")

// claimPollEvery is how often a presented claim is polled.
var claimPollEvery = time.Second

// claimer is what claiming needs from the service.
type claimer interface {
	PresentHub(ctx context.Context, in api.HubPresent) (*api.HubPresented, error)
	PollHub(ctx context.Context, in api.HubPoll) (*api.HubPollResponse, error)
}

// claim makes sure the hub is claimed: it does nothing if it is, resumes a
// claim a restart interrupted, or starts one with m.Claim. The code and
// secret are saved before they are sent, so a restart mid-claim polls the
// same claim instead of presenting to a code twice.
func (h *Hub) claim(ctx context.Context, c claimer) error {
	var claimed bool
	var pending *pendingClaim
	h.st.view(func(s *state) {
		claimed = s.Token != ""
		if s.Pending != nil {
			p := *s.Pending
			pending = &p
		}
	})
	if claimed {
		return nil
	}
	if pending == nil || (h.m.Claim != "" && h.m.Claim != pending.Code) {
		if h.m.Claim == "" {
			return ErrNotClaimed
		}
		var b [32]byte
		rand.Read(b[:])
		pending = &pendingClaim{Code: h.m.Claim, Secret: hex.EncodeToString(b[:]), Server: h.m.Server}
		if err := h.st.update(func(s *state) { s.Pending = pending }); err != nil {
			return err
		}
	}

	present := api.HubPresent{Code: pending.Code, Name: h.m.Name, Sign: h.key.SignPub(), KEM: h.key.Recipient(), Secret: pending.Secret}
	var presented *api.HubPresented
	err := retry(ctx, h.log, "present the hub for its claim", func() error {
		var err error
		presented, err = c.PresentHub(ctx, present)
		return err
	})
	if apiclient.IsStatus(err, http.StatusNotFound) {
		h.st.update(func(s *state) { s.Pending = nil })
		return ErrClaimExpired
	}
	if apiclient.IsStatus(err, http.StatusConflict) {
		return fmt.Errorf("claim %s: another hub already presented itself for this code: run `porchlight hub claim` again", pending.Code)
	}
	if err != nil {
		return fmt.Errorf("claim: %w", err)
	}
	if len(presented.RootSign) != 32 || !seal.ValidID(presented.HouseholdID) {
		return fmt.Errorf("claim: the service answered without a household key")
	}
	fp := seal.ClaimFingerprint(pending.Code, h.key.SignPub(), h.key.Recipient(), presented.RootSign)
	fmt.Fprintf(h.m.Out, "porchlight-hub: claim fingerprint %s — confirm it matches on your owner device\n", fp)
	h.log.Info("waiting for the owner to confirm the claim", "fingerprint", fp)

	t := time.NewTicker(claimPollEvery)
	defer t.Stop()
	for {
		var resp *api.HubPollResponse
		err := retry(ctx, h.log, "poll the claim", func() error {
			var err error
			resp, err = c.PollHub(ctx, api.HubPoll{Code: pending.Code, Secret: pending.Secret})
			return err
		})
		switch {
		case apiclient.IsStatus(err, http.StatusNotFound):
			h.st.update(func(s *state) { s.Pending = nil })
			return ErrClaimExpired
		case err != nil:
			return fmt.Errorf("claim: %w", err)
		}
		switch resp.State {
		case api.ClaimExpired:
			h.st.update(func(s *state) { s.Pending = nil })
			return ErrClaimExpired
		case api.ClaimConfirmed:
			if resp.Token == "" {
				return fmt.Errorf("claim %s was confirmed but its token was already collected (a hub restarted while claiming?): run `porchlight hub claim` again", pending.Code)
			}
			if resp.HubID != "" && resp.HubID != h.key.ID {
				return fmt.Errorf("claim: the service confirmed hub %s, not this hub (%s)", resp.HubID, h.key.ID)
			}
			err := h.st.update(func(s *state) {
				s.Pending = nil
				s.Server = pending.Server
				s.HubID = h.key.ID
				s.Household = presented.HouseholdID
				s.Token = resp.Token
				s.RootSign = presented.RootSign
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(h.m.Out, "porchlight-hub: claimed by household %s\n", presented.HouseholdID)
			h.log.Info("hub claimed", "hub", h.key.ID, "household", presented.HouseholdID)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
