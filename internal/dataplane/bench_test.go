package dataplane

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
)

// bigState returns n children: 2n SAs and 3n policies (about 10k SAs and
// 15k policies for n = 5000).
func bigState(n int) State {
	var s State
	for i := 0; i < n; i++ {
		in, out := gcmPair(uint32(0x10000+i), uint32(0x20000+i), OwnedReqIDs.Min+uint32(i))
		s.SAs = append(s.SAs, in, out)
		var l, r [4]byte
		binary.BigEndian.PutUint32(l[:], 0x0a000000|uint32(i)<<8)
		binary.BigEndian.PutUint32(r[:], 0x0b000000|uint32(i)<<8)
		lp := netip.PrefixFrom(netip.AddrFrom4(l), 24)
		rp := netip.PrefixFrom(netip.AddrFrom4(r), 24)
		s.Policies = append(s.Policies, tunnelPolicies(lp.String(), rp.String(), OwnedReqIDs.Min+uint32(i))...)
	}
	return s
}

// BenchmarkReconcileIdleFake: an idle reconcile (nothing to do) of 10k SAs
// and 15k policies against the Fake. Target: < 20 ms.
func BenchmarkReconcileIdleFake(b *testing.B) {
	f := NewFake()
	r := NewReconciler(f, nil)
	want := bigState(5000)
	ctx := context.Background()
	if _, err := r.Reconcile(ctx, want); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep, err := r.Reconcile(ctx, want)
		if err != nil || rep.Ops != 0 {
			b.Fatalf("idle reconcile: %d ops, %v", rep.Ops, err)
		}
	}
	b.ReportMetric(float64(len(want.SAs)+len(want.Policies)), "entries")
}

// BenchmarkPlanIdle isolates the diff from the Fake's List copy.
func BenchmarkPlanIdle(b *testing.B) {
	want := bigState(5000)
	have := clone(want)
	b.ReportAllocs()
	for b.Loop() {
		if ops, _, _ := Plan(want, have); len(ops) != 0 {
			b.Fatal(len(ops))
		}
	}
}
