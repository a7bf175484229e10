package access

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"secgw/test/secgwdtest"
)

// startStderrFile runs secgwd on an empty data directory with its
// standard error on a file (as systemd gives it the journal's socket),
// with env, and waits until it serves; it returns the data directory,
// the log file and the address.
func startStderrFile(t *testing.T, env func(logFile string) []string) (dir, logFile, addr string) {
	t.Helper()
	tmp := t.TempDir()
	dir, logFile = filepath.Join(tmp, "data"), filepath.Join(tmp, "stderr")
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(filepath.Join(bin, "secgwd"), "-dir", dir, "-listen", "127.0.0.1:0", "-dataplane", "fake",
		"-no-syslog", "-log-level", "4")
	cmd.Env = append(os.Environ(), env(logFile)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(secgwdtest.StartTimeout)
	for {
		b, _ := os.ReadFile(logFile)
		if _, rest, ok := strings.Cut(string(b), `msg="secgwd running" subsystem=daemon listen=`); ok {
			return dir, logFile, strings.Fields(rest)[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("secgwd not serving:\n%s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestInitialPasswordNotInJournal: when standard error is the journal
// (JOURNAL_STREAM names it, as systemd sets it), the generated admin
// password is not written there but to DIR/initial-password, mode 0600;
// it logs in.
func TestInitialPasswordNotInJournal(t *testing.T) {
	dir, logFile, addr := startStderrFile(t, func(logFile string) []string {
		var st syscall.Stat_t
		if err := syscall.Stat(logFile, &st); err != nil {
			t.Fatal(err)
		}
		return []string{fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino)}
	})
	pwFile := filepath.Join(dir, "initial-password")
	b, err := os.ReadFile(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	pw := strings.TrimSpace(string(b))
	if fi, _ := os.Stat(pwFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600", pwFile, fi.Mode().Perm())
	}
	journal, _ := os.ReadFile(logFile)
	if pw == "" || strings.Contains(string(journal), pw) {
		t.Errorf("the password %q is in the journal:\n%s", pw, journal)
	}
	if !strings.Contains(string(journal), pwFile) {
		t.Errorf("the journal does not say where the password is:\n%s", journal)
	}
	secgwdtest.MustDial(t, addr, "admin", pw)
}

// TestInitialPasswordFromFile: SECGW_INITIAL_PASSWORD_FILE gives the
// first admin password (its first line); it is shown nowhere.
func TestInitialPasswordFromFile(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "admin-password")
	const pw = "chosen-by-the-operator-1"
	if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir, logFile, addr := startStderrFile(t, func(string) []string { return []string{"SECGW_INITIAL_PASSWORD_FILE=" + pwFile} })
	out, _ := os.ReadFile(logFile)
	if strings.Contains(string(out), pw) {
		t.Errorf("the password is in secgwd's output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "initial-password")); !os.IsNotExist(err) {
		t.Errorf("initial-password written though the operator gave the password: %v", err)
	}
	secgwdtest.MustDial(t, addr, "admin", pw)

	// A missing file stops the start with its name, exit 2.
	cmd := exec.Command(filepath.Join(bin, "secgwd"), "-dir", filepath.Join(t.TempDir(), "d"), "-listen", "127.0.0.1:0", "-no-syslog")
	cmd.Env = append(os.Environ(), "SECGW_INITIAL_PASSWORD_FILE=/nonexistent/pw")
	b, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(b), "/nonexistent/pw") {
		t.Errorf("missing password file: %v\n%s", err, b)
	}
}
