package api

import "time"

// Sharing cameras with a member (another customer account). The owner
// invites an e-mail address to some cameras; the member, signed in to their
// own account, accepts with their device's public keys; the owner device
// compares a short authentication string, signs a roster version listing
// that device as a member and confirms, which makes the service serve those
// cameras to the member. The service only relays keys: the roster, which
// only an owner device signs, decides who receives epoch keys.

// Invite states.
const (
	InviteWaiting  = "waiting"  // no member device has accepted yet
	InviteAccepted = "accepted" // a member device posted its keys
)

// MemberInviteCreate is POST /v1/members/invites (owner, recent sign-in).
type MemberInviteCreate struct {
	Email   string     `json:"email"`
	Cameras []string   `json:"cameras"`           // camera ids of the owner's household, at least one
	Expires *time.Time `json:"expires,omitempty"` // end of the member's access; nil: no end
}

// MemberInviteCode answers POST /v1/members/invites: the one-time code the
// owner gives the member, valid until ExpiresAt.
type MemberInviteCode struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

// MemberAccept is POST /v1/members/invites/{code}/accept: the invited
// account's device offers its public keys.
type MemberAccept struct {
	Name string `json:"name"`
	Sign []byte `json:"sign"` // Ed25519 public key
	KEM  string `json:"kem"`  // age1pq… hybrid recipient
}

// MemberAccepted answers the accept: the household the member joins and the
// signing key of its roster version 1 (the root the member's device pins),
// which the short authentication string also covers.
type MemberAccepted struct {
	Household string `json:"household"`
	Root      []byte `json:"root"`
}

// MemberInvite answers GET /v1/members/invites/{code} (the inviting owner):
// the invite and, once accepted, the keys the member's device offered.
type MemberInvite struct {
	Email     string     `json:"email"`
	Cameras   []string   `json:"cameras"`
	Expires   *time.Time `json:"expires,omitempty"`
	State     string     `json:"state"` // InviteWaiting or InviteAccepted
	DeviceID  string     `json:"device_id,omitempty"`
	Name      string     `json:"name,omitempty"`
	Sign      []byte     `json:"sign,omitempty"`
	KEM       string     `json:"kem,omitempty"`
	ExpiresAt time.Time  `json:"expires_at"` // end of the invite itself
}

// MemberRemove is POST /v1/members/remove (owner, recent sign-in): ends a
// member's access on the service side. The owner's device first signs a
// roster version without the member's devices (which deletes their wraps
// and ends their sessions).
type MemberRemove struct {
	Email string `json:"email"`
}

// Shared is one household whose cameras are shared with the caller, in
// the answer of GET /v1/shared: only live memberships, only the cameras in
// scope. Roster is the household's whole roster chain, oldest first, which
// the member's device verifies against the root it pinned when accepting.
type Shared struct {
	Household string     `json:"household"`
	Expires   *time.Time `json:"expires,omitempty"`
	Roster    [][]byte   `json:"roster"`
	Cameras   []Camera   `json:"cameras"`
}
