package daemon

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"secgw/internal/dataplane"
)

// childErrorsFilter reads each child SA's inbound SPI and its replay and
// integrity drops.
const childErrorsFilter = `<get><filter type="subtree"><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name><ike xmlns="urn:secgw:yang:secgw-ike">` +
	`<ike-sa><child-sa><name/><spi-in/><replay-errors-in/><integrity-errors-in/></child-sa></ike-sa></ike></vrf></filter></get>`

// TestChildSAErrorCounters: the dataplane's replay and integrity drops of
// a child SA's inbound SA reach that child SA's replay-errors-in and
// integrity-errors-in in <get>, and not another child SA's of the same
// IKE SA (which read 0).
func TestChildSAErrorCounters(t *testing.T) {
	a := startGateway(t, "a", 17960)
	b := startGateway(t, "b", 17960)
	// A second security policy, voice, beside net in each VPN.
	voice := func(vpn, local, remote string) string {
		return strings.Replace(vpn, "</vpn>", `<security-policy><name>voice</name><local-ts><subnet>`+local+
			`</subnet></local-ts><remote-ts><subnet>`+remote+`</subnet></remote-ts></security-policy></vpn>`, 1)
	}
	b.configure(t, "merge", voice(vpnXML("from-a", "net", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16"),
		"10.12.0.0/16", "10.11.0.0/16"))
	a.configure(t, "merge", voice(vpnXML("to-b", "net", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16"),
		"10.11.0.0/16", "10.12.0.0/16"))
	for _, sp := range []string{"net", "voice"} {
		out := a.rpc(t, `<initiate xmlns="urn:secgw:yang:secgw-ike"><child-sa><security-policy>`+sp+`</security-policy></child-sa></initiate>`)
		if !strings.Contains(out, "CHILD_SA "+sp+"{") || !strings.Contains(out, "established") {
			t.Fatalf("initiate %s:\n%s", sp, out)
		}
	}
	child := regexp.MustCompile(`<child-sa>\s*(?:<unique-id>\d+</unique-id>\s*)?<name>([a-z]+)</name>\s*<spi-in>([0-9a-f]{8})</spi-in>\s*` +
		`<replay-errors-in>(\d+)</replay-errors-in>\s*<integrity-errors-in>(\d+)</integrity-errors-in>`)
	read := func() map[string][3]string { // name -> spi-in, replay, integrity
		st := a.rpc(t, childErrorsFilter)
		out := map[string][3]string{}
		for _, m := range child.FindAllStringSubmatch(st, -1) {
			out[m[1]] = [3]string{m[2], m[3], m[4]}
		}
		if len(out) != 2 {
			t.Fatalf("want the child SAs net and voice with spi-in, replay-errors-in and integrity-errors-in:\n%s", st)
		}
		return out
	}
	before := read()
	for name, c := range before {
		if c[1] != "0" || c[2] != "0" {
			t.Errorf("%s before any drop: replay %s, integrity %s", name, c[1], c[2])
		}
	}
	spi, err := strconv.ParseUint(before["voice"][0], 16, 32)
	if err != nil {
		t.Fatal(err)
	}
	a.d.dataplane.(*dataplane.Fake).SetCounters(dataplane.SAKey{Dst: netip.MustParseAddr("127.0.0.1"), SPI: uint32(spi)},
		dataplane.Counters{Packets: 40, ReplayDrops: 3, AuthDrops: 7})
	after := read()
	if c := after["voice"]; c[1] != "3" || c[2] != "7" {
		t.Errorf("voice: replay-errors-in %s, integrity-errors-in %s; want the dataplane's 3 and 7", c[1], c[2])
	}
	if c := after["net"]; c[1] != "0" || c[2] != "0" {
		t.Errorf("net, whose SA dropped nothing: replay-errors-in %s, integrity-errors-in %s", c[1], c[2])
	}
}
