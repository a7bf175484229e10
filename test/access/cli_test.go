package access

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"secgw/internal/netconf"
	"secgw/test/secgwdtest"
)

// cliRun runs the secgw binary with env (and nothing of the test's own
// SECGW_* or SSH_AUTH_SOCK) and returns its exit status and output.
func cliRun(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "secgw"), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	out, err := runTimeout(cmd, 30*time.Second)
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("secgw %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out
}

// hostPub is secgwd's public host key as OpenSSH's ssh-keygen reads it,
// and its fingerprint.
func hostPub(t *testing.T, dir string) (pub, fingerprint string) {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-y", "-f", filepath.Join(dir, "ssh_host_ed25519_key")).Output()
	if err != nil {
		t.Fatalf("ssh-keygen -y: %v", err)
	}
	f := strings.Fields(string(out)) // type, key, comment
	pub = f[0] + " " + f[1]
	out, err = exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", filepath.Join(dir, "ssh_host_ed25519_key")).Output()
	if err != nil {
		t.Fatalf("ssh-keygen -l: %v", err)
	}
	return pub, strings.Fields(string(out))[1]
}

// TestCLIKeyLogin: secgw logs in with an ssh-keygen key given by -i, and
// with the same key held by a real ssh-agent; a key secgwd does not know
// is refused (no password to fall back on).
func TestCLIKeyLogin(t *testing.T) {
	dir := secgwdtest.NewDataDir(t)
	k, stranger := sshKeygen(t), sshKeygen(t)
	writeUsers(t, dir, netconf.User{Name: "ops", Role: netconf.RoleAdmin, Keys: []string{k.pub}})
	d := secgwdtest.Start(t, filepath.Join(bin, "secgwd"), dir)
	conn := []string{"-host", d.Host, "-port", d.Port, "-user", "ops"}

	code, out := cliRun(t, nil, append(conn, "-i", k.priv, "show", "config")...)
	if code != 0 {
		t.Fatalf("secgw -i KEY show config: exit %d\n%s", code, out)
	}
	code, out = cliRun(t, nil, append(conn, "-i", stranger.priv, "show", "config")...)
	if code != 2 || !strings.Contains(out, "unable to authenticate") {
		t.Errorf("secgw -i UNKNOWN-KEY: exit %d, want 2 and an authentication failure\n%s", code, out)
	}

	// The agent: ssh-agent in the foreground, the key added by ssh-add.
	if _, err := exec.LookPath("ssh-agent"); err != nil {
		t.Fatal("ssh-agent is missing (Debian package openssh-client, test/install-deps.sh)")
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	agent.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = agent.Process.Kill(); _ = agent.Wait() })
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		} else if i == 200 {
			t.Fatal("ssh-agent made no socket")
		}
		time.Sleep(10 * time.Millisecond)
	}
	add := exec.Command("ssh-add", k.priv)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v\n%s", err, out)
	}
	code, out = cliRun(t, []string{"SSH_AUTH_SOCK=" + sock}, append(conn, "show", "config")...)
	if code != 0 {
		t.Errorf("secgw with the agent's key: exit %d\n%s", code, out)
	}
	code, _ = cliRun(t, []string{"SSH_AUTH_SOCK=" + sock}, append(conn, "-no-agent", "show", "config")...)
	if code != 2 {
		t.Errorf("secgw -no-agent: exit %d, want 2 (no key, no password)", code)
	}
	// The password still works.
	code, out = cliRun(t, []string{"SECGW_PASSWORD=" + secgwdtest.AdminPassword}, "-host", d.Host, "-port", d.Port, "-user", "admin", "show", "config")
	if code == 0 {
		t.Errorf("admin was removed from the users file yet logs in:\n%s", out)
	}
}

// TestCLIHostKey: the host key checks against known_hosts and a pin,
// with OpenSSH's tools as the reference: accept-new writes a line
// ssh-keygen -F finds and OpenSSH's client accepts under strict checking;
// strict refuses an unknown host; a changed key is refused in every
// mode; a pinned fingerprint (ssh-keygen -l) lets in only that key.
func TestCLIHostKey(t *testing.T) {
	dir := secgwdtest.NewDataDir(t)
	k := sshKeygen(t)
	writeUsers(t, dir, netconf.User{Name: "ops", Role: netconf.RoleAdmin, Keys: []string{k.pub}})
	d := secgwdtest.Start(t, filepath.Join(bin, "secgwd"), dir)
	pub, fp := hostPub(t, dir)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	conn := []string{"-host", d.Host, "-port", d.Port, "-user", "ops", "-i", k.priv, "-known-hosts", kh}
	show := []string{"show", "config"}

	code, out := cliRun(t, nil, append(append(conn, "-host-key-check", "strict"), show...)...)
	if code != 2 || !strings.Contains(out, "is not in") || !strings.Contains(out, fp) {
		t.Errorf("strict, unknown host: exit %d, want 2 naming the fingerprint %s\n%s", code, fp, out)
	}
	code, out = cliRun(t, nil, append(append(conn, "-host-key-check", "accept-new"), show...)...)
	if code != 0 || !strings.Contains(out, "added [127.0.0.1]:"+d.Port) {
		t.Fatalf("accept-new: exit %d\n%s", code, out)
	}
	found, err := exec.Command("ssh-keygen", "-F", "[127.0.0.1]:"+d.Port, "-f", kh).Output()
	if err != nil || !strings.Contains(string(found), pub) {
		t.Errorf("ssh-keygen -F finds %q (%v), want secgwd's key %s", found, err, pub)
	}
	cmd := exec.Command("ssh", "-i", k.priv, "-p", d.Port, "-l", "ops", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
		"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile="+kh, "-s", d.Host, "netconf")
	cmd.Stdin = strings.NewReader("")
	if out, _ := runTimeout(cmd, 15*time.Second); !strings.Contains(out, "]]>]]>") {
		t.Errorf("OpenSSH with the known_hosts secgw wrote, strict checking: no hello\n%s", out)
	}
	code, out = cliRun(t, nil, append(append(conn, "-host-key-check", "strict"), show...)...)
	if code != 0 {
		t.Errorf("strict, known host: exit %d\n%s", code, out)
	}

	// Another key recorded for the host: refused in every mode but off.
	other := sshKeygen(t)
	otherPub := strings.Fields(other.pub)
	if err := os.WriteFile(kh, []byte("[127.0.0.1]:"+d.Port+" "+otherPub[0]+" "+otherPub[1]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"", "strict", "accept-new", "if-known"} {
		args := conn
		if mode != "" {
			args = append(append([]string(nil), conn...), "-host-key-check", mode)
		}
		code, out = cliRun(t, nil, append(args, show...)...)
		if code != 2 || !strings.Contains(out, "HOST KEY CHANGED") {
			t.Errorf("mode %q, changed key: exit %d, want 2 and HOST KEY CHANGED\n%s", mode, code, out)
		}
	}

	// A pin overrides the file: secgwd's fingerprint passes, another's
	// is refused.
	code, out = cliRun(t, nil, append(append(conn, "-host-key", fp), show...)...)
	if code != 0 {
		t.Errorf("-host-key %s: exit %d\n%s", fp, code, out)
	}
	code, out = cliRun(t, []string{"SECGW_HOST_KEY=" + other.pub}, append(conn, show...)...)
	if code != 2 || !strings.Contains(out, "not the pinned") {
		t.Errorf("SECGW_HOST_KEY another key: exit %d, want 2\n%s", code, out)
	}
}
