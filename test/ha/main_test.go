// Package ha tests the HA pair end to end: the reference
// topology of test/hatest, keepalived in each node namespace, charon
// (kernel-libipsec) as the uCPEs, and failovers through keepalived with
// traffic flowing.
package ha

import (
	"os"
	"path/filepath"
	"testing"

	"secgw/test/charontest"
	"secgw/test/hatest"
	"secgw/test/secgwdtest"
)

// Binaries built by TestMain.
var secgwdBin, secgwBin string

func TestMain(m *testing.M) {
	if os.Geteuid() == 0 {
		hatest.SweepStale()
	}
	secgwdtest.Main(m, "ha", func(dir string) {
		secgwdBin, secgwBin = filepath.Join(dir, "secgwd"), filepath.Join(dir, "secgw")
	}, "secgwd", "secgw")
}

// requirePrerequisites fails the test, naming what is missing: charon's
// files, keepalived, iperf3 and ping (test/install-deps.sh installs
// them).
func requirePrerequisites(t *testing.T) {
	t.Helper()
	charontest.RequirePrerequisites(t, "ha", charontest.Ping,
		charontest.Prereq{File: hatest.KeepalivedPath, Pkg: "keepalived"},
		charontest.Prereq{File: "/usr/bin/iperf3", Pkg: "iperf3"},
		charontest.Prereq{File: "/usr/sbin/sysctl", Pkg: "procps"})
}
