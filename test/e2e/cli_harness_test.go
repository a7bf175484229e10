package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"secgw/internal/netconf"
	"secgw/internal/poll"
)

// The CLI tests run the real secgw binary against a real secgwd: as
// operators at a terminal (a pseudo-terminal, so that secgw runs its
// interactive shell with prompts), and as scripts and one-shot commands
// (standard input a file or a pipe).

var (
	secgwOnce sync.Once
	secgwPath string
	secgwErr  error
)

// secgwBin builds cmd/secgw once, beside secgwd.
func secgwBin(t *testing.T) string {
	t.Helper()
	secgwOnce.Do(func() {
		secgwPath = filepath.Join(filepath.Dir(secgwdBin), "secgw")
		build := exec.Command("go", "build", "-o", secgwPath, "./cmd/secgw")
		build.Dir = repoRoot()
		if out, err := build.CombinedOutput(); err != nil {
			secgwErr = fmt.Errorf("building secgw: %v\n%s", err, out)
		}
	})
	if secgwErr != nil {
		t.Fatal(secgwErr)
	}
	return secgwPath
}

// A second administrator, so that the tests can tell operators apart.
const (
	aliceUser     = "alice"
	alicePassword = "alice-secret-1"
)

// startCLIDaemon starts secgwd with the admin, reader and alice
// accounts.
func startCLIDaemon(t *testing.T) *daemon {
	t.Helper()
	dir := newDataDir(t)
	addUser(t, dir, netconf.User{Name: aliceUser, Role: netconf.RoleAdmin, Password: hash(t, alicePassword)})
	return startDaemon(t, dir)
}

// cliCommand is secgw as user on d, with the password in the
// environment and no history file.
func cliCommand(t *testing.T, d *daemon, user, password string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(secgwBin(t), append([]string{"-host", d.Host, "-port", d.Port, "-user", user, "-history", ""}, args...)...)
	cmd.Env = append(os.Environ(), "SECGW_PASSWORD="+password)
	return cmd
}

// cliResult is what a non-interactive secgw did.
type cliResult struct {
	code        int
	out, errOut string
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.errOut)
}

// runCLI runs secgw with stdin as its standard input (a pipe: no
// terminal) and waits for it.
func runCLI(t *testing.T, d *daemon, user, password, stdin string, args ...string) cliResult {
	t.Helper()
	cmd := cliCommand(t, d, user, password, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("secgw %q did not finish in 60 s:\n%s%s", args, out.String(), errOut.String())
	}
	return cliResult{code: cmd.ProcessState.ExitCode(), out: out.String(), errOut: errOut.String()}
}

// operator is secgw's interactive shell on a pseudo-terminal.
type operator struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	pty  *os.File // the master side
	mu   sync.Mutex
	buf  bytes.Buffer // everything the terminal showed
	done chan struct{}
}

// openPTY opens a pseudo-terminal pair (Linux /dev/ptmx).
func openPTY() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening /dev/ptmx (is devpts mounted?): %w", err)
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlocking the pty: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("opening /dev/pts/%d: %w", n, err)
	}
	return master, slave, nil
}

// startOperator starts secgw's shell as user and waits for its prompt.
func startOperator(t *testing.T, d *daemon, user, password string) *operator {
	t.Helper()
	master, slave, err := openPTY()
	if err != nil {
		t.Fatal(err)
	}
	o := &operator{t: t, name: user, pty: master, done: make(chan struct{})}
	o.cmd = cliCommand(t, d, user, password)
	// On a terminal secgw asks about an unknown host key (the daemon's
	// is new each run): a known_hosts of the test's own with
	// accept-new records it, as an operator's first "yes" does.
	o.cmd.Env = append(o.cmd.Env, "SECGW_KNOWN_HOSTS="+filepath.Join(t.TempDir(), "known_hosts"), "SECGW_HOST_KEY_CHECK=accept-new")
	o.cmd.Stdin, o.cmd.Stdout, o.cmd.Stderr = slave, slave, slave
	if err := o.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			o.mu.Lock()
			o.buf.Write(b[:n])
			o.mu.Unlock()
			if err != nil {
				return // EIO once secgw has exited
			}
		}
	}()
	go func() {
		_ = o.cmd.Wait()
		close(o.done)
	}()
	t.Cleanup(func() {
		_ = o.cmd.Process.Kill()
		<-o.done
		master.Close()
	})
	o.waitFor(0, promptRE)
	return o
}

// escapeRE matches the terminal's control sequences (cursor moves,
// line clears).
var escapeRE = regexp.MustCompile("\x1b\\[[0-9;?]*[A-Za-z]")

// promptRE is the shell's prompt at the end of what it printed.
var promptRE = regexp.MustCompile(`secgw(> | running [^\n]*#!? )$`)

// text returns what the terminal showed from offset from, without the
// control sequences and carriage returns.
func (o *operator) text(from int) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	b := o.buf.Bytes()
	if from > len(b) {
		from = len(b)
	}
	return strings.ReplaceAll(escapeRE.ReplaceAllString(string(b[from:]), ""), "\r", "")
}

// mark is the offset of the next output.
func (o *operator) mark() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Len()
}

// waitFor waits until the output after from matches re, and returns it.
func (o *operator) waitFor(from int, re *regexp.Regexp) string {
	o.t.Helper()
	var s string
	matched := poll.Until(30*time.Second, func() bool {
		s = o.text(from)
		if re.MatchString(s) {
			return true
		}
		select {
		case <-o.done:
			o.t.Fatalf("%s: secgw exited; the terminal showed:\n%s", o.name, o.text(0))
		default:
		}
		return false
	})
	if !matched {
		o.t.Fatalf("%s: no %q after 30 s; the terminal showed:\n%s", o.name, re, s)
	}
	return s
}

// run types line and Enter, waits for the next prompt, and returns what
// the command printed (the lines between the typed line and the prompt).
func (o *operator) run(line string) string {
	o.t.Helper()
	from := o.mark()
	if _, err := o.pty.Write([]byte(line + "\r")); err != nil {
		o.t.Fatal(err)
	}
	s := o.waitFor(from, regexp.MustCompile(`\n(?s:.*)`+promptRE.String()))
	s = afterEcho(s, line)
	loc := promptRE.FindStringIndex(s)
	return s[:loc[0]]
}

// afterEcho returns what follows the terminal's echo of line in s. The
// echo wraps at the terminal's width (x/term's 80 columns), with line
// breaks that are not in line.
func afterEcho(s, line string) string {
	i, j := 0, 0
	for i < len(s) && j < len(line) {
		switch {
		case s[i] == '\n':
			i++
		case s[i] == line[j]:
			i, j = i+1, j+1
		default:
			_, rest, _ := strings.Cut(s, "\n") // not the echo: its first line
			return rest
		}
	}
	return strings.TrimPrefix(s[i:], "\n")
}

// prompt returns the prompt the shell shows now.
func (o *operator) prompt() string {
	s := o.text(0)
	loc := promptRE.FindStringIndex(s)
	if loc == nil {
		return ""
	}
	return s[loc[0]:]
}

// ctrlD sends Ctrl-D on an empty line and waits for secgw to exit.
func (o *operator) ctrlD() string {
	o.t.Helper()
	from := o.mark()
	if _, err := o.pty.Write([]byte{4}); err != nil {
		o.t.Fatal(err)
	}
	select {
	case <-o.done:
	case <-time.After(20 * time.Second):
		o.t.Fatalf("%s: secgw still runs 20 s after Ctrl-D:\n%s", o.name, o.text(0))
	}
	time.Sleep(50 * time.Millisecond) // the reader drains the pty
	return o.text(from)
}

// kill kills secgw (SIGKILL): its session ends without a goodbye.
func (o *operator) kill() {
	_ = o.cmd.Process.Kill()
	<-o.done
}
