package userspace

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"secgw/internal/dataplane"
	"secgw/internal/edge"
	"secgw/internal/edge/edgetest"
)

// newScaleDP returns a dataplane on an in-memory TUN and Bind, for tests
// that fill its tables.
func newScaleDP(tb testing.TB) *Dataplane {
	tb.Helper()
	n := edgetest.NewNet()
	d, err := New(Options{
		TUN:  []edge.Device{edgetest.NewTUN(16)},
		Bind: n.Bind(netip.AddrPortFrom(gwA, 4500)),
		Tick: time.Hour, Readers: 1,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}

// scaleAddr is the i-th address after base (IPv4).
func scaleAddr(base string, i int) netip.Addr {
	a := netip.MustParseAddr(base).As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(i)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// scaleFlow is the packet flow child i's out policy protects.
func scaleFlow(i int) flow {
	return flow{src: scaleAddr("100.64.0.0", i), dst: scaleAddr("10.0.0.0", i), proto: protoUDP, srcPort: 1000, dstPort: 2000}
}

// scaleChild returns the ops that install child i the way the programmer
// does: its inbound and outbound SAs, then its out and in policies, with
// host selectors (local host i to remote host i) through peer i.
func scaleChild(i int) []dataplane.Op {
	peer := scaleAddr("198.18.0.0", i)
	f := scaleFlow(i)
	out, _ := saPair(suites[0], gwA, peer, 0x20000000+uint32(i), uint32(i)+1)
	_, in := saPair(suites[0], peer, gwA, 0x10000000+uint32(i), uint32(i)+1)
	pols := policies(netip.PrefixFrom(f.src, 32), netip.PrefixFrom(f.dst, 32), gwA, peer, uint32(i)+1)
	return ops([]dataplane.SA{in, out}, pols)
}

// fillScale installs children 0..n-1 in one batch.
func fillScale(tb testing.TB, d *Dataplane, n int) {
	tb.Helper()
	var all []dataplane.Op
	for i := range n {
		all = append(all, scaleChild(i)...)
	}
	if err := d.Apply(context.Background(), all); err != nil {
		tb.Fatal(err)
	}
}

// TestApplyInstallWorkBounded: installing one more child costs the same
// whether the tables hold 10 or 10,000 children. The work is counted as
// the octets the Apply allocates (copies of table entries, index nodes,
// the SA's crypto state), not timed; a dataplane that copied or rebuilt
// whole tables per batch allocates in proportion to what is installed
// (measured before the tables were persistent: 23 KB with 10 children,
// 58 MB with 10,000).
func TestApplyInstallWorkBounded(t *testing.T) {
	perInstall := func(n int) uint64 {
		d := newScaleDP(t)
		fillScale(t, d, n)
		best := ^uint64(0)
		for k := range 5 {
			batch := scaleChild(n + k)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := d.Apply(context.Background(), batch)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			best = min(best, after.TotalAlloc-before.TotalAlloc)
		}
		return best
	}
	small, large := perInstall(10), perInstall(10_000)
	t.Logf("octets allocated per install: %d with 10 children, %d with 10,000", small, large)
	// The persistent maps copy a path of log32(n) nodes per op: 10,000
	// children are 1,000 times 10, and an install may cost a few times
	// more (measured: about 4), not hundreds.
	if large > 8*small {
		t.Errorf("installing one child into 10,000 allocates %d octets, into 10 %d: the work grows with the tables", large, small)
	}
}

// BenchmarkApplyInstall is the cost of installing one child (two SAs, two
// policies, one Apply) into tables of 1k, 10k and 100k children.
func BenchmarkApplyInstall(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			d := newScaleDP(b)
			fillScale(b, d, n)
			ctx := context.Background()
			next := n
			for b.Loop() {
				b.StopTimer()
				batch := scaleChild(next)
				next++
				b.StartTimer()
				if err := d.Apply(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLookupOut is the outbound SPD lookup among 1k, 10k and 100k
// host-to-host policies.
func BenchmarkLookupOut(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			d := newScaleDP(b)
			fillScale(b, d, n)
			flows := make([]flow, 1024)
			for i := range flows {
				flows[i] = scaleFlow((i * 7919) % n)
			}
			t := d.tables.Load()
			i := 0
			for b.Loop() {
				if t.lookupOut(&flows[i%len(flows)]) == nil {
					b.Fatal("no policy")
				}
				i++
			}
		})
	}
}
