package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// recapRE matches the PLAY RECAP line of each playbook ansible-playbook
// runs: ok, changed, unreachable and failed tasks.
var recapRE = regexp.MustCompile(`(?m)^gw1\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

// TestAnsible runs the playbooks of examples/ansible, with their own
// inventory and ansible.cfg, against a live secgwd through Debian's
// Ansible (ansible.netcommon's netconf connection, which drives ncclient):
//
//  1. vpn-configure.yml adds VPN branch1 with netconf_config (lock,
//     edit-config of the candidate, commit, unlock), and vpn-show.yml
//     reads it back with netconf_get, reads the commit history, and
//     calls get-schema with netconf_rpc. A NETCONF session (internal/ncclient) then finds
//     the VPN in running, with the values the playbook was given, and the
//     commit in the history under user admin.
//  2. vpn-configure.yml again with the same values changes nothing
//     (netconf_config compares the configuration before and after), and
//     config-rollback.yml, netconf_rpc calling lock, the secgw-config
//     rollback RPC, commit and unlock, goes back to the commit made
//     before Ansible: the VPN is gone and the earlier setting is there.
func TestAnsible(t *testing.T) {
	t.Parallel()
	playbook, err := exec.LookPath("ansible-playbook")
	if err != nil {
		t.Fatal("ansible-playbook missing: apt-get install ansible")
	}
	d := startDaemon(t, newDataDir(t))
	s := mustDial(t, d.Addr, adminUser, adminPassword)
	mustRPC(t, s, `<edit-config><target><candidate/></target>`+ikeConfig(`<global-options><threads>4</threads></global-options>`)+`</edit-config>`)
	mustRPC(t, s, `<commit/>`)

	out := runPlaybooks(t, playbook, d, []string{"vpn-configure.yml", "vpn-show.yml"},
		"-e", "vpn_name=branch1", "-e", "remote_address=198.51.100.77")
	if changed := playChanges(out); len(changed) != 2 || changed[0] != 1 || changed[1] != 0 {
		t.Errorf("want two plays, the first changing the gateway; changed %v", changed)
	}
	if !strings.Contains(out, `vpn branch1 changed=True`) || !strings.Contains(out, "<name>branch1</name>") ||
		!strings.Contains(out, "All assertions passed") {
		t.Errorf("the playbooks' output lacks the VPN or the assertions")
	}
	running := mustRPC(t, s, `<get-config><source><running/></source></get-config>`)
	for _, want := range []string{"<name>branch1</name>", "<remote-address>198.51.100.77</remote-address>",
		"<remote-id>branch1.example.com</remote-id>", "<name>branch1-sp</name>", "<subnet>10.20.0.0/16</subnet>",
		"<threads>4</threads>"} {
		if !strings.Contains(running, want) {
			t.Errorf("after vpn-configure.yml, running lacks %s: %s", want, running)
		}
	}
	history := mustRPC(t, s, `<get><filter><config-history xmlns="urn:secgw:yang:secgw-config"/></filter></get>`)
	if !strings.Contains(history, "<id>2</id>") || strings.Count(history, "<user>admin</user>") != 2 || strings.Contains(history, "<id>3</id>") {
		t.Errorf("want commit 1 (threads) and commit 2 (Ansible), both by admin: %s", history)
	}

	out = runPlaybooks(t, playbook, d, []string{"vpn-configure.yml", "config-rollback.yml"},
		"-e", "vpn_name=branch1", "-e", "remote_address=198.51.100.77", "-e", "commit_id=1")
	if changed := playChanges(out); len(changed) != 2 || changed[0] != 0 {
		t.Errorf("want two plays, the first (same values again) changing nothing; changed %v", changed)
	}
	running = mustRPC(t, s, `<get-config><source><running/></source></get-config>`)
	if strings.Contains(running, "branch1") || !strings.Contains(running, "<threads>4</threads>") {
		t.Errorf("after config-rollback.yml to commit 1, running is %s", running)
	}
}

// runPlaybooks runs ansible-playbook from examples/ansible on playbooks,
// pointing the example inventory at d through its environment variables;
// it fails the test unless every play ends with failed=0 and
// unreachable=0, and returns the output.
func runPlaybooks(t *testing.T, bin string, d *daemon, playbooks []string, args ...string) string {
	t.Helper()
	dir := filepath.Join(repoRoot(), "examples", "ansible")
	home := t.TempDir()
	cmd := exec.Command(bin, append(playbooks, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"SECGW_HOST="+d.Host, "SECGW_PORT="+d.Port, "SECGW_USER="+adminUser, "SECGW_PASSWORD="+adminPassword,
		"ANSIBLE_CONFIG="+filepath.Join(dir, "ansible.cfg"),
		"ANSIBLE_HOME="+home, "ANSIBLE_LOCAL_TEMP="+filepath.Join(home, "tmp"),
		"ANSIBLE_PERSISTENT_CONTROL_PATH_DIR="+filepath.Join(home, "pc"),
		"ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0", "PYTHONDONTWRITEBYTECODE=1")
	b, err := cmd.CombinedOutput()
	out := string(b)
	recaps := recapRE.FindAllStringSubmatch(out, -1)
	ok := err == nil && len(recaps) == len(playbooks)
	for _, r := range recaps {
		ok = ok && r[3] == "0" && r[4] == "0"
	}
	if !ok {
		if strings.Contains(out, "couldn't resolve module/action 'ansible.netcommon") {
			t.Fatalf("the ansible.netcommon collection is missing: apt-get install ansible\n%s", out)
		}
		t.Fatalf("ansible-playbook %s: %v\n%s\nsecgwd log:\n%s", strings.Join(playbooks, " "), err, out, d.Logs())
	}
	t.Logf("ansible-playbook %s: tasks changed per play %v", strings.Join(playbooks, " "), playChanges(out))
	return out
}

// playChanges returns the number of changed tasks of each play. The
// recap's counts add up over the playbooks of one ansible-playbook run.
func playChanges(out string) []int {
	var per []int
	prev := 0
	for _, r := range recapRE.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(r[2])
		per = append(per, n-prev)
		prev = n
	}
	return per
}

// TestAnsibleInitiate runs examples/ansible/vpn-initiate.yml against a
// secgwd whose VPN has another secgwd as peer (both on loopback, IKE on
// a test port, the fake dataplane): the initiate RPC through netconf_rpc
// brings the tunnel up and netconf_get reads it from the state.
func TestAnsibleInitiate(t *testing.T) {
	t.Parallel()
	playbook, err := exec.LookPath("ansible-playbook")
	if err != nil {
		t.Fatal("ansible-playbook missing: apt-get install ansible")
	}
	a, b := startIKEPeers(t, "17700")
	sb := mustDial(t, b.Addr, adminUser, adminPassword)
	mustRPC(t, sb, `<edit-config><target><candidate/></target>`+ikeConfig(vpnElem("ansible-demo-secret", "from-a", "hq-sp", "127.0.0.2", "", "hq.example", "branch1.example", "10.2.0.0/16", "10.1.0.0/16"))+`</edit-config>`)
	mustRPC(t, sb, `<commit/>`)
	sa := mustDial(t, a.Addr, adminUser, adminPassword)
	mustRPC(t, sa, `<edit-config><target><candidate/></target>`+ikeConfig(vpnElem("ansible-demo-secret", "branch1", "branch1-sp", "127.0.0.1", "127.0.0.2", "branch1.example", "hq.example", "10.1.0.0/16", "10.2.0.0/16"))+`</edit-config>`)
	mustRPC(t, sa, `<commit/>`)

	out := runPlaybooks(t, playbook, a, []string{"vpn-initiate.yml"}, "-e", "policy=branch1-sp", "-e", "vpn_name=branch1")
	if !strings.Contains(out, "All assertions passed") || !strings.Contains(out, "IKE_SA branch1[") {
		t.Errorf("vpn-initiate.yml output:\n%s", out)
	}
	if st := mustRPC(t, sb, `<get><filter><vrf xmlns="urn:secgw:yang:secgw-vrf"><ike xmlns="urn:secgw:yang:secgw-ike"><ike-sa/></ike></vrf></filter></get>`); !strings.Contains(st, "<state>established</state>") {
		t.Errorf("the peer gateway has no established IKE SA: %s", st)
	}
}
