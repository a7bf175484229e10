// Command secgw is the vsr-style CLI of secgw: it talks to secgwd over
// NETCONF only, and runs one command, an interactive shell, or a script.
//
//	secgw [-host localhost] [-port 830] [-user admin] [COMMAND...]
//
//	secgw show ike ike-sa details          one command, then exit
//	secgw                                  the shell (edit running, commit...)
//	secgw < lines.txt                      each line as typed in the shell
//	secgw -f lines.txt                     the same
//	secgw ha-notify GROUP group1 MASTER    keepalived's notify (ha-notify RPC)
//
// A script stops at its first bad line (secgw exits 1 and names it). Its
// lines run dry first, so that a line the CLI refuses stops it before
// any line ran; after a line secgwd refuses nothing runs, and the
// uncommitted changes are discarded. 'edit running' locks the candidate and running datastores
// until configuration mode is left: another operator cannot edit or
// commit meanwhile, and is told which NETCONF session holds the lock.
//
// The connection comes from the flags, else from SECGW_HOST, SECGW_PORT,
// SECGW_USER, SECGW_PASSWORD_FILE, SECGW_PASSWORD and SECGW_KNOWN_HOSTS.
// Without a password the shell asks for one on the terminal; prefer
// SECGW_PASSWORD or -password-file to -password, which other users can
// read in the process list.
//
// keepalived's notify runs, with no terminal and no environment of the
// operator's:
//
//	secgw -user ha -password-file /etc/secgw/ha-notify.password ha-notify GROUP NAME STATE
//
// (examples/ha/README.md): the file, readable by root only, holds the
// password of a NETCONF account; its first line is the password.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"secgw/internal/cli"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

func run(args []string, stdin *os.File, stdout, stderr io.Writer, getenv func(string) string) int {
	env := func(name, dflt string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return dflt
	}
	port, err := strconv.Atoi(env("SECGW_PORT", "830"))
	if err != nil {
		fmt.Fprintf(stderr, "secgw: SECGW_PORT %q is not a port number\n", getenv("SECGW_PORT"))
		return 2
	}
	history := ""
	if home, err := os.UserHomeDir(); err == nil {
		history = filepath.Join(home, ".secgw_history")
	}
	app := &cli.App{In: stdin, Out: stdout, Err: stderr}
	fs := flag.NewFlagSet("secgw", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&app.Dial.Host, "host", env("SECGW_HOST", "localhost"), "secgwd's address (SECGW_HOST)")
	fs.IntVar(&app.Dial.Port, "port", port, "secgwd's NETCONF port (SECGW_PORT)")
	fs.StringVar(&app.Dial.User, "user", env("SECGW_USER", "admin"), "NETCONF user (SECGW_USER)")
	// The environment's password is not the flag's default, which -h
	// would print.
	fs.StringVar(&app.Dial.Password, "password", "", "password (SECGW_PASSWORD; asked on a terminal when empty)")
	passwordFile := fs.String("password-file", getenv("SECGW_PASSWORD_FILE"), "file whose first line is the password (SECGW_PASSWORD_FILE), for scripts such as keepalived's notify")
	fs.StringVar(&app.KnownHosts, "known-hosts", getenv("SECGW_KNOWN_HOSTS"), "known_hosts file to check secgwd's host key against (SECGW_KNOWN_HOSTS; unchecked when empty)")
	fs.StringVar(&app.History, "history", history, "the shell's history file (empty: none)")
	fs.StringVar(&app.Name, "name", "secgw", "the name the prompt starts with")
	fs.StringVar(&app.Script, "f", "", "run the lines of this file as typed in the shell, stopping at the first bad one")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if app.Dial.Password == "" && *passwordFile != "" {
		pw, err := readPasswordFile(*passwordFile)
		if err != nil {
			fmt.Fprintln(stderr, "secgw:", err)
			return 2
		}
		app.Dial.Password = pw
	}
	if app.Dial.Password == "" {
		app.Dial.Password = getenv("SECGW_PASSWORD")
	}
	return app.Run(fs.Args())
}

// readPasswordFile returns the first line of file, without its line end.
// The error names the file, never its content.
func readPasswordFile(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("password file %s: the first line is empty", file)
	}
	return line, nil
}
