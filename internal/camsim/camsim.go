// Package camsim is a simulated RTSP camera: it streams a media file in a loop,
// or a live ffmpeg test pattern with a burned-in wall clock, to any number of
// RTSP clients over TCP or UDP, optionally behind digest/basic auth, and can
// drop and refuse clients on demand to test reconnection.
//
// It exists for tests, demos and latency measurements (make run, the hub's
// end-to-end tests). It is not a media server: do not use it to relay real
// cameras, and do not expose it beyond a test machine (its control endpoint
// has no authentication).
package camsim

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/pion/rtp"

	"github.com/porchlight/porchlight/internal/segment"
)

// Main is the simulated camera. Fill the fields (all optional), then call
// Start and Wait, or Run. A Main runs once.
type Main struct {
	// Listen is the RTSP (TCP) listen address. UDP transport uses a free even
	// port and the next one on the same host. It defaults to 127.0.0.1:8554;
	// tests pass 127.0.0.1:0.
	Listen string
	// Path is the stream path, without the leading slash. It defaults to "cam".
	Path string
	// File, if set, is a media file (any container ffmpeg reads) whose first
	// video stream (H.264 or H.265) is converted once with "ffmpeg -c copy"
	// to Annex-B, loaded, and looped forever with a continuous timeline.
	File string
	// Pattern is the ffmpeg lavfi source generated live when File is empty,
	// with a burned-in wall clock (milliseconds) to measure glass-to-glass
	// latency. It defaults to "testsrc2".
	Pattern string
	// Codec is "h264" or "h265" for the pattern. It defaults to "h264"; with
	// File, the file's codec is used.
	Codec string
	// Size of the pattern, WxH. It defaults to 1280x720.
	Size string
	// FPS of the pattern. It defaults to 25.
	FPS int
	// GOP is the pattern's keyframe interval in frames. It defaults to 2×FPS.
	GOP int
	// User and Pass, if User is set, are required from clients (digest or basic).
	User, Pass string
	// Control, if set, is the listen address of an HTTP endpoint for tests:
	// POST /drop?for=10s and GET /healthz.
	Control string
	// SDPOnlyParams removes SPS/PPS/VPS from the RTP stream so they are only
	// in the SDP, like ffmpeg's RTSP muxer does. It defaults to false (in-band,
	// like most cameras).
	SDPOnlyParams bool
	// Stdout receives the start-up lines. It defaults to os.Stdout.
	Stdout io.Writer
	// Logger defaults to slog.Default().
	Logger *slog.Logger

	// set by Start
	codec   string
	server  *gortsplib.Server
	media   *description.Media
	enc     rtpEncoder
	src     source
	control *http.Server
	ctlAddr string
	udp     [2]net.PacketConn
	rtpBase uint32 // random RTP timestamp of PTS 0
	done    chan struct{}
	err     error // valid after done is closed

	mu        sync.Mutex              // guards the fields below
	stream    *gortsplib.ServerStream // nil until the server is up; then constant
	dropUntil time.Time
	sessions  map[*gortsplib.ServerSession]struct{}
	conns     map[*gortsplib.ServerConn]struct{}
}

// rtpEncoder is what Main needs of gortsplib's H.264/H.265 RTP encoders.
type rtpEncoder interface {
	Encode(au [][]byte) ([]*rtp.Packet, error)
}

var (
	_ gortsplib.ServerHandlerOnDescribe    = (*handler)(nil)
	_ gortsplib.ServerHandlerOnSetup       = (*handler)(nil)
	_ gortsplib.ServerHandlerOnPlay        = (*handler)(nil)
	_ gortsplib.ServerHandlerOnSessionOpen = (*handler)(nil)
	_ gortsplib.ServerHandlerOnConnOpen    = (*handler)(nil)
)

// Run starts the camera and blocks until ctx is done (then returns nil) or
// the video source fails.
func (m *Main) Run(ctx context.Context) error {
	if err := m.Start(ctx); err != nil {
		return err
	}
	return m.Wait()
}

// Wait blocks until the camera has stopped (ctx of Start done, or the source
// failed) and everything it started is released, including ffmpeg.
// It returns nil after a cancellation.
func (m *Main) Wait() error {
	<-m.done
	return m.err
}

// Start prepares the video source, starts listening and returns; the camera
// runs until ctx is done. Use Addr or URL for the bound address.
func (m *Main) Start(ctx context.Context) (err error) {
	m.done = make(chan struct{})
	defer func() {
		if err != nil { // nothing runs: let Wait return the error
			m.err = err
			close(m.done)
		}
	}()
	if err := m.defaults(); err != nil {
		return err
	}
	m.sessions = make(map[*gortsplib.ServerSession]struct{})
	m.conns = make(map[*gortsplib.ServerConn]struct{})

	srcCtx, cancelSrc := context.WithCancel(ctx)
	src, err := m.openSource(srcCtx)
	if err != nil {
		cancelSrc()
		return err
	}
	m.src = src

	if err := m.startServer(); err != nil {
		cancelSrc()
		src.close()
		return err
	}
	if m.Control != "" {
		if err := m.startControl(); err != nil {
			cancelSrc()
			src.close()
			m.stopServer()
			return err
		}
	}

	fmt.Fprintf(m.Stdout, "porchlight-camsim: streaming %s (%s)\n", m.URL(), src.describe())
	if m.ctlAddr != "" {
		fmt.Fprintf(m.Stdout, "porchlight-camsim: control http://%s (POST /drop?for=10s, GET /healthz)\n", m.ctlAddr)
	}

	srcDone := make(chan error, 1)
	go func() { srcDone <- src.run(srcCtx, m.writeAU) }()
	go func() {
		var err error // of the source; shadows Start's result
		select {
		case <-ctx.Done():
			cancelSrc()
			<-srcDone
		case err = <-srcDone:
			cancelSrc()
			if ctx.Err() != nil {
				err = nil
			}
		}
		src.close()
		if m.control != nil {
			m.control.Close()
		}
		m.stopServer()
		m.err = err
		close(m.done)
	}()
	return nil
}

func (m *Main) defaults() error {
	if m.Listen == "" {
		m.Listen = "127.0.0.1:8554"
	}
	m.Path = strings.Trim(m.Path, "/")
	if m.Path == "" {
		m.Path = "cam"
	}
	if m.Pattern == "" {
		m.Pattern = "testsrc2"
	}
	if m.Size == "" {
		m.Size = "1280x720"
	}
	if m.FPS <= 0 {
		m.FPS = 25
	}
	if m.GOP <= 0 {
		m.GOP = 2 * m.FPS
	}
	if m.Stdout == nil {
		m.Stdout = os.Stdout
	}
	if m.Logger == nil {
		m.Logger = slog.Default()
	}
	switch strings.ToLower(m.Codec) {
	case "", "h264", "avc":
		m.codec = segment.H264
	case "h265", "hevc":
		m.codec = segment.H265
	default:
		return fmt.Errorf("camsim: codec %q: want h264 or h265", m.Codec)
	}
	if _, _, err := parseSize(m.Size); err != nil {
		return err
	}
	if m.User == "" && m.Pass != "" {
		return errors.New("camsim: a password needs a user")
	}
	return nil
}

func parseSize(s string) (int, int, error) {
	ws, hs, ok := strings.Cut(s, "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if !ok || err1 != nil || err2 != nil || w <= 0 || h <= 0 || w%2 != 0 || h%2 != 0 {
		return 0, 0, fmt.Errorf("camsim: size %q: want WxH with even numbers, e.g. 1280x720", s)
	}
	return w, h, nil
}

// startServer creates the stream description from the source's parameter
// sets and starts the RTSP server.
func (m *Main) startServer() error {
	vps, sps, pps := m.src.params()
	var forma format.Format
	switch m.codec {
	case segment.H265:
		f := &format.H265{PayloadTyp: 96, VPS: vps, SPS: sps, PPS: pps}
		enc, err := f.CreateEncoder()
		if err != nil {
			return fmt.Errorf("camsim: RTP encoder: %w", err)
		}
		forma, m.enc = f, enc
	default:
		f := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps, PPS: pps}
		enc, err := f.CreateEncoder()
		if err != nil {
			return fmt.Errorf("camsim: RTP encoder: %w", err)
		}
		forma, m.enc = f, enc
	}
	m.media = &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}

	host, _, err := net.SplitHostPort(m.Listen)
	if err != nil {
		return fmt.Errorf("camsim: listen address %q: %w", m.Listen, err)
	}
	rtpConn, rtcpConn, err := listenUDPPair(host)
	if err != nil {
		return fmt.Errorf("camsim: UDP ports: %w", err)
	}
	m.udp = [2]net.PacketConn{rtpConn, rtcpConn}

	m.server = &gortsplib.Server{
		Handler:        &handler{m},
		RTSPAddress:    m.Listen,
		UDPRTPAddress:  rtpConn.LocalAddr().String(),
		UDPRTCPAddress: rtcpConn.LocalAddr().String(),
		// hand gortsplib the UDP pair opened above, so no other process
		// can take the second port in between
		ListenPacket: func(network, address string) (net.PacketConn, error) {
			for _, c := range m.udp {
				if c != nil && c.LocalAddr().String() == address {
					return c, nil
				}
			}
			return net.ListenPacket(network, address)
		},
	}
	if err := m.server.Start(); err != nil {
		rtpConn.Close()
		rtcpConn.Close()
		return fmt.Errorf("camsim: RTSP server: %w", err)
	}
	stream := &gortsplib.ServerStream{
		Server: m.server,
		Desc:   &description.Session{Medias: []*description.Media{m.media}},
	}
	if err := stream.Initialize(); err != nil {
		m.server.Close()
		return fmt.Errorf("camsim: RTSP stream: %w", err)
	}
	// The server already accepts connections: publish the stream under mu.
	m.mu.Lock()
	m.stream = stream
	m.mu.Unlock()
	return nil
}

// readyStream returns the stream, or nil while the server is starting.
func (m *Main) readyStream() *gortsplib.ServerStream {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stream
}

func (m *Main) stopServer() {
	m.stream.Close()
	m.server.Close()
	m.server.Wait()
}

// listenUDPPair opens an even UDP port and the next one on host.
func listenUDPPair(host string) (net.PacketConn, net.PacketConn, error) {
	var lastErr error
	for range 100 {
		a, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, nil, err
		}
		port := a.LocalAddr().(*net.UDPAddr).Port
		if port%2 != 0 {
			a.Close()
			continue
		}
		b, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port+1)))
		if err != nil {
			a.Close()
			lastErr = err
			continue
		}
		return a, b, nil
	}
	return nil, nil, fmt.Errorf("no free even/odd port pair: %v", lastErr)
}

// Addr returns the RTSP listen address (host:port) once started.
func (m *Main) Addr() string {
	return m.server.NetListener().Addr().String()
}

// URL returns the stream's RTSP URL, without credentials.
func (m *Main) URL() string {
	return "rtsp://" + m.Addr() + "/" + m.Path
}

// ControlAddr returns the control HTTP address once started, or "".
func (m *Main) ControlAddr() string {
	return m.ctlAddr
}

// Drop closes every client connection and session now and refuses new ones
// (RTSP 503 Service Unavailable) for d, as a camera rebooting or losing its
// network would. It returns at once.
func (m *Main) Drop(d time.Duration) {
	m.mu.Lock()
	m.dropUntil = time.Now().Add(d)
	sessions := make([]*gortsplib.ServerSession, 0, len(m.sessions))
	for ss := range m.sessions {
		sessions = append(sessions, ss)
	}
	conns := make([]*gortsplib.ServerConn, 0, len(m.conns))
	for sc := range m.conns {
		conns = append(conns, sc)
	}
	m.mu.Unlock()

	m.Logger.Info("camsim: dropping clients", "for", d, "sessions", len(sessions), "conns", len(conns))
	for _, ss := range sessions {
		ss.Close()
	}
	for _, sc := range conns {
		sc.Close()
	}
}

func (m *Main) dropped() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return time.Now().Before(m.dropUntil)
}

// Readers returns the number of open RTSP sessions.
func (m *Main) Readers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

// writeAU sends one access unit to every reader. pts is in 90 kHz ticks.
func (m *Main) writeAU(pts int64, au [][]byte) error {
	if m.SDPOnlyParams {
		au = withoutParams(m.codec, au)
	}
	if len(au) == 0 {
		return nil
	}
	pkts, err := m.enc.Encode(au)
	if err != nil {
		return fmt.Errorf("camsim: RTP encoding: %w", err)
	}
	now := time.Now()
	ts := m.rtpBase + uint32(pts)
	for _, p := range pkts {
		p.Timestamp = ts
		if err := m.stream.WritePacketRTPWithNTP(m.media, p, now); err != nil {
			return fmt.Errorf("camsim: writing RTP: %w", err)
		}
	}
	return nil
}

// handler implements gortsplib's server callbacks.
type handler struct{ m *Main }

func (h *handler) OnConnOpen(ctx *gortsplib.ServerHandlerOnConnOpenCtx) {
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	h.m.conns[ctx.Conn] = struct{}{}
}

func (h *handler) OnConnClose(ctx *gortsplib.ServerHandlerOnConnCloseCtx) {
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	delete(h.m.conns, ctx.Conn)
}

func (h *handler) OnSessionOpen(ctx *gortsplib.ServerHandlerOnSessionOpenCtx) {
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	h.m.sessions[ctx.Session] = struct{}{}
}

func (h *handler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	delete(h.m.sessions, ctx.Session)
}

// check applies the drop state, the path and the credentials to a request.
func (h *handler) check(sc *gortsplib.ServerConn, req *base.Request, path string) (*base.Response, error) {
	if h.m.dropped() || h.m.readyStream() == nil {
		return &base.Response{StatusCode: base.StatusServiceUnavailable}, errors.New("camera dropped (test) or starting")
	}
	if h.m.User != "" && !sc.VerifyCredentials(req, h.m.User, h.m.Pass) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, liberrors.ErrServerAuth{}
	}
	if strings.Trim(path, "/") != h.m.Path {
		return &base.Response{StatusCode: base.StatusNotFound}, fmt.Errorf("no stream at %q", path)
	}
	return nil, nil
}

func (h *handler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if res, err := h.check(ctx.Conn, ctx.Request, ctx.Path); res != nil {
		return res, nil, err
	}
	return &base.Response{StatusCode: base.StatusOK}, h.m.readyStream(), nil
}

func (h *handler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if res, err := h.check(ctx.Conn, ctx.Request, ctx.Path); res != nil {
		return res, nil, err
	}
	return &base.Response{StatusCode: base.StatusOK}, h.m.readyStream(), nil
}

func (h *handler) OnPlay(_ *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	if h.m.dropped() {
		return &base.Response{StatusCode: base.StatusServiceUnavailable}, errors.New("camera dropped (test)")
	}
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// withoutParams drops parameter sets from an access unit.
func withoutParams(codec string, au [][]byte) [][]byte {
	out := make([][]byte, 0, len(au))
	for _, n := range au {
		if isParam(codec, n) {
			continue
		}
		out = append(out, n)
	}
	return out
}

func naluType(codec string, n []byte) int {
	if codec == segment.H265 {
		return int(n[0]>>1) & 0x3f
	}
	return int(n[0] & 0x1f)
}

func isParam(codec string, n []byte) bool {
	t := naluType(codec, n)
	if codec == segment.H265 {
		return t == 32 || t == 33 || t == 34
	}
	return t == 7 || t == 8
}

func isAUD(codec string, n []byte) bool {
	t := naluType(codec, n)
	if codec == segment.H265 {
		return t == 35
	}
	return t == 9
}

func isIDR(codec string, au [][]byte) bool {
	for _, n := range au {
		t := naluType(codec, n)
		if codec == segment.H265 && (t == 19 || t == 20) || codec == segment.H264 && t == 5 {
			return true
		}
	}
	return false
}

func randUint32() uint32 {
	var b [4]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}
