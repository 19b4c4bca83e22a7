package spool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/porchlight/porchlight/internal/seal"
)

// Kind says what an item is and how the uploader sends it.
type Kind string

// Item kinds.
const (
	KindEpoch    Kind = "epoch"    // body: api.EpochPut JSON
	KindCamera   Kind = "camera"   // body: sealed camera descriptor
	KindSegment  Kind = "segment"  // body: sealed segment (age file)
	KindManifest Kind = "manifest" // body: sealed manifest (age file)
	KindEvent    Kind = "event"    // body: sealed, hub-signed seal.Event (age file)
	KindThumb    Kind = "thumb"    // body: sealed JPEG thumbnail of an event (age file)
)

// Valid reports whether k is one of the item kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindEpoch, KindCamera, KindSegment, KindManifest, KindEvent, KindThumb:
		return true
	}
	return false
}

// Magic starts every item file. The version is part of it: a reader refuses
// items written by an unknown version instead of guessing.
const Magic = "porchlight.spool/v1\n"

// MaxHeader bounds an item's metadata line.
const MaxHeader = 64 << 10

// ErrCorrupt means an item file on disk is damaged: its name, header or body
// does not parse or its body no longer matches the hash recorded when it was
// written. The caller moves it aside (Quarantine) rather than uploading it.
var ErrCorrupt = errors.New("spool item is corrupt")

// Meta is an item's small metadata. It travels in the item file's header
// line, ahead of the body, so Open rebuilds the index by reading headers only.
type Meta struct {
	Camera string    `json:"camera,omitempty"` // camera id (every kind but some epochs' callers set it)
	Epoch  string    `json:"epoch,omitempty"`  // epoch id the object is sealed to
	Time   time.Time `json:"time,omitzero"`    // coarse time sent to the service
	Seq    uint64    `json:"seq,omitempty"`    // segment or manifest sequence, per camera (for logs)
	SHA256 string    `json:"sha256,omitempty"` // hex SHA-256 of the body as uploaded
	Refs   []string  `json:"refs,omitempty"`   // manifests: ids of the segments listed
	// Extra is the owner's own data, opaque to the spool (the hub keeps each
	// segment's manifest entry here, to rebuild a manifest after a crash).
	Extra json.RawMessage `json:"extra,omitempty"`
}

// header is the first line after Magic in an item file.
type header struct {
	V          int    `json:"v"`
	ID         string `json:"id"`
	Kind       Kind   `json:"kind"`
	BodySHA256 string `json:"body_sha256"`
	Meta       Meta   `json:"meta"`
}

// FileName returns an item's file name: the spool sequence as 16 hex digits
// (so names sort in FIFO order), its kind and its id.
//
//	000000000000002a-segment-<id>
func FileName(seq uint64, kind Kind, id string) string {
	return fmt.Sprintf("%016x-%s-%s", seq, kind, id)
}

// ParseName parses a name made by FileName. It is strict: anything else in
// the spool directory (except temp files, removed at Open) is corrupt.
func ParseName(name string) (seq uint64, kind Kind, id string, err error) {
	parts := strings.Split(name, "-")
	if len(parts) != 3 || len(parts[0]) != 16 {
		return 0, "", "", fmt.Errorf("%w: file name %q", ErrCorrupt, name)
	}
	for _, c := range parts[0] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return 0, "", "", fmt.Errorf("%w: file name %q", ErrCorrupt, name)
		}
	}
	seq, err = strconv.ParseUint(parts[0], 16, 64)
	if err != nil || seq == 0 {
		return 0, "", "", fmt.Errorf("%w: file name %q", ErrCorrupt, name)
	}
	kind = Kind(parts[1])
	if !kind.Valid() || !seal.ValidID(parts[2]) {
		return 0, "", "", fmt.Errorf("%w: file name %q", ErrCorrupt, name)
	}
	return seq, kind, parts[2], nil
}

// encodeHeader returns Magic, the header line and its newline.
func encodeHeader(h header) ([]byte, error) {
	h.V = 1
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxHeader {
		return nil, fmt.Errorf("spool: item metadata is %d bytes, over %d", len(b), MaxHeader)
	}
	out := make([]byte, 0, len(Magic)+len(b)+1)
	out = append(out, Magic...)
	out = append(out, b...)
	return append(out, '\n'), nil
}

// parseHeader parses the start of an item file (at least the whole header,
// or the whole file if shorter) and returns the header and the offset where
// the body starts.
func parseHeader(b []byte) (header, int, error) {
	var h header
	rest, ok := bytes.CutPrefix(b, []byte(Magic))
	if !ok {
		return h, 0, fmt.Errorf("%w: missing %q", ErrCorrupt, strings.TrimSpace(Magic))
	}
	line, _, ok := bytes.Cut(rest[:min(len(rest), MaxHeader+1)], []byte{'\n'})
	if !ok {
		return h, 0, fmt.Errorf("%w: header line unterminated", ErrCorrupt)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return h, 0, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	if dec.More() {
		return h, 0, fmt.Errorf("%w: header: trailing data", ErrCorrupt)
	}
	if h.V != 1 {
		return h, 0, fmt.Errorf("%w: header version %d", ErrCorrupt, h.V)
	}
	if !h.Kind.Valid() || !seal.ValidID(h.ID) || len(h.BodySHA256) != 64 {
		return h, 0, fmt.Errorf("%w: header fields", ErrCorrupt)
	}
	return h, len(Magic) + len(line) + 1, nil
}
