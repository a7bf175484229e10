package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestYangcli drives secgwd with yuma123's yangcli (Debian package
// yangcli), a client that knows nothing of secgw: it learns the modules
// from the yang-library:1.0 capability of the hello (RFC 7950 §5.6.4),
// reads /modules-state, downloads every module and submodule with
// get-schema and parses them, then edits the candidate by paths and
// commits. The VPN names its template before the template exists, in
// separate edit-configs: on the candidate the reference is checked at
// commit (RFC 7950 §8.3.3). Without the capability yangcli loaded the
// modules from the hello alone and could not find secgw-ike's submodules;
// the yang-library capability and yangcli as a client.
func TestYangcli(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("yangcli")
	if err != nil {
		t.Fatal("yangcli missing: apt-get install yangcli (test/install-deps.sh)")
	}
	d := startDaemon(t, newDataDir(t))
	home := t.TempDir()
	script := filepath.Join(home, "edit.yc")
	lines := []string{
		`create /vrf[name='main']/ike/vpn[name='y1']/remote-address value=198.51.100.7`,
		`merge /vrf[name='main']/ike/vpn[name='y1']/ike-policy/template value=t1`,
		`create /vrf[name='main']/ike/ike-policy-template[name='t1']`,
		`merge /vrf[name='main']/ike/global-options/threads value=6`,
		`commit`,
		`sget-config /vrf source=running`,
	}
	if err := os.WriteFile(script, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--home="+home, "--server="+d.Host, "--ncport="+d.Port,
		"--user="+adminUser, "--password="+adminPassword, "--batch-mode", "--run-script="+script,
		"--log-level=info", "--autohistory=false", "--autoaliases=false", "--autouservars=false", "--timeout=20")
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Dir = home
	done := make(chan struct{})
	var out []byte
	go func() {
		defer close(done)
		out, err = cmd.CombinedOutput()
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("yangcli did not finish within 2 minutes:\n%s", out)
	}
	text := string(out)
	if err != nil {
		t.Errorf("yangcli: %v", err)
	}
	// It took the module set from the yang library, with the id the
	// hello announced, and loaded every module: a module or submodule
	// it cannot parse is reported as an error, and an edit path it
	// cannot resolve falls back to anyxml with a warning.
	for _, want := range []string{"yang-library:1.0", "Getting yang-library module set", "Current module-set-id: "} {
		if !strings.Contains(text, want) {
			t.Errorf("yangcli output lacks %q", want)
		}
	}
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^Error`), regexp.MustCompile(`error\(\d+\)`),
		regexp.MustCompile(`no module parsed`), regexp.MustCompile(`has no child node`),
		regexp.MustCompile(`RPC Error Reply`),
	} {
		if m := bad.FindString(text); m != "" {
			t.Errorf("yangcli output has %q", m)
		}
	}
	if n := strings.Count(text, "RPC OK Reply"); n != 5 {
		t.Errorf("yangcli got %d ok replies, want 5 (four edits and the commit)", n)
	}
	for _, want := range []string{"vpn y1 {", "template t1", "remote-address 198.51.100.7", "threads 6"} {
		if !strings.Contains(text, want) {
			t.Errorf("yangcli's get-config of running lacks %q", want)
		}
	}
	// The server's view agrees.
	s := mustDial(t, d.Addr, adminUser, adminPassword)
	run := mustRPC(t, s, `<get-config><source><running/></source></get-config>`)
	for _, want := range []string{"<name>y1</name>", "<template>t1</template>", "<threads>6</threads>"} {
		if !strings.Contains(run, want) {
			t.Errorf("running lacks %s: %s", want, run)
		}
	}
	if t.Failed() {
		t.Logf("yangcli output:\n%s\nsecgwd log:\n%s", text, d.Logs())
	}
}
