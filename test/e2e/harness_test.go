// Package e2e holds secgw's end-to-end tests: they build secgwd, run it as
// a separate process on a loopback port with a temporary data directory,
// and drive it with real NETCONF clients (ncclient, Ansible, go-netconf)
// and judges (yanglint). A missing client fails the test with the Debian
// package to install; nothing is skipped.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gonetconf "github.com/Juniper/go-netconf/netconf"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/ssh"

	"secgw/internal/netconf"
)

// secgwdBin is the daemon built once by TestMain for every test.
var secgwdBin string

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "secgw-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	secgwdBin = filepath.Join(tmp, "secgwd")
	build := exec.Command("go", "build", "-o", secgwdBin, "./cmd/secgwd")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building secgwd: %v\n%s", err, out)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// repoRoot is the module root, two levels above this file.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// The accounts newDataDir writes. Their bcrypt hashes use the lowest cost:
// a login then costs microseconds, which the crash test's hundreds of
// restarts need. The daemon's own first-start account uses the default
// cost (TestFirstStart).
const (
	adminUser      = "admin"
	adminPassword  = "admin-secret-1"
	readerUser     = "reader"
	readerPassword = "reader-secret-1"
)

// newDataDir returns a fresh data directory holding a users file with the
// admin and the read-only account.
func newDataDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "secgw")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	users := []netconf.User{
		{Name: adminUser, Role: netconf.RoleAdmin, Password: hash(t, adminPassword)},
		{Name: readerUser, Role: netconf.RoleReadOnly, Password: hash(t, readerPassword)},
	}
	b, err := json.MarshalIndent(struct {
		Users []netconf.User `json:"users"`
	}{users}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.json"), append(b, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func hash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// startTimeout bounds a daemon start, up to its "running" log line.
const startTimeout = 20 * time.Second

// daemon is one secgwd process.
type daemon struct {
	dir  string
	cmd  *exec.Cmd
	addr string // host:port of the NETCONF server
	host string
	port string
	// password is the admin password secgwd printed, when this start
	// created the users file.
	password string

	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan struct{} // closed when the process has been waited for
	state  *os.ProcessState
}

var (
	listenRE   = regexp.MustCompile(`msg="secgwd running" subsystem=daemon listen=(\S+)`)
	passwordRE = regexp.MustCompile(`^secgwd: created user admin with password (\S+) \(stored hashed in (\S+)\)$`)
)

// startDaemon runs secgwd on dir, listening on a free loopback port, and
// waits until it serves. The process is killed when the test ends.
func startDaemon(t *testing.T, dir string) *daemon {
	t.Helper()
	d, err := launch(dir, "debug")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.kill)
	return d
}

// launch starts secgwd with a log level and more flags, and waits until
// it serves; it returns an error rather than failing a test, for the
// crash test, which counts its own failures. The level must be info or
// more verbose: the "secgwd running" line is at info.
func launch(dir, level string, flags ...string) (*daemon, error) {
	d := &daemon{dir: dir, exited: make(chan struct{})}
	args := append([]string{"-dir", dir, "-listen", "127.0.0.1:0", "-log-level", level, "-dataplane", "fake", "-no-syslog"}, flags...)
	d.cmd = exec.Command(secgwdBin, args...)
	pipe, err := d.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting secgwd: %w", err)
	}
	ready := make(chan struct{})
	go d.readLog(pipe, ready)
	go func() {
		_ = d.cmd.Wait()
		d.mu.Lock()
		d.state = d.cmd.ProcessState
		d.mu.Unlock()
		close(d.exited)
	}()
	select {
	case <-ready:
		return d, nil
	case <-d.exited:
		return nil, fmt.Errorf("secgwd exited before serving (%v):\n%s", d.cmd.ProcessState, d.logs())
	case <-time.After(startTimeout):
		d.kill()
		return nil, fmt.Errorf("secgwd not serving after %v:\n%s", startTimeout, d.logs())
	}
}

// readLog keeps secgwd's standard error and picks the listening address
// and the generated password out of it.
func (d *daemon) readLog(r io.Reader, ready chan struct{}) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	signalled := false
	for sc.Scan() {
		line := sc.Text()
		d.mu.Lock()
		d.stderr.WriteString(line + "\n")
		if m := passwordRE.FindStringSubmatch(line); m != nil {
			d.password = m[1]
		}
		if m := listenRE.FindStringSubmatch(line); m != nil && !signalled {
			d.addr = m[1]
			d.host, d.port, _ = strings.Cut(d.addr, ":")
			signalled = true
			close(ready)
		}
		d.mu.Unlock()
	}
	// Drain whatever is left so that the process never blocks on a
	// full pipe.
	_, _ = io.Copy(io.Discard, r)
}

// logs returns what secgwd wrote on standard error so far.
func (d *daemon) logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.String()
}

// stop sends SIGTERM and checks that secgwd exits cleanly (status 0).
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		d.kill()
		t.Fatalf("secgwd did not exit within 10 s of SIGTERM:\n%s", d.logs())
	}
	if code := d.state.ExitCode(); code != 0 {
		t.Fatalf("secgwd exited with %v after SIGTERM:\n%s", d.state, d.logs())
	}
}

// kill sends SIGKILL (if the process still runs) and waits for it.
func (d *daemon) kill() {
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Kill()
	<-d.exited
}

// sessionFramings returns, for every NETCONF session secgwd logged, whether
// it used base:1.1 (chunked) framing.
func (d *daemon) sessionFramings() []bool {
	var out []bool
	for _, l := range strings.Split(d.logs(), "\n") {
		if strings.Contains(l, `msg="netconf session started"`) {
			out = append(out, strings.Contains(l, "base11=true"))
		}
	}
	return out
}

// rpcTimeout bounds every read and write of a go-netconf session.
const rpcTimeout = 20 * time.Second

// dialNetconf opens a go-netconf session with a password. go-netconf
// ignores a failed hello (NewSession drops the error): a session without
// a session-id is reported here instead.
func dialNetconf(addr, user, password string) (*gonetconf.Session, error) {
	return dialNetconfAuth(addr, user, ssh.Password(password))
}

func dialNetconfAuth(addr, user string, auth ssh.AuthMethod) (*gonetconf.Session, error) {
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{auth}, HostKeyCallback: ssh.InsecureIgnoreHostKey()}
	s, err := gonetconf.DialSSHTimeout(addr, cfg, rpcTimeout)
	if err != nil {
		return nil, err
	}
	if s.SessionID == 0 {
		s.Close()
		return nil, fmt.Errorf("go-netconf: no hello from %s", addr)
	}
	return s, nil
}

// mustDial is dialNetconf for a test, closing the session at its end.
func mustDial(t *testing.T, addr, user, password string) *gonetconf.Session {
	t.Helper()
	s, err := dialNetconf(addr, user, password)
	if err != nil {
		t.Fatalf("go-netconf dial %s as %s: %v", addr, user, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rpc runs one operation and returns the content of <rpc-reply>.
func rpc(s *gonetconf.Session, op string) (string, error) {
	reply, err := s.Exec(gonetconf.RawMethod(op))
	if err != nil {
		return "", err
	}
	return reply.Data, nil
}

// mustRPC is rpc for a test.
func mustRPC(t *testing.T, s *gonetconf.Session, op string) string {
	t.Helper()
	data, err := rpc(s, op)
	if err != nil {
		t.Fatalf("%.120s: %v", op, err)
	}
	return data
}

// XML namespaces the Go tests write.
const (
	nsVRF = "urn:secgw:yang:secgw-vrf"
	nsIKE = "urn:secgw:yang:secgw-ike"
)

// ikeConfig wraps ike content in an edit-config <config> for vrf main.
func ikeConfig(ike string) string {
	return `<config><vrf xmlns="` + nsVRF + `"><name>main</name><ike xmlns="` + nsIKE + `">` + ike + `</ike></vrf></config>`
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
		t.Cleanup(d.kill)
		return d
	}
	return start(), start()
}

// vpnElem is the <vpn> element of a VPN with a pre-shared key and one
// security policy; remote may be empty (a responder-only VPN).
func vpnElem(psk, name, policy, local, remote, localID, remoteID, localTS, remoteTS string) string {
	r := ""
	if remote != "" {
		r = "<remote-address>" + remote + "</remote-address>"
	}
	return `<vpn><name>` + name + `</name><local-address>` + local + `</local-address>` + r +
		`<local-id>` + localID + `</local-id><remote-id>` + remoteID + `</remote-id>` +
		`<ike-policy><pre-shared-key>` + psk + `</pre-shared-key></ike-policy><security-policy><name>` + policy +
		`</name><local-ts><subnet>` + localTS + `</subnet></local-ts><remote-ts><subnet>` + remoteTS + `</subnet></remote-ts></security-policy></vpn>`
}
