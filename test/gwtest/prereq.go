package gwtest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// prerequisites maps what a test with secgwd and charon in network
// namespaces needs to the Debian package that ships it
// (test/install-deps.sh, test/install-strongswan.sh install them).
var prerequisites = []struct{ file, pkg string }{
	{CharonPath, "strongswan-charon"},
	{"/usr/sbin/swanctl", "strongswan-swanctl"},
	{"/usr/lib/ipsec/plugins/libstrongswan-openssl.so", "libstrongswan-standard-plugins"},
	{"/usr/lib/ipsec/plugins/libstrongswan-curve25519.so", "libstrongswan-extra-plugins"},
	{"/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so", "libcharon-extra-plugins"},
	{"/usr/lib/ipsec/plugins/libstrongswan-vici.so", "strongswan-swanctl"},
	{"/usr/sbin/ip", "iproute2"},
	{"/usr/bin/ping", "iputils-ping"},
	{"/dev/net/tun", "the kernel's tun device (secgwd and kernel-libipsec need /dev/net/tun)"},
}

// RequirePrerequisites fails the test of package who, naming what is
// missing and the package to install. It never skips: a test whose peer
// is missing must not pass as green.
func RequirePrerequisites(t testing.TB, who string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal(who + ": needs root (network namespaces, TUN devices, mounts)")
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
		t.Fatalf("%s: missing prerequisites %s: run test/install-deps.sh and test/install-strongswan.sh", who, strings.Join(missing, ", "))
	}
}
