package httpapi

// Members: sharing some cameras of a household with another customer
// account until an expiry. The service stores an invite (its one-time code
// hashed) as a ceremony, relays the member device's public keys to the
// inviting owner, and, once an owner device has signed a roster version
// listing that device as a member, records the membership that makes it
// serve those cameras (authz.go). It never decides who receives keys: the
// owner-signed roster does.

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auth"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/store"
)

const (
	ceremonyMemberInvite = "member_invite"
	// inviteTTL is how long an invite code stays valid.
	inviteTTL = 7 * 24 * time.Hour
	// maxInviteCameras bounds the cameras of one invite.
	maxInviteCameras = 256
)

var errUnknownInvite = errNotFound("unknown or expired invite code: ask the owner for a new one (`porchlight members invite`)")

func inviteCodeHash(code string) string { return auth.HashToken("porchlight-invite:" + code) }

// memberInvite is an invite as stored in its ceremony's Data.
type memberInvite struct {
	Household string     `json:"household"`
	Email     string     `json:"email"`
	Cameras   []string   `json:"cameras"`
	Expires   *time.Time `json:"expires,omitempty"`
	State     string     `json:"state"`
	Member    string     `json:"member,omitempty"` // the accepting account
	DeviceID  string     `json:"device_id,omitempty"`
	Name      string     `json:"name,omitempty"`
	Sign      []byte     `json:"sign,omitempty"`
	KEM       string     `json:"kem,omitempty"`
}

// createInvite is POST /v1/members/invites (owner, recent sign-in).
func (s *Server) createInvite(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in api.MemberInviteCreate
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	email, err := auth.NormalizeEmail(in.Email)
	if err != nil {
		return errInvalidf(err, "email: %v", err)
	}
	if acct, err := s.Store.Account(r.Context(), c.account); err != nil {
		return fmt.Errorf("load account: %w", err)
	} else if acct.Email == email {
		return errInvalid("you cannot invite yourself: add another device with `porchlight device pair` instead")
	}
	if len(in.Cameras) == 0 || len(in.Cameras) > maxInviteCameras {
		return errInvalid(fmt.Sprintf("cameras must list 1 to %d camera ids", maxInviteCameras))
	}
	var cams []string
	for _, id := range in.Cameras {
		if !seal.ValidID(id) {
			return errInvalid("malformed camera id in cameras")
		}
		cam, err := s.Store.Camera(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && cam.HouseholdID != c.household) {
			return errInvalid("camera " + id + " is not a camera of your household")
		}
		if err != nil {
			return fmt.Errorf("load camera: %w", err)
		}
		if !slices.Contains(cams, id) {
			cams = append(cams, id)
		}
	}
	now := s.Now().UTC()
	if in.Expires != nil {
		if !in.Expires.After(now) {
			return errInvalid("expires is in the past: give a time in the future, or none")
		}
		t := in.Expires.UTC()
		in.Expires = &t
	}
	inv := memberInvite{Household: c.household, Email: email, Cameras: cams, Expires: in.Expires, State: api.InviteWaiting}
	data, err := json.Marshal(inv)
	if err != nil {
		return fmt.Errorf("encode invite: %w", err)
	}
	code := auth.NewClaimCode()
	expires := now.Add(inviteTTL)
	if err := s.Store.PutCeremony(r.Context(), store.Ceremony{ID: inviteCodeHash(code), Kind: ceremonyMemberInvite, AccountID: c.account,
		Data: data, Expires: expires}); err != nil {
		return fmt.Errorf("store invite: %w", err)
	}
	addLog(r, "cameras", len(cams))
	writeJSON(w, http.StatusCreated, api.MemberInviteCode{Code: code, ExpiresAt: expires})
	return nil
}

// loadInvite loads a live invite by the code in the path.
func (s *Server) loadInvite(r *http.Request) (store.Ceremony, memberInvite, error) {
	code, ok := auth.NormalizeClaimCode(r.PathValue("code"))
	if !ok {
		return store.Ceremony{}, memberInvite{}, errInvalid("malformed invite code: it looks like ABCD-EFGH-JKLM")
	}
	cer, err := s.Store.Ceremony(r.Context(), inviteCodeHash(code))
	if errors.Is(err, store.ErrNotFound) {
		return cer, memberInvite{}, errUnknownInvite
	}
	if err != nil {
		return cer, memberInvite{}, fmt.Errorf("load invite: %w", err)
	}
	if cer.Kind != ceremonyMemberInvite || !s.Now().Before(cer.Expires) {
		return cer, memberInvite{}, errUnknownInvite
	}
	var inv memberInvite
	if err := json.Unmarshal(cer.Data, &inv); err != nil {
		return cer, inv, fmt.Errorf("decode invite: %w", err)
	}
	return cer, inv, nil
}

// acceptInvite is POST /v1/members/invites/{code}/accept: the invited
// account (matched by e-mail; anyone else gets 404, as for a wrong code)
// offers its device's keys. Accepting again with the same device is fine;
// another device gets 409.
func (s *Server) acceptInvite(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in api.MemberAccept
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	cer, inv, err := s.loadInvite(r)
	if err != nil {
		return err
	}
	acct, err := s.Store.Account(r.Context(), c.account)
	if err != nil {
		return fmt.Errorf("load account: %w", err)
	}
	if acct.Email != inv.Email || c.household == inv.Household {
		return errUnknownInvite
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
	id := seal.KeyID(in.Sign)
	if inv.State == api.InviteAccepted && (inv.DeviceID != id || inv.KEM != in.KEM || inv.Member != c.account) {
		return errConflict("this invite was already accepted by another device: ask the owner for a new invite")
	}
	root, err := s.rootSign(r.Context(), inv.Household)
	if err != nil {
		return err
	}
	if inv.State != api.InviteAccepted {
		inv.State, inv.Member, inv.DeviceID, inv.Name, inv.Sign, inv.KEM = api.InviteAccepted, c.account, id, name, in.Sign, in.KEM
		data, err := json.Marshal(inv)
		if err != nil {
			return fmt.Errorf("encode invite: %w", err)
		}
		// Replace the ceremony: exactly one of two racing accepts deletes it.
		if err := s.Store.DeleteCeremony(r.Context(), cer.ID); errors.Is(err, store.ErrNotFound) {
			return errConflict("the invite changed meanwhile: run the command again")
		} else if err != nil {
			return fmt.Errorf("accept invite: %w", err)
		}
		cer.Data = data
		if err := s.Store.PutCeremony(r.Context(), cer); err != nil {
			return fmt.Errorf("accept invite: %w", err)
		}
	}
	addLog(r, "device", id)
	writeJSON(w, http.StatusOK, api.MemberAccepted{Household: inv.Household, Root: root})
	return nil
}

// inviteOf loads an invite of the caller's household (404 otherwise).
func (s *Server) inviteOf(r *http.Request, c *caller) (store.Ceremony, memberInvite, error) {
	cer, inv, err := s.loadInvite(r)
	if err != nil {
		return cer, inv, err
	}
	if cer.AccountID != c.account || inv.Household != c.household {
		return cer, inv, errUnknownInvite
	}
	return cer, inv, nil
}

// getInvite is GET /v1/members/invites/{code} (the inviting owner).
func (s *Server) getInvite(w http.ResponseWriter, r *http.Request, c *caller) error {
	cer, inv, err := s.inviteOf(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.MemberInvite{Email: inv.Email, Cameras: inv.Cameras, Expires: inv.Expires, State: inv.State,
		DeviceID: inv.DeviceID, Name: inv.Name, Sign: inv.Sign, KEM: inv.KEM, ExpiresAt: cer.Expires})
	return nil
}

// confirmInvite is POST /v1/members/invites/{code}/confirm (the inviting
// owner, recent sign-in), after an owner device appended a roster version
// listing the member's device. The membership takes the cameras and expiry
// of that owner-signed entry, and the invite is consumed.
func (s *Server) confirmInvite(w http.ResponseWriter, r *http.Request, c *caller) error {
	cer, inv, err := s.inviteOf(r, c)
	if err != nil {
		return err
	}
	if inv.State != api.InviteAccepted {
		return errConflict("the invite was not accepted yet: the member runs `porchlight members accept CODE` first")
	}
	ro, err := s.latestRoster(r, c.household)
	if err != nil {
		return err
	}
	var e *seal.RosterEntry
	if ro != nil {
		e = ro.Entry(inv.DeviceID)
	}
	if e == nil || e.Kind != seal.KindDevice || e.Role != seal.RoleMember || !bytes.Equal(e.Sign, inv.Sign) || e.KEM != inv.KEM {
		return errConflict("the household's latest roster does not list the member's device as a member: sign a roster version adding it first")
	}
	var cams []string
	for _, id := range e.Cameras {
		if seal.ValidID(id) {
			cams = append(cams, id)
		}
	}
	m := store.Membership{HouseholdID: c.household, AccountID: inv.Member, Cameras: cams, Created: s.Now().UTC()}
	if e.NotAfter != nil {
		m.Expires = e.NotAfter.UTC()
	}
	if err := s.Store.PutMembership(r.Context(), m); err != nil {
		return fmt.Errorf("store membership: %w", err)
	}
	if err := s.Store.DeleteCeremony(r.Context(), cer.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("consume invite: %w", err)
	}
	addLog(r, "device", inv.DeviceID, "cameras", len(cams))
	s.recordOwner(r, c, api.AuditMember, "member_added", "account:"+inv.Member, fmt.Sprintf("device %s, %d cameras, until %s", inv.DeviceID, len(cams), m.Expires.Format(time.RFC3339)))
	return noContent(w)
}

// removeMember is POST /v1/members/remove (owner, recent sign-in): ends an
// account's membership of the caller's household. 404 if it has none.
func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in api.MemberRemove
	if err := decodeJSON(w, r, MaxJSONBody, &in); err != nil {
		return err
	}
	email, err := auth.NormalizeEmail(in.Email)
	if err != nil {
		return errInvalidf(err, "email: %v", err)
	}
	notMember := errNotFound("no member of your household has that e-mail address: run `porchlight members` to see them")
	acct, err := s.Store.AccountByEmail(r.Context(), email)
	if errors.Is(err, store.ErrNotFound) {
		return notMember
	}
	if err != nil {
		return fmt.Errorf("load account: %w", err)
	}
	err = s.Store.DeleteMembership(r.Context(), c.household, acct.ID)
	if errors.Is(err, store.ErrNotFound) {
		return notMember
	}
	if err != nil {
		return fmt.Errorf("delete membership: %w", err)
	}
	// Sessions of the member's devices ended with the roster version that
	// dropped them; a session on a device never listed still reads nothing
	// now, as the membership is gone.
	addLog(r, "member", acct.ID)
	s.recordOwner(r, c, api.AuditMember, "member_removed", "account:"+acct.ID, "")
	return noContent(w)
}

// shared is GET /v1/shared: the households sharing cameras with the
// caller, with their roster chains and the in-scope cameras. Expired
// memberships are left out.
func (s *Server) shared(w http.ResponseWriter, r *http.Request, c *caller) error {
	ms, err := s.Store.MembershipsOf(r.Context(), c.account)
	if err != nil {
		return fmt.Errorf("list memberships: %w", err)
	}
	out := []api.Shared{}
	for _, m := range ms {
		if m.HouseholdID == c.household || (!m.Expires.IsZero() && !s.Now().Before(m.Expires)) {
			continue
		}
		sh := api.Shared{Household: m.HouseholdID, Cameras: []api.Camera{}}
		if !m.Expires.IsZero() {
			t := m.Expires
			sh.Expires = &t
		}
		vs, err := s.Store.RosterVersions(r.Context(), m.HouseholdID)
		if err != nil {
			return fmt.Errorf("load roster: %w", err)
		}
		for _, v := range vs {
			sh.Roster = append(sh.Roster, v.Signed)
		}
		for _, id := range m.Cameras {
			cam, err := s.Store.Camera(r.Context(), id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("load camera: %w", err)
			}
			if cam.HouseholdID == m.HouseholdID {
				sh.Cameras = append(sh.Cameras, apiCamera(cam))
			}
		}
		out = append(out, sh)
	}
	addLog(r, "households", len(out))
	writeJSON(w, http.StatusOK, out)
	return nil
}
