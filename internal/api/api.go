// Package api holds the wire types of Porchlight's HTTP API: the JSON bodies
// exchanged between porchlightd, the hub and clients, the header names of raw
// object uploads, and the error body. It holds no behaviour; the handlers live
// in internal/httpapi and the typed client in internal/apiclient.
//
// Byte fields ([]byte) travel as standard base64 in JSON. Times are RFC 3339
// in UTC. Every identifier is a random or key-derived id that carries no
// e-mail, camera name or serial number.
package api

import (
	"encoding/json"
	"time"
)

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
	ObjectEvent    = "event" // a hub-signed seal.Event, sealed to the epoch recipient
	ObjectThumb    = "thumb" // a JPEG thumbnail sealed to the epoch recipient, named by its event
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

// Account roles as the API reports them (Me.Role). Owner and member are a
// customer's relation to a household; support, annotator and operator are
// staff accounts created by the operator over porchlightd's admin socket.
// No role has a path to plaintext or keys.
const (
	RoleOwner     = "owner"
	RoleMember    = "member"
	RoleSupport   = "support"
	RoleAnnotator = "annotator"
	RoleOperator  = "operator"
)

// Error codes beyond the generic ones.
const (
	// CodeReauthRequired (403): the action needs a sign-in within the last
	// ReauthWindow. POST /v1/reauth, then retry.
	CodeReauthRequired = "reauth_required"
	// CodeRateLimited (429): too many failed attempts; wait Retry-After
	// seconds. A known device (device_token) is not held back by attacks on
	// the account.
	CodeRateLimited = "rate_limited"
	// CodeWeakPassword (400): the new password is refused; the message says
	// why and what to choose instead.
	CodeWeakPassword = "weak_password"
	// CodeQuotaExceeded (507): the household's storage quota is full. A hub
	// keeps the upload in its spool and retries.
	CodeQuotaExceeded = "quota_exceeded"
	// CodeDisabled (403): the account is disabled by the operator.
	CodeDisabled = "account_disabled"
	// CodeFactorRequired (403): staff accounts must keep a second factor.
	CodeFactorRequired = "factor_required"
	// CodeWrongPassword (403): re-authentication failed. The session is
	// still valid (unlike a 401); ask again.
	CodeWrongPassword = "wrong_password"
)

// SessionCookie is the browser app's session cookie: HttpOnly, Secure,
// SameSite=Strict, Path=/. Requests authenticated by it must carry a
// same-origin Origin header.
const SessionCookie = "__Host-porchlight-session"

// SignupRequest creates an account and its household. POST /v1/signup.
type SignupRequest struct {
	Email      string `json:"email"`
	Password   string `json:"password"`
	DeviceName string `json:"device_name"`
	// DeviceID is this device's roster key id (seal.KeyID of its signing
	// key), if it has one: the session ends when the device is dropped
	// from the household's roster. Empty is allowed.
	DeviceID string `json:"device_id,omitempty"`
	// Cookie asks for the session as an HttpOnly cookie (the browser app)
	// instead of a token in the body.
	Cookie bool `json:"cookie,omitempty"`
}

// LoginRequest starts a sign-in. POST /v1/login.
type LoginRequest struct {
	Email      string `json:"email"`
	Password   string `json:"password"`
	DeviceName string `json:"device_name"`
	// DeviceToken is the pld_… token this device got at an earlier sign-in
	// to this account. It marks a known device (no new-device alert) and
	// lets the owner sign in while the account is being attacked.
	DeviceToken string `json:"device_token,omitempty"`
	// DeviceID is as in SignupRequest.
	DeviceID string `json:"device_id,omitempty"`
	Cookie   bool   `json:"cookie,omitempty"`
}

// SessionResponse is a new session: it answers signup and every completed
// sign-in or re-authentication.
type SessionResponse struct {
	Token       string    `json:"token,omitempty"` // opaque bearer token (empty when set as a cookie); shown once, stored hashed
	SessionID   string    `json:"session_id"`
	AccountID   string    `json:"account_id"`
	HouseholdID string    `json:"household_id,omitempty"` // empty for staff
	Role        string    `json:"role"`
	ExpiresAt   time.Time `json:"expires_at"`
	// DeviceToken identifies this device to this account from now on; the
	// client keeps it and sends it with later logins.
	DeviceToken string `json:"device_token,omitempty"`
	// RecoveryCodesLeft is set when a recovery code was used.
	RecoveryCodesLeft *int `json:"recovery_codes_left,omitempty"`
}

// LoginResponse answers POST /v1/login and POST /v1/reauth: either a
// session, or (the password was right and the account has a second factor)
// a challenge to answer at POST /v1/login/mfa.
type LoginResponse struct {
	Session *SessionResponse `json:"session,omitempty"`
	MFA     *MFAChallenge    `json:"mfa,omitempty"`
}

// Second-factor methods.
const (
	MethodTOTP     = "totp"
	MethodRecovery = "recovery_code"
	MethodPasskey  = "passkey"
)

// MFAChallenge asks for a second factor. Token is single-use and expires in
// five minutes; a handful of wrong answers ends it.
type MFAChallenge struct {
	Token   string   `json:"token"`   // plm_…
	Methods []string `json:"methods"` // MethodTOTP, MethodRecovery, MethodPasskey
	// Passkey is the WebAuthn request options ({"publicKey": {...}}, as
	// navigator.credentials.get wants them) when the account has passkeys.
	Passkey json.RawMessage `json:"passkey,omitempty"`
	Expires time.Time       `json:"expires_at"`
}

// MFAAnswer completes a sign-in or re-authentication. POST /v1/login/mfa.
// Exactly one of Code (TOTP), RecoveryCode or Passkey is set.
type MFAAnswer struct {
	Token        string          `json:"token"`
	Code         string          `json:"code,omitempty"`
	RecoveryCode string          `json:"recovery_code,omitempty"`
	Passkey      json.RawMessage `json:"passkey,omitempty"` // the PublicKeyCredential from navigator.credentials.get
	DeviceName   string          `json:"device_name,omitempty"`
	DeviceToken  string          `json:"device_token,omitempty"`
	DeviceID     string          `json:"device_id,omitempty"` // as in SignupRequest
	Cookie       bool            `json:"cookie,omitempty"`
}

// PasskeyBegin answers the start of a passkey ceremony: WebAuthn options
// and the ceremony token to send back with the result.
type PasskeyBegin struct {
	Token   string          `json:"token"`
	Options json.RawMessage `json:"options"` // {"publicKey": {...}}
}

// PasskeyLogin is POST /v1/login/passkey/finish: a passwordless sign-in
// with a discoverable passkey.
type PasskeyLogin struct {
	Token       string          `json:"token"`
	Credential  json.RawMessage `json:"credential"`
	DeviceName  string          `json:"device_name,omitempty"`
	DeviceToken string          `json:"device_token,omitempty"`
	// DeviceID is as in SignupRequest: the session ends when that device
	// leaves the roster, and live views are encrypted to it.
	DeviceID string `json:"device_id,omitempty"`
	Cookie   bool   `json:"cookie,omitempty"`
}

// PasskeyRegister is POST /v1/me/passkeys/finish.
type PasskeyRegister struct {
	Token      string          `json:"token"`
	Name       string          `json:"name"`
	Credential json.RawMessage `json:"credential"` // from navigator.credentials.create
}

// Passkey is one element of GET /v1/me/passkeys.
type Passkey struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	LastUsed  time.Time `json:"last_used,omitzero"`
}

// Passkeys answers GET /v1/me/passkeys.
type Passkeys struct {
	Passkeys []Passkey `json:"passkeys"`
}

// ReauthRequest is POST /v1/reauth: prove it is still you. Password may be
// empty when the account has a passkey (then answer the passkey challenge).
type ReauthRequest struct {
	Password string `json:"password,omitempty"`
}

// PasswordChange is POST /v1/me/password (recent sign-in required). It
// ends every other session.
type PasswordChange struct {
	NewPassword string `json:"new_password"`
}

// EmailChange is PATCH /v1/me (recent sign-in required).
type EmailChange struct {
	Email string `json:"email"`
}

// TOTPSetup answers POST /v1/me/totp: a new authenticator to add to an app.
// It counts only once confirmed.
type TOTPSetup struct {
	Secret string `json:"secret"` // base32, for typing in
	URI    string `json:"uri"`    // otpauth://totp/… for a QR code
}

// TOTPConfirm is POST /v1/me/totp/confirm.
type TOTPConfirm struct {
	Code string `json:"code"`
}

// RecoveryCodes answers TOTP confirmation and POST /v1/me/recovery-codes:
// shown once; each works once in place of a second factor.
type RecoveryCodes struct {
	Codes []string `json:"codes"`
}

// Me answers GET /v1/me.
type Me struct {
	AccountID   string `json:"account_id"`
	Email       string `json:"email"`
	HouseholdID string `json:"household_id,omitempty"`
	Role        string `json:"role"`
	SessionID   string `json:"session_id"`
	// AuthAt is this session's last full sign-in; sensitive changes need it
	// within ReauthWindow.
	AuthAt            time.Time `json:"auth_at"`
	TOTP              bool      `json:"totp"`
	Passkeys          int       `json:"passkeys"`
	RecoveryCodesLeft int       `json:"recovery_codes_left"`
	// QuotaBytes is the household's storage quota (0: none) and UsedBytes
	// what it stores now; owners only.
	QuotaBytes int64 `json:"quota_bytes,omitempty"`
	UsedBytes  int64 `json:"used_bytes,omitempty"`
}

// ReauthWindow is how recent a sign-in must be for sensitive changes.
const ReauthWindow = 5 * time.Minute

// SessionInfo is one element of GET /v1/sessions.
type SessionInfo struct {
	ID         string    `json:"id"`
	DeviceName string    `json:"device_name"`
	Client     string    `json:"client"`
	AddrPrefix string    `json:"address_prefix"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsed   time.Time `json:"last_used"`
	ExpiresAt  time.Time `json:"expires_at"`
	Current    bool      `json:"current"`
}

// Sessions answers GET /v1/sessions.
type Sessions struct {
	Sessions []SessionInfo `json:"sessions"`
}

// Revoked answers POST /v1/sessions/revoke-others.
type Revoked struct {
	Revoked int `json:"revoked"`
}

// Notification kinds.
const (
	NoticeNewSignIn      = "new_sign_in"      // a sign-in from a device not seen before
	NoticePasswordChange = "password_changed" // the password changed; other sessions ended
	NoticeFactorChange   = "factor_changed"   // a factor was added or removed; other sessions ended
	NoticeRecoveryUsed   = "recovery_used"    // a recovery code was used to sign in
	NoticeEmailChange    = "email_changed"
)

// Notification is one element of GET /v1/notifications and the data of one
// event of GET /v1/events (text/event-stream, event "notification", id Seq).
type Notification struct {
	Seq       int64     `json:"seq"`
	Kind      string    `json:"kind"`
	CreatedAt time.Time `json:"created_at"`
	// The sign-in or change it is about, as far as known.
	DeviceName string `json:"device_name,omitempty"`
	Client     string `json:"client,omitempty"`
	AddrPrefix string `json:"address_prefix,omitempty"`
	Method     string `json:"method,omitempty"` // password, passkey, recovery_code …
	Detail     string `json:"detail,omitempty"`
	// The object a NoticeCameraEvent is about: its camera, id and coarse
	// time (to the minute).
	CameraID string    `json:"camera_id,omitempty"`
	ObjectID string    `json:"object_id,omitempty"`
	At       time.Time `json:"at,omitzero"`
}

// Notifications answers GET /v1/notifications?after=SEQ.
type Notifications struct {
	Notifications []Notification `json:"notifications"`
}

// OpsOverview answers GET /v1/ops/overview (operator): counts only, no
// e-mail addresses, no household or camera identities.
type OpsOverview struct {
	Accounts   int64 `json:"accounts"`
	Households int64 `json:"households"`
	Hubs       int64 `json:"hubs"`
	Cameras    int64 `json:"cameras"`
	Objects    int64 `json:"objects"`
	Bytes      int64 `json:"bytes"`
	// AuditLogSize is the size of the audit log's latest published
	// checkpoint; AuditLogError says why it could not be read ("" if fine).
	AuditLogSize  uint64 `json:"audit_log_size"`
	AuditLogError string `json:"audit_log_error,omitempty"`
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

// CameraSettings is a camera's settings (seal.CameraSettings: zones),
// signed by an owner device and sealed to the camera's hub and the owner
// devices: PUT and GET /v1/cameras/{id}/settings (owner), GET
// /v1/hub/cameras/{id}/settings (its hub). The service stores Sealed
// without being able to read it; it only refuses a Version that is not
// newer than the stored one (409), so an old copy cannot be put back.
type CameraSettings struct {
	Version uint64 `json:"version"`
	Sealed  []byte `json:"sealed"`
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

// Admin socket bodies. The admin API is served only on porchlightd's local
// Unix socket (data_dir/admin.sock, mode 0600) to `porchlightd admin …`;
// it is never reachable over the network.

// AdminStaffCreate is POST /admin/staff: a staff account with a password
// and a TOTP authenticator enrolled at once (staff must have a second
// factor).
type AdminStaffCreate struct {
	Email    string `json:"email"`
	Role     string `json:"role"` // RoleSupport, RoleAnnotator or RoleOperator
	Password string `json:"password"`
	// Org and Country (ISO 3166-1 alpha-2) say who employs the person and
	// where their office is: every audit entry of their actions carries them.
	Org     string `json:"org,omitempty"`
	Country string `json:"country,omitempty"`
}

// AdminStaffCreated answers AdminStaffCreate: everything the new staff
// member needs, shown once.
type AdminStaffCreated struct {
	AccountID     string   `json:"account_id"`
	TOTPSecret    string   `json:"totp_secret"`
	TOTPURI       string   `json:"totp_uri"`
	RecoveryCodes []string `json:"recovery_codes"`
}

// AdminAccount is one element of GET /admin/staff and the answer of the
// account actions.
type AdminAccount struct {
	AccountID string    `json:"account_id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	Org       string    `json:"org,omitempty"`
	Country   string    `json:"country,omitempty"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	// SessionsEnded is set by disable and revoke.
	SessionsEnded int `json:"sessions_ended,omitempty"`
	// QuotaBytes and UsedBytes are set by quota (customers).
	QuotaBytes int64 `json:"quota_bytes,omitempty"`
	UsedBytes  int64 `json:"used_bytes,omitempty"`
}

// AdminQuota is POST /admin/accounts/quota: set the storage quota of the
// household an account owns (0: no limit).
type AdminQuota struct {
	Email string `json:"email"`
	Bytes int64  `json:"bytes"`
}

// AdminStaffList answers GET /admin/staff.
type AdminStaffList struct {
	Staff []AdminAccount `json:"staff"`
}

// AdminAccountAction is POST /admin/accounts/{disable,enable,revoke-sessions}.
type AdminAccountAction struct {
	Email string `json:"email"`
}

// WrapsPut is the body of PUT /v1/epochs/{id}/wraps (owner): epoch keys
// wrapped to devices of the household's latest roster, added or replacing
// the wrap a device had. Used to give a new device the history.
type WrapsPut struct {
	Wraps []Wrap `json:"wraps"`
}

// DevicePairStart is POST /v1/devices/pair: a new device of a signed-in
// account offers its public keys, to be approved by an owner device.
type DevicePairStart struct {
	Name string `json:"name"`
	Sign []byte `json:"sign"` // Ed25519 public key
	KEM  string `json:"kem"`  // age1pq… hybrid recipient
}

// DevicePairCode answers POST /v1/devices/pair: a one-time code (valid 15
// minutes) the new device shows; the owner device types it into
// `porchlight device approve`.
type DevicePairCode struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

// DevicePairOffer answers GET /v1/devices/pair/{code} (the same account):
// the keys the new device offered, as the service received them. Both
// devices show a short authentication string over the code, these keys and
// the household's root key, so keys the service swapped are noticed.
type DevicePairOffer struct {
	DeviceID  string    `json:"device_id"` // seal.KeyID(Sign)
	Name      string    `json:"name"`
	Sign      []byte    `json:"sign"`
	KEM       string    `json:"kem"`
	ExpiresAt time.Time `json:"expires_at"`
}

// LiveStart is the body of POST /v1/cameras/{id}/live (the owner, or a
// member with the camera in scope): DeviceID must be the device the
// caller's session signed in with (a roster key id); the hub encrypts the
// live view to that device alone.
type LiveStart struct {
	DeviceID string `json:"device_id"`
}

// CodeWrongDevice (403): a live view was asked for a device other than
// the one the session signed in with (or the session names none). Sign in
// on that device, sending its device_id.
const CodeWrongDevice = "wrong_device"

// LiveSession answers POST /v1/cameras/{id}/live (201). Open the WebSocket
// at URL (GET /v1/live/{id}) with the same session before ExpiresAt; the
// view then lasts until either side closes it or the session ends.
type LiveSession struct {
	ID        string    `json:"id"`
	Camera    string    `json:"camera"`
	URL       string    `json:"url"` // "/v1/live/<id>"
	ExpiresAt time.Time `json:"expires_at"`
}

// LiveRequest is one live view waiting for its camera's hub: the hub
// answers it by opening GET /v1/hub/live/{id} and sending the hello and
// the sealed fragments for Device.
type LiveRequest struct {
	ID      string    `json:"id"`
	Camera  string    `json:"camera"`
	Device  string    `json:"device"` // the viewer device's roster key id
	Created time.Time `json:"created"`
}

// LiveRequests answers GET /v1/hub/live?wait=25s (hub): the live views
// waiting for this hub, possibly none.
type LiveRequests struct {
	Requests []LiveRequest `json:"requests"`
}

// LiveStatus is a text message porchlightd itself sends a viewer's
// WebSocket (GET /v1/live/{id}): {"type":"status","state":…}. Every other
// message comes unchanged from the hub.
type LiveStatus struct {
	Type  string `json:"type"` // LiveStatusType
	State string `json:"state"`
}

// Live view status messages.
const (
	LiveStatusType    = "status"
	LiveWaitingForHub = "waiting_for_hub" // the hub has not connected yet
	LiveStateLive     = "live"            // the hub is connected: its messages follow
)

// WebSocket close codes of a viewer's live socket (GET /v1/live/{id}),
// with the close reason porchlightd sends.
const (
	LiveClosedSessionEnded   = 4001 // "session_ended": sign in again
	LiveClosedHubUnreachable = 4002 // "hub_unreachable": the hub did not connect within 10 s
	LiveClosedCameraOffline  = 4003 // "camera_offline" (then ": " and the hub's reason, if any)
	LiveClosedTooSlow        = 4004 // "too_slow": the viewer fell more than 2 s behind
)

// Close reasons of the codes above.
const (
	LiveReasonSessionEnded   = "session_ended"
	LiveReasonHubUnreachable = "hub_unreachable"
	LiveReasonCameraOffline  = "camera_offline"
	LiveReasonTooSlow        = "too_slow"
)

// --- Annotation campaigns (issue 8, campaigns.go / annotate.go) ---

// AdminCampaignCreate is POST /admin/campaigns (the operator, on the admin
// socket): a campaign of an annotating organisation. Recipient is the
// public half of the campaign key the organisation made (`porchlight
// campaign key`); porchlightd never holds its private half.
type AdminCampaignCreate struct {
	Purpose       string   `json:"purpose"`
	Classes       []string `json:"classes"` // of CampaignClasses
	RetentionDays int      `json:"retention_days"`
	Org           string   `json:"org"`
	Country       string   `json:"country"` // ISO 3166-1 alpha-2 of the annotating office
	Recipient     string   `json:"recipient"`
}

// CampaignClasses are the classes a campaign may ask annotators to label.
var CampaignClasses = []string{"person", "animal", "vehicle"}

// Campaign is one annotation campaign as customers and annotators see it.
type Campaign struct {
	ID            string    `json:"id"`
	Purpose       string    `json:"purpose"`
	Classes       []string  `json:"classes"`
	RetentionDays int       `json:"retention_days"`
	Org           string    `json:"org"`
	Country       string    `json:"country"`
	Recipient     string    `json:"recipient"`
	Created       time.Time `json:"created"`
}

// Campaigns answers GET /v1/campaigns (customers) and GET
// /v1/annotate/campaigns (annotators: their organisation's only).
type Campaigns struct {
	Campaigns []Campaign `json:"campaigns"`
}

// DonationCreate is POST /v1/campaigns/{id}/donations (owner): the
// owner-signed seal.Consent and the id of the done redaction job (purpose
// donate, this campaign) whose sealed result becomes the campaign copy.
type DonationCreate struct {
	Consent []byte `json:"consent"`
	Job     string `json:"job"`
}

// Donation states.
const (
	DonationActive    = "active"
	DonationWithdrawn = "withdrawn" // the owner withdrew: copy deleted, labels excluded
	DonationExpired   = "expired"   // the campaign's retention ran out: the same
)

// Consent is one donation as its owner sees it (GET /v1/consents, POST
// /v1/campaigns/{id}/donations, POST /v1/consents/{id}/withdraw).
type Consent struct {
	ID        string    `json:"id"` // the consent id
	Campaign  string    `json:"campaign"`
	Purpose   string    `json:"purpose"`
	Org       string    `json:"org"`
	Country   string    `json:"country"`
	Camera    string    `json:"camera"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Job       string    `json:"job"`
	State     string    `json:"state"` // Donation*
	Size      int64     `json:"size"`
	Labelled  bool      `json:"labelled"`
	Created   time.Time `json:"created"`
	ExpiresAt time.Time `json:"expires_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	Signed    []byte    `json:"signed"` // the owner-signed seal.Consent
}

// Consents answers GET /v1/consents (owner): newest first.
type Consents struct {
	Consents []Consent `json:"consents"`
}

// LabelBox is one labelled box on a campaign copy: the frame at TMS
// milliseconds from the copy's start, a class of the campaign, and the
// corners as fractions (0..1) of the frame's width and height.
type LabelBox struct {
	TMS   int64   `json:"t_ms"`
	Class string  `json:"class"`
	X0    float64 `json:"x0"`
	Y0    float64 `json:"y0"`
	X1    float64 `json:"x1"`
	Y1    float64 `json:"y1"`
}

// Labels is GET and PUT /v1/annotate/tasks/{id}/labels (annotator).
type Labels struct {
	Boxes []LabelBox `json:"boxes"`
}

// Task is one campaign copy as an annotator sees it: the consent id, and
// the labels so far. Media is GET /v1/annotate/tasks/{id}/media (the
// copy, sealed to the campaign key).
type Task struct {
	ID       string     `json:"id"`
	Consent  string     `json:"consent"`
	Campaign string     `json:"campaign"`
	Size     int64      `json:"size"`
	SHA256   string     `json:"sha256"`
	Created  time.Time  `json:"created"`
	Labels   []LabelBox `json:"labels"`
}

// Tasks answers GET /v1/annotate/campaigns/{id}/tasks (annotator): the
// campaign's unwithdrawn, unexpired copies, oldest first.
type Tasks struct {
	Tasks []Task `json:"tasks"`
}

// --- Redaction jobs (issue 8, internal/httpapi/redactions.go) ---

// Redaction job states.
const (
	RedactionPending = "pending" // waiting for the camera's hub
	RedactionRunning = "running" // the hub took it
	RedactionDone    = "done"    // the sealed result is stored
	RedactionFailed  = "failed"  // the hub refused or failed it (Error says why)
	RedactionExpired = "expired" // the result was not taken within 24 h and is deleted
)

// MaxRedactionResult bounds a sealed redaction result.
const MaxRedactionResult = 512 << 20

// RedactionCreate is the body of POST /v1/redactions (owner): the job,
// owner-signed and sealed to the camera's hub (seal.SealRedactJob). The
// service reads only the clear fields.
type RedactionCreate struct {
	ID       string `json:"id"`
	Camera   string `json:"camera"`
	Purpose  string `json:"purpose"`            // "publish" | "donate"
	Campaign string `json:"campaign,omitempty"` // donate only
	Sealed   []byte `json:"sealed"`
}

// Redaction is a redaction job as the service sees it.
type Redaction struct {
	ID           string    `json:"id"`
	Camera       string    `json:"camera"`
	Purpose      string    `json:"purpose"`
	Campaign     string    `json:"campaign,omitempty"`
	State        string    `json:"state"` // Redaction*
	Error        string    `json:"error,omitempty"`
	ResultSize   int64     `json:"result_size,omitempty"`
	ResultSHA256 string    `json:"result_sha256,omitempty"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
}

// HubRedaction is one job handed to a hub.
type HubRedaction struct {
	ID     string `json:"id"`
	Camera string `json:"camera"`
	Sealed []byte `json:"sealed"`
}

// HubRedactions answers GET /v1/hub/redactions?wait=25s (hub): the pending
// jobs of its cameras, now running.
type HubRedactions struct {
	Jobs []HubRedaction `json:"jobs"`
}

// RedactionFail is the body of POST /v1/hub/redactions/{id}/fail (hub).
type RedactionFail struct {
	Error string `json:"error"`
}

// --- Neighbours feed (issue 8) ---

// FeedPostCreate is the body of POST /v1/feed/posts (owner): the
// owner-signed seal.Publication and the exact public MP4 it names. The
// service refuses (400, nothing stored) a record that does not verify
// against an owner device of the household's roster, or whose hash, size,
// cell or category do not match.
type FeedPostCreate struct {
	Record []byte `json:"record"`
	Media  []byte `json:"media"`
}

// FeedPost is a post as the feed shows it: no household, account or
// location finer than the 6-character cell. Media is the path of the MP4
// (GET, video/mp4). Record (the signed publication) is given to its
// household's owner only; Mine marks the caller's own posts.
type FeedPost struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Category  string    `json:"category"`
	Cell      string    `json:"cell"`
	Pseudonym string    `json:"pseudonym"`
	Created   time.Time `json:"created"`
	Media     string    `json:"media"`
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size"`
	Mine      bool      `json:"mine,omitempty"`
	// State is FeedPublished in the feed; the owner's list (mine=1) also
	// shows withdrawn and removed posts, with the operator's reason.
	State  string    `json:"state,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Ended  time.Time `json:"ended,omitzero"`
	Record []byte    `json:"record,omitempty"`
}

// Feed post states.
const (
	FeedPublished = "published"
	FeedWithdrawn = "withdrawn"
	FeedRemoved   = "removed"
)

// Feed is the answer of GET /v1/feed?cell=C&radius=N (newest first) and
// of GET /v1/feed?mine=1.
type Feed struct {
	Cells []string   `json:"cells,omitempty"` // the cells searched
	Posts []FeedPost `json:"posts"`
}

// FeedReason is the body of POST /v1/feed/posts/{id}/report and of the
// operator's POST /v1/ops/feed/posts/{id}/remove.
type FeedReason struct {
	Reason string `json:"reason"`
}

// FeedReport is one report as the operator sees it (GET
// /v1/ops/feed/reports): the post, the reason, and no reporter identity.
type FeedReport struct {
	ID      string    `json:"id"`
	Post    FeedPost  `json:"post"`
	Reason  string    `json:"reason"`
	Created time.Time `json:"created"`
}

// FeedReports is the answer of GET /v1/ops/feed/reports and of the admin
// socket's GET /admin/feed/reports.
type FeedReports struct {
	Reports []FeedReport `json:"reports"`
}

// AdminFeedRemove is the body of the admin socket's POST
// /admin/feed/remove.
type AdminFeedRemove struct {
	Post   string `json:"post"`
	Reason string `json:"reason"`
}
