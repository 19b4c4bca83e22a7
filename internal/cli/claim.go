package cli

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/seal"
)

// maxHubName bounds the hub name copied into the roster.
const maxHubName = 64

func cmdHubClaim(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "hub claim", synopsis: "[--yes] [--timeout 15m]", about: `
Adds a hub to your household. Prints a one-time code and the command to start
the hub with it, waits for the hub to present itself, then shows a fingerprint
of the code, the hub's keys and your household's key. The hub prints its own:
if they match, nobody in between substituted keys. On confirmation the hub is
added to the household roster (signed by this device, which must be an owner)
and the service gives the hub its token.`}
	fs := m.flags(spec.name)
	yes := fs.Bool("yes", false, "do not ask to compare the fingerprints (scripts; you lose the check against a substituted hub)")
	timeout := fs.Duration("timeout", 15*time.Minute, "how long to wait for the hub")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	if *timeout <= 0 {
		return usagef(spec.name, "--timeout must be positive")
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	if self := h.self(); self == nil || self.Role != seal.RoleOwner {
		return fmt.Errorf("this device (%s) is not an owner in your household's roster, so it cannot add a hub: use an owner device", h.dev.ID)
	}
	code, err := h.conn.c.CreateClaim(ctx)
	if err != nil {
		return h.conn.explain("create a claim code", err)
	}
	fmt.Fprintf(m.Stdout, "Claim code: %s (valid until %s)\n\n", code.Code, code.ExpiresAt.In(m.loc).Format(time.TimeOnly))
	fmt.Fprintf(m.Stdout, "On the hub, run:\n\n    porchlight-hub --server %s --claim %s --camera front=rtsp://…\n\n", h.conn.server, code.Code)
	fmt.Fprintln(m.Stdout, "Waiting for the hub to present itself…")

	wctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	st, err := h.waitPresented(wctx, code.Code)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no hub presented itself within %v: check that the hub reaches %s, then run `porchlight hub claim` again", *timeout, h.conn.server)
		}
		return err
	}
	hubSign := ed25519.PublicKey(st.HubSign)
	if len(hubSign) != ed25519.PublicKeySize || seal.KeyID(hubSign) != st.HubID {
		return fmt.Errorf("the service reported hub %s with a signing key that does not match its id: refusing it", st.HubID)
	}
	if _, err := seal.ParseRecipient(st.HubKEM); err != nil {
		return fmt.Errorf("the service reported hub %s with an unusable key (%v): refusing it", st.HubID, err)
	}
	hubName := truncate(clean(st.HubName), maxHubName)

	// Verify the roster again right before signing a new version.
	if err := h.refreshRoster(ctx); err != nil {
		return err
	}
	fp := seal.ClaimFingerprint(code.Code, hubSign, st.HubKEM, h.pin.Root)
	fmt.Fprintf(m.Stdout, "\nHub %q (%s) presented itself.\nFingerprint: %s\n", hubName, st.HubID, fp)
	if *yes {
		fmt.Fprintln(m.Stdout, "Confirmed without comparing (--yes).")
	} else if !m.confirm("Does the hub show the same fingerprint?") {
		return errors.New("claim not confirmed: the hub was not added. If the fingerprints differed, someone may be intercepting the claim; run `porchlight hub claim` again")
	}

	version, err := h.addHub(ctx, st.HubID, hubName, hubSign, st.HubKEM)
	if err != nil {
		return err
	}
	if err := h.conn.c.ConfirmClaim(ctx, code.Code, st.HubID); err != nil {
		return h.conn.explain("confirm the claim", err)
	}
	fmt.Fprintf(m.Stdout, "Hub %q (%s) added to household %s (roster version %d). It starts recording once it has collected its token.\n",
		hubName, st.HubID, h.roster.Household, version)
	return nil
}

// waitPresented polls a claim until a hub presented itself.
func (h *household) waitPresented(ctx context.Context, code string) (*api.ClaimStatus, error) {
	t := time.NewTicker(h.m.PollInterval)
	defer t.Stop()
	failures := 0
	for {
		st, err := h.conn.c.ClaimStatus(ctx, code)
		switch {
		case err == nil:
			failures = 0
			switch st.State {
			case api.ClaimPresented:
				return st, nil
			case api.ClaimExpired:
				return nil, errors.New("the claim code expired before a hub presented itself: run `porchlight hub claim` again")
			case api.ClaimConfirmed:
				return nil, errors.New("the claim was already confirmed elsewhere: run `porchlight hub claim` again for another hub")
			}
		case apiclient.IsStatus(err, http.StatusNotFound):
			return nil, errors.New("the claim code is unknown or expired: run `porchlight hub claim` again")
		case apiclient.IsRetryable(err) && failures < 30:
			failures++ // ride out a restart of the service
		default:
			return nil, h.conn.explain("check the claim", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// addHub appends a roster version listing the hub, unless the latest
// version lists it already, and returns the version that does. A version
// race (409) is retried on the fresh roster.
func (h *household) addHub(ctx context.Context, id, name string, sign ed25519.PublicKey, kem string) (uint64, error) {
	for attempt := 0; ; attempt++ {
		if e := h.roster.Entry(id); e != nil {
			if e.Kind == seal.KindHub && ed25519.PublicKey(e.Sign).Equal(sign) && e.KEM == kem {
				return h.roster.Version, nil
			}
			return 0, fmt.Errorf("your roster already lists %s as something other than this hub: refusing to claim it", id)
		}
		next, err := nextRoster(h.dev, h.roster, h.chain[len(h.chain)-1], h.m.Now(), func(es []seal.RosterEntry) []seal.RosterEntry {
			return append(es, seal.RosterEntry{ID: id, Kind: seal.KindHub, Role: seal.RoleHub, Name: name, Sign: sign, KEM: kem})
		})
		if err != nil {
			return 0, err
		}
		err = h.conn.c.AppendRoster(ctx, next)
		if apiclient.IsStatus(err, http.StatusConflict) && attempt < 3 {
			if err := h.refreshRoster(ctx); err != nil {
				return 0, err
			}
			continue
		}
		if err != nil {
			return 0, h.conn.explain("add the hub to the household roster", err)
		}
		// Adopt the new version as verified (the chain still checks out).
		chain := append(append([][]byte(nil), h.chain...), next)
		latest, err := checkChain(h.pin, chain)
		if err != nil {
			return 0, err
		}
		h.pin.Versions, h.chain, h.roster = chain, chain, latest
		if err := h.m.savePin(h.pin); err != nil {
			return 0, err
		}
		return latest.Version, nil
	}
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
