package keys

import (
	"crypto/cipher"
	"errors"
	"fmt"

	"github.com/porchlight/porchlight/internal/seal"
)

// ErrLiveStream means a live message was out of order, replayed, altered or
// of another session. The stream cannot be trusted any further: close it and
// open a new live session.
var ErrLiveStream = errors.New("live stream broken")

// LiveWant is what a viewer asked for: a hello naming anything else is
// refused.
type LiveWant struct {
	Household string
	Camera    string
	Session   string // the live session id the service answered
	Device    string // this device's id
}

// LiveReceiver opens one live session's binary messages, in order. After
// any error it refuses every later message (ErrLiveStream). It is not safe
// for concurrent use.
type LiveReceiver struct {
	aead   cipher.AEAD
	aad    []byte
	next   uint64
	broken error
}

// OpenLiveHello verifies a live hello (signed by a key trusted returns: the
// camera's hub from the device's verified roster), checks it is for want,
// and unwraps the session key with the device's identity.
func OpenLiveHello(msg []byte, trusted seal.Signers, dev *Pair, want LiveWant) (*LiveReceiver, *seal.LiveHello, error) {
	h, err := seal.VerifyLiveHello(msg, trusted)
	if err != nil {
		return nil, nil, fmt.Errorf("live hello: %w", err)
	}
	if h.Household != want.Household || h.Camera != want.Camera || h.Session != want.Session || h.Device != want.Device || want.Device != dev.ID {
		return nil, nil, fmt.Errorf("live hello: %w: it is for another household, camera, session or device", seal.ErrSignature)
	}
	key, err := Decrypt(h.Key, dev.KEM)
	if err != nil {
		return nil, nil, fmt.Errorf("live hello: unwrap the session key: %w", err)
	}
	aead, err := seal.NewLiveAEAD(key)
	if err != nil {
		return nil, nil, fmt.Errorf("live hello: %w", err)
	}
	return &LiveReceiver{aead: aead, aad: seal.LiveAAD(h.Session)}, h, nil
}

// Next returns the sequence number the next message must carry.
func (r *LiveReceiver) Next() uint64 { return r.next }

// Open decrypts the next binary message. seq 0's plaintext is the init
// segment; later ones are seal.ParseLiveFragment's input. A message whose
// seq is not the next one (a gap, a replay, reordering), that fails
// authentication (altered, or of another session) or is malformed is
// refused, and so is everything after it.
func (r *LiveReceiver) Open(msg []byte) (seq uint64, plaintext []byte, err error) {
	if r.broken != nil {
		return 0, nil, r.broken
	}
	defer func() {
		if err != nil {
			r.broken = fmt.Errorf("%w: an earlier message was refused (%v)", ErrLiveStream, err)
		}
	}()
	seq, ct, err := seal.ParseLiveHeader(msg)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrLiveStream, err)
	}
	if seq != r.next {
		return 0, nil, fmt.Errorf("%w: message %d where %d was due", ErrLiveStream, seq, r.next)
	}
	pt, err := r.aead.Open(nil, seal.LiveNonce(seq), ct, r.aad)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: message %d does not authenticate", ErrLiveStream, seq)
	}
	if seq > 0 && len(pt) < 8 {
		return 0, nil, fmt.Errorf("%w: message %d: %w", ErrLiveStream, seq, seal.ErrMalformed)
	}
	r.next++
	return seq, pt, nil
}
