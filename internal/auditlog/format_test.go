package auditlog_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/auditlog"
	"github.com/porchlight/porchlight/internal/seal"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json")

const (
	testID        = "entryaaaaaaaaaaaaaaaaaaaaa"
	testHousehold = "householdaaaaaaaaaaaaaaaaa"
)

var testTime = time.Date(2026, 11, 23, 19, 30, 5, 0, time.UTC)

func testEntry() auditlog.Entry {
	return auditlog.Entry{Envelope: auditlog.Envelope{
		V: auditlog.FormatVersion, ID: testID, Time: testTime, Household: testHousehold, Class: api.AuditGrant,
	}}
}

// validLeaf is the canonical encoding of testEntry, written out by hand so
// that the tests pin the format, not just agree with Marshal.
const validLeaf = `{"v":1,"id":"entryaaaaaaaaaaaaaaaaaaaaa","time":"2026-11-23T19:30:05Z","household":"householdaaaaaaaaaaaaaaaaa","class":"grant"}`

// validLeafHash is validLeaf's RFC 6962 leaf hash, SHA-256(0x00 || leaf).
const validLeafHash = "ca6128a39927448a4371ed41c6e239887d26f4d3dbc86e5ccebefb74ed10ccf9"

func mustSealBody(t testing.TB, b auditlog.Body, r ...age.Recipient) []byte {
	t.Helper()
	ct, err := auditlog.SealBody(b, r...)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

func newIdentity(t testing.TB) *age.HybridIdentity {
	t.Helper()
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func openBody(t testing.TB, ct []byte, id age.Identity) auditlog.Body {
	t.Helper()
	r, err := age.Decrypt(bytes.NewReader(ct), id)
	if err != nil {
		t.Fatalf("decrypt body: %v", err)
	}
	pt, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := auditlog.DecodeBody(pt)
	if err != nil {
		t.Fatalf("DecodeBody: %v", err)
	}
	return b
}

func TestMarshalExactBytes(t *testing.T) {
	got, err := testEntry().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != validLeaf {
		t.Errorf("Marshal =\n%s\nwant\n%s", got, validLeaf)
	}
}

func TestMarshalParseRoundTrip(t *testing.T) {
	id := newIdentity(t)
	body := mustSealBody(t, auditlog.Body{Actor: auditlog.Actor{Kind: api.ActorSupport, Email: "agent@example.com", Org: "Acme Support", Country: "IE"}, Action: "grant_approved", Grant: "grantaaaaaaaaaaaaaaaaaaaaa"}, id.Recipient())
	local := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		in   auditlog.Entry
		want auditlog.Entry // what Parse(Marshal(in)) returns
	}{
		{"envelope only", testEntry(), testEntry()},
		{"sealed body", func() auditlog.Entry { e := testEntry(); e.Body = body; return e }(),
			func() auditlog.Entry { e := testEntry(); e.Body = body; return e }()},
		{"zero version is set", func() auditlog.Entry { e := testEntry(); e.V = 0; return e }(), testEntry()},
		{"time made UTC and truncated", func() auditlog.Entry {
			e := testEntry()
			e.Time = testTime.In(local).Add(999 * time.Millisecond)
			return e
		}(), testEntry()},
		{"empty body is no body", func() auditlog.Entry { e := testEntry(); e.Body = []byte{}; return e }(), testEntry()},
	}
	for _, c := range classesForTest() {
		e := testEntry()
		e.Class = c
		tests = append(tests, struct {
			name string
			in   auditlog.Entry
			want auditlog.Entry
		}{"class " + c, e, e})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf, err := tt.in.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			got, err := auditlog.Parse(leaf)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Parse(Marshal(e)) (-want +got):\n%s", diff)
			}
			again, err := got.Marshal()
			if err != nil || !bytes.Equal(again, leaf) {
				t.Errorf("Marshal(Parse(leaf)) = %q, %v; want the same leaf", again, err)
			}
		})
	}
}

func classesForTest() []string {
	return []string{api.AuditAuth, api.AuditDevice, api.AuditHub, api.AuditMember, api.AuditGrant,
		api.AuditKeyRelease, api.AuditAccess, api.AuditDenial, api.AuditDeletion, api.AuditStaff}
}

func TestMarshalRefuses(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*auditlog.Entry)
	}{
		{"version 2", func(e *auditlog.Entry) { e.V = 2 }},
		{"no id", func(e *auditlog.Entry) { e.ID = "" }},
		{"id with uppercase", func(e *auditlog.Entry) { e.ID = "ENTRYAAAAAAAAAAAAAAAAAAAAA" }},
		{"household e-mail", func(e *auditlog.Entry) { e.Household = "someone@example.com" }},
		{"unknown class", func(e *auditlog.Entry) { e.Class = "gossip" }},
		{"no class", func(e *auditlog.Entry) { e.Class = "" }},
		{"zero time", func(e *auditlog.Entry) { e.Time = time.Time{} }},
		{"body not age", func(e *auditlog.Entry) { e.Body = []byte("owner looked at camera 3") }},
		{"too large", func(e *auditlog.Entry) {
			e.Body = append([]byte("age-encryption.org/v1\n"), bytes.Repeat([]byte{'a'}, auditlog.MaxEntry)...)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testEntry()
			tt.modify(&e)
			if b, err := e.Marshal(); !errors.Is(err, auditlog.ErrMalformed) {
				t.Errorf("Marshal = %q, %v; want ErrMalformed", b, err)
			}
		})
	}
}

// parseRejections are leaves Parse must refuse; they seed FuzzParse too.
var parseRejections = []struct {
	name string
	leaf string
}{
	{"empty", ``},
	{"null", `null`},
	{"array", `[]`},
	{"unknown field", strings.Replace(validLeaf, `"class":"grant"`, `"class":"grant","actor":"x"`, 1)},
	{"trailing space", validLeaf + " "},
	{"trailing newline", validLeaf + "\n"},
	{"trailing object", validLeaf + `{}`},
	{"leading space", " " + validLeaf},
	{"space after colon", strings.Replace(validLeaf, `"v":1`, `"v": 1`, 1)},
	{"version 0", strings.Replace(validLeaf, `"v":1`, `"v":0`, 1)},
	{"version 2", strings.Replace(validLeaf, `"v":1`, `"v":2`, 1)},
	{"no version", strings.Replace(validLeaf, `"v":1,`, ``, 1)},
	{"field order", `{"id":"entryaaaaaaaaaaaaaaaaaaaaa","v":1,"time":"2026-11-23T19:30:05Z","household":"householdaaaaaaaaaaaaaaaaa","class":"grant"}`},
	{"key case", strings.Replace(validLeaf, `"id"`, `"ID"`, 1)},
	{"duplicate key", strings.Replace(validLeaf, `"class":"grant"`, `"class":"grant","class":"auth"`, 1)},
	{"escaped key", strings.Replace(validLeaf, `"id"`, `"\u0069d"`, 1)},
	{"time with offset", strings.Replace(validLeaf, `19:30:05Z`, `20:30:05+01:00`, 1)},
	{"time +00:00", strings.Replace(validLeaf, `19:30:05Z`, `19:30:05+00:00`, 1)},
	{"time with fraction", strings.Replace(validLeaf, `19:30:05Z`, `19:30:05.5Z`, 1)},
	{"zero time", strings.Replace(validLeaf, `2026-11-23T19:30:05Z`, `0001-01-01T00:00:00Z`, 1)},
	{"bad id", strings.Replace(validLeaf, `entryaaaaaaaaaaaaaaaaaaaaa`, `entry-1`, 1)},
	{"bad household", strings.Replace(validLeaf, `householdaaaaaaaaaaaaaaaaa`, `alice@example.com`, 1)},
	{"unknown class", strings.Replace(validLeaf, `"grant"`, `"gossip"`, 1)},
	{"body not age", strings.Replace(validLeaf, `"class":"grant"`, `"class":"grant","body":"aGVsbG8="`, 1)},
	{"body not base64", strings.Replace(validLeaf, `"class":"grant"`, `"class":"grant","body":"!!"`, 1)},
	{"empty body spelled out", strings.Replace(validLeaf, `"class":"grant"`, `"class":"grant","body":""`, 1)},
	{"null body", strings.Replace(validLeaf, `"class":"grant"`, `"class":"grant","body":null`, 1)},
	{"too large", `{"v":1,"detail":"` + strings.Repeat("a", auditlog.MaxEntry) + `"}`},
}

func TestParseRejects(t *testing.T) {
	if _, err := auditlog.Parse([]byte(validLeaf)); err != nil {
		t.Fatalf("Parse(validLeaf) = %v; the rejections below would prove nothing", err)
	}
	for _, tt := range parseRejections {
		t.Run(tt.name, func(t *testing.T) {
			e, err := auditlog.Parse([]byte(tt.leaf))
			if !errors.Is(err, auditlog.ErrMalformed) {
				t.Errorf("Parse = %+v, %v; want ErrMalformed", e, err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(validLeaf))
	for _, tt := range parseRejections {
		f.Add([]byte(tt.leaf))
	}
	id := newIdentity(f)
	e := testEntry()
	e.Body = mustSealBody(f, auditlog.Body{Actor: auditlog.Actor{Kind: api.ActorOwner}, Action: "login"}, id.Recipient())
	leaf, err := e.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(leaf)
	f.Fuzz(func(t *testing.T, leaf []byte) {
		e, err := auditlog.Parse(leaf)
		if err != nil {
			if !errors.Is(err, auditlog.ErrMalformed) {
				t.Fatalf("Parse error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// Non-malleable: whatever parses is exactly what Marshal writes.
		again, err := e.Marshal()
		if err != nil {
			t.Fatalf("Marshal(Parse(leaf)): %v", err)
		}
		if !bytes.Equal(again, leaf) {
			t.Fatalf("Marshal(Parse(leaf)) = %q, leaf %q", again, leaf)
		}
	})
}

func TestSealBodyRoundTrip(t *testing.T) {
	owner1, owner2 := newIdentity(t), newIdentity(t)
	in := auditlog.Body{
		V:      7, // SealBody sets it
		Actor:  auditlog.Actor{Kind: api.ActorSupport, Account: "accountaaaaaaaaaaaaaaaaaaa", Email: "agent@example.com", Org: "Acme Support Ltd", Country: "PT", Addr: "192.0.2.0/24"},
		Action: "key_release", Resource: "camera:cameraaaaaaaaaaaaaaaaaaaa", Reason: "doorbell offline", Ticket: "T-1234",
		Grant: "grantaaaaaaaaaaaaaaaaaaaaa", GrantHash: strings.Repeat("ab", 32), Decision: "allowed", Status: 200, Detail: "3 epochs",
	}
	ct := mustSealBody(t, in, owner1.Recipient(), owner2.Recipient())
	if err := seal.CheckAgeFile(ct); err != nil {
		t.Fatalf("sealed body is not an age file: %v", err)
	}
	want := in
	want.V = auditlog.FormatVersion
	for i, id := range []*age.HybridIdentity{owner1, owner2} {
		if diff := cmp.Diff(want, openBody(t, ct, id)); diff != "" {
			t.Errorf("owner %d: body (-want +got):\n%s", i+1, diff)
		}
	}
	if _, err := age.Decrypt(bytes.NewReader(ct), newIdentity(t)); err == nil {
		t.Error("a device the body was not sealed to opened it")
	}
}

func TestSealBodyNoRecipients(t *testing.T) {
	ct, err := auditlog.SealBody(auditlog.Body{Actor: auditlog.Actor{Kind: api.ActorAnonymous}, Action: "login_failed"})
	if ct != nil || err != nil {
		t.Errorf("SealBody() = %q, %v; want nil, nil", ct, err)
	}
	if _, err := auditlog.SealBody(auditlog.Body{Actor: auditlog.Actor{Kind: "admin"}, Action: "x"}); !errors.Is(err, auditlog.ErrMalformed) {
		t.Errorf("SealBody with an unknown actor kind = %v; want ErrMalformed even with no recipients", err)
	}
}

func TestDecodeBodyRejects(t *testing.T) {
	const good = `{"v":1,"actor":{"kind":"owner"},"action":"login"}`
	if _, err := auditlog.DecodeBody([]byte(good)); err != nil {
		t.Fatalf("DecodeBody(good) = %v", err)
	}
	for name, pt := range map[string]string{
		"unknown field":       `{"v":1,"actor":{"kind":"owner"},"action":"login","extra":1}`,
		"unknown actor field": `{"v":1,"actor":{"kind":"owner","name":"x"},"action":"login"}`,
		"trailing data":       good + `{}`,
		"version 2":           `{"v":2,"actor":{"kind":"owner"},"action":"login"}`,
		"no version":          `{"actor":{"kind":"owner"},"action":"login"}`,
		"unknown actor kind":  `{"v":1,"actor":{"kind":"root"},"action":"login"}`,
		"no action":           `{"v":1,"actor":{"kind":"owner"}}`,
		"not json":            `login`,
	} {
		t.Run(name, func(t *testing.T) {
			if b, err := auditlog.DecodeBody([]byte(pt)); !errors.Is(err, auditlog.ErrMalformed) {
				t.Errorf("DecodeBody = %+v, %v; want ErrMalformed", b, err)
			}
		})
	}
}

// vectorFile pins the v1 leaf format: each leaf's exact bytes and RFC 6962
// leaf hash, and (with the identity) its sealed body. The browser's
// verifier must pass it too.
const vectorFile = "testdata/vectors.json"

type vectorSet struct {
	Comment  string   `json:"comment"`
	Identity string   `json:"identity"` // age hybrid identity the bodies are sealed to
	Vectors  []vector `json:"vectors"`
}

type vector struct {
	Name     string            `json:"name"`
	Leaf     string            `json:"leaf"`      // exact leaf bytes
	LeafHash string            `json:"leaf_hash"` // hex SHA-256(0x00 || leaf)
	Envelope auditlog.Envelope `json:"envelope"`
	Body     *auditlog.Body    `json:"body"` // the body's plaintext, or null
}

func makeVectors(t *testing.T) vectorSet {
	id := newIdentity(t)
	set := vectorSet{
		Comment:  "auditlog entry format v1: see internal/auditlog. Regenerate with go test ./internal/auditlog -run TestVectors -update (changes the body ciphertext; the other fields must not change).",
		Identity: id.String(),
	}
	body := auditlog.Body{V: 1, Actor: auditlog.Actor{Kind: api.ActorSupport, Account: "accountaaaaaaaaaaaaaaaaaaa", Email: "agent@example.com", Org: "Acme Support Ltd", Country: "IE"},
		Action: "grant_approved", Resource: "grant:grantaaaaaaaaaaaaaaaaaaaaa", Reason: "doorbell offline", Ticket: "T-1234",
		Grant: "grantaaaaaaaaaaaaaaaaaaaaa", GrantHash: strings.Repeat("0f", 32), Decision: "allowed"}
	for _, v := range []vector{
		{Name: "envelope only", Envelope: testEntry().Envelope},
		{Name: "sealed body", Envelope: auditlog.Envelope{V: 1, ID: "entrybbbbbbbbbbbbbbbbbbbbb", Time: testTime, Household: testHousehold, Class: api.AuditKeyRelease}, Body: &body},
	} {
		e := auditlog.Entry{Envelope: v.Envelope}
		if v.Body != nil {
			e.Body = mustSealBody(t, *v.Body, id.Recipient())
		}
		leaf, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		v.Leaf = string(leaf)
		v.LeafHash = hex.EncodeToString(rfc6962.DefaultHasher.HashLeaf(leaf))
		set.Vectors = append(set.Vectors, v)
	}
	return set
}

func TestVectors(t *testing.T) {
	if *update {
		b, err := json.MarshalIndent(makeVectors(t), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(vectorFile)
	if err != nil {
		t.Fatalf("%v (regenerate with -update)", err)
	}
	var set vectorSet
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	id, err := age.ParseHybridIdentity(set.Identity)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Vectors) != 2 {
		t.Fatalf("%d vectors, want 2", len(set.Vectors))
	}
	// The envelope-only vector is fully fixed: its bytes are spelled out
	// here too, so regenerating the file cannot silently change the format.
	if v := set.Vectors[0]; v.Leaf != validLeaf || v.LeafHash != validLeafHash {
		t.Errorf("vector 0 = %s (hash %s), want %s (hash %s)", v.Leaf, v.LeafHash, validLeaf, validLeafHash)
	}
	for _, v := range set.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			leaf := []byte(v.Leaf)
			if got := hex.EncodeToString(rfc6962.DefaultHasher.HashLeaf(leaf)); got != v.LeafHash {
				t.Errorf("leaf hash = %s, want %s", got, v.LeafHash)
			}
			e, err := auditlog.Parse(leaf)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(v.Envelope, e.Envelope); diff != "" {
				t.Errorf("envelope (-want +got):\n%s", diff)
			}
			again, err := e.Marshal()
			if err != nil || !bytes.Equal(again, leaf) {
				t.Errorf("Marshal(Parse(leaf)) = %s, %v; want the leaf", again, err)
			}
			switch {
			case v.Body == nil && e.Body != nil:
				t.Error("leaf has a body, vector has none")
			case v.Body != nil:
				if diff := cmp.Diff(*v.Body, openBody(t, e.Body, id)); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
			}
		})
	}
}
