package netconf

import (
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestSessionEndKilledBy subscribes with ncclient, has one session kill
// another and close itself, and checks both netconf-session-end events
// (RFC 6470 §2.2.3): the killed one names its killer in killed-by, before
// termination-reason killed; the closed one has no killed-by.
func TestSessionEndKilledBy(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import ncclient").Run(); err != nil {
		t.Fatal("python3-ncclient missing: apt-get install python3-ncclient")
	}
	f := start(t)
	host, port, _ := net.SplitHostPort(f.addr)
	script := `
import sys
from ncclient import manager
def conn():
    return manager.connect(host=sys.argv[1], port=int(sys.argv[2]), username="admin", password="secret-admin",
                           hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=20)
m = conn()
m.create_subscription()
victim = conn()
killer = conn()
print("VICTIM", victim.session_id, "KILLER", killer.session_id)
killer.kill_session(victim.session_id)
killer.close_session()
ends = 0
while ends < 2:
    n = m.take_notification(timeout=10)
    if n is None:
        break
    if "netconf-session-end" in n.notification_xml:
        ends += 1
        print("END", n.notification_xml.replace("\n", ""))
m.close_session()
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, host, port).CombinedOutput()
	if err != nil {
		t.Fatalf("ncclient: %v\n%s", err, out)
	}
	text := string(out)
	ids := regexp.MustCompile(`VICTIM (\d+) KILLER (\d+)`).FindStringSubmatch(text)
	if ids == nil {
		t.Fatalf("no session ids:\n%s", text)
	}
	victim, killer := ids[1], ids[2]
	var killedEnd, closedEnd string
	for _, l := range strings.Split(text, "\n") {
		switch {
		case strings.Contains(l, "<session-id>"+victim+"</session-id>"):
			killedEnd = l
		case strings.Contains(l, "<session-id>"+killer+"</session-id>"):
			closedEnd = l
		}
	}
	if want := "<killed-by>" + killer + "</killed-by><termination-reason>killed</termination-reason>"; !strings.Contains(killedEnd, want) {
		t.Errorf("session-end of the killed session lacks %q:\n%s", want, text)
	}
	if !strings.Contains(closedEnd, "<termination-reason>closed</termination-reason>") || strings.Contains(closedEnd, "killed-by") {
		t.Errorf("session-end of the closed session:\n%s", text)
	}
}
