// Command record is the resource meter of the bench/record benchmark (see
// bench/record/run and docs/benchmarks.md). It runs one command, waits for
// it, and writes the CPU time and peak resident set the kernel reports for
// that command and every descendant it reaped (wait4's rusage). Run under
// it, a shell script is charged for each program it started, however short
// lived, without cgroups.
//
//	record -o FILE [-pid FILE] -- COMMAND [ARG...]
//
// FILE gets one line, "user_seconds system_seconds maxrss_kib"; maxrss is
// the largest single process, not a sum. -pid writes the command's process
// id as soon as it starts. SIGINT and SIGTERM are passed on to the command;
// the exit status is the command's.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
)

func main() {
	out := flag.String("o", "", "write `FILE`: user_seconds system_seconds maxrss_kib")
	pidFile := flag.String("pid", "", "write the command's process id to `FILE`")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: record -o FILE [-pid FILE] -- COMMAND [ARG...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	code, err := run(*out, *pidFile, flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "record:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// run starts args, forwards SIGINT/SIGTERM, waits and writes the usage.
func run(out, pidFile string, args []string) (int, error) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return 127, fmt.Errorf("starting %s: %w", args[0], err)
	}
	if pidFile != "" {
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return 1, fmt.Errorf("writing the pid file: %w", err)
		}
	}
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()

	werr := cmd.Wait()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(werr, &exit):
		code = exit.ExitCode()
		if code < 0 { // killed by a signal
			code = 128 + int(exit.Sys().(syscall.WaitStatus).Signal())
		}
	case werr != nil:
		return 1, fmt.Errorf("waiting for %s: %w", args[0], werr)
	}

	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return code, errors.New("no resource usage from the kernel")
	}
	line := fmt.Sprintf("%.3f %.3f %d\n", seconds(ru.Utime), seconds(ru.Stime), ru.Maxrss)
	if err := os.WriteFile(out, []byte(line), 0o644); err != nil {
		return code, fmt.Errorf("writing the usage: %w", err)
	}
	return code, nil
}

func seconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}
