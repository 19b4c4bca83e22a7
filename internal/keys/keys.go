// Package keys holds client-side private keys and everything that needs
// them: device and hub key pairs, their key files, and opening sealed
// objects (unwrapping epoch keys, decrypting manifests, segments and camera
// descriptors, then verifying them).
//
// porchlightd must never import this package (a dependency test enforces
// it): the service is trusted with availability, never with confidentiality.
package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/seal"
)

// FileVersion is the version of the key file format.
const FileVersion = 1

// ErrNoKey means the key file does not exist: the device has not been set up
// (run `porchlight signup` or `porchlight login` first).
var ErrNoKey = errors.New("no key file")

// Pair is a device's or hub's key pair: a hybrid (ML-KEM-768 + X25519) age
// identity to receive wrapped keys, and an Ed25519 key to sign.
type Pair struct {
	ID   string // seal.KeyID of the signing key
	Name string
	KEM  *age.HybridIdentity
	Sign ed25519.PrivateKey
}

// Generate makes a fresh key pair.
func Generate(name string) (*Pair, error) {
	kem, err := age.GenerateHybridIdentity()
	if err != nil {
		return nil, fmt.Errorf("generate kem key: %w", err)
	}
	_, sign, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	return &Pair{ID: seal.KeyID(sign.Public().(ed25519.PublicKey)), Name: name, KEM: kem, Sign: sign}, nil
}

// SignPub returns the Ed25519 public key.
func (p *Pair) SignPub() ed25519.PublicKey { return p.Sign.Public().(ed25519.PublicKey) }

// Recipient returns the age1pq… recipient string.
func (p *Pair) Recipient() string { return p.KEM.Recipient().String() }

// file is the on-disk form of a Pair: JSON, mode 0600.
type file struct {
	V    int    `json:"v"`
	ID   string `json:"id"`
	Name string `json:"name"`
	KEM  string `json:"kem"`  // AGE-SECRET-KEY-PQ-1…
	Sign []byte `json:"sign"` // Ed25519 seed
}

// Save writes the pair to path with mode 0600, atomically.
func (p *Pair) Save(path string) error {
	b, err := json.MarshalIndent(file{V: FileVersion, ID: p.ID, Name: p.Name, KEM: p.KEM.String(), Sign: p.Sign.Seed()}, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, append(b, '\n'), 0o600)
}

// Load reads a key file written by Save.
func Load(path string) (*Pair, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s", ErrNoKey, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	var f file
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if f.V != FileVersion {
		return nil, fmt.Errorf("key file %s: %w v%d", path, seal.ErrVersion, f.V)
	}
	kem, err := age.ParseHybridIdentity(f.KEM)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if len(f.Sign) != ed25519.SeedSize {
		return nil, fmt.Errorf("key file %s: bad signing key", path)
	}
	sign := ed25519.NewKeyFromSeed(f.Sign)
	p := &Pair{ID: seal.KeyID(sign.Public().(ed25519.PublicKey)), Name: f.Name, KEM: kem, Sign: sign}
	if p.ID != f.ID {
		return nil, fmt.Errorf("key file %s: id does not match the key", path)
	}
	return p, nil
}

// LoadOrGenerate loads the key file at path, or, if there is none, makes a
// new pair named name and saves it there. created reports which happened.
func LoadOrGenerate(path, name string) (p *Pair, created bool, err error) {
	p, err = Load(path)
	if err == nil || !errors.Is(err, ErrNoKey) {
		return p, false, err
	}
	if p, err = Generate(name); err != nil {
		return nil, false, err
	}
	if err := p.Save(path); err != nil {
		return nil, false, fmt.Errorf("save key file: %w", err)
	}
	return p, true, nil
}

// WriteFileAtomic writes data to a temp file in path's directory, fsyncs
// it, renames it over path and fsyncs the directory.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// MaxOpen bounds the plaintext Decrypt reads (a segment is a few MiB).
const MaxOpen = 256 << 20

// Decrypt opens an age file with the given identities.
func Decrypt(ciphertext []byte, ids ...age.Identity) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(ciphertext), ids...)
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxOpen+1))
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	if len(b) > MaxOpen {
		return nil, fmt.Errorf("decrypt: plaintext larger than %d bytes", MaxOpen)
	}
	return b, nil
}

// OpenEpochKey unwraps an epoch key with the device's identity and checks it
// against the hub-signed announcement: the unwrapped key must be the one the
// hub announced for that household, camera and epoch.
func (p *Pair) OpenEpochKey(wrap []byte, ann *seal.EpochAnnouncement) (*age.HybridIdentity, error) {
	pt, err := Decrypt(wrap, p.KEM)
	if err != nil {
		return nil, fmt.Errorf("unwrap epoch %s: %w", ann.Epoch, err)
	}
	k, err := seal.ParseEpochKey(pt)
	if err != nil {
		return nil, err
	}
	if k.Household != ann.Household || k.Camera != ann.Camera || k.Epoch != ann.Epoch {
		return nil, fmt.Errorf("epoch key %s: %w: wrap is for another epoch", ann.Epoch, seal.ErrMalformed)
	}
	id, err := age.ParseHybridIdentity(k.Identity)
	if err != nil {
		return nil, fmt.Errorf("epoch key %s: %w", ann.Epoch, err)
	}
	if id.Recipient().String() != ann.Recipient {
		return nil, fmt.Errorf("epoch key %s: %w: key does not match the hub's announcement", ann.Epoch, seal.ErrSignature)
	}
	return id, nil
}

// OpenSegment decrypts a sealed segment and splits header and media.
func OpenSegment(ciphertext []byte, epoch age.Identity) (seal.SegmentHeader, []byte, error) {
	pt, err := Decrypt(ciphertext, epoch)
	if err != nil {
		return seal.SegmentHeader{}, nil, err
	}
	return seal.ParseSegmentPlaintext(pt)
}

// OpenManifest decrypts and verifies a manifest.
func OpenManifest(ciphertext []byte, epoch age.Identity, hub ed25519.PublicKey, household, camera, epochID string) (*seal.Manifest, error) {
	pt, err := Decrypt(ciphertext, epoch)
	if err != nil {
		return nil, err
	}
	return seal.VerifyManifest(pt, hub, household, camera, epochID)
}

// OpenCamera decrypts and verifies a camera descriptor.
func (p *Pair) OpenCamera(ciphertext []byte, hub ed25519.PublicKey) (*seal.CameraDescriptor, error) {
	pt, err := Decrypt(ciphertext, p.KEM)
	if err != nil {
		return nil, err
	}
	return seal.VerifyCamera(pt, hub)
}
