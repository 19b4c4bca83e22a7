// Package cli is the porchlight command, an owner's device: it signs up and
// logs in (with an authenticator code or a recovery code when the account has
// a second factor), keeps this device's key pair, session and device token in
// a state directory, manages the account's password, factors and sessions
// (re-authenticating when the service asks for a recent sign-in), shows its
// notifications, claims hubs, and lists, verifies, decrypts and exports
// recordings. It talks to the service only over HTTPS, or plain HTTP to this
// machine, unless told otherwise (--insecure-http).
//
// Everything the service returns is checked before use: the household roster
// chain against the version-1 signer pinned on this device (a substituted,
// forked or rolled-back roster is refused with an alarm), camera descriptors,
// epoch announcements and manifests against hub keys from that roster, and
// every segment against the SHA-256 its manifest lists. Plaintext exists only
// in this process and in the files the user asks for.
//
// Main is the whole program as a value, so tests and testscript drive the
// real command in-process; cmd/porchlight only wires it to the OS. Do not use
// this package as a library: its output is for people and scripts.
package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"
)

// Environment variables read through Main.Env.
const (
	EnvHome         = "PORCHLIGHT_HOME"          // state directory; defaults to ~/.config/porchlight
	EnvServer       = "PORCHLIGHT_SERVER"        // service URL, unless --server is given
	EnvPassword     = "PORCHLIGHT_PASSWORD"      // password; otherwise it is prompted for
	EnvNewPassword  = "PORCHLIGHT_NEW_PASSWORD"  // the new password of `passwd`; otherwise it is prompted for
	EnvTOTP         = "PORCHLIGHT_TOTP"          // authenticator (or recovery) code at sign-in; otherwise it is prompted for
	EnvCA           = "PORCHLIGHT_CA"            // PEM file of extra CA certificates to trust, unless --ca is given
	EnvInsecureHTTP = "PORCHLIGHT_INSECURE_HTTP" // 1: allow plain http:// to a non-loopback service, like --insecure-http
)

// DefaultServer is the service URL when neither --server, PORCHLIGHT_SERVER
// nor a saved session name one.
const DefaultServer = "http://127.0.0.1:8080"

// Main is one run of the porchlight command. Its zero value reads no input,
// discards output and uses the process environment; set the fields a caller
// needs. Run it with Run.
type Main struct {
	// Args are the command-line arguments after the program name.
	Args []string
	// Stdin is read for passwords and confirmations. It defaults to an empty
	// reader. Passwords are read without echo when it is a terminal.
	Stdin io.Reader
	// Stdout receives results; Stderr prompts, progress, warnings and
	// errors. They default to io.Discard.
	Stdout, Stderr io.Writer
	// Env looks up an environment variable. It defaults to os.Getenv.
	Env func(string) string
	// Now is the clock. It defaults to time.Now.
	Now func() time.Time
	// HTTP is the client used to reach the service. It defaults to the API
	// client's (with connect and header timeouts).
	HTTP *http.Client
	// Version is what `porchlight version` prints. It defaults to the
	// module version and VCS revision from the build information.
	Version string
	// PollInterval is how often `hub claim` asks whether the hub presented
	// itself. It defaults to one second.
	PollInterval time.Duration

	// Set by Run.
	serverFlag   string         // --server, "" if not given
	caFlag       string         // --ca, "" if not given
	insecureFlag bool           // --insecure-http
	in           *bufio.Reader  // Stdin, buffered once so prompts share it
	loc          *time.Location // where times are shown and parsed
	httpc        *http.Client   // made from --ca on first use
}

// command is one entry of `porchlight help`.
type command struct {
	name    string // "hub claim"
	summary string
	run     func(ctx context.Context, m *Main, args []string) error
}

// commands lists every command, in the order `porchlight help` shows them.
// (A function, not a variable: help refers back to the list.)
func commands() []command {
	return []command{
		{"signup", "create an account and household; this device becomes its first owner", cmdSignup},
		{"login", "log in to your account on this device", cmdLogin},
		{"logout", "end this device's session", cmdLogout},
		{"recover", "get your household back on a new device with the recovery passphrase", cmdRecover},
		{"recovery-kit rotate", "replace the recovery kit with a new one and a new passphrase (the old one stops working)", cmdRecoveryKitRotate},
		{"whoami", "show the account, its factors, the household and the device in use", cmdWhoami},
		{"passwd", "change your password (signs out every other session)", cmdPasswd},
		{"account email", "change your account's e-mail address", cmdAccountEmail},
		{"sessions", "list where your account is signed in", cmdSessions},
		{"sessions revoke", "sign out one session, or every other one", cmdSessionsRevoke},
		{"totp add", "add an authenticator app as a second factor", cmdTOTPAdd},
		{"totp confirm", "activate a new authenticator app with a code from it", cmdTOTPConfirm},
		{"totp remove", "remove the authenticator app", cmdTOTPRemove},
		{"recovery-codes", "make a new set of one-time recovery codes", cmdRecoveryCodes},
		{"passkeys", "list your passkeys", cmdPasskeys},
		{"passkeys remove", "remove a passkey", cmdPasskeysRemove},
		{"notifications", "show your account's notifications (new sign-ins, changes, camera events)", cmdNotifications},
		{"events", "list camera events (person, animal, vehicle, doorbell …), decrypted and verified on this device", cmdEvents},
		{"events show", "show one camera event and save its thumbnail", cmdEventsShow},
		{"devices", "list the devices in your household's roster", cmdDevices},
		{"device pair", "ask to add this device to your household (shows a code and a string to compare)", cmdDevicePair},
		{"device approve", "add a new device to your household with the code it shows", cmdDeviceApprove},
		{"device remove", "remove a device from your household (ends its sessions and access to new video)", cmdDeviceRemove},
		{"device rotate-key", "give this owner device a new key, so copies of the store from before do not open with it", cmdDeviceRotateKey},
		{"members", "list the members your cameras are shared with", cmdMembers},
		{"members invite", "share cameras with another account until an expiry (prints a code for them)", cmdMembersInvite},
		{"members accept", "accept an invite to see another household's cameras", cmdMembersAccept},
		{"members confirm", "add a member who accepted your invite (shows a string to compare)", cmdMembersConfirm},
		{"members remove", "take back a member's access (ends their sessions and access to new video)", cmdMembersRemove},
		{"shared", "list the cameras other households share with you", cmdShared},
		{"hub claim", "add a hub to your household (shows a code and a fingerprint to compare)", cmdHubClaim},
		{"cameras", "list your cameras", cmdCameras},
		{"cameras retention", "set how many days a camera's recordings are kept", cmdCamerasRetention},
		{"cameras zones", "show or set where a camera alerts (signed by this device)", cmdCamerasZones},
		{"cameras remove", "remove a camera with every recording and key of it (--shred)", cmdCamerasRemove},
		{"recordings", "show the time ranges recorded by a camera, and the gaps", cmdRecordings},
		{"export", "verify, decrypt and export a camera's recordings as one MP4", cmdExport},
		{"live", "watch a camera live: verify, decrypt and save its video on this device", cmdLive},
		{"delete", "delete a camera's recordings in a time range (--shred destroys their keys)", cmdDelete},
		{"rekey", "seal a camera's history again under new keys, so removed devices cannot open it", cmdRekey},
		{"publish", "publish a redacted clip to the neighbours feed (you preview it and sign exactly that file)", cmdPublish},
		{"withdraw", "withdraw a post of yours from the neighbours feed (its video is deleted)", cmdWithdraw},
		{"feed", "list the neighbours feed around a neighbourhood cell", cmdFeed},
		{"feed mine", "list your household's posts and what became of them", cmdFeedMine},
		{"feed save", "save a post's published video", cmdFeedSave},
		{"feed report", "report a post to the service's moderators", cmdFeedReport},
		{"grants", "list support staff's requests for access to your cameras, and what became of them", cmdGrants},
		{"grants approve", "approve a support request: sign a grant and release only the keys it covers", cmdGrantsApprove},
		{"grants deny", "refuse a support request", cmdGrantsDeny},
		{"grants revoke", "end an approved support grant now (its released keys are deleted)", cmdGrantsRevoke},
		{"audit", "list your household's audit log, decrypted and verified against the transparency log", cmdAudit},
		{"audit verify", "verify your household's audit log entries and that the log was not rewritten or forked", cmdAuditVerify},
		{"support request", "support staff: ask an owner for access to a camera's recordings (a key is made on this device)", cmdSupportRequest},
		{"support requests", "support staff: list your requests and their states", cmdSupportRequests},
		{"donate", "give one redacted clip to an annotation campaign, under a consent this device signs", cmdDonate},
		{"consents", "list the clips you donated to annotation campaigns and their state", cmdConsents},
		{"consents withdraw", "withdraw a donation: its campaign copy is deleted and its labels excluded from exports", cmdConsentsWithdraw},
		{"campaign key", "annotating organisations: make a campaign key (prints the recipient for the operator)", cmdCampaignKey},
		{"dataset export", "annotators: write a campaign's labelled frames as COCO JSON + JPEG, consented clips only", cmdDatasetExport},
		{"version", "print the version", cmdVersion},
		{"help", "list the commands, or show one command's help", cmdHelp},
	}
}

// errHelp means help was shown on request: exit 0.
var errHelp = errors.New("help shown")

// usageError is a mistake on the command line: exit 2 with a pointer to -h.
type usageError struct {
	cmd string
	msg string
}

func (e *usageError) Error() string { return e.msg }

func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// Run runs the command and returns its exit code: 0 on success, 1 on
// failure, 2 on a usage mistake.
func (m Main) Run(ctx context.Context) int {
	return m.run(ctx)
}

func (m *Main) run(ctx context.Context) int {
	m.defaults()
	err := m.dispatch(ctx)
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.As(err, &ue):
		name := "porchlight"
		if ue.cmd != "" {
			name += " " + ue.cmd
		}
		fmt.Fprintf(m.Stderr, "%s: %s\nRun `%s -h` for usage.\n", name, ue.msg, name)
		return 2
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		fmt.Fprintln(m.Stderr, "porchlight: interrupted")
		return 1
	default:
		fmt.Fprintf(m.Stderr, "porchlight: %v\n", err)
		return 1
	}
}

func (m *Main) defaults() {
	if m.Stdin == nil {
		m.Stdin = strings.NewReader("")
	}
	if m.Stdout == nil {
		m.Stdout = io.Discard
	}
	if m.Stderr == nil {
		m.Stderr = io.Discard
	}
	if m.Env == nil {
		m.Env = os.Getenv
	}
	if m.Now == nil {
		m.Now = time.Now
	}
	if m.PollInterval <= 0 {
		m.PollInterval = time.Second
	}
	m.in = bufio.NewReader(m.Stdin)
	m.loc = time.Local
	if tz := strings.TrimPrefix(m.Env("TZ"), ":"); tz != "" {
		if loc, err := time.LoadLocation(tz); err == nil {
			m.loc = loc
		}
	}
}

// dispatch parses the global flags and runs the command.
func (m *Main) dispatch(ctx context.Context) error {
	fs := flag.NewFlagSet("porchlight", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	m.globalFlags(fs)
	if err := fs.Parse(m.Args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			m.printHelp(m.Stdout)
			return errHelp
		}
		return usagef("", "%v", err)
	}
	args := fs.Args()
	if len(args) == 0 {
		m.printHelp(m.Stderr)
		return usagef("", "missing command")
	}
	c, rest := lookup(args)
	if c == nil {
		if subs := subcommands(args[0]); len(subs) > 0 {
			list := "`porchlight " + strings.Join(subs, "`, `porchlight ") + "`"
			if len(args) == 1 {
				return usagef(args[0], "missing subcommand: use %s", list)
			}
			return usagef(args[0], "unknown subcommand %q: use %s", args[1], list)
		}
		return usagef("", "unknown command %q: run `porchlight help` for the list", args[0])
	}
	return c.run(ctx, m, rest)
}

// subcommands lists the commands named "group …".
func subcommands(group string) []string {
	var out []string
	for _, c := range commands() {
		if strings.HasPrefix(c.name, group+" ") {
			out = append(out, c.name)
		}
	}
	return out
}

// lookup finds the command named by the first one or two arguments.
func lookup(args []string) (*command, []string) {
	cmds := commands()
	if len(args) >= 2 {
		for i := range cmds {
			if cmds[i].name == args[0]+" "+args[1] {
				return &cmds[i], args[2:]
			}
		}
	}
	for i := range cmds {
		if cmds[i].name == args[0] {
			return &cmds[i], args[1:]
		}
	}
	return nil, nil
}

func (m *Main) printHelp(w io.Writer) {
	fmt.Fprint(w, "porchlight — the owner's command for Porchlight, end-to-end encrypted home video.\n\n")
	fmt.Fprint(w, "Usage: porchlight [--server URL] [--ca FILE] [--insecure-http] COMMAND [flags] [args]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-20s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun `porchlight COMMAND -h` for a command's flags.\n"+
		"State is kept in $%s (default ~/.config/porchlight); the password is read from $%s or prompted for,\n"+
		"an authenticator or recovery code from $%s or prompted for. Plain http:// is refused for a service\n"+
		"that is not on this machine unless --insecure-http (or $%s=1) is given.\n",
		EnvHome, EnvPassword, EnvTOTP, EnvInsecureHTTP)
}

// cmdSpec describes one command's flags and arguments for parse.
type cmdSpec struct {
	name     string // "export"
	synopsis string // arguments after the name, e.g. "--camera NAME --from T --to T -o FILE|-"
	about    string // a paragraph shown by -h
	minArgs  int    // positional arguments
	maxArgs  int
}

// flags returns a flag set for a command with the global flags registered.
func (m *Main) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	m.globalFlags(fs)
	return fs
}

// globalFlags registers the flags every command takes, before or after its
// name.
func (m *Main) globalFlags(fs *flag.FlagSet) {
	fs.StringVar(&m.serverFlag, "server", m.serverFlag, "service `URL` (default: $"+EnvServer+", else the server you logged in to, else "+DefaultServer+")")
	fs.StringVar(&m.caFlag, "ca", m.caFlag, "also trust the CA certificates in PEM `FILE`, for a service with a private CA (default: $"+EnvCA+")")
	fs.BoolVar(&m.insecureFlag, "insecure-http", m.insecureFlag, "allow plain http:// to a service that is not on this machine: passwords and tokens cross the network readable ($"+EnvInsecureHTTP+"=1)")
}

// parse parses a command's flags. -h prints its help to Stdout and returns
// errHelp; a mistake returns a usageError.
func (m *Main) parse(fs *flag.FlagSet, spec cmdSpec, args []string) ([]string, error) {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		m.printUsage(m.Stdout, fs, spec)
		return nil, errHelp
	}
	if err != nil {
		return nil, usagef(spec.name, "%v", err)
	}
	rest := fs.Args()
	switch {
	case len(rest) < spec.minArgs:
		return nil, usagef(spec.name, "missing arguments: usage: porchlight %s %s", spec.name, spec.synopsis)
	case len(rest) > spec.maxArgs:
		return nil, usagef(spec.name, "unexpected argument %q (flags go before arguments): usage: porchlight %s %s", rest[spec.maxArgs], spec.name, spec.synopsis)
	}
	return rest, nil
}

func (m *Main) printUsage(w io.Writer, fs *flag.FlagSet, spec cmdSpec) {
	fmt.Fprintf(w, "Usage: porchlight %s %s\n\n", spec.name, spec.synopsis)
	if spec.about != "" {
		fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(spec.about))
	}
	fmt.Fprintln(w, "Flags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

func cmdHelp(ctx context.Context, m *Main, args []string) error {
	if len(args) == 0 {
		m.printHelp(m.Stdout)
		return nil
	}
	c, _ := lookup(args)
	if c == nil || c.name == "help" {
		return usagef("help", "unknown command %q", strings.Join(args, " "))
	}
	return c.run(ctx, m, []string{"-h"})
}

func cmdVersion(_ context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "version", synopsis: ""}
	if _, err := m.parse(m.flags(spec.name), spec, args); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "porchlight %s\n", m.version())
	return nil
}

func (m *Main) version() string {
	if m.Version != "" {
		return m.Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v += " " + s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			if s.Value == "true" {
				v += "+dirty"
			}
		}
	}
	return v + " " + bi.GoVersion
}
