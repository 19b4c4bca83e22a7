package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/porchlight/porchlight/internal/seal"
)

// reportRosterChanges tells the user about roster versions this device has
// not seen before and did not sign itself: who signed each, and which
// devices, members and hubs it added, removed or changed. Every owner
// device thereby sees every change to who may see what. from is the number
// of versions verified before; versions is the whole verified chain.
func (h *household) reportRosterChanges(w io.Writer, from int, versions [][]byte) {
	if from < 1 || from >= len(versions) {
		return
	}
	prev, err := seal.VerifyRosterChain(versions[:from], h.pin.Root)
	if err != nil {
		return // checked before: cannot happen
	}
	for i := from; i < len(versions); i++ {
		next, err := seal.VerifyRosterChain(versions[:i+1], h.pin.Root)
		if err != nil {
			return
		}
		env, err := seal.ParseSigned(versions[i], seal.TypeRoster)
		if err != nil {
			return
		}
		if h.dev == nil || env.Signer != h.dev.ID {
			fmt.Fprintln(w, rosterNews(prev, next, env.Signer))
		}
		prev = next
	}
}

// rosterNews describes one roster version against the one before.
func rosterNews(prev, next *seal.Roster, signer string) string {
	who := signer
	if e := prev.Entry(signer); e != nil {
		who = fmt.Sprintf("%s %q (%s)", e.Role, e.Name, signer)
	}
	var changes []string
	for _, e := range next.Entries {
		old := prev.Entry(e.ID)
		switch {
		case old == nil:
			changes = append(changes, "added "+entryText(e))
		case old.KEM != e.KEM:
			changes = append(changes, "new key for "+entryText(e))
		case old.Role != e.Role || strings.Join(old.Cameras, ",") != strings.Join(e.Cameras, ",") || !sameTime(old, &e):
			changes = append(changes, "changed "+entryText(e))
		}
	}
	for _, e := range prev.Entries {
		if next.Entry(e.ID) == nil {
			changes = append(changes, "removed "+entryText(e))
		}
	}
	if len(changes) == 0 {
		changes = []string{"no change to who may see what"}
	}
	return fmt.Sprintf("Roster version %d, signed by %s: %s.", next.Version, who, strings.Join(changes, "; "))
}

func entryText(e seal.RosterEntry) string {
	s := fmt.Sprintf("%s %q (%s)", e.Role, e.Name, e.ID)
	if e.Role == seal.RoleMember {
		s += fmt.Sprintf(", %d camera(s)", len(e.Cameras))
		if e.NotAfter != nil {
			s += " until " + e.NotAfter.UTC().Format("2006-01-02 15:04 MST")
		}
	}
	return s
}

func sameTime(a, b *seal.RosterEntry) bool {
	switch {
	case a.NotAfter == nil || b.NotAfter == nil:
		return a.NotAfter == b.NotAfter
	}
	return a.NotAfter.Equal(*b.NotAfter)
}
