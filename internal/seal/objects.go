package seal

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"time"

	"filippo.io/age"
)

// Manifest is a hub-signed list of objects of one camera in one epoch: the
// only way a client learns that an object exists. A client accepts an object
// only if a manifest with a valid hub signature lists its id and the SHA-256
// of its exact ciphertext. A manifest is signed, then sealed to the epoch
// recipient, so the service sees neither its times nor its detections.
type Manifest struct {
	V         int              `json:"v"`
	Household string           `json:"household"`
	Camera    string           `json:"camera"`
	Hub       string           `json:"hub"`
	Epoch     string           `json:"epoch"`
	Seq       uint64           `json:"seq"` // per camera, increasing
	Created   time.Time        `json:"created"`
	Objects   []ManifestObject `json:"objects"`
}

// ManifestObject is one listed object.
type ManifestObject struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"` // "segment"
	Seq        uint64    `json:"seq"`  // segment sequence, per camera, increasing
	Start      time.Time `json:"start"`
	DurationMS int64     `json:"duration_ms"`
	Frames     int       `json:"frames"`
	Codec      string    `json:"codec"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"` // of the ciphertext
}

// End is the object's end time.
func (o ManifestObject) End() time.Time {
	return o.Start.Add(time.Duration(o.DurationMS) * time.Millisecond)
}

// SealManifest signs m with the hub's key and seals it to the epoch recipient.
func SealManifest(hub ed25519.PrivateKey, epoch age.Recipient, m Manifest) ([]byte, error) {
	m.V = FormatVersion
	signed, err := Sign(hub, TypeManifest, m)
	if err != nil {
		return nil, err
	}
	return SealTo(signed, epoch)
}

// VerifyManifest checks a manifest's plaintext (a signed envelope) against
// the hub's key and the household, camera and epoch it was fetched for.
func VerifyManifest(signed []byte, hub ed25519.PublicKey, household, camera, epoch string) (*Manifest, error) {
	return VerifyManifestFrom(signed, OnlySigner(hub), household, camera, epoch)
}

// Signers returns the public key of a signer a verifier trusts, by KeyID,
// or nil for one it does not. Clients trust the camera's hub and the owner
// devices of their verified roster (an owner re-keying history signs what
// it re-seals, see docs/formats.md); hubs and the service trust narrower
// sets.
type Signers func(id string) ed25519.PublicKey

// OnlySigner trusts exactly one key.
func OnlySigner(pub ed25519.PublicKey) Signers {
	id := ""
	if len(pub) == ed25519.PublicKeySize {
		id = KeyID(pub)
	}
	return func(s string) ed25519.PublicKey {
		if s == id && id != "" {
			return pub
		}
		return nil
	}
}

// verifyFrom checks env against the key trusted for its signer.
func verifyFrom(env *Signed, trusted Signers) error {
	pub := trusted(env.Signer)
	if pub == nil {
		return fmt.Errorf("%w: %s signed by %s, not by a trusted hub or owner device", ErrSignature, env.Type, env.Signer)
	}
	return env.Verify(pub)
}

// VerifyManifestFrom is VerifyManifest for a manifest signed by any
// trusted signer. The manifest's Hub field must name its signer.
func VerifyManifestFrom(signed []byte, trusted Signers, household, camera, epoch string) (*Manifest, error) {
	env, err := ParseSigned(signed, TypeManifest)
	if err != nil {
		return nil, err
	}
	if err := verifyFrom(env, trusted); err != nil {
		return nil, err
	}
	var m Manifest
	if err := env.Decode(&m); err != nil {
		return nil, err
	}
	if m.V != FormatVersion {
		return nil, fmt.Errorf("%w: manifest v%d", ErrVersion, m.V)
	}
	if m.Household != household || m.Camera != camera || m.Epoch != epoch || m.Hub != env.Signer {
		return nil, fmt.Errorf("%w: manifest belongs to another household, camera, epoch or hub", ErrMalformed)
	}
	return &m, nil
}

// EpochAnnouncement is the hub-signed statement that an epoch of a camera
// exists and that its objects are sealed to Recipient. A client checks that
// the key it unwraps matches Recipient.
type EpochAnnouncement struct {
	V         int       `json:"v"`
	Household string    `json:"household"`
	Camera    string    `json:"camera"`
	Epoch     string    `json:"epoch"`
	Hub       string    `json:"hub"`
	Recipient string    `json:"recipient"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// Roster is the roster version whose viewers the key was first wrapped to.
	Roster uint64 `json:"roster"`
}

// SignEpoch signs an announcement with the hub's key.
func SignEpoch(hub ed25519.PrivateKey, a EpochAnnouncement) ([]byte, error) {
	a.V = FormatVersion
	if _, err := ParseRecipient(a.Recipient); err != nil {
		return nil, err
	}
	return Sign(hub, TypeEpoch, a)
}

// VerifyEpoch checks an announcement against the hub's key.
func VerifyEpoch(signed []byte, hub ed25519.PublicKey) (*EpochAnnouncement, error) {
	return VerifyEpochFrom(signed, OnlySigner(hub))
}

// VerifyEpochFrom is VerifyEpoch for an announcement signed by any trusted
// signer. The announcement's Hub field must name its signer.
func VerifyEpochFrom(signed []byte, trusted Signers) (*EpochAnnouncement, error) {
	env, err := ParseSigned(signed, TypeEpoch)
	if err != nil {
		return nil, err
	}
	if err := verifyFrom(env, trusted); err != nil {
		return nil, err
	}
	var a EpochAnnouncement
	if err := env.Decode(&a); err != nil {
		return nil, err
	}
	if a.V != FormatVersion {
		return nil, fmt.Errorf("%w: epoch v%d", ErrVersion, a.V)
	}
	if a.Hub != env.Signer {
		return nil, fmt.Errorf("%w: epoch announcement names another hub", ErrMalformed)
	}
	return &a, nil
}

// EpochKey is the plaintext of an epoch-key wrap: the private half of an
// epoch, sealed to one device's recipient (or, later, the household's
// recovery key or a grant key).
type EpochKey struct {
	V         int    `json:"v"`
	Household string `json:"household"`
	Camera    string `json:"camera"`
	Epoch     string `json:"epoch"`
	Identity  string `json:"identity"` // AGE-SECRET-KEY-PQ-1…
}

// WrapEpochKey seals an epoch key to one recipient.
func WrapEpochKey(to age.Recipient, k EpochKey) ([]byte, error) {
	k.V = FormatVersion
	b, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	return SealTo(b, to)
}

// ParseEpochKey parses a wrap's plaintext.
func ParseEpochKey(plaintext []byte) (*EpochKey, error) {
	var k EpochKey
	if err := strictUnmarshal(plaintext, &k); err != nil {
		return nil, fmt.Errorf("%w: epoch key: %v", ErrMalformed, err)
	}
	if k.V != FormatVersion {
		return nil, fmt.Errorf("%w: epoch key v%d", ErrVersion, k.V)
	}
	return &k, nil
}

// CameraDescriptor says what a camera is called. The hub signs it and seals
// it to the household's owner devices; the service stores only the
// ciphertext, so camera names never reach it.
type CameraDescriptor struct {
	V         int       `json:"v"`
	Household string    `json:"household"`
	Camera    string    `json:"camera"`
	Hub       string    `json:"hub"`
	Name      string    `json:"name"`
	Created   time.Time `json:"created"`
}

// SealCamera signs d with the hub's key and seals it to the recipients.
func SealCamera(hub ed25519.PrivateKey, d CameraDescriptor, to ...age.Recipient) ([]byte, error) {
	d.V = FormatVersion
	signed, err := Sign(hub, TypeCamera, d)
	if err != nil {
		return nil, err
	}
	return SealTo(signed, to...)
}

// VerifyCamera checks a descriptor's plaintext against the hub's key.
func VerifyCamera(signed []byte, hub ed25519.PublicKey) (*CameraDescriptor, error) {
	env, err := ParseSigned(signed, TypeCamera)
	if err != nil {
		return nil, err
	}
	if err := env.Verify(hub); err != nil {
		return nil, err
	}
	var d CameraDescriptor
	if err := env.Decode(&d); err != nil {
		return nil, err
	}
	if d.V != FormatVersion || d.Hub != env.Signer {
		return nil, fmt.Errorf("%w: camera descriptor", ErrMalformed)
	}
	return &d, nil
}

// SegmentMagic starts the plaintext of every sealed segment.
const SegmentMagic = "porchlight.segment/v1\n"

// MaxSegmentHeader bounds a segment header line.
const MaxSegmentHeader = 4096

// SegmentHeader travels inside a sealed segment, ahead of the fMP4 bytes. It
// binds the media to its household, camera, epoch and sequence, so a
// misdelivered or swapped object is detected after decryption even before
// the manifest is consulted.
type SegmentHeader struct {
	V          int       `json:"v"`
	Household  string    `json:"household"`
	Camera     string    `json:"camera"`
	Epoch      string    `json:"epoch"`
	Seq        uint64    `json:"seq"`
	Start      time.Time `json:"start"`
	DurationMS int64     `json:"duration_ms"`
	Frames     int       `json:"frames"`
	Codec      string    `json:"codec"`
}

// SegmentPlaintext lays out a sealed segment's plaintext:
//
//	"porchlight.segment/v1\n" <header JSON, one line> "\n" <fMP4 bytes>
func SegmentPlaintext(h SegmentHeader, media []byte) ([]byte, error) {
	h.V = FormatVersion
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	if len(hb) > MaxSegmentHeader {
		return nil, fmt.Errorf("%w: segment header too large", ErrMalformed)
	}
	out := make([]byte, 0, len(SegmentMagic)+len(hb)+1+len(media))
	out = append(out, SegmentMagic...)
	out = append(out, hb...)
	out = append(out, '\n')
	return append(out, media...), nil
}

// SealSegment seals a segment to its epoch's recipient.
func SealSegment(epoch age.Recipient, h SegmentHeader, media []byte) ([]byte, error) {
	pt, err := SegmentPlaintext(h, media)
	if err != nil {
		return nil, err
	}
	return SealTo(pt, epoch)
}

// ParseSegmentPlaintext splits a decrypted segment into header and media.
func ParseSegmentPlaintext(pt []byte) (SegmentHeader, []byte, error) {
	var h SegmentHeader
	rest, ok := bytes.CutPrefix(pt, []byte(SegmentMagic))
	if !ok {
		if bytes.HasPrefix(pt, []byte("porchlight.segment/")) {
			return h, nil, fmt.Errorf("%w: segment", ErrVersion)
		}
		return h, nil, fmt.Errorf("%w: segment magic missing", ErrMalformed)
	}
	line, _, ok := bytes.Cut(rest[:min(len(rest), MaxSegmentHeader+1)], []byte{'\n'})
	if !ok {
		return h, nil, fmt.Errorf("%w: segment header unterminated", ErrMalformed)
	}
	media := rest[len(line)+1:]
	if err := strictUnmarshal(line, &h); err != nil {
		return h, nil, fmt.Errorf("%w: segment header: %v", ErrMalformed, err)
	}
	if h.V != FormatVersion {
		return h, nil, fmt.Errorf("%w: segment header v%d", ErrVersion, h.V)
	}
	return h, media, nil
}
