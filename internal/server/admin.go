package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/dustin/go-humanize"

	"github.com/porchlight/porchlight/internal/api"
)

// adminUsage is the help of `porchlightd admin`.
const adminUsage = `usage: porchlightd admin [--data DIR] [--config FILE] COMMAND

Talks to the running porchlightd over its local admin socket
(data_dir/admin.sock; only root and porchlightd's own user may use it).

Commands:
  staff add --email EMAIL --role support|annotator|operator [--org ORG --country CC]
        create a staff account with a password (PORCHLIGHT_PASSWORD or a
        prompt) and an authenticator; prints the TOTP secret and the
        recovery codes once. --org (employer) and --country (office, ISO
        3166-1 alpha-2) go into every audit entry of their actions
  staff list
        list staff accounts
  account disable EMAIL
        stop an account from signing in and end its sessions now
  account quota EMAIL SIZE
        set the storage quota of the household EMAIL owns (e.g. 500GB; 0:
        no limit); uploads beyond it wait on the hub
  account enable EMAIL
        allow a disabled account to sign in again
  account revoke-sessions EMAIL
        end every session of an account now
  feed reports
        list reports of published neighbours-feed posts
  feed remove POST --reason TEXT
        take a post down (its public video is deleted); the reason goes
        into the poster's audit log
  campaign create --purpose TEXT --classes person,animal,vehicle --retention 90d
                  --org ORG --country CC --recipient age1pq1…
        create an annotation campaign; --recipient is the public half of the
        campaign key the annotating organisation made (porchlight campaign
        key); porchlightd never holds its private half. Prints the id
  campaign list
        list annotation campaigns

--data and --config (or PORCHLIGHT_DATA and PORCHLIGHT_CONFIG) must name the
data directory or config file the running porchlightd uses.
`

// Admin is `porchlightd admin ARGS…`: the operator's client of the admin
// socket, for the staff bootstrap and account emergencies without any
// network-exposed super-user. It returns the exit status: 0 done, 1
// failed, 2 usage error. getenv (nil: os.Getenv) supplies
// PORCHLIGHT_DATA, PORCHLIGHT_CONFIG and PORCHLIGHT_PASSWORD.
func Admin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if getenv == nil {
		getenv = os.Getenv
	}
	a := &adminCmd{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	err := a.run(ctx, args)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, adminUsage)
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "porchlightd admin: %v\n\n%s", err, adminUsage)
		return 2
	default:
		fmt.Fprintf(stderr, "porchlightd admin: %v\n", err)
		return 1
	}
}

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

type adminCmd struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	data, config string // --data, --config
	in           *bufio.Reader
	hc           *http.Client
	sock         string
}

// flags returns a flag set with the options every command takes.
func (a *adminCmd) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&a.data, "data", a.data, "data `dir` of the running porchlightd")
	fs.StringVar(&a.config, "config", a.config, "config `file` of the running porchlightd")
	return fs
}

// parse parses flags anywhere among the arguments and returns the others.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

func (a *adminCmd) run(ctx context.Context, args []string) error {
	fs := a.flags("admin")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	rest := fs.Args()
	if len(rest) < 2 {
		return usagef("want a command such as: staff add, staff list, account disable EMAIL")
	}
	// Each command parses its own flags, --data and --config again
	// included, from the arguments after its two words.
	cmd, after := rest[0]+" "+rest[1], rest[2:]
	switch cmd {
	case "staff add":
		fs := a.flags(cmd)
		email := fs.String("email", "", "")
		role := fs.String("role", "", "")
		org := fs.String("org", "", "")
		country := fs.String("country", "", "")
		if extra, err := parse(fs, after); err != nil {
			return err
		} else if len(extra) > 0 {
			return usagef("staff add: unexpected %q", extra)
		}
		return a.staffAdd(ctx, api.AdminStaffCreate{Email: *email, Role: *role, Org: *org, Country: *country})
	case "staff list":
		if extra, err := parse(a.flags(cmd), after); err != nil {
			return err
		} else if len(extra) > 0 {
			return usagef("staff list: unexpected %q", extra)
		}
		return a.staffList(ctx)
	case "account disable", "account enable", "account revoke-sessions":
		pos, err := parse(a.flags(cmd), after)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("%s: want one EMAIL", cmd)
		}
		return a.accountAction(ctx, rest[1], pos[0])
	case "account quota":
		pos, err := parse(a.flags(cmd), after)
		if err != nil {
			return err
		}
		if len(pos) != 2 {
			return usagef("account quota: want EMAIL and a size such as 50GB, or 0 for no limit")
		}
		return a.accountQuota(ctx, pos[0], pos[1])
	case "feed reports", "feed remove":
		return a.feed(ctx, cmd, after)
	case "campaign create", "campaign list":
		return a.campaign(ctx, cmd, after)
	}
	return usagef("unknown command %q", cmd)
}

// connect finds the admin socket: --config / PORCHLIGHT_CONFIG and
// PORCHLIGHT_DATA as porchlightd reads them, --data last.
func (a *adminCmd) connect() error {
	var m Main
	config := a.config
	if config == "" {
		config = a.getenv("PORCHLIGHT_CONFIG")
	}
	if err := m.Load(config, a.getenv); err != nil {
		return err
	}
	if a.data != "" {
		m.DataDir = a.data
	}
	a.sock = m.adminSocketPath()
	var d net.Dialer
	a.hc = &http.Client{
		Timeout: time.Minute,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return d.DialContext(ctx, "unix", a.sock)
			},
		},
	}
	return nil
}

// call sends one admin request; in and out are JSON bodies (nil: none).
func (a *adminCmd) call(ctx context.Context, method, path string, in, out any) error {
	if a.hc == nil {
		if err := a.connect(); err != nil {
			return err
		}
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://porchlightd"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return a.dialError(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e api.Error
		if json.Unmarshal(b, &e) != nil || e.Message == "" {
			return fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
		}
		if e.ID != "" {
			return fmt.Errorf("%s (error id %s)", e.Message, e.ID)
		}
		return errors.New(e.Message)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decode the answer: %w", err)
		}
	}
	return nil
}

// dialError explains why the admin socket did not answer.
func (a *adminCmd) dialError(err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("no admin socket at %s: is porchlightd running with this data dir? (pass --data DIR or set PORCHLIGHT_DATA to the data_dir it uses)", a.sock)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("permission denied on %s: run this as root or as the user porchlightd runs as", a.sock)
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("porchlightd closed the admin connection at %s: only root or the user porchlightd runs as may use it", a.sock)
	}
	return fmt.Errorf("admin socket %s: %w", a.sock, err)
}

func (a *adminCmd) staffAdd(ctx context.Context, in api.AdminStaffCreate) error {
	email, role := in.Email, in.Role
	if email == "" {
		return usagef("staff add: --email is required")
	}
	switch role {
	case api.RoleSupport, api.RoleAnnotator, api.RoleOperator:
	case "":
		return usagef("staff add: --role is required: support, annotator or operator")
	default:
		return usagef("staff add: --role %q: want support, annotator or operator", role)
	}
	pw, err := a.password()
	if err != nil {
		return err
	}
	in.Password = pw
	var created api.AdminStaffCreated
	if err := a.call(ctx, http.MethodPost, "/admin/staff", in, &created); err != nil {
		return fmt.Errorf("staff add: %w", err)
	}
	w := a.stdout
	fmt.Fprintf(w, "Created %s account %s (id %s).\n", role, email, created.AccountID)
	if in.Org == "" || in.Country == "" {
		fmt.Fprintln(w, "Note: without --org and --country, owners' audit logs cannot say who employs this person or where.")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "The following is shown only this once. Hand it to %s over a channel you trust.\n\n", email)
	fmt.Fprintf(w, "Authenticator app (TOTP) secret:\n  %s\n", created.TOTPSecret)
	fmt.Fprintf(w, "or as a URI (for a QR code, e.g. qrencode -t ansiutf8 '<URI>'):\n  %s\n\n", created.TOTPURI)
	fmt.Fprintln(w, "Recovery codes (each signs in once without the app; keep them offline):")
	for _, c := range created.RecoveryCodes {
		fmt.Fprintf(w, "  %s\n", c)
	}
	fmt.Fprintf(w, "\nTo sign in: porchlight login --server URL --email %s, then a code from the app.\n", email)
	return nil
}

// password returns PORCHLIGHT_PASSWORD, or asks twice without echo on a
// terminal, or reads one line of stdin. Never a flag: it would show in ps.
func (a *adminCmd) password() (string, error) {
	if p := a.getenv("PORCHLIGHT_PASSWORD"); p != "" {
		return p, nil
	}
	if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		read := func(prompt string) (string, error) {
			fmt.Fprint(a.stderr, prompt)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(a.stderr)
			if err != nil {
				return "", fmt.Errorf("read password: %w", err)
			}
			return string(b), nil
		}
		p, err := read("Password for the new staff account: ")
		if err != nil {
			return "", err
		}
		if p == "" {
			return "", errors.New("no password given")
		}
		again, err := read("Repeat it: ")
		if err != nil {
			return "", err
		}
		if again != p {
			return "", errors.New("the passwords do not match")
		}
		return p, nil
	}
	if a.in == nil {
		a.in = bufio.NewReader(a.stdin)
	}
	line, err := a.in.ReadString('\n')
	line = strings.TrimRight(line, "\r\n")
	if line == "" || err != nil && !errors.Is(err, io.EOF) {
		return "", errors.New("no password: set PORCHLIGHT_PASSWORD or type it on standard input")
	}
	return line, nil
}

func (a *adminCmd) staffList(ctx context.Context) error {
	var list api.AdminStaffList
	if err := a.call(ctx, http.MethodGet, "/admin/staff", nil, &list); err != nil {
		return fmt.Errorf("staff list: %w", err)
	}
	if len(list.Staff) == 0 {
		fmt.Fprintln(a.stdout, "No staff accounts yet. Create one with: porchlightd admin staff add --email EMAIL --role operator")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tROLE\tSTATUS\tCREATED\tID")
	for _, s := range list.Staff {
		status := "active"
		if s.Disabled {
			status = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Email, s.Role, status, s.CreatedAt.UTC().Format(time.DateOnly), s.AccountID)
	}
	return tw.Flush()
}

func (a *adminCmd) accountQuota(ctx context.Context, email, size string) error {
	n, err := humanize.ParseBytes(size)
	if err != nil || n > math.MaxInt64 {
		return usagef("account quota: %q is not a size: write e.g. 500GB, 2TiB, or 0 for no limit", size)
	}
	var acct api.AdminAccount
	if err := a.call(ctx, http.MethodPost, "/admin/accounts/quota", api.AdminQuota{Email: email, Bytes: int64(n)}, &acct); err != nil {
		return fmt.Errorf("account quota: %w", err)
	}
	limit := "no limit"
	if acct.QuotaBytes > 0 {
		limit = humanize.IBytes(uint64(acct.QuotaBytes))
	}
	fmt.Fprintf(a.stdout, "Quota of %s's household: %s (%s stored now). The change is in the household's audit log.\n",
		acct.Email, limit, humanize.IBytes(uint64(acct.UsedBytes)))
	return nil
}

func (a *adminCmd) accountAction(ctx context.Context, action, email string) error {
	var acct api.AdminAccount
	if err := a.call(ctx, http.MethodPost, "/admin/accounts/"+action, api.AdminAccountAction{Email: email}, &acct); err != nil {
		return fmt.Errorf("account %s: %w", action, err)
	}
	switch action {
	case "disable":
		fmt.Fprintf(a.stdout, "Disabled %s; ended %d sessions. It cannot sign in until `porchlightd admin account enable %s`.\n", acct.Email, acct.SessionsEnded, acct.Email)
	case "enable":
		fmt.Fprintf(a.stdout, "Enabled %s; it can sign in again.\n", acct.Email)
	default:
		fmt.Fprintf(a.stdout, "Ended %d sessions of %s.\n", acct.SessionsEnded, acct.Email)
	}
	return nil
}
