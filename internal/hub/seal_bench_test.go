package hub

import (
	"bytes"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/keys"
	"github.com/porchlight/porchlight/internal/seal"
	"github.com/porchlight/porchlight/internal/spool"
)

// testMedia is about one 4 s segment of 1080p25 at 4 Mb/s.
func testMedia(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func testHeader() seal.SegmentHeader {
	return seal.SegmentHeader{Household: seal.NewID(), Camera: seal.NewID(), Epoch: seal.NewID(), Seq: 7,
		Start: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), DurationMS: 4000, Frames: 100, Codec: "h264"}
}

// The streamed seal must produce what seal.SealSegment produces: an age file
// that opens to the same header and media, whose hash is the one returned.
func TestSealSegmentIntoMatchesSealSegment(t *testing.T) {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	hdr := testHeader()
	for _, n := range []int{0, 1, 65535, 65536, 65537, 2 << 20} {
		media := testMedia(n)
		var buf bytes.Buffer
		buf.WriteString("stale bytes from the last segment")
		sum, err := sealSegmentInto(&buf, id.Recipient(), hdr, media)
		if err != nil {
			t.Fatal(err)
		}
		ct := buf.Bytes()
		if sum != seal.SHA256Hex(ct) {
			t.Fatalf("%d bytes: returned hash is not the ciphertext's", n)
		}
		if err := seal.CheckAgeFile(ct); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		gotH, gotMedia, err := keys.OpenSegment(ct, id)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(gotMedia, media) || gotH.Seq != hdr.Seq || gotH.Camera != hdr.Camera || !gotH.Start.Equal(hdr.Start) {
			t.Fatalf("%d bytes: opened segment differs", n)
		}
		ref, err := seal.SealSegment(id.Recipient(), hdr, media)
		if err != nil {
			t.Fatal(err)
		}
		// Same plaintext length, same age framing: same ciphertext size
		// up to the (random-length-free) header.
		if len(ref) != len(ct) {
			t.Fatalf("%d bytes: ciphertext %d bytes, seal.SealSegment gives %d", n, len(ct), len(ref))
		}
	}
}

// BenchmarkSealAndSpool is the hub's per-segment work after the cutter: seal
// a 2 MB segment (hashing the ciphertext once), write it durably to the spool
// and read it back verified for upload, reusing the seal buffer as the
// recorder does.
func BenchmarkSealAndSpool(b *testing.B) {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		b.Fatal(err)
	}
	sp, err := spool.Open(b.TempDir(), spool.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	media := testMedia(2 << 20)
	hdr := testHeader()
	var buf bytes.Buffer
	b.SetBytes(int64(len(media)))
	b.ReportAllocs()
	for b.Loop() {
		sum, err := sealSegmentInto(&buf, id.Recipient(), hdr, media)
		if err != nil {
			b.Fatal(err)
		}
		it := spool.Item{ID: seal.NewID(), Kind: spool.KindSegment, Body: buf.Bytes(), BodySHA256: sum,
			Meta: spool.Meta{Camera: hdr.Camera, SHA256: sum}}
		if err := sp.Put(it); err != nil {
			b.Fatal(err)
		}
		if _, err := sp.Read(it.ID); err != nil {
			b.Fatal(err)
		}
		if err := sp.Done(it.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealAndSpoolFresh is the same work the way the hub did it before:
// seal.SealSegment into fresh memory, hash it, let the spool hash it again.
func BenchmarkSealAndSpoolFresh(b *testing.B) {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		b.Fatal(err)
	}
	sp, err := spool.Open(b.TempDir(), spool.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	media := testMedia(2 << 20)
	hdr := testHeader()
	b.SetBytes(int64(len(media)))
	b.ReportAllocs()
	for b.Loop() {
		ct, err := seal.SealSegment(id.Recipient(), hdr, media)
		if err != nil {
			b.Fatal(err)
		}
		it := spool.Item{ID: seal.NewID(), Kind: spool.KindSegment, Body: ct, Meta: spool.Meta{Camera: hdr.Camera, SHA256: seal.SHA256Hex(ct)}}
		if err := sp.Put(it); err != nil {
			b.Fatal(err)
		}
		if _, err := sp.Read(it.ID); err != nil {
			b.Fatal(err)
		}
		if err := sp.Done(it.ID); err != nil {
			b.Fatal(err)
		}
	}
}
