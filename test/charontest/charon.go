// Package charontest runs strongSwan's charon as a test peer: one daemon
// per network namespace, each with a private strongswan.conf, /run, vici
// socket and log in a directory of the test (NOTES.md says why each is
// private). Start writes the configuration, starts charon, waits until
// its vici socket answers, and registers a cleanup that stops it and,
// when the test failed, logs the tail of charon's log. Every test package
// that talks to charon (test/strongswan, test/gateway, test/soak,
// test/espcapture) starts it here.
package charontest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"secgw/internal/poll"
	"secgw/internal/swanctl"
	"secgw/test/gwtest"
)

// Path is Debian's charon.
const Path = "/usr/lib/ipsec/charon"

// Plugins is the load list of NOTES.md: kernel-libipsec before
// kernel-netlink, so that the userspace ESP backend wins and
// kernel-netlink only serves addresses and routes.
const Plugins = "random nonce drbg openssl aes sha1 sha2 hmac gcm gmp curve25519 kdf pem pkcs1 pkcs8 x509 pubkey " +
	"kernel-libipsec kernel-netlink socket-default vici counters"

// Options are what differs between the tests' charons.
type Options struct {
	// Extra holds more settings of strongswan.conf's charon section.
	Extra string
	// LogLevels holds more filelog levels, one "group = level" a line
	// (e.g. "ike = 4\nchd = 4": charon logs the IKE and child keys).
	LogLevels string
	// Plugins are loaded after the Plugins list (e.g. "attr resolve"
	// for a road warrior that writes the DNS servers it receives).
	Plugins string
	// PluginConf holds more settings of the plugins section (e.g.
	// "resolve { file = ... }").
	PluginConf string
}

// Charon is one charon daemon running in a namespace with a private
// strongswan.conf, /run, vici socket and log, all in Dir. It may be
// stopped and started again (Stop, Start) with the same directory.
type Charon struct {
	NS, Dir, URI, Log string

	cmd    *exec.Cmd
	exited chan error
}

// Conf is the strongswan.conf of a charon whose files are in dir.
func Conf(dir string, o Options) string {
	var levels strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(o.LogLevels), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			fmt.Fprintf(&levels, "\t\t\t%s\n", l)
		}
	}
	return fmt.Sprintf(`charon {
%s
	load_modular = no
	load = %s
	# Two tries are enough on a veth pair and keep failing tests short.
	retransmit_tries = 2
	retransmit_timeout = 1.0
	filelog {
		test {
			path = %s
			time_format = %%T
			append = yes
			flush_line = yes
			default = 1
			knl = 2
			cfg = 2
%s		}
	}
	syslog {
		daemon {
			default = -1
		}
	}
	plugins {
		vici {
			socket = unix://%s
		}
%s
	}
}
`, o.Extra, strings.TrimSpace(Plugins+" "+o.Plugins), filepath.Join(dir, "charon.log"), levels.String(),
		filepath.Join(dir, "charon.vici"), o.PluginConf)
}

// Start starts charon in namespace ns (a name of ip netns) and waits
// until its vici socket answers. t.Cleanup stops it and, if the test
// failed, logs the tail of its log.
func Start(t testing.TB, ns string, o Options) *Charon {
	t.Helper()
	dir := t.TempDir()
	c := &Charon{NS: ns, Dir: dir, URI: "unix://" + filepath.Join(dir, "charon.vici"), Log: filepath.Join(dir, "charon.log")}
	if err := os.WriteFile(filepath.Join(dir, "strongswan.conf"), []byte(Conf(dir, o)), 0o600); err != nil {
		t.Fatal(err)
	}
	// swanctl --load-all also reads credentials from the directories next
	// to swanctl.conf: empty ones keep its output short.
	for _, d := range []string{"run", "x509", "x509ca", "x509ocsp", "x509aa", "x509ac", "x509crl", "pubkey",
		"private", "rsa", "ecdsa", "bliss", "pkcs8", "pkcs12"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			t.Logf("charon log (%s), last lines:\n%s", c.Log, gwtest.Tail(c.ReadLog(), 80))
		}
	})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	return c
}

// Start starts charon (again) and waits until its vici socket answers.
func (c *Charon) Start() error {
	out, err := os.OpenFile(filepath.Join(c.Dir, "charon.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	// ip netns exec gives the command its own mount namespace: the bind
	// mount on /run (charon's pid file) stays private to this charon.
	// Both ip and sh exec, so the pid is charon's.
	cmd := exec.Command("ip", "netns", "exec", c.NS, "sh", "-c", `mount --bind "$1" /run && exec "$2"`, "sh",
		filepath.Join(c.Dir, "run"), Path)
	cmd.Env = append(os.Environ(), "STRONGSWAN_CONF="+filepath.Join(c.Dir, "strongswan.conf"))
	cmd.Stdout, cmd.Stderr = out, out
	// If the test binary dies without its cleanups, charon dies with it
	// (ip and sh exec, so the signal setting reaches charon).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("charontest: starting charon: %v", err)
	}
	c.cmd, c.exited = cmd, make(chan error, 1)
	go func() { c.exited <- cmd.Wait() }()
	var exitErr error
	exited := false
	answers := poll.Until(gwtest.CmdTimeout, func() bool {
		if _, err := c.Swanctl("--stats"); err == nil {
			return true
		}
		select {
		case exitErr = <-c.exited:
			c.exited <- exitErr
			exited = true
		default:
		}
		return exited
	})
	switch {
	case exited:
		c.cmd = nil
		b, _ := os.ReadFile(filepath.Join(c.Dir, "charon.out"))
		return fmt.Errorf("charontest: charon exited: %v\n%s\n%s", exitErr, b, gwtest.Tail(c.ReadLog(), 40))
	case !answers:
		return fmt.Errorf("charontest: charon's vici socket did not answer within %v\n%s", gwtest.CmdTimeout, gwtest.Tail(c.ReadLog(), 40))
	}
	return nil
}

// Stop stops charon (SIGTERM, SIGKILL after 3 s) if it runs.
func (c *Charon) Stop() {
	if c.cmd == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.exited:
		c.exited <- err
	case <-time.After(3 * time.Second):
		c.cmd.Process.Kill()
		c.exited <- <-c.exited
	}
	c.cmd = nil
}

// Kill kills charon with SIGKILL (a crash: it sends no DELETE) and waits
// until it has exited.
func (c *Charon) Kill() {
	if c.cmd == nil {
		return
	}
	c.cmd.Process.Kill()
	c.exited <- <-c.exited
	c.cmd = nil
}

// PID is the running charon's process id, 0 if stopped.
func (c *Charon) PID() int {
	if c.cmd == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// ReadLog returns charon's log file.
func (c *Charon) ReadLog() string {
	b, _ := os.ReadFile(c.Log)
	return string(b)
}

// WaitLog waits up to d for a log line containing s.
func (c *Charon) WaitLog(s string, d time.Duration) bool {
	return poll.Until(d, func() bool { return strings.Contains(c.ReadLog(), s) })
}

// Swanctl runs a swanctl command against this charon.
func (c *Charon) Swanctl(args ...string) (string, error) {
	return gwtest.Run("swanctl", append(args, "--uri", c.URI)...)
}

// TryLoad writes swanctl.conf and loads it.
func (c *Charon) TryLoad(conf string) error {
	f := filepath.Join(c.Dir, "swanctl.conf")
	if err := os.WriteFile(f, []byte(conf), 0o600); err != nil {
		return err
	}
	if out, err := c.Swanctl("--load-all", "--file", f); err != nil {
		return fmt.Errorf("charontest: swanctl --load-all: %v\n%s\n%s", err, conf, out)
	}
	return nil
}

// Load is TryLoad, failing the test on error.
func (c *Charon) Load(t testing.TB, conf string) {
	t.Helper()
	if err := c.TryLoad(conf); err != nil {
		t.Fatal(err)
	}
}

// ListSAs returns charon's IKE SAs from `swanctl --list-sas --raw`, each
// named by its connection.
func (c *Charon) ListSAs() ([]swanctl.Section, error) {
	out, err := c.Swanctl("--list-sas", "--raw")
	if err != nil {
		return nil, fmt.Errorf("charontest: swanctl --list-sas: %v\n%s", err, out)
	}
	return ListSAsRaw(out), nil
}

// ListSAsRaw returns the IKE SAs of `swanctl --list-sas --raw` output,
// each named by its connection.
func ListSAsRaw(out string) []swanctl.Section {
	var sas []swanctl.Section
	for _, ev := range swanctl.ParseRaw(out) {
		for _, name := range ev.Order {
			sa := *ev.Sub[name]
			sa.Name = name
			sas = append(sas, sa)
		}
	}
	return sas
}
