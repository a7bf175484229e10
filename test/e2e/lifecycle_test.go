package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"secgw/internal/ncclient"
	"secgw/internal/netconf"
)

// TestFirstStart follows a data directory through its life: the first
// start creates it (mode 0700), the users file (0600, a bcrypt hash) and
// the host key, and prints the admin password once; that password logs
// in; SIGTERM stops secgwd cleanly; the next start prints no password,
// keeps the host key and the committed configuration, and lets in a user
// with a public key from the users file, but not a wrong password.
func TestFirstStart(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "secgw")
	first := startDaemon(t, dir)
	if first.Password == "" {
		t.Fatalf("first start printed no admin password:\n%s", first.Logs())
	}
	for name, want := range map[string]os.FileMode{".": 0o700, "users.json": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", name, fi.Mode().Perm(), want)
		}
	}
	users, err := os.ReadFile(filepath.Join(dir, "users.json"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(users, []byte(first.Password)) || !bytes.Contains(users, []byte(`"$2`)) {
		t.Errorf("users file does not hold only a bcrypt hash of the password:\n%s", users)
	}
	s, key1 := dialCapturingHostKey(t, first.Addr, adminUser, ssh.Password(first.Password))
	mustRPC(t, s, `<edit-config><target><candidate/></target>`+ikeConfig(`<global-options><threads>9</threads></global-options>`)+`</edit-config>`)
	mustRPC(t, s, `<commit/>`)
	s.Close()
	first.Stop(t)

	// A user who logs in with an ed25519 key.
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	addUser(t, dir, netconf.User{Name: "keyed", Role: netconf.RoleReadOnly,
		Keys: []string{strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))}})

	second := startDaemon(t, dir)
	if second.Password != "" {
		t.Errorf("second start printed a password again:\n%s", second.Logs())
	}
	s, key2 := dialCapturingHostKey(t, second.Addr, adminUser, ssh.Password(first.Password))
	if !bytes.Equal(key1.Marshal(), key2.Marshal()) {
		t.Error("the host key changed across a restart")
	}
	if data := mustRPC(t, s, `<get-config><source><running/></source></get-config>`); !strings.Contains(data, "<threads>9</threads>") {
		t.Errorf("the committed configuration did not survive the restart: %s", data)
	}
	ks, _ := dialCapturingHostKey(t, second.Addr, "keyed", ssh.PublicKeys(signer))
	if _, err := rpc(ks, `<get-config><source><running/></source></get-config>`); err != nil {
		t.Errorf("public-key user: %v", err)
	}
	if s, err := dialNetconf(second.Addr, adminUser, "wrong-password"); err == nil {
		s.Close()
		t.Error("a wrong password logged in")
	}
	second.Stop(t)
}

// dialCapturingHostKey opens a NETCONF session and returns it with the
// server's host key.
func dialCapturingHostKey(t *testing.T, addr, user string, auth ssh.AuthMethod) (*ncclient.Session, ssh.PublicKey) {
	t.Helper()
	var key ssh.PublicKey
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{auth},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error { key = k; return nil }}
	s, err := ncclient.Dial(addr, cfg, rpcTimeout)
	if err != nil {
		t.Fatalf("dial %s as %s: %v", addr, user, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, key
}

// addUser appends an account to the users file of dir; secgwd reads it at
// start.
func addUser(t *testing.T, dir string, u netconf.User) {
	t.Helper()
	file := filepath.Join(dir, "users.json")
	var f struct {
		Users []netconf.User `json:"users"`
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	f.Users = append(f.Users, u)
	if b, err = json.MarshalIndent(f, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, append(b, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
}
