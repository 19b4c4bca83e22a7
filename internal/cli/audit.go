package cli

// The owner's view of the audit log: the household's entries, each checked
// for inclusion in the service's transparency log against a signed
// checkpoint, the checkpoint checked for consistency with the last one this
// device verified, and the bodies (who, what, why) decrypted with this
// device's key. A failed check is an alarm, never a warning: it means the
// service rewrote or forked its log, or changed its log key.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"filippo.io/age"

	"github.com/porchlight/porchlight/internal/api"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/auditlog"
	"github.com/porchlight/porchlight/internal/keys"
)

// auditDir holds one file per service under the state directory:
// audit/<hash of the service URL>.json.
const auditDir = "audit"

// auditStateVersion is the version of an audit state file.
const auditStateVersion = 1

// auditPage is how many entries one listing request asks for.
const auditPage = 500

// auditState is what this device verified of a service's log: the log key
// pinned on first use and the last checkpoint verified (raw signed note),
// with how many of the household's entries it covered up to LastIndex, so
// an entry that later disappears from the listing is noticed. It changes
// only after a verification that passed.
type auditState struct {
	V           int       `json:"v"`
	Server      string    `json:"server"`
	Household   string    `json:"household"`
	VerifierKey string    `json:"verifier_key"`
	PinnedAt    time.Time `json:"pinned_at"`
	Checkpoint  []byte    `json:"checkpoint,omitempty"`
	Seen        time.Time `json:"seen,omitzero"`
	Entries     int       `json:"entries"`    // household entries with index <= LastIndex
	LastIndex   uint64    `json:"last_index"` // meaningful when Entries > 0
}

// auditStateName is the state file of a service, relative to the state
// directory.
func auditStateName(server string) string {
	sum := sha256.Sum256([]byte(normalizeURL(server)))
	return filepath.Join(auditDir, hex.EncodeToString(sum[:16])+".json")
}

func (m *Main) loadAuditState(server string) (*auditState, error) {
	var st auditState
	ok, err := m.readJSON(auditStateName(server), &st)
	if err != nil {
		return nil, fmt.Errorf("%w (it is evidence of what this device verified before: keep it)", err)
	}
	if !ok {
		return nil, nil
	}
	if st.V != auditStateVersion || st.VerifierKey == "" {
		return nil, fmt.Errorf("%s has version %d or no log key, this porchlight reads version %d: upgrade porchlight (keep the file: it is evidence)", auditStateName(server), st.V, auditStateVersion)
	}
	return &st, nil
}

func (m *Main) saveAuditState(st *auditState) error {
	st.V = auditStateVersion
	return m.writeJSON(auditStateName(st.Server), st)
}

// auditRow is one household entry as verified and decrypted here.
type auditRow struct {
	Index    uint64
	Entry    auditlog.Entry
	Body     *auditlog.Body // nil when it does not open here
	Sealed   string         // why there is no Body
	Verified bool
}

// auditResult is what a verification found.
type auditResult struct {
	rows    []auditRow
	newest  auditlog.Checkpoint
	pending int
	alarms  []string // each a sentence saying what failed
	server  string
	state   *auditState
	before  *auditState // the state before this run (nil on first use)
}

// errAuditAlarm marks a failed verification, already shown as ALARM lines.
var errAuditAlarm = errors.New("the audit log did not verify: see the ALARM above")

// isAlarm reports whether a verification error is an alarm: the log
// showed something it cannot take back. Other errors (a tile that could not
// be fetched, the service unreachable) mean "not verified yet".
func isAlarm(err error) bool {
	return errors.Is(err, auditlog.ErrNotIncluded) || errors.Is(err, auditlog.ErrFork) || errors.Is(err, auditlog.ErrBadCheckpoint)
}

// notVerified explains a verification that could not finish.
func (c *conn) notVerified(err error) error {
	var ae *apiclient.Error
	if errors.As(err, &ae) || !apiclient.IsRetryable(err) {
		return fmt.Errorf("verify the audit log: %w: it is not verified; try again later, and if this keeps failing the service's log is damaged: tell its operator", err)
	}
	return c.explain("verify the audit log", err)
}

// verifyAudit pages through the household's entries and checks each
// against the log, and the log against what this device saw before.
func (h *household) verifyAudit(ctx context.Context) (*auditResult, error) {
	c := h.conn
	before, err := h.m.loadAuditState(c.server)
	if err != nil {
		return nil, err
	}
	res := &auditResult{server: c.server, before: before}
	alarm := func(format string, args ...any) { res.alarms = append(res.alarms, fmt.Sprintf(format, args...)) }

	info, err := c.c.LogInfo(ctx)
	if err != nil {
		return nil, c.explain("fetch the audit log's key", err)
	}
	st := &auditState{Server: c.server, Household: h.roster.Household, VerifierKey: info.VerifierKey, PinnedAt: h.m.Now().UTC()}
	if before != nil {
		if before.VerifierKey != info.VerifierKey {
			alarm("the service's log key changed: this device pinned %q on %s, the service now says %q. With another key the service can show you a different log",
				before.VerifierKey, h.m.when(before.PinnedAt), clean(info.VerifierKey))
			return res, nil
		}
		st.PinnedAt = before.PinnedAt
	}
	res.state = st
	v, err := auditlog.NewVerifier(st.VerifierKey)
	if err != nil {
		if before == nil {
			return nil, fmt.Errorf("the service's log key %q is not a valid verifier key (%v): it cannot be verified; contact its operator", clean(info.VerifierKey), err)
		}
		return nil, fmt.Errorf("the log key pinned on this device does not parse (%v): upgrade porchlight", err)
	}

	tiles := tileCache(c.c)
	var seen auditlog.Checkpoint // the newest checkpoint verified so far
	haveSeen := false
	seenWhen := ""
	if before != nil && len(before.Checkpoint) > 0 {
		cp, err := v.Checkpoint(before.Checkpoint)
		if err != nil {
			return nil, fmt.Errorf("the checkpoint saved on this device does not verify with the pinned key (%v): upgrade porchlight, or restore the file from a backup (keep it: it is evidence)", err)
		}
		seen, haveSeen, seenWhen = cp, true, h.m.when(before.Seen)
	}

	var from uint64
	var last uint64
	listed := 0
	var notIn []uint64 // entries whose inclusion failed
	var firstErr error
	for {
		page, err := c.c.Audit(ctx, from, auditPage)
		if err != nil {
			return nil, c.explain("list your audit log", err)
		}
		cp, err := v.Checkpoint(page.Checkpoint)
		if err != nil {
			alarm("the service sent a checkpoint that does not verify with the log key pinned on %s (%v)", h.m.when(st.PinnedAt), err)
			return res, nil
		}
		if haveSeen && (cp.Size != seen.Size || string(cp.Hash) != string(seen.Hash)) {
			older, newer := seen, cp
			if err := v.VerifyConsistency(ctx, tiles, older, newer); err != nil {
				if !isAlarm(err) {
					return nil, c.notVerified(err)
				}
				alarm("the log's checkpoint (size %d) is not consistent with the one this device verified on %s (size %d): the log was forked or rewritten (%v)",
					newer.Size, seenWhen, older.Size, err)
				return res, nil
			}
		}
		seen, haveSeen, seenWhen = cp, true, "an earlier page of this listing"
		res.pending = page.Pending
		for _, ae := range page.Entries {
			if listed > 0 && ae.Index <= last {
				alarm("the service listed entry %d after entry %d: its listing is out of order or repeats entries", ae.Index, last)
				return res, nil
			}
			last = ae.Index
			listed++
			row := auditRow{Index: ae.Index}
			e, perr := auditlog.Parse(ae.Entry)
			row.Entry = e
			switch {
			case ae.Index >= cp.Size:
				alarm("the service listed entry %d as covered by a checkpoint of size %d", ae.Index, cp.Size)
			case perr != nil:
				alarm("entry %d is not a well-formed audit entry (%v): the log holds damaged or forged data", ae.Index, perr)
			case e.Household != h.roster.Household:
				alarm("entry %d is of household %s, not yours: the service mixed up its index", ae.Index, clean(e.Household))
			default:
				err := v.VerifyInclusion(ctx, tiles, cp, ae.Index, ae.Entry)
				switch {
				case err == nil:
					row.Verified = true
				case !isAlarm(err):
					return nil, c.notVerified(err)
				default:
					notIn = append(notIn, ae.Index)
					if firstErr == nil {
						firstErr = err
					}
				}
			}
			if perr == nil {
				row.Body, row.Sealed = h.openAuditBody(e)
			}
			res.rows = append(res.rows, row)
		}
		if page.Next == 0 {
			break
		}
		if page.Next <= from || (listed > 0 && page.Next <= last) {
			return nil, fmt.Errorf("the service's audit listing does not advance (next %d after %d): try again later", page.Next, from)
		}
		from = page.Next
	}
	res.newest = seen
	if len(notIn) > 0 {
		shown := make([]string, 0, 5)
		for _, i := range notIn[:min(len(notIn), 5)] {
			shown = append(shown, fmt.Sprint(i))
		}
		if len(notIn) > 5 {
			shown = append(shown, "…")
		}
		verb := "are"
		if len(notIn) == 1 {
			verb = "is"
		}
		alarm("%d of your household's entries (log index %s) %s not in the log that the checkpoint of size %d commits to: the log was rewritten (first failure: %v)",
			len(notIn), strings.Join(shown, ", "), verb, seen.Size, firstErr)
	}

	// Entries verified before must still be listed.
	if before != nil && before.Entries > 0 {
		n := 0
		for _, r := range res.rows {
			if r.Index <= before.LastIndex {
				n++
			}
		}
		if n != before.Entries {
			alarm("the service lists %d of your entries up to index %d, but this device verified %d there on %s: entries were removed from your log's listing",
				n, before.LastIndex, before.Entries, h.m.when(before.Seen))
		}
	}
	if len(res.alarms) == 0 {
		st.Checkpoint, st.Seen = seen.Raw, h.m.Now().UTC()
		st.Entries, st.LastIndex = len(res.rows), 0
		if len(res.rows) > 0 {
			st.LastIndex = res.rows[len(res.rows)-1].Index
		}
		if err := h.m.saveAuditState(st); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// openAuditBody decrypts an entry's body with this device's key.
func (h *household) openAuditBody(e auditlog.Entry) (*auditlog.Body, string) {
	if len(e.Body) == 0 {
		return nil, "(no body: the household had no device to seal it to)"
	}
	pt, err := keys.Decrypt(e.Body, h.dev.KEM)
	var nm *age.NoIdentityMatchError
	if errors.As(err, &nm) {
		return nil, "(sealed to other devices)"
	}
	if err != nil {
		return nil, fmt.Sprintf("(body does not open: %v)", err)
	}
	b, err := auditlog.DecodeBody(pt)
	if err != nil {
		return nil, fmt.Sprintf("(body is malformed: %v)", err)
	}
	return &b, ""
}

// tileCache is a tile fetcher of the service that fetches each tile once
// per run.
func tileCache(c *apiclient.Client) auditlog.TileFetcher {
	type key struct {
		level, index uint64
		p            uint8
	}
	cache := map[key][]byte{}
	return func(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
		k := key{level, index, p}
		if b, ok := cache[k]; ok {
			return b, nil
		}
		b, err := c.LogTile(ctx, level, index, p)
		if apiclient.IsStatus(err, http.StatusNotFound) {
			// A partial tile the service no longer has: the verifier then
			// asks for the full one.
			return nil, fmt.Errorf("%w: %w", auditlog.ErrNotFound, err)
		}
		if err != nil {
			return nil, err
		}
		cache[k] = b
		return b, nil
	}
}

// printAlarm shows a failed verification loudly, with what to do.
func (m *Main) printAlarm(res *auditResult) {
	for _, a := range res.alarms {
		fmt.Fprintf(m.Stderr, "ALARM: %s.\n", a)
	}
	evidence, _ := m.statePath(auditStateName(res.server))
	fmt.Fprintf(m.Stderr, "ALARM: do not trust this service's audit log. Keep %s as evidence: it holds the log key and the last checkpoint this device verified", evidence)
	if res.before != nil && !res.before.Seen.IsZero() {
		fmt.Fprintf(m.Stderr, " (on %s)", m.when(res.before.Seen))
	}
	fmt.Fprint(m.Stderr, ", and this device will keep comparing against it.\n"+
		"ALARM: contact the service's operator with this message; if you run porchlightd yourself, restore its data directory's log from a backup and find out who changed it.\n")
}

func cmdAudit(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "audit", synopsis: "[--class C] [--actor KIND] [--action A] [--since T] [--json]", about: `
Lists your household's audit log: every sign-in, device, member and hub
change, every support request and grant decision, every key released and
every access by anyone but your own devices, and every refusal. Each entry
is checked for inclusion in the service's transparency log (✓ verified,
✗ failed) and its sealed body — who, what, why — is decrypted on this
device; entries sealed before this device joined show as sealed to other
devices. The filters apply after every entry was verified; see also
` + "`porchlight audit verify`." + `

Classes: auth, device, hub, member, grant, key_release, access, denial,
deletion, staff. Actor kinds: owner, member, support, annotator, operator,
hub, anonymous, service.

` + timeHelp}
	fs := m.flags(spec.name)
	class := fs.String("class", "", "show only entries of class `C`")
	actor := fs.String("actor", "", "show only entries whose actor is of `KIND`")
	action := fs.String("action", "", "show only entries with action `A` (e.g. login, grant_approved, key_release)")
	sinceS := fs.String("since", "", "show only entries from `T` on (e.g. -1h, -7d)")
	asJSON := fs.Bool("json", false, "print one JSON object per entry")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	classes := []string{api.AuditAuth, api.AuditDevice, api.AuditHub, api.AuditMember, api.AuditGrant,
		api.AuditKeyRelease, api.AuditAccess, api.AuditDenial, api.AuditDeletion, api.AuditStaff, api.AuditClient, api.AuditDeclassification, api.AuditConsent}
	kinds := []string{api.ActorOwner, api.ActorMember, api.ActorSupport, api.ActorAnnotator, api.ActorOperator,
		api.ActorHub, api.ActorAnonymous, api.ActorService}
	switch {
	case *class != "" && !slices.Contains(classes, *class):
		return usagef(spec.name, "--class %q: use one of %s", clean(*class), strings.Join(classes, ", "))
	case *actor != "" && !slices.Contains(kinds, *actor):
		return usagef(spec.name, "--actor %q: use one of %s", clean(*actor), strings.Join(kinds, ", "))
	}
	var since time.Time
	if *sinceS != "" {
		t, err := parseTime(*sinceS, m.Now(), m.loc)
		if err != nil {
			return usagef(spec.name, "--since %v", err)
		}
		since = t
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	res, err := h.verifyAudit(ctx)
	if err != nil {
		return err
	}
	var rows []auditRow
	for _, r := range res.rows {
		switch {
		case *class != "" && r.Entry.Class != *class,
			*actor != "" && (r.Body == nil || r.Body.Actor.Kind != *actor),
			*action != "" && (r.Body == nil || r.Body.Action != *action),
			!since.IsZero() && r.Entry.Time.Before(since):
			continue
		}
		rows = append(rows, r)
	}
	if *asJSON {
		if err := m.printAuditJSON(m.Stdout, rows); err != nil {
			return err
		}
	} else {
		m.printAuditRows(m.Stdout, rows)
	}
	if len(res.alarms) > 0 {
		m.printAlarm(res)
		return errAuditAlarm
	}
	if res.pending > 0 {
		fmt.Fprintf(m.Stderr, "%s not yet in a published checkpoint: run `porchlight audit` again in a moment to see and verify them.\n", entries(res.pending))
	}
	return nil
}

func cmdAuditVerify(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "audit verify", about: `
Verifies your household's audit log without listing it: every entry must be
included in the service's transparency log under a checkpoint signed with
the log key this device pinned on first use, that checkpoint must be
consistent with the last one this device verified (kept in the state
directory), and every entry verified before must still be listed. Any
failure is an ALARM and exits non-zero: the service rewrote or forked its
log, or changed its key.`}
	if _, err := m.parse(m.flags(spec.name), spec, args); err != nil {
		return err
	}
	h, err := m.openHousehold(ctx)
	if err != nil {
		return err
	}
	res, err := h.verifyAudit(ctx)
	if err != nil {
		return err
	}
	if len(res.alarms) > 0 {
		m.printAlarm(res)
		return errAuditAlarm
	}
	fmt.Fprintf(m.Stdout, "audit log verified: %s of your household, checkpoint size %d\n", entries(len(res.rows)), res.newest.Size)
	if res.before == nil {
		fmt.Fprintf(m.Stdout, "Pinned the log key %s on first use: this device will refuse a log signed with another.\n", clean(res.state.VerifierKey))
	}
	return nil
}

// entries says "1 entry", "2 entries".
func entries(n int) string {
	if n == 1 {
		return "1 entry"
	}
	return fmt.Sprintf("%d entries", n)
}

// printAuditRows prints one line per entry.
func (m *Main) printAuditRows(w io.Writer, rows []auditRow) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "No audit entries match.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tCLASS\tACTOR\tACTION\tRESOURCE\tDECISION\tOK")
	for _, r := range rows {
		mark := "✗"
		if r.Verified {
			mark = "✓"
		}
		actor, action, resource, decision := r.Sealed, "", "", ""
		if b := r.Body; b != nil {
			actor, action, resource = actorString(b.Actor), clean(b.Action), clean(b.Resource)
			decision = clean(b.Decision)
			if b.Status != 0 {
				decision = strings.TrimSpace(fmt.Sprintf("%s %d", decision, b.Status))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.when(r.Entry.Time), orDash(clean(r.Entry.Class)), orDash(actor),
			orDash(action), orDash(resource), orDash(decision), mark)
	}
	tw.Flush()
}

// actorString says who acted: the kind, and for staff their e-mail,
// organisation and country.
func actorString(a auditlog.Actor) string {
	s := clean(a.Kind)
	switch a.Kind {
	case api.ActorSupport, api.ActorAnnotator, api.ActorOperator:
		if a.Email != "" {
			s += " " + clean(a.Email)
		}
		var where []string
		for _, x := range []string{a.Org, a.Country} {
			if x != "" {
				where = append(where, clean(x))
			}
		}
		if len(where) > 0 {
			s += " (" + strings.Join(where, ", ") + ")"
		}
	case api.ActorHub:
		if a.Hub != "" {
			s += " " + clean(a.Hub)
		}
	default:
		if a.Device != "" {
			s += " device " + clean(a.Device)
		} else if a.Addr != "" {
			s += " from " + clean(a.Addr)
		}
	}
	return s
}

// auditJSON is one entry of `audit --json`.
type auditJSON struct {
	Index     uint64         `json:"index"`
	ID        string         `json:"id"`
	Time      time.Time      `json:"time"`
	Class     string         `json:"class"`
	Verified  bool           `json:"verified"`
	Body      *auditlog.Body `json:"body,omitempty"`
	Sealed    string         `json:"sealed,omitempty"`
	Household string         `json:"household"`
}

func (m *Main) printAuditJSON(w io.Writer, rows []auditRow) error {
	enc := json.NewEncoder(w)
	for _, r := range rows {
		if err := enc.Encode(auditJSON{Index: r.Index, ID: r.Entry.ID, Time: r.Entry.Time, Class: r.Entry.Class,
			Verified: r.Verified, Body: r.Body, Sealed: r.Sealed, Household: r.Entry.Household}); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	return nil
}
