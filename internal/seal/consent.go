package seal

import (
	"crypto/ed25519"
	"fmt"
	"time"
)

// TypeConsent is the signed envelope type of a donation's consent record.
const TypeConsent = "porchlight.consent"

// MaxRetentionDays bounds a campaign's retention (and so a consent's).
const MaxRetentionDays = 3650

// Consent is what an owner device signs to donate one redacted clip to one
// annotation campaign: the campaign's id, key, purpose, organisation,
// country and retention exactly as the owner was shown them, the clip
// (camera, optional event, time range) and the redaction job whose result
// becomes the campaign copy. ID is the consent id every label and exported
// sample carries. The service accepts a copy into a campaign only with a
// consent that verifies against the household's roster and names this
// campaign, its recipient and that job.
type Consent struct {
	V             int       `json:"v"`
	ID            string    `json:"id"`
	Household     string    `json:"household"`
	Campaign      string    `json:"campaign"`
	Recipient     string    `json:"recipient"` // the campaign key, age1pq…
	Purpose       string    `json:"purpose"`
	Org           string    `json:"org"`
	Country       string    `json:"country"`
	RetentionDays int       `json:"retention_days"`
	Camera        string    `json:"camera"`
	Event         string    `json:"event,omitempty"`
	From          time.Time `json:"from"`
	To            time.Time `json:"to"`
	Job           string    `json:"job"` // the redaction job (seal.RedactJob ID)
	Created       time.Time `json:"created"`
}

func (c *Consent) check() error {
	if c.V != FormatVersion {
		return fmt.Errorf("%w: consent v%d", ErrVersion, c.V)
	}
	if !ValidID(c.ID) || !ValidID(c.Household) || !ValidID(c.Campaign) || !ValidID(c.Camera) || !ValidID(c.Job) {
		return fmt.Errorf("%w: consent needs an id, household, campaign, camera and job", ErrMalformed)
	}
	if c.Event != "" && !ValidID(c.Event) {
		return fmt.Errorf("%w: consent event id", ErrMalformed)
	}
	if _, err := ParseRecipient(c.Recipient); err != nil {
		return fmt.Errorf("%w: consent recipient: %v", ErrMalformed, err)
	}
	if c.Purpose == "" || c.Org == "" || len(c.Country) != 2 {
		return fmt.Errorf("%w: consent needs the campaign's purpose, organisation and country", ErrMalformed)
	}
	if c.RetentionDays < 1 || c.RetentionDays > MaxRetentionDays {
		return fmt.Errorf("%w: consent retention of %d days", ErrMalformed, c.RetentionDays)
	}
	if c.From.IsZero() || !c.To.After(c.From) || c.Created.IsZero() {
		return fmt.Errorf("%w: consent needs from < to and a creation time", ErrMalformed)
	}
	return nil
}

// SignConsent checks c and signs it with an owner device's key.
func SignConsent(priv ed25519.PrivateKey, c Consent) ([]byte, error) {
	c.V = FormatVersion
	if err := c.check(); err != nil {
		return nil, err
	}
	return Sign(priv, TypeConsent, c)
}

// VerifyConsent checks a signed consent against a household's verified
// current roster: the signer must be an owner device (or the recovery
// identity) listed in it, and the consent must be for that household. A
// consent signed by a member, a removed device or the service is
// ErrSignature.
func VerifyConsent(signed []byte, r *Roster) (*Consent, error) {
	env, err := ParseSigned(signed, TypeConsent)
	if err != nil {
		return nil, err
	}
	signer := r.Entry(env.Signer)
	if signer == nil || !signer.MaySign() {
		return nil, fmt.Errorf("%w: consent signed by %s, not an owner device of the household's roster", ErrSignature, env.Signer)
	}
	if err := env.Verify(signer.Sign); err != nil {
		return nil, err
	}
	var c Consent
	if err := env.Decode(&c); err != nil {
		return nil, err
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	if c.Household != r.Household {
		return nil, fmt.Errorf("%w: consent for another household", ErrSignature)
	}
	return &c, nil
}

// ParseConsent decodes a signed consent without verifying its signature:
// for annotators and exports, which carry the consent id but have no
// roster. Never trust it for a decision the service makes.
func ParseConsent(signed []byte) (*Consent, error) {
	env, err := ParseSigned(signed, TypeConsent)
	if err != nil {
		return nil, err
	}
	var c Consent
	if err := env.Decode(&c); err != nil {
		return nil, err
	}
	return &c, c.check()
}
