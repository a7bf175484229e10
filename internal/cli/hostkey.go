package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Host key checking modes (secgw -host-key-check), after OpenSSH's
// StrictHostKeyChecking. Every mode but HostKeyOff refuses a key that
// differs from the one known_hosts holds for the host.
const (
	// HostKeyStrict refuses a host known_hosts does not list.
	HostKeyStrict = "strict"
	// HostKeyAsk shows an unknown host's fingerprint and asks whether to
	// trust it; yes adds it to known_hosts. The default on a terminal.
	HostKeyAsk = "ask"
	// HostKeyAcceptNew adds an unknown host's key to known_hosts (trust
	// on first use) and says so on standard error.
	HostKeyAcceptNew = "accept-new"
	// HostKeyIfKnown checks hosts known_hosts lists and lets unknown ones
	// in without recording them: the default of scripts, which have no
	// one to ask and must not fill known_hosts with test daemons.
	HostKeyIfKnown = "if-known"
	// HostKeyOff checks nothing.
	HostKeyOff = "off"
)

// HostKeyConfig says how secgw checks secgwd's SSH host key.
type HostKeyConfig struct {
	// File is an OpenSSH known_hosts file; a missing file is an empty
	// one (created when a key is added).
	File string
	// Mode is one of the HostKey* modes.
	Mode string
	// Pin, when set, is the only key accepted, whatever File says: a
	// fingerprint as ssh-keygen -l prints it ("SHA256:...") or a public
	// key in authorized_keys form ("ssh-ed25519 AAAA...").
	Pin string
	// Ask asks the operator a yes/no question (HostKeyAsk).
	Ask func(question string) (bool, error)
	// Note receives what an operator should see (a key added).
	Note io.Writer
}

// HostKeyCallback returns the check of c. A bad Mode or Pin is an error
// here, before any connection.
func (c HostKeyConfig) HostKeyCallback() (ssh.HostKeyCallback, error) {
	if c.Pin != "" {
		match, err := pinMatcher(c.Pin)
		if err != nil {
			return nil, err
		}
		return func(host string, _ net.Addr, key ssh.PublicKey) error {
			if !match(key) {
				return fmt.Errorf("cli: the host key of %s is %s %s, not the pinned %s: refusing to connect (someone may be intercepting the connection)",
					host, key.Type(), ssh.FingerprintSHA256(key), c.Pin)
			}
			return nil
		}, nil
	}
	switch c.Mode {
	case HostKeyOff:
		return ssh.InsecureIgnoreHostKey(), nil
	case HostKeyStrict, HostKeyAsk, HostKeyAcceptNew, HostKeyIfKnown:
	default:
		return nil, fmt.Errorf("cli: host key check %q: want %s, %s, %s, %s or %s", c.Mode,
			HostKeyStrict, HostKeyAsk, HostKeyAcceptNew, HostKeyIfKnown, HostKeyOff)
	}
	if c.Mode == HostKeyAsk && c.Ask == nil {
		return nil, errors.New("cli: host key check ask needs a terminal to ask on")
	}
	return c.check, nil
}

// check is the known_hosts check, read at each connection (the CLI makes
// one).
func (c HostKeyConfig) check(host string, remote net.Addr, key ssh.PublicKey) error {
	if c.File == "" && c.Mode == HostKeyIfKnown {
		// No known_hosts file (no home directory, a test's App): no
		// host is known, and if-known lets unknown hosts in.
		return nil
	}
	known, err := c.known()
	if err != nil {
		return err
	}
	err = known(host, remote, key)
	var kerr *knownhosts.KeyError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &kerr) && len(kerr.Want) > 0:
		// RFC 4251 §4.1: a changed host key is refused; only the
		// operator may replace it (ssh-keygen -R, or edit the file).
		w := kerr.Want[0]
		return fmt.Errorf("cli: HOST KEY CHANGED: %s presents %s %s but %s:%d holds %s %s for it: refusing to connect (someone may be intercepting the connection; if the key was changed on purpose, remove the old line)",
			host, key.Type(), ssh.FingerprintSHA256(key), w.Filename, w.Line, w.Key.Type(), ssh.FingerprintSHA256(w.Key))
	case !errors.As(err, &kerr):
		return fmt.Errorf("cli: known_hosts: %w", err)
	}
	// Unknown host.
	fp := key.Type() + " key fingerprint is " + ssh.FingerprintSHA256(key)
	switch c.Mode {
	case HostKeyIfKnown:
		return nil
	case HostKeyStrict:
		return fmt.Errorf("cli: %s is not in %s (%s): refusing to connect; pin it with -host-key or add it with -host-key-check ask",
			host, c.File, fp)
	case HostKeyAsk:
		ok, err := c.Ask(fmt.Sprintf("The authenticity of host %s can't be established.\n%s.\nAre you sure you want to continue connecting (yes/no)? ",
			knownhosts.Normalize(host), fp))
		if err != nil {
			return fmt.Errorf("cli: %w", err)
		}
		if !ok {
			return fmt.Errorf("cli: host key of %s not accepted", host)
		}
	}
	if err := c.add(host, key); err != nil {
		return err
	}
	if c.Note != nil {
		fmt.Fprintf(c.Note, "secgw: added %s (%s) to %s\n", knownhosts.Normalize(host), fp, c.File)
	}
	return nil
}

// known reads File; a missing file knows no host.
func (c HostKeyConfig) known() (ssh.HostKeyCallback, error) {
	if c.File == "" {
		return nil, errors.New("cli: no known_hosts file to check the host key against")
	}
	cb, err := knownhosts.New(c.File)
	if errors.Is(err, fs.ErrNotExist) {
		return func(string, net.Addr, ssh.PublicKey) error { return &knownhosts.KeyError{} }, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cli: %w", err)
	}
	return cb, nil
}

// add appends host's key to File, creating it (and its directory, as
// ~/.ssh is) owner-only.
func (c HostKeyConfig) add(host string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(c.File), 0o700); err != nil {
		return fmt.Errorf("cli: known_hosts: %w", err)
	}
	f, err := os.OpenFile(c.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("cli: known_hosts: %w", err)
	}
	_, err = fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(host)}, key))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cli: known_hosts: %w", err)
	}
	return nil
}

// pinMatcher parses a -host-key value.
func pinMatcher(pin string) (func(ssh.PublicKey) bool, error) {
	if strings.HasPrefix(pin, "SHA256:") {
		return func(k ssh.PublicKey) bool { return ssh.FingerprintSHA256(k) == pin }, nil
	}
	want, _, _, _, err := ssh.ParseAuthorizedKey([]byte(pin))
	if err != nil {
		return nil, fmt.Errorf("cli: -host-key %q: neither a SHA256: fingerprint nor a public key (%v)", pin, err)
	}
	wb := want.Marshal()
	return func(k ssh.PublicKey) bool { return string(k.Marshal()) == string(wb) }, nil
}
