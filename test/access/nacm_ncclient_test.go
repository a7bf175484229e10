package access

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"secgw/test/secgwdtest"
)

// python3 is Debian's interpreter, which has python3-ncclient; another
// python3 may come first on PATH.
const python3 = "/usr/bin/python3"

// minNACMChecks is fewer than the checks testdata/nacm_ncclient.py makes
// (44): a run that stops early fails even without a FAIL line.
const minNACMChecks = 43

// TestNACMNcclient runs testdata/nacm_ncclient.py through Debian's
// ncclient against secgwd, with the admin root and the read-only alice
// in /aaa: rule paths that do not parse or name no node refused at
// validate and commit with invalid-value at the rule's path leaf, rules
// locking the last admin out refused, then one rule of each type for
// alice's group (data-node rules with key predicates and without,
// operation rules) and what she reads (get and get-config with subtree
// and xpath filters that must not reveal what the rules deny), writes
// (access-denied with the error-path) and runs; then the rules' order:
// a rule inserted first decides, moved after another with the insert
// attribute it no longer does, and an insert next to a missing rule is
// missing-attribute; then the module as standard tooling sees it: the
// hello and get-schema list ietf-netconf-acm, and an RFC 8341 Appendix
// A.2-style configuration (groups, a rule-list with a data-node rule)
// written in its namespace is enforced.
func TestNACMNcclient(t *testing.T) {
	if _, err := os.Stat(python3); err != nil {
		t.Fatal("/usr/bin/python3 missing: apt-get install python3-ncclient")
	}
	if out, err := exec.Command(python3, "-c", "import ncclient").CombinedOutput(); err != nil {
		t.Fatalf("ncclient missing (%v: %s): apt-get install python3-ncclient", err, out)
	}
	dir := secgwdtest.NewDataDir(t)
	d := secgwdtest.Start(t, filepath.Join(bin, "secgwd"), dir)
	fileAdmin := secgwdtest.MustDial(t, d.Addr, secgwdtest.AdminUser, secgwdtest.AdminPassword)
	const rootPW, alicePW = "root-Secret-1", "alice-Secret-1"
	secgwdtest.MustRPC(t, fileAdmin, aaaEdit(aaaUser("root", "admin", "<password>"+rootPW+"</password>")+
		aaaUser("alice", "read-only", "<password>"+alicePW+"</password>")))
	secgwdtest.MustRPC(t, fileAdmin, `<commit/>`)
	waitGone(t, fileAdmin, "the users file admin's session")

	host, port, err := net.SplitHostPort(d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python3, filepath.Join("testdata", "nacm_ncclient.py"), "--host", host, "--port", port,
		"--admin", "root", "--admin-password="+rootPW, "--user", "alice", "--user-password="+alicePW)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	b, err := cmd.CombinedOutput()
	out := string(b)
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "FAIL ") {
			t.Error(strings.TrimPrefix(l, "FAIL "))
		}
	}
	if n := strings.Count(out, "\nPASS ") + boolInt(strings.HasPrefix(out, "PASS ")); n < minNACMChecks {
		t.Errorf("only %d checks passed, want at least %d; the script stopped early?", n, minNACMChecks)
	}
	if err != nil && !t.Failed() {
		t.Errorf("nacm_ncclient.py: %v", err)
	}
	if t.Failed() {
		t.Logf("nacm_ncclient.py output:\n%s\nsecgwd log:\n%s", out, d.Logs())
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
