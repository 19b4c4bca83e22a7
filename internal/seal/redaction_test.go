package seal_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/seal"
)

func testJob(t testing.TB, hh string, out *age.HybridIdentity) seal.RedactJob {
	t.Helper()
	epoch, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ep := seal.NewID()
	return seal.RedactJob{
		ID: seal.NewID(), Household: hh, Camera: seal.NewID(), Purpose: seal.PurposePublish,
		From: start, To: start.Add(8 * time.Second),
		Segments: []seal.RedactSegment{
			{ID: seal.NewID(), Epoch: ep, SHA256: seal.SHA256Hex([]byte("a")), Start: start, DurationMS: 4000},
			{ID: seal.NewID(), Epoch: ep, SHA256: seal.SHA256Hex([]byte("b")), Start: start.Add(4 * time.Second), DurationMS: 4000},
		},
		Keys:    []seal.RedactKey{{Epoch: ep, Identity: epoch.String()}},
		Output:  []string{out.Recipient().String()},
		Created: start.Add(time.Minute),
	}
}

func openAge(t *testing.T, sealed []byte, id age.Identity) []byte {
	t.Helper()
	r, err := age.Decrypt(bytes.NewReader(sealed), id)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRedactJobSigners: only an owner device of the roster's household
// may sign a job; members, hubs, strangers and jobs for another household
// are ErrSignature.
func TestRedactJobSigners(t *testing.T) {
	owner, member, hub, stranger := newKey(t, 1), newKey(t, 2), newKey(t, 3), newKey(t, 4)
	hh := seal.NewID()
	ro := &seal.Roster{V: 1, Household: hh, Version: 1, Entries: []seal.RosterEntry{
		owner.entry(seal.KindDevice, seal.RoleOwner), member.entry(seal.KindDevice, seal.RoleMember), hub.entry(seal.KindHub, seal.RoleHub),
	}}
	job := testJob(t, hh, owner.kem)
	for _, tc := range []struct {
		name   string
		signer testKey
		hh     string
		ok     bool
	}{
		{"owner", owner, hh, true},
		{"member", member, hh, false},
		{"hub", hub, hh, false},
		{"stranger", stranger, hh, false},
		{"other household", owner, seal.NewID(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := job
			j.Household = tc.hh
			sealed, err := seal.SealRedactJob(tc.signer.sign, hub.kem.Recipient(), j)
			if err != nil {
				t.Fatal(err)
			}
			got, err := seal.VerifyRedactJob(openAge(t, sealed, hub.kem), ro)
			if tc.ok {
				if err != nil || got.ID != job.ID || len(got.Keys) != 1 {
					t.Fatalf("VerifyRedactJob = %+v, %v", got, err)
				}
				return
			}
			if !errors.Is(err, seal.ErrSignature) {
				t.Fatalf("VerifyRedactJob err = %v, want ErrSignature", err)
			}
		})
	}
}

// TestRedactJobCheck: malformed jobs are refused before signing.
func TestRedactJobCheck(t *testing.T) {
	owner, hub := newKey(t, 1), newKey(t, 3)
	base := testJob(t, seal.NewID(), owner.kem)
	other, _ := age.GenerateHybridIdentity()
	for _, tc := range []struct {
		name string
		mod  func(j *seal.RedactJob)
	}{
		{"extra key", func(j *seal.RedactJob) {
			j.Keys = append(j.Keys, seal.RedactKey{Epoch: seal.NewID(), Identity: other.String()})
		}},
		{"missing key", func(j *seal.RedactJob) { j.Keys = nil }},
		{"duplicate key", func(j *seal.RedactJob) { j.Keys = append(j.Keys, j.Keys[0]) }},
		{"not an identity", func(j *seal.RedactJob) { j.Keys = []seal.RedactKey{{Epoch: j.Keys[0].Epoch, Identity: "age1pq1x"}} }},
		{"out of order", func(j *seal.RedactJob) {
			j.Segments = []seal.RedactSegment{j.Segments[1], j.Segments[0]}
		}},
		{"bad hash", func(j *seal.RedactJob) {
			j.Segments = append([]seal.RedactSegment(nil), j.Segments...)
			j.Segments[0].SHA256 = "ABC"
		}},
		{"duplicate segment", func(j *seal.RedactJob) {
			j.Segments = []seal.RedactSegment{j.Segments[0], j.Segments[0]}
		}},
		{"no output", func(j *seal.RedactJob) { j.Output = nil }},
		{"classic recipient", func(j *seal.RedactJob) {
			x, _ := age.GenerateX25519Identity()
			j.Output = []string{x.Recipient().String()}
		}},
		{"donate without campaign", func(j *seal.RedactJob) { j.Purpose = seal.PurposeDonate }},
		{"publish with campaign", func(j *seal.RedactJob) { j.Campaign = seal.NewID() }},
		{"unknown purpose", func(j *seal.RedactJob) { j.Purpose = "sell" }},
		{"empty range", func(j *seal.RedactJob) { j.To = j.From }},
		{"too long", func(j *seal.RedactJob) { j.To = j.From.Add(seal.MaxRedactClip + time.Second) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := base
			tc.mod(&j)
			if _, err := seal.SealRedactJob(owner.sign, hub.kem.Recipient(), j); !errors.Is(err, seal.ErrMalformed) {
				t.Fatalf("SealRedactJob err = %v, want ErrMalformed", err)
			}
		})
	}
	j := base
	j.Purpose, j.Campaign = seal.PurposeDonate, seal.NewID()
	if _, err := seal.SealRedactJob(owner.sign, hub.kem.Recipient(), j); err != nil {
		t.Fatalf("donate job: %v", err)
	}
}

// TestRedactionResult: a result opens, verifies against the hub and
// binds its MP4; another key, a changed MP4 or a cut result is refused.
func TestRedactionResult(t *testing.T) {
	hub, other, dev := newKey(t, 3), newKey(t, 5), newKey(t, 1)
	mp4 := []byte("\x00\x00\x00\x18ftypisom redacted video")
	h := seal.Redaction{Job: seal.NewID(), Household: seal.NewID(), Camera: seal.NewID(), Purpose: seal.PurposePublish,
		From: time.Unix(100, 0).UTC(), To: time.Unix(110, 0).UTC(), Frames: 30, Blurred: 2, Created: time.Unix(200, 0).UTC()}
	sealed, err := seal.SealRedaction(hub.sign, h, mp4, dev.kem.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	pt := openAge(t, sealed, dev.kem)
	got, media, err := seal.ParseRedactionPlaintext(pt, hub.pub())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(media, mp4) || got.Job != h.Job || got.Size != int64(len(mp4)) || got.MP4SHA256 != seal.SHA256Hex(mp4) || got.Blurred != 2 {
		t.Fatalf("parsed %+v, media %q", got, media)
	}
	if _, _, err := seal.ParseRedactionPlaintext(pt, other.pub()); !errors.Is(err, seal.ErrSignature) {
		t.Errorf("other hub: %v, want ErrSignature", err)
	}
	changed := append(append([]byte(nil), pt...), 'x')
	if _, _, err := seal.ParseRedactionPlaintext(changed, hub.pub()); !errors.Is(err, seal.ErrSignature) {
		t.Errorf("appended byte: %v, want ErrSignature", err)
	}
	for _, cut := range [][]byte{nil, pt[:3], pt[:20]} {
		if _, _, err := seal.ParseRedactionPlaintext(cut, hub.pub()); err == nil {
			t.Errorf("cut result of %d bytes accepted", len(cut))
		}
	}
}

func FuzzParseRedactionPlaintext(f *testing.F) {
	hub := newKey(f, 3)
	pt, err := seal.RedactionPlaintext(hub.sign, seal.Redaction{Job: seal.NewID(), Household: seal.NewID(), Camera: seal.NewID(),
		Purpose: seal.PurposePublish, Created: time.Unix(1, 0).UTC()}, []byte("mp4"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pt)
	f.Add([]byte{0, 0, 0, 1, '{'})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, mp4, err := seal.ParseRedactionPlaintext(b, hub.pub())
		if err == nil && (h.Size != int64(len(mp4)) || h.MP4SHA256 != seal.SHA256Hex(mp4)) {
			t.Fatalf("accepted a result whose MP4 does not match its header")
		}
	})
}
