package childsa_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"secgw/internal/dataplane/childsa"
	"secgw/internal/dataplane/userspace"
	"secgw/internal/edge"
	"secgw/internal/edge/edgetest"
	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/engine"
	"secgw/internal/ipsec"
)

// BenchmarkInstall10k installs the child SAs of an HA takeover at 10k
// tunnels (one child SA per peer, AES-GCM-256, a /32 each) into the
// userspace dataplane: one by one (InstallChild, as before batching) and
// in batches of 625 (InstallChildren, one per IKE worker of 16). ns/op is
// the 10k.
func BenchmarkInstall10k(b *testing.B) {
	const n = 10000
	cs := make([]engine.ChildSA, n)
	for i := range cs {
		peer := netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)})
		inner := netip.AddrFrom4([4]byte{10, 200, byte(i >> 8), byte(i)})
		cs[i] = engine.ChildSA{
			VPN: "load", Policy: "net", InSPI: uint32(0x10000000 + i), OutSPI: uint32(0x20000000 + i),
			Local: netip.MustParseAddrPort("203.0.113.2:4500"), Remote: netip.AddrPortFrom(peer, 4500), Encap: true,
			Suite: ikecrypto.Suite{Encr: ipsec.EncrAESGCM16, KeyBits: 256},
			In:    engine.DirKeys{Encr: make([]byte, 36)}, Out: engine.DirKeys{Encr: make([]byte, 36)},
			LocalTS: []ipsec.TrafficSelector{{Type: ipsec.TSIPv4AddrRange, StartAddr: netip.IPv4Unspecified(),
				EndAddr: netip.AddrFrom4([4]byte{255, 255, 255, 255}), EndPort: 65535}},
			RemoteTS: []ipsec.TrafficSelector{{Type: ipsec.TSIPv4AddrRange, StartAddr: inner, EndAddr: inner, EndPort: 65535}},
			Mode:     config.ModeTunnel, OSeq: 65536,
			Lifetimes: config.ChildLifetimes{RekeyTime: 3000 * time.Second, LifeTime: 3600 * time.Second, ReplayWindow: 32},
		}
	}
	for _, batch := range []int{1, n / 16} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				dp, err := userspace.New(userspace.Options{TUN: []edge.Device{edgetest.NewTUN(1)}, Bind: edgetest.NewNet().Bind(netip.MustParseAddrPort("203.0.113.2:4500"))})
				if err != nil {
					b.Fatal(err)
				}
				p := childsa.NewProgrammer(childsa.ProgrammerOptions{Dataplane: dp})
				b.StartTimer()
				for i := 0; i < n; i += batch {
					if batch == 1 {
						if err := p.InstallChild(cs[i]); err != nil {
							b.Fatal(err)
						}
						continue
					}
					if errs := p.InstallChildren(cs[i:min(i+batch, n)]); errs != nil {
						b.Fatal(errs)
					}
				}
				b.StopTimer()
				dp.Close()
				b.StartTimer()
			}
		})
	}
}
