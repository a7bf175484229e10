package strongswan

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const charonPath = "/usr/lib/ipsec/charon"

// charonPlugins is the load list of NOTES.md: kernel-libipsec before
// kernel-netlink, so that the userspace ESP backend wins and
// kernel-netlink only serves addresses and routes.
const charonPlugins = "random nonce drbg openssl aes sha1 sha2 hmac gcm gmp curve25519 kdf pem pkcs1 x509 pubkey " +
	"kernel-libipsec kernel-netlink socket-default vici counters"

// charon is one charon daemon running in a network namespace with a
// private configuration, /run, vici socket and log file, all in dir.
type charon struct {
	dir string
	uri string // vici socket URI for swanctl --uri
	log string // filelog path (ike=4, chd=4: keys are logged)
	cmd *exec.Cmd
}

// strongswanConf is charon's private strongswan.conf; extra holds more
// settings of the charon section.
func strongswanConf(dir, extra string) string {
	return fmt.Sprintf(`charon {
%s
	load_modular = no
	load = %s
	# One try is enough on a veth pair and keeps failing tests short.
	retransmit_tries = 2
	retransmit_timeout = 1.0
	filelog {
		test {
			path = %s
			time_format = %%T
			append = no
			flush_line = yes
			default = 1
			ike = 4
			chd = 4
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
`, extra, charonPlugins, filepath.Join(dir, "charon.log"), filepath.Join(dir, "charon.vici"))
}

// startCharon starts charon in namespace ns and waits until its vici
// socket answers. t.Cleanup kills it (SIGTERM, SIGKILL after 3 s) and, if
// the test failed, logs the tail of charon's log.
func startCharon(t *testing.T, ns string) *charon {
	t.Helper()
	return startCharonWith(t, ns, "")
}

// startCharonWith is startCharon with extra settings in the charon
// section of strongswan.conf.
func startCharonWith(t *testing.T, ns, extra string) *charon {
	t.Helper()
	dir := t.TempDir()
	c := &charon{dir: dir, uri: "unix://" + filepath.Join(dir, "charon.vici"), log: filepath.Join(dir, "charon.log")}
	conf := filepath.Join(dir, "strongswan.conf")
	runDir := filepath.Join(dir, "run")
	if err := os.WriteFile(conf, []byte(strongswanConf(dir, extra)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "charon.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// ip netns exec gives the command its own mount namespace: the bind
	// mount on /run (charon's pid file) stays private to this charon.
	// Both ip and sh exec, so the pid is charon's.
	c.cmd = exec.Command("ip", "netns", "exec", ns, "sh", "-c", `mount --bind "$1" /run && exec "$2"`, "sh", runDir, charonPath)
	c.cmd.Env = append(os.Environ(), "STRONGSWAN_CONF="+conf)
	c.cmd.Stdout, c.cmd.Stderr = out, out
	// If the test binary dies without its cleanups, charon dies with it
	// (ip and sh exec, so the signal setting reaches charon).
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("strongswan: starting charon: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.cmd.Wait() }()
	t.Cleanup(func() {
		c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			c.cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("charon log (%s), last lines:\n%s", c.log, tail(c.readLog(), 80))
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := runErr("swanctl", "--stats", "--uri", c.uri); err == nil {
			return c
		}
		select {
		case err := <-exited:
			exited <- err
			b, _ := os.ReadFile(filepath.Join(dir, "charon.out"))
			t.Fatalf("strongswan: charon exited: %v\n%s\n%s", err, b, tail(c.readLog(), 40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("strongswan: charon's vici socket did not answer within 10 s\n%s", tail(c.readLog(), 40))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// load writes swanctl.conf and loads it with swanctl --load-all.
func (c *charon) load(t *testing.T, swanctlConf string) {
	t.Helper()
	f := filepath.Join(c.dir, "swanctl.conf")
	if err := os.WriteFile(f, []byte(swanctlConf), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "swanctl", "--load-all", "--file", f, "--uri", c.uri)
}

// swanctl runs a swanctl command against this charon.
func (c *charon) swanctl(args ...string) (string, error) {
	return runErr("swanctl", append(args, "--uri", c.uri)...)
}

func (c *charon) readLog() string {
	b, _ := os.ReadFile(c.log)
	return string(b)
}

// waitLog waits up to d for a log line containing s.
func (c *charon) waitLog(s string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !strings.Contains(c.readLog(), s) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// prerequisites maps a file the tests need to the Debian package that
// ships it (test/install-strongswan.sh installs them).
var prerequisites = []struct{ file, pkg string }{
	{charonPath, "strongswan-charon"},
	{"/usr/sbin/swanctl", "strongswan-swanctl"},
	{"/usr/lib/ipsec/libcharon.so.0", "strongswan-libcharon"},
	{"/usr/lib/ipsec/plugins/libstrongswan-openssl.so", "libstrongswan-standard-plugins"},
	{"/usr/lib/ipsec/plugins/libstrongswan-curve25519.so", "libstrongswan-extra-plugins"},
	{"/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so", "libcharon-extra-plugins"},
	{"/usr/lib/ipsec/plugins/libstrongswan-vici.so", "strongswan-swanctl"},
	{"/usr/sbin/ip", "iproute2"},
	{"/dev/net/tun", "the kernel's tun device (kernel-libipsec needs /dev/net/tun)"},
}

// TestMain removes what dead earlier runs left behind before running the
// tests.
func TestMain(m *testing.M) {
	if os.Geteuid() == 0 {
		sweepStale()
	}
	// The tests mostly wait for charon and for protocol timers, not for
	// a CPU: unless -test.parallel says otherwise, run more of them at
	// once than GOMAXPROCS (the default), which keeps the package under
	// a minute on two cores.
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		flag.Set("test.parallel", strconv.Itoa(max(runtime.GOMAXPROCS(0), testParallel)))
	}
	os.Exit(m.Run())
}

// testParallel is the default number of tests run at once.
const testParallel = 6

// requirePrerequisites fails the test, naming the package, when something
// the interop tests need is missing. It never skips: a missing peer must
// not pass as a green run.
func requirePrerequisites(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("strongswan: the interop tests need root (network namespaces, mounts)")
	}
	var missing []string
	for _, p := range prerequisites {
		if _, err := os.Stat(p.file); err != nil {
			missing = append(missing, p.pkg+" ("+p.file+")")
		}
	}
	if _, err := exec.LookPath("mount"); err != nil {
		missing = append(missing, "mount (util-linux)")
	}
	if len(missing) > 0 {
		t.Fatalf("strongswan: missing prerequisites %v: run test/install-strongswan.sh", missing)
	}
}
