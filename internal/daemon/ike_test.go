package daemon

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"secgw/internal/ncclient"
	"secgw/internal/netconf"
	"strings"
	"testing"
	"time"

	gonetconf "github.com/Juniper/go-netconf/netconf"
	"golang.org/x/crypto/ssh"

	"secgw/internal/dataplane/xfrm"
	"secgw/internal/logging"
	"secgw/internal/poll"
)

// gateway is an in-process daemon with a NETCONF session.
type gateway struct {
	d    *Daemon
	s    *ncclient.Session
	stop func() error
}

func startGateway(t *testing.T, name string, port uint16) *gateway {
	t.Helper()
	return startGatewayLog(t, name, port, slog.NewTextHandler(testLog{t, name}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// startGatewayLog is startGateway logging to h.
func startGatewayLog(t *testing.T, name string, port uint16, h slog.Handler) *gateway {
	t.Helper()
	d, err := New(Config{Dir: filepath.Join(t.TempDir(), name), Listen: "127.0.0.1:0", Dataplane: DataplaneFake,
		IKEPort: port, NATTPort: port + 1, Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{d: d, stop: run(t, d)}
	g.s, err = ncclient.Dial(d.Addr().String(), &ssh.ClientConfig{User: "admin",
		Auth: []ssh.AuthMethod{ssh.Password(d.CreatedPassword())}, HostKeyCallback: ssh.InsecureIgnoreHostKey()}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.s.Close()
		if err := g.stop(); err != nil {
			t.Error(err)
		}
	})
	return g
}

type testLog struct {
	t    *testing.T
	name string
}

func (w testLog) Write(b []byte) (int, error) {
	w.t.Log(w.name + ": " + strings.TrimSpace(string(b)))
	return len(b), nil
}

func (g *gateway) rpc(t *testing.T, op string) string {
	t.Helper()
	r, err := g.s.Exec(gonetconf.RawMethod(op))
	if err != nil {
		t.Fatalf("%.60s: %v", op, err)
	}
	return r.Data
}

// configure edits the candidate with the vpn elements given and commits.
func (g *gateway) configure(t *testing.T, operation, vpns string) {
	t.Helper()
	g.rpc(t, `<edit-config><target><candidate/></target><default-operation>`+operation+`</default-operation><config>`+
		`<vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name><ike xmlns="urn:secgw:yang:secgw-ike">`+vpns+
		`</ike></vrf></config></edit-config>`)
	g.rpc(t, `<commit/>`)
}

func vpnXML(name, policy, local, remote, localID, remoteID, localTS, remoteTS string) string {
	r := ""
	if remote != "" {
		r = "<remote-address>" + remote + "</remote-address>"
	}
	return fmt.Sprintf(`<vpn><name>%s</name><local-address>%s</local-address>%s<local-id>%s</local-id><remote-id>%s</remote-id>`+
		`<ike-policy><pre-shared-key>secret</pre-shared-key></ike-policy>`+
		`<security-policy><name>%s</name><local-ts><subnet>%s</subnet></local-ts><remote-ts><subnet>%s</subnet></remote-ts></security-policy></vpn>`,
		name, local, r, localID, remoteID, policy, localTS, remoteTS)
}

const ikeSAFilter = `<get><filter type="subtree"><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name><ike xmlns="urn:secgw:yang:secgw-ike"><ike-sa/></ike></vrf></filter></get>`

// ikeSAKeysFilter names the session keys of the IKE and child SAs.
const ikeSAKeysFilter = `<get><filter type="subtree"><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name><ike xmlns="urn:secgw:yang:secgw-ike">` +
	`<ike-sa><unique-id/><sk-ei/><child-sa><unique-id/><encr-key-in/></child-sa></ike-sa></ike></vrf></filter></get>`

// TestTunnelThroughNETCONF: two daemons configured only over NETCONF
// establish a tunnel when one is told to initiate (RPC), both report it in
// <get>; a commit that adds another VPN leaves it up; deleting the VPN by
// NETCONF tears the SAs down on both sides.
func TestTunnelThroughNETCONF(t *testing.T) {
	a := startGateway(t, "a", 17500)
	b := startGateway(t, "b", 17500)
	b.configure(t, "merge", vpnXML("from-a", "net", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16"))
	a.configure(t, "merge", vpnXML("to-b", "net", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16"))

	out := a.rpc(t, `<initiate xmlns="urn:secgw:yang:secgw-ike"><child-sa><security-policy>net</security-policy></child-sa></initiate>`)
	if !strings.Contains(out, "IKE_SA to-b[1] established") || !strings.Contains(out, "CHILD_SA net{2} established") {
		t.Fatalf("initiate reply:\n%s", out)
	}
	for _, g := range []*gateway{a, b} {
		st := g.rpc(t, ikeSAFilter)
		if !strings.Contains(st, "<state>established</state>") || !strings.Contains(st, "<child-sa>") || strings.Contains(st, "<sk-ei>") {
			t.Fatalf("state (no keys unless named):\n%s", st)
		}
		// The session keys come to an admin's filter that names them.
		if st := g.rpc(t, ikeSAKeysFilter); !strings.Contains(st, "<sk-ei>") || !strings.Contains(st, "<encr-key-in>") {
			t.Fatalf("state with a filter naming the keys:\n%s", st)
		}
	}
	// Another VPN added on A: the tunnel stays.
	a.configure(t, "merge", vpnXML("other", "other-net", "127.0.0.1", "127.0.0.9", "a.example", "c.example", "10.1.0.0/16", "10.9.0.0/16"))
	if st := a.rpc(t, ikeSAFilter); strings.Count(st, "<ike-sa>") != 1 || !strings.Contains(st, "<state>established</state>") {
		t.Fatalf("after adding a VPN:\n%s", st)
	}
	// Deleting to-b on A tears down both sides.
	a.rpc(t, `<edit-config><target><candidate/></target><config><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name>`+
		`<ike xmlns="urn:secgw:yang:secgw-ike"><vpn xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="delete"><name>to-b</name></vpn></ike></vrf></config></edit-config>`)
	a.rpc(t, `<commit/>`)
	var sa, sb string
	if !poll.Until(5*time.Second, func() bool {
		sa, sb = a.rpc(t, ikeSAFilter), b.rpc(t, ikeSAFilter)
		return !strings.Contains(sa, "<ike-sa>") && !strings.Contains(sb, "<ike-sa>")
	}) {
		t.Fatalf("SAs left after deleting the VPN:\nA %s\nB %s", sa, sb)
	}
}

// TestAutoDataplane: auto picks the kernel when it can hold ESP SAs and
// userspace otherwise (this CI machine's kernel has XFRM but no ESP), and
// reports the choice in the state (ike dataplane).
func TestAutoDataplane(t *testing.T) {
	d, err := New(Config{Dir: filepath.Join(t.TempDir(), "d"), Listen: "127.0.0.1:0", Dataplane: DataplaneAuto,
		TUN: "secgwtest0", IKEPort: 17800, NATTPort: 17801})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	want := DataplaneUserspace
	if xfrm.ProbeESP() == nil {
		want = DataplaneKernel
	}
	if got := d.dataplane.Kind(); got != want {
		t.Errorf("auto chose %s, want %s", got, want)
	}
	st := d.state(netconf.StateRequest{Wants: func(...string) bool { return true }}).Vrf["main"].Ike.Dataplane.String()
	if (want == DataplaneUserspace && st != "userspace-esp") || (want == DataplaneKernel && st != "kernel-xfrm") {
		t.Errorf("state dataplane %s with the %s dataplane", st, want)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestLoggingLive: a commit of the logging container changes what reaches
// syslog at once: with daemon ike 2, debug messages of subsystem ike pass
// the daemon facility; other subsystems stay at the default 0.
func TestLoggingLive(t *testing.T) {
	var daemonFacility syncBuffer
	lh := logging.New(logging.Outputs{Daemon: logging.TextHandler(&daemonFacility)}, logging.DefaultConfig())
	d, err := New(Config{Dir: filepath.Join(t.TempDir(), "d"), Listen: "127.0.0.1:0", Dataplane: DataplaneFake,
		Logger: slog.New(lh), LogHandler: lh})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	defer stop()
	log := slog.New(lh)
	log.Debug("before", "subsystem", "ike")
	s, err := ncclient.Dial(d.Addr().String(), &ssh.ClientConfig{User: "admin",
		Auth: []ssh.AuthMethod{ssh.Password(d.CreatedPassword())}, HostKeyCallback: ssh.InsecureIgnoreHostKey()}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, op := range []string{
		`<edit-config><target><candidate/></target><config><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name>` +
			`<ike xmlns="urn:secgw:yang:secgw-ike"><logging><daemon><ike>2</ike></daemon></logging></ike></vrf></config></edit-config>`,
		`<commit/>`,
	} {
		if _, err := s.Exec(gonetconf.RawMethod(op)); err != nil {
			t.Fatal(err)
		}
	}
	log.Debug("after", "subsystem", "ike")
	log.Debug("other", "subsystem", "child")
	out := daemonFacility.String()
	if strings.Contains(out, "msg=before") || !strings.Contains(out, "msg=after") || strings.Contains(out, "msg=other") {
		t.Errorf("daemon facility got:\n%s", out)
	}
}
