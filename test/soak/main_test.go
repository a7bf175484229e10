package soak

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"secgw/test/gwtest"
	"secgw/test/secgwdtest"
)

var (
	flagSeed     = flag.Int64("soak.seed", 1, "seed of the random walk (0: from the clock; the default is fixed so that make test is repeatable, make soak takes the clock); a failure prints its seed")
	flagSteps    = flag.Int("soak.steps", 400, "steps of the walk (the short form's default); 0 with -soak.duration: until the duration")
	flagDuration = flag.Duration("soak.duration", 0, "run the walk for this long (the long form), instead of -soak.steps when set")
)

// Binaries built by TestMain.
var secgwdBin, secgwBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Geteuid() == 0 {
		sweepStale()
	}
	tmp, err := os.MkdirTemp("", "secgw-soak-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if err := secgwdtest.Build(tmp, "secgwd", "secgw"); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	secgwdBin, secgwBin = filepath.Join(tmp, "secgwd"), filepath.Join(tmp, "secgw")
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// prerequisites maps what the soak needs to the Debian package that
// ships it (test/install-deps.sh, test/install-strongswan.sh).
var prerequisites = []struct{ file, pkg string }{
	{gwtest.CharonPath, "strongswan-charon"},
	{"/usr/sbin/swanctl", "strongswan-swanctl"},
	{"/usr/lib/ipsec/plugins/libstrongswan-openssl.so", "libstrongswan-standard-plugins"},
	{"/usr/lib/ipsec/plugins/libstrongswan-curve25519.so", "libstrongswan-extra-plugins"},
	{"/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so", "libcharon-extra-plugins"},
	{"/usr/sbin/ip", "iproute2"},
	{"/usr/bin/ping", "iputils-ping"},
	{"/dev/net/tun", "the kernel's tun device"},
}

// requirePrerequisites fails the test, naming what is missing. It never
// skips: a soak that did not run must not pass as green.
func requirePrerequisites(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("soak: needs root (network namespaces, TUN devices, mounts)")
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
		t.Fatalf("soak: missing prerequisites %s: run test/install-strongswan.sh / test/install-deps.sh", strings.Join(missing, ", "))
	}
}

// Bounds of the invariants.
const (
	// rpcBound: every NETCONF request is answered within it.
	rpcBound = 10 * time.Second
	// graceTime: an SA of a deleted VPN or policy may live this long.
	graceTime = 10 * time.Second
	// settleTime: what must eventually hold (start VPNs up, views agree,
	// traffic) holds within it.
	settleTime = 15 * time.Second
)
