// Package store defines porchlightd's metadata store: the domain records
// (accounts, households, sessions, roster versions, hub claims, hubs,
// cameras, epochs and their key wraps, objects) and the Store interface that
// each backend implements natively (internal/store/sqlite now, PostgreSQL
// later). Backends share the conformance suite in internal/store/storetest,
// not code.
//
// Nothing a Store holds decrypts anything: descriptors, announcements, wraps
// and rosters are ciphertext or signed public data; objects are known only
// by random id, size, hash, kind and coarse time. The owner's e-mail lives in
// Account alone. Tokens, claim codes and hub secrets are stored as SHA-256
// hashes only.
//
// Times: backends keep at least microsecond precision and return times in
// UTC.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors every backend returns (possibly wrapped); test with errors.Is.
var (
	// ErrNotFound means the record does not exist. Handlers answer 404 and
	// must not reveal whether it exists for someone else.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the write clashes with what is stored: a unique value
	// taken, a version race lost, a state that moved on, or an id reused with
	// different content. Re-read and decide; do not blindly retry.
	ErrConflict = errors.New("conflict")
	// ErrMissingRefs means a manifest lists objects that are not stored for
	// its camera. Upload those objects first, then the manifest.
	ErrMissingRefs = errors.New("referenced objects are missing")
)

// Account kinds (Account.Role). A customer account owns one household and
// may be a member of others (Membership); staff accounts own nothing and
// reach household data only through owner-signed grants (a later issue).
// No role holds a key or a path to plaintext.
const (
	RoleCustomer  = ""          // owner of its own household
	RoleSupport   = "support"   // staff: helps customers, only under a grant
	RoleAnnotator = "annotator" // staff: labels donated clips only
	RoleOperator  = "operator"  // staff: runs the service, sees counts only
)

// Account is a person who logs in. Email is stored normalised (see
// auth.NormalizeEmail) and unique without regard to case.
type Account struct {
	ID           string
	Email        string
	PasswordHash string // PHC string (auth.HashPassword)
	Role         string // RoleCustomer or a staff role
	Disabled     bool   // a disabled account cannot sign in and has no sessions
	Org          string // staff: the employing organisation ("" for customers)
	Country      string // staff: the office's ISO 3166-1 alpha-2 country ("" for customers)
	Created      time.Time
}

// Household groups an owner's devices, hubs and cameras. It holds no name.
type Household struct {
	ID      string
	Owner   string // account id
	Created time.Time
	// QuotaBytes bounds the ciphertext the household may store; 0 means no
	// limit. Set by the operator (SetQuota); ignored by CreateAccount.
	QuotaBytes int64
}

// Session is a logged-in device. The bearer token itself is never stored.
type Session struct {
	ID          string
	TokenHash   string // hex SHA-256 of the token
	AccountID   string
	HouseholdID string // filled by SessionByTokenHash; ignored by CreateSession
	Role        string // the account's Role; filled by SessionByTokenHash
	DeviceName  string
	DeviceID    string // the signing-in device's roster key id; "" if it sent none
	Client      string // cleaned User-Agent, e.g. "porchlight-cli/1.2 (linux/amd64)"
	AddrPrefix  string // the signing-in address cut to /24 (IPv4) or /48 (IPv6)
	Created     time.Time
	LastUsed    time.Time
	AuthAt      time.Time // last full (re-)authentication: password and factors
	// AuthFactor records that the authentication at AuthAt used a second
	// factor (authenticator code, recovery code or passkey), not a
	// password alone. Approving support access needs it.
	AuthFactor bool
	Expires    time.Time // absolute end
}

// TOTP is an account's RFC 6238 authenticator. It counts as a factor only
// once Confirmed. LastStep is the last time step accepted, so a code is
// never accepted twice.
type TOTP struct {
	AccountID string
	Secret    []byte
	Confirmed bool
	LastStep  int64
	Created   time.Time
}

// Passkey is a WebAuthn credential of an account. Credential is the JSON of
// the library's credential record (public key, sign count, flags); the
// service holds no private key.
type Passkey struct {
	ID           string // random id used in the API
	AccountID    string
	CredentialID []byte // the authenticator's credential id, unique
	Name         string
	Credential   []byte
	Created      time.Time
	LastUsed     time.Time // zero if never
}

// Ceremony is a short-lived, single-use step of a sign-in or enrolment: a
// pending second factor after a correct password, or a WebAuthn challenge.
// ID is the SHA-256 hex of the token the client holds.
type Ceremony struct {
	ID        string
	Kind      string // e.g. "mfa", "passkey_login", "passkey_register"
	AccountID string // "" for a discoverable passkey login
	SessionID string // for re-authentication: the session to refresh
	Data      []byte // the handler's JSON (e.g. webauthn.SessionData)
	Attempts  int    // failed answers so far
	Expires   time.Time
}

// Throttle is the failure count of one rate-limit key ("addr:…",
// "acct:…", "device:…"). The policy lives in internal/auth; the store keeps
// the state so it survives restarts and is shared by replicas.
type Throttle struct {
	Key          string
	Failures     int
	WindowStart  time.Time
	BlockedUntil time.Time // zero if not blocked
}

// KnownDevice is a device that has signed in to an account before. Its
// token (pld_…) lets the owner sign in while the account is under attack
// and marks sign-ins from new devices. Only the hash is stored.
type KnownDevice struct {
	TokenHash string
	AccountID string
	Name      string
	Created   time.Time
	LastUsed  time.Time
}

// Notification is a stored message to an account's devices, e.g. a
// sign-in from a new device. Seq orders them (assigned by the store).
type Notification struct {
	Seq       int64
	AccountID string
	Kind      string // api.Notice*
	Data      []byte // JSON, safe to show the account holder
	Created   time.Time
}

// Membership lets an account see some cameras of another household until
// Expires (zero: no end). Cameras lists camera ids; empty means none.
type Membership struct {
	HouseholdID string
	AccountID   string
	Cameras     []string
	Expires     time.Time
	Created     time.Time
}

// Stats are the service-wide counts an operator sees. They name no one.
type Stats struct {
	Accounts, Households, Hubs, Cameras, Objects int64
	Bytes                                        int64
}

// RosterVersion is one signed version of a household's roster, exactly as
// the owner's device signed it.
type RosterVersion struct {
	HouseholdID string
	Version     uint64
	Signed      []byte
	Hash        string // seal.RosterHash(Signed)
	Created     time.Time
}

// Claim is a one-time hub claim code. Only the code's hash is stored.
type Claim struct {
	CodeHash    string
	HouseholdID string
	CreatedBy   string // account id
	Created     time.Time
	Expires     time.Time
	State       string // api.ClaimWaiting, ClaimPresented, ClaimConfirmed
	HubID       string // set when presented
	HubName     string
	HubSign     []byte
	HubKEM      string
	SecretHash  string // hex SHA-256 of the hub's poll secret
	TokenIssued bool   // the hub token was handed out (exactly once)
}

// Hub is a claimed hub. TokenHash is empty until the hub collects its token.
type Hub struct {
	ID          string // seal.KeyID(Sign)
	HouseholdID string
	Name        string
	Sign        []byte
	KEM         string
	TokenHash   string
	Created     time.Time
	LastSeen    time.Time
}

// Camera is a camera of a hub. Descriptor is a sealed seal.CameraDescriptor:
// the service never learns the camera's name or address.
type Camera struct {
	ID            string
	HubID         string
	HouseholdID   string
	Descriptor    []byte
	RetentionDays int // 0 keeps forever
	Created       time.Time
	LastUpload    time.Time // zero if never
}

// Epoch is one epoch of a camera: its hub-signed announcement. Wrap is
// filled only by Epochs, with the wrap for the device asked about.
type Epoch struct {
	ID           string
	CameraID     string
	Announcement []byte
	Created      time.Time
	Wrap         []byte
}

// Wrap is an epoch key wrapped to one device.
type Wrap struct {
	DeviceID string
	Data     []byte
}

// Object is the metadata of one stored ciphertext (segment, manifest,
// event or thumbnail).
type Object struct {
	ID          string
	HouseholdID string
	CameraID    string
	EpochID     string
	Kind        string    // api.ObjectSegment, ObjectManifest, ObjectEvent or ObjectThumb
	CoarseTime  time.Time // truncated to the minute by the caller
	Size        int64
	SHA256      string
	Created     time.Time
}

// Grant is a support request and, once an owner approves it, the grant.
// Wraps of an approved grant are stored as epoch wraps for the pseudo
// device GrantDevice(ID), so every shred and camera deletion covers them.
type Grant struct {
	ID          string
	HouseholdID string
	Requester   string // support account id
	Org         string // the requester's organisation and country when filed
	Country     string
	Camera      string // the camera's name as requested
	CameraID    string // set on approval, from the signed grant
	From, To    time.Time
	Video       bool
	Duration    time.Duration // how long it lasts once approved
	Reason      string
	Ticket      string
	Recipient   string // the request key, age1pq…
	State       string // api.Grant*
	Signed      []byte // the owner-signed seal.Grant, set on approval
	Created     time.Time
	Decided     time.Time // zero while pending
	Expires     time.Time // pending: when the request lapses; approved: when access ends
}

// GrantDevice is the device id under which a grant's wraps are stored.
func GrantDevice(grantID string) string { return "grant:" + grantID }

// FeedPost is a post of the neighbours feed (issue 8): a public MP4 (blob
// BlobID) declassified by an owner-signed seal.Publication (Record), whose
// fields it repeats for listing. State is FeedPublished until the owner
// withdraws it or the operator removes it; then the blob is gone and the
// row stays as a tombstone, so the post answers 410.
type FeedPost struct {
	ID          string // the post id, from the signed record
	HouseholdID string
	Record      []byte // the owner-signed seal.Publication
	BlobID      string // the public MP4's blob, a random id of the service
	SHA256      string
	Size        int64
	Title       string
	Category    string
	Cell        string // a geocell of 6 characters: nothing finer is stored
	Pseudonym   string
	State       string // FeedPublished, FeedWithdrawn or FeedRemoved
	Reason      string // the operator's reason for a removal
	Created     time.Time
	Ended       time.Time // zero while published
}

// Feed post states.
const (
	FeedPublished = "published"
	FeedWithdrawn = "withdrawn"
	FeedRemoved   = "removed"
)

// FeedReport is one account's report of a post to the operator.
type FeedReport struct {
	ID       string
	PostID   string
	Reporter string // account id
	Reason   string
	Created  time.Time
}

// Redaction is a redaction job (issue 8): an owner-signed job sealed to
// the camera's hub, and later the hub's sealed result, stored as blob
// ResultKey. The service reads neither.
type Redaction struct {
	ID           string
	HouseholdID  string
	CameraID     string
	HubID        string // the camera's hub when the job was made
	Purpose      string
	Campaign     string
	State        string // api.Redaction*, or "expired"
	Error        string
	Sealed       []byte // the sealed job
	ResultKey    string // blob key of the sealed result; "" until done
	ResultSize   int64
	ResultSHA256 string
	Consumed     bool
	Created      time.Time
	Updated      time.Time
	Expires      time.Time // when an unconsumed result is deleted; zero until done
}

// RedactionFinish is how a hub ends a job (FinishRedaction).
type RedactionFinish struct {
	State        string // "done" or "failed"
	Error        string
	ResultKey    string
	ResultSize   int64
	ResultSHA256 string
	Time         time.Time
	Expires      time.Time
}

// AuditRef indexes one audit log entry of a household: the log holds the
// entry itself; the store says which indices are whose.
type AuditRef struct {
	HouseholdID string
	Index       uint64 // the entry's index in the transparency log
	ID          string // the entry's id
	Class       string
	Time        time.Time
}

// PushSubscription is a browser's Web Push subscription (RFC 8030) for
// one roster device, made in one session. It ends with that session
// (sign-out, revocation, the device leaving the roster, a disabled
// account, timeouts): the browser registers again after signing in.
// Endpoint (the push service's capability URL) is unique. P256DH and Auth
// are the browser's RFC 8291 keys; payloads are sealed to the device
// before they are encrypted to them, so neither opens anything.
type PushSubscription struct {
	ID        string
	AccountID string
	SessionID string
	DeviceID  string
	Endpoint  string
	P256DH    []byte // the browser's uncompressed P-256 public key (65 bytes)
	Auth      []byte // the browser's 16-byte authentication secret
	Created   time.Time
}

// Campaign is an annotation campaign (issue 8): what its annotating
// organisation may label, for how long, and the public campaign key copies
// are sealed to. The service never holds the key's private half.
type Campaign struct {
	ID            string
	Purpose       string
	Classes       []string // of api.CampaignClasses
	RetentionDays int
	Org           string
	Country       string
	Recipient     string // age1pq…
	Created       time.Time
}

// Donation is one clip an owner donated to a campaign under a signed
// consent: the campaign copy (a blob sealed to the campaign key) and its
// labels. Withdrawal and expiry keep the row as a tombstone: State moves
// on, BlobKey and Labels are cleared.
type Donation struct {
	ID            string // the consent id
	HouseholdID   string
	CampaignID    string
	CameraID      string // no foreign key: the tombstone outlives the camera
	Job           string // the redaction job, unique
	Consent       []byte // the owner-signed seal.Consent
	BlobKey       string // the copy's blob; "" once ended
	Size          int64
	SHA256        string
	State         string // api.Donation*
	Created       time.Time
	Expires       time.Time // Created + the campaign's retention
	Ended         time.Time // zero while active
	Labels        []byte    // JSON api.Labels; nil if none or ended
	LabelsBy      string    // the annotator account that last saved them
	LabelsUpdated time.Time
}

// Store is porchlightd's metadata store. Every method is safe for concurrent
// use. Methods that change several records do so atomically.
type Store interface {
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
	// Close releases the store.
	Close() error

	// CreateAccount creates an account and the household it owns (none if
	// h.ID is empty: staff accounts). ErrConflict if the e-mail
	// (case-insensitively) or an id is taken.
	CreateAccount(ctx context.Context, a Account, h Household) error
	// Account returns an account by id.
	Account(ctx context.Context, id string) (Account, error)
	// AccountByEmail finds an account by e-mail, case-insensitively.
	AccountByEmail(ctx context.Context, email string) (Account, error)
	// SetPasswordHash replaces an account's password hash without touching
	// sessions: for a rehash on login. A change by the person goes through
	// ChangePassword.
	SetPasswordHash(ctx context.Context, accountID, hash string) error
	// ChangePassword replaces the hash and deletes every session of the
	// account except keep ("" deletes all), atomically. It returns the ids
	// of the sessions it ended.
	ChangePassword(ctx context.Context, accountID, hash, keep string) (ended []string, err error)
	// SetEmail changes an account's e-mail. ErrConflict if taken.
	SetEmail(ctx context.Context, accountID, email string) error
	// SetDisabled disables or enables an account; disabling deletes all its
	// sessions atomically and returns their ids.
	SetDisabled(ctx context.Context, accountID string, disabled bool) (ended []string, err error)
	// StaffAccounts lists accounts whose Role is not RoleCustomer, oldest
	// first.
	StaffAccounts(ctx context.Context) ([]Account, error)
	// HouseholdOf returns the household an account owns. ErrNotFound for
	// staff accounts.
	HouseholdOf(ctx context.Context, accountID string) (Household, error)
	// Household returns a household by id.
	Household(ctx context.Context, id string) (Household, error)
	// Stats counts what the service holds.
	Stats(ctx context.Context) (Stats, error)
	// SetQuota sets a household's storage quota in bytes (0: no limit).
	// ErrNotFound if the household does not exist.
	SetQuota(ctx context.Context, household string, bytes int64) error
	// HouseholdUsage is the sum of the sizes of a household's objects.
	HouseholdUsage(ctx context.Context, household string) (int64, error)

	// PutCameraSettings stores a camera's sealed settings at version, which
	// must be newer than the stored one (ErrConflict otherwise).
	// ErrNotFound if the camera does not exist.
	PutCameraSettings(ctx context.Context, camera string, version uint64, sealed []byte) error
	// CameraSettings returns a camera's sealed settings and their version.
	// ErrNotFound if the camera does not exist or has none.
	CameraSettings(ctx context.Context, camera string) (version uint64, sealed []byte, err error)

	// CreateSession stores a new session. ErrConflict on a duplicate id or
	// token hash.
	CreateSession(ctx context.Context, s Session) error
	// SessionByTokenHash returns a session with its account's household
	// ("" for staff) and Role. ErrNotFound if there is none or the account
	// is disabled.
	SessionByTokenHash(ctx context.Context, tokenHash string) (Session, error)
	// SessionByID returns a session (HouseholdID and Role filled as above).
	SessionByID(ctx context.Context, id string) (Session, error)
	// Sessions lists an account's sessions, most recently used first.
	Sessions(ctx context.Context, accountID string) ([]Session, error)
	// TouchSession records that a session was used at t.
	TouchSession(ctx context.Context, id string, t time.Time) error
	// RotateSession gives a session a new token hash, AuthAt and
	// AuthFactor (a re-authentication); the old token stops working at
	// once. ErrNotFound if the session is gone.
	RotateSession(ctx context.Context, id, tokenHash string, authAt time.Time, factor bool) error
	// DeleteSession ends a session. ErrNotFound if it does not exist.
	DeleteSession(ctx context.Context, id string) error
	// DeleteAccountSession ends a session of the given account only.
	// ErrNotFound if it does not exist or belongs to another account.
	DeleteAccountSession(ctx context.Context, accountID, id string) error
	// DeleteSessions ends every session of the account except keep ("":
	// all) and returns the ids it ended.
	DeleteSessions(ctx context.Context, accountID, keep string) (ended []string, err error)
	// DeleteSessionsBefore deletes sessions that expired before t or were
	// last used before idleBefore; it returns how many.
	DeleteSessionsBefore(ctx context.Context, t, idleBefore time.Time) (int, error)

	// PutPendingTOTP stores a new, unconfirmed authenticator, replacing an
	// unconfirmed one. ErrConflict if a confirmed one exists.
	PutPendingTOTP(ctx context.Context, t TOTP) error
	// TOTP returns an account's authenticator. ErrNotFound if none.
	TOTP(ctx context.Context, accountID string) (TOTP, error)
	// ConfirmTOTP confirms the pending authenticator with the accepted step,
	// replaces the recovery codes with codeHashes and deletes every session
	// except keep, atomically. ErrNotFound if no pending one; ErrConflict if
	// already confirmed.
	ConfirmTOTP(ctx context.Context, accountID string, step int64, codeHashes []string, keep string) (ended []string, err error)
	// UseTOTPStep records an accepted step. ErrConflict if step is not
	// greater than LastStep (a replayed code).
	UseTOTPStep(ctx context.Context, accountID string, step int64) error
	// DeleteTOTP removes the authenticator and deletes every session except
	// keep, atomically. ErrNotFound if none.
	DeleteTOTP(ctx context.Context, accountID, keep string) (ended []string, err error)

	// ReplaceRecoveryCodes replaces an account's recovery codes (hashes)
	// and deletes every session except keep, atomically.
	ReplaceRecoveryCodes(ctx context.Context, accountID string, codeHashes []string, keep string) (ended []string, err error)
	// UseRecoveryCode marks an unused code used. ErrNotFound if it is not an
	// unused code of the account (wrong or already used).
	UseRecoveryCode(ctx context.Context, accountID, codeHash string, t time.Time) error
	// RecoveryCodesLeft counts an account's unused recovery codes.
	RecoveryCodesLeft(ctx context.Context, accountID string) (int, error)

	// AddPasskey stores a passkey and deletes every session except keep,
	// atomically. ErrConflict if the id or credential id exists.
	AddPasskey(ctx context.Context, p Passkey, keep string) (ended []string, err error)
	// Passkeys lists an account's passkeys, oldest first.
	Passkeys(ctx context.Context, accountID string) ([]Passkey, error)
	// PasskeyByCredentialID finds a passkey by its credential id.
	PasskeyByCredentialID(ctx context.Context, credentialID []byte) (Passkey, error)
	// UpdatePasskey stores a passkey's credential record after a sign-in
	// (sign count) and its last use.
	UpdatePasskey(ctx context.Context, id string, credential []byte, lastUsed time.Time) error
	// DeletePasskey removes an account's passkey and deletes every session
	// except keep, atomically. ErrNotFound if not the account's.
	DeletePasskey(ctx context.Context, accountID, id, keep string) (ended []string, err error)

	// PutCeremony stores a ceremony. ErrConflict if the id exists.
	PutCeremony(ctx context.Context, c Ceremony) error
	// Ceremony returns a ceremony by id, expired or not.
	Ceremony(ctx context.Context, id string) (Ceremony, error)
	// CeremonyFailed counts a wrong answer and returns the new count.
	CeremonyFailed(ctx context.Context, id string) (attempts int, err error)
	// DeleteCeremony consumes a ceremony. ErrNotFound if it is already
	// gone, so exactly one of two racing callers succeeds.
	DeleteCeremony(ctx context.Context, id string) error
	// DeleteCeremoniesBefore deletes ceremonies that expired before t.
	DeleteCeremoniesBefore(ctx context.Context, t time.Time) (int, error)

	// Throttle returns a key's state; a zero Throttle with Key set if none.
	Throttle(ctx context.Context, key string) (Throttle, error)
	// UpdateThrottle reads a key's state (zero if none), lets update change
	// it and stores the result, atomically with respect to other updates of
	// the key. It returns the stored state.
	UpdateThrottle(ctx context.Context, key string, update func(*Throttle)) (Throttle, error)
	// ResetThrottle forgets a key.
	ResetThrottle(ctx context.Context, key string) error
	// DeleteThrottlesBefore deletes keys whose window started and block
	// ended before t.
	DeleteThrottlesBefore(ctx context.Context, t time.Time) (int, error)

	// PutKnownDevice stores a known device. ErrConflict if the hash exists.
	PutKnownDevice(ctx context.Context, d KnownDevice) error
	// KnownDevice returns a known device by token hash.
	KnownDevice(ctx context.Context, tokenHash string) (KnownDevice, error)
	// TouchKnownDevice records a sign-in from a known device at t.
	TouchKnownDevice(ctx context.Context, tokenHash string, t time.Time) error

	// AddNotification stores a notification and returns its Seq.
	AddNotification(ctx context.Context, n Notification) (int64, error)
	// Notifications lists an account's notifications with Seq > after,
	// oldest first, at most limit.
	Notifications(ctx context.Context, accountID string, after int64, limit int) ([]Notification, error)

	// PutMembership creates or replaces a membership.
	PutMembership(ctx context.Context, m Membership) error
	// Membership returns an account's membership of a household.
	Membership(ctx context.Context, household, accountID string) (Membership, error)
	// DeleteMembership removes a membership. ErrNotFound if none.
	DeleteMembership(ctx context.Context, household, accountID string) error
	// MembershipsOf lists an account's memberships of other households,
	// expired ones included, oldest first.
	MembershipsOf(ctx context.Context, accountID string) ([]Membership, error)
	// HouseholdMemberships lists a household's memberships, expired ones
	// included, oldest first (empty, not an error, if none).
	HouseholdMemberships(ctx context.Context, household string) ([]Membership, error)

	// RosterVersions returns a household's roster chain, oldest first (empty,
	// not an error, if none).
	RosterVersions(ctx context.Context, household string) ([]RosterVersion, error)
	// AppendRoster stores the next version. It must be exactly one more than
	// the latest stored (1 for the first), else ErrConflict.
	AppendRoster(ctx context.Context, v RosterVersion) error

	// CreateClaim stores a new claim. ErrConflict if the code hash exists.
	CreateClaim(ctx context.Context, c Claim) error
	// Claim returns a claim by code hash.
	Claim(ctx context.Context, codeHash string) (Claim, error)
	// PresentClaim records a hub's keys and secret hash on a claim in state
	// waiting and moves it to presented. ErrConflict if it is in another
	// state; ErrNotFound if absent.
	PresentClaim(ctx context.Context, codeHash string, hub Hub, secretHash string) error
	// ConfirmClaim moves a presented claim whose hub id matches to
	// confirmed and creates the hub record, atomically. ErrConflict if the
	// state or hub id differ, or the hub id is already a hub.
	ConfirmClaim(ctx context.Context, codeHash string, hub Hub) error
	// IssueHubToken sets the hub's token hash and marks the claim's token
	// issued, atomically, once: ErrConflict if already issued or the claim
	// is not confirmed.
	IssueHubToken(ctx context.Context, codeHash, tokenHash string) error
	// DeleteClaimsBefore deletes claims that expired before t.
	DeleteClaimsBefore(ctx context.Context, t time.Time) (int, error)

	// Hub returns a hub by id.
	Hub(ctx context.Context, id string) (Hub, error)
	// HubByTokenHash returns the hub a token belongs to.
	HubByTokenHash(ctx context.Context, tokenHash string) (Hub, error)
	// TouchHub records that a hub was seen at t.
	TouchHub(ctx context.Context, id string, t time.Time) error

	// PutCamera creates a camera or replaces its descriptor. ErrConflict if
	// the id belongs to another hub. RetentionDays and Created are kept on
	// update.
	PutCamera(ctx context.Context, c Camera) error
	// Camera returns a camera by id.
	Camera(ctx context.Context, id string) (Camera, error)
	// Cameras lists a household's cameras, oldest first.
	Cameras(ctx context.Context, household string) ([]Camera, error)
	// CamerasWithRetention lists every camera with RetentionDays > 0.
	CamerasWithRetention(ctx context.Context) ([]Camera, error)
	// SetRetention sets a camera's retention in days (0 keeps forever).
	SetRetention(ctx context.Context, cameraID string, days int) error

	// PutEpoch creates an epoch if new and adds or replaces the given wraps
	// by device id. ErrConflict if the id exists with another camera or
	// another announcement.
	PutEpoch(ctx context.Context, e Epoch, wraps []Wrap) error
	// Epoch returns an epoch by id (without a wrap).
	Epoch(ctx context.Context, id string) (Epoch, error)
	// Epochs lists a camera's epochs, oldest first, each with the wrap for
	// deviceID if there is one.
	Epochs(ctx context.Context, cameraID, deviceID string) ([]Epoch, error)
	// RemoveDevice revokes a device dropped from a household's roster,
	// atomically: it deletes every wrap for deviceID of the household's
	// epochs and ends the sessions bound to deviceID of the household's
	// owner and members (sessions of other accounts are untouched). It
	// returns the ids of the sessions it ended; removing an unknown device
	// is not an error.
	RemoveDevice(ctx context.Context, household, deviceID string) (ended []string, err error)

	// PutRecoveryKit stores or replaces a household's recovery kit (an age
	// file sealed to the owner's recovery passphrase). ErrNotFound if the
	// household does not exist.
	PutRecoveryKit(ctx context.Context, household string, data []byte, updated time.Time) error
	// RecoveryKit returns a household's recovery kit; ErrNotFound if it has
	// none.
	RecoveryKit(ctx context.Context, household string) ([]byte, error)

	// PutObject records an object and, for a manifest, the ids it refers
	// to, and updates the camera's LastUpload. If the id exists with the
	// same SHA256 and camera it returns existed=true and changes nothing;
	// with anything else, ErrConflict. ErrMissingRefs if a referenced id is
	// not an object of the same camera.
	PutObject(ctx context.Context, o Object, refs []string) (existed bool, err error)
	// Object returns an object's metadata.
	Object(ctx context.Context, id string) (Object, error)
	// Manifests lists a camera's manifests with from <= CoarseTime <= to,
	// ordered by time then id, at most limit of them.
	Manifests(ctx context.Context, cameraID string, from, to time.Time, limit int) ([]Object, error)
	// Objects lists a camera's objects of one kind (api.ObjectEvent …)
	// with from <= CoarseTime <= to, ordered by time then id, at most limit
	// of them.
	Objects(ctx context.Context, cameraID, kind string, from, to time.Time, limit int) ([]Object, error)
	// ExpiredObjects returns up to limit objects of a camera that retention
	// removes at cutoff: manifests with CoarseTime before cutoff, the
	// objects they refer to, and objects before cutoff no manifest refers
	// to.
	ExpiredObjects(ctx context.Context, cameraID string, cutoff time.Time, limit int) ([]Object, error)
	// DeleteObjects deletes objects' metadata and their manifest references.
	// Missing ids are ignored.
	DeleteObjects(ctx context.Context, ids []string) error

	// RangeObjects returns up to limit objects of a camera that deleting
	// the time range [from, to] removes: manifests with from <= CoarseTime
	// <= to, the objects they refer to, and objects in the range that no
	// manifest refers to; ordered by time then id.
	RangeObjects(ctx context.Context, cameraID string, from, to time.Time, limit int) ([]Object, error)
	// ShredEpochs deletes every wrap of the given epochs, for every device
	// (crypto-shredding: the epochs and any objects left stay, unreadable).
	// It returns how many wraps it deleted; unknown ids are ignored.
	ShredEpochs(ctx context.Context, epochIDs []string) (int, error)
	// ShredEmptyEpochs deletes every wrap of those of the given epochs that
	// have no object left, and returns the ids of the epochs that lost
	// wraps, sorted. Used after deletions (retention, a deleted range).
	ShredEmptyEpochs(ctx context.Context, epochIDs []string) ([]string, error)
	// CreateGrant stores a new grant request (State api.GrantPending).
	// ErrConflict if the id exists.
	CreateGrant(ctx context.Context, g Grant) error
	// Grant returns a grant by id.
	Grant(ctx context.Context, id string) (Grant, error)
	// HouseholdGrants lists a household's grants, newest first.
	HouseholdGrants(ctx context.Context, household string) ([]Grant, error)
	// RequesterGrants lists the grants a support account asked for, newest
	// first.
	RequesterGrants(ctx context.Context, requester string) ([]Grant, error)
	// ApproveGrant moves a pending grant to approved with the signed grant,
	// its camera and expiry, and stores wraps (epoch id → wrap) for
	// GrantDevice(id), atomically. ErrConflict if the grant is not pending
	// or an epoch is not of cameraID or of the grant's household;
	// ErrNotFound if the grant is absent.
	ApproveGrant(ctx context.Context, id string, signed []byte, cameraID string, decided, expires time.Time, wraps map[string][]byte) error
	// EndGrant moves a grant whose state is one of from to state to (denied,
	// revoked, expired, forged), sets Decided to t if it was pending, and
	// deletes every wrap of GrantDevice(id), atomically. It returns how many
	// wraps it deleted. ErrConflict if the state is not one of from.
	EndGrant(ctx context.Context, id string, from []string, to string, t time.Time) (wrapsDeleted int, err error)
	// DueGrants lists grants that lapse at t: approved with Expires <= t,
	// and pending with Expires <= t.
	DueGrants(ctx context.Context, t time.Time) ([]Grant, error)
	// GrantWrapCount counts the wraps stored for GrantDevice(id).
	GrantWrapCount(ctx context.Context, id string) (int, error)

	// Redaction jobs (issue 8, *redaction* files of each backend).

	// CreateRedaction stores a new job (State "pending"). ErrConflict if
	// the id exists.
	CreateRedaction(ctx context.Context, r Redaction) error
	// Redaction returns a job by id.
	Redaction(ctx context.Context, id string) (Redaction, error)
	// ClaimRedactions moves up to limit jobs of hubID that are pending, or
	// running but not updated since stale (a hub that restarted), to
	// running at t and returns them, oldest first, atomically.
	ClaimRedactions(ctx context.Context, hubID string, t, stale time.Time, limit int) ([]Redaction, error)
	// FinishRedaction moves a running job of hubID to done (with its
	// result's blob key, size, hash and expiry) or failed (with errMsg),
	// at t. ErrConflict if it is not running or not the hub's;
	// ErrNotFound if absent.
	FinishRedaction(ctx context.Context, id, hubID string, f RedactionFinish) error
	// ConsumeRedaction marks a done, unconsumed job of household with
	// purpose consumed at t and returns it: its result now belongs to
	// whoever took it. ErrConflict if it is not done, already consumed or
	// expired at t; ErrNotFound if absent or another household's.
	ConsumeRedaction(ctx context.Context, household, id, purpose string, t time.Time) (Redaction, error)
	// ExpiredRedactions lists done, unconsumed jobs whose result expires
	// at or before t, oldest first, at most limit.
	ExpiredRedactions(ctx context.Context, t time.Time, limit int) ([]Redaction, error)
	// ExpireRedaction moves a done, unconsumed job to expired at t (its
	// result's blob is deleted by the caller first). ErrConflict otherwise.
	ExpireRedaction(ctx context.Context, id string, t time.Time) error

	// AddAuditRef records that log entry r.Index belongs to r.HouseholdID.
	// Adding the same index again is a no-op.
	AddAuditRef(ctx context.Context, r AuditRef) error
	// AuditRefs lists a household's entries with Index >= from, by index,
	// at most limit.
	AuditRefs(ctx context.Context, household string, from uint64, limit int) ([]AuditRef, error)

	// --- Neighbours feed (issue 8, *feed* files of each backend) ---

	// CreateFeedPost stores a published post. ErrConflict if the id exists;
	// ErrNotFound if the household does not.
	CreateFeedPost(ctx context.Context, p FeedPost) error
	// FeedPost returns a post by id, tombstones included.
	FeedPost(ctx context.Context, id string) (FeedPost, error)
	// FeedPosts lists the published posts in any of cells, newest first
	// (then by id), at most limit (empty, not an error, if none).
	FeedPosts(ctx context.Context, cells []string, limit int) ([]FeedPost, error)
	// HouseholdFeedPosts lists a household's posts, tombstones included,
	// newest first.
	HouseholdFeedPosts(ctx context.Context, household string) ([]FeedPost, error)
	// EndFeedPost moves a published post to state (FeedWithdrawn or
	// FeedRemoved) with reason at t, atomically, and returns it as it was
	// before (its BlobID is the caller's to delete). ErrConflict if it is
	// not published; ErrNotFound if absent.
	EndFeedPost(ctx context.Context, id, state, reason string, t time.Time) (FeedPost, error)
	// AddFeedReport stores a report. ErrNotFound if the post does not
	// exist; ErrConflict if the id is taken or the reporter already
	// reported the post.
	AddFeedReport(ctx context.Context, r FeedReport) error
	// FeedReports lists the reports of published posts, oldest first, at
	// most limit.
	FeedReports(ctx context.Context, limit int) ([]FeedReport, error)

	// PutPushSubscription stores a push subscription, replacing any with
	// the same Endpoint (a browser registering again), atomically.
	// ErrNotFound if the session or account does not exist; ErrConflict if
	// the id is taken.
	PutPushSubscription(ctx context.Context, p PushSubscription) error
	// PushSubscriptions lists an account's push subscriptions, oldest
	// first (empty, not an error, if none).
	PushSubscriptions(ctx context.Context, accountID string) ([]PushSubscription, error)
	// DeletePushSubscription removes a push subscription of the given
	// account. ErrNotFound if it does not exist or is another account's.
	DeletePushSubscription(ctx context.Context, accountID, id string) error

	// --- Annotation campaigns (issue 8) ---

	// CreateCampaign stores a campaign. ErrConflict if the id exists.
	CreateCampaign(ctx context.Context, c Campaign) error
	// Campaign returns a campaign by id.
	Campaign(ctx context.Context, id string) (Campaign, error)
	// Campaigns lists every campaign, oldest first.
	Campaigns(ctx context.Context) ([]Campaign, error)
	// CreateDonation stores an active donation. ErrConflict if its id or
	// job is taken; ErrNotFound if the campaign or household is absent.
	CreateDonation(ctx context.Context, d Donation) error
	// Donation returns a donation (tombstones included) by id.
	Donation(ctx context.Context, id string) (Donation, error)
	// HouseholdDonations lists a household's donations, tombstones
	// included, newest first.
	HouseholdDonations(ctx context.Context, household string) ([]Donation, error)
	// ActiveDonations lists a campaign's active donations, oldest first.
	ActiveDonations(ctx context.Context, campaign string) ([]Donation, error)
	// PutLabels replaces an active donation's labels. ErrNotFound if
	// absent; ErrConflict if it is not active.
	PutLabels(ctx context.Context, id string, labels []byte, by string, t time.Time) error
	// EndDonation moves an active donation to state (withdrawn, expired)
	// at t, clearing its blob key and labels, atomically, and returns it
	// as it was before. ErrNotFound if absent; ErrConflict if not active.
	EndDonation(ctx context.Context, id, state string, t time.Time) (Donation, error)
	// DueDonations lists active donations with Expires <= t.
	DueDonations(ctx context.Context, t time.Time) ([]Donation, error)
	// ScanWraps calls fn for every stored key wrap (devices' and grants'),
	// by epoch then device; an error from fn stops the scan and is
	// returned. For audits and tests of who can open what.
	ScanWraps(ctx context.Context, fn func(epochID string, w Wrap) error) error

	// DeleteCamera deletes a camera and, atomically, its epochs, their wraps
	// and its objects' metadata (delete the blobs of RangeObjects first).
	// ErrNotFound if there is no such camera.
	DeleteCamera(ctx context.Context, id string) error
}
