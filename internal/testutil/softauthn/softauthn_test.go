package softauthn_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/porchlight/porchlight/internal/testutil/softauthn"
)

type user struct {
	id    []byte
	creds []webauthn.Credential
}

func (u *user) WebAuthnID() []byte                         { return u.id }
func (u *user) WebAuthnName() string                       { return "someone@example.org" }
func (u *user) WebAuthnDisplayName() string                { return "someone" }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

const origin = "https://cams.example"

func relyingParty(t *testing.T) *webauthn.WebAuthn {
	t.Helper()
	wa, err := webauthn.New(&webauthn.Config{RPID: "cams.example", RPDisplayName: "Test", RPOrigins: []string{origin}})
	if err != nil {
		t.Fatal(err)
	}
	return wa
}

// register creates a credential through the library's own checks.
func register(t *testing.T, wa *webauthn.WebAuthn, a *softauthn.Authenticator, u *user) {
	t.Helper()
	creation, sd, err := wa.BeginRegistration(u)
	if err != nil {
		t.Fatal(err)
	}
	opts, _ := json.Marshal(creation)
	resp, _, err := a.Create(opts)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(resp)
	if err != nil {
		t.Fatalf("parse creation: %v", err)
	}
	cred, err := wa.CreateCredential(u, *sd, parsed)
	if err != nil {
		t.Fatalf("create credential: %v", webauthnErr(err))
	}
	if !cred.Flags.UserVerified || cred.AttestationFormat != "none" {
		t.Errorf("credential = %+v", cred)
	}
	u.creds = append(u.creds, *cred)
}

func webauthnErr(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Details + ": " + pe.DevInfo
	}
	return err.Error()
}

// TestAgainstLibrary checks the authenticator's output with
// go-webauthn itself: registration, an assertion with an allow list, a
// discoverable one, and the forgeries the library must refuse.
func TestAgainstLibrary(t *testing.T) {
	wa := relyingParty(t)
	a := softauthn.New(origin)
	u := &user{id: []byte("account-1")}
	register(t, wa, a, u)

	login := func(t *testing.T, mutate func(opts []byte) (json.RawMessage, error)) error {
		t.Helper()
		assertion, sd, err := wa.BeginLogin(u)
		if err != nil {
			t.Fatal(err)
		}
		opts, _ := json.Marshal(assertion)
		resp, err := mutate(opts)
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		parsed, err := protocol.ParseCredentialRequestResponseBytes(resp)
		if err != nil {
			return err
		}
		cred, err := wa.ValidateLogin(u, *sd, parsed)
		if err != nil {
			return err
		}
		if cred.Authenticator.CloneWarning {
			return errors.New("clone warning")
		}
		u.creds[0] = *cred
		return nil
	}
	if err := login(t, a.Get); err != nil {
		t.Fatalf("login: %v", webauthnErr(err))
	}
	if got := u.creds[0].Authenticator.SignCount; got != 1 {
		t.Errorf("sign count = %d, want 1", got)
	}

	// Discoverable.
	assertion, sd, err := wa.BeginDiscoverableLogin()
	if err != nil {
		t.Fatal(err)
	}
	opts, _ := json.Marshal(assertion)
	resp, err := a.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(resp)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := wa.ValidatePasskeyLogin(func(rawID, handle []byte) (webauthn.User, error) { return u, nil }, *sd, parsed); err != nil {
		t.Fatalf("discoverable login: %v", webauthnErr(err))
	}

	refused := []struct {
		name   string
		mutate func(opts []byte) (json.RawMessage, error)
	}{
		{"tampered signature", func(opts []byte) (json.RawMessage, error) {
			r, err := a.Get(opts)
			if err != nil {
				return nil, err
			}
			return softauthn.Tamper(r, "signature")
		}},
		{"wrong origin", func(opts []byte) (json.RawMessage, error) {
			b := softauthn.New("https://evil.example")
			b.Flags = a.Flags
			return b.Assert(a.Credentials()[0], opts)
		}},
		{"wrong rp id", func(opts []byte) (json.RawMessage, error) {
			b := softauthn.New(origin)
			b.RPID = "evil.example"
			return b.Assert(a.Credentials()[0], opts)
		}},
		{"unknown credential", func(opts []byte) (json.RawMessage, error) {
			other := softauthn.New(origin)
			register(t, relyingParty(t), other, &user{id: []byte("account-2")})
			return other.Assert(other.Credentials()[0], opts)
		}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			err := login(t, tc.mutate)
			if err == nil {
				t.Fatal("accepted")
			}
			t.Logf("refused: %s", webauthnErr(err))
		})
	}
	t.Run("cloned", func(t *testing.T) {
		a.Credentials()[0].SignCount = 0
		if err := login(t, a.Get); err == nil {
			t.Error("accepted a sign count that went back")
		}
	})
	t.Run("excluded", func(t *testing.T) {
		creation, _, err := wa.BeginRegistration(u, webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()))
		if err != nil {
			t.Fatal(err)
		}
		opts, _ := json.Marshal(creation)
		if _, _, err := a.Create(opts); !errors.Is(err, softauthn.ErrExcluded) {
			t.Errorf("create = %v, want ErrExcluded", err)
		}
	})
}
