// Package e2e holds secgw's end-to-end tests: they build secgwd, run it as
// a separate process on a loopback port with a temporary data directory
// (test/secgwdtest), and drive it with real NETCONF clients (ncclient,
// Ansible, go-netconf, yangcli) and judges (yanglint). A missing client
// fails the test with the Debian package to install; nothing is skipped.
package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"

	"secgw/internal/ncclient"
	"secgw/test/secgwdtest"
)

// secgwdBin is the daemon built once by TestMain for every test.
var secgwdBin string

func TestMain(m *testing.M) {
	secgwdtest.Main(m, "e2e", func(dir string) { secgwdBin = filepath.Join(dir, "secgwd") }, "secgwd")
}

// The names below are this package's short forms of test/secgwdtest.

type daemon = secgwdtest.Daemon

const (
	adminUser      = secgwdtest.AdminUser
	adminPassword  = secgwdtest.AdminPassword
	readerUser     = secgwdtest.ReaderUser
	readerPassword = secgwdtest.ReaderPassword
	rpcTimeout     = secgwdtest.RPCTimeout
	nsVRF          = secgwdtest.NsVRF
	nsIKE          = secgwdtest.NsIKE
)

func repoRoot() string                                   { return secgwdtest.RepoRoot() }
func newDataDir(t *testing.T) string                     { return secgwdtest.NewDataDir(t) }
func hash(t *testing.T, pw string) string                { return secgwdtest.Hash(t, pw) }
func ikeConfig(ike string) string                        { return secgwdtest.IKEConfig(ike) }
func rpc(s secgwdtest.Execer, op string) (string, error) { return secgwdtest.RPC(s, op) }

// startDaemon runs secgwd (fake dataplane) on dir and kills it when the
// test ends.
func startDaemon(t *testing.T, dir string) *daemon { return secgwdtest.Start(t, secgwdBin, dir) }

// launch starts secgwd with a log level and more flags; an error rather
// than a failed test, for the tests that count their own failures.
func launch(dir, level string, flags ...string) (*daemon, error) {
	return secgwdtest.Launch(secgwdBin, dir, level, flags...)
}

func dialNetconf(addr, user, password string) (*ncclient.Session, error) {
	return secgwdtest.Dial(addr, user, password)
}

func dialNetconfAuth(addr, user string, auth ssh.AuthMethod) (*ncclient.Session, error) {
	return secgwdtest.DialAuth(addr, user, auth)
}

func mustDial(t *testing.T, addr, user, password string) *ncclient.Session {
	t.Helper()
	return secgwdtest.MustDial(t, addr, user, password)
}

func mustRPC(t *testing.T, s secgwdtest.Execer, op string) string {
	t.Helper()
	return secgwdtest.MustRPC(t, s, op)
}

func vpnElem(psk, name, policy, local, remote, localID, remoteID, localTS, remoteTS string) string {
	return secgwdtest.VPNElem(psk, name, policy, local, remote, localID, remoteID, localTS, remoteTS)
}

// python3 is Debian's interpreter, which has python3-ncclient; another
// python3 may come first on PATH.
const python3 = "/usr/bin/python3"

// needNcclient fails the test when ncclient is not installed.
func needNcclient(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(python3); err != nil {
		t.Fatal("/usr/bin/python3 missing: apt-get install python3-ncclient")
	}
	if out, err := exec.Command(python3, "-c", "import ncclient").CombinedOutput(); err != nil {
		t.Fatalf("ncclient missing (%v: %s): apt-get install python3-ncclient", err, out)
	}
}

// startIKEPeers starts two secgwd (fake dataplane) whose IKE sockets use
// the test port ikePort instead of 500, so that a VPN of one on 127.0.0.1
// can have the other, on 127.0.0.2, as its peer.
func startIKEPeers(t *testing.T, ikePort string) (a, b *daemon) {
	t.Helper()
	start := func() *daemon {
		d, err := launch(newDataDir(t), "debug", "-ike-port", ikePort)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d.Kill)
		return d
	}
	return start(), start()
}
