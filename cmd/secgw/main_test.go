package main

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"secgw/internal/datastore"
	"secgw/internal/netconf"
	"secgw/internal/schema"
	"secgw/internal/validate"
)

// startServer runs secgw's NETCONF server on loopback with user admin
// (password "pw-admin"), as internal/netconf's tests build it.
func startServer(t *testing.T) (host, port string) {
	t.Helper()
	dir := t.TempDir()
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	v, err := validate.New(s)
	if err != nil {
		t.Fatal(err)
	}
	st, err := datastore.Open(datastore.Options{Dir: filepath.Join(dir, "config"), Schema: s, Validator: v})
	if err != nil {
		t.Fatal(err)
	}
	h, err := bcrypt.GenerateFromPassword([]byte("pw-admin"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users, err := netconf.ParseUsers([]byte(`{"users": [{"name": "admin", "role": "admin", "password": "` + string(h) + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := netconf.New(netconf.Config{Dir: dir, Store: st, Schema: s, Validator: v, Users: users,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); st.Close() })
	host, port, _ = net.SplitHostPort(ln.Addr().String())
	return host, port
}

// secgw runs the command with stdin holding input; the password comes
// from the environment.
func secgw(t *testing.T, input string, env map[string]string, args ...string) (code int, out, errOut string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(input)
	f.Seek(0, 0)
	defer f.Close()
	var o, e bytes.Buffer
	code = run(append([]string{"-history", ""}, args...), f, &o, &e, func(k string) string { return env[k] })
	return code, o.String(), e.String()
}

func TestOneShot(t *testing.T) {
	host, port := startServer(t)
	env := map[string]string{"SECGW_HOST": host, "SECGW_PORT": port, "SECGW_PASSWORD": "pw-admin"}
	code, out, errOut := secgw(t, "", env, "show", "config", "/", "vrf", "main", "ike", "logging")
	want := "logging\n    daemon\n        default 0\n        ..\n    authpriv\n        default disable\n        ..\n    ..\n"
	if code != 0 || out != want {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// A command the server cannot run yet: exit 1, and the message says so.
	code, _, errOut = secgw(t, "", env, "cmd", "ike", "initiate", "ike-sa", "vpn", "hq")
	if code != 1 || !strings.HasPrefix(errOut, "Error: not supported yet: cmd ike initiate: ") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	// Flags win over the environment.
	code, _, errOut = secgw(t, "", env, "-password", "wrong", "show", "config")
	if code != 2 || !strings.Contains(errOut, "unable to authenticate") {
		t.Errorf("bad password: exit %d, stderr %q", code, errOut)
	}
}

func TestScriptFromStdin(t *testing.T) {
	host, port := startServer(t)
	env := map[string]string{"SECGW_PASSWORD": "pw-admin"}
	script := `edit running
/ vrf main ike global-options threads 20
commit
exit
show config nodefault / vrf main ike global-options
/ not a command
`
	// The bad last line stops the script before any line ran.
	code, out, errOut := secgw(t, script, env, "-host", host, "-port", port)
	if code != 1 || out != "" || errOut != "line 6: Error: unknown command \"/\": expected one of show, cmd, flush, debug, no, monitor, edit, discard, exit\n"+
		"secgw: stopped at line 6 before running any line: nothing was changed\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	script = strings.TrimSuffix(script, "/ not a command\n")
	code, out, errOut = secgw(t, script, env, "-host", host, "-port", port)
	if code != 0 || out != "global-options\n    threads 20\n    ..\n" || errOut != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// -f reads the script from a file.
	file := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(file, []byte("show config nodefault / vrf main ike global-options\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = secgw(t, "", env, "-host", host, "-port", port, "-f", file)
	if code != 0 || out != "global-options\n    threads 20\n    ..\n" {
		t.Errorf("-f: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestEndDiscards leaves configuration mode at the end of the input with
// uncommitted changes: they are discarded (the candidate is shared) and
// the operator told so.
func TestEndDiscards(t *testing.T) {
	host, port := startServer(t)
	env := map[string]string{"SECGW_HOST": host, "SECGW_PORT": port, "SECGW_PASSWORD": "pw-admin"}
	code, _, errOut := secgw(t, "edit running\n/ vrf main ike global-options threads 20\n", env)
	if code != 0 || errOut != "secgw: the uncommitted changes were discarded\n" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	code, out, _ := secgw(t, "edit running\nshow config nodefault / vrf main ike global-options\n", env)
	if code != 0 || out != "" {
		t.Errorf("the candidate kept the changes: %q", out)
	}
}

func TestHelpHidesPassword(t *testing.T) {
	code, _, errOut := secgw(t, "", map[string]string{"SECGW_PASSWORD": "s3cr3t-pw"}, "-h")
	if code != 2 || strings.Contains(errOut, "s3cr3t-pw") || !strings.Contains(errOut, "SECGW_PASSWORD") {
		t.Errorf("exit %d, help %q", code, errOut)
	}
}

// TestPasswordFile: -password-file (or SECGW_PASSWORD_FILE) gives the
// password non-interactively, as keepalived's notify needs; flags still
// win over the environment, and an unreadable file fails without
// dialling.
func TestPasswordFile(t *testing.T) {
	host, port := startServer(t)
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	os.WriteFile(good, []byte("pw-admin\nignored second line\n"), 0o600)
	os.WriteFile(bad, []byte("wrong\n"), 0o600)
	env := map[string]string{"SECGW_HOST": host, "SECGW_PORT": port}
	show := []string{"show", "config", "nodefault", "/", "vrf", "main", "ike", "global-options"}
	if code, _, errOut := secgw(t, "", env, append([]string{"-password-file", good}, show...)...); code != 0 {
		t.Errorf("-password-file: exit %d, stderr %q", code, errOut)
	}
	env["SECGW_PASSWORD_FILE"] = good
	if code, _, errOut := secgw(t, "", env, show...); code != 0 {
		t.Errorf("SECGW_PASSWORD_FILE: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := secgw(t, "", env, append([]string{"-password-file", bad}, show...)...); code != 2 || !strings.Contains(errOut, "unable to authenticate") {
		t.Errorf("the flag's file did not win: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut := secgw(t, "", env, append([]string{"-password-file", filepath.Join(dir, "none")}, show...)...)
	if code != 2 || !strings.Contains(errOut, "password file") {
		t.Errorf("missing file: exit %d, stderr %q", code, errOut)
	}
}

// TestHelpListsEveryMode: 'secgw --help' shows every way to run secgw
// that the command's documentation (the synopsis lines of this
// package's doc comment) names, so that a mode added there and not to
// the help fails here.
func TestHelpListsEveryMode(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	code, _, help := secgw(t, "", nil, "--help")
	if code != 2 {
		t.Errorf("--help: exit %d, want 2", code)
	}
	// The synopsis is the doc comment's first indented block.
	doc := string(src)
	doc = doc[strings.Index(doc, "\n//\tsecgw"):]
	doc = doc[:strings.Index(doc[1:], "\n//\n")+1]
	synopsis := regexp.MustCompile(`(?m)^//\tsecgw( \[flags\])?( (\S+))?`)
	modes := synopsis.FindAllStringSubmatch(doc, -1)
	if len(modes) < 6 {
		t.Fatalf("%d synopsis lines in main.go's doc comment, want the 6 or more modes", len(modes))
	}
	for _, m := range modes {
		// The mode is its first word: "<" for the script on standard
		// input, "-f", "-version", "ha-notify", "COMMAND...", or none
		// for the shell.
		want := "secgw" + m[1] + m[2]
		if !strings.Contains(help, "  "+want+" ") && !strings.Contains(help, "  "+want+"\n") {
			t.Errorf("--help lacks the mode %q (%s):\n%s", want, strings.TrimSpace(m[0]), help)
		}
	}
}
