package access

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"secgw/internal/netconf"
	"secgw/test/secgwdtest"
)

// aaaEdit is an edit-config of the candidate with /aaa content.
func aaaEdit(users string) string {
	return `<edit-config><target><candidate/></target><config><aaa xmlns="urn:secgw:yang:secgw-aaa">` + users + `</aaa></config></edit-config>`
}

// aaaUser is one /aaa/user entry.
func aaaUser(name, role, extra string) string {
	return `<user><name>` + name + `</name><role>` + role + `</role>` + extra + `</user>`
}

// waitGone waits until s no longer answers (its session was ended).
func waitGone(t *testing.T, s secgwdtest.Execer, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := secgwdtest.RPC(s, `<get-config><source><running/></source></get-config>`); err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still answers", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestModelUsers: accounts committed under /aaa replace the users file's
// at once. The password leaf is hashed in the edit: no datastore and no
// reply ever holds it, the admin reads only its bcrypt hash and a
// read-only user not even that. The file's users' sessions end (the
// committing one after its reply); a role change and a removal end the
// user's sessions; a commit that leaves no admin able to log in is
// refused, as is removing every account.
func TestModelUsers(t *testing.T) {
	dir := secgwdtest.NewDataDir(t)
	d := secgwdtest.Start(t, filepath.Join(bin, "secgwd"), dir, "-log-level", "4")
	fileAdmin := secgwdtest.MustDial(t, d.Addr, secgwdtest.AdminUser, secgwdtest.AdminPassword)
	const alicePW, bobPW = "alice-Secret-1", "bob-Secret-1"

	// No admin left able to log in: refused, nothing changes.
	secgwdtest.MustRPC(t, fileAdmin, aaaEdit(aaaUser("bob", "read-only", "<password>"+bobPW+"</password>")+aaaUser("carol", "admin", "")))
	if _, err := secgwdtest.RPC(fileAdmin, `<commit/>`); err == nil || !strings.Contains(err.Error(), "no admin able to log in") {
		t.Fatalf("commit without a usable admin: %v, want refused", err)
	}
	secgwdtest.MustRPC(t, fileAdmin, `<discard-changes/>`)
	if _, err := secgwdtest.Dial(d.Addr, "bob", bobPW); err == nil {
		t.Fatal("bob logs in after a refused commit")
	}

	// A short password is refused in the edit itself.
	if _, err := secgwdtest.RPC(fileAdmin, aaaEdit(aaaUser("alice", "admin", "<password>short</password>"))); err == nil || !strings.Contains(err.Error(), "shorter than 8") {
		t.Errorf("short password: %v", err)
	}

	secgwdtest.MustRPC(t, fileAdmin, aaaEdit(aaaUser("alice", "admin", "<password>"+alicePW+"</password>")+aaaUser("bob", "read-only", "<password>"+bobPW+"</password>")))
	cand := secgwdtest.MustRPC(t, fileAdmin, `<get-config><source><candidate/></source><filter type="subtree"><aaa xmlns="urn:secgw:yang:secgw-aaa"/></filter></get-config>`)
	if strings.Contains(cand, alicePW) || strings.Contains(cand, "<password>") || !regexp.MustCompile(`<password-hash>\$2a\$10\$[./A-Za-z0-9]{53}</password-hash>`).MatchString(cand) {
		t.Errorf("the candidate holds the password, or no hash:\n%s", cand)
	}
	secgwdtest.MustRPC(t, fileAdmin, `<commit/>`)
	// The file's users are no longer accounts: the committing session
	// got its reply, then ended.
	waitGone(t, fileAdmin, "the users file admin's session")
	if _, err := secgwdtest.Dial(d.Addr, secgwdtest.AdminUser, secgwdtest.AdminPassword); err == nil {
		t.Error("the users file's admin still logs in once /aaa has accounts")
	}
	alice := secgwdtest.MustDial(t, d.Addr, "alice", alicePW)
	bob := secgwdtest.MustDial(t, d.Addr, "bob", bobPW)
	if _, err := secgwdtest.RPC(bob, aaaEdit(aaaUser("bob", "admin", ""))); err == nil {
		t.Error("read-only bob edits")
	}
	got := secgwdtest.MustRPC(t, bob, `<get-config><source><running/></source></get-config>`)
	if !strings.Contains(got, "<name>alice</name>") || strings.Contains(got, "password-hash") {
		t.Errorf("read-only get-config: want the users without their hashes:\n%s", got)
	}
	got = secgwdtest.MustRPC(t, alice, `<get-config><source><running/></source></get-config>`)
	if !strings.Contains(got, "<password-hash>$2a$10$") || strings.Contains(got, alicePW) || strings.Contains(got, bobPW) {
		t.Errorf("admin get-config: want the hashes, never a password:\n%s", got)
	}

	// bob becomes admin: his read-only session ends, he logs in again
	// as admin; alice's session goes on.
	secgwdtest.MustRPC(t, alice, aaaEdit(aaaUser("bob", "admin", "")))
	secgwdtest.MustRPC(t, alice, `<commit/>`)
	waitGone(t, bob, "bob's read-only session")
	bob = secgwdtest.MustDial(t, d.Addr, "bob", bobPW)
	secgwdtest.MustRPC(t, bob, aaaEdit(aaaUser("bob", "admin", "")))
	secgwdtest.MustRPC(t, bob, `<discard-changes/>`)

	// Removing every account: refused. Removing bob: his session ends.
	secgwdtest.MustRPC(t, alice, `<edit-config><target><candidate/></target><config><aaa xmlns="urn:secgw:yang:secgw-aaa" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="delete"/></config></edit-config>`)
	if _, err := secgwdtest.RPC(alice, `<commit/>`); err == nil || !strings.Contains(err.Error(), "removes every account") {
		t.Errorf("removing every account: %v, want refused", err)
	}
	secgwdtest.MustRPC(t, alice, `<discard-changes/>`)
	secgwdtest.MustRPC(t, alice, `<edit-config><target><candidate/></target><config><aaa xmlns="urn:secgw:yang:secgw-aaa" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"><user nc:operation="delete"><name>bob</name></user></aaa></config></edit-config>`)
	secgwdtest.MustRPC(t, alice, `<commit/>`)
	waitGone(t, bob, "removed bob's session")
	secgwdtest.MustRPC(t, alice, `<get-config><source><running/></source></get-config>`)

	// set-password is for the users file only now.
	if _, err := secgwdtest.RPC(alice, setPassword("alice", "another-pass-1")); err == nil || !strings.Contains(err.Error(), "in the configuration") {
		t.Errorf("set-password with /aaa accounts: %v", err)
	}
	for _, pw := range []string{alicePW, bobPW} {
		if strings.Contains(d.Logs(), pw) {
			t.Errorf("the level-4 log holds password %q", pw)
		}
	}
	// The accounts survive a restart (they are running).
	d.Stop(t)
	d = secgwdtest.Start(t, filepath.Join(bin, "secgwd"), dir)
	secgwdtest.MustDial(t, d.Addr, "alice", alicePW)
	if _, err := secgwdtest.Dial(d.Addr, secgwdtest.AdminUser, secgwdtest.AdminPassword); err == nil {
		t.Error("after a restart the users file's admin logs in again")
	}
	// Without a users file, a start creates no admin: /aaa has one.
	d.Stop(t)
	if err := os.Remove(filepath.Join(dir, "users.json")); err != nil {
		t.Fatal(err)
	}
	d = secgwdtest.Start(t, filepath.Join(bin, "secgwd"), dir)
	if _, err := os.Stat(filepath.Join(dir, "users.json")); !os.IsNotExist(err) || d.Password != "" {
		t.Errorf("a start with /aaa accounts created a users file (%v) or a password (%q)", err, d.Password)
	}
	secgwdtest.MustDial(t, d.Addr, "alice", alicePW)
}

// TestModelUsersHashAndKey: an account given as a bcrypt hash (as
// htpasswd or another gateway made it) and an ssh-keygen key: the hash
// logs in with its password, the key through OpenSSH's client and
// through secgw -i; a key that does not parse refuses the commit.
func TestModelUsersHashAndKey(t *testing.T) {
	dir := secgwdtest.NewDataDir(t)
	d := secgwdtest.Start(t, filepath.Join(bin, "secgwd"), dir)
	admin := secgwdtest.MustDial(t, d.Addr, secgwdtest.AdminUser, secgwdtest.AdminPassword)
	k := sshKeygen(t)
	hash := secgwdtest.Hash(t, "hashed-elsewhere-1")
	secgwdtest.MustRPC(t, admin, aaaEdit(aaaUser("ops", "admin", "<authorized-key>ssh-ed25519 notakey</authorized-key>")))
	if _, err := secgwdtest.RPC(admin, `<commit/>`); err == nil || !strings.Contains(err.Error(), "authorized key") {
		t.Errorf("a bad key: %v, want the commit refused", err)
	}
	secgwdtest.MustRPC(t, admin, `<discard-changes/>`)
	secgwdtest.MustRPC(t, admin, aaaEdit(aaaUser("ops", "admin", "<authorized-key>"+k.pub+"</authorized-key>")+
		aaaUser("audit", "read-only", "<password-hash>"+hash+"</password-hash>")))
	secgwdtest.MustRPC(t, admin, `<commit/>`)

	secgwdtest.MustDial(t, d.Addr, "audit", "hashed-elsewhere-1")
	signer, err := ssh.ParsePrivateKey(k.privPEM)
	if err != nil {
		t.Fatal(err)
	}
	s, err := secgwdtest.DialAuth(d.Addr, "ops", ssh.PublicKeys(signer))
	if err != nil {
		t.Fatalf("ops with its key: %v", err)
	}
	s.Close()
	if hello := opensshHello(t, d, "ops", k.priv); !strings.Contains(hello, "urn:ietf:params:netconf:base:1.1") {
		t.Errorf("ssh -i KEY: no hello: %q", hello)
	}
	if code, out := cliRun(t, nil, "-host", d.Host, "-port", d.Port, "-user", "ops", "-i", k.priv, "show", "config"); code != 0 {
		t.Errorf("secgw -i as ops: exit %d\n%s", code, out)
	}
}

// TestMigrateUsers: migrate-users puts the users file's accounts into
// the candidate (hashes and keys as they are); once committed they are
// the accounts: the same passwords and keys log in, open sessions of
// unchanged users go on, and the file no longer matters (a SIGHUP after
// emptying it changes nothing).
func TestMigrateUsers(t *testing.T) {
	dir := secgwdtest.NewDataDir(t)
	k := sshKeygen(t)
	writeUsers(t, dir,
		netconf.User{Name: secgwdtest.AdminUser, Role: netconf.RoleAdmin, Password: secgwdtest.Hash(t, secgwdtest.AdminPassword)},
		netconf.User{Name: secgwdtest.ReaderUser, Role: netconf.RoleReadOnly, Password: secgwdtest.Hash(t, secgwdtest.ReaderPassword), Keys: []string{k.pub}})
	d := secgwdtest.Start(t, filepath.Join(bin, "secgwd"), dir)
	admin := secgwdtest.MustDial(t, d.Addr, secgwdtest.AdminUser, secgwdtest.AdminPassword)
	reader := secgwdtest.MustDial(t, d.Addr, secgwdtest.ReaderUser, secgwdtest.ReaderPassword)
	if _, err := secgwdtest.RPC(reader, `<migrate-users xmlns="urn:secgw:yang:secgw-aaa"/>`); err == nil {
		t.Error("a read-only user ran migrate-users")
	}
	secgwdtest.MustRPC(t, admin, `<migrate-users xmlns="urn:secgw:yang:secgw-aaa"/>`)
	cand := secgwdtest.MustRPC(t, admin, `<get-config><source><candidate/></source><filter type="subtree"><aaa xmlns="urn:secgw:yang:secgw-aaa"/></filter></get-config>`)
	for _, want := range []string{"<name>admin</name>", "<role>admin</role>", "<name>reader</name>", "<role>read-only</role>",
		"<authorized-key>" + k.pub + "</authorized-key>", "<password-hash>$2a$04$"} {
		if !strings.Contains(cand, want) {
			t.Errorf("the candidate after migrate-users lacks %s:\n%s", want, cand)
		}
	}
	secgwdtest.MustRPC(t, admin, `<commit/>`)
	time.Sleep(200 * time.Millisecond) // the stale-session sweep runs after the commit
	secgwdtest.MustRPC(t, admin, `<get-config><source><running/></source></get-config>`)
	secgwdtest.MustRPC(t, reader, `<get-config><source><running/></source></get-config>`)

	writeUsers(t, dir) // an empty file: ignored now
	if err := d.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, d, `msg="users file reloaded"`)
	secgwdtest.MustDial(t, d.Addr, secgwdtest.ReaderUser, secgwdtest.ReaderPassword)
	signer, err := ssh.ParsePrivateKey(k.privPEM)
	if err != nil {
		t.Fatal(err)
	}
	s, err := secgwdtest.DialAuth(d.Addr, secgwdtest.ReaderUser, ssh.PublicKeys(signer))
	if err != nil {
		t.Fatalf("the migrated key: %v", err)
	}
	s.Close()
}

// TestModelUsersCLI: the CLI's configuration mode sets an account like
// any node (the password hashed by secgwd), and show config prints the
// account with its hash to an admin, without it to a read-only user. The
// operator keeps an account of its own name and role in /aaa, so that
// its session goes on after the commit (a commit that drops the
// committer's own account ends its session after the reply).
func TestModelUsersCLI(t *testing.T) {
	dir := secgwdtest.NewDataDir(t)
	d := secgwdtest.Start(t, filepath.Join(bin, "secgwd"), dir)
	script := filepath.Join(t.TempDir(), "lines")
	lines := "edit running\n/ aaa user admin role admin password " + secgwdtest.AdminPassword + "\n" +
		"/ aaa user root role admin password root-Secret-1\n/ aaa user dave role read-only password dave-Secret-1\ncommit\nshow config / aaa\n"
	if err := os.WriteFile(script, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	conn := []string{"-host", d.Host, "-port", d.Port}
	if code, out := cliRun(t, []string{"SECGW_PASSWORD=" + secgwdtest.AdminPassword}, append(conn, "-f", script)...); code != 0 || strings.Contains(out, "Secret-1") {
		t.Fatalf("secgw -f: exit %d (or a password shown)\n%s", code, out)
	}
	code, out := cliRun(t, []string{"SECGW_PASSWORD=root-Secret-1"}, append(conn, "-user", "root", "show", "config", "/", "aaa")...)
	if code != 0 || !strings.Contains(out, "user dave") || !strings.Contains(out, "$2a$10$") || strings.Contains(out, "Secret-1") {
		t.Errorf("admin show config / aaa: exit %d\n%s", code, out)
	}
	code, out = cliRun(t, []string{"SECGW_PASSWORD=dave-Secret-1"}, append(conn, "-user", "dave", "show", "config", "/", "aaa")...)
	if code != 0 || !strings.Contains(out, "user root") || strings.Contains(out, "$2a$") {
		t.Errorf("read-only show config / aaa: exit %d\n%s", code, out)
	}
}
