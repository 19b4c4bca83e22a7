package seal

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"filippo.io/age"
)

// TypeCameraSettings is the signed type of a camera's settings.
const TypeCameraSettings = "porchlight.camera-settings"

// Limits of CameraSettings, so a hub never parses an unbounded document.
const (
	MaxZones      = 16
	MaxZonePoints = 32
	MaxZoneName   = 64
	// MaxSettings bounds the sealed settings object.
	MaxSettings = 64 << 10
)

// CameraSettings is what an owner sets for a camera from a client: today
// its alerting zones. An owner device signs it and seals it to the
// camera's hub and every owner device, so the service stores a layout of
// the home it cannot read, and a hub applies only what an owner of its
// verified roster signed. Version increases with every change; a hub and
// the service refuse a version not newer than the one they hold, so an
// old copy cannot be replayed.
type CameraSettings struct {
	V         int            `json:"v"`
	Household string         `json:"household"`
	Camera    string         `json:"camera"`
	Version   uint64         `json:"version"`
	Zones     []SettingsZone `json:"zones"`
	Created   time.Time      `json:"created"`
}

// SettingsZone is one alerting zone: a polygon in frame coordinates (0..1,
// x right, y down) and the classes that alert in it. An object is in the
// zone when the bottom centre of its box is.
type SettingsZone struct {
	Name    string       `json:"name"`
	Points  [][2]float32 `json:"points"`
	Classes []string     `json:"classes"`
}

// Check reports the first problem with s's zones, as a sentence an owner
// can act on.
func (s *CameraSettings) Check() error {
	if len(s.Zones) > MaxZones {
		return fmt.Errorf("%w: %d zones, at most %d", ErrMalformed, len(s.Zones), MaxZones)
	}
	seen := map[string]bool{}
	for _, z := range s.Zones {
		if z.Name == "" || len(z.Name) > MaxZoneName {
			return fmt.Errorf("%w: a zone needs a name of 1 to %d bytes", ErrMalformed, MaxZoneName)
		}
		if seen[z.Name] {
			return fmt.Errorf("%w: two zones are named %q", ErrMalformed, z.Name)
		}
		seen[z.Name] = true
		if len(z.Points) < 3 || len(z.Points) > MaxZonePoints {
			return fmt.Errorf("%w: zone %q: a polygon needs 3 to %d points", ErrMalformed, z.Name, MaxZonePoints)
		}
		for _, p := range z.Points {
			if !(p[0] >= 0 && p[0] <= 1 && p[1] >= 0 && p[1] <= 1) {
				return fmt.Errorf("%w: zone %q: coordinates go from 0 to 1", ErrMalformed, z.Name)
			}
		}
		if len(z.Classes) == 0 {
			return fmt.Errorf("%w: zone %q: name at least one class that alerts in it", ErrMalformed, z.Name)
		}
		for _, c := range z.Classes {
			switch c {
			case "person", "animal", "vehicle":
			default:
				return fmt.Errorf("%w: zone %q: class %q: want person, animal or vehicle", ErrMalformed, z.Name, c)
			}
		}
	}
	return nil
}

// SealCameraSettings checks s, signs it with an owner device's key and
// seals it to the recipients (the camera's hub and the owner devices).
func SealCameraSettings(owner ed25519.PrivateKey, s CameraSettings, to ...age.Recipient) ([]byte, error) {
	s.V = FormatVersion
	if err := s.Check(); err != nil {
		return nil, err
	}
	if s.Version == 0 {
		return nil, fmt.Errorf("%w: camera settings start at version 1", ErrMalformed)
	}
	signed, err := Sign(owner, TypeCameraSettings, s)
	if err != nil {
		return nil, err
	}
	return SealTo(signed, to...)
}

// VerifyCameraSettings checks settings' plaintext: signed by a key signers
// trusts (an owner device of the verifier's roster), of the household and
// camera asked for, and well formed.
func VerifyCameraSettings(signed []byte, signers Signers, household, camera string) (*CameraSettings, error) {
	env, err := ParseSigned(signed, TypeCameraSettings)
	if err != nil {
		return nil, err
	}
	pub := signers(env.Signer)
	if pub == nil {
		return nil, fmt.Errorf("%w: camera settings signed by %s, not an owner device of the roster", ErrSignature, env.Signer)
	}
	if err := env.Verify(pub); err != nil {
		return nil, err
	}
	var s CameraSettings
	if err := env.Decode(&s); err != nil {
		return nil, err
	}
	if s.V != FormatVersion {
		return nil, fmt.Errorf("%w: camera settings v%d", ErrVersion, s.V)
	}
	if s.Household != household || s.Camera != camera {
		return nil, fmt.Errorf("%w: camera settings are for camera %s of household %s", ErrMalformed, s.Camera, s.Household)
	}
	if s.Version == 0 {
		return nil, fmt.Errorf("%w: camera settings version 0", ErrMalformed)
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	return &s, nil
}
