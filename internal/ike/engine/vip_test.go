package engine_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
	"secgw/internal/pool"
)

// Configuration payload tests (RFC 7296 §2.19, §3.15): B is a road
// warrior concentrator with a pool, A (and C) road warriors asking for a
// virtual IP.

// poolVIPs is engine.VIPs over a real pool.Manager, as the IKE service
// provides it, and records what was installed on the host.
type poolVIPs struct {
	m         *pool.Manager
	mu        sync.Mutex
	installed []netip.Addr
}

func newPoolVIPs(t testing.TB, addrs ...string) *poolVIPs {
	m, err := pool.Open(pool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := pool.Config{Name: "rw", Attributes: pool.Attributes{
		DNS: []netip.Addr{netip.MustParseAddr("10.9.9.9"), netip.MustParseAddr("fd00::53")}}}
	for _, a := range addrs {
		r, err := pool.ParseAddress(a)
		if err != nil {
			t.Fatal(err)
		}
		c.Ranges = append(c.Ranges, r)
	}
	if err := m.Set([]pool.Config{c}); err != nil {
		t.Fatal(err)
	}
	return &poolVIPs{m: m}
}

func (v *poolVIPs) Assign(pools []string, id string, v6 bool) (engine.VIPLease, error) {
	l, err := v.m.Acquire(pools, id, v6)
	return engine.VIPLease{Pool: l.Pool, Identity: id, Addr: l.Addr, DNS: l.DNS, NBNS: l.NBNS, DHCP: l.DHCP,
		Subnets: l.Subnets, Netmasks: l.Netmasks}, err
}

func (v *poolVIPs) Release(l engine.VIPLease) { v.m.Release(l.Pool, l.Identity, l.Addr) }

func (v *poolVIPs) Install(vpn string, local, vip netip.Addr) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.installed = append(v.installed, vip)
	return nil
}

func (v *poolVIPs) Remove(vpn string, local, vip netip.Addr) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.installed = slices.DeleteFunc(v.installed, func(a netip.Addr) bool { return a == vip })
}

func (v *poolVIPs) held(t testing.TB) int {
	return v.m.State(false)[0].Held
}

// roadWarriors returns A ("to-b", identity a.example) asking for vipReq
// and B ("from-a", any identity) serving pool "rw" from vipsB; the
// security policies have no subnet on the road warrior's side (the whole
// address space, narrowed to the virtual IP).
func roadWarriors(t testing.TB, vipsA, vipsB *poolVIPs, vipReq ...string) (a, b *peer) {
	ikeA := vpnConfig("to-b", addrA, addrB, "a.example", "b.example", "secret", "192.168.1.0/24", "192.168.2.0/24")
	ikeA.Vpn["to-b"].VipRequest = vipReq
	ikeA.Vpn["to-b"].SecurityPolicy["net"].LocalTs.Subnet = nil
	ikeB := vpnConfig("from-a", addrB, netip.Addr{}, "b.example", "a.example", "secret", "192.168.2.0/24", "192.168.1.0/24")
	ikeB.Vpn["from-a"].VipPool = []string{"rw"}
	ikeB.Vpn["from-a"].RemoteId = nil
	ikeB.Vpn["from-a"].SecurityPolicy["net"].RemoteTs.Subnet = nil
	a = newPeer(t, ikeA, addrA, func(o *engine.Options) { o.VIPs = vipsA })
	b = newPeer(t, ikeB, addrB, func(o *engine.Options) { o.VIPs = vipsB })
	return a, b
}

// roadWarrior is another initiator like A, at addr with identity id.
func roadWarrior(t testing.TB, addr netip.Addr, id string, vips *poolVIPs) *peer {
	ike := vpnConfig("to-b", addr, addrB, id, "b.example", "secret", "192.168.1.0/24", "192.168.2.0/24")
	ike.Vpn["to-b"].VipRequest = []string{"0.0.0.0"}
	ike.Vpn["to-b"].SecurityPolicy["net"].LocalTs.Subnet = nil
	return newPeer(t, ike, addr, func(o *engine.Options) { o.VIPs = vips })
}

// connectVIP runs IKE_SA_INIT and IKE_AUTH between road warrior a and b,
// checking the IKE_AUTH payloads, and returns B's response.
func connectVIP(t testing.TB, a, b *peer, wantResp string) []wire.Payload {
	t.Helper()
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b) // IKE_SA_INIT request
	deliver(t, b, a) // IKE_SA_INIT response
	// IKE_AUTH request: SK{IDi, IDr, AUTH, [N(INITIAL_CONTACT)], CP(CFG_REQUEST), SA, TSi, TSr}
	d, _ := a.net.Next()
	if _, ps := open(t, b, d); !strings.HasSuffix(summary(ps), "AUTH CP SA TSi TSr") && !strings.HasSuffix(summary(ps), "N(INITIAL_CONTACT) CP SA TSi TSr") {
		t.Fatalf("IKE_AUTH request {%s}", summary(ps))
	}
	inject(b, d, nil, a)
	return step(t, b, a, wire.ExchangeIKEAuth, true, wantResp) // IKE_AUTH response
}

const authWithVIP = "IDr AUTH CP SA TSi TSr"

// TestVIPAssigned: B assigns the first address of its pool with the DNS
// attribute; both child SAs cover the virtual IP only on A's side; A
// installs it and both states show it; the delete of the IKE SA gives it
// back to the host and the lease to the pool.
func TestVIPAssigned(t *testing.T) {
	vipsA, vipsB := &poolVIPs{}, newPoolVIPs(t, "10.8.0.1-10.8.0.2")
	a, b := roadWarriors(t, vipsA, vipsB, "0.0.0.0")
	resp := connectVIP(t, a, b, authWithVIP)
	cp := resp[2].(*wire.Configuration)
	vip := netip.MustParseAddr("10.8.0.1")
	if cp.CFGType != wire.CFGReply || len(cp.Attributes) != 2 ||
		cp.Attributes[0].Type != wire.CPInternalIP4Address || cp.Attributes[1].Type != wire.CPInternalIP4DNS {
		t.Fatalf("CFG_REPLY %+v, want INTERNAL_IP4_ADDRESS and INTERNAL_IP4_DNS (not the IPv6 DNS)", cp)
	}
	ca, cb := checkChildPair(t, a, b)
	if ca.LocalTS[0].StartAddr != vip || ca.LocalTS[0].EndAddr != vip {
		t.Errorf("A's local TS %v, want the virtual IP %s only", ca.LocalTS, vip)
	}
	if cb.RemoteTS[0].StartAddr != vip || cb.RemoteTS[0].EndAddr != vip {
		t.Errorf("B's remote TS %v, want the virtual IP %s only (RFC 7296 §2.19)", cb.RemoteTS, vip)
	}
	sa, sb := saState(t, a), saState(t, b)
	if !slices.Equal(sa.LocalVIPs, []netip.Addr{vip}) || !slices.Equal(sb.RemoteVIPs, []netip.Addr{vip}) {
		t.Errorf("states: A local-vip %v, B remote-vip %v", sa.LocalVIPs, sb.RemoteVIPs)
	}
	if !slices.Equal(sa.DNS, []netip.Addr{netip.MustParseAddr("10.9.9.9")}) {
		t.Errorf("A received DNS %v", sa.DNS)
	}
	if !slices.Equal(vipsA.installed, []netip.Addr{vip}) {
		t.Errorf("A installed %v", vipsA.installed)
	}
	if vipsB.held(t) != 1 {
		t.Errorf("B's pool holds %d leases", vipsB.held(t))
	}
	if err := a.e.FlushIKE(sa.UniqueID); err != nil {
		t.Fatal(err)
	}
	step(t, a, b, info, false, "D(IKE)") // INFORMATIONAL request: SK{D(IKE)}
	if len(vipsA.installed) != 0 || vipsB.held(t) != 0 {
		t.Errorf("after the delete: A still has %v installed, B's pool holds %d", vipsA.installed, vipsB.held(t))
	}
}

// TestVIPSameIdentityAfterReconnect: A gets its address again after it
// reconnected, though C came in between; C got the other one.
func TestVIPSameIdentityAfterReconnect(t *testing.T) {
	vipsB := newPoolVIPs(t, "10.8.0.1-10.8.0.9")
	a, b := roadWarriors(t, &poolVIPs{}, vipsB, "0.0.0.0")
	connectVIP(t, a, b, authWithVIP)
	first := saState(t, a).LocalVIPs
	a.e.FlushIKE(saState(t, a).UniqueID)
	step(t, a, b, info, false, "D(IKE)") // INFORMATIONAL request: SK{D(IKE)}
	b.net.Next()                         // its response, to an SA A no longer has
	c := roadWarrior(t, netip.MustParseAddr("10.0.0.3"), "c.example", &poolVIPs{})
	connectVIP(t, c, b, authWithVIP)
	if got := saState(t, c).LocalVIPs; slices.Equal(got, first) {
		t.Fatalf("C got A's reserved address %v", got)
	}
	connectVIP(t, a, b, authWithVIP)
	if got := saState(t, a).LocalVIPs; !slices.Equal(got, first) {
		t.Fatalf("A got %v after reconnecting, want %v", got, first)
	}
}

// TestVIPExhausted: a pool of one address serves A; C gets
// INTERNAL_ADDRESS_FAILURE and no child SA (RFC 7296 §3.10.1), counted;
// C, which asked and got none, deletes its IKE SA.
func TestVIPExhausted(t *testing.T) {
	vipsB := newPoolVIPs(t, "10.8.0.1")
	vipsC := &poolVIPs{}
	a, b := roadWarriors(t, &poolVIPs{}, vipsB, "0.0.0.0")
	connectVIP(t, a, b, authWithVIP)
	c := roadWarrior(t, netip.MustParseAddr("10.0.0.3"), "c.example", vipsC)
	connectVIP(t, c, b, "IDr AUTH N(INTERNAL_ADDRESS_FAILURE)")
	if n := b.e.VIPStats().AddressFailures; n != 1 {
		t.Errorf("B counted %d address failures", n)
	}
	if len(c.dp.Children()) != 0 || len(b.dp.Children()) != 1 || len(vipsC.installed) != 0 {
		t.Errorf("children: C %d, B %d (want 0 and A's 1); C installed %v", len(c.dp.Children()), len(b.dp.Children()), vipsC.installed)
	}
	step(t, c, b, info, false, "D(IKE)") // INFORMATIONAL request: SK{D(IKE)}, C gives up
	step(t, b, c, info, true, "")        // INFORMATIONAL response: SK{}
	if n := len(c.e.IKESAs()); n != 0 {
		t.Errorf("C keeps %d IKE SAs", n)
	}
	if n := len(b.e.IKESAs()); n != 1 {
		t.Errorf("B keeps %d IKE SAs, want A's", n)
	}
}

// TestVIPIPv6: vip-request :: gets an IPv6 address, INTERNAL_IP6_ADDRESS
// with prefix length 128 and the IPv6 DNS server.
func TestVIPIPv6(t *testing.T) {
	vipsB := newPoolVIPs(t, "10.8.0.1", "fd00:8::/120")
	a, b := roadWarriors(t, &poolVIPs{}, vipsB, "0.0.0.0", "::")
	resp := connectVIP(t, a, b, authWithVIP)
	var types []wire.CPAttributeType
	for _, at := range resp[2].(*wire.Configuration).Attributes {
		types = append(types, at.Type)
	}
	want := []wire.CPAttributeType{wire.CPInternalIP4Address, wire.CPInternalIP6Address, wire.CPInternalIP4DNS, wire.CPInternalIP6DNS}
	if !slices.Equal(types, want) {
		t.Errorf("CFG_REPLY attributes %v, want %v", types, want)
	}
	got := saState(t, a).LocalVIPs
	if len(got) != 2 || got[1] != netip.MustParseAddr("fd00:8::1") {
		t.Errorf("A's virtual IPs %v", got)
	}
}

// TestVIPFollowsIKERekey: the rekeyed IKE SA keeps the virtual IP and the
// lease; the old one's delete releases nothing.
func TestVIPFollowsIKERekey(t *testing.T) {
	vipsA, vipsB := &poolVIPs{}, newPoolVIPs(t, "10.8.0.1-10.8.0.2")
	a, b := roadWarriors(t, vipsA, vipsB, "0.0.0.0")
	connectVIP(t, a, b, authWithVIP)
	vip := saState(t, a).LocalVIPs
	if err := a.e.RekeyIKE(saState(t, a).UniqueID); err != nil {
		t.Fatal(err)
	}
	step(t, a, b, cc, false, "SA(IKE) No KE") // CREATE_CHILD_SA request: new IKE SA
	step(t, b, a, cc, true, "SA(IKE) No KE")  // CREATE_CHILD_SA response
	step(t, a, b, info, false, "D(IKE)")      // INFORMATIONAL request: delete the old IKE SA
	step(t, b, a, info, true, "")             // INFORMATIONAL response
	if got := saState(t, a).LocalVIPs; !slices.Equal(got, vip) || !slices.Equal(saState(t, b).RemoteVIPs, vip) {
		t.Errorf("after the rekey: A %v, B %v, want %v", got, saState(t, b).RemoteVIPs, vip)
	}
	if !slices.Equal(vipsA.installed, vip) || vipsB.held(t) != 1 {
		t.Errorf("after the rekey: A installed %v, B's pool holds %d", vipsA.installed, vipsB.held(t))
	}
}

// TestVIPAttributes: the pool's attributes go in the CFG_REPLY, each with
// its type and encoding (RFC 7296 §3.15.1): INTERNAL_IP4_SUBNET as
// address and netmask, INTERNAL_IP6_SUBNET as address and prefix length.
func TestVIPAttributes(t *testing.T) {
	vipsB := newPoolVIPs(t, "10.8.0.1", "fd00:8::1")
	vipsB.m.Set([]pool.Config{{Name: "rw", Ranges: []pool.Range{{First: netip.MustParseAddr("10.8.0.1"), Last: netip.MustParseAddr("10.8.0.1")},
		{First: netip.MustParseAddr("fd00:8::1"), Last: netip.MustParseAddr("fd00:8::1")}},
		Attributes: pool.Attributes{NBNS: []netip.Addr{netip.MustParseAddr("10.9.0.4")}, DHCP: []netip.Addr{netip.MustParseAddr("10.9.0.5"), netip.MustParseAddr("fd00:9::5")},
			Subnets:  []netip.Prefix{netip.MustParsePrefix("10.100.0.0/16"), netip.MustParsePrefix("fd00:100::/64")},
			Netmasks: []netip.Addr{netip.MustParseAddr("255.255.0.0")}}}})
	a, b := roadWarriors(t, &poolVIPs{}, vipsB, "0.0.0.0", "::")
	resp := connectVIP(t, a, b, authWithVIP)
	var got []string
	for _, at := range resp[2].(*wire.Configuration).Attributes {
		got = append(got, fmt.Sprintf("%d:%x", at.Type, at.Value))
	}
	want := []string{"1:0a080001", "8:fd00000800000000000000000000000180", "4:0a090004", "6:0a090005", "12:fd000009000000000000000000000005",
		"2:ffff0000", "13:0a640000ffff0000", "15:fd00010000000000000000000000000040"}
	if !slices.Equal(got, want) {
		t.Errorf("CFG_REPLY attributes\n%v, want\n%v", got, want)
	}
}

// TestVIPNotAskedNarrowedToPeer: a peer of a VPN with vip-pool that asks
// for no address gets a child SA narrowed to its IKE address, not the
// whole space the unset remote-ts leaves open.
func TestVIPNotAskedNarrowedToPeer(t *testing.T) {
	a, b := roadWarriors(t, &poolVIPs{}, newPoolVIPs(t, "10.8.0.1"))
	establish(t, a, b)
	_, cb := checkChildPair(t, a, b)
	if cb.RemoteTS[0].StartAddr != addrA || cb.RemoteTS[0].EndAddr != addrA {
		t.Errorf("B's remote TS %v, want A's address %s only", cb.RemoteTS, addrA)
	}
	if s := saState(t, b); len(s.RemoteVIPs) != 0 {
		t.Errorf("B gave %v to a peer that did not ask", s.RemoteVIPs)
	}
}
