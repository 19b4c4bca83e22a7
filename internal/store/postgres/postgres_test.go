package pgstore_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/porchlight/porchlight/internal/store"
	pgstore "github.com/porchlight/porchlight/internal/store/postgres"
	"github.com/porchlight/porchlight/internal/store/storetest"
)

// cluster is a throwaway PostgreSQL cluster the tests start on first use
// and TestMain stops.
type cluster struct {
	bin  string // directory of initdb, pg_ctl
	base string // removed at the end
	data string
	port int
	err  error
}

var (
	pgOnce sync.Once
	pg     cluster
	dbSeq  atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	pg.stop()
	os.Exit(code)
}

// findBin returns the newest /usr/lib/postgresql/*/bin holding initdb and
// pg_ctl.
func findBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin: run scripts/setup")
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// asPostgres runs a server binary as the postgres user when we are root
// (initdb and postgres refuse to run as root).
func asPostgres(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (c *cluster) start() error {
	bin, err := findBin()
	if err != nil {
		return err
	}
	c.bin = bin
	base, err := os.MkdirTemp("", "pgstore-")
	if err != nil {
		return err
	}
	c.base = base
	// Make it reachable by the postgres user: /tmp is world-traversable and
	// base becomes 0755 and, when we are root, owned by postgres.
	if err := os.Chmod(base, 0o755); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("user postgres: %w (run scripts/setup)", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(base, uid, gid); err != nil {
			return err
		}
	}
	c.data = filepath.Join(base, "data")
	out, err := asPostgres(filepath.Join(bin, "initdb"), "-D", c.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions").CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	c.port, err = freePort()
	if err != nil {
		return err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", c.port, base)
	out, err = asPostgres(filepath.Join(bin, "pg_ctl"), "-D", c.data, "-l", filepath.Join(base, "postgres.log"), "-w", "-t", "60", "-o", opts, "start").CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(base, "postgres.log"))
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	// pg_ctl -w waits for readiness; still make sure we can connect.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, c.dsn("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("postgres not ready: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *cluster) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// stop shuts the cluster down (fast, then immediate) and removes its files.
func (c *cluster) stop() {
	if c.data != "" && c.bin != "" {
		// The postmaster's pid, to wait below until it is reaped.
		var pid int
		if b, err := os.ReadFile(filepath.Join(c.data, "postmaster.pid")); err == nil {
			fmt.Sscan(string(b), &pid)
		}
		pgctl := filepath.Join(c.bin, "pg_ctl")
		if out, err := asPostgres(pgctl, "-D", c.data, "-m", "fast", "-w", "-t", "30", "stop").CombinedOutput(); err != nil {
			if _, statErr := os.Stat(filepath.Join(c.data, "postmaster.pid")); statErr == nil {
				fmt.Fprintf(os.Stderr, "pg_ctl stop: %v\n%s\n", err, out)
				_ = asPostgres(pgctl, "-D", c.data, "-m", "immediate", "-w", "stop").Run()
			}
		}
		// pg_ctl daemonised the postmaster, so init reaps it; give that a
		// moment so no (defunct) postgres outlives the test binary.
		for deadline := time.Now().Add(5 * time.Second); pid > 0 && time.Now().Before(deadline); {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if c.base != "" {
		os.RemoveAll(c.base)
	}
}

// newDB creates a fresh database on the shared cluster and returns its DSN;
// the database is dropped when the test ends.
func newDB(t *testing.T) string {
	t.Helper()
	pgOnce.Do(func() { pg.err = pg.start() })
	if pg.err != nil {
		t.Fatal(pg.err)
	}
	name := fmt.Sprintf("pgstore_%d_%d", os.Getpid(), dbSeq.Add(1))
	admin := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, pg.dsn("postgres"))
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := admin(`CREATE DATABASE ` + pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if err := admin(`DROP DATABASE IF EXISTS ` + pgx.Identifier{name}.Sanitize() + ` WITH (FORCE)`); err != nil {
			t.Errorf("drop database: %v", err)
		}
	})
	return pg.dsn(name)
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := pgstore.Open(t.Context(), newDB(t))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	dsn := newDB(t)
	s, err := pgstore.Open(t.Context(), dsn)
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
	s, err = pgstore.Open(t.Context(), dsn)
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

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	dsn := newDB(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := pgstore.Open(t.Context(), dsn)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("concurrent open: %v", err)
		}
	}
}

// TestUpgradeFromVersion1 opens a database that holds data written at
// schema version 1 and checks that the upgrade keeps it and fills the new
// columns sensibly.
func TestUpgradeFromVersion1(t *testing.T) {
	dsn := newDB(t)
	v1, err := os.ReadFile(filepath.Join("migrations", "0001_init.sql"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	for _, sql := range []string{
		string(v1),
		`CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1)`,
		fmt.Sprintf(`INSERT INTO accounts (id, email, password_hash, created) VALUES ('acct1', 'a@example.org', 'h', %d)`, created.UnixMicro()),
		fmt.Sprintf(`INSERT INTO households (id, owner, created) VALUES ('hh1', 'acct1', %d)`, created.UnixMicro()),
		fmt.Sprintf(`INSERT INTO sessions (id, token_hash, account, device_name, created, last_used, expires) VALUES ('ses1', 'th1', 'acct1', 'laptop', %d, %[1]d, %d)`,
			created.UnixMicro(), created.Add(time.Hour).UnixMicro()),
	} {
		if _, err := conn.Exec(t.Context(), sql); err != nil {
			t.Fatalf("set up version 1: %v", err)
		}
	}
	conn.Close(t.Context())

	s, err := pgstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(t.Context()); err != nil || v < 2 {
		t.Fatalf("SchemaVersion after upgrade = %d, %v; want >= 2", v, err)
	}
	a, err := s.Account(t.Context(), "acct1")
	if err != nil {
		t.Fatal(err)
	}
	if a.Role != store.RoleCustomer || a.Disabled || !a.Created.Equal(created) {
		t.Errorf("account after upgrade = %+v", a)
	}
	se, err := s.SessionByTokenHash(t.Context(), "th1")
	if err != nil {
		t.Fatal(err)
	}
	if se.HouseholdID != "hh1" || !se.AuthAt.Equal(created) || se.Client != "" {
		t.Errorf("session after upgrade = %+v; want household hh1 and AuthAt = Created", se)
	}
	checkVersion7(t, s)
	// The new tables work on the upgraded database.
	if _, err := s.ChangePassword(t.Context(), "acct1", "h2", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByTokenHash(t.Context(), "th1"); err == nil {
		t.Error("session survived a password change after upgrade")
	}
	if _, err := s.AddNotification(t.Context(), store.Notification{AccountID: "acct1", Kind: "k", Created: created}); err != nil {
		t.Fatal(err)
	}
	// Version 5: an old account has no organisation; grants and the audit
	// index work for an old household.
	if a.Org != "" || a.Country != "" {
		t.Errorf("upgraded account: Org %q Country %q, want none", a.Org, a.Country)
	}
	g := store.Grant{ID: "gr1", HouseholdID: "hh1", Requester: "sup1", Org: "Acme", Country: "IE", Camera: "Door",
		Duration: time.Hour, State: "pending", Created: created, Expires: created.Add(time.Hour)}
	if err := s.CreateGrant(t.Context(), g); err != nil {
		t.Fatalf("CreateGrant after upgrade: %v", err)
	}
	if got, err := s.Grant(t.Context(), g.ID); err != nil || got.Org != "Acme" || got.Duration != time.Hour {
		t.Errorf("Grant after upgrade = %+v, %v", got, err)
	}
	if err := s.AddAuditRef(t.Context(), store.AuditRef{HouseholdID: "hh1", Index: 7, ID: "ent1", Class: "grant", Time: created}); err != nil {
		t.Fatalf("AddAuditRef after upgrade: %v", err)
	}
	if refs, err := s.AuditRefs(t.Context(), "hh1", 0, 10); err != nil || len(refs) != 1 || refs[0].Index != 7 {
		t.Errorf("AuditRefs after upgrade = %+v, %v", refs, err)
	}
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

// TestHouseholdUsageUsesIndex checks that HouseholdUsage's sum can be
// answered from the objects_household index rather than a table scan.
// Sequential scans are priced out, so a plan without that index means no
// index serves the query.
func TestHouseholdUsageUsesIndex(t *testing.T) {
	dsn := newDB(t)
	s, err := pgstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(t.Context(), `EXPLAIN SELECT coalesce(sum(size), 0)::BIGINT FROM objects WHERE household = 'hh1'`)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(lines, "\n")
	if !strings.Contains(plan, "objects_household") {
		t.Errorf("the usage sum does not use objects_household:\n%s", plan)
	}
}

// TestThrottleUpdateRacesReset checks that UpdateThrottle's upsert-and-lock
// neither fails nor loses its own write when a ResetThrottle deletes the
// row between concurrent updates.
func TestThrottleUpdateRacesReset(t *testing.T) {
	s, err := pgstore.Open(t.Context(), newDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const key = "acct:racy"
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			if i%4 == 0 {
				if err := s.ResetThrottle(t.Context(), key); err != nil {
					t.Errorf("reset: %v", err)
				}
				return
			}
			got, err := s.UpdateThrottle(t.Context(), key, func(th *store.Throttle) { th.Failures++ })
			if err != nil {
				t.Errorf("update: %v", err)
			} else if got.Failures < 1 || got.Key != key {
				t.Errorf("update stored %+v", got)
			}
		})
	}
	wg.Wait()
}

// checkVersion7 checks an upgraded store's version 7 part: the old session
// ses1 (token th1) has no second factor, and a re-authentication with one
// records it.
func checkVersion7(t *testing.T, s *pgstore.Store) {
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
