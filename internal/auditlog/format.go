// Package auditlog is Porchlight's transparency log: the leaf format of an
// audit entry (a small clear envelope and a body sealed to the household's
// owner devices), the service's append-only log (an RFC 6962 Merkle tree in
// C2SP tlog-tiles layout, written by tessera's POSIX driver, with checkpoints
// in the C2SP signed-note format), and the client-side verifier that checks
// checkpoint signatures, inclusion and consistency.
//
// Use it to record who did what to a household's data so that the owner can
// later check that nothing was left out or rewritten. Do not use it as a
// general event store or a source of truth for application state: entries
// are immutable, public in their envelope, and readable in their body only by
// the owner devices they were sealed to. Nothing here decrypts: porchlightd
// links this package and must never contain age decryption (arch_test.go).
// Opening a sealed body is the client's job (internal/keys), after which
// DecodeBody parses the plaintext.
package auditlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/seal"
)

// FormatVersion is the "v" of every entry and body this package writes.
// Readers refuse any other version.
const FormatVersion = 1

// MaxEntry bounds the size of one leaf. It is 64 KiB less one byte: the
// tlog-tiles entry bundle prefixes each entry with a 16-bit length, so no
// larger entry can be stored.
const MaxEntry = 1<<16 - 1

// ErrMalformed means bytes are not a well-formed audit entry or body of this
// version. A leaf served by the log that does not parse is evidence of a
// broken or tampered log; an entry the caller built that does not marshal is
// a programming error.
var ErrMalformed = errors.New("malformed audit entry")

// Envelope is the clear part of an entry: enough for the operator to list
// and route entries, nothing about who did what.
type Envelope struct {
	V         int       `json:"v"`
	ID        string    `json:"id"`        // random id (seal.NewID)
	Time      time.Time `json:"time"`      // UTC, truncated to the second
	Household string    `json:"household"` // household id
	Class     string    `json:"class"`     // api.Audit*
}

// Entry is one leaf: the envelope and the body sealed to the household's
// owner devices (age ciphertext; nil when the household had no device to
// seal to).
type Entry struct {
	Envelope
	Body []byte `json:"body,omitempty"`
}

// classes is the set of api.Audit* values an envelope may carry.
var classes = []string{
	api.AuditAuth, api.AuditDevice, api.AuditHub, api.AuditMember, api.AuditGrant,
	api.AuditKeyRelease, api.AuditAccess, api.AuditDenial, api.AuditDeletion, api.AuditStaff,
	api.AuditClient,
	api.AuditDeclassification,
	api.AuditConsent,
}

// actorKinds is the set of api.Actor* values a body's actor may carry.
var actorKinds = []string{
	api.ActorOwner, api.ActorMember, api.ActorSupport, api.ActorAnnotator, api.ActorOperator,
	api.ActorHub, api.ActorAnonymous, api.ActorService, api.ActorCustomer,
}

// Marshal returns the exact leaf bytes of e: its compact JSON encoding, the
// only encoding Parse accepts. A zero V is set to FormatVersion and Time is
// put in UTC and truncated to the second. It fails, wrapping ErrMalformed,
// on another version, ids that seal.ValidID refuses, a class outside the
// api.Audit* set, a zero time, a body that is not an age file, or a result
// larger than MaxEntry.
func (e Entry) Marshal() ([]byte, error) {
	if e.V == 0 {
		e.V = FormatVersion
	}
	e.Time = e.Time.UTC().Truncate(time.Second)
	if err := e.check(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("%w: encode: %v", ErrMalformed, err)
	}
	if len(b) > MaxEntry {
		return nil, fmt.Errorf("%w: entry is %d bytes, more than %d: seal the body to fewer devices or shorten it", ErrMalformed, len(b), MaxEntry)
	}
	return b, nil
}

func (e *Entry) check() error {
	switch {
	case e.V != FormatVersion:
		return fmt.Errorf("%w: version %d, this reader knows only %d: upgrade", ErrMalformed, e.V, FormatVersion)
	case !seal.ValidID(e.ID):
		return fmt.Errorf("%w: id %q is not an id: make it with seal.NewID", ErrMalformed, e.ID)
	case !seal.ValidID(e.Household):
		return fmt.Errorf("%w: household %q is not an id", ErrMalformed, e.Household)
	case !slices.Contains(classes, e.Class):
		return fmt.Errorf("%w: class %q is not one of the api.Audit* classes", ErrMalformed, e.Class)
	case e.Time.IsZero():
		return fmt.Errorf("%w: time is not set", ErrMalformed)
	}
	if len(e.Body) > 0 {
		if err := seal.CheckAgeFile(e.Body); err != nil {
			return fmt.Errorf("%w: body: %v", ErrMalformed, err)
		}
	}
	return nil
}

// Parse reads one leaf strictly: at most MaxEntry bytes, exactly the bytes
// Marshal would write for the entry they decode to (so no unknown or
// duplicate fields, no whitespace, no trailing data, no other time or key
// spelling), version FormatVersion, and the same checks as Marshal. Every
// failure wraps ErrMalformed. Because the encoding is canonical, two leaves
// that parse to the same entry are the same bytes.
func Parse(leaf []byte) (Entry, error) {
	if len(leaf) > MaxEntry {
		return Entry{}, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(leaf), MaxEntry)
	}
	var e Entry
	if err := strictUnmarshal(leaf, &e); err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if e.V != FormatVersion {
		return Entry{}, fmt.Errorf("%w: version %d, this reader knows only %d: upgrade", ErrMalformed, e.V, FormatVersion)
	}
	canon, err := e.Marshal()
	if err != nil {
		return Entry{}, err
	}
	if !bytes.Equal(canon, leaf) {
		return Entry{}, fmt.Errorf("%w: not in canonical form (field order, spacing, escaping or time spelling differ from Marshal's)", ErrMalformed)
	}
	return e, nil
}

// strictUnmarshal decodes exactly one JSON value into v, refusing unknown
// fields and anything after the value.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// Body is the sealed part of an entry: JSON, then age-encrypted to the
// household's owner devices by SealBody.
type Body struct {
	V         int    `json:"v"`
	Actor     Actor  `json:"actor"`
	Action    string `json:"action"`             // e.g. "login", "login_failed", "password_changed", "grant_approved", "key_release", "fetch", "denied"
	Resource  string `json:"resource,omitempty"` // e.g. "camera:ID", "object:ID", "grant:ID", "session:ID", "route:GET /v1/…"
	Reason    string `json:"reason,omitempty"`
	Ticket    string `json:"ticket,omitempty"`
	Grant     string `json:"grant,omitempty"` // grant id
	GrantHash string `json:"grant_hash,omitempty"`
	Decision  string `json:"decision,omitempty"` // "allowed", "denied", "forged", "failed"…
	Status    int    `json:"status,omitempty"`   // HTTP status for accesses and denials
	Detail    string `json:"detail,omitempty"`
}

// Actor says who acted.
type Actor struct {
	Kind    string `json:"kind"`              // api.Actor*
	Account string `json:"account,omitempty"` // account id
	Email   string `json:"email,omitempty"`   // staff e-mail (customers: omitted)
	Device  string `json:"device,omitempty"`  // roster key id of the device, if known
	Hub     string `json:"hub,omitempty"`
	Org     string `json:"org,omitempty"`     // staff: employing organisation
	Country string `json:"country,omitempty"` // staff: office country
	Addr    string `json:"addr,omitempty"`    // client address cut to /24 or /48
}

func (b *Body) check() error {
	switch {
	case b.V != FormatVersion:
		return fmt.Errorf("%w: body version %d, this reader knows only %d: upgrade", ErrMalformed, b.V, FormatVersion)
	case !slices.Contains(actorKinds, b.Actor.Kind):
		return fmt.Errorf("%w: actor kind %q is not one of the api.Actor* kinds", ErrMalformed, b.Actor.Kind)
	case b.Action == "":
		return fmt.Errorf("%w: body has no action", ErrMalformed)
	}
	return nil
}

// SealBody sets b.V, checks b (a known actor kind and an action), encodes it
// as JSON and seals it with age to the recipients. With no recipients it
// returns (nil, nil): the entry then carries its envelope only.
func SealBody(b Body, recipients ...age.Recipient) ([]byte, error) {
	b.V = FormatVersion
	if err := b.check(); err != nil {
		return nil, err
	}
	if len(recipients) == 0 {
		return nil, nil
	}
	pt, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encode audit body: %w", err)
	}
	ct, err := seal.SealTo(pt, recipients...)
	if err != nil {
		return nil, fmt.Errorf("seal audit body: %w", err)
	}
	return ct, nil
}

// DecodeBody parses a decrypted body strictly: one JSON object, no unknown
// fields or trailing data, version FormatVersion, a known actor kind and an
// action. Failures wrap ErrMalformed. Decryption is the caller's (a client
// holding an owner device key).
func DecodeBody(plaintext []byte) (Body, error) {
	if len(plaintext) > MaxEntry {
		return Body{}, fmt.Errorf("%w: body is %d bytes, more than %d", ErrMalformed, len(plaintext), MaxEntry)
	}
	var b Body
	if err := strictUnmarshal(plaintext, &b); err != nil {
		return Body{}, fmt.Errorf("%w: body: %v", ErrMalformed, err)
	}
	if err := b.check(); err != nil {
		return Body{}, err
	}
	return b, nil
}
