package seal

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"time"
)

// MaxRecoveryKit bounds the sealed recovery kit the service stores: an age
// scrypt file of a RecoveryKit is well under 1 KiB.
const MaxRecoveryKit = 16 << 10

// RecoveryKit is the plaintext of a household's recovery kit: the private
// halves of its recovery identity, the roster entry with RoleRecovery. It
// is sealed with age's scrypt recipient to the owner's recovery passphrase
// (internal/keys does both directions) and stored at the service, which
// cannot open it. See docs/formats.md.
type RecoveryKit struct {
	V         int       `json:"v"`
	Household string    `json:"household"`
	Root      []byte    `json:"root"` // Ed25519 key that signed roster version 1: what a recovering device pins
	ID        string    `json:"id"`   // KeyID of the signing key; the roster entry's id
	KEM       string    `json:"kem"`  // AGE-SECRET-KEY-PQ-1… hybrid identity
	Sign      []byte    `json:"sign"` // Ed25519 seed
	Created   time.Time `json:"created"`
}

// MarshalRecoveryKit checks k and encodes it as the kit's plaintext.
func MarshalRecoveryKit(k RecoveryKit) ([]byte, error) {
	k.V = FormatVersion
	if err := k.check(); err != nil {
		return nil, err
	}
	return json.Marshal(k)
}

// ParseRecoveryKit parses and checks a kit's plaintext. It does not parse
// the KEM identity (internal/keys does).
func ParseRecoveryKit(plaintext []byte) (*RecoveryKit, error) {
	var k RecoveryKit
	if err := strictUnmarshal(plaintext, &k); err != nil {
		return nil, fmt.Errorf("%w: recovery kit: %v", ErrMalformed, err)
	}
	if k.V != FormatVersion {
		return nil, fmt.Errorf("%w: recovery kit v%d", ErrVersion, k.V)
	}
	if err := k.check(); err != nil {
		return nil, err
	}
	return &k, nil
}

func (k *RecoveryKit) check() error {
	if !ValidID(k.Household) {
		return fmt.Errorf("%w: recovery kit needs a household id", ErrMalformed)
	}
	if len(k.Root) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: recovery kit: bad household root key", ErrMalformed)
	}
	if len(k.Sign) != ed25519.SeedSize {
		return fmt.Errorf("%w: recovery kit: bad signing key", ErrMalformed)
	}
	if KeyID(ed25519.NewKeyFromSeed(k.Sign).Public().(ed25519.PublicKey)) != k.ID {
		return fmt.Errorf("%w: recovery kit: id does not match its signing key", ErrMalformed)
	}
	if k.KEM == "" {
		return fmt.Errorf("%w: recovery kit: no KEM identity", ErrMalformed)
	}
	return nil
}
