package childsa

import (
	"net/netip"
	"testing"

	"secgw/internal/dataplane"
	"secgw/internal/ike/engine"
	"secgw/internal/ipsec"
)

// remoteAccessChild is child SA i of a concentrator: its own peer address
// and inner address, as the load generator's tunnels have.
func remoteAccessChild(i int) engine.ChildSA {
	c := testChild(uint32(0x10000+i), uint32(0x20000+i))
	c.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 98, byte(i >> 8), byte(i)}), 4500)
	inner := netip.AddrFrom4([4]byte{10, 200, byte(i >> 8), byte(i)})
	c.RemoteTS = []ipsec.TrafficSelector{{Type: ipsec.TSIPv4AddrRange, StartAddr: inner, EndAddr: inner, EndPort: 65535}}
	return c
}

// BenchmarkInstallDeleteChild installs and deletes one child SA beside 10k
// installed ones on the Fake dataplane: the Programmer's cost per child
// SA (time, allocations, bytes) on the setup and rekey path.
func BenchmarkInstallDeleteChild(b *testing.B) {
	p := NewProgrammer(ProgrammerOptions{Dataplane: dataplane.NewFake()})
	for i := range 10000 {
		if err := p.InstallChild(remoteAccessChild(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		c := remoteAccessChild(10000 + i%50000)
		if err := p.InstallChild(c); err != nil {
			b.Fatal(err)
		}
		if err := p.DeleteChild(c); err != nil {
			b.Fatal(err)
		}
	}
}
