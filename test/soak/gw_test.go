package soak

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	gonetconf "github.com/Juniper/go-netconf/netconf"

	"secgw/internal/ncclient"
	"secgw/internal/netnsutil"
	"secgw/test/gwtest"
	"secgw/test/secgwdtest"
)

// gw is one secgwd in its namespace (userspace dataplane), with a
// NETCONF session (internal/ncclient) as admin.
type gw struct {
	name string // "A", "B"
	ns   string
	d    *secgwdtest.Daemon
	nc   *ncclient.Session
	// logOff is how much of the log the panic scan has read.
	logOff int
}

// startGW starts secgwd in ns and opens its NETCONF session. t.Cleanup
// stops it (SIGTERM, checked to exit cleanly) and logs its tail on
// failure.
func startGW(t *testing.T, name, ns string) *gw {
	t.Helper()
	dir := secgwdtest.NewDataDir(t)
	d, err := secgwdtest.LaunchIn(ns, secgwdBin, dir, "info", "-dataplane", "userspace")
	if err != nil {
		t.Fatalf("soak: secgwd %s: %v", name, err)
	}
	g := &gw{name: name, ns: ns, d: d}
	t.Cleanup(func() {
		if g.nc != nil {
			g.nc.Close()
		}
		d.Stop(t)
		if t.Failed() {
			t.Logf("secgwd %s log, last lines:\n%s", name, gwtest.Tail(d.Logs(), 80))
		}
	})
	if err := g.dial(); err != nil {
		t.Fatalf("soak: NETCONF session to secgwd %s: %v", name, err)
	}
	return g
}

func (g *gw) dial() error {
	return netnsutil.RunNamed(g.ns, func() (err error) {
		g.nc, err = secgwdtest.Dial(g.d.Addr, secgwdtest.AdminUser, secgwdtest.AdminPassword)
		return err
	})
}

// errHang is a NETCONF request not answered within rpcBound.
var errHang = errors.New("no reply within the bound")

// rpc runs one NETCONF operation and returns the content of <rpc-reply>.
// An <rpc-error> comes back as *gonetconf.RPCError; a request not
// answered within rpcBound as errHang (the session is then unusable).
func (g *gw) rpc(op string) (string, error) {
	type res struct {
		r   *gonetconf.RPCReply
		err error
	}
	ch := make(chan res, 1)
	go func() {
		r, err := g.nc.Exec(gonetconf.RawMethod(op))
		ch <- res{r, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return "", r.err
		}
		return r.r.Data, nil
	case <-time.After(rpcBound):
		return "", fmt.Errorf("secgwd %s: %.200s: %w", g.name, op, errHang)
	}
}

// refused reports whether err is an <rpc-error> reply (a refusal), not a
// transport failure or a hang.
func refused(err error) bool {
	var re *gonetconf.RPCError
	return errors.As(err, &re)
}

// cli runs the secgw CLI in secgwd's namespace; its run is bounded like
// a NETCONF request (plus the CLI's own start and SSH handshake).
func (g *gw) cli(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), rpcBound+5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", g.ns, secgwBin,
		"-host", g.d.Host, "-port", g.d.Port, "-user", secgwdtest.AdminUser, "-history", ""}, args...)...)
	cmd.Env = append(os.Environ(), "SECGW_PASSWORD="+secgwdtest.AdminPassword)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("secgw %s: %w", strings.Join(args, " "), errHang)
	}
	return out.String(), err
}

// badLog matches what must never appear in a secgwd log: a panic,
// recovered or not, and the "internal error" a recovered one turns into.
var badLog = regexp.MustCompile(`(?i)panic|recovered|internal error`)

// scanLog returns the new log lines that match badLog.
func (g *gw) scanLog() []string {
	logs := g.d.Logs()
	fresh := logs[min(g.logOff, len(logs)):]
	g.logOff = len(logs)
	var bad []string
	for _, l := range strings.Split(fresh, "\n") {
		if badLog.MatchString(l) {
			bad = append(bad, l)
		}
	}
	return bad
}

// alive reports whether the process still runs.
func (g *gw) alive() bool {
	select {
	case <-g.d.Exited():
		return false
	default:
		return true
	}
}

// rssKB is secgwd's resident set size from /proc.
func (g *gw) rssKB() int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", g.d.Cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}
