package hatest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"secgw/internal/poll"
)

// KeepalivedPath is Debian's keepalived (package keepalived, 2.2.7 in
// Debian 12).
const KeepalivedPath = "/usr/sbin/keepalived"

// AdvertInt is the VRRP advertisement interval: 100 ms, the reference's
// advertisement-interval 100. VRRPv3 (RFC 5798 §6.1) counts it in
// centiseconds, and keepalived takes fractional advert_int with
// vrrp_version 3. A backup declares the master down after
// 3 × AdvertInt + skew (RFC 5798 §6.1: Skew_Time = ((256 - Priority) ×
// Master_Adver_Interval) / 256), about 340 ms for priority 100: the VIPs
// move well within the 1 s the failover may interrupt traffic.
const AdvertInt = "0.1"

// Group and HAGroup are the names of the reference: the VRRP group binding
// vrrp0 and vrrp1 (keepalived's vrrp_sync_group, secgwd's vrf main vrrp
// group) and the HA group it notifies (notify-ha-group, listen-ha-group).
const (
	Group   = "group1"
	HAGroup = "ha-group1"
)

// KeepalivedConf is the keepalived.conf of node i (0 or 1) in the test:
// examples/ha/keepalived-node{1,2}.conf with the test's paths. secgw is
// the CLI binary, dir the node's directory (notify script, password file,
// logs), tun the interface whose presence tells that secgwd runs.
//
// The liveness of secgwd: examples/ha tracks the process with
// vrrp_track_process, which needs the kernel's process connector, and
// that only answers in the initial network namespace (keepalived logs
// "Failed to set/clear process event listen - errno 111" in another).
// The test tracks the userspace dataplane's TUN device instead: the
// kernel deletes it the instant secgwd dies (SIGKILL included), and
// keepalived sees the link go through netlink at once (a vrrp_script
// would poll at best every second: its interval is whole seconds).
func KeepalivedConf(i int, secgw, dir, tun string) string {
	me, other := Nodes[i], Nodes[1-i]
	prio := 200 - 100*i // node 1 is preferred at start, as in the reference
	inst := func(name, ifname string, vrid int, src, peer, vip string) string {
		return fmt.Sprintf(`vrrp_instance %s {
	state BACKUP
	nopreempt
	interface %s
	virtual_router_id %d
	priority %d
	advert_int %s
	unicast_src_ip %s
	unicast_peer {
		%s
	}
	virtual_ipaddress {
		%s dev %s
	}
	track_interface {
		%s
	}
}
`, name, ifname, vrid, prio, AdvertInt, src, peer, vip, ifname, tun)
	}
	return fmt.Sprintf(`# node %d of the HA test (test/hatest); see examples/ha/.
global_defs {
	router_id node%d
	vrrp_version 3
	script_user root
	vrrp_garp_master_delay 0
	vrrp_garp_master_repeat 3
	# secgwd's TUN device goes when secgwd dies and comes back when it
	# starts again, with another ifindex.
	dynamic_interfaces
}
vrrp_sync_group %s {
	group {
		vrrp0
		vrrp1
	}
	notify "%s"
}
`, i+1, i+1, Group, filepath.Join(dir, "notify.sh")) +
		inst("vrrp0", "wan", 10, me.WAN.String(), other.WAN.String(), PublicVIP.String()+"/24") +
		inst("vrrp1", "lan", 11, me.LAN.String(), other.LAN.String(), InternalVIP.String()+"/24")
}

// NotifyScript is the notify script of the test: examples/ha's
// secgw-ha-notify (secgw ha-notify --retry 10s --state-dir: a
// notification keepalived sends while secgwd starts is not lost) that
// logs the notification and secgw's answer to notify.log, one line each:
// "TIME TYPE NAME STATE PRIO rc=N OUTPUT".
func NotifyScript(secgw, dir string) string {
	return fmt.Sprintf(`#!/bin/sh
out=$(SECGW_PASSWORD_FILE=%[2]s/password %[1]s -host 127.0.0.1 -port 830 -history "" ha-notify --retry 10s --state-dir %[2]s "$@" 2>&1)
rc=$?
echo "$(date +%%s.%%N) $* rc=$rc $(echo $out)" >> %[2]s/notify.log
exit $rc
`, secgw, dir)
}

// Keepalived is keepalived running in a node namespace with its own
// configuration, pid files and log in Dir.
type Keepalived struct {
	NS, Dir string
	cmd     *exec.Cmd
	exited  chan error
}

// StartKeepalived writes the configuration and notify script of node i
// in dir and starts keepalived (VRRP only) in namespace ns. t.Cleanup
// stops it.
func StartKeepalived(t testing.TB, ns string, i int, secgw, dir, tun string) *Keepalived {
	t.Helper()
	k := &Keepalived{NS: ns, Dir: dir}
	if err := os.WriteFile(filepath.Join(dir, "keepalived.conf"), []byte(KeepalivedConf(i, secgw, dir, tun)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notify.sh"), []byte(NotifyScript(secgw, dir)), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		k.Stop()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "keepalived.log"))
			t.Logf("keepalived log of %s, last lines:\n%s", ns, tail(string(b), 30))
			t.Logf("notify log of %s:\n%s", ns, k.NotifyLog())
		}
	})
	if err := k.Start(); err != nil {
		t.Fatal(err)
	}
	return k
}

// Start starts keepalived (again): in the foreground (-n), logging to
// its console (-l, -D) which is keepalived.log, VRRP only (-P), with its
// own pid files (-p, -r) so that two of them run on one host.
func (k *Keepalived) Start() error {
	out, err := os.OpenFile(filepath.Join(k.Dir, "keepalived.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	k.cmd = exec.Command("ip", "netns", "exec", k.NS, KeepalivedPath, "-n", "-l", "-D", "-P",
		"-f", filepath.Join(k.Dir, "keepalived.conf"),
		"-p", filepath.Join(k.Dir, "keepalived.pid"), "-r", filepath.Join(k.Dir, "vrrp.pid"))
	k.cmd.Stdout, k.cmd.Stderr = out, out
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := k.cmd.Start(); err != nil {
		return fmt.Errorf("hatest: starting keepalived: %w", err)
	}
	k.exited = make(chan error, 1)
	go func() { k.exited <- k.cmd.Wait() }()
	return nil
}

// Terminate sends keepalived SIGTERM and returns at once: its shutdown
// (priority-0 adverts, STOP notify) runs while the caller measures the
// failover; Stop waits for it.
func (k *Keepalived) Terminate() {
	if k.cmd != nil {
		k.cmd.Process.Signal(syscall.SIGTERM)
	}
}

// Stop stops keepalived with SIGTERM (it sends priority-0 adverts so
// that the backup takes over at once, RFC 5798 §6.4.3, and notifies
// STOP) and waits for it, SIGKILL after 5 s.
func (k *Keepalived) Stop() {
	if k.cmd == nil {
		return
	}
	k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.exited:
	case <-time.After(5 * time.Second):
		k.cmd.Process.Kill()
		<-k.exited
	}
	k.cmd = nil
}

// NotifyLog returns the notify script's log.
func (k *Keepalived) NotifyLog() string {
	b, _ := os.ReadFile(filepath.Join(k.Dir, "notify.log"))
	return string(b)
}

// Notification is one line of the notify log.
type Notification struct {
	State string // MASTER, BACKUP, FAULT, STOP
	RC    string // secgw's exit status
	Out   string // what secgw printed
	Line  string
}

// Notifications parses the notify log: the notifications delivered or
// refused, in the order their secgw ended.
func (k *Keepalived) Notifications() []Notification {
	var ns []Notification
	sc := bufio.NewScanner(strings.NewReader(k.NotifyLog()))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// TIME GROUP NAME STATE PRIO rc=N OUTPUT...
		if len(f) < 6 || f[1] != "GROUP" {
			continue
		}
		rc, out := "", ""
		for j, w := range f {
			if strings.HasPrefix(w, "rc=") {
				rc, out = strings.TrimPrefix(w, "rc="), strings.Join(f[j+1:], " ")
				break
			}
		}
		if strings.Contains(out, "superseded by a later notification") {
			// Not delivered: a later notification of the group took
			// over (secgw ha-notify --state-dir); its line may come
			// after the later one's.
			continue
		}
		ns = append(ns, Notification{State: f[3], RC: rc, Out: out, Line: sc.Text()})
	}
	return ns
}

// WaitState waits up to d for the last notification to be state, and
// returns it.
func (k *Keepalived) WaitState(state string, d time.Duration) (Notification, bool) {
	var last Notification
	ok := poll.Until(d, func() bool {
		ns := k.Notifications()
		if len(ns) == 0 {
			return false
		}
		last = ns[len(ns)-1]
		return last.State == state
	})
	return last, ok
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
