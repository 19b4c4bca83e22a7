// Command porchlightd is the Porchlight service (accounts, hub claims, a store
// of ciphertext it cannot read); `porchlightd admin …` talks to its admin socket.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/porchlight/porchlight/internal/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) == 2 && os.Args[1] == "version" {
		fmt.Println(server.Version())
		return
	} else if len(os.Args) > 1 && os.Args[1] == "admin" {
		os.Exit(server.Admin(ctx, os.Args[2:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
	}
	config := flag.String("config", os.Getenv("PORCHLIGHT_CONFIG"), "TOML config `file` (see docs/porchlightd.sample.toml)")
	listen := flag.String("listen", "", "listen `address` (overrides config and PORCHLIGHT_LISTEN)")
	data := flag.String("data", "", "data `dir` (overrides config and PORCHLIGHT_DATA)")
	flag.Parse()
	var m server.Main
	err := m.Load(*config, os.Getenv)
	m.Listen, m.DataDir = cmp.Or(*listen, m.Listen), cmp.Or(*data, m.DataDir)
	if err == nil {
		err = m.Run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "porchlightd:", err)
		os.Exit(1)
	}
}
