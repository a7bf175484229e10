package e2e

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSAEventNotifications: a NETCONF client subscribed with ncclient
// (RFC 5277) receives the sa-event notifications of secgw-ike-rpc.yang
// when a tunnel comes up: ike-up then child-up, with the vpn, the
// security policy and the unique-ids.
func TestSAEventNotifications(t *testing.T) {
	t.Parallel()
	needNcclient(t)
	a, b := startIKEPeers(t, "17900")
	sb := mustDial(t, b.Addr, adminUser, adminPassword)
	mustRPC(t, sb, `<edit-config><target><candidate/></target>`+ikeConfig(vpnElem("notify-test-secret", "from-a", "b-net", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16"))+`</edit-config>`)
	mustRPC(t, sb, `<commit/>`)
	sa := mustDial(t, a.Addr, adminUser, adminPassword)
	mustRPC(t, sa, `<edit-config><target><candidate/></target>`+ikeConfig(vpnElem("notify-test-secret", "to-b", "a-net", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16"))+`</edit-config>`)
	mustRPC(t, sa, `<commit/>`)

	cmd := exec.Command(python3, filepath.Join(repoRoot(), "test", "e2e", "testdata", "sa_events.py"),
		"--host", a.Host, "--port", a.Port, "--password", adminPassword)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	subscribed := make(chan bool, 1)
	var events []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for lines.Scan() {
			l := lines.Text()
			if l == "SUBSCRIBED" {
				subscribed <- true
			}
			if strings.HasPrefix(l, "EVENT ") {
				events = append(events, l)
			}
		}
	}()
	select {
	case <-subscribed:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("ncclient did not subscribe")
	}
	if r := mustRPC(t, sa, `<initiate xmlns="urn:secgw:yang:secgw-ike"><child-sa><security-policy>a-net</security-policy></child-sa></initiate>`); !strings.Contains(r, "established") {
		t.Fatalf("initiate: %s", r)
	}
	<-done
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sa_events.py: %v; events %q", err, events)
	}
	if len(events) < 2 || !strings.Contains(events[0], "<event>ike-up</event>") || !strings.Contains(events[0], "<vpn>to-b</vpn>") ||
		!strings.Contains(events[len(events)-1], "<event>child-up</event>") || !strings.Contains(events[len(events)-1], "<security-policy>a-net</security-policy>") {
		t.Errorf("notifications: %q", events)
	}
}
