package auditlog

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// signer is a note.Signer that also knows its verifier key, so that Open
// needs no Config.VerifierKey for it.
type signer struct {
	note.Signer
	vkey string
}

func (s signer) VerifierKey() string { return s.vkey }

// maxKeyFile bounds the key file read: a note signer key is about 100 bytes.
const maxKeyFile = 4 << 10

// LoadOrCreateKey reads the checkpoint signer key (a note signer key,
// "PRIVATE+KEY+origin+hash+base64") at path, or, if there is no file,
// creates one with name origin: a new Ed25519 key written 0600 by temp file,
// fsync and link, then the directory is fsynced. Two processes racing to
// create it end up with the same key. It returns the signer (which Open
// accepts without Config.VerifierKey) and the verifier key text. A key made
// for another origin is an error: the origin is part of every checkpoint.
func LoadOrCreateKey(path, origin string) (note.Signer, string, error) {
	skey, err := readKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		skey, err = createKey(path, origin)
	}
	if err != nil {
		return nil, "", err
	}
	s, vkey, err := parseSignerKey(skey)
	if err != nil {
		return nil, "", fmt.Errorf("audit log key %s: %w", path, err)
	}
	if s.Name() != origin {
		return nil, "", fmt.Errorf("audit log key %s is for origin %q, not %q: use the origin it was made for, or move the key away to start a new log", path, s.Name(), origin)
	}
	return s, vkey, nil
}

func readKey(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return "", fmt.Errorf("read audit log key %s: %w", path, err)
	}
	if len(b) > maxKeyFile {
		return "", fmt.Errorf("audit log key %s is larger than %d bytes: it is not a key file", path, maxKeyFile)
	}
	return strings.TrimSpace(string(b)), nil
}

func createKey(path, origin string) (string, error) {
	skey, _, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return "", fmt.Errorf("generate audit log key for origin %q: %w", origin, err)
	}
	if _, _, err := parseSignerKey(skey); err != nil {
		return "", fmt.Errorf("audit log origin %q cannot name a key (no spaces or '+'): %w", origin, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create the audit log key's directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".auditlog-key-*")
	if err != nil {
		return "", fmt.Errorf("create audit log key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", fmt.Errorf("create audit log key: %w", err)
	}
	if _, err := tmp.WriteString(skey + "\n"); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write audit log key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("sync audit log key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write audit log key: %w", err)
	}
	// Link, not rename: if another process created the key meanwhile, keep
	// its key rather than replacing it.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKey(path)
		}
		return "", fmt.Errorf("install audit log key at %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return "", fmt.Errorf("sync the audit log key's directory: %w", err)
	}
	return skey, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// parseSignerKey makes a signer from a note signer key and derives its
// verifier key: the key's last field is the algorithm byte (1, Ed25519)
// and the 32-byte seed.
func parseSignerKey(skey string) (note.Signer, string, error) {
	ns, err := note.NewSigner(skey)
	if err != nil {
		return nil, "", fmt.Errorf("not a note signer key: %w", err)
	}
	// PRIVATE+KEY+<name>+<hash>+<base64>: the base64 may itself hold '+'.
	fields := strings.SplitN(skey, "+", 5)
	if len(fields) != 5 {
		return nil, "", errors.New("not an Ed25519 note signer key")
	}
	raw, err := base64.StdEncoding.DecodeString(fields[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return nil, "", errors.New("not an Ed25519 note signer key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(ns.Name(), pub)
	if err != nil {
		return nil, "", fmt.Errorf("derive the verifier key: %w", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil || v.KeyHash() != ns.KeyHash() {
		return nil, "", errors.New("the derived verifier key does not match the signer key")
	}
	return signer{Signer: ns, vkey: vkey}, vkey, nil
}
