// Package softauthn is a software WebAuthn authenticator and client for
// tests: it answers the options of navigator.credentials.create and .get
// ({"publicKey": …} JSON, as the service sends them) with the
// PublicKeyCredential JSON a browser would send back. Keys are ECDSA P-256
// (COSE alg -7), attestation is "none", authenticator data carries the RP
// id hash, flags, a sign counter and, on creation, the attested credential
// data.
//
// It exists to drive the service's passkey flows end to end; it is not an
// authenticator to protect anything with (keys live in memory, user
// presence and verification are simply asserted). Its knobs (Origin,
// RPIDHash override, flags, sign counts) let tests forge the mistakes and
// attacks the service must refuse.
package softauthn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// Authenticator flags (WebAuthn §6.1).
const (
	FlagUP byte = 0x01 // user present
	FlagUV byte = 0x04 // user verified
	FlagBE byte = 0x08 // backup eligible
	FlagBS byte = 0x10 // backed up
	FlagAT byte = 0x40 // attested credential data included
)

// coseES256 is the COSE algorithm id of ECDSA P-256 with SHA-256.
const coseES256 = -7

// Credential is one key pair the authenticator holds.
type Credential struct {
	ID         []byte
	RPID       string
	UserHandle []byte
	Key        *ecdsa.PrivateKey
	// SignCount is the counter of the last signature; the next one uses
	// SignCount+1. Lower it to act like a cloned authenticator.
	SignCount uint32
}

// Authenticator is a platform authenticator together with the browser
// around it. The zero value is not usable: call New.
type Authenticator struct {
	// Origin is what the "browser" puts in clientDataJSON, e.g.
	// "http://localhost:8080".
	Origin string
	// RPID, if set, replaces the rp id the options name when computing the
	// RP id hash (an authenticator talked into the wrong relying party).
	RPID string
	// Flags are the flags of every answer (AT is added on creation). They
	// default to UP|UV.
	Flags byte
	// AAGUID identifies the authenticator model; zero by default.
	AAGUID [16]byte

	mu    sync.Mutex
	creds []*Credential
}

// New returns an authenticator for pages of origin.
func New(origin string) *Authenticator {
	return &Authenticator{Origin: origin, Flags: FlagUP | FlagUV}
}

// Credentials returns the credentials created so far, oldest first.
func (a *Authenticator) Credentials() []*Credential {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*Credential(nil), a.creds...)
}

// b64 decodes base64url with or without padding (and tolerates standard
// base64, as some servers send it).
type b64 []byte

func (b *b64) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	v, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("decode base64url: %w", err)
	}
	*b = v
	return nil
}

func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

type descriptor struct {
	Type string `json:"type"`
	ID   b64    `json:"id"`
}

type creationOptions struct {
	PublicKey struct {
		RP struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"rp"`
		User struct {
			ID   b64    `json:"id"`
			Name string `json:"name"`
		} `json:"user"`
		Challenge        json.RawMessage `json:"challenge"`
		PubKeyCredParams []struct {
			Type string `json:"type"`
			Alg  int    `json:"alg"`
		} `json:"pubKeyCredParams"`
		ExcludeCredentials []descriptor `json:"excludeCredentials"`
	} `json:"publicKey"`
}

type requestOptions struct {
	PublicKey struct {
		Challenge        json.RawMessage `json:"challenge"`
		RPID             string          `json:"rpId"`
		AllowCredentials []descriptor    `json:"allowCredentials"`
	} `json:"publicKey"`
}

// ErrNoCredential means the authenticator has no credential the options
// allow (the browser would show "no passkey for this site").
var ErrNoCredential = errors.New("no matching credential")

// ErrExcluded means the options exclude a credential the authenticator
// already holds (the browser refuses to create a second one).
var ErrExcluded = errors.New("a credential for this account is already registered here")

// clientData builds clientDataJSON. challenge is the JSON string exactly as
// the options carried it (base64url of the challenge bytes).
func (a *Authenticator) clientData(typ string, challenge json.RawMessage) ([]byte, error) {
	var ch string
	if err := json.Unmarshal(challenge, &ch); err != nil || ch == "" {
		return nil, errors.New("options carry no challenge")
	}
	return json.Marshal(struct {
		Type        string `json:"type"`
		Challenge   string `json:"challenge"`
		Origin      string `json:"origin"`
		CrossOrigin bool   `json:"crossOrigin"`
	}{typ, strings.TrimRight(ch, "="), a.Origin, false})
}

func (a *Authenticator) rpIDHash(rpID string) []byte {
	if a.RPID != "" {
		rpID = a.RPID
	}
	h := sha256.Sum256([]byte(rpID))
	return h[:]
}

// Create answers creation options (navigator.credentials.create) with a new
// credential and returns the PublicKeyCredential JSON.
func (a *Authenticator) Create(options []byte) (json.RawMessage, *Credential, error) {
	var o creationOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, nil, fmt.Errorf("decode creation options: %w", err)
	}
	pk := o.PublicKey
	if pk.RP.ID == "" {
		return nil, nil, errors.New("creation options name no rp id")
	}
	es256 := false
	for _, p := range pk.PubKeyCredParams {
		es256 = es256 || (p.Type == "public-key" && p.Alg == coseES256)
	}
	if !es256 {
		return nil, nil, errors.New("creation options do not allow ES256")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, d := range pk.ExcludeCredentials {
		for _, c := range a.creds {
			if string(c.ID) == string(d.ID) {
				return nil, nil, ErrExcluded
			}
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	cred := &Credential{ID: id, RPID: pk.RP.ID, UserHandle: pk.User.ID, Key: key}

	cdj, err := a.clientData("webauthn.create", pk.Challenge)
	if err != nil {
		return nil, nil, err
	}
	cose, err := coseKey(&key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	ad := a.authData(pk.RP.ID, a.Flags|FlagAT, cred.SignCount)
	ad = append(ad, a.AAGUID[:]...)
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(id)))
	ad = append(ad, id...)
	ad = append(ad, cose...)
	attObj, err := cbor.Marshal(struct {
		Fmt      string         `cbor:"fmt"`
		AttStmt  map[string]any `cbor:"attStmt"`
		AuthData []byte         `cbor:"authData"`
	}{"none", map[string]any{}, ad})
	if err != nil {
		return nil, nil, fmt.Errorf("encode attestation object: %w", err)
	}
	resp, err := json.Marshal(map[string]any{
		"id":    enc(id),
		"rawId": enc(id),
		"type":  "public-key",
		"response": map[string]any{
			"clientDataJSON":    enc(cdj),
			"attestationObject": enc(attObj),
			"transports":        []string{"internal"},
		},
		"authenticatorAttachment": "platform",
		"clientExtensionResults":  map[string]any{},
	})
	if err != nil {
		return nil, nil, err
	}
	a.creds = append(a.creds, cred)
	return resp, cred, nil
}

// Get answers request options (navigator.credentials.get): with an allow
// list, the first listed credential it holds; without (a discoverable
// login), its newest credential for the rp id.
func (a *Authenticator) Get(options []byte) (json.RawMessage, error) {
	var o requestOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("decode request options: %w", err)
	}
	pk := o.PublicKey
	a.mu.Lock()
	defer a.mu.Unlock()
	var cred *Credential
	if len(pk.AllowCredentials) > 0 {
	search:
		for _, d := range pk.AllowCredentials {
			for _, c := range a.creds {
				if string(c.ID) == string(d.ID) && c.RPID == pk.RPID {
					cred = c
					break search
				}
			}
		}
	} else {
		for _, c := range a.creds {
			if c.RPID == pk.RPID {
				cred = c
			}
		}
	}
	if cred == nil {
		return nil, ErrNoCredential
	}
	return a.assert(cred, pk.RPID, pk.Challenge)
}

// Assert signs an assertion with cred for rpID and the challenge of
// options regardless of any allow list: what a client holding a stolen or
// unrelated credential could send.
func (a *Authenticator) Assert(cred *Credential, options []byte) (json.RawMessage, error) {
	var o requestOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("decode request options: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.assert(cred, o.PublicKey.RPID, o.PublicKey.Challenge)
}

func (a *Authenticator) assert(cred *Credential, rpID string, challenge json.RawMessage) (json.RawMessage, error) {
	cdj, err := a.clientData("webauthn.get", challenge)
	if err != nil {
		return nil, err
	}
	cred.SignCount++
	ad := a.authData(rpID, a.Flags, cred.SignCount)
	cdh := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(append([]byte(nil), ad...), cdh[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, cred.Key, digest[:])
	if err != nil {
		return nil, fmt.Errorf("sign assertion: %w", err)
	}
	return json.Marshal(map[string]any{
		"id":    enc(cred.ID),
		"rawId": enc(cred.ID),
		"type":  "public-key",
		"response": map[string]any{
			"clientDataJSON":    enc(cdj),
			"authenticatorData": enc(ad),
			"signature":         enc(sig),
			"userHandle":        enc(cred.UserHandle),
		},
		"authenticatorAttachment": "platform",
		"clientExtensionResults":  map[string]any{},
	})
}

// authData is the fixed part of authenticator data: RP id hash, flags and
// the big-endian sign counter.
func (a *Authenticator) authData(rpID string, flags byte, count uint32) []byte {
	ad := append(a.rpIDHash(rpID), flags)
	return binary.BigEndian.AppendUint32(ad, count)
}

// coseKey encodes an EC2 P-256 public key as a COSE_Key (RFC 9053):
// {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}.
func coseKey(pub *ecdsa.PublicKey) ([]byte, error) {
	raw, err := pub.Bytes() // 0x04 || x || y
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		return nil, err
	}
	b, err := em.Marshal(map[int]any{1: 2, 3: coseES256, -1: 1, -2: raw[1:33], -3: raw[33:65]})
	if err != nil {
		return nil, fmt.Errorf("encode COSE key: %w", err)
	}
	return b, nil
}

// Tamper flips the lowest bit of the last byte of the named base64url
// field of a credential's "response" object (e.g. "signature": the
// signature stays well-formed DER but no longer verifies), returning the
// altered JSON.
func Tamper(credential json.RawMessage, field string) (json.RawMessage, error) {
	var m map[string]any
	if err := json.Unmarshal(credential, &m); err != nil {
		return nil, err
	}
	resp, ok := m["response"].(map[string]any)
	if !ok {
		return nil, errors.New("credential has no response object")
	}
	s, ok := resp[field].(string)
	if !ok {
		return nil, fmt.Errorf("credential response has no %q", field)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("decode %s: %w", field, err)
	}
	b[len(b)-1] ^= 0x01
	resp[field] = enc(b)
	return json.Marshal(m)
}
