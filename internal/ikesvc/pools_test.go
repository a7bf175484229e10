package ikesvc

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"

	"secgw/generated"
	"secgw/internal/datastore"
	"secgw/internal/ike/engine/enginetest"
	"secgw/internal/pool"
	"secgw/internal/rpcerr"
)

// newPoolService is newService with a lease store in dir.
func newPoolService(t *testing.T, port uint16, dir string) *Service {
	m, err := pool.Open(pool.Options{Path: filepath.Join(dir, "leases")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	s := New(Options{Dataplane: enginetest.NewDataplane(), DataplaneKind: "userspace", PortIKE: port, PortNATT: port + 1,
		Pools: m, Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	t.Cleanup(func() { s.Close() })
	return s
}

// concentrator is a responder VPN "rw" accepting any identity, with an
// ike pool "p" (two addresses and every attribute) and an ha pool "h".
func concentrator() *generated.Device {
	d := device("rw", "127.0.0.2", "", "b.example", "", "10.2.0.0/16", "10.1.0.0/16")
	ike := d.Vrf["main"].Ike
	ike.Vpn["rw"].RemoteId = nil
	ike.Vpn["rw"].SecurityPolicy["net"].RemoteTs.Subnet = nil
	ike.Vpn["rw"].VipPool = []string{"p", "h"}
	ike.Pool = map[string]*generated.SecgwVrf_Vrf_Ike_Pool{"p": {Name: ptr2("p"),
		Address: []string{"10.8.0.0/30"}, Dns: []string{"10.9.0.53", "fd00:9::53"}, Nbns: []string{"10.9.0.4"},
		Dhcp: []string{"10.9.0.5"}, Subnet: []string{"10.100.0.0/16", "fd00:100::/64"}, Netmask: []string{"255.255.0.0"}}}
	ike.Ha = &generated.SecgwVrf_Vrf_Ike_Ha{Pool: map[string]*generated.SecgwVrf_Vrf_Ike_Ha_Pool{"h": {Name: ptr2("h"),
		Address: []string{"10.8.1.1-10.8.1.2"}, Dns: []string{"10.9.1.53"}}}}
	return d
}

// TestPoolAttributes: the pools of the configuration reach the engine
// with their attributes (nbns, dhcp, subnet, netmask, dns), the VPN's
// vip-pool list in order and the ha pool working like an ike pool on a
// single node; what cannot be served is refused at commit.
func TestPoolAttributes(t *testing.T) {
	s := newPoolService(t, 15620, t.TempDir())
	if err := s.Start(concentrator()); err != nil {
		t.Fatal(err)
	}
	v := vipAdapter{s}
	l, err := v.Assign([]string{"p", "h"}, "alice", false)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint(netip.MustParseAddr("10.8.0.1"), []netip.Addr{netip.MustParseAddr("10.9.0.53"), netip.MustParseAddr("fd00:9::53")},
		[]netip.Addr{netip.MustParseAddr("10.9.0.4")}, []netip.Addr{netip.MustParseAddr("10.9.0.5")},
		[]netip.Prefix{netip.MustParsePrefix("10.100.0.0/16"), netip.MustParsePrefix("fd00:100::/64")},
		[]netip.Addr{netip.MustParseAddr("255.255.0.0")})
	if got := fmt.Sprint(l.Addr, l.DNS, l.NBNS, l.DHCP, l.Subnets, l.Netmasks); got != want {
		t.Errorf("lease %s, want %s", got, want)
	}
	v.Assign([]string{"p", "h"}, "bob", false) // 10.8.0.2: p is full
	if l, err := v.Assign([]string{"p", "h"}, "carol", false); err != nil || l.Pool != "h" || l.Addr.String() != "10.8.1.1" {
		t.Errorf("carol got %+v %v, want the ha pool's first address", l, err)
	}
	st := s.State(false)
	if p := st.PoolState["h"]; p == nil || !p.GetHa() || p.GetSize() != 2 || p.GetHeld() != 1 || p.Lease["10.8.1.1"].GetIdentity() != "carol" {
		t.Errorf("pool-state h: %+v", p)
	}
	if p := st.PoolState["p"]; p == nil || p.GetHa() || p.GetSize() != 2 || p.GetLeased() != 2 {
		t.Errorf("pool-state p: %+v", p)
	}
	for _, c := range []struct {
		name string
		mod  func(*generated.SecgwVrf_Vrf_Ike)
		want string
		tag  bool // operation-not-supported
	}{
		{"IPv6 nbns", func(ike *generated.SecgwVrf_Vrf_Ike) { ike.Pool["p"].Nbns = []string{"fd00::4"} }, "RFC 7296 has no IPv6 nbns attribute", true},
		{"IPv6 netmask", func(ike *generated.SecgwVrf_Vrf_Ike) { ike.Pool["p"].Netmask = []string{"ffff::"} }, "RFC 7296 has no IPv6 netmask attribute", true},
		{"unknown pool", func(ike *generated.SecgwVrf_Vrf_Ike) { ike.Vpn["rw"].VipPool = []string{"p", "nope"} }, "vip-pool nope: no ike pool or ha pool", false},
		{"bad range", func(ike *generated.SecgwVrf_Vrf_Ike) { ike.Pool["p"].Address = []string{"10.8.0.9-10.8.0.1"} }, "must go up", false},
	} {
		d := concentrator()
		c.mod(d.Vrf["main"].Ike)
		err := s.Prepare(&datastore.Tx{ID: 7, New: d, Old: &generated.Device{}})
		var re *rpcerr.Error
		if err == nil || !contains(err.Error(), c.want) || errors.As(err, &re) != c.tag {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
		s.Abort(&datastore.Tx{ID: 7})
	}
}

func contains(s, sub string) bool { return indexOf(s, sub) >= 0 }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// TestVIPOverLoopback: a road warrior service with vip-request gets an
// address of the concentrator's pool over loopback; both states show it
// (local-vip, remote-vip, the pool's lease by identity), and a restart of
// the concentrator's lease store keeps the lease for the identity.
func TestVIPOverLoopback(t *testing.T) {
	dir := t.TempDir()
	b := newPoolService(t, 15630, dir)
	if err := b.Start(concentrator()); err != nil {
		t.Fatal(err)
	}
	a := newPoolService(t, 15630, t.TempDir())
	ra := device("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")
	ra.Vrf["main"].Ike.Vpn["to-b"].VipRequest = []string{"0.0.0.0"}
	ra.Vrf["main"].Ike.Vpn["to-b"].SecurityPolicy["net"].LocalTs.Subnet = nil
	if err := a.Start(ra); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Call(context.Background(), xml.Name{Space: NS, Local: "initiate"},
		[]byte(`<initiate xmlns="urn:secgw:yang:secgw-ike"><ike-sa><vpn>to-b</vpn></ike-sa></initiate>`)); err != nil {
		t.Fatal(err)
	}
	var sa *generated.SecgwVrf_Vrf_Ike_IkeSa
	for _, x := range a.State(false).IkeSa {
		sa = x
	}
	if sa == nil || !slices.Equal(sa.LocalVip, []string{"10.8.0.1"}) {
		t.Fatalf("A's IKE SA %+v, want local-vip 10.8.0.1", sa)
	}
	var sb *generated.SecgwVrf_Vrf_Ike_IkeSa
	for _, x := range b.State(false).IkeSa {
		sb = x
	}
	if sb == nil || !slices.Equal(sb.RemoteVip, []string{"10.8.0.1"}) {
		t.Fatalf("B's IKE SA %+v, want remote-vip 10.8.0.1", sb)
	}
	if l := b.State(false).PoolState["p"].Lease["10.8.0.1"]; l.GetIdentity() != "a.example" || l.GetHolders() != 1 {
		t.Fatalf("B's lease %+v", l)
	}
	// The lease file B wrote holds the lease for a.example.
	b.o.Pools.Close()
	m, err := pool.Open(pool.Options{Path: filepath.Join(dir, "leases")})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ps, _ := resolvePools(concentrator().Vrf["main"].Ike)
	m.Set(ps)
	if l, err := m.Acquire([]string{"p"}, "a.example", false); err != nil || l.Addr.String() != "10.8.0.1" || !l.Reused {
		t.Fatalf("after reopening the lease file: %+v %v", l, err)
	}
}
