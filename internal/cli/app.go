package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"secgw/internal/schema"
)

// haNotifyRedial is the pause between two dials of ha-notify --retry.
const haNotifyRedial = 200 * time.Millisecond

// App is the secgw command: connect to secgwd, then run one command
// (the words after the flags), the shell on a terminal, or the lines of
// a script on standard input.
type App struct {
	Dial DialConfig
	// KnownHosts is the OpenSSH known_hosts file the server's host key
	// is checked against (HostKeyConfig.File).
	KnownHosts string
	// HostKeyCheck is a HostKey* mode; "" is HostKeyAsk on a terminal,
	// HostKeyIfKnown otherwise.
	HostKeyCheck string
	// HostKey pins the server's key (HostKeyConfig.Pin).
	HostKey string
	// Keys are the SSH keys tried before the password.
	Keys Keys
	// History is the shell's history file ("" keeps none).
	History string
	// Name starts the prompt.
	Name string
	// Script, when set, is a file whose lines run as typed in the shell
	// (secgw -f FILE), as standard input's do when it is not a terminal.
	Script string
	// In is standard input; when it is a terminal the shell is
	// interactive and the password may be asked there.
	In       *os.File
	Out, Err io.Writer
}

// Run runs the command and returns the process exit status: 0, 1 when a
// command failed (a script stops at its first failed line, whose number
// the message gives), 2 when secgwd could not be reached.
func (a *App) Run(args []string) int {
	var line string
	var notify *HANotify
	if len(args) > 0 && args[0] == "ha-notify" {
		// keepalived's notify command (hanotify.go): checked before
		// anything is dialled, so that a bad notify line in
		// keepalived.conf fails at once, with status 2.
		n, err := ParseHANotify(args[1:], a.Err)
		if err == nil {
			err = n.Record()
		}
		if err != nil {
			if !errors.Is(err, flag.ErrHelp) {
				fmt.Fprintln(a.Err, "secgw:", strings.TrimPrefix(err.Error(), "cli: "))
				fmt.Fprintln(a.Err, HANotifyUsage)
			}
			return 2
		}
		line, notify = n.Line, n
	}
	var script io.Reader
	if a.Script != "" {
		if len(args) > 0 {
			fmt.Fprintln(a.Err, "secgw: -f runs a script: give no command with it")
			return 2
		}
		f, err := os.Open(a.Script)
		if err != nil {
			fmt.Fprintln(a.Err, "secgw:", err)
			return 2
		}
		defer f.Close()
		script = f
	}
	s, err := schema.Load()
	if err != nil {
		fmt.Fprintln(a.Err, "secgw:", err)
		return 2
	}
	tty := script == nil && a.In != nil && term.IsTerminal(int(a.In.Fd()))
	closeAgent, err := a.login(tty)
	if err != nil {
		fmt.Fprintln(a.Err, "secgw:", strings.TrimPrefix(err.Error(), "cli: "))
		return 2
	}
	defer closeAgent()
	be, err := Dial(a.Dial, Keep(s))
	if notify != nil && notify.Retry > 0 {
		// secgwd may be starting (hanotify.go): dial again until it
		// answers, the time is up, or a later notification took over.
		deadline := time.Now().Add(notify.Retry)
		for err != nil && time.Now().Before(deadline) {
			time.Sleep(haNotifyRedial)
			if notify.Superseded() {
				fmt.Fprintln(a.Err, "secgw: ha-notify: superseded by a later notification of the group")
				return 0
			}
			be, err = Dial(a.Dial, Keep(s))
		}
	}
	if err != nil {
		fmt.Fprintln(a.Err, "secgw:", strings.TrimPrefix(err.Error(), "cli: "))
		return 2
	}
	if notify.Superseded() {
		// A later notification went first: this one is stale.
		be.Close()
		fmt.Fprintln(a.Err, "secgw: ha-notify: superseded by a later notification of the group")
		return 0
	}
	defer be.Close()
	c := New(s, be, a.Out)
	if a.Name != "" {
		c.Name = a.Name
	}
	defer func() {
		if c.PendingConfirm() {
			fmt.Fprintln(a.Err, "secgw: the confirmed commit was not confirmed: secgwd rolls it back as the session ends")
		}
		if discarded, err := c.End(); err != nil {
			fmt.Fprintln(a.Err, ErrorText(err))
		} else if discarded {
			fmt.Fprintln(a.Err, "secgw: the uncommitted changes were discarded")
		}
	}()
	switch {
	case len(args) > 0:
		if line == "" {
			line = JoinWords(args)
		}
		if err := c.Run(line); err != nil && !errors.Is(err, ErrExit) {
			fmt.Fprintln(a.Err, ErrorText(err))
			return 1
		}
		return 0
	case tty:
		return a.interactive(c)
	default:
		if script == nil && a.In != nil {
			script = a.In
		}
		if script == nil {
			return 0
		}
		if err := c.Script(script); err != nil {
			var serr *ScriptError
			if errors.As(err, &serr) {
				fmt.Fprintln(a.Err, serr.Error())
				if serr.Dry {
					fmt.Fprintf(a.Err, "secgw: stopped at line %d before running any line: nothing was changed\n", serr.Line)
				} else {
					fmt.Fprintf(a.Err, "secgw: stopped at line %d: the lines after it did not run\n", serr.Line)
				}
			} else {
				fmt.Fprintln(a.Err, ErrorText(err))
			}
			return 1
		}
		return 0
	}
}

func (a *App) interactive(c *CLI) int {
	var hist term.History
	if a.History != "" {
		h, err := OpenHistory(a.History)
		if err != nil {
			fmt.Fprintln(a.Err, "secgw:", err, "(no history kept)")
		} else {
			h.Private = c.HasSecret
			defer h.Close()
			hist = h
		}
	}
	fd := int(a.In.Fd())
	old, err := term.MakeRaw(fd)
	if err != nil {
		fmt.Fprintln(a.Err, "secgw:", err)
		return 1
	}
	defer term.Restore(fd, old)
	rw := struct {
		io.Reader
		io.Writer
	}{a.In, a.Out}
	if err := c.Interactive(rw, hist); err != nil {
		term.Restore(fd, old)
		fmt.Fprintln(a.Err, "secgw:", err)
		return 1
	}
	return 0
}

// JoinWords makes one command line of words given separately (the
// arguments of 'secgw show ...'), quoting those that need it.
func JoinWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = quote(w)
		if w == "/" || w == ".." || w == "?" {
			q[i] = w
		}
	}
	return strings.Join(q, " ")
}
