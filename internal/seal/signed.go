package seal

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
)

// Types of signed envelopes. The type is part of what is signed, so a
// signature over a manifest can never pass as one over a roster.
const (
	TypeRoster   = "porchlight.roster"
	TypeManifest = "porchlight.manifest"
	TypeEpoch    = "porchlight.epoch"
	TypeCamera   = "porchlight.camera"
	TypeEvent    = "porchlight.event"
)

// MaxSigned bounds the size of a signed envelope.
const MaxSigned = 1 << 20

// Signed is the envelope of every signed Porchlight object:
//
//	{"v":1,"type":"porchlight.manifest","signer":"<KeyID>","body":"<base64>","sig":"<base64>"}
//
// Body holds the exact JSON bytes that were signed, so no canonical form is
// needed. The signature is Ed25519 over SignedMessage(type, body).
type Signed struct {
	V      int    `json:"v"`
	Type   string `json:"type"`
	Signer string `json:"signer"`
	Body   []byte `json:"body"`
	Sig    []byte `json:"sig"`
}

// SignedMessage is the domain-separated message an envelope's signature covers.
func SignedMessage(typ string, body []byte) []byte {
	m := make([]byte, 0, 32+len(typ)+len(body))
	m = append(m, "porchlight-signed-v1\x00"...)
	m = append(m, typ...)
	m = append(m, 0)
	return append(m, body...)
}

// Sign marshals body as JSON and returns the envelope signed by priv.
func Sign(priv ed25519.PrivateKey, typ string, body any) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", typ, err)
	}
	pub := priv.Public().(ed25519.PublicKey)
	env := Signed{
		V:      FormatVersion,
		Type:   typ,
		Signer: KeyID(pub),
		Body:   b,
		Sig:    ed25519.Sign(priv, SignedMessage(typ, b)),
	}
	return json.Marshal(env)
}

// ParseSigned parses an envelope of the given type. It checks the shape
// only; call Verify with the signer's key before trusting the body.
func ParseSigned(data []byte, typ string) (*Signed, error) {
	if len(data) > MaxSigned {
		return nil, fmt.Errorf("%w: signed envelope larger than %d bytes", ErrMalformed, MaxSigned)
	}
	var s Signed
	if err := strictUnmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%w: signed envelope: %v", ErrMalformed, err)
	}
	if s.V != FormatVersion {
		return nil, fmt.Errorf("%w: signed envelope v%d", ErrVersion, s.V)
	}
	if s.Type != typ {
		return nil, fmt.Errorf("%w: envelope is a %q, want %q", ErrMalformed, s.Type, typ)
	}
	if len(s.Sig) != ed25519.SignatureSize || !ValidID(s.Signer) || len(s.Body) == 0 {
		return nil, fmt.Errorf("%w: signed envelope missing signer, body or signature", ErrMalformed)
	}
	return &s, nil
}

// Verify checks the envelope's signature against pub, and that pub is the
// key the envelope names as its signer.
func (s *Signed) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize || KeyID(pub) != s.Signer {
		return fmt.Errorf("%w: signed by %s, not by the expected key", ErrSignature, s.Signer)
	}
	if !ed25519.Verify(pub, SignedMessage(s.Type, s.Body), s.Sig) {
		return fmt.Errorf("%w: %s from %s", ErrSignature, s.Type, s.Signer)
	}
	return nil
}

// Decode unmarshals the body strictly (unknown fields are an error).
func (s *Signed) Decode(v any) error {
	if err := strictUnmarshal(s.Body, v); err != nil {
		return fmt.Errorf("%w: %s body: %v", ErrMalformed, s.Type, err)
	}
	return nil
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}
