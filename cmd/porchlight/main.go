// Command porchlight is the owner's command-line client of Porchlight: sign
// up, claim a hub, list cameras and recordings, and export verified,
// decrypted video. See package cli; `porchlight help` lists the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/porchlight/porchlight/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main{
		Args:   os.Args[1:],
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Env:    os.Getenv,
	}.Run(ctx)
	stop()
	os.Exit(code)
}
