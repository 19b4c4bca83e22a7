package sqlitestore_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porchlight/porchlight/internal/store"
	sqlitestore "github.com/porchlight/porchlight/internal/store/sqlite"
	"github.com/porchlight/porchlight/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "porchlight.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "porchlight.db")
	s, err := sqlitestore.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	a := store.Account{ID: "acct1", Email: "a@example.org", PasswordHash: "h"}
	if err := s.CreateAccount(t.Context(), a, store.Household{ID: "hh1", Owner: "acct1"}); err != nil {
		t.Fatal(err)
	}
	v1, err := s.SchemaVersion(t.Context())
	if err != nil || v1 < 1 {
		t.Fatalf("SchemaVersion = %d, %v", v1, err)
	}
	s.Close()
	s, err = sqlitestore.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if v2, _ := s.SchemaVersion(t.Context()); v2 != v1 {
		t.Errorf("schema version %d after reopen, want %d", v2, v1)
	}
	if _, err := s.Account(t.Context(), "acct1"); err != nil {
		t.Errorf("account lost on reopen: %v", err)
	}
}

// TestUpgradeFromVersion1 opens a database made by version 1 of the schema
// (as released before accounts had roles and factors) and checks that the
// upgrade keeps its accounts and sessions working.
func TestUpgradeFromVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "porchlight.db")
	v1, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	for _, q := range []string{
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		string(v1),
		`INSERT INTO schema_version (version) VALUES (1)`,
		`INSERT INTO accounts (id, email, password_hash, created) VALUES ('acct1', 'Old@Example.org', 'h', 1)`,
		`INSERT INTO households (id, owner, created) VALUES ('hh1', 'acct1', 1)`,
		fmt.Sprintf(`INSERT INTO sessions (id, token_hash, account, device_name, created, last_used, expires)
			VALUES ('ses1', 'th1', 'acct1', 'laptop', %d, %d, %d)`, created.UnixMicro(), created.UnixMicro(), created.Add(time.Hour).UnixMicro()),
	} {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("build a version 1 database: %v", err)
		}
	}
	db.Close()

	s, err := sqlitestore.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open a version 1 database: %v", err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(t.Context()); err != nil || v < 2 {
		t.Fatalf("SchemaVersion after upgrade = %d, %v", v, err)
	}
	a, err := s.AccountByEmail(t.Context(), "old@example.org")
	if err != nil {
		t.Fatalf("account after upgrade: %v", err)
	}
	if a.Role != store.RoleCustomer || a.Disabled {
		t.Errorf("upgraded account: Role %q Disabled %v, want a customer, enabled", a.Role, a.Disabled)
	}
	se, err := s.SessionByTokenHash(t.Context(), "th1")
	if err != nil {
		t.Fatalf("session after upgrade: %v", err)
	}
	if se.HouseholdID != "hh1" || se.Role != store.RoleCustomer || !se.AuthAt.Equal(created) {
		t.Errorf("upgraded session: household %q role %q AuthAt %v; want hh1, customer, %v (its creation)", se.HouseholdID, se.Role, se.AuthAt, created)
	}
	checkVersion7(t, s)
	ended, err := s.ChangePassword(t.Context(), "acct1", "h2", "")
	if err != nil || len(ended) != 1 || ended[0] != "ses1" {
		t.Errorf("ChangePassword after upgrade = %v, %v; want [ses1]", ended, err)
	}
	if err := s.CreateAccount(t.Context(), store.Account{ID: "op1", Email: "op@example.org", PasswordHash: "h", Role: store.RoleOperator}, store.Household{}); err != nil {
		t.Errorf("staff account after upgrade: %v", err)
	}
	checkVersion5(t, s, a, "hh1")
	// Version 6: an old household has no quota and can be given one.
	if h, err := s.Household(t.Context(), "hh1"); err != nil || h.QuotaBytes != 0 {
		t.Errorf("household after upgrade: QuotaBytes %d, %v; want 0 (no limit)", h.QuotaBytes, err)
	}
	if err := s.SetQuota(t.Context(), "hh1", 1<<30); err != nil {
		t.Fatalf("SetQuota after upgrade: %v", err)
	}
	if h, err := s.HouseholdOf(t.Context(), "acct1"); err != nil || h.QuotaBytes != 1<<30 {
		t.Errorf("household after SetQuota: QuotaBytes %d, %v; want %d", h.QuotaBytes, err, 1<<30)
	}
}

// TestHouseholdUsageUsesIndex checks that HouseholdUsage's sum is answered
// from the objects_household index, not by scanning every object.
func TestHouseholdUsageUsesIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "porchlight.db")
	s, err := sqlitestore.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `EXPLAIN QUERY PLAN SELECT coalesce(sum(size), 0) FROM objects WHERE household = ?`, "hh1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(plan, "; "); !strings.Contains(got, "COVERING INDEX objects_household") {
		t.Errorf("usage query plan = %q, want a search of the covering index objects_household", got)
	}
}

// checkVersion5 checks an upgraded store's version 5 parts: an old
// account has no organisation, and grants and the audit index work for an
// old household.
func checkVersion5(t *testing.T, s store.Store, old store.Account, household string) {
	t.Helper()
	if old.Org != "" || old.Country != "" {
		t.Errorf("upgraded account: Org %q Country %q, want none", old.Org, old.Country)
	}
	g := store.Grant{ID: "gr1", HouseholdID: household, Requester: "sup1", Org: "Acme", Country: "IE", Camera: "Door",
		Duration: time.Hour, State: "pending", Created: time.Unix(1, 0).UTC(), Expires: time.Unix(2, 0).UTC()}
	if err := s.CreateGrant(t.Context(), g); err != nil {
		t.Fatalf("CreateGrant after upgrade: %v", err)
	}
	if got, err := s.Grant(t.Context(), g.ID); err != nil || got.Org != "Acme" || got.Duration != time.Hour {
		t.Errorf("Grant after upgrade = %+v, %v", got, err)
	}
	if err := s.AddAuditRef(t.Context(), store.AuditRef{HouseholdID: household, Index: 7, ID: "ent1", Class: "grant"}); err != nil {
		t.Fatalf("AddAuditRef after upgrade: %v", err)
	}
	if refs, err := s.AuditRefs(t.Context(), household, 0, 10); err != nil || len(refs) != 1 || refs[0].Index != 7 {
		t.Errorf("AuditRefs after upgrade = %+v, %v", refs, err)
	}
}

// checkVersion7 checks an upgraded store's version 7 part: the old session
// ses1 (token th1) has no second factor, and a re-authentication with one
// records it.
func checkVersion7(t *testing.T, s *sqlitestore.Store) {
	t.Helper()
	se, err := s.SessionByTokenHash(t.Context(), "th1")
	if err != nil || se.AuthFactor {
		t.Errorf("session after upgrade: AuthFactor %v, %v; want false", se.AuthFactor, err)
	}
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := s.RotateSession(t.Context(), "ses1", "th1", at, true); err != nil {
		t.Fatalf("RotateSession after upgrade: %v", err)
	}
	if se, err := s.SessionByID(t.Context(), "ses1"); err != nil || !se.AuthFactor || !se.AuthAt.Equal(at) {
		t.Errorf("session after RotateSession with a factor: AuthFactor %v AuthAt %v, %v; want true, %v", se.AuthFactor, se.AuthAt, err, at)
	}
}
