package security

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"secgw/internal/ncclient"
	"secgw/internal/netconf/framing"
	"secgw/internal/netconf/transport"
	"secgw/test/secgwdtest"
)

// The bounds every attack is held to: a second, established
// admin session's <get> is answered within probeBound, and a fresh admin
// login (SSH, hello, <get>) completes within loginBound.
const (
	probeBound = time.Second
	loginBound = 2 * time.Second
)

// launch starts secgwd at log level info (debug would log every refused
// connection of a flood) and kills it when the test ends.
func launch(t *testing.T, dir string, flags ...string) *secgwdtest.Daemon {
	t.Helper()
	d, err := secgwdtest.Launch(secgwdBin, dir, "info", flags...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Kill)
	return d
}

// prober runs <get> on an established admin session every interval and
// keeps the slowest answer and the failures, until stop.
type prober struct {
	t       *testing.T
	s       *ncclient.Session
	stopc   chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	worst   time.Duration
	n       int
	failure string
}

// startProbe logs in as admin before the attack starts.
func startProbe(t *testing.T, d *secgwdtest.Daemon) *prober {
	t.Helper()
	p := &prober{t: t, s: secgwdtest.MustDial(t, d.Addr, secgwdtest.AdminUser, secgwdtest.AdminPassword),
		stopc: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

func (p *prober) run() {
	defer close(p.done)
	for {
		start := time.Now()
		_, err := secgwdtest.RPC(p.s, "<get/>")
		took := time.Since(start)
		p.mu.Lock()
		p.n++
		p.worst = max(p.worst, took)
		if err != nil && p.failure == "" {
			p.failure = err.Error()
		}
		p.mu.Unlock()
		if err != nil {
			return
		}
		select {
		case <-p.stopc:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop ends the probe and fails the test if a <get> failed or took more
// than probeBound.
func (p *prober) stop() {
	p.t.Helper()
	close(p.stopc)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	p.t.Logf("probe: %d <get>s during the attack, slowest %v", p.n, p.worst.Round(time.Millisecond))
	if p.failure != "" {
		p.t.Errorf("probe session's <get> failed during the attack: %s", p.failure)
	}
	if p.worst > probeBound {
		p.t.Errorf("probe session's slowest <get> took %v, want under %v", p.worst, probeBound)
	}
}

// login times a fresh admin login from 127.0.0.1: SSH, password, hello,
// one <get>, close.
func login(addr, password string) (time.Duration, error) {
	start := time.Now()
	s, err := secgwdtest.Dial(addr, secgwdtest.AdminUser, password)
	if err != nil {
		return time.Since(start), err
	}
	defer s.Close()
	_, err = secgwdtest.RPC(s, "<get/>")
	return time.Since(start), err
}

// loginProbe logs in as admin every interval until stop and fails the
// test for a login that fails or takes over loginBound.
func loginProbe(t *testing.T, addr, password string, interval time.Duration) (stop func()) {
	stopc, done := make(chan struct{}), make(chan struct{})
	var worst time.Duration
	var n int
	var failure string
	go func() {
		defer close(done)
		for {
			took, err := login(addr, password)
			n++
			worst = max(worst, took)
			if err != nil && failure == "" {
				failure = err.Error()
			}
			select {
			case <-stopc:
				return
			case <-time.After(interval):
			}
		}
	}()
	return func() {
		t.Helper()
		close(stopc)
		<-done
		t.Logf("fresh admin logins during the attack: %d, slowest %v", n, worst.Round(time.Millisecond))
		if failure != "" {
			t.Errorf("a fresh admin login failed during the attack: %s", failure)
		}
		if worst > loginBound {
			t.Errorf("the slowest fresh admin login took %v, want under %v", worst, loginBound)
		}
	}
}

// procStatus returns a field of /proc/PID/status in kB (VmRSS, VmHWM).
func procStatus(t *testing.T, pid int, field string) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading secgwd's status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("%s of secgwd: %q", field, v)
			}
			return kb
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// openFDs counts the open file descriptors of pid.
func openFDs(pid int) int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents)
}

// dialFrom opens a TCP connection to addr from the loopback address src
// (127.0.0.2, ...): on Linux every 127/8 address is local, which gives
// the attacks their own sources.
func dialFrom(src, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return d.Dial("tcp", addr)
}

// netconfSession is a raw NETCONF session over SSH for the attacks that
// go-netconf cannot make (partial messages, chunked framing by hand).
type netconfSession struct {
	client *ssh.Client
	sess   *ssh.Session
	in     interface{ Write([]byte) (int, error) }
	r      framing.MessageReader
	br     *bufio.Reader
}

// openRaw logs in, starts the netconf subsystem, exchanges hellos with
// base:1.1 and switches to chunked framing.
func openRaw(addr, user, password string) (*netconfSession, error) {
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.Password(password)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second}
	c, err := ssh.Dial("tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	s, err := c.NewSession()
	if err != nil {
		c.Close()
		return nil, err
	}
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	if err := s.RequestSubsystem("netconf"); err != nil {
		c.Close()
		return nil, fmt.Errorf("subsystem: %w", err)
	}
	ns := &netconfSession{client: c, sess: s, in: in, br: bufio.NewReaderSize(out, 64<<10)}
	if _, err := framing.NewEOMReader(ns.br, 0).ReadMessage(); err != nil {
		c.Close()
		return nil, fmt.Errorf("server hello: %w", err)
	}
	hello := `<hello xmlns="` + transport.NSBase + `"><capabilities><capability>` + transport.CapBase11 +
		`</capability></capabilities></hello>`
	if err := framing.NewEOMWriter(in).WriteMessage([]byte(hello)); err != nil {
		c.Close()
		return nil, err
	}
	ns.r = framing.NewChunkedReader(ns.br, 0)
	return ns, nil
}

func (n *netconfSession) close() { n.client.Close() }
