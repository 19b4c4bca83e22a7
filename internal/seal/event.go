package seal

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"filippo.io/age"
)

// Event kinds.
const (
	EventObject   = "object"   // a person, animal or vehicle moving in a zone
	EventMotion   = "motion"   // motion without a recognised object (recorded, not alerted)
	EventDoorbell = "doorbell" // the doorbell button was pressed
	EventOffline  = "offline"  // the camera stopped answering
	EventOnline   = "online"   // the camera answers again
)

// Event priorities.
const (
	PriorityNormal = "normal"
	PriorityHigh   = "high" // doorbell presses
)

// Event is one detection or camera event, signed by the hub and sealed to
// the camera's epoch recipient like a manifest, so it authenticates itself.
// An event may be uploaded more than once as it develops (Version 1 when it
// starts, higher when it ends or grows); clients keep the highest Version
// per ID. The service sees only an object of kind "event" at a minute.
type Event struct {
	V         int          `json:"v"`
	Household string       `json:"household"`
	Camera    string       `json:"camera"`
	Hub       string       `json:"hub"`
	Epoch     string       `json:"epoch"`
	ID        string       `json:"id"`      // the event's id (stable across versions)
	Version   int          `json:"version"` // 1, 2, …
	Kind      string       `json:"kind"`    // Event*
	Priority  string       `json:"priority"`
	Start     time.Time    `json:"start"`
	End       time.Time    `json:"end,omitzero"`      // zero while it goes on
	Classes   []string     `json:"classes,omitempty"` // "person", "animal", "vehicle"
	Labels    []string     `json:"labels,omitempty"`  // COCO labels seen, e.g. "dog"
	Score     float32      `json:"score,omitempty"`   // best detection score
	Zone      string       `json:"zone,omitempty"`
	Track     []TrackPoint `json:"track,omitempty"`
	// Thumb names a sealed JPEG object of the event (api.ObjectThumb) by
	// id and ciphertext SHA-256; empty if none.
	Thumb       string `json:"thumb,omitempty"`
	ThumbSHA256 string `json:"thumb_sha256,omitempty"`
	Detail      string `json:"detail,omitempty"`
}

// TrackPoint is where a tracked object was at a time (box normalised to
// 0..1, x right, y down).
type TrackPoint struct {
	T              time.Time `json:"t"`
	X0, Y0, X1, Y1 float32
}

func (e *Event) check() error {
	if e.V != FormatVersion {
		return fmt.Errorf("%w: event v%d", ErrVersion, e.V)
	}
	if !ValidID(e.Household) || !ValidID(e.Camera) || !ValidID(e.Epoch) || !ValidID(e.ID) || e.Hub == "" || e.Version < 1 || e.Start.IsZero() {
		return fmt.Errorf("%w: event needs household, camera, hub, epoch, id, version ≥ 1 and a start", ErrMalformed)
	}
	switch e.Kind {
	case EventObject, EventMotion, EventDoorbell, EventOffline, EventOnline:
	default:
		return fmt.Errorf("%w: event kind %q", ErrMalformed, e.Kind)
	}
	if e.Thumb != "" && (!ValidID(e.Thumb) || len(e.ThumbSHA256) != 64) {
		return fmt.Errorf("%w: event thumbnail reference", ErrMalformed)
	}
	return nil
}

// SealEvent signs e with the hub's key and seals it to the epoch recipient.
func SealEvent(hub ed25519.PrivateKey, epoch age.Recipient, e Event) ([]byte, error) {
	e.V = FormatVersion
	if e.Priority == "" {
		e.Priority = PriorityNormal
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	signed, err := Sign(hub, TypeEvent, e)
	if err != nil {
		return nil, err
	}
	return SealTo(signed, epoch)
}

// VerifyEventFrom checks an event's plaintext (a signed envelope) against
// the trusted signers and the household, camera and epoch it was fetched
// for.
func VerifyEventFrom(signed []byte, trusted Signers, household, camera, epoch string) (*Event, error) {
	env, err := ParseSigned(signed, TypeEvent)
	if err != nil {
		return nil, err
	}
	pub := trusted(env.Signer)
	if pub == nil {
		return nil, fmt.Errorf("%w: event signed by %s, not a trusted hub", ErrSignature, env.Signer)
	}
	if err := env.Verify(pub); err != nil {
		return nil, err
	}
	var e Event
	if err := env.Decode(&e); err != nil {
		return nil, err
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	if e.Household != household || e.Camera != camera || e.Epoch != epoch || e.Hub != env.Signer {
		return nil, fmt.Errorf("%w: event is for another household, camera or epoch, or not signed by its hub", ErrSignature)
	}
	return &e, nil
}
