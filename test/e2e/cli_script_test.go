package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCliScriptStopsAtFirstBadLine: a script, from -f or standard input,
// stops at its first bad line, which it names, and exits 1: a line the
// CLI refuses stops it before any line ran (a commit before it
// included); a line secgwd refuses stops it there, and the lines after
// it do not run. Configuration mode's locks do not outlive it; a good
// script exits 0. Values are checked as typed, with the model's range or
// choices, and the path in the CLI's syntax.
func TestCliScriptStopsAtFirstBadLine(t *testing.T) {
	t.Parallel()
	d := startCLIDaemon(t)
	script := "edit running\n" +
		"/ vrf main ike global-options threads 12\n" +
		"commit\n" +
		"/ vrf main ike global-options retransmit-tries 101\n" +
		"commit\n"
	file := filepath.Join(t.TempDir(), "bad.cli")
	if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, how := range []string{"-f", "stdin"} {
		var r cliResult
		if how == "-f" {
			r = runCLI(t, d, adminUser, adminPassword, "", "-f", file)
		} else {
			r = runCLI(t, d, adminUser, adminPassword, script)
		}
		if r.code != 1 || r.errOut != "line 4: Error: / vrf main ike global-options retransmit-tries: bad value \"101\": out of range 0..100\n"+
			"secgw: stopped at line 4 before running any line: nothing was changed\n" {
			t.Errorf("%s: %s", how, r)
		}
		if got := runningThreads(t, d); got != "" {
			t.Fatalf("%s: the script committed: %q", how, got)
		}
	}
	// Nothing is left locked or in the candidate.
	r := runCLI(t, d, aliceUser, alicePassword, "edit running\nshow config diff\nexit\n")
	if r.code != 0 || r.out != "No uncommitted changes.\n" {
		t.Fatalf("after the failed scripts: %s", r)
	}
	// A commit secgwd refuses: the script stops there, what follows does
	// not run, and the uncommitted changes go.
	r = runCLI(t, d, adminUser, adminPassword, "edit running\n/ vrf main ike global-options threads 12\n"+
		"/ vrf main ike vpn hq ike-policy template nope\ncommit\nshow config diff\n")
	if r.code != 1 || !strings.HasPrefix(r.errOut, "line 4: Error: / vrf main ike vpn hq ike-policy template: ") ||
		!strings.Contains(r.errOut, "secgw: stopped at line 4: the lines after it did not run") || !strings.Contains(r.errOut, "the uncommitted changes were discarded") || r.out != "" {
		t.Errorf("a commit secgwd refuses: %s", r)
	}
	if got := runningThreads(t, d); got != "" {
		t.Fatalf("the refused script committed: %q", got)
	}
	// Without the bad line the script commits and exits 0.
	good := strings.Replace(script, "retransmit-tries 101", "retransmit-tries 10", 1)
	if r := runCLI(t, d, adminUser, adminPassword, good); r.code != 0 || r.errOut != "" {
		t.Fatalf("good script: %s", r)
	}
	if got := runningThreads(t, d); got != "threads 12\n" {
		t.Fatalf("running after the good script: %q", got)
	}

	// Values checked when typed name the path as typed and what the
	// model accepts.
	for _, c := range []struct{ line, want string }{
		{"/ vrf main ike vpn v local-address 300.1.1.1",
			`line 2: Error: / vrf main ike vpn v local-address: bad value "300.1.1.1": expected ipv4-address|ipv6-address`},
		{"/ vrf main ike vpn v security-policy p local-ts subnet 10.0.0.0/33",
			`line 2: Error: / vrf main ike vpn v security-policy p local-ts subnet: bad value "10.0.0.0/33": expected ipv4-prefix|ipv6-prefix`},
		{"/ vrf main ike ipsec-policy-template t esp-proposal 1 enc-alg aes999",
			`line 2: Error: / vrf main ike ipsec-policy-template t esp-proposal 1 enc-alg: bad value "aes999": "aes999" is not one of aes128-cbc, `},
		{"/ vrf main ike global-options threads 0",
			`line 2: Error: / vrf main ike global-options threads: bad value "0": out of range 1..4294967295`},
	} {
		r := runCLI(t, d, adminUser, adminPassword, "edit running\n"+c.line+"\ncommit\n")
		if r.code != 1 || !strings.HasPrefix(r.errOut, c.want) {
			t.Errorf("%s: %s\nwant stderr starting with %q", c.line, r, c.want)
		}
	}
}

// TestCliInitiateExitStatus: the one-shot 'secgw cmd ike initiate ...'
// exits 0 when the SA comes up, and 1, saying why, when it does not
// (here the peers' pre-shared keys differ: authentication fails).
func TestCliInitiateExitStatus(t *testing.T) {
	t.Parallel()
	a, b := startIKEPeers(t, "17980")
	sb := mustDial(t, b.Addr, adminUser, adminPassword)
	mustRPC(t, sb, `<edit-config><target><candidate/></target>`+ikeConfig(
		vpnElem("cli-test-secret", "from-a", "b-net", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16")+
			vpnElem("the-right-key", "from-a2", "b-net2", "127.0.0.2", "", "b.example", "a2.example", "10.4.0.0/16", "10.3.0.0/16"))+`</edit-config>`)
	mustRPC(t, sb, `<commit/>`)
	sa := mustDial(t, a.Addr, adminUser, adminPassword)
	mustRPC(t, sa, `<edit-config><target><candidate/></target>`+ikeConfig(
		vpnElem("cli-test-secret", "to-b", "a-net", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")+
			vpnElem("a-wrong-key", "to-b2", "a-net2", "127.0.0.1", "127.0.0.2", "a2.example", "b.example", "10.3.0.0/16", "10.4.0.0/16"))+`</edit-config>`)
	mustRPC(t, sa, `<commit/>`)

	r := runCLI(t, a, adminUser, adminPassword, "", "cmd", "ike", "initiate", "child-sa", "security-policy", "a-net")
	if r.code != 0 || !strings.Contains(r.out, "established") {
		t.Errorf("initiate of a good tunnel: %s", r)
	}
	r = runCLI(t, a, adminUser, adminPassword, "", "cmd", "ike", "initiate", "child-sa", "security-policy", "a-net2")
	if r.code != 1 || !strings.HasPrefix(r.errOut, "Error: cmd ike initiate failed: establishing IKE_SA to-b2[") ||
		!strings.Contains(r.errOut, "AUTHENTICATION_FAILED") || !strings.Contains(r.out, "establishing CHILD_SA a-net2\n") {
		t.Errorf("initiate with a wrong key: %s", r)
	}
}
