package access

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"secgw/internal/netconf"
	"secgw/test/secgwdtest"
)

// writeUsers replaces the users file of dir.
func writeUsers(t *testing.T, dir string, users ...netconf.User) {
	t.Helper()
	b, err := json.Marshal(struct {
		Users []netconf.User `json:"users"`
	}{users})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitLog waits until secgwd's log holds want.
func waitLog(t *testing.T, d *secgwdtest.Daemon, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.Logs(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("secgwd's log never said %q:\n%s", want, d.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSIGHUPReloadsUsers: SIGHUP makes secgwd re-read users.json and go
// on running. A user added to the file logs in (password, and an
// ssh-keygen key through the real OpenSSH client); the session of a user
// removed from the file is ended; a file that no longer parses is
// logged and the previous accounts stay.
func TestSIGHUPReloadsUsers(t *testing.T) {
	dir := secgwdtest.NewDataDir(t)
	d := secgwdtest.Start(t, filepath.Join(bin, "secgwd"), dir)
	admin := netconf.User{Name: secgwdtest.AdminUser, Role: netconf.RoleAdmin, Password: secgwdtest.Hash(t, secgwdtest.AdminPassword)}

	if _, err := secgwdtest.Dial(d.Addr, "ops", "ops-secret-1"); err == nil {
		t.Fatal("ops logs in before it exists")
	}
	readerSess := secgwdtest.MustDial(t, d.Addr, secgwdtest.ReaderUser, secgwdtest.ReaderPassword)

	key := sshKeygen(t)
	ops := netconf.User{Name: "ops", Role: netconf.RoleReadOnly, Password: secgwdtest.Hash(t, "ops-secret-1"), Keys: []string{key.pub}}
	writeUsers(t, dir, admin, ops) // reader removed, ops added
	if err := d.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, d, `msg="users file reloaded"`)
	waitLog(t, d, "sessions-ended=1")

	// The removed user's session was ended by the server.
	if _, err := secgwdtest.RPC(readerSess, `<get-config><source><running/></source></get-config>`); err == nil {
		t.Error("the session of the removed user still answers after SIGHUP")
	}
	if _, err := secgwdtest.Dial(d.Addr, secgwdtest.ReaderUser, secgwdtest.ReaderPassword); err == nil {
		t.Error("the removed user still logs in after SIGHUP")
	}
	s := secgwdtest.MustDial(t, d.Addr, "ops", "ops-secret-1")
	secgwdtest.MustRPC(t, s, `<get-config><source><running/></source></get-config>`)
	// The key, through OpenSSH's own client.
	hello := opensshHello(t, d, "ops", key.priv)
	if !strings.Contains(hello, "urn:ietf:params:netconf:base:1.1") {
		t.Errorf("ssh -i KEY -s netconf: no server hello; got %q", hello)
	}
	signer, err := ssh.ParsePrivateKey(key.privPEM)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := secgwdtest.DialAuth(d.Addr, "ops", ssh.PublicKeys(signer))
	if err != nil {
		t.Fatalf("ops with its key after SIGHUP: %v", err)
	}
	ks.Close()

	// A broken file: logged, nothing changes, secgwd keeps running.
	if err := os.WriteFile(filepath.Join(dir, "users.json"), []byte(`{"users": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, d, "users file not reloaded")
	secgwdtest.MustRPC(t, s, `<get-config><source><running/></source></get-config>`)
	secgwdtest.MustDial(t, d.Addr, "ops", "ops-secret-1")
	select {
	case <-d.Exited():
		t.Fatalf("secgwd exited on SIGHUP: %v", d.State())
	default:
	}
}

// key is an ssh-keygen key pair.
type key struct {
	priv    string // file of the private key
	privPEM []byte
	pub     string // authorized_keys line
}

// sshKeygen makes an Ed25519 key with OpenSSH's ssh-keygen.
func sshKeygen(t *testing.T) key {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Fatal("ssh-keygen is missing (Debian package openssh-client, test/install-deps.sh)")
	}
	file := filepath.Join(t.TempDir(), "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	priv, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(file + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return key{priv: file, privPEM: priv, pub: strings.TrimSpace(string(pub))}
}

// opensshHello runs OpenSSH's client with the key on the netconf
// subsystem and returns what secgwd sent until its hello ended.
func opensshHello(t *testing.T, d *secgwdtest.Daemon, user, keyFile string) string {
	t.Helper()
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Fatal("ssh is missing (Debian package openssh-client, test/install-deps.sh)")
	}
	cmd := exec.Command("ssh", "-i", keyFile, "-p", d.Port, "-l", user,
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "PasswordAuthentication=no", "-o", "ConnectTimeout=10",
		"-s", d.Host, "netconf")
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
	// Closing stdin ends the session once the hello is read.
	cmd.Stdin = strings.NewReader("")
	out, err := runTimeout(cmd, 15*time.Second)
	if err != nil && !strings.Contains(out, "]]>]]>") {
		t.Fatalf("ssh -i: %v\n%s", err, out)
	}
	return out
}

// runTimeout runs cmd, killing it after d; it returns its combined output.
func runTimeout(cmd *exec.Cmd, d time.Duration) (string, error) {
	var buf strings.Builder
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return buf.String(), err
	case <-time.After(d):
		_ = cmd.Process.Kill()
		<-done
		return buf.String(), errors.New("timed out")
	}
}

// TestSIGHUPRoleChange: a session keeps the role it logged in with, so
// a reload that changes a user's role ends that user's sessions (a
// demoted admin must not keep admin rights); the user logs in again with
// the new role. Sessions of unchanged users go on.
func TestSIGHUPRoleChange(t *testing.T) {
	dir := secgwdtest.NewDataDir(t)
	d := secgwdtest.Start(t, filepath.Join(bin, "secgwd"), dir)
	admin := netconf.User{Name: secgwdtest.AdminUser, Role: netconf.RoleAdmin, Password: secgwdtest.Hash(t, secgwdtest.AdminPassword)}
	boss := netconf.User{Name: "boss", Role: netconf.RoleAdmin, Password: secgwdtest.Hash(t, "boss-secret-1")}
	writeUsers(t, dir, admin, boss)
	if err := d.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, d, `msg="users file reloaded"`)
	adminSess := secgwdtest.MustDial(t, d.Addr, secgwdtest.AdminUser, secgwdtest.AdminPassword)
	bossSess := secgwdtest.MustDial(t, d.Addr, "boss", "boss-secret-1")
	edit := `<edit-config><target><candidate/></target><config><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name></vrf></config></edit-config>`
	secgwdtest.MustRPC(t, bossSess, edit)

	boss.Role = netconf.RoleReadOnly
	writeUsers(t, dir, admin, boss)
	if err := d.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, d, `user=boss role=admin`)
	if _, err := secgwdtest.RPC(bossSess, edit); err == nil {
		t.Error("the demoted user's admin session still edits after SIGHUP")
	}
	secgwdtest.MustRPC(t, adminSess, edit) // unchanged: goes on
	again := secgwdtest.MustDial(t, d.Addr, "boss", "boss-secret-1")
	if _, err := secgwdtest.RPC(again, edit); err == nil || !strings.Contains(err.Error(), "may not run edit-config") {
		t.Errorf("the demoted user's new session: %v, want refused as read-only", err)
	}
}
