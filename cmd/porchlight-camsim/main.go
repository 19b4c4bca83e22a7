// Command porchlight-camsim is a simulated RTSP camera streaming a file or a
// live test pattern in a loop; see package camsim.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/porchlight/porchlight/internal/camsim"
)

func main() {
	var m camsim.Main
	flag.StringVar(&m.Listen, "listen", "127.0.0.1:8554", "RTSP listen address")
	flag.StringVar(&m.Path, "path", "cam", "stream path")
	flag.StringVar(&m.File, "file", "", "media file to loop (H.264/H.265, any container; no re-encode)")
	flag.StringVar(&m.Pattern, "pattern", "testsrc2", "ffmpeg lavfi pattern when no --file, with a burned-in clock")
	flag.StringVar(&m.Codec, "codec", "h264", "pattern codec: h264 or h265")
	flag.StringVar(&m.Size, "size", "1280x720", "pattern size WxH")
	flag.IntVar(&m.FPS, "fps", 25, "pattern frame rate")
	flag.IntVar(&m.GOP, "gop", 0, "pattern keyframe interval in frames (default 2×fps)")
	flag.StringVar(&m.User, "user", "", "require this RTSP user")
	flag.StringVar(&m.Pass, "pass", "", "require this RTSP password")
	flag.StringVar(&m.Control, "control", "", "HTTP control address (POST /drop?for=10s, GET /healthz)")
	flag.BoolVar(&m.SDPOnlyParams, "sdp-params-only", false, "send SPS/PPS only in the SDP, like ffmpeg's RTSP muxer")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "porchlight-camsim:", err)
		os.Exit(1)
	}
}
