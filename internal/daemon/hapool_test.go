package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"secgw/generated"
	"secgw/internal/ike/engine/enginetest"
	"secgw/internal/ikesvc"
	"secgw/internal/poll"
)

// haPoolXML is node id's HA configuration (haXML) with the HA pool hp
// (10.8.0.1-10.8.0.6) and the road warriors' VPN rw on its own loopback
// address: any identity, PSK, an address of hp.
func haPoolXML(id int, port uint16) string {
	local := fmt.Sprintf("127.0.0.%d", id)
	vpn := `<vpn><name>rw</name><local-address>` + local + `</local-address><local-id>gw.example</local-id>` +
		`<ike-policy><pre-shared-key>secret</pre-shared-key></ike-policy><vip-pool>hp</vip-pool>` +
		`<security-policy><name>net</name><local-ts><subnet>10.2.0.0/16</subnet></local-ts></security-policy></vpn>`
	return strings.Replace(haXML(id, port, haSecret, ""), "</ha></ike>",
		`<pool><name>hp</name><address>10.8.0.1-10.8.0.6</address></pool></ha>`+vpn+`</ike>`, 1)
}

// roadWarrior is an IKE service (no daemon: the addresses it receives go
// on no host interface) with identity id on local, and a VPN gwN with
// security policy netN, vip-request 0.0.0.0, to node N of the pair.
func roadWarrior(t *testing.T, id, local string, port uint16) *ikesvc.Service {
	t.Helper()
	s := ikesvc.New(ikesvc.Options{Dataplane: enginetest.NewDataplane(), DataplaneKind: "userspace", PortIKE: port, PortNATT: port + 1,
		Logger: slog.New(slog.NewTextHandler(testLog{t, id}, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	t.Cleanup(func() { s.Close() })
	str := func(v string) *string { return &v }
	ike := &generated.SecgwVrf_Vrf_Ike{Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{}}
	for _, n := range []string{"1", "2"} {
		ike.Vpn["gw"+n] = &generated.SecgwVrf_Vrf_Ike_Vpn{
			Name: str("gw" + n), LocalAddress: str(local), RemoteAddress: str("127.0.0." + n),
			LocalId: str(id), RemoteId: str("gw.example"), VipRequest: []string{"0.0.0.0"},
			IkePolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{PreSharedKey: str("secret")},
			SecurityPolicy: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy{"net" + n: {
				Name: str("net" + n), RemoteTs: &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_RemoteTs{Subnet: str("10.2.0.0/16")}}},
		}
	}
	if err := s.Start(&generated.Device{Vrf: map[string]*generated.SecgwVrf_Vrf{"main": {Name: str("main"), Ike: ike}}}); err != nil {
		t.Fatal(err)
	}
	return s
}

// connect sets up the road warrior's child SA netN to node N and returns
// the virtual IP it received.
func connect(t *testing.T, rw *ikesvc.Service, node string) string {
	t.Helper()
	res, err := rw.Initiate(context.Background(), ikesvc.Target{ChildSA: &ikesvc.ChildSelector{Policy: "net" + node}})
	if err != nil || !strings.Contains(fmt.Sprint(res.Messages), "established") {
		t.Fatalf("initiate net%s: %v %v", node, res.Messages, err)
	}
	for _, sa := range rw.Engine().Snapshot(false) {
		if sa.VPN == "gw"+node && len(sa.LocalVIPs) == 1 {
			return sa.LocalVIPs[0].String()
		}
	}
	t.Fatalf("no virtual IP from node %s", node)
	return ""
}

const poolStateFilter = `<get><filter type="subtree"><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name>` +
	`<ike xmlns="urn:secgw:yang:secgw-ike"><pool-state/></ike></vrf></filter></get>`

var leaseRE = regexp.MustCompile(`<lease><address>([^<]+)</address><identity>([^<]*)</identity><holders>(\d+)</holders></lease>`)

// leases renders g's leases of hp as "address identity holders", by
// address.
func leases(t *testing.T, g *gateway) string {
	t.Helper()
	var out []string
	for _, m := range leaseRE.FindAllStringSubmatch(g.rpc(t, poolStateFilter), -1) {
		out = append(out, m[1]+" "+m[2]+" "+m[3])
	}
	return strings.Join(out, ", ")
}

func waitLeases(t *testing.T, g *gateway, what, want string) {
	t.Helper()
	var got string
	if !poll.Until(20*time.Second, func() bool { got = leases(t, g); return got == want }) {
		t.Fatalf("%s: leases %q, want %q", what, got, want)
	}
}

// TestHAPoolLeases: the leases of an HA pool (`ike ha pool`) reach the
// standby over the sync link, in the snapshot of its joining (a lease
// reserved after its SA went, one held) and one by one after; after the
// active dies and the standby takes over, a new road warrior gets an
// address no one had, the one whose SA was taken over keeps its own, and
// the one whose SA had gone gets its reservation back: no address is
// handed out twice.
func TestHAPoolLeases(t *testing.T) {
	const ikePort = 17640
	a := startGateway(t, "node1", ikePort)
	port := freeTCPPort(t)
	if msg := a.configureVRF(t, haPoolXML(1, port)); msg != "" {
		t.Fatal(msg)
	}
	a.rpc(t, haNotify("g1", "master"))
	waitState(t, a, "node 1 active", "<role>active</role>")
	rw1 := roadWarrior(t, "rw1.example", "127.0.0.11", ikePort)
	rw2 := roadWarrior(t, "rw2.example", "127.0.0.12", ikePort)
	rw3 := roadWarrior(t, "rw3.example", "127.0.0.13", ikePort)

	// rw1 connects and goes: its address stays reserved for it.
	vip1 := connect(t, rw1, "1")
	if _, err := rw1.Flush(context.Background(), ikesvc.Target{IKESA: &ikesvc.IKESelector{VPN: "gw1"}}); err != nil {
		t.Fatal(err)
	}
	waitLeases(t, a, "rw1 gone", vip1+" rw1.example 0")

	// Node 2 joins: the snapshot brings rw1's reservation; rw2
	// connects after, its lease comes on its own.
	b := startGateway(t, "node2", ikePort)
	if msg := b.configureVRF(t, haPoolXML(2, port)); msg != "" {
		t.Fatal(msg)
	}
	b.rpc(t, haNotify("g1", "backup"))
	waitState(t, a, "node 2 synced", "<peer-role>standby</peer-role>", "<peer-connected>true</peer-connected>")
	waitLeases(t, b, "snapshot", vip1+" rw1.example 0")
	vip2 := connect(t, rw2, "1")
	if vip2 == vip1 {
		t.Fatalf("rw2 got rw1's reserved address %s", vip1)
	}
	// The standby holds both as reservations: no IKE SA of its own.
	want := vip1 + " rw1.example 0, " + vip2 + " rw2.example 0"
	waitLeases(t, b, "incremental", want)
	// rw2's IKE SA reached node 2 too (its record, not only its lease),
	// before node 1 goes.
	waitState(t, b, "rw2's IKE SA synced", "<ike-sa-synced>1</ike-sa-synced>")

	// Node 1 dies; node 2 takes over (master with the link down).
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	a.stop = func() error { return nil }
	b.rpc(t, haNotify("g1", "master"))
	waitState(t, b, "node 2 active", "<role>active</role>")
	// rw2's IKE SA was taken over: it holds its lease there.
	waitLeases(t, b, "takeover", vip1+" rw1.example 0, "+vip2+" rw2.example 1")

	// rw3, new, gets an address neither rw1 nor rw2 has.
	vip3 := connect(t, rw3, "2")
	if vip3 == vip1 || vip3 == vip2 {
		t.Fatalf("rw3 got %s, already leased (rw1 %s, rw2 %s)", vip3, vip1, vip2)
	}
	// rw1 comes back to node 2: its reservation.
	if got := connect(t, rw1, "2"); got != vip1 {
		t.Fatalf("rw1 got %s from the new active, want its lease %s", got, vip1)
	}
	st := leases(t, b)
	for _, w := range []string{vip1 + " rw1.example 1", vip2 + " rw2.example 1", vip3 + " rw3.example 1"} {
		if !strings.Contains(st, w) {
			t.Fatalf("node 2's leases %q lack %q", st, w)
		}
	}
}
