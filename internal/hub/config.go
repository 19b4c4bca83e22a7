package hub

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/porchlight/porchlight/internal/apiclient"
	"github.com/porchlight/porchlight/internal/conf"
)

// Camera is one RTSP camera the hub records.
type Camera struct {
	// Name is how the owner calls the camera ("front door"). It is sealed
	// in the camera descriptor; the service never sees it.
	Name string `toml:"name"`
	// URL is the camera's rtsp:// or rtsps:// address, credentials
	// included if the camera needs them. It never leaves the hub.
	URL string `toml:"url"`
	// Transport is "tcp", "udp" or "auto". It defaults to Main.Transport.
	Transport string `toml:"transport"`
	// Record is "continuous" (the default: every segment is kept) or
	// "events" (only segments around events: PreRoll before, PostRoll
	// after the last activity).
	Record string `toml:"record"`
	// PreRoll and PostRoll bound event-only recording. They default to
	// 5 s and 10 s.
	PreRoll  time.Duration `toml:"pre_roll"`
	PostRoll time.Duration `toml:"post_roll"`
	// Zones are where objects alert ([[camera.zone]]); none means the
	// whole frame alerts for person, animal and vehicle.
	Zones []ZoneConfig `toml:"zone"`
	// Rules are per-class thresholds ([[camera.rule]]).
	Rules []RuleConfig `toml:"rule"`
	// MotionMask lists polygons where motion is ignored (a tree, a road),
	// each as [[x, y], …] with coordinates from 0 to 1.
	MotionMask [][][2]float32 `toml:"motion_mask"`
}

// ZoneConfig is one alerting zone of a camera.
type ZoneConfig struct {
	Name string `toml:"name"`
	// Polygon is [[x, y], …] with coordinates from 0 to 1 (x right, y
	// down); an object is in the zone when the bottom centre of its box is.
	Polygon [][2]float32 `toml:"polygon"`
	// Classes alert in this zone: "person", "animal", "vehicle".
	Classes []string `toml:"classes"`
}

// RuleConfig is a per-class threshold.
type RuleConfig struct {
	Class    string  `toml:"class"`
	MinScore float32 `toml:"min_score"` // 0..1
	MinArea  float32 `toml:"min_area"`  // fraction of the frame, 0..1
}

// Record modes.
const (
	RecordContinuous = "continuous"
	RecordEvents     = "events"
)

// Detection modes (Main.Detection).
const (
	DetectionAuto = "auto" // on when the model is installed, else off with a warning
	DetectionOn   = "on"   // the hub does not start without the model
	DetectionOff  = "off"
)

// ByteSize is a size in bytes; in the config file it is an integer or a
// string such as "2GiB" or "500MB".
type ByteSize int64

// UnmarshalText parses "2GiB", "500 MB" or a plain number of bytes.
func (b *ByteSize) UnmarshalText(text []byte) error {
	n, err := humanize.ParseBytes(string(text))
	if err != nil {
		return fmt.Errorf("size %q: %w", text, err)
	}
	*b = ByteSize(n)
	return nil
}

// MarshalText writes the size in IEC units ("2.0 GiB").
func (b ByteSize) MarshalText() ([]byte, error) {
	return []byte(humanize.IBytes(uint64(b))), nil
}

// Defaults.
const (
	DefaultDataDir          = "/var/lib/porchlight-hub"
	DefaultTransport        = "auto"
	DefaultMinSegment       = 2 * time.Second
	DefaultMaxSegment       = 6 * time.Second
	DefaultManifestEvery    = 3
	DefaultManifestInterval = 20 * time.Second
	DefaultSpoolMax         = ByteSize(2 << 30)
	DefaultRosterInterval   = 30 * time.Second
	DefaultMQTTTopic        = "porchlight/doorbell/+"
)

// Main is the hub program: its configuration and, through Run, its life.
// The zero value of every field works: Run (and Defaults) fill in the
// defaults documented on each field; only Server and a claim are required
// to start.
//
// Configuration is read in this order, later winning: defaults, the TOML
// file (--config; unknown keys are errors), flags; then Validate.
type Main struct {
	// Server is porchlightd's base URL, e.g. "https://porchlight.example".
	// Required.
	Server string `toml:"server"`
	// DataDir holds the hub's key (hub.key), its state (state.json), the
	// spool and quarantined items. It defaults to /var/lib/porchlight-hub.
	DataDir string `toml:"data"`
	// Claim is a one-time claim code from `porchlight hub claim`, needed
	// only until the hub is claimed.
	Claim string `toml:"claim"`
	// Name is how the hub presents itself while being claimed. It defaults
	// to the host name.
	Name string `toml:"name"`
	// Transport is the RTSP transport of cameras that do not set one:
	// "tcp", "udp" or "auto" (the default: UDP, falling back to TCP).
	Transport string `toml:"transport"`
	// Cameras are the cameras to record ([[camera]] tables in the file,
	// --camera NAME=URL on the command line).
	Cameras []Camera `toml:"camera"`
	// MinSegment and MaxSegment bound a segment's length; segments are
	// cut at the first IDR after MinSegment. They default to 2 s and 6 s.
	MinSegment time.Duration `toml:"min_segment"`
	MaxSegment time.Duration `toml:"max_segment"`
	// ManifestEvery closes a batch of segments (one signed manifest) after
	// this many segments; it defaults to 3. ManifestInterval closes it
	// after this long since its first segment; it defaults to 20 s. A batch
	// also closes when the camera drops, when the epoch changes and at
	// shutdown.
	ManifestEvery    int           `toml:"manifest_every"`
	ManifestInterval time.Duration `toml:"manifest_interval"`
	// SpoolMax caps the spool on disk; past it the oldest recordings are
	// evicted. It defaults to 2 GiB.
	SpoolMax ByteSize `toml:"spool_max"`
	// RosterInterval is the pause before asking for the roster again after
	// a failure (the hub otherwise long-polls, so changes apply within a
	// second), or how often it is fetched from a service without long
	// polls. It defaults to 30 s.
	RosterInterval time.Duration `toml:"roster_interval"`
	// CAFile names a PEM file of CA certificates trusted, besides the
	// system's, for Server's HTTPS certificate (a private CA). It defaults
	// to "" (system roots only).
	CAFile string `toml:"ca_file"`
	// InsecureHTTP allows an http:// Server that is not this machine. It
	// defaults to false: the hub token would cross the network readable.
	InsecureHTTP bool `toml:"insecure_http"`

	// DoorbellListen is the local address of the doorbell endpoint
	// (POST /doorbell/{camera} with "Authorization: Bearer
	// DoorbellToken"), e.g. "0.0.0.0:8090" for a button on the LAN. It
	// defaults to "" (off).
	DoorbellListen string `toml:"doorbell_listen"`
	// DoorbellToken authenticates the doorbell endpoint: at least 16
	// characters, required with DoorbellListen. It never leaves the hub.
	DoorbellToken string `toml:"doorbell_token"`
	// MQTTURL is an MQTT broker to take doorbell presses from, e.g.
	// "tcp://user:password@broker.lan:1883" (or ssl://…). It defaults to
	// "" (off).
	MQTTURL string `toml:"mqtt_url"`
	// MQTTTopic is the topic filter subscribed to; the last level of a
	// message's topic names the camera. It defaults to
	// "porchlight/doorbell/+".
	MQTTTopic string `toml:"mqtt_topic"`

	// Detection is "auto" (the default: object detection when the model
	// assets are installed by scripts/setup, else a warning), "on" (the
	// hub refuses to start without them) or "off" (motion-free events
	// only: doorbell, offline).
	Detection string `toml:"detection"`
	// AssetsDir holds the model and the ONNX Runtime library. It defaults
	// to $PORCHLIGHT_ASSETS, else the repository's .assets directory.
	AssetsDir string `toml:"assets_dir"`
	// DetectThreads is the detector's thread count. It defaults to 1:
	// a second thread cuts an inference from about 9 to 8 ms but costs a
	// third more CPU, and the hub shares its cores with every camera.
	DetectThreads int `toml:"detect_threads"`
	// AnalysisFPS is the frame rate decoded for analysis. It defaults to 5.
	AnalysisFPS float64 `toml:"analysis_fps"`

	// Logger receives the hub's logs. It defaults to slog.Default().
	Logger *slog.Logger `toml:"-"`
	// Out receives the few lines meant for the person starting the hub
	// (the claim fingerprint). It defaults to os.Stdout.
	Out io.Writer `toml:"-"`
	// Now is the clock. It defaults to time.Now; tests inject one.
	Now func() time.Time `toml:"-"`

	// Test hooks: the service client and the camera source. Nil means
	// apiclient and ingest.
	service   service
	runSource sourceFunc
}

// Defaults returns a Main with every default filled in.
func Defaults() Main {
	var m Main
	m.setDefaults()
	return m
}

// setDefaults fills zero fields with their defaults.
func (m *Main) setDefaults() {
	if m.DataDir == "" {
		m.DataDir = DefaultDataDir
	}
	if m.Transport == "" {
		m.Transport = DefaultTransport
	}
	if m.MinSegment == 0 {
		m.MinSegment = DefaultMinSegment
	}
	if m.MaxSegment == 0 {
		m.MaxSegment = DefaultMaxSegment
	}
	if m.ManifestEvery == 0 {
		m.ManifestEvery = DefaultManifestEvery
	}
	if m.ManifestInterval == 0 {
		m.ManifestInterval = DefaultManifestInterval
	}
	if m.SpoolMax == 0 {
		m.SpoolMax = DefaultSpoolMax
	}
	if m.RosterInterval == 0 {
		m.RosterInterval = DefaultRosterInterval
	}
	if m.MQTTTopic == "" {
		m.MQTTTopic = DefaultMQTTTopic
	}
	if m.Detection == "" {
		m.Detection = DetectionAuto
	}
	if m.DetectThreads == 0 {
		m.DetectThreads = 1
	}
	if m.AnalysisFPS == 0 {
		m.AnalysisFPS = 5
	}
}

// runtimeDefaults fills the non-config fields.
func (m *Main) runtimeDefaults() {
	if m.Name == "" {
		m.Name, _ = os.Hostname()
		if m.Name == "" {
			m.Name = "porchlight-hub"
		}
	}
	if m.Logger == nil {
		m.Logger = slog.Default()
	}
	if m.Out == nil {
		m.Out = os.Stdout
	}
	if m.Now == nil {
		m.Now = time.Now
	}
	for i := range m.Cameras {
		c := &m.Cameras[i]
		if c.Transport == "" {
			c.Transport = m.Transport
		}
		if c.Record == "" {
			c.Record = RecordContinuous
		}
		if c.PreRoll == 0 {
			c.PreRoll = 5 * time.Second
		}
		if c.PostRoll == 0 {
			c.PostRoll = 10 * time.Second
		}
	}
}

// LoadFile decodes a TOML config file over m. Unknown keys are errors.
func (m *Main) LoadFile(path string) error { return conf.DecodeFile(path, m) }

// cameraFlags collects repeated --camera NAME=URL.
type cameraFlags []Camera

func (c *cameraFlags) String() string { return "" }

func (c *cameraFlags) Set(v string) error {
	name, u, ok := strings.Cut(v, "=")
	if !ok || name == "" || u == "" {
		return errors.New("want NAME=rtsp://host/path")
	}
	*c = append(*c, Camera{Name: name, URL: u})
	return nil
}

// Environment variables Parse reads.
const (
	// EnvCA is the ca_file setting.
	EnvCA = "PORCHLIGHT_CA"
	// EnvInsecureHTTP is the insecure_http setting ("1" or "true").
	EnvInsecureHTTP = "PORCHLIGHT_INSECURE_HTTP"
)

// Parse builds a Main from command-line arguments: defaults, then the file
// named by --config (if any), then the environment (EnvCA,
// EnvInsecureHTTP), then the other flags, then Validate. errOut receives
// usage text.
func Parse(args []string, errOut io.Writer) (Main, error) {
	return ParseEnv(args, errOut, os.Getenv)
}

// ParseEnv is Parse with the environment read through getenv.
func ParseEnv(args []string, errOut io.Writer, getenv func(string) string) (Main, error) {
	fs := flag.NewFlagSet("porchlight-hub", flag.ContinueOnError)
	fs.SetOutput(errOut)
	config := fs.String("config", "", "TOML config file (see docs/porchlight-hub.sample.toml)")
	server := fs.String("server", "", "porchlightd base URL")
	data := fs.String("data", "", "data directory (default "+DefaultDataDir+")")
	claim := fs.String("claim", "", "claim code from `porchlight hub claim`")
	name := fs.String("name", "", "hub name shown while claiming (default: host name)")
	transport := fs.String("transport", "", "RTSP transport: tcp, udp or auto (default auto)")
	ca := fs.String("ca", "", "PEM `file` of CA certificates to trust for the server's HTTPS certificate")
	var insecure optionalBool
	fs.Var(&insecure, "insecure-http", "allow a plain http:// server that is not this machine (the hub token crosses the network readable)")
	var cams cameraFlags
	fs.Var(&cams, "camera", "camera to record, NAME=rtsp://… (repeatable)")
	if err := fs.Parse(args); err != nil {
		return Main{}, err
	}
	if fs.NArg() > 0 {
		return Main{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	var m Main
	if *config != "" {
		if err := m.LoadFile(*config); err != nil {
			return Main{}, err
		}
	}
	if v := getenv(EnvCA); v != "" {
		m.CAFile = v
	}
	if v := getenv(EnvInsecureHTTP); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Main{}, fmt.Errorf("%s: %q is not true or false", EnvInsecureHTTP, v)
		}
		m.InsecureHTTP = b
	}
	for _, f := range []struct {
		dst *string
		v   string
	}{{&m.Server, *server}, {&m.DataDir, *data}, {&m.Claim, *claim}, {&m.Name, *name}, {&m.Transport, *transport}, {&m.CAFile, *ca}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	if insecure.set {
		m.InsecureHTTP = insecure.v
	}
	m.Cameras = append(m.Cameras, cams...)
	m.setDefaults()
	if err := m.Validate(); err != nil {
		return Main{}, err
	}
	return m, nil
}

// Validate checks a configuration (with defaults applied) and says what to
// fix.
func (m *Main) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if m.Server == "" {
		add("server: missing: set server in the config file or pass --server URL")
	} else if u, err := url.Parse(m.Server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("server: %q is not an http:// or https:// URL", m.Server)
	} else if err := apiclient.CheckBaseURL(m.Server, m.InsecureHTTP); err != nil {
		add("server: %w (insecure_http = true in the config file, or %s=1)", err, EnvInsecureHTTP)
	}
	if m.DataDir == "" {
		add("data: missing: set data in the config file or pass --data DIR")
	}
	if !validTransport(m.Transport) {
		add("transport: %q: want tcp, udp or auto", m.Transport)
	}
	names := map[string]bool{}
	for i, c := range m.Cameras {
		switch {
		case strings.TrimSpace(c.Name) == "":
			add("camera %d: name is empty", i+1)
		case names[c.Name]:
			add("camera %q: listed twice", c.Name)
		}
		names[c.Name] = true
		if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") || u.Host == "" {
			// Never echo the URL: it may hold the camera's password.
			add("camera %q: url must be rtsp://host/path or rtsps://host/path", c.Name)
		}
		if c.Transport != "" && !validTransport(c.Transport) {
			add("camera %q: transport %q: want tcp, udp or auto", c.Name, c.Transport)
		}
		if c.Record != "" && c.Record != RecordContinuous && c.Record != RecordEvents {
			add("camera %q: record %q: want continuous or events", c.Name, c.Record)
		}
		if c.PreRoll < 0 || c.PostRoll < 0 || c.PreRoll > time.Minute || c.PostRoll > 10*time.Minute {
			add("camera %q: pre_roll must be 0 to 1m and post_roll 0 to 10m", c.Name)
		}
		for _, z := range c.Zones {
			if len(z.Polygon) != 0 && len(z.Polygon) < 3 {
				add("camera %q: zone %q: a polygon needs at least 3 points", c.Name, z.Name)
			}
			if !pointsIn01(z.Polygon) {
				add("camera %q: zone %q: coordinates go from 0 to 1", c.Name, z.Name)
			}
			for _, cl := range z.Classes {
				if !validClass(cl) {
					add("camera %q: zone %q: class %q: want person, animal or vehicle", c.Name, z.Name, cl)
				}
			}
		}
		for _, r := range c.Rules {
			if !validClass(r.Class) || r.MinScore < 0 || r.MinScore > 1 || r.MinArea < 0 || r.MinArea > 1 {
				add("camera %q: rule for %q: class must be person, animal or vehicle; min_score and min_area 0 to 1", c.Name, r.Class)
			}
		}
		for _, p := range c.MotionMask {
			if len(p) < 3 || !pointsIn01(p) {
				add("camera %q: motion_mask: each polygon needs 3 or more [x, y] points from 0 to 1", c.Name)
			}
		}
	}
	if m.MinSegment < 500*time.Millisecond {
		add("min_segment: %v is too short (at least 500ms)", m.MinSegment)
	}
	if m.MaxSegment < m.MinSegment {
		add("max_segment: %v is shorter than min_segment %v", m.MaxSegment, m.MinSegment)
	}
	if m.ManifestEvery < 1 || m.ManifestEvery > 1000 {
		add("manifest_every: %d: want 1 to 1000 segments", m.ManifestEvery)
	}
	if m.ManifestInterval < time.Second {
		add("manifest_interval: %v is too short (at least 1s)", m.ManifestInterval)
	}
	if m.SpoolMax < 64<<20 {
		add("spool_max: %s is too small (at least 64 MiB)", humanize.IBytes(uint64(max(m.SpoolMax, 0))))
	}
	if m.RosterInterval < time.Second {
		add("roster_interval: %v is too short (at least 1s)", m.RosterInterval)
	}
	switch m.Detection {
	case DetectionAuto, DetectionOn, DetectionOff:
	default:
		add("detection: %q: want auto, on or off", m.Detection)
	}
	if m.DetectThreads < 1 || m.DetectThreads > 64 {
		add("detect_threads: %d: want 1 to 64", m.DetectThreads)
	}
	if m.AnalysisFPS < 0.5 || m.AnalysisFPS > 30 {
		add("analysis_fps: %v: want 0.5 to 30", m.AnalysisFPS)
	}
	if m.DoorbellListen != "" && len(m.DoorbellToken) < 16 {
		add("doorbell_token: with doorbell_listen set, a token of at least 16 characters is required (the button sends it as a bearer token)")
	}
	if m.MQTTURL != "" {
		if u, err := url.Parse(m.MQTTURL); err != nil || (u.Scheme != "tcp" && u.Scheme != "ssl" && u.Scheme != "mqtt" && u.Scheme != "mqtts") || u.Host == "" {
			// Never echo the URL: it may hold the broker's password.
			add("mqtt_url: must be tcp://host:port or ssl://host:port (user:password@ allowed)")
		}
	}
	if strings.Count(m.MQTTTopic, "+") != 1 || !strings.HasSuffix(m.MQTTTopic, "/+") {
		add("mqtt_topic: %q must end in /+ (the last level names the camera)", m.MQTTTopic)
	}
	if m.Claim != "" && !validClaimCode(m.Claim) {
		add("claim: %q does not look like a claim code (like ABCD-EFGH-JKMN)", m.Claim)
	}
	return errors.Join(errs...)
}

// optionalBool is a boolean flag that remembers whether it was given, so
// an absent flag does not override the file or the environment.
type optionalBool struct{ v, set bool }

func (b *optionalBool) String() string   { return strconv.FormatBool(b.v) }
func (b *optionalBool) IsBoolFlag() bool { return true }

func (b *optionalBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	b.v, b.set = v, true
	return nil
}

func validTransport(t string) bool { return t == "tcp" || t == "udp" || t == "auto" }

func validClaimCode(c string) bool {
	if len(c) < 4 || len(c) > 64 {
		return false
	}
	for _, r := range c {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func validClass(c string) bool { return c == "person" || c == "animal" || c == "vehicle" }

func pointsIn01(ps [][2]float32) bool {
	for _, p := range ps {
		if p[0] < 0 || p[0] > 1 || p[1] < 0 || p[1] > 1 {
			return false
		}
	}
	return true
}
