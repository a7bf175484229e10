package e2e

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"testing"

	gonetconf "github.com/Juniper/go-netconf/netconf"
	"golang.org/x/crypto/ssh"
)

// go-netconf v0.3.1's base:1.1 reader does not parse chunks: it returns
// everything before the first "\n##\n", chunk headers included, and
// encoding/xml skips the single leading header as text. A reply split into
// several chunks would put a header inside the XML. secgwd writes every
// message as one chunk (internal/netconf/framing.ChunkedWriter), so the
// library works unchanged against it: TestGoNetconf runs go-netconf's own
// transport (not internal/ncclient, which replaces that reader), and its
// large get-config (hundreds of KiB over many SSH packets) is the proof
// that the combination holds.

// vpnXML is a VPN as edit-config content.
func vpnXML(name, remote string) string {
	return fmt.Sprintf(`<vpn><name>%s</name><local-address>192.0.2.1</local-address><remote-address>%s</remote-address>`+
		`<local-id>gw.example.com</local-id><remote-id>%s.example.com</remote-id>`+
		`<ike-policy><pre-shared-key>0x00112233445566778899aabbccddeeff</pre-shared-key></ike-policy>`+
		`<security-policy><name>%[1]s-sp</name><local-ts><subnet>10.1.0.0/16</subnet></local-ts>`+
		`<remote-ts><subnet>10.2.0.0/16</subnet></remote-ts></security-policy></vpn>`, name, remote, name)
}

// vpnNames parses a <data> reply and returns the VPN names, in order.
func vpnNames(t *testing.T, data string) []string {
	t.Helper()
	var d struct {
		Vrf []struct {
			Name string `xml:"name"`
			Ike  struct {
				Vpn []struct {
					Name string `xml:"name"`
				} `xml:"vpn"`
			} `xml:"urn:secgw:yang:secgw-ike ike"`
		} `xml:"urn:secgw:yang:secgw-vrf vrf"`
	}
	if err := xml.Unmarshal([]byte(data), &d); err != nil {
		t.Fatalf("reply is not XML: %v: %.200s", err, data)
	}
	var names []string
	for _, v := range d.Vrf {
		for _, vpn := range v.Ike.Vpn {
			names = append(names, vpn.Name)
		}
	}
	return names
}

// mustDialGoNetconf opens a session with go-netconf's own SSH transport,
// closed when the test ends. go-netconf drops a failed hello: a session
// without a session-id is one.
func mustDialGoNetconf(t *testing.T, addr, user, password string) *gonetconf.Session {
	t.Helper()
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.Password(password)}, HostKeyCallback: ssh.InsecureIgnoreHostKey()}
	s, err := gonetconf.DialSSHTimeout(addr, cfg, rpcTimeout)
	if err == nil && s.SessionID == 0 {
		s.Close()
		err = fmt.Errorf("no hello from %s", addr)
	}
	if err != nil {
		t.Fatalf("go-netconf dial %s as %s: %v", addr, user, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestGoNetconf drives secgwd with github.com/Juniper/go-netconf v0.3.1,
// using its own request builders where it has them: lock, edit-config,
// commit, unlock, get-config; then a lock-denied and a bad value as typed
// RPCErrors, and a get-config of 500 VPNs.
func TestGoNetconf(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, newDataDir(t))
	s := mustDialGoNetconf(t, d.Addr, adminUser, adminPassword)
	if !strings.Contains(strings.Join(s.ServerCapabilities, " "), "urn:ietf:params:netconf:base:1.1") {
		t.Fatalf("go-netconf saw capabilities %q", s.ServerCapabilities)
	}
	if _, err := s.Exec(gonetconf.MethodLock("candidate")); err != nil {
		t.Fatalf("lock: %v", err)
	}
	// MethodEditConfig sends default-operation merge and error-option
	// rollback-on-error around the content.
	if _, err := s.Exec(gonetconf.MethodEditConfig("candidate", strings.TrimSuffix(strings.TrimPrefix(
		ikeConfig(vpnXML("go1", "198.51.100.7")), "<config>"), "</config>"))); err != nil {
		t.Fatalf("edit-config: %v", err)
	}
	mustRPC(t, s, `<commit/>`)
	if _, err := s.Exec(gonetconf.MethodUnlock("candidate")); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	reply, err := s.Exec(gonetconf.MethodGetConfig("running"))
	if err != nil {
		t.Fatalf("get-config: %v", err)
	}
	if got := vpnNames(t, reply.Data); len(got) != 1 || got[0] != "go1" {
		t.Errorf("running holds VPNs %q, want [go1]", got)
	}
	if !strings.Contains(reply.Data, "<remote-address>198.51.100.7</remote-address>") {
		t.Errorf("get-config lacks the remote address: %s", reply.Data)
	}
	filtered := mustRPC(t, s, `<get><filter type="subtree"><vrf xmlns="`+nsVRF+`"><ike xmlns="`+nsIKE+
		`"><vpn><name>go1</name><remote-id/></vpn></ike></vrf></filter></get>`)
	if !strings.Contains(filtered, "<remote-id>go1.example.com</remote-id>") || strings.Contains(filtered, "local-id") {
		t.Errorf("filtered get: %s", filtered)
	}

	// Errors come back as go-netconf's RPCError with the wire fields.
	other := mustDialGoNetconf(t, d.Addr, adminUser, adminPassword)
	mustRPC(t, s, `<lock><target><candidate/></target></lock>`)
	_, err = other.Exec(gonetconf.MethodLock("candidate"))
	var rerr *gonetconf.RPCError
	if !errors.As(err, &rerr) || rerr.Tag != "lock-denied" || rerr.Type != "protocol" ||
		!strings.Contains(rerr.Info, fmt.Sprintf("<session-id>%d</session-id>", s.SessionID)) {
		t.Errorf("second lock: %v (%+v), want lock-denied naming session %d", err, rerr, s.SessionID)
	}
	mustRPC(t, s, `<unlock><target><candidate/></target></unlock>`)
	_, err = s.Exec(gonetconf.RawMethod(`<edit-config><target><candidate/></target>` +
		ikeConfig(`<global-options><retransmit-tries>101</retransmit-tries></global-options>`) + `</edit-config>`))
	if !errors.As(err, &rerr) || rerr.Tag != "invalid-value" || rerr.Type != "application" ||
		rerr.Path != "/vrf:vrf[vrf:name='main']/ike:ike/ike:global-options/ike:retransmit-tries" ||
		!strings.Contains(rerr.Message, "101 is out of range 0..100") {
		t.Errorf("bad value: %v (%+v)", err, rerr)
	}

	// A large reply: 500 VPNs, over 200 KiB.
	var b strings.Builder
	for i := 0; i < 500; i++ {
		b.WriteString(vpnXML(fmt.Sprintf("bulk%03d", i), fmt.Sprintf("203.0.%d.%d", i/250, i%250+1)))
	}
	mustRPC(t, s, `<edit-config><target><candidate/></target>`+ikeConfig(b.String())+`</edit-config>`)
	mustRPC(t, s, `<commit/>`)
	data := mustRPC(t, other, `<get-config><source><running/></source></get-config>`)
	if n := len(vpnNames(t, data)); n != 501 || len(data) < 200<<10 {
		t.Errorf("large get-config: %d VPNs in %d bytes, want 501 in at least 200 KiB", n, len(data))
	}
	mustRPC(t, other, `<close-session/>`)
	var base11 int
	for _, b := range d.SessionFramings() {
		if b {
			base11++
		}
	}
	if base11 != 2 {
		t.Errorf("%d of secgwd's sessions used base:1.1, want both of go-netconf's", base11)
	}
}
