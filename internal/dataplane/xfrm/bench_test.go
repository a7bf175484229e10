package xfrm

import (
	"context"
	"net"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"secgw/internal/dataplane"
	"secgw/internal/netnsutil"
	"secgw/internal/netnsutil/netnstest"
)

// BenchmarkPolicyOps measures the policy programming rate: each iteration
// adds 10k policies in one Apply and deletes them in another (20k ops).
// Target: >= 100k policy ops/s batched.
func BenchmarkPolicyOps(b *testing.B) {
	const n = 10000
	want := policyState(n)
	add := make([]dataplane.Op, n)
	del := make([]dataplane.Op, n)
	for i := range want.Policies {
		add[i] = dataplane.Op{Kind: dataplane.AddPolicy, Policy: &want.Policies[i]}
		del[i] = dataplane.Op{Kind: dataplane.DeletePolicy, Policy: &want.Policies[i]}
	}
	for _, c := range []struct {
		name string
		hash *SPDHash
	}{
		{"batched/default-hash", nil},
		{"batched/hash-24-24", &SPDHash{24, 24, 128, 128}},
	} {
		b.Run(c.name, func(b *testing.B) {
			d := newDP(b, netnstest.NewNS(b), false)
			if c.hash != nil {
				if err := d.SetSPDHash(*c.hash); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			for b.Loop() {
				if err := d.Apply(ctx, add); err != nil {
					b.Fatal(err)
				}
				if err := d.Apply(ctx, del); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(2*n*b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
	// For comparison: the netlink library, one request and ack per op.
	b.Run("library-per-op/hash-24-24", func(b *testing.B) {
		ns := netnstest.NewNS(b)
		d := newDP(b, ns, false)
		d.SetSPDHash(SPDHash{24, 24, 128, 128})
		h, err := netlink.NewHandleAt(ns, unix.NETLINK_XFRM)
		if err != nil {
			b.Fatal(err)
		}
		defer h.Close()
		pols := make([]netlink.XfrmPolicy, n)
		for i, p := range want.Policies {
			pols[i] = netlink.XfrmPolicy{Src: netnsutil.IPNet(p.Sel.Src), Dst: netnsutil.IPNet(p.Sel.Dst), Dir: netlink.Dir(p.Dir - 1), Priority: int(p.Priority),
				Tmpls: []netlink.XfrmPolicyTmpl{{Src: net.IP(p.Tmpl.Src.AsSlice()), Dst: net.IP(p.Tmpl.Dst.AsSlice()), Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TUNNEL, Reqid: int(p.Tmpl.ReqID)}}}
		}
		for b.Loop() {
			for i := range pols {
				if err := h.XfrmPolicyAdd(&pols[i]); err != nil {
					b.Fatal(err)
				}
			}
			for i := range pols {
				if err := h.XfrmPolicyDel(&pols[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(2*n*b.N)/b.Elapsed().Seconds(), "ops/s")
	})
}

// BenchmarkReconcileIdleKernel: an idle reconcile (dump, decode, diff, no
// op) of 10k policies in the host kernel. This kernel has no ESP, so no
// SAs; the VM test measures nothing of speed.
func BenchmarkReconcileIdleKernel(b *testing.B) {
	d := newDP(b, netnstest.NewNS(b), false)
	d.SetSPDHash(SPDHash{24, 24, 128, 128})
	want := policyState(10000)
	r := dataplane.NewReconciler(d, nil)
	ctx := context.Background()
	if _, err := r.Reconcile(ctx, want); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rep, err := r.Reconcile(ctx, want)
		if err != nil || rep.Ops != 0 {
			b.Fatalf("%d ops, %v", rep.Ops, err)
		}
	}
}
