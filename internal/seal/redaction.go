package seal

import (
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"filippo.io/age"
)

// Redaction job formats (docs/formats.md, "Redaction jobs"). An owner
// device asks its hub to make a redacted copy of one clip: it signs a
// RedactJob and seals it to the hub's KEM recipient from the verified
// roster. The job carries the identities of exactly the epochs of the
// clip's segments, for this job only; the hub keeps them in memory. The
// hub answers with a result sealed to the job's Output recipients whose
// plaintext is
//
//	uint32 BE len(signed header) ‖ signed header (porchlight.redaction) ‖ MP4 bytes
//
// The service stores the sealed job and the sealed result and reads
// neither.
const (
	TypeRedactJob = "porchlight.redact-job"
	TypeRedaction = "porchlight.redaction" // hub-signed header of a result
)

// Redaction purposes.
const (
	PurposePublish = "publish" // a clip for the neighbours feed
	PurposeDonate  = "donate"  // a clip for an annotation campaign
)

// Redaction job limits.
const (
	// MaxRedactSegments bounds the segments of one job (a clip of a few
	// minutes has tens).
	MaxRedactSegments = 1024
	// MaxRedactOutputs bounds the recipients a result is sealed to.
	MaxRedactOutputs = 8
	// MaxRedactSubject bounds the track points of a job's subject.
	MaxRedactSubject = 10000
	// MaxRedactClip bounds To − From.
	MaxRedactClip = 30 * time.Minute
	// MaxRedactionHeader bounds the signed header of a result.
	MaxRedactionHeader = 64 << 10
)

// RedactJob is what an owner device signs to have its hub redact one
// clip. Only the hub it is sealed to can read it.
type RedactJob struct {
	V         int       `json:"v"`
	ID        string    `json:"id"`
	Household string    `json:"household"`
	Camera    string    `json:"camera"`
	Purpose   string    `json:"purpose"`            // PurposePublish or PurposeDonate
	Campaign  string    `json:"campaign,omitempty"` // donate only
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	// Segments are the clip's segments, in time order.
	Segments []RedactSegment `json:"segments"`
	// Keys hold one identity per epoch of Segments, nothing else.
	Keys []RedactKey `json:"keys"`
	// Subject is the track of the one person, animal or vehicle to keep
	// unblurred (an event's track); empty: blur every person.
	Subject []TrackPoint `json:"subject,omitempty"`
	// Output are the age recipients the result is sealed to.
	Output  []string  `json:"output"`
	Created time.Time `json:"created"`
}

// RedactSegment names one segment of a job by id, epoch and the SHA-256
// of its exact ciphertext (from a verified manifest).
type RedactSegment struct {
	ID         string    `json:"id"`
	Epoch      string    `json:"epoch"`
	SHA256     string    `json:"sha256"`
	Start      time.Time `json:"start"`
	DurationMS int64     `json:"duration_ms"`
}

// RedactKey is one epoch's identity (AGE-SECRET-KEY-PQ-1…), given to the
// hub for one job.
type RedactKey struct {
	Epoch    string `json:"epoch"`
	Identity string `json:"identity"`
}

func validSHA256(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32 && s == strings.ToLower(s)
}

func checkPurpose(purpose, campaign string) error {
	switch purpose {
	case PurposePublish:
		if campaign != "" {
			return fmt.Errorf("%w: a publish job names no campaign", ErrMalformed)
		}
	case PurposeDonate:
		if !ValidID(campaign) {
			return fmt.Errorf("%w: a donate job needs a campaign id", ErrMalformed)
		}
	default:
		return fmt.Errorf("%w: purpose %q (want %s or %s)", ErrMalformed, purpose, PurposePublish, PurposeDonate)
	}
	return nil
}

// Check validates a job on its own: ids, purpose, a range of at most
// MaxRedactClip, segments in time order with well-formed hashes, exactly
// one key per epoch of the segments, and parseable output recipients.
func (j *RedactJob) Check() error {
	if j.V != FormatVersion {
		return fmt.Errorf("%w: redact job v%d", ErrVersion, j.V)
	}
	if !ValidID(j.ID) || !ValidID(j.Household) || !ValidID(j.Camera) || j.Created.IsZero() {
		return fmt.Errorf("%w: redact job needs an id, household, camera and creation time", ErrMalformed)
	}
	if err := checkPurpose(j.Purpose, j.Campaign); err != nil {
		return err
	}
	if !j.To.After(j.From) || j.To.Sub(j.From) > MaxRedactClip {
		return fmt.Errorf("%w: redact job needs from < to, at most %s apart", ErrMalformed, MaxRedactClip)
	}
	if len(j.Segments) == 0 || len(j.Segments) > MaxRedactSegments {
		return fmt.Errorf("%w: redact job needs 1 to %d segments", ErrMalformed, MaxRedactSegments)
	}
	epochs := map[string]bool{}
	seen := map[string]bool{}
	for i, s := range j.Segments {
		if !ValidID(s.ID) || !ValidID(s.Epoch) || !validSHA256(s.SHA256) || s.Start.IsZero() || s.DurationMS <= 0 {
			return fmt.Errorf("%w: redact job segment %d needs an id, epoch, lowercase hex sha256, start and duration", ErrMalformed, i)
		}
		if seen[s.ID] {
			return fmt.Errorf("%w: redact job lists segment %s twice", ErrMalformed, s.ID)
		}
		seen[s.ID] = true
		if i > 0 && s.Start.Before(j.Segments[i-1].Start) {
			return fmt.Errorf("%w: redact job segments are not in time order", ErrMalformed)
		}
		epochs[s.Epoch] = true
	}
	keyed := map[string]bool{}
	for _, k := range j.Keys {
		if !epochs[k.Epoch] {
			return fmt.Errorf("%w: redact job carries a key for epoch %s, which none of its segments uses", ErrMalformed, k.Epoch)
		}
		if keyed[k.Epoch] {
			return fmt.Errorf("%w: redact job carries two keys for epoch %s", ErrMalformed, k.Epoch)
		}
		if !strings.HasPrefix(k.Identity, "AGE-SECRET-KEY-PQ-1") {
			return fmt.Errorf("%w: redact job key for epoch %s is not a hybrid age identity", ErrMalformed, k.Epoch)
		}
		keyed[k.Epoch] = true
	}
	if len(keyed) != len(epochs) {
		return fmt.Errorf("%w: redact job lacks the key of %d of its epochs", ErrMalformed, len(epochs)-len(keyed))
	}
	if len(j.Subject) > MaxRedactSubject {
		return fmt.Errorf("%w: redact job subject of more than %d points", ErrMalformed, MaxRedactSubject)
	}
	if len(j.Output) == 0 || len(j.Output) > MaxRedactOutputs {
		return fmt.Errorf("%w: redact job needs 1 to %d output recipients", ErrMalformed, MaxRedactOutputs)
	}
	for _, o := range j.Output {
		if _, err := ParseRecipient(o); err != nil {
			return fmt.Errorf("%w: redact job output: %v", ErrMalformed, err)
		}
	}
	return nil
}

// OutputRecipients parses the job's output recipients.
func (j *RedactJob) OutputRecipients() ([]age.Recipient, error) {
	out := make([]age.Recipient, 0, len(j.Output))
	for _, o := range j.Output {
		r, err := ParseRecipient(o)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// SealRedactJob checks j, signs it with an owner device's key and seals
// it to the hub's recipient.
func SealRedactJob(owner ed25519.PrivateKey, hub age.Recipient, j RedactJob) ([]byte, error) {
	j.V = FormatVersion
	if err := j.Check(); err != nil {
		return nil, err
	}
	signed, err := Sign(owner, TypeRedactJob, j)
	if err != nil {
		return nil, err
	}
	return SealTo(signed, hub)
}

// VerifyRedactJob checks a job's plaintext (a signed envelope) against the
// hub's verified roster: the signer must be an owner device listed in it,
// and the job must be for that roster's household. Anything else is
// ErrSignature.
func VerifyRedactJob(signed []byte, r *Roster) (*RedactJob, error) {
	env, err := ParseSigned(signed, TypeRedactJob)
	if err != nil {
		return nil, err
	}
	signer := r.Entry(env.Signer)
	if signer == nil || signer.Kind != KindDevice || signer.Role != RoleOwner {
		return nil, fmt.Errorf("%w: redact job signed by %s, not an owner device of the household's roster", ErrSignature, env.Signer)
	}
	if err := env.Verify(signer.Sign); err != nil {
		return nil, err
	}
	var j RedactJob
	if err := env.Decode(&j); err != nil {
		return nil, err
	}
	if err := j.Check(); err != nil {
		return nil, err
	}
	if j.Household != r.Household {
		return nil, fmt.Errorf("%w: redact job for another household", ErrSignature)
	}
	return &j, nil
}

// Redaction is the hub-signed header of a result. It binds the MP4 (by
// hash and size) to the job, household, camera, purpose and range.
type Redaction struct {
	V         int       `json:"v"`
	Job       string    `json:"job"`
	Household string    `json:"household"`
	Camera    string    `json:"camera"`
	Purpose   string    `json:"purpose"`
	Campaign  string    `json:"campaign,omitempty"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	MP4SHA256 string    `json:"mp4_sha256"`
	Size      int64     `json:"size"`
	Frames    int       `json:"frames"`
	Blurred   int       `json:"blurred"`
	Created   time.Time `json:"created"`
}

func (h *Redaction) check() error {
	if h.V != FormatVersion {
		return fmt.Errorf("%w: redaction v%d", ErrVersion, h.V)
	}
	if !ValidID(h.Job) || !ValidID(h.Household) || !ValidID(h.Camera) || !validSHA256(h.MP4SHA256) || h.Size <= 0 || h.Created.IsZero() {
		return fmt.Errorf("%w: redaction header needs job, household, camera, mp4 hash, size and creation time", ErrMalformed)
	}
	return checkPurpose(h.Purpose, h.Campaign)
}

// RedactionPlaintext signs h with the hub's key (filling MP4SHA256 and
// Size from mp4) and lays out a result's plaintext.
func RedactionPlaintext(hub ed25519.PrivateKey, h Redaction, mp4 []byte) ([]byte, error) {
	h.V = FormatVersion
	h.MP4SHA256, h.Size = SHA256Hex(mp4), int64(len(mp4))
	if err := h.check(); err != nil {
		return nil, err
	}
	signed, err := Sign(hub, TypeRedaction, h)
	if err != nil {
		return nil, err
	}
	if len(signed) > MaxRedactionHeader {
		return nil, fmt.Errorf("%w: redaction header too large", ErrMalformed)
	}
	out := make([]byte, 4, 4+len(signed)+len(mp4))
	binary.BigEndian.PutUint32(out, uint32(len(signed)))
	out = append(out, signed...)
	return append(out, mp4...), nil
}

// SealRedaction is RedactionPlaintext sealed to the job's outputs.
func SealRedaction(hub ed25519.PrivateKey, h Redaction, mp4 []byte, to ...age.Recipient) ([]byte, error) {
	pt, err := RedactionPlaintext(hub, h, mp4)
	if err != nil {
		return nil, err
	}
	return SealTo(pt, to...)
}

// ParseRedactionPlaintext splits a result's plaintext, verifies the
// header against the hub's key and checks the MP4's hash and size.
func ParseRedactionPlaintext(pt []byte, hub ed25519.PublicKey) (*Redaction, []byte, error) {
	if len(pt) < 4 {
		return nil, nil, fmt.Errorf("%w: redaction result truncated", ErrMalformed)
	}
	n := binary.BigEndian.Uint32(pt)
	if n == 0 || n > MaxRedactionHeader || int64(n) > int64(len(pt)-4) {
		return nil, nil, fmt.Errorf("%w: redaction result header length %d", ErrMalformed, n)
	}
	env, err := ParseSigned(pt[4:4+n], TypeRedaction)
	if err != nil {
		return nil, nil, err
	}
	if err := env.Verify(hub); err != nil {
		return nil, nil, err
	}
	var h Redaction
	if err := env.Decode(&h); err != nil {
		return nil, nil, err
	}
	if err := h.check(); err != nil {
		return nil, nil, err
	}
	mp4 := pt[4+n:]
	if int64(len(mp4)) != h.Size || SHA256Hex(mp4) != h.MP4SHA256 {
		return nil, nil, fmt.Errorf("%w: the result's MP4 does not match its signed hash and size", ErrSignature)
	}
	return &h, mp4, nil
}
