package httpapi

// Devices of a household's roster, as the service sees them: sessions are
// bound to the device that signed in (api.SignupRequest.DeviceID), and a
// roster version that drops a device revokes it at once: its wraps are
// deleted and its sessions end. The service cannot take back keys the
// device already received; only new epochs (started by the hub on the
// roster change) are beyond its reach.

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

// checkDeviceID checks the optional device_id of a sign-in.
func checkDeviceID(id string) error {
	if id != "" && !seal.ValidID(id) {
		return errInvalid("malformed device_id: send this device's roster key id, or nothing")
	}
	return nil
}

// revokeDropped revokes every entry of prev that next no longer lists:
// deletes its wraps and ends its sessions. prev is nil for version 1.
func (s *Server) revokeDropped(r *http.Request, household string, prev, next *seal.Roster) error {
	if prev == nil {
		return nil
	}
	for _, e := range prev.Entries {
		if next.Entry(e.ID) != nil {
			continue
		}
		ended, err := s.Store.RemoveDevice(r.Context(), household, e.ID)
		if err != nil {
			return err
		}
		s.EndSessions(ended)
		s.Logger.InfoContext(r.Context(), "device removed", "household", household, "device", e.ID, "sessions_ended", len(ended))
	}
	return nil
}

// latestRoster returns a household's latest stored roster version, decoded
// (every stored version was verified against the chain when appended), or
// nil if it has none.
func (s *Server) latestRoster(r *http.Request, household string) (*seal.Roster, error) {
	vs, err := s.Store.RosterVersions(r.Context(), household)
	if err != nil {
		return nil, err
	}
	return decodeLatest(vs)
}

func decodeLatest(vs []store.RosterVersion) (*seal.Roster, error) {
	if len(vs) == 0 {
		return nil, nil
	}
	env, err := seal.ParseSigned(vs[len(vs)-1].Signed, seal.TypeRoster)
	if err != nil {
		return nil, err
	}
	var ro seal.Roster
	if err := env.Decode(&ro); err != nil {
		return nil, err
	}
	return &ro, nil
}

// Pairing a new device: the new device (signed in to the account) posts its
// public keys and gets a one-time code; an owner device of the same account
// fetches the keys by the code. The service only relays: both devices show
// a short authentication string over the code and the keys they see, and
// the owner device alone decides by signing a roster version.

const (
	ceremonyDevicePair = "device_pair"
	// pairTTL is how long a pairing code stays valid.
	pairTTL = 15 * time.Minute
)

var errUnknownPair = errNotFound("unknown or expired pairing code: run `porchlight device pair` again on the new device")

func pairCodeHash(code string) string { return auth.HashToken("porchlight-pair:" + code) }

// startPair is POST /v1/devices/pair.
func (s *Server) startPair(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in api.DevicePairStart
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	name, err := hubName(in.Name)
	if err != nil {
		return err
	}
	if len(in.Sign) != ed25519.PublicKeySize {
		return errInvalid(fmt.Sprintf("sign must be an Ed25519 public key (%d bytes)", ed25519.PublicKeySize))
	}
	if _, err := seal.ParseRecipient(in.KEM); err != nil {
		return errInvalidf(err, "kem must be an age1pq… recipient")
	}
	offer := api.DevicePairOffer{DeviceID: seal.KeyID(in.Sign), Name: name, Sign: in.Sign, KEM: in.KEM, ExpiresAt: s.Now().UTC().Add(pairTTL)}
	data, err := json.Marshal(offer)
	if err != nil {
		return fmt.Errorf("encode pairing offer: %w", err)
	}
	code := auth.NewClaimCode()
	if err := s.Store.PutCeremony(r.Context(), store.Ceremony{ID: pairCodeHash(code), Kind: ceremonyDevicePair, AccountID: c.account,
		Data: data, Expires: offer.ExpiresAt}); err != nil {
		return fmt.Errorf("store pairing offer: %w", err)
	}
	addLog(r, "device", offer.DeviceID)
	writeJSON(w, http.StatusCreated, api.DevicePairCode{Code: code, ExpiresAt: offer.ExpiresAt})
	return nil
}

// pairOffer is GET /v1/devices/pair/{code}: only the account that started
// the pairing sees the offer; anyone else gets 404, as for a wrong code.
func (s *Server) pairOffer(w http.ResponseWriter, r *http.Request, c *caller) error {
	code, ok := auth.NormalizeClaimCode(r.PathValue("code"))
	if !ok {
		return errInvalid("malformed pairing code: it looks like ABCD-EFGH-JKLM")
	}
	cer, err := s.Store.Ceremony(r.Context(), pairCodeHash(code))
	if errors.Is(err, store.ErrNotFound) {
		return errUnknownPair
	}
	if err != nil {
		return fmt.Errorf("load pairing offer: %w", err)
	}
	if cer.Kind != ceremonyDevicePair || cer.AccountID != c.account || !s.Now().Before(cer.Expires) {
		return errUnknownPair
	}
	var offer api.DevicePairOffer
	if err := json.Unmarshal(cer.Data, &offer); err != nil {
		return fmt.Errorf("decode pairing offer: %w", err)
	}
	addLog(r, "device", offer.DeviceID)
	writeJSON(w, http.StatusOK, offer)
	return nil
}
