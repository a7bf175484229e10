// Command secgw is the vsr-style CLI of secgw: it talks to secgwd over
// NETCONF only, and runs one command, an interactive shell, or a script.
//
//	secgw [flags] COMMAND...               one command, then exit
//	secgw [flags]                          the shell (edit running, commit...)
//	secgw [flags] < lines.txt              each line as typed in the shell
//	secgw [flags] -f lines.txt             the same
//	secgw -completion bash                 the bash completion script
//	secgw -version                         the build, then exit
//	secgw [flags] ha-notify GROUP group1 MASTER   keepalived's notify (ha-notify RPC)
//
// A script stops at its first bad line (secgw exits 1 and names it). Its
// lines run dry first, so that a line the CLI refuses stops it before
// any line ran; after a line secgwd refuses nothing runs, and the
// uncommitted changes are discarded. 'edit running' locks the candidate and running datastores
// until configuration mode is left: another operator cannot edit or
// commit meanwhile, and is told which NETCONF session holds the lock.
//
// Login: the keys of -i files and of the SSH agent (SSH_AUTH_SOCK) are
// offered first, then the password. The connection comes from the flags,
// else from SECGW_HOST, SECGW_PORT, SECGW_USER, SECGW_PASSWORD,
// SECGW_PASSWORD_FILE, SECGW_IDENTITY, SECGW_KNOWN_HOSTS, SECGW_HOST_KEY and
// SECGW_HOST_KEY_CHECK. Without a password the shell asks for one on the
// terminal when the keys were not accepted; prefer SECGW_PASSWORD or
// -password-file to -password, which other users can read in the process list.
//
// secgwd's host key is checked against known_hosts (~/.ssh/known_hosts
// by default): a key that differs from the recorded one is always
// refused. An unknown host is asked about on a terminal (yes adds it),
// and let in unrecorded by scripts; -host-key-check strict refuses it,
// accept-new records it, and -host-key pins one key or fingerprint.
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
	"secgw/internal/schema"
	"secgw/internal/version"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// stringList is a flag that may be given several times.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

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
	history, knownHosts := "", ""
	if home, err := os.UserHomeDir(); err == nil {
		history = filepath.Join(home, ".secgw_history")
		knownHosts = filepath.Join(home, ".ssh", "known_hosts")
	}
	app := &cli.App{In: stdin, Out: stdout, Err: stderr}
	fs := flag.NewFlagSet("secgw", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(fs, stderr) }
	fs.StringVar(&app.Dial.Host, "host", env("SECGW_HOST", "localhost"), "secgwd's address (SECGW_HOST)")
	fs.IntVar(&app.Dial.Port, "port", port, "secgwd's NETCONF port (SECGW_PORT)")
	fs.StringVar(&app.Dial.User, "user", env("SECGW_USER", "admin"), "NETCONF user (SECGW_USER)")
	// The environment's password is not the flag's default, which -h
	// would print.
	fs.StringVar(&app.Dial.Password, "password", "", "password (SECGW_PASSWORD; asked on a terminal when empty and the keys were not accepted)")
	passwordFile := fs.String("password-file", getenv("SECGW_PASSWORD_FILE"), "file whose first line is the password (SECGW_PASSWORD_FILE), for scripts such as keepalived's notify")
	var identities stringList
	fs.Var(&identities, "i", "private key file to log in with, as ssh -i; may be repeated (SECGW_IDENTITY: one file)")
	noAgent := fs.Bool("no-agent", false, "do not offer the SSH agent's keys (SSH_AUTH_SOCK)")
	fs.StringVar(&app.KnownHosts, "known-hosts", env("SECGW_KNOWN_HOSTS", knownHosts), "known_hosts file secgwd's host key is checked against and added to (SECGW_KNOWN_HOSTS)")
	fs.StringVar(&app.HostKey, "host-key", getenv("SECGW_HOST_KEY"), "pin secgwd's host key: a SHA256: fingerprint (ssh-keygen -l) or a public key line; any other key is refused (SECGW_HOST_KEY)")
	fs.StringVar(&app.HostKeyCheck, "host-key-check", getenv("SECGW_HOST_KEY_CHECK"), "unknown host keys: ask (the default on a terminal), accept-new (record), if-known (the default otherwise: check listed hosts only), strict (refuse), off (no check) (SECGW_HOST_KEY_CHECK)")
	fs.StringVar(&app.History, "history", history, "the shell's history file (empty: none)")
	fs.StringVar(&app.Name, "name", "secgw", "the name the prompt starts with")
	fs.StringVar(&app.Script, "f", "", "run the lines of this file as typed in the shell, stopping at the first bad one")
	showVersion := fs.Bool("version", false, "print the version and exit")
	completion := fs.String("completion", "", "print the completion script of this shell (bash) and exit")
	if len(args) > 0 && args[0] == "-complete" {
		return complete(fs, args[1:], stdout)
	}
	if len(args) > 0 && args[0] == "-complete-flags" {
		fs.VisitAll(func(f *flag.Flag) { fmt.Fprintln(stdout, "-"+f.Name) })
		return 0
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case *showVersion:
		fmt.Fprintln(stdout, version.String("secgw"))
		return 0
	case *completion == "bash":
		fmt.Fprint(stdout, cli.BashCompletion)
		return 0
	case *completion != "":
		fmt.Fprintf(stderr, "secgw: -completion %q: only bash\n", *completion)
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
	if len(identities) == 0 && getenv("SECGW_IDENTITY") != "" {
		identities = stringList{getenv("SECGW_IDENTITY")}
	}
	app.Keys.Identities = identities
	if !*noAgent {
		app.Keys.AgentSocket = getenv("SSH_AUTH_SOCK")
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

// usage is -h: the modes, then the flags.
func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprint(w, `usage:
  secgw [flags] COMMAND...     run one command (show ..., cmd ike ..., flush ike ...), then exit
  secgw [flags]                the interactive shell on a terminal (edit running, commit, ...)
  secgw [flags] < FILE         run the lines of FILE as typed in the shell
  secgw [flags] -f FILE        the same
  secgw [flags] ha-notify GROUP NAME STATE
                               keepalived's notify: the ha-notify RPC (-password-file)
  secgw -completion bash       print the bash completion script
  secgw -version               print the version

Login: keys (-i, the SSH agent) first, then the password. Host key: see -host-key-check.

flags:
`)
	fs.PrintDefaults()
}

// complete is 'secgw -complete WORDS... PARTIAL', the bash completion's
// helper: the words are the command line after "secgw" up to the cursor,
// flags included, and the candidates for PARTIAL are printed one a line.
func complete(fs *flag.FlagSet, args []string, stdout io.Writer) int {
	fs.SetOutput(io.Discard)
	if len(args) == 0 {
		args = []string{""}
	}
	partial := args[len(args)-1]
	if err := fs.Parse(args[:len(args)-1]); err != nil {
		return 1
	}
	s, err := schema.Load()
	if err != nil {
		return 1
	}
	for _, w := range cli.CompleteWords(s, fs.Args(), partial) {
		fmt.Fprintln(stdout, w)
	}
	return 0
}
