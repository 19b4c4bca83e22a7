// Package api holds the wire types of Porchlight's HTTP API: the JSON bodies
// exchanged between porchlightd, the hub and clients, the header names of raw
// object uploads, and the error body. It holds no behaviour; the handlers live
// in internal/httpapi and the typed client in internal/apiclient.
//
// Byte fields ([]byte) travel as standard base64 in JSON. Times are RFC 3339
// in UTC. Every identifier is a random or key-derived id that carries no
// e-mail, camera name or serial number.
package api

import "time"

// Version is the API version prefix of every route.
const Version = "v1"

// Headers of a raw object upload (PUT /v1/hub/objects/{id}). The body is the
// object's ciphertext: an age file.
const (
	HeaderCamera = "X-Porchlight-Camera" // camera id the object belongs to
	HeaderEpoch  = "X-Porchlight-Epoch"  // epoch id whose key sealed it
	HeaderKind   = "X-Porchlight-Kind"   // ObjectSegment or ObjectManifest
	HeaderTime   = "X-Porchlight-Time"   // coarse time: RFC 3339, truncated to the minute by the service
	HeaderSHA256 = "X-Porchlight-SHA256" // hex SHA-256 of the body; a mismatch is refused
	HeaderRefs   = "X-Porchlight-Refs"   // manifests only: comma-separated ids of the objects it lists
)

// Object kinds.
const (
	ObjectSegment  = "segment"
	ObjectManifest = "manifest"
)

// Error is the body of every non-2xx response. ID matches the service's log
// line for this failure; Message says what happened and what to do, never
// internals.
type Error struct {
	Code    string `json:"code"` // machine-readable: CodeCorrupt, "invalid", "unauthorized", "forbidden", "not_found", "method_not_allowed", "conflict", "too_large", "rate_limited", "unavailable", "internal"
	Message string `json:"message"`
	ID      string `json:"id"`
}

// CodeCorrupt is the error code of an upload whose body does not match its
// declared SHA-256 (status 400): the bytes were damaged or cut short on the
// way. The sender should check its own copy and send it again.
const CodeCorrupt = "corrupt"

// SignupRequest creates an account and its household. POST /v1/signup.
type SignupRequest struct {
	Email      string `json:"email"`
	Password   string `json:"password"`
	DeviceName string `json:"device_name"`
}

// LoginRequest opens a session. POST /v1/login.
type LoginRequest struct {
	Email      string `json:"email"`
	Password   string `json:"password"`
	DeviceName string `json:"device_name"`
}

// SessionResponse answers signup and login.
type SessionResponse struct {
	Token       string    `json:"token"` // opaque bearer token; shown once, stored hashed by the service
	AccountID   string    `json:"account_id"`
	HouseholdID string    `json:"household_id"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// Me answers GET /v1/me.
type Me struct {
	AccountID   string `json:"account_id"`
	Email       string `json:"email"`
	HouseholdID string `json:"household_id"`
	Role        string `json:"role"` // "owner" for now
}

// Roster is the household's roster chain, oldest version first. Each element
// is one seal.SignedRoster envelope, exactly as signed. GET /v1/roster and
// GET /v1/hub/roster answer it; POST /v1/roster appends RosterAppend.
type Roster struct {
	Versions [][]byte `json:"versions"`
}

// RosterAppend appends the next roster version. The service checks that its
// version follows the latest, that prev matches, and that it is signed by an
// owner device of the previous version; clients and hubs check it again.
type RosterAppend struct {
	Signed []byte `json:"signed"`
}

// Claim states.
const (
	ClaimWaiting   = "waiting"   // code issued, no hub yet
	ClaimPresented = "presented" // a hub presented its keys; the owner must confirm
	ClaimConfirmed = "confirmed" // owner confirmed; the hub may collect its token
	ClaimExpired   = "expired"
)

// ClaimCode answers POST /v1/claims (owner): a one-time code valid 15 minutes.
type ClaimCode struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ClaimStatus answers GET /v1/claims/{code} (owner).
type ClaimStatus struct {
	State   string `json:"state"`
	HubID   string `json:"hub_id,omitempty"`   // seal.KeyID of HubSign, once presented
	HubName string `json:"hub_name,omitempty"` // as the hub calls itself
	HubSign []byte `json:"hub_sign,omitempty"` // Ed25519 public key
	HubKEM  string `json:"hub_kem,omitempty"`  // age1pq… recipient
}

// ClaimConfirm is POST /v1/claims/{code}/confirm (owner). The owner's client
// first appends a roster version listing the hub, then confirms.
type ClaimConfirm struct {
	HubID string `json:"hub_id"`
}

// HubPresent is POST /v1/hub/claim (no auth): a hub presents its keys for a
// claim code. Secret is random; the service keeps its hash and hands the hub
// token only to a poll that shows it.
type HubPresent struct {
	Code   string `json:"code"`
	Name   string `json:"name"`
	Sign   []byte `json:"sign"`
	KEM    string `json:"kem"`
	Secret string `json:"secret"`
}

// HubPresented answers HubPresent: what the hub needs to show the fingerprint.
type HubPresented struct {
	HouseholdID string `json:"household_id"`
	// RootSign is the Ed25519 key of the device that signed roster version 1;
	// it is part of the fingerprint both sides show.
	RootSign []byte `json:"root_sign"`
}

// HubPoll is POST /v1/hub/claim/poll (no auth, the secret proves the caller).
type HubPoll struct {
	Code   string `json:"code"`
	Secret string `json:"secret"`
}

// HubPollResponse answers HubPoll. Token is set exactly once, when the owner
// has confirmed.
type HubPollResponse struct {
	State       string `json:"state"`
	HubID       string `json:"hub_id,omitempty"`
	HouseholdID string `json:"household_id,omitempty"`
	Token       string `json:"token,omitempty"`
}

// HubCamera is PUT /v1/hub/cameras/{id} (hub). The hub picks the random id.
// Descriptor is a seal.CameraDescriptor signed by the hub and sealed to the
// household's owner devices: the service never sees the name or the URL.
type HubCamera struct {
	Descriptor []byte `json:"descriptor"`
}

// Camera is one element of GET /v1/cameras (owner).
type Camera struct {
	ID            string    `json:"id"`
	HubID         string    `json:"hub_id"`
	Descriptor    []byte    `json:"descriptor"`
	RetentionDays int       `json:"retention_days"` // 0 keeps forever
	CreatedAt     time.Time `json:"created_at"`
	LastUpload    time.Time `json:"last_upload,omitzero"`
}

// CameraUpdate is PATCH /v1/cameras/{id} (owner).
type CameraUpdate struct {
	RetentionDays *int `json:"retention_days,omitempty"`
}

// EpochPut is PUT /v1/hub/epochs/{id} (hub): a new epoch of a camera, its
// hub-signed announcement (seal.EpochAnnouncement) and the wraps of its key,
// one per roster device in scope. Idempotent; a later call adds wraps.
type EpochPut struct {
	CameraID     string `json:"camera_id"`
	Announcement []byte `json:"announcement"`
	Wraps        []Wrap `json:"wraps"`
}

// Wrap is one epoch key wrapped (as an age file) to one device.
type Wrap struct {
	DeviceID string `json:"device_id"`
	Data     []byte `json:"data"`
}

// Epoch is one element of GET /v1/cameras/{id}/epochs?device=ID (owner):
// the announcement and, if the device has one, its wrap.
type Epoch struct {
	ID           string    `json:"id"`
	CameraID     string    `json:"camera_id"`
	Announcement []byte    `json:"announcement"`
	Wrap         []byte    `json:"wrap,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// ObjectInfo is one element of GET /v1/cameras/{id}/manifests?from=&to=
// (owner). Data carries the manifest's ciphertext inline when the request asks
// include=data, so a client lists a day in one round trip.
type ObjectInfo struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	EpochID string    `json:"epoch_id"`
	Time    time.Time `json:"time"` // coarse, to the minute
	Size    int64     `json:"size"`
	SHA256  string    `json:"sha256"`
	Data    []byte    `json:"data,omitempty"`
}

// Objects answers the manifest listing.
type Objects struct {
	Objects []ObjectInfo `json:"objects"`
}

// UploadResult answers an object upload. Existed is true when the same id with
// the same hash was already stored (an idempotent retry).
type UploadResult struct {
	ID      string `json:"id"`
	Existed bool   `json:"existed"`
}
