package httpapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// --- roster ---

func (s *Server) rosterOf(ctx context.Context, household string) (*api.Roster, error) {
	vs, err := s.Store.RosterVersions(ctx, household)
	if err != nil {
		return nil, err
	}
	out := &api.Roster{Versions: make([][]byte, 0, len(vs))}
	for _, v := range vs {
		out.Versions = append(out.Versions, v.Signed)
	}
	return out, nil
}

func (s *Server) getRoster(w http.ResponseWriter, r *http.Request, c *caller) error {
	ro, err := s.rosterOf(r.Context(), c.household)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ro)
	return nil
}

func (s *Server) hubRoster(w http.ResponseWriter, r *http.Request, h *store.Hub) error {
	after, wait, long, err := rosterWait(r)
	if err != nil {
		return err
	}
	var ro *api.Roster
	if long {
		ro, err = s.waitRoster(r, h.HouseholdID, after, wait)
	} else {
		ro, err = s.rosterOf(r.Context(), h.HouseholdID)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ro)
	return nil
}

// appendRoster checks the new version against the whole stored chain: it
// must be the next version, name this household, and be signed by an owner
// device of the version before (for version 1: by a device it lists as an
// owner — the first device of a new household is trusted on first use).
func (s *Server) appendRoster(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in api.RosterAppend
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	env, err := seal.ParseSigned(in.Signed, seal.TypeRoster)
	if err != nil {
		return err
	}
	var next seal.Roster
	if err := env.Decode(&next); err != nil {
		return err
	}
	if next.Household != c.household {
		return errForbidden("the roster names another household")
	}
	vs, err := s.Store.RosterVersions(r.Context(), c.household)
	if err != nil {
		return err
	}
	latest := uint64(len(vs))
	switch {
	case next.Version <= latest:
		return errConflict(fmt.Sprintf("roster version %d exists already (latest is %d): fetch the roster and sign the next version", next.Version, latest))
	case next.Version != latest+1:
		return errInvalid(fmt.Sprintf("roster version %d skips versions: the next version is %d", next.Version, latest+1))
	}
	chain := make([][]byte, 0, len(vs)+1)
	for _, v := range vs {
		chain = append(chain, v.Signed)
	}
	chain = append(chain, in.Signed)
	if _, err := seal.VerifyRosterChain(chain, nil); err != nil {
		return err
	}
	prev, err := decodeLatest(vs)
	if err != nil {
		return err
	}
	err = s.Store.AppendRoster(r.Context(), store.RosterVersion{
		HouseholdID: c.household, Version: next.Version, Signed: in.Signed, Hash: seal.RosterHash(in.Signed), Created: s.Now().UTC(),
	})
	if errors.Is(err, store.ErrConflict) {
		return errConflict("another roster version was appended meanwhile: fetch the roster and sign the next version")
	}
	if err != nil {
		return err
	}
	addLog(r, "roster_version", next.Version)
	s.recordOwner(r, c, api.AuditDevice, "roster_version", fmt.Sprintf("roster:%d", next.Version), rosterChange(prev, &next))
	if err := s.revokeDropped(r, c.household, prev, &next); err != nil {
		return fmt.Errorf("revoke dropped devices: %w", err)
	}
	s.rosterNews.appended()
	return noContent(w)
}

// rootSign returns the signing key of the device that signed roster
// version 1 of a household.
func (s *Server) rootSign(ctx context.Context, household string) ([]byte, error) {
	vs, err := s.Store.RosterVersions(ctx, household)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, errConflict("the household has no roster yet: publish it (porchlight signup does) before claiming a hub")
	}
	env, err := seal.ParseSigned(vs[0].Signed, seal.TypeRoster)
	if err != nil {
		return nil, err
	}
	var v1 seal.Roster
	if err := env.Decode(&v1); err != nil {
		return nil, err
	}
	e := v1.Entry(env.Signer)
	if e == nil {
		return nil, fmt.Errorf("roster version 1 signer not listed: %w", seal.ErrRosterChain)
	}
	return e.Sign, nil
}

// --- claims (owner side) ---

func (s *Server) createClaim(w http.ResponseWriter, r *http.Request, c *caller) error {
	if _, err := s.rootSign(r.Context(), c.household); err != nil {
		return err
	}
	now := s.Now().UTC()
	code := auth.NewClaimCode()
	cl := store.Claim{
		CodeHash: auth.HashClaimCode(code), HouseholdID: c.household, CreatedBy: c.session.AccountID,
		Created: now, Expires: now.Add(auth.ClaimTTL), State: api.ClaimWaiting,
	}
	if err := s.Store.CreateClaim(r.Context(), cl); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, api.ClaimCode{Code: code, ExpiresAt: cl.Expires})
	return nil
}

var errUnknownClaim = errNotFound("unknown or expired claim code: start the claim again")

// ownClaim loads the claim in the path and checks it is the caller's.
func (s *Server) ownClaim(r *http.Request, c *caller) (store.Claim, error) {
	code, ok := auth.NormalizeClaimCode(r.PathValue("code"))
	if !ok {
		return store.Claim{}, errUnknownClaim
	}
	cl, err := s.Store.Claim(r.Context(), auth.HashClaimCode(code))
	if errors.Is(err, store.ErrNotFound) || err == nil && cl.HouseholdID != c.household {
		return store.Claim{}, errUnknownClaim
	}
	return cl, err
}

// claimState is the state as callers see it: a claim past its expiry that
// was not confirmed is expired.
func (s *Server) claimState(cl store.Claim) string {
	if cl.State != api.ClaimConfirmed && !s.Now().Before(cl.Expires) {
		return api.ClaimExpired
	}
	return cl.State
}

func (s *Server) claimStatus(w http.ResponseWriter, r *http.Request, c *caller) error {
	cl, err := s.ownClaim(r, c)
	if err != nil {
		return err
	}
	st := api.ClaimStatus{State: s.claimState(cl)}
	if cl.HubID != "" {
		st.HubID, st.HubName, st.HubSign, st.HubKEM = cl.HubID, cl.HubName, cl.HubSign, cl.HubKEM
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) confirmClaim(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in api.ClaimConfirm
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	cl, err := s.ownClaim(r, c)
	if err != nil {
		return err
	}
	switch st := s.claimState(cl); {
	case st == api.ClaimExpired:
		return errConflict("the claim code expired: start the claim again")
	case st != api.ClaimPresented:
		return errConflict("no hub is waiting for confirmation on this code (state " + st + ")")
	case in.HubID != cl.HubID:
		return errConflict("hub_id is not the hub that presented itself on this code")
	}
	// The latest roster must already list this very hub (same keys).
	latest, err := s.currentRoster(r.Context(), c.household)
	if err != nil {
		return err
	}
	if latest == nil {
		return errConflict("the household has no roster yet: append a roster version with the hub first, then confirm")
	}
	e := latest.Entry(cl.HubID)
	if e == nil || e.Kind != seal.KindHub || !bytes.Equal(e.Sign, cl.HubSign) || e.KEM != cl.HubKEM {
		return errConflict("the latest roster does not list this hub: append a roster version with the hub first, then confirm")
	}
	now := s.Now().UTC()
	err = s.Store.ConfirmClaim(r.Context(), cl.CodeHash, store.Hub{
		ID: cl.HubID, HouseholdID: c.household, Name: cl.HubName, Sign: cl.HubSign, KEM: cl.HubKEM, Created: now, LastSeen: now,
	})
	if errors.Is(err, store.ErrConflict) {
		return errConflict("the claim changed meanwhile, or this hub is already claimed")
	}
	if err != nil {
		return err
	}
	addLog(r, "hub", cl.HubID)
	s.recordOwner(r, c, api.AuditHub, "hub_claimed", "hub:"+cl.HubID, cl.HubName)
	return noContent(w)
}

// --- claims (hub side, no token yet) ---

// hubName cleans the name a hub calls itself.
func hubName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len([]rune(s)) > 64 {
		return "", errInvalid("name must be 1 to 64 characters")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", errInvalid("name must not contain control characters")
		}
	}
	return s, nil
}

func (s *Server) presentHub(w http.ResponseWriter, r *http.Request) error {
	var in api.HubPresent
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	code, ok := auth.NormalizeClaimCode(in.Code)
	if !ok {
		return errUnknownClaim
	}
	name, err := hubName(in.Name)
	if err != nil {
		return err
	}
	if len(in.Sign) != ed25519.PublicKeySize {
		return errInvalid("sign must be a 32-byte Ed25519 public key")
	}
	if _, err := seal.ParseRecipient(in.KEM); err != nil {
		return errInvalidf(err, "kem must be an age1pq… hybrid recipient")
	}
	if len(in.Secret) < 16 || len(in.Secret) > 256 {
		return errInvalid("secret must be 16 to 256 characters of randomness")
	}
	cl, err := s.Store.Claim(r.Context(), auth.HashClaimCode(code))
	if errors.Is(err, store.ErrNotFound) || err == nil && s.claimState(cl) == api.ClaimExpired {
		return errUnknownClaim
	}
	if err != nil {
		return err
	}
	hubID := seal.KeyID(in.Sign)
	secretHash := auth.HashToken(in.Secret)
	sameHub := cl.HubID == hubID && subtle.ConstantTimeCompare([]byte(cl.SecretHash), []byte(secretHash)) == 1
	switch {
	case cl.State == api.ClaimWaiting:
		if _, err := s.Store.Hub(r.Context(), hubID); err == nil {
			return errConflict("this hub is claimed already: to move it, reset the hub's data directory and claim it again")
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		err := s.Store.PresentClaim(r.Context(), cl.CodeHash, store.Hub{ID: hubID, Name: name, Sign: in.Sign, KEM: in.KEM}, secretHash)
		if errors.Is(err, store.ErrConflict) {
			// Lost a race: succeed only if the winner was this same hub.
			if cl2, err2 := s.Store.Claim(r.Context(), cl.CodeHash); err2 != nil || cl2.HubID != hubID || cl2.SecretHash != secretHash {
				return errConflict("another hub presented itself on this code")
			}
		} else if err != nil {
			return err
		}
	case sameHub:
		// A retry of the same presentation.
	default:
		return errConflict("another hub presented itself on this code")
	}
	root, err := s.rootSign(r.Context(), cl.HouseholdID)
	if err != nil {
		return err
	}
	addLog(r, "hub", hubID)
	writeJSON(w, http.StatusOK, api.HubPresented{HouseholdID: cl.HouseholdID, RootSign: root})
	return nil
}

func (s *Server) pollHub(w http.ResponseWriter, r *http.Request) error {
	var in api.HubPoll
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	code, ok := auth.NormalizeClaimCode(in.Code)
	if !ok {
		return errUnknownClaim
	}
	cl, err := s.Store.Claim(r.Context(), auth.HashClaimCode(code))
	if errors.Is(err, store.ErrNotFound) {
		return errUnknownClaim
	}
	if err != nil {
		return err
	}
	if cl.SecretHash == "" || subtle.ConstantTimeCompare([]byte(cl.SecretHash), []byte(auth.HashToken(in.Secret))) != 1 {
		return errUnknownClaim
	}
	resp := api.HubPollResponse{State: s.claimState(cl), HubID: cl.HubID}
	if resp.State == api.ClaimConfirmed {
		resp.HouseholdID = cl.HouseholdID
		if !cl.TokenIssued {
			tok, hash := auth.NewHubToken()
			err := s.Store.IssueHubToken(r.Context(), cl.CodeHash, hash)
			switch {
			case err == nil:
				resp.Token = tok
			case errors.Is(err, store.ErrConflict):
				// A concurrent poll collected it.
			default:
				return err
			}
		}
	}
	addLog(r, "hub", cl.HubID)
	writeJSON(w, http.StatusOK, resp)
	return nil
}
