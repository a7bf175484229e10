package cli

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/term"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Keys says where secgw finds the SSH keys it logs in with.
type Keys struct {
	// Identities are private key files (OpenSSH or PEM), as ssh -i.
	Identities []string
	// AgentSocket is the SSH agent's socket (SSH_AUTH_SOCK); "" uses no
	// agent.
	AgentSocket string
	// Passphrase asks for the passphrase of an encrypted identity; nil
	// makes such a file an error.
	Passphrase func(file string) ([]byte, error)
}

// Signers loads the identities (now, so that a missing file or a wrong
// passphrase is reported before connecting) and returns the signers to
// offer: the identities first, then the agent's keys, asked of the agent
// when the server asks for keys. The closer ends the agent connection.
func (k Keys) Signers() (func() ([]ssh.Signer, error), func(), error) {
	var own []ssh.Signer
	for _, file := range k.Identities {
		s, err := loadIdentity(file, k.Passphrase)
		if err != nil {
			return nil, nil, err
		}
		own = append(own, s)
	}
	var ag agent.ExtendedAgent
	closer := func() {}
	if k.AgentSocket != "" {
		conn, err := net.Dial("unix", k.AgentSocket)
		if err != nil {
			return nil, nil, fmt.Errorf("cli: ssh agent %s: %w", k.AgentSocket, err)
		}
		ag = agent.NewClient(conn)
		closer = func() { _ = conn.Close() }
	}
	if len(own) == 0 && ag == nil {
		return nil, closer, nil
	}
	return func() ([]ssh.Signer, error) {
		signers := own
		if ag != nil {
			more, err := ag.Signers()
			if err != nil {
				return nil, fmt.Errorf("cli: ssh agent: %w", err)
			}
			signers = append(signers[:len(signers):len(signers)], more...)
		}
		return signers, nil
	}, closer, nil
}

// loadIdentity reads one private key, asking for its passphrase if it
// has one.
func loadIdentity(file string, passphrase func(string) ([]byte, error)) (ssh.Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cli: identity: %w", err)
	}
	s, err := ssh.ParsePrivateKey(b)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if passphrase == nil {
			return nil, fmt.Errorf("cli: identity %s is encrypted and there is no terminal to ask its passphrase on (use the SSH agent)", file)
		}
		pp, perr := passphrase(file)
		if perr != nil {
			return nil, fmt.Errorf("cli: %w", perr)
		}
		s, err = ssh.ParsePrivateKeyWithPassphrase(b, pp)
		clear(pp)
	}
	if err != nil {
		// The parser's message names no key material.
		return nil, fmt.Errorf("cli: identity %s: %w", file, err)
	}
	return s, nil
}

// login fills a.Dial with the keys, the password prompt (on a terminal,
// asked only when the keys were not enough) and the host key check.
func (a *App) login(tty bool) (func(), error) {
	if tty {
		fd := int(a.In.Fd())
		if a.Dial.Password == "" {
			a.Dial.PasswordPrompt = func() (string, error) {
				fmt.Fprintf(a.Err, "%s@%s's password: ", a.Dial.User, a.Dial.Host)
				pw, err := term.ReadPassword(fd)
				fmt.Fprintln(a.Err)
				return string(pw), err
			}
		}
		a.Keys.Passphrase = func(file string) ([]byte, error) {
			fmt.Fprintf(a.Err, "Enter passphrase for key '%s': ", file)
			pp, err := term.ReadPassword(fd)
			fmt.Fprintln(a.Err)
			return pp, err
		}
	}
	signers, closer, err := a.Keys.Signers()
	if err != nil {
		return nil, err
	}
	a.Dial.Signers = signers
	hk := HostKeyConfig{File: a.KnownHosts, Mode: a.HostKeyCheck, Pin: a.HostKey, Note: a.Err}
	if hk.Mode == "" {
		hk.Mode = HostKeyIfKnown
		if tty {
			hk.Mode = HostKeyAsk
		}
	}
	if tty {
		hk.Ask = func(q string) (bool, error) {
			fmt.Fprint(a.Err, q)
			line, err := bufio.NewReader(a.In).ReadString('\n')
			if err != nil {
				return false, err
			}
			return strings.TrimSpace(strings.ToLower(line)) == "yes", nil
		}
	}
	if a.Dial.HostKeyCallback, err = hk.HostKeyCallback(); err != nil {
		closer()
		return nil, err
	}
	return closer, nil
}
