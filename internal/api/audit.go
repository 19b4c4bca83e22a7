package api

import "time"

// Audit log classes: the clear part of an entry's envelope says which kind
// of thing happened, nothing more. Who, what and why are in the body, sealed
// to the household's owner devices.
const (
	AuditAuth       = "auth"        // sign-ins and failures, password, factor and session changes
	AuditDevice     = "device"      // roster versions: devices added, removed, re-keyed
	AuditHub        = "hub"         // hub claims
	AuditMember     = "member"      // members invited, added, removed
	AuditGrant      = "grant"       // support grants: requested, approved, denied, revoked, expired, forged
	AuditKeyRelease = "key_release" // epoch keys handed to someone other than the household's own devices
	AuditAccess     = "access"      // a fetch by a non-owner role (member, support under a grant)
	AuditDenial     = "denial"      // a 401 or 403 on the household's resources
	AuditDeletion   = "deletion"    // deleted recordings, shredded keys, removed cameras
	AuditStaff      = "staff"       // an operator's action on the household's account
	AuditClient     = "client"      // the web app bundle porchlightd serves (its hash and files)
	// AuditDeclassification: redaction jobs, clips published to the
	// neighbours feed, withdrawals and moderators' removals.
	AuditDeclassification = "declassification"
	// AuditConsent: clips donated to an annotation campaign, consents
	// withdrawn or expired, and what was deleted with them.
	AuditConsent = "consent"
)

// Actor kinds in an audit entry's sealed body.
const (
	ActorOwner     = RoleOwner
	ActorMember    = RoleMember
	ActorSupport   = RoleSupport
	ActorAnnotator = RoleAnnotator
	ActorOperator  = RoleOperator
	ActorHub       = "hub"
	ActorAnonymous = "anonymous" // no valid session
	ActorService   = "service"   // porchlightd itself (e.g. a grant expiring)
	ActorCustomer  = "customer"  // another household's owner, with no membership here
)

// LogInfo answers GET /v1/log: how to verify the service's transparency
// log. VerifierKey is the checkpoint signer's key in the signed-note format
// (golang.org/x/mod/sumdb/note), "origin+hash+base64"; clients pin it on
// first use and alarm if it ever changes.
type LogInfo struct {
	Origin      string `json:"origin"`
	VerifierKey string `json:"verifier_key"`
}

// AuditEntry is one entry of the household's log: Entry holds the leaf's
// exact bytes (auditlog.Entry's encoding), so the client can hash it and
// check its inclusion at Index.
type AuditEntry struct {
	Index uint64 `json:"index"`
	Entry []byte `json:"entry"`
}

// AuditList answers GET /v1/audit?from=INDEX&limit=N (owner): the
// household's entries with log index ≥ from that the checkpoint covers,
// oldest first, and that checkpoint (a signed note). Pending counts the
// household's entries sequenced but not yet covered; Next is the from of
// the next page (0 when this is the last).
type AuditList struct {
	Checkpoint []byte       `json:"checkpoint"`
	Entries    []AuditEntry `json:"entries"`
	Pending    int          `json:"pending"`
	Next       uint64       `json:"next,omitempty"`
}

// AuditEnvelope is the clear part of one entry, as the operator sees it in
// GET /v1/ops/audit?from=&limit=: no body, no actor, no resource.
type AuditEnvelope struct {
	Index     uint64    `json:"index"`
	ID        string    `json:"id"`
	Time      time.Time `json:"time"`
	Household string    `json:"household"`
	Class     string    `json:"class"`
}

// AuditEnvelopes answers GET /v1/ops/audit.
type AuditEnvelopes struct {
	Size      uint64          `json:"size"` // the published checkpoint's size
	Envelopes []AuditEnvelope `json:"envelopes"`
	Next      uint64          `json:"next,omitempty"`
}

// Grant states.
const (
	GrantPending  = "pending"  // filed by support, waiting for the owner
	GrantApproved = "approved" // signed by an owner device; keys released until Expires
	GrantDenied   = "denied"
	GrantRevoked  = "revoked" // ended early by the owner; wraps deleted
	GrantExpired  = "expired" // ran out; wraps deleted
	GrantForged   = "forged"  // its signature did not verify against the roster; nothing released
)

// Grant limits.
const (
	GrantDefaultDuration = time.Hour
	GrantMaxDuration     = 24 * time.Hour
	// GrantRequestTTL is how long a pending request waits for the owner.
	GrantRequestTTL = 24 * time.Hour
)

// SupportRequest is POST /v1/support/requests (support): ask an owner for
// access. Camera is the camera's name as the customer told it (the service
// cannot read names; the owner's device maps it to a camera). Recipient is
// the age1pq… recipient of a key made for this request on the support
// device: approved epoch keys are wrapped to it and nothing else.
// DurationS is how long the grant lasts once approved (0: one hour; at most
// GrantMaxDuration). Video false asks for metadata only (times, sizes):
// no key is released.
type SupportRequest struct {
	OwnerEmail string    `json:"owner_email"`
	Reason     string    `json:"reason"`
	Ticket     string    `json:"ticket"`
	Camera     string    `json:"camera"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Video      bool      `json:"video"`
	DurationS  int64     `json:"duration_s,omitempty"`
	Recipient  string    `json:"recipient"`
}

// Grant is a support request and what became of it, as the owner (GET
// /v1/grants, /v1/grants/{id}) and the requesting support account (GET
// /v1/support/requests, /v1/grants/{id}) see it.
type Grant struct {
	ID          string    `json:"id"`
	State       string    `json:"state"`
	Household   string    `json:"household"`
	Requester   string    `json:"requester"`    // the support account's e-mail
	RequesterID string    `json:"requester_id"` // its account id (seal.Grant.Requester)
	Org         string    `json:"org,omitempty"`
	Country     string    `json:"country,omitempty"`
	Camera      string    `json:"camera"`              // as requested (a name)
	CameraID    string    `json:"camera_id,omitempty"` // set by the owner's approval
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Video       bool      `json:"video"`
	DurationS   int64     `json:"duration_s"`
	Reason      string    `json:"reason"`
	Ticket      string    `json:"ticket"`
	Recipient   string    `json:"recipient"`
	CreatedAt   time.Time `json:"created_at"`
	DecidedAt   time.Time `json:"decided_at,omitzero"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"` // pending: when the request lapses; approved: when access ends
	Signed      []byte    `json:"signed,omitempty"`    // the owner-signed seal.Grant, once approved
	SignerSign  []byte    `json:"signer_sign,omitempty"`
}

// Grants answers the grant listings, newest first.
type Grants struct {
	Grants []Grant `json:"grants"`
}

// GrantApproval is POST /v1/grants/{id}/approve (owner, recent sign-in with
// a second factor): the owner device's signed seal.Grant and the in-scope
// epoch keys wrapped to the request's recipient (none unless Video).
type GrantApproval struct {
	Signed []byte      `json:"signed"`
	Wraps  []GrantWrap `json:"wraps"`
}

// GrantWrap is one epoch key wrapped to a grant's request key.
type GrantWrap struct {
	Epoch string `json:"epoch"`
	Data  []byte `json:"data"`
}

// GrantEpochs answers GET /v1/grants/{id}/epochs (the requesting support
// account): the key release. Each epoch carries its wrap to the request key.
type GrantEpochs struct {
	Epochs []Epoch `json:"epochs"`
}

// Notification kinds of this file.
const (
	NoticeGrantRequest = "grant_request" // support asked for access; approve or deny with `porchlight grants`
	NoticeStaffAccess  = "staff_access"  // support used a grant: keys released or recordings fetched
)
