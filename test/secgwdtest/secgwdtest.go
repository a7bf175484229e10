// Package secgwdtest runs secgwd as a separate process for the tests that
// cross the process boundary (test/e2e, test/security, test/soak): build
// it once, give it a data directory with an admin and a read-only
// account, start it on a free loopback port (or in a network namespace),
// read its log, and talk NETCONF to it with internal/ncclient.
package secgwdtest

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

	"secgw/internal/ncclient"
	"secgw/internal/netconf"
)

// RepoRoot is the module root, two levels above this file.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Build builds the named commands of cmd/ (secgwd, secgw, ...) into dir
// and returns dir; a TestMain calls it once.
func Build(dir string, cmds ...string) error {
	args := []string{"build", "-o", dir + "/"}
	for _, c := range cmds {
		args = append(args, "./cmd/"+c)
	}
	build := exec.Command("go", args...)
	build.Dir = RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %v\n%s", strings.Join(cmds, " "), err, out)
	}
	return nil
}

// The accounts NewDataDir writes. Their bcrypt hashes use the lowest
// cost: a login then costs microseconds, which tests of hundreds of
// restarts need.
const (
	AdminUser      = "admin"
	AdminPassword  = "admin-secret-1"
	ReaderUser     = "reader"
	ReaderPassword = "reader-secret-1"
)

// NewDataDir returns a fresh data directory holding a users file with the
// admin and the read-only account.
func NewDataDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "secgw")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	users := []netconf.User{
		{Name: AdminUser, Role: netconf.RoleAdmin, Password: Hash(t, AdminPassword)},
		{Name: ReaderUser, Role: netconf.RoleReadOnly, Password: Hash(t, ReaderPassword)},
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

// Hash is a bcrypt hash of password at the lowest cost.
func Hash(t testing.TB, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// StartTimeout bounds a daemon start, up to its "running" log line.
const StartTimeout = 20 * time.Second

// Daemon is one secgwd process.
type Daemon struct {
	Dir  string
	Cmd  *exec.Cmd
	Addr string // host:port of the NETCONF server
	Host string
	Port string
	// Password is the admin password secgwd printed, when this start
	// created the users file.
	Password string
	// NS is the network namespace secgwd runs in, "" for the test's own.
	NS string

	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan struct{} // closed when the process has been waited for
	state  *os.ProcessState
}

var (
	listenRE   = regexp.MustCompile(`msg="secgwd running" subsystem=daemon listen=(\S+)`)
	passwordRE = regexp.MustCompile(`secgwd: created user admin with password (\S+) \(stored hashed in (\S+)\)$`)
)

// Start runs secgwd (bin) on dir with the fake dataplane, listening on a
// free loopback port, and waits until it serves. The process is killed
// when the test ends.
func Start(t testing.TB, bin, dir string, flags ...string) *Daemon {
	t.Helper()
	d, err := Launch(bin, dir, "debug", flags...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Kill)
	return d
}

// Launch starts secgwd with a log level and more flags, and waits until
// it serves; it returns an error rather than failing a test, for the
// tests that count their own failures. The level must be info or more
// verbose: the "secgwd running" line is at info. Flags given later
// override the defaults (-listen, -dataplane).
func Launch(bin, dir, level string, flags ...string) (*Daemon, error) {
	return LaunchIn("", bin, dir, level, flags...)
}

// LaunchIn is Launch in network namespace ns ("" for the caller's),
// through ip netns exec (which execs: the pid is secgwd's). secgwd dies
// with the test binary.
func LaunchIn(ns, bin, dir, level string, flags ...string) (*Daemon, error) {
	return LaunchInTimeout(ns, bin, dir, level, StartTimeout, flags...)
}

// LaunchInTimeout is LaunchIn waiting up to timeout for secgwd to serve,
// for a start from a large stored configuration.
func LaunchInTimeout(ns, bin, dir, level string, timeout time.Duration, flags ...string) (*Daemon, error) {
	d := &Daemon{Dir: dir, NS: ns, exited: make(chan struct{})}
	args := append([]string{"-dir", dir, "-listen", "127.0.0.1:0", "-log-level", level, "-dataplane", "fake", "-no-syslog"}, flags...)
	if ns != "" {
		d.Cmd = exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	} else {
		d.Cmd = exec.Command(bin, args...)
	}
	d.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pipe, err := d.Cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	d.Cmd.Stdout = d.Cmd.Stderr
	if err := d.Cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting secgwd: %w", err)
	}
	ready := make(chan struct{})
	go d.readLog(pipe, ready)
	go func() {
		_ = d.Cmd.Wait()
		d.mu.Lock()
		d.state = d.Cmd.ProcessState
		d.mu.Unlock()
		close(d.exited)
	}()
	select {
	case <-ready:
		return d, nil
	case <-d.exited:
		return nil, fmt.Errorf("secgwd exited before serving (%v):\n%s", d.Cmd.ProcessState, d.Logs())
	case <-time.After(timeout):
		d.Kill()
		return nil, fmt.Errorf("secgwd not serving after %v:\n%s", timeout, d.Logs())
	}
}

// readLog keeps secgwd's standard error and picks the listening address
// and the generated password out of it.
func (d *Daemon) readLog(r io.Reader, ready chan struct{}) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	signalled := false
	for sc.Scan() {
		line := sc.Text()
		d.mu.Lock()
		d.stderr.WriteString(line + "\n")
		if m := passwordRE.FindStringSubmatch(line); m != nil {
			d.Password = m[1]
		}
		if m := listenRE.FindStringSubmatch(line); m != nil && !signalled {
			d.Addr = m[1]
			d.Host, d.Port, _ = strings.Cut(d.Addr, ":")
			signalled = true
			close(ready)
		}
		d.mu.Unlock()
	}
	// Drain whatever is left so that the process never blocks on a
	// full pipe.
	_, _ = io.Copy(io.Discard, r)
}

// Logs returns what secgwd wrote on standard error so far.
func (d *Daemon) Logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.String()
}

// Exited is closed once the process has exited and been waited for.
func (d *Daemon) Exited() <-chan struct{} { return d.exited }

// State is the process state once Exited is closed, else nil.
func (d *Daemon) State() *os.ProcessState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state
}

// Stop sends SIGTERM and checks that secgwd exits cleanly (status 0).
func (d *Daemon) Stop(t testing.TB) {
	t.Helper()
	_ = d.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		d.Kill()
		t.Fatalf("secgwd did not exit within 10 s of SIGTERM:\n%s", d.Logs())
	}
	if code := d.State().ExitCode(); code != 0 {
		t.Fatalf("secgwd exited with %v after SIGTERM:\n%s", d.State(), d.Logs())
	}
}

// Kill sends SIGKILL (if the process still runs) and waits for it.
func (d *Daemon) Kill() {
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.Cmd.Process.Kill()
	<-d.exited
}

// SessionFramings returns, for every NETCONF session secgwd logged,
// whether it used base:1.1 (chunked) framing.
func (d *Daemon) SessionFramings() []bool {
	var out []bool
	for _, l := range strings.Split(d.Logs(), "\n") {
		if strings.Contains(l, `msg="netconf session started"`) {
			out = append(out, strings.Contains(l, "base11=true"))
		}
	}
	return out
}

// RPCTimeout bounds every read and write of a NETCONF session.
const RPCTimeout = 20 * time.Second

// Dial opens a NETCONF session with a password. A session without a
// session-id is refused.
func Dial(addr, user, password string) (*ncclient.Session, error) {
	return DialAuth(addr, user, ssh.Password(password))
}

// DialAuth is Dial with any SSH authentication method.
func DialAuth(addr, user string, auth ssh.AuthMethod) (*ncclient.Session, error) {
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{auth}, HostKeyCallback: ssh.InsecureIgnoreHostKey()}
	s, err := ncclient.Dial(addr, cfg, RPCTimeout)
	if err != nil {
		return nil, err
	}
	if s.SessionID == 0 {
		s.Close()
		return nil, fmt.Errorf("netconf: no session-id in the hello from %s", addr)
	}
	return s, nil
}

// MustDial is Dial for a test, closing the session at its end.
func MustDial(t testing.TB, addr, user, password string) *ncclient.Session {
	t.Helper()
	s, err := Dial(addr, user, password)
	if err != nil {
		t.Fatalf("netconf dial %s as %s: %v", addr, user, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Execer runs NETCONF operations: an *ncclient.Session, or go-netconf's
// own Session where a test checks that library against secgwd.
type Execer interface {
	Exec(methods ...gonetconf.RPCMethod) (*gonetconf.RPCReply, error)
}

// RPC runs one operation and returns the content of <rpc-reply>.
func RPC(s Execer, op string) (string, error) {
	reply, err := s.Exec(gonetconf.RawMethod(op))
	if err != nil {
		return "", err
	}
	return reply.Data, nil
}

// MustRPC is RPC for a test.
func MustRPC(t testing.TB, s Execer, op string) string {
	t.Helper()
	data, err := RPC(s, op)
	if err != nil {
		t.Fatalf("%.120s: %v", op, err)
	}
	return data
}

// XML namespaces the Go tests write.
const (
	NsVRF = "urn:secgw:yang:secgw-vrf"
	NsIKE = "urn:secgw:yang:secgw-ike"
)

// IKEConfig wraps ike content in an edit-config <config> for vrf main.
func IKEConfig(ike string) string {
	return `<config><vrf xmlns="` + NsVRF + `"><name>main</name><ike xmlns="` + NsIKE + `">` + ike + `</ike></vrf></config>`
}

// VPNElem is the <vpn> element of a VPN with a pre-shared key and one
// security policy; remote may be empty (a responder-only VPN).
func VPNElem(psk, name, policy, local, remote, localID, remoteID, localTS, remoteTS string) string {
	r := ""
	if remote != "" {
		r = "<remote-address>" + remote + "</remote-address>"
	}
	return `<vpn><name>` + name + `</name><local-address>` + local + `</local-address>` + r +
		`<local-id>` + localID + `</local-id><remote-id>` + remoteID + `</remote-id>` +
		`<ike-policy><pre-shared-key>` + psk + `</pre-shared-key></ike-policy><security-policy><name>` + policy +
		`</name><local-ts><subnet>` + localTS + `</subnet></local-ts><remote-ts><subnet>` + remoteTS + `</subnet></remote-ts></security-policy></vpn>`
}

// Main is the TestMain of a package of such tests: it builds the named
// commands of cmd/ into a temporary directory, hands it to built, runs the
// tests, removes the directory and exits with their status. pkg prefixes
// the messages.
func Main(m *testing.M, pkg string, built func(dir string), cmds ...string) {
	tmp, err := os.MkdirTemp("", "secgw-"+pkg+"-")
	if err != nil {
		fmt.Fprintln(os.Stderr, pkg+":", err)
		os.Exit(1)
	}
	if err := Build(tmp, cmds...); err != nil {
		fmt.Fprintln(os.Stderr, pkg+":", err)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	built(tmp)
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}
