package gateway

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"secgw/internal/ncclient"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gonetconf "github.com/Juniper/go-netconf/netconf"
	"golang.org/x/crypto/ssh"

	"secgw/internal/netnsutil"
	"secgw/internal/poll"
)

// gateway is one secgwd running in a namespace with the userspace
// dataplane, NETCONF on 127.0.0.1:830 inside the namespace, and the
// admin password it printed on its first start.
type gateway struct {
	ns, dir, log string
	password     string
	nc           *ncclient.Session
	// stop stops secgwd (once; the test's cleanup calls it too).
	stop func()
	// extra are the flags it was started with, for restart.
	extra []string
	// cmd is secgwd's process; killed is set by kill (a SIGKILL the
	// test meant: stop expects no clean exit then).
	cmd    *exec.Cmd
	killed atomic.Bool
}

// kill sends secgwd SIGKILL, as a crash would end it.
func (g *gateway) kill(t *testing.T) {
	t.Helper()
	g.killed.Store(true)
	if err := g.cmd.Process.Kill(); err != nil {
		t.Fatalf("gateway: kill secgwd: %v", err)
	}
}

// netconfAddr is where secgwd listens, inside its namespace.
const netconfAddr = "127.0.0.1:830"

var passwordRE = regexp.MustCompile(`created user admin with password (\S+) `)

// startGateway starts secgwd in ns, with extra flags, and waits until it
// serves NETCONF, then opens a NETCONF session (internal/ncclient) to it. t.Cleanup stops
// it (SIGTERM, SIGKILL after 5 s) and, if the test failed, logs the tail
// of its log.
func startGateway(t *testing.T, ns string, extra ...string) *gateway {
	t.Helper()
	return startGatewayIn(t, ns, t.TempDir(), "", extra...)
}

// restart stops secgwd and starts it again on the same data directory:
// its configuration, users and leases are what it finds there.
func (g *gateway) restart(t *testing.T) *gateway {
	t.Helper()
	g.stop()
	return startGatewayIn(t, g.ns, g.dir, g.password, g.extra...)
}

// startGatewayIn is startGateway on data directory dir; password is the
// admin password of a previous start there ("" on the first: secgwd
// prints it).
func startGatewayIn(t *testing.T, ns, dir, password string, extra ...string) *gateway {
	t.Helper()
	g := &gateway{ns: ns, dir: dir, log: filepath.Join(dir, "secgwd.log"), password: password, extra: extra}
	out, err := os.OpenFile(g.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// ip netns exec execs: the pid is secgwd's.
	args := append([]string{"netns", "exec", ns, secgwdBin, "-dir", filepath.Join(dir, "data"),
		"-listen", netconfAddr, "-dataplane", "userspace", "-no-syslog", "-log-level", "2"}, extra...)
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = out, out
	// If the test binary dies without its cleanups, secgwd dies with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("gateway: starting secgwd: %v", err)
	}
	g.cmd = cmd
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var once sync.Once
	g.stop = func() {
		once.Do(func() {
			if g.nc != nil {
				g.nc.Close()
			}
			if g.killed.Load() {
				exited <- <-exited
				return
			}
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-exited:
				exited <- err
				if err != nil {
					t.Errorf("gateway: secgwd did not exit cleanly on SIGTERM: %v", err)
				}
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				exited <- <-exited
				t.Errorf("gateway: secgwd did not exit within 5 s of SIGTERM")
			}
		})
	}
	t.Cleanup(func() {
		g.stop()
		if t.Failed() {
			t.Logf("secgwd log (%s), last lines:\n%s", g.log, tail(g.readLog(), 60))
		}
	})
	logStart := len(g.readLog()) // a restart appends to the log
	running := poll.Until(cmdTimeout, func() bool {
		if strings.Contains(g.readLog()[logStart:], "secgwd running") {
			return true
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("gateway: secgwd exited: %v\n%s", err, tail(g.readLog(), 40))
		default:
		}
		return false
	})
	if !running {
		t.Fatalf("gateway: secgwd not running after %v\n%s", cmdTimeout, tail(g.readLog(), 40))
	}
	if g.password == "" {
		m := passwordRE.FindStringSubmatch(g.readLog())
		if m == nil {
			t.Fatalf("gateway: secgwd printed no admin password on its first start:\n%s", tail(g.readLog(), 40))
		}
		g.password = m[1]
	}
	err = netnsutil.RunNamed(ns, func() error {
		cfg := &ssh.ClientConfig{User: "admin", Auth: []ssh.AuthMethod{ssh.Password(g.password)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey()}
		s, err := ncclient.Dial(netconfAddr, cfg, cmdTimeout)
		if err != nil {
			return err
		}
		// A session without a session-id is refused.
		if s.SessionID == 0 {
			s.Close()
			return fmt.Errorf("no hello from secgwd")
		}
		g.nc = s
		return nil
	})
	if err != nil {
		t.Fatalf("gateway: NETCONF session to secgwd in %s: %v", ns, err)
	}
	return g
}

func (g *gateway) readLog() string {
	b, _ := os.ReadFile(g.log)
	return string(b)
}

// cli runs the secgw CLI in secgwd's namespace, with script (if not
// empty) as its standard input, and returns its combined output.
func (g *gateway) cli(script string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", g.ns, secgwBin,
		"-host", "127.0.0.1", "-port", "830", "-history", ""}, args...)...)
	cmd.Env = append(os.Environ(), "SECGW_PASSWORD="+g.password)
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// mustCLI is cli for a test.
func (g *gateway) mustCLI(t *testing.T, script string, args ...string) string {
	t.Helper()
	out, err := g.cli(script, args...)
	if err != nil {
		t.Fatalf("gateway: secgw %s: %v\n%s%s", strings.Join(args, " "), err, script, out)
	}
	return out
}

// configure commits CLI lines (paths under "/ vrf main ike") in
// configuration mode.
func (g *gateway) configure(t *testing.T, lines ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("edit running\n")
	for _, l := range lines {
		b.WriteString("/ vrf main ike " + l + "\n")
	}
	b.WriteString("commit\n")
	out := g.mustCLI(t, b.String())
	if strings.Contains(strings.ToLower(out), "error") {
		t.Fatalf("gateway: configuring secgwd:\n%s\n%s", b.String(), out)
	}
}

// rpc runs one NETCONF operation on the NETCONF session and returns
// the content of <rpc-reply>.
func (g *gateway) rpc(t *testing.T, op string) string {
	t.Helper()
	reply, err := g.nc.Exec(gonetconf.RawMethod(op))
	if err != nil {
		t.Fatalf("gateway: NETCONF %.160s: %v", op, err)
	}
	return reply.Data
}

// XML namespaces of the model.
const (
	nsVRF = "urn:secgw:yang:secgw-vrf"
	nsIKE = "urn:secgw:yang:secgw-ike"
)
