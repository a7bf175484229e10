package charontest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Prereq is a file a test needs and the Debian package that ships it.
type Prereq struct{ File, Pkg string }

// prerequisites is what charon in a network namespace needs
// (test/install-strongswan.sh installs it).
var prerequisites = []Prereq{
	{Path, "strongswan-charon"},
	{"/usr/sbin/swanctl", "strongswan-swanctl"},
	{"/usr/lib/ipsec/libcharon.so.0", "strongswan-libcharon"},
	{"/usr/lib/ipsec/plugins/libstrongswan-openssl.so", "libstrongswan-standard-plugins"},
	{"/usr/lib/ipsec/plugins/libstrongswan-curve25519.so", "libstrongswan-extra-plugins"},
	{"/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so", "libcharon-extra-plugins"},
	{"/usr/lib/ipsec/plugins/libstrongswan-vici.so", "strongswan-swanctl"},
	{"/usr/sbin/ip", "iproute2"},
	{"/dev/net/tun", "the kernel's tun device (kernel-libipsec needs /dev/net/tun)"},
}

// RequirePrerequisites fails the test of package who, naming what is
// missing (charon's files and more) and the package to install. It never
// skips: a test whose peer is missing must not pass as green.
func RequirePrerequisites(t testing.TB, who string, more ...Prereq) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal(who + ": needs root (network namespaces, TUN devices, mounts)")
	}
	var missing []string
	for _, p := range append(prerequisites[:len(prerequisites):len(prerequisites)], more...) {
		if _, err := os.Stat(p.File); err != nil {
			missing = append(missing, p.Pkg+" ("+p.File+")")
		}
	}
	if _, err := exec.LookPath("mount"); err != nil {
		missing = append(missing, "mount (util-linux)")
	}
	if len(missing) > 0 {
		t.Fatalf("%s: missing prerequisites %s: run test/install-deps.sh and test/install-strongswan.sh", who, strings.Join(missing, ", "))
	}
}

// Ping is ping(8), for the tests that send traffic through the tunnel.
var Ping = Prereq{"/usr/bin/ping", "iputils-ping"}
