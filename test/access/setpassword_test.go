package access

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"secgw/test/secgwdtest"
)

// setPassword is secgw-aaa's set-password.
func setPassword(user, password string) string {
	return `<set-password xmlns="urn:secgw:yang:secgw-aaa"><user>` + user + `</user><password>` + password + `</password></set-password>`
}

// TestSetPassword: an admin sets an account's password over NETCONF;
// the users file then holds its bcrypt hash (never the password), the
// new password logs in and the old one no longer does, at once. A
// read-only user may not run it; an unknown user, a short or an
// over-long password are refused; the password is in no log line, at
// the most verbose level.
func TestSetPassword(t *testing.T) {
	dir := secgwdtest.NewDataDir(t)
	d := secgwdtest.Start(t, filepath.Join(bin, "secgwd"), dir, "-log-level", "4")
	admin := secgwdtest.MustDial(t, d.Addr, secgwdtest.AdminUser, secgwdtest.AdminPassword)
	const newPW = "brand-new-Passw0rd"

	reader := secgwdtest.MustDial(t, d.Addr, secgwdtest.ReaderUser, secgwdtest.ReaderPassword)
	if out, err := secgwdtest.RPC(reader, setPassword(secgwdtest.AdminUser, "reader-takes-over")); err == nil || !strings.Contains(err.Error(), "may not run set-password") {
		t.Errorf("read-only user ran set-password: %q, %v", out, err)
	}

	secgwdtest.MustRPC(t, admin, setPassword(secgwdtest.ReaderUser, newPW))
	b, err := os.ReadFile(filepath.Join(dir, "users.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), newPW) || !strings.Contains(string(b), `"$2a$10$`) {
		t.Errorf("users file after set-password holds the password or no bcrypt hash of the default cost:\n%s", b)
	}
	if fi, err := os.Stat(filepath.Join(dir, "users.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("users file mode %v, %v; want 0600", fi.Mode(), err)
	}
	if _, err := secgwdtest.Dial(d.Addr, secgwdtest.ReaderUser, secgwdtest.ReaderPassword); err == nil {
		t.Error("the old password still logs in")
	}
	secgwdtest.MustDial(t, d.Addr, secgwdtest.ReaderUser, newPW)
	// The session opened before goes on.
	secgwdtest.MustRPC(t, reader, `<get-config><source><running/></source></get-config>`)

	for _, bad := range []struct{ op, want string }{
		{setPassword("nobody", "long-enough-1"), `no user`},
		{setPassword(secgwdtest.ReaderUser, "short"), "shorter than 8"},
		{setPassword(secgwdtest.ReaderUser, strings.Repeat("é", 40)), "72 bytes"},
		{`<set-password xmlns="urn:secgw:yang:secgw-aaa"><user>reader</user></set-password>`, "password is missing"},
	} {
		if out, err := secgwdtest.RPC(admin, bad.op); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%.80s: %q, %v; want an error with %q", bad.op, out, err, bad.want)
		}
	}
	secgwdtest.MustDial(t, d.Addr, secgwdtest.ReaderUser, newPW)

	// The CLI: cmd aaa set-password, one RPC like any other.
	const cliPW = "set-by-the-CLI-1"
	code, out := cliRun(t, []string{"SECGW_PASSWORD=" + secgwdtest.AdminPassword}, "-host", d.Host, "-port", d.Port,
		"cmd", "aaa", "set-password", "user", secgwdtest.ReaderUser, "password", cliPW)
	if code != 0 {
		t.Fatalf("secgw cmd aaa set-password: exit %d\n%s", code, out)
	}
	secgwdtest.MustDial(t, d.Addr, secgwdtest.ReaderUser, cliPW)
	for _, secret := range []string{newPW, cliPW, "reader-takes-over", "long-enough-1"} {
		if strings.Contains(d.Logs(), secret) {
			t.Errorf("secgwd's level-4 log holds the password %q", secret)
		}
	}
	if !strings.Contains(d.Logs(), `msg="password set" subsystem=config user=reader by=admin`) {
		t.Errorf("no log line of the change:\n%s", d.Logs())
	}
}
