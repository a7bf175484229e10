package gateway

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"secgw/internal/swanctl"
)

// charonPlugins is the load list of NOTES.md: kernel-libipsec before
// kernel-netlink, so that the userspace ESP backend wins and
// kernel-netlink only serves addresses and routes.
const charonPlugins = "random nonce drbg openssl aes sha1 sha2 hmac gcm gmp curve25519 kdf pem pkcs1 x509 pubkey " +
	"kernel-libipsec kernel-netlink socket-default vici counters"

// charon is one charon daemon running in a namespace with a private
// strongswan.conf, /run, vici socket and log, all in dir.
type charon struct {
	dir, uri, log string
}

func charonConf(dir string) string {
	return fmt.Sprintf(`charon {
	load_modular = no
	load = %s
	retransmit_tries = 2
	retransmit_timeout = 1.0
	filelog {
		test {
			path = %s
			time_format = %%T
			append = no
			flush_line = yes
			default = 1
			knl = 2
			cfg = 2
		}
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
	}
}
`, charonPlugins, filepath.Join(dir, "charon.log"), filepath.Join(dir, "charon.vici"))
}

// startCharon starts charon in ns and waits until its vici socket
// answers. t.Cleanup stops it and, if the test failed, logs the tail of
// its log.
func startCharon(t *testing.T, ns string) *charon {
	t.Helper()
	dir := t.TempDir()
	c := &charon{dir: dir, uri: "unix://" + filepath.Join(dir, "charon.vici"), log: filepath.Join(dir, "charon.log")}
	conf, runDir := filepath.Join(dir, "strongswan.conf"), filepath.Join(dir, "run")
	if err := os.WriteFile(conf, []byte(charonConf(dir)), 0o600); err != nil {
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
	out, err := os.Create(filepath.Join(dir, "charon.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// ip netns exec gives the command its own mount namespace: the bind
	// mount on /run (charon's pid file) stays private to this charon.
	// Both ip and sh exec, so the pid is charon's.
	cmd := exec.Command("ip", "netns", "exec", ns, "sh", "-c", `mount --bind "$1" /run && exec "$2"`, "sh", runDir, charonPath)
	cmd.Env = append(os.Environ(), "STRONGSWAN_CONF="+conf)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("gateway: starting charon: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("charon log (%s), last lines:\n%s", c.log, tail(c.readLog(), 60))
		}
	})
	deadline := time.Now().Add(cmdTimeout)
	for {
		if _, err := c.swanctl("--stats"); err == nil {
			return c
		}
		select {
		case err := <-exited:
			exited <- err
			b, _ := os.ReadFile(filepath.Join(dir, "charon.out"))
			t.Fatalf("gateway: charon exited: %v\n%s\n%s", err, b, tail(c.readLog(), 40))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway: charon's vici socket did not answer within %v\n%s", cmdTimeout, tail(c.readLog(), 40))
		}
	}
}

func (c *charon) readLog() string {
	b, _ := os.ReadFile(c.log)
	return string(b)
}

// swanctl runs a swanctl command against this charon.
func (c *charon) swanctl(args ...string) (string, error) {
	return runErr("swanctl", append(args, "--uri", c.uri)...)
}

// load writes swanctl.conf and loads it.
func (c *charon) load(t *testing.T, conf string) {
	t.Helper()
	f := filepath.Join(c.dir, "swanctl.conf")
	if err := os.WriteFile(f, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := c.swanctl("--load-all", "--file", f); err != nil {
		t.Fatalf("gateway: swanctl --load-all: %v\n%s\n%s", err, conf, out)
	}
}

// initiate brings a child up from charon's side.
func (c *charon) initiate(t *testing.T, child string) {
	t.Helper()
	if out, err := c.swanctl("--initiate", "--child", child, "--timeout", "15"); err != nil {
		t.Fatalf("gateway: swanctl --initiate --child %s: %v\n%s", child, err, out)
	}
}

// listSAs returns charon's IKE SAs from `swanctl --list-sas --raw`.
func (c *charon) listSAs(t *testing.T) []rawSection {
	t.Helper()
	out, err := c.swanctl("--list-sas", "--raw")
	if err != nil {
		t.Fatalf("gateway: swanctl --list-sas: %v\n%s", err, out)
	}
	return listSAsRaw(out)
}

// listSAsRaw returns the IKE SAs of `swanctl --list-sas --raw` output,
// each named by its connection.
func listSAsRaw(out string) []rawSection {
	var sas []rawSection
	for _, ev := range parseRaw(out) {
		for _, name := range ev.Order {
			sa := *ev.Sub[name]
			sa.Name = name
			sas = append(sas, sa)
		}
	}
	return sas
}

// child is charon's side of the tunnel: a swanctl child.
type child struct {
	name          string
	local, remote string // traffic selectors
}

// swanctlConf is charon's connection "secgw" with the given children and
// proposals, and the PSK.
func swanctlConf(s suite, psk string, children ...child) string {
	var cs strings.Builder
	for _, ch := range children {
		fmt.Fprintf(&cs, `			%s {
				local_ts = %s
				remote_ts = %s
				esp_proposals = %s
				start_action = none
			}
`, ch.name, ch.local, ch.remote, s.charonESP)
	}
	return fmt.Sprintf(`connections {
	secgw {
		version = 2
		local_addrs = %s
		remote_addrs = %s
		proposals = %s
		local {
			auth = psk
			id = %s
		}
		remote {
			auth = psk
			id = %s
		}
		children {
%s		}
	}
}
secrets {
	ike-secgw {
		id-1 = %s
		id-2 = %s
		secret = "%s"
	}
}
`, charonOuter, gwOuter, s.charonIKE, charonID, gwID, cs.String(), charonID, gwID, psk)
}

// The IKE identities of the two sides.
const gwID, charonID = "secgw.example", "charon.example"

// rawSection is a block of `swanctl --list-sas --raw`.
type rawSection = swanctl.Section

// parseRaw parses `swanctl --list-sas --raw`.
func parseRaw(s string) []*rawSection { return swanctl.ParseRaw(s) }
