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

// Account is a person who logs in. Email is stored normalised (see
// auth.NormalizeEmail) and unique without regard to case.
type Account struct {
	ID           string
	Email        string
	PasswordHash string // PHC string (auth.HashPassword)
	Created      time.Time
}

// Household groups an owner's devices, hubs and cameras. It holds no name.
type Household struct {
	ID      string
	Owner   string // account id
	Created time.Time
}

// Session is a logged-in device. The bearer token itself is never stored.
type Session struct {
	ID          string
	TokenHash   string // hex SHA-256 of the token
	AccountID   string
	HouseholdID string // filled by SessionByTokenHash; ignored by CreateSession
	DeviceName  string
	Created     time.Time
	LastUsed    time.Time
	Expires     time.Time // absolute end
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

// Object is the metadata of one stored ciphertext (segment or manifest).
type Object struct {
	ID          string
	HouseholdID string
	CameraID    string
	EpochID     string
	Kind        string    // api.ObjectSegment or api.ObjectManifest
	CoarseTime  time.Time // truncated to the minute by the caller
	Size        int64
	SHA256      string
	Created     time.Time
}

// Store is porchlightd's metadata store. Every method is safe for concurrent
// use. Methods that change several records do so atomically.
type Store interface {
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
	// Close releases the store.
	Close() error

	// CreateAccount creates an account and the household it owns.
	// ErrConflict if the e-mail (case-insensitively) or an id is taken.
	CreateAccount(ctx context.Context, a Account, h Household) error
	// Account returns an account by id.
	Account(ctx context.Context, id string) (Account, error)
	// AccountByEmail finds an account by e-mail, case-insensitively.
	AccountByEmail(ctx context.Context, email string) (Account, error)
	// SetPasswordHash replaces an account's password hash (rehash, change).
	SetPasswordHash(ctx context.Context, accountID, hash string) error
	// HouseholdOf returns the household an account owns.
	HouseholdOf(ctx context.Context, accountID string) (Household, error)

	// CreateSession stores a new session. ErrConflict on a duplicate id or
	// token hash.
	CreateSession(ctx context.Context, s Session) error
	// SessionByTokenHash returns a session and its account's household.
	SessionByTokenHash(ctx context.Context, tokenHash string) (Session, error)
	// TouchSession records that a session was used at t.
	TouchSession(ctx context.Context, id string, t time.Time) error
	// DeleteSession ends a session. ErrNotFound if it does not exist.
	DeleteSession(ctx context.Context, id string) error
	// DeleteSessionsBefore deletes sessions that expired before t or were
	// last used before idleBefore; it returns how many.
	DeleteSessionsBefore(ctx context.Context, t, idleBefore time.Time) (int, error)

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
	// ExpiredObjects returns up to limit objects of a camera that retention
	// removes at cutoff: manifests with CoarseTime before cutoff, the
	// objects they refer to, and objects before cutoff no manifest refers
	// to.
	ExpiredObjects(ctx context.Context, cameraID string, cutoff time.Time, limit int) ([]Object, error)
	// DeleteObjects deletes objects' metadata and their manifest references.
	// Missing ids are ignored.
	DeleteObjects(ctx context.Context, ids []string) error
}
