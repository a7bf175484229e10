package e2e

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

// TestDebugIKEPeerCLI: the per-peer debug tracing through the product.
// On B, at the default log level (info), 'secgw' sets 'debug ike peer
// 127.0.0.1'; 'monitor ike count 6' streams the ike-debug notifications
// while A connects: IKE_SA_INIT and IKE_AUTH in and out, in Cisco's
// form (addresses, SPIs, message ID, exchange, payload list). B's log
// carries the same records at level info without the global level
// raised; 'show debug' lists the filter and 'no debug ike peer' ends it.
func TestDebugIKEPeerCLI(t *testing.T) {
	t.Parallel()
	start := func() *daemon {
		d, err := launch(newDataDir(t), "info", "-ike-port", "17990")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d.Kill)
		return d
	}
	a, b := start(), start()
	sb := mustDial(t, b.Addr, adminUser, adminPassword)
	mustRPC(t, sb, `<edit-config><target><candidate/></target>`+ikeConfig(vpnElem("debug-test-secret", "from-a", "b-net", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16"))+`</edit-config>`)
	mustRPC(t, sb, `<commit/>`)
	sa := mustDial(t, a.Addr, adminUser, adminPassword)
	mustRPC(t, sa, `<edit-config><target><candidate/></target>`+ikeConfig(vpnElem("debug-test-secret", "to-b", "a-net", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16"))+`</edit-config>`)
	mustRPC(t, sa, `<commit/>`)

	if r := runCLI(t, b, adminUser, adminPassword, "debug ike peer 127.0.0.1\n"); r.code != 0 || !strings.Contains(r.out, "IKE debug filters:\n  peer 127.0.0.1\n") {
		t.Fatalf("debug ike peer: %v", r)
	}
	mon := cliCommand(t, b, adminUser, adminPassword)
	mon.Stdin = strings.NewReader("monitor ike count 6\n")
	var monErr strings.Builder
	mon.Stderr = &monErr
	pipe, err := mon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Process.Kill() })
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var got []string
	wait := func(pred func(string) bool, what string) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("monitor ended before %s:\n%s\nstderr: %s", what, strings.Join(got, "\n"), monErr.String())
				}
				got = append(got, l)
				if pred(l) {
					return
				}
			case <-deadline:
				t.Fatalf("no %s in 30 s:\n%s", what, strings.Join(got, "\n"))
			}
		}
	}
	wait(func(l string) bool { return strings.HasPrefix(l, "Monitoring the IKE debug traces") }, "subscription")
	if r := mustRPC(t, sa, `<initiate xmlns="urn:secgw:yang:secgw-ike"><child-sa><security-policy>a-net</security-policy></child-sa></initiate>`); !strings.Contains(r, "established") {
		t.Fatalf("initiate: %s", r)
	}
	wait(func(l string) bool { return strings.Contains(l, "IKE_AUTH Exchange RESPONSE") }, "IKE_AUTH response trace")
	text := strings.Join(got, "\n")
	for _, want := range []string{
		"127.0.0.1:500 vpn  ike-sa 0: Received Packet [From 127.0.0.1:500/To 127.0.0.2:500] Initiator SPI : ",
		"IKE_SA_INIT Exchange REQUEST Payload contents: SA KE N NOTIFY(NAT_DETECTION_SOURCE_IP) NOTIFY(NAT_DETECTION_DESTINATION_IP)",
		"Sending Packet [From 127.0.0.2:500/To 127.0.0.1:500]",
		"Message id: 1 IKE_AUTH Exchange REQUEST Payload contents: IDi IDr AUTH NOTIFY(INITIAL_CONTACT) SA TSi TSr",
		"vpn from-a ike-sa 1: Sending Packet",
		"Message id: 1 IKE_AUTH Exchange RESPONSE Payload contents: IDr AUTH SA TSi TSr",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in the monitor's output:\n%s", want, text)
		}
	}
	// The notification may reach the monitor before the log record
	// reaches B's log: wait for it.
	eventually(t, func() string {
		logs := b.Logs()
		if !strings.Contains(logs, `level=LOG0 msg="ike debug"`) || !strings.Contains(logs, "IKE_AUTH Exchange RESPONSE") {
			return "no trace record at level info in B's log:\n" + logs
		}
		return ""
	})
	if r := runCLI(t, b, adminUser, adminPassword, "show debug\nno debug ike peer 127.0.0.1\n"); r.code != 0 ||
		!strings.Contains(r.out, "IKE debug filters:\n  peer 127.0.0.1\n") || !strings.HasSuffix(r.out, "No IKE debug filter is set.\n") {
		t.Fatalf("show debug / no debug: %v", r)
	}
	if r := runCLI(t, b, adminUser, adminPassword, "debug ike peer not-an-address\n"); r.code == 0 || !strings.Contains(r.errOut, "not an IP address") {
		t.Errorf("a malformed peer: %v", r)
	}
}
