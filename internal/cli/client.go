package cli

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"

	"secgw/internal/ncclient"
)

// Backend is what the CLI asks of a NETCONF server. Filters are subtree
// filters (RFC 6241 §6), nil for everything; defaults is a with-defaults
// mode (RFC 6243: "report-all", "explicit"...). Get and GetConfig return
// the content of <data>; Call returns the content of <rpc-reply>. Errors
// from the server are RPCErrors.
type Backend interface {
	Get(filter []byte, defaults string) ([]byte, error)
	GetConfig(source string, filter []byte, defaults string) ([]byte, error)
	// EditConfig merges config (the content of <config>) into the
	// candidate, with test-option set: a candidate may be invalid between
	// two lines of configuration mode, until commit.
	EditConfig(config []byte) error
	// Commit makes the candidate running (RFC 6241 §8.3.4.1), or, with
	// opt.Confirmed, running until the confirmation (§8.4).
	Commit(opt CommitOptions) error
	// Validate validates the candidate.
	Validate() error
	Discard() error
	// Lock and Unlock take and release the lock of a datastore
	// ("candidate", "running"; RFC 6241 §7.5, §7.6).
	Lock(target string) error
	Unlock(target string) error
	Call(rpc []byte) ([]byte, error)
	Close() error
}

// CommitOptions are the parameters of a commit.
type CommitOptions struct {
	// Confirmed makes a confirmed commit (RFC 6241 §8.4): the server
	// reverts it after Timeout unless a later commit confirms it, or
	// when the session ends first.
	Confirmed bool
	// Timeout of a confirmed commit; 0 is the server's default (600 s).
	Timeout time.Duration
	// Comment goes into the commit's record in config-history. It
	// travels as <comment> in the secgw-config namespace inside
	// <commit>: ietf-netconf's commit has no comment, and secgwd reads
	// this extra parameter (a server that does not ignores it).
	Comment string
}

// NSWithDefaults is the namespace of the with-defaults parameter.
const NSWithDefaults = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"

// DialConfig says how to reach secgwd.
type DialConfig struct {
	Host     string // default localhost
	Port     int    // default 830
	User     string
	Password string
	// PasswordPrompt, when set and Password is empty, asks for the
	// password when the server asks for one: after the keys failed.
	PasswordPrompt func() (string, error)
	// Signers are tried first (SSH publickey authentication, RFC 4252
	// §7): the keys of -i files and of the SSH agent.
	Signers func() ([]ssh.Signer, error)
	// HostKeyCallback checks the server's host key; nil accepts any key.
	HostKeyCallback ssh.HostKeyCallback
	Timeout         time.Duration // connection and authentication; default 10s
}

// NetconfBackend is a NETCONF session over SSH run by internal/ncclient.
type NetconfBackend struct {
	sess *ncclient.Session
	// keep selects the top-level data elements the CLI decodes.
	keep func(ns string) bool
}

// Dial opens a NETCONF session to secgwd.
func Dial(cfg DialConfig, keep func(ns string) bool) (*NetconfBackend, error) {
	if cfg.Host == "" {
		cfg.Host = "localhost"
	}
	if cfg.Port == 0 {
		cfg.Port = 830
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	hk := cfg.HostKeyCallback
	if hk == nil {
		hk = ssh.InsecureIgnoreHostKey()
	}
	sc := &ssh.ClientConfig{
		User:            cfg.User,
		Auth:            authMethods(cfg),
		HostKeyCallback: hk,
		Timeout:         cfg.Timeout,
	}
	sess, err := ncclient.Dial(net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), sc, 0)
	if err != nil {
		return nil, fmt.Errorf("cli: %w", err)
	}
	return &NetconfBackend{sess: sess, keep: keep}, nil
}

// authMethods are the keys first, then the password (asked once, at
// most, whichever of password and keyboard-interactive the server
// offers).
func authMethods(cfg DialConfig) []ssh.AuthMethod {
	var methods []ssh.AuthMethod
	if cfg.Signers != nil {
		methods = append(methods, ssh.PublicKeysCallback(cfg.Signers))
	}
	var asked bool
	password := func() (string, error) {
		if cfg.Password == "" && cfg.PasswordPrompt != nil && !asked {
			asked = true
			pw, err := cfg.PasswordPrompt()
			if err != nil {
				return "", err
			}
			cfg.Password = pw
		}
		return cfg.Password, nil
	}
	return append(methods,
		ssh.PasswordCallback(password),
		ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
			pw, err := password()
			if err != nil {
				return nil, err
			}
			ans := make([]string, len(qs))
			for i := range qs {
				ans[i] = pw
			}
			return ans, nil
		}))
}

// SessionID returns the NETCONF session id the server gave.
func (nb *NetconfBackend) SessionID() int { return nb.sess.SessionID }

// exec runs one operation and parses the reply.
func (nb *NetconfBackend) exec(op string) (*reply, error) {
	msg, err := nb.sess.Do(op)
	if err != nil && msg == nil {
		return nil, fmt.Errorf("cli: %w", err)
	}
	// go-netconf returns only the first rpc-error, and no reply with
	// it: the reply is parsed in full.
	r, perr := parseReply(msg, nb.keep)
	if perr != nil {
		if err != nil {
			return nil, fmt.Errorf("cli: %w", err)
		}
		return nil, perr
	}
	if len(r.Errors) > 0 {
		return nil, r.Errors
	}
	return r, nil
}

func withDefaults(mode string) string {
	if mode == "" {
		return ""
	}
	return `<with-defaults xmlns="` + NSWithDefaults + `">` + mode + `</with-defaults>`
}

func filterElem(filter []byte) string {
	if filter == nil {
		return ""
	}
	return `<filter type="subtree">` + string(filter) + `</filter>`
}

// Get runs <get>.
func (nb *NetconfBackend) Get(filter []byte, defaults string) ([]byte, error) {
	r, err := nb.exec(`<get>` + filterElem(filter) + withDefaults(defaults) + `</get>`)
	if err != nil {
		return nil, err
	}
	return r.Data, nil
}

// GetConfig runs <get-config>.
func (nb *NetconfBackend) GetConfig(source string, filter []byte, defaults string) ([]byte, error) {
	r, err := nb.exec(`<get-config><source><` + source + `/></source>` + filterElem(filter) + withDefaults(defaults) + `</get-config>`)
	if err != nil {
		return nil, err
	}
	return r.Data, nil
}

// EditConfig edits the candidate.
func (nb *NetconfBackend) EditConfig(config []byte) error {
	var b bytes.Buffer
	b.WriteString(`<edit-config><target><candidate/></target><test-option>set</test-option><config>`)
	b.Write(config)
	b.WriteString(`</config></edit-config>`)
	_, err := nb.exec(b.String())
	return err
}

// Commit runs <commit>.
func (nb *NetconfBackend) Commit(opt CommitOptions) error {
	_, err := nb.exec(commitOp(opt))
	return err
}

// commitOp is the <commit> element for opt.
func commitOp(opt CommitOptions) string {
	var b bytes.Buffer
	b.WriteString(`<commit>`)
	if opt.Confirmed {
		b.WriteString(`<confirmed/>`)
		if opt.Timeout > 0 {
			b.WriteString(`<confirm-timeout>` + strconv.FormatInt(int64((opt.Timeout+time.Second-1)/time.Second), 10) + `</confirm-timeout>`)
		}
	}
	if opt.Comment != "" {
		b.WriteString(`<comment xmlns="` + NSConfig + `">`)
		_ = xml.EscapeText(&b, []byte(opt.Comment))
		b.WriteString(`</comment>`)
	}
	b.WriteString(`</commit>`)
	return b.String()
}

// Lock runs <lock> on target.
func (nb *NetconfBackend) Lock(target string) error {
	_, err := nb.exec(`<lock><target><` + target + `/></target></lock>`)
	return err
}

// Unlock runs <unlock> on target.
func (nb *NetconfBackend) Unlock(target string) error {
	_, err := nb.exec(`<unlock><target><` + target + `/></target></unlock>`)
	return err
}

// Validate validates the candidate.
func (nb *NetconfBackend) Validate() error {
	_, err := nb.exec(`<validate><source><candidate/></source></validate>`)
	return err
}

// Discard runs <discard-changes>.
func (nb *NetconfBackend) Discard() error {
	_, err := nb.exec(`<discard-changes/>`)
	return err
}

// Call runs an RPC of the model.
func (nb *NetconfBackend) Call(rpc []byte) ([]byte, error) {
	r, err := nb.exec(string(rpc))
	if err != nil {
		return nil, err
	}
	return r.Body, nil
}

// Close sends <close-session> and ends the session.
func (nb *NetconfBackend) Close() error {
	_, _ = nb.exec(`<close-session/>`)
	return nb.sess.Close()
}
