package daemon

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
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
	"secgw/internal/routes/routestest"
)

// BenchmarkGroupedInstall10k installs 10k child SAs (one per peer, a /32
// each, AES-GCM-256) into the userspace dataplane with their routes,
// from 16 goroutines at once as the engine's 16 workers do in
// bench-ike: each child SA alone (no group) and through the group
// commit (childGroup). ns/op and B/op are the 10k; applies/op counts
// the batches.
func BenchmarkGroupedInstall10k(b *testing.B) {
	const n, workers = 10000, 16
	cs := make([]engine.ChildSA, n)
	for i := range cs {
		peer := netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)})
		inner := netip.AddrFrom4([4]byte{10, 200, byte(i >> 8), byte(i)})
		cs[i] = engine.ChildSA{
			VPN: "load", Policy: "net", UniqueID: uint32(i + 1), InSPI: uint32(0x10000000 + i), OutSPI: uint32(0x20000000 + i),
			Local: netip.MustParseAddrPort("203.0.113.2:4500"), Remote: netip.AddrPortFrom(peer, 4500), Encap: true,
			Suite: ikecrypto.Suite{Encr: ipsec.EncrAESGCM16, KeyBits: 256},
			In:    engine.DirKeys{Encr: make([]byte, 36)}, Out: engine.DirKeys{Encr: make([]byte, 36)},
			LocalTS: []ipsec.TrafficSelector{{Type: ipsec.TSIPv4AddrRange, StartAddr: netip.IPv4Unspecified(),
				EndAddr: netip.AddrFrom4([4]byte{255, 255, 255, 255}), EndPort: 65535}},
			RemoteTS:  []ipsec.TrafficSelector{{Type: ipsec.TSIPv4AddrRange, StartAddr: inner, EndAddr: inner, EndPort: 65535}},
			Mode:      config.ModeTunnel,
			Lifetimes: config.ChildLifetimes{RekeyTime: 3000 * time.Second, LifeTime: 3600 * time.Second, ReplayWindow: 32},
		}
	}
	for _, grouped := range []bool{false, true} {
		b.Run(fmt.Sprintf("grouped=%v", grouped), func(b *testing.B) {
			applies := 0
			for b.Loop() {
				b.StopTimer()
				dp, err := userspace.New(userspace.Options{TUN: []edge.Device{edgetest.NewTUN(1)}, Bind: edgetest.NewNet().Bind(netip.MustParseAddrPort("203.0.113.2:4500"))})
				if err != nil {
					b.Fatal(err)
				}
				f := routestest.New()
				f.AddLink("secgw0")
				f.AddLink("lan", "203.0.113.2/24")
				r := newRouting(f, "secgw0", slog.New(slog.DiscardHandler))
				r.start(deviceWithRoutes(220, 220))
				prog := childsa.NewProgrammer(childsa.ProgrammerOptions{Dataplane: dp, NoFwd: true, InTimeLimits: true})
				p := routedProgrammer{Programmer: prog, routes: r}
				if grouped {
					p = newRoutedProgrammer(prog, r, nil)
				}
				b.StartTimer()
				var wg sync.WaitGroup
				for w := range workers {
					wg.Go(func() {
						for i := w; i < n; i += workers {
							if err := p.InstallChild(cs[i]); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				if grouped {
					bs, _ := p.installs.stats()
					applies += bs
				} else {
					applies += n
				}
				r.close()
				dp.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(applies)/float64(b.N), "applies/op")
		})
	}
}
