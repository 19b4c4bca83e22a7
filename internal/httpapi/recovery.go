package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// The recovery kit: an age file the owner's client sealed with scrypt to the
// household's recovery passphrase, holding the private halves of the roster
// entry with seal.RoleRecovery. The service keeps it for the owner, for a
// fresh device that lost every other one, and can never open it.

// putRecoveryKit stores or replaces the caller's household's kit. It needs a
// recent sign-in: replacing the kit is changing how the household recovers.
func (s *Server) putRecoveryKit(w http.ResponseWriter, r *http.Request, c *caller) error {
	body, err := readBody(w, r, seal.MaxRecoveryKit, "recovery kit")
	if err != nil {
		return err
	}
	if err := seal.CheckAgeFile(body); err != nil {
		return errInvalidf(err, "the recovery kit is not an age-encrypted file: the service stores ciphertext only")
	}
	if err := s.Store.PutRecoveryKit(r.Context(), c.household, body, s.Now().UTC()); err != nil {
		return err
	}
	addLog(r, "bytes", len(body))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// getRecoveryKit returns the caller's household's kit.
func (s *Server) getRecoveryKit(w http.ResponseWriter, r *http.Request, c *caller) error {
	kit, err := s.Store.RecoveryKit(r.Context(), c.household)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound("this household has no recovery kit: it was made before recovery kits existed, or signup was interrupted")
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(kit)))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(kit)
	return err
}
