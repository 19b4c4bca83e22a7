package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// terminalFd returns the file descriptor of r or w if it is a terminal.
func terminalFd(f any) (int, bool) {
	file, ok := f.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(file.Fd())
	return fd, term.IsTerminal(fd)
}

// readLine reads one line of Stdin without its line ending.
func (m *Main) readLine() (string, error) {
	s, err := m.in.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && s != "") {
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}

// password returns $PORCHLIGHT_PASSWORD or prompts for it: without echo on
// a terminal, else as one line of Stdin. confirm asks twice on a terminal.
// Passwords are never taken as flags (they would show in ps and history).
func (m *Main) password(prompt string, confirm bool) (string, error) {
	return m.secret(EnvPassword, prompt, confirm)
}

// secret returns the environment variable env or prompts for it, as
// password does.
func (m *Main) secret(env, prompt string, confirm bool) (string, error) {
	if p := m.Env(env); p != "" {
		return p, nil
	}
	fd, tty := terminalFd(m.Stdin)
	if !tty {
		p, err := m.readLine()
		if err != nil || p == "" {
			return "", fmt.Errorf("no password: set %s or type it on standard input", env)
		}
		return p, nil
	}
	read := func(prompt string) (string, error) {
		fmt.Fprint(m.Stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(m.Stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	p, err := read(prompt + ": ")
	if err != nil {
		return "", err
	}
	if p == "" {
		return "", errors.New("no password given")
	}
	if confirm {
		again, err := read("Repeat it: ")
		if err != nil {
			return "", err
		}
		if again != p {
			return "", errors.New("the passwords do not match")
		}
	}
	return p, nil
}

// mfaCode returns $PORCHLIGHT_TOTP or asks for a code on Stderr and reads
// one line of Stdin. Spaces inside it are dropped ("123 456").
func (m *Main) mfaCode() (string, error) {
	if v := normalizeCode(m.Env(EnvTOTP)); v != "" {
		return v, nil
	}
	return m.askCode("Authentication code (or a recovery code): ",
		fmt.Sprintf("no code: type the code your authenticator app shows (or a recovery code), or set %s", EnvTOTP))
}

// askCode prompts on Stderr and reads a code from Stdin; missing is the
// error when none comes.
func (m *Main) askCode(prompt, missing string) (string, error) {
	fmt.Fprint(m.Stderr, prompt)
	s, err := m.readLine()
	if _, tty := terminalFd(m.Stdin); !tty {
		fmt.Fprintln(m.Stderr)
	}
	if s = normalizeCode(s); err != nil || s == "" {
		return "", errors.New(missing)
	}
	return s, nil
}

func normalizeCode(s string) string { return strings.Join(strings.Fields(s), "") }

// confirm asks a yes/no question on Stderr and reads the answer from Stdin;
// anything but y or yes (including the end of input) is no.
func (m *Main) confirm(question string) bool {
	fmt.Fprintf(m.Stderr, "%s [y/N] ", question)
	ans, err := m.readLine()
	if err != nil {
		fmt.Fprintln(m.Stderr)
		return false
	}
	switch strings.ToLower(strings.TrimSpace(ans)) {
	case "y", "yes":
		return true
	}
	return false
}
