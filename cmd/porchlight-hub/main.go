// Command porchlight-hub records the home's cameras, seals every segment and
// uploads it to porchlightd; see package hub.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/porchlight/porchlight/internal/eval"
	"github.com/porchlight/porchlight/internal/hub"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "eval" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := eval.Command(ctx, os.Args[2:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	m, err := hub.Parse(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "porchlight-hub:", err)
		os.Exit(2)
	}
	setRuntimeDefaults(len(m.Cameras))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "porchlight-hub:", err)
		os.Exit(1)
	}
}

// camerasPerProc is how many cameras one Go processor (P) serves by default.
// Recording one 1080p camera costs about 1 % of a core; the rest of a P's
// time would be spent by idle Ps spinning for work on every socket read.
const camerasPerProc = 8

// gcPercent is the hub's default GOGC. Its heap is mostly a few segment-sized
// byte buffers per camera, which hold no pointers and cost the collector
// almost nothing to mark, so collecting at 50 % growth instead of 100 % keeps
// the peak RSS down for little CPU (bench/record: about 4 MiB less per camera).
const gcPercent = 50

// setRuntimeDefaults tunes the Go runtime to the hub's work, except where the
// environment says otherwise (GOMAXPROCS, GOGC):
//
//   - GOMAXPROCS: one P per camerasPerProc cameras (at least one, at most the
//     CPUs). The hub's work is a trickle of small socket reads per camera;
//     with a P per CPU every read wakes idle Ps that spin looking for work,
//     about 30 % of the hub's CPU in bench/record (see docs/benchmarks.md).
//     Blocking system calls (fsync, file and network I/O) hand their P over,
//     so they still run in parallel with one P.
//   - GOGC: gcPercent.
func setRuntimeDefaults(cameras int) {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(min(max(1, (cameras+camerasPerProc-1)/camerasPerProc), runtime.NumCPU()))
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}
