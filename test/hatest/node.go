package hatest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"secgw/internal/ncclient"
	"secgw/internal/netnsutil"
	"secgw/test/secgwdtest"
)

// NetconfAddr is where secgwd listens, inside its node namespace: the
// notify script reaches it there.
const NetconfAddr = "127.0.0.1:830"

// TUN is the userspace dataplane's TUN device (daemon.DefaultTUN).
const TUN = "secgw0"

// Node is one gateway of the pair: secgwd (userspace dataplane) and
// keepalived in namespace NS, their files in Dir.
type Node struct {
	ID    int // node-id, 1 or 2
	NS    string
	Dir   string // the node's directory: notify script, password, logs
	Data  string // secgwd's data directory
	Bin   string // secgwd
	CLI   string // secgw
	Level string // secgwd's -log-level
	Flags []string

	D  *secgwdtest.Daemon
	NC *ncclient.Session
	KA *Keepalived
}

// NewNode prepares node id (1 or 2) in namespace ns: a data directory
// with the test accounts (secgwdtest.NewDataDir) and the admin's
// password in Dir/password for the notify script (read by secgw
// -password-file).
func NewNode(t testing.TB, id int, ns, secgwd, secgw string, flags ...string) *Node {
	t.Helper()
	n := &Node{ID: id, NS: ns, Dir: t.TempDir(), Data: secgwdtest.NewDataDir(t), Bin: secgwd, CLI: secgw, Level: "info", Flags: flags}
	if err := os.WriteFile(filepath.Join(n.Dir, "password"), []byte(secgwdtest.AdminPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n.NC != nil {
			n.NC.Close()
		}
		if n.D != nil {
			n.D.Kill()
			if t.Failed() {
				t.Logf("secgwd log of node %d, last lines:\n%s", n.ID, tail(n.D.Logs(), 60))
			}
		}
	})
	return n
}

// Start starts secgwd (again, on the same data directory) with the
// userspace dataplane, NETCONF on NetconfAddr, and opens a NETCONF
// session to it.
func (n *Node) Start(t testing.TB) {
	t.Helper()
	if err := n.TryStart(); err != nil {
		t.Fatal(err)
	}
}

// TryStart is Start returning the error.
func (n *Node) TryStart() error {
	if n.NC != nil {
		n.NC.Close()
		n.NC = nil
	}
	flags := append([]string{"-listen", NetconfAddr, "-dataplane", "userspace"}, n.Flags...)
	d, err := secgwdtest.LaunchIn(n.NS, n.Bin, n.Data, n.Level, flags...)
	if err != nil {
		return fmt.Errorf("hatest: node %d: %w", n.ID, err)
	}
	n.D = d
	return n.Dial()
}

// Dial opens the node's NETCONF session from inside its namespace.
func (n *Node) Dial() error {
	return netnsutil.RunNamed(n.NS, func() error {
		s, err := secgwdtest.Dial(NetconfAddr, secgwdtest.AdminUser, secgwdtest.AdminPassword)
		if err != nil {
			return fmt.Errorf("hatest: node %d: NETCONF: %w", n.ID, err)
		}
		n.NC = s
		return nil
	})
}

// Kill kills secgwd with SIGKILL (a crash) and waits for it.
func (n *Node) Kill() {
	if n.NC != nil {
		n.NC.Close()
		n.NC = nil
	}
	if n.D != nil {
		n.D.Kill()
	}
}

// RPC runs one NETCONF operation on the node's session.
func (n *Node) RPC(op string) (string, error) {
	if n.NC == nil {
		return "", fmt.Errorf("hatest: node %d: no NETCONF session", n.ID)
	}
	return secgwdtest.RPC(n.NC, op)
}

// Commit edits the candidate with config (the content of <config>) and
// commits it.
func (n *Node) Commit(config string) error {
	if _, err := n.RPC(`<edit-config><target><candidate/></target><config>` + config + `</config></edit-config>`); err != nil {
		return fmt.Errorf("hatest: node %d: edit-config: %w", n.ID, err)
	}
	if _, err := n.RPC(`<commit/>`); err != nil {
		return fmt.Errorf("hatest: node %d: commit: %w", n.ID, err)
	}
	return nil
}

// MustCommit is Commit for a test.
func (n *Node) MustCommit(t testing.TB, config string) {
	t.Helper()
	if err := n.Commit(config); err != nil {
		t.Fatal(err)
	}
}

// Secgw runs the secgw CLI in the node's namespace with args.
func (n *Node) Secgw(args ...string) (string, error) {
	return runIn(n.NS, "env", append([]string{"SECGW_PASSWORD=" + secgwdtest.AdminPassword, n.CLI, "-host", "127.0.0.1", "-port", "830", "-history", ""}, args...)...)
}

// Logs returns secgwd's log since its last start.
func (n *Node) Logs() string {
	if n.D == nil {
		return ""
	}
	return n.D.Logs()
}

// runIn runs a command in namespace ns with a bounded time.
func runIn(ns, name string, args ...string) (string, error) {
	return runCmd("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// Has reports whether s holds every one of subs.
func Has(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
