package seal

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/porchlight/porchlight/internal/geocell"
)

// TypePublication is the signed envelope type of a neighbours-feed post.
const TypePublication = "porchlight.publication"

// Categories of a feed post.
const (
	CategorySafety     = "safety"
	CategorySuspicious = "suspicious"
	CategoryLostPet    = "lost_pet"
	CategoryCrime      = "crime"
	CategoryOther      = "other"
)

// Categories lists every post category, in the order people see them.
var Categories = []string{CategorySafety, CategorySuspicious, CategoryLostPet, CategoryCrime, CategoryOther}

// Bounds of a publication's text.
const (
	MaxPublicationTitle = 120 // bytes of UTF-8
	MaxPseudonym        = 40
)

// Publication is what an owner device signs to declassify exactly one file:
// the redacted MP4 whose SHA-256 and size it names, under a title, a
// category and a neighbourhood cell, shown under a pseudonym made for this
// post alone. The service publishes a file only with a record that
// verifies against the household's roster and matches the file byte for
// byte; it has no way to make one itself.
type Publication struct {
	V         int       `json:"v"`
	ID        string    `json:"id"` // the post's id
	Household string    `json:"household"`
	SHA256    string    `json:"sha256"` // hex SHA-256 of the exact public MP4
	Size      int64     `json:"size"`
	Title     string    `json:"title"`
	Category  string    `json:"category"`
	Cell      string    `json:"cell"` // geocell.Valid: 6 geohash characters, never finer
	Pseudonym string    `json:"pseudonym"`
	Job       string    `json:"job"` // the redaction job that made the file
	Created   time.Time `json:"created"`
}

// ValidCategory reports whether c is one of Categories.
func ValidCategory(c string) bool {
	for _, k := range Categories {
		if c == k {
			return true
		}
	}
	return false
}

// ValidPseudonym reports whether s has the shape NewPseudonym makes:
// lowercase letters, digits and hyphens, 3 to MaxPseudonym of them. No
// spaces, no "@": a pseudonym cannot carry an e-mail address.
func ValidPseudonym(s string) bool {
	if len(s) < 3 || len(s) > MaxPseudonym {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// CheckTitle checks a post's title: non-empty UTF-8 text of at most
// MaxPublicationTitle bytes without control characters.
func CheckTitle(title string) error {
	switch {
	case strings.TrimSpace(title) == "":
		return fmt.Errorf("%w: a post needs a title", ErrMalformed)
	case len(title) > MaxPublicationTitle || !utf8.ValidString(title) || strings.ContainsFunc(title, unicode.IsControl):
		return fmt.Errorf("%w: a title is UTF-8 text of at most %d bytes without control characters", ErrMalformed, MaxPublicationTitle)
	}
	return nil
}

func (p *Publication) check() error {
	if p.V != FormatVersion {
		return fmt.Errorf("%w: publication v%d", ErrVersion, p.V)
	}
	if !ValidID(p.ID) || !ValidID(p.Household) || !ValidID(p.Job) {
		return fmt.Errorf("%w: publication needs a post id, household and job", ErrMalformed)
	}
	if b, err := hex.DecodeString(p.SHA256); err != nil || len(b) != 32 || strings.ToLower(p.SHA256) != p.SHA256 {
		return fmt.Errorf("%w: publication sha256 must be 64 lowercase hex digits", ErrMalformed)
	}
	if p.Size <= 0 {
		return fmt.Errorf("%w: publication size must be positive", ErrMalformed)
	}
	if err := CheckTitle(p.Title); err != nil {
		return err
	}
	if !ValidCategory(p.Category) {
		return fmt.Errorf("%w: category %q: want one of %s", ErrMalformed, p.Category, strings.Join(Categories, ", "))
	}
	if !geocell.Valid(p.Cell) {
		return fmt.Errorf("%w: location must be a neighbourhood cell of %d geohash characters, nothing finer", ErrMalformed, geocell.Precision)
	}
	if !ValidPseudonym(p.Pseudonym) {
		return fmt.Errorf("%w: pseudonym must be 3 to %d lowercase letters, digits or hyphens", ErrMalformed, MaxPseudonym)
	}
	if p.Created.IsZero() {
		return fmt.Errorf("%w: publication needs a creation time", ErrMalformed)
	}
	return nil
}

// SignPublication checks p and signs it with an owner device's key.
func SignPublication(priv ed25519.PrivateKey, p Publication) ([]byte, error) {
	p.V = FormatVersion
	if err := p.check(); err != nil {
		return nil, err
	}
	return Sign(priv, TypePublication, p)
}

// VerifyPublication checks a signed publication against a household's
// verified current roster: the signer must be an owner device listed in
// it (not a member, a hub, the recovery identity, a removed device or the
// service), and the record must be for that household. It returns the
// record; the caller still checks that the file matches SHA256 and Size.
func VerifyPublication(signed []byte, r *Roster) (*Publication, error) {
	env, err := ParseSigned(signed, TypePublication)
	if err != nil {
		return nil, err
	}
	signer := r.Entry(env.Signer)
	if signer == nil || signer.Kind != KindDevice || signer.Role != RoleOwner {
		return nil, fmt.Errorf("%w: publication signed by %s, not an owner device of the household's roster", ErrSignature, env.Signer)
	}
	if err := env.Verify(signer.Sign); err != nil {
		return nil, err
	}
	var p Publication
	if err := env.Decode(&p); err != nil {
		return nil, err
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	if p.Household != r.Household {
		return nil, fmt.Errorf("%w: publication for another household", ErrSignature)
	}
	return &p, nil
}

// PublicationHash identifies a signed publication in the audit log.
func PublicationHash(signed []byte) string { return SHA256Hex(signed) }

var (
	pseudonymAdjectives = []string{"amber", "brisk", "calm", "dusky", "eager", "fern", "gentle", "hazel", "ivory", "jolly",
		"keen", "lunar", "mellow", "noble", "olive", "plucky", "quiet", "rustic", "sunny", "tidy", "umber", "vivid", "wistful", "young"}
	pseudonymAnimals = []string{"badger", "crane", "dove", "egret", "finch", "gecko", "heron", "ibis", "jay", "kestrel",
		"lynx", "marten", "newt", "otter", "plover", "quail", "robin", "stoat", "thrush", "vole", "wren", "yak", "zebu", "hare"}
)

// NewPseudonym returns a random pseudonym for one post, such as
// "quiet-heron-4821". It carries nothing about the poster, and two posts
// of the same household do not share one.
func NewPseudonym() string {
	pick := func(n int) int {
		v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
		if err != nil {
			panic("seal: crypto/rand failed: " + err.Error())
		}
		return int(v.Int64())
	}
	return fmt.Sprintf("%s-%s-%04d", pseudonymAdjectives[pick(len(pseudonymAdjectives))], pseudonymAnimals[pick(len(pseudonymAnimals))], pick(10000))
}
