//go:build vmtest

package kernel

import (
	"context"
	"net/netip"
	"testing"

	"secgw/internal/dataplane"
	"secgw/internal/dataplane/xfrm"
)

// clearPolicies are the policies of a pass (Bypass) or drop (Discard)
// security policy on side s towards peer, as childsa.ClearEntries writes
// them: out from s's inner address to the peer's, in and fwd back, at a
// priority better than the child's (100).
func clearPolicies(s, peer *side, act dataplane.Action) []dataplane.Policy {
	l := netip.PrefixFrom(s.inner, s.inner.BitLen())
	r := netip.PrefixFrom(peer.inner, peer.inner.BitLen())
	out := dataplane.Selector{Src: l, Dst: r}
	back := dataplane.Selector{Src: r, Dst: l}
	return []dataplane.Policy{
		{Sel: back, Dir: dataplane.In, Priority: 50, Action: act},
		{Sel: back, Dir: dataplane.Fwd, Priority: 50, Action: act},
		{Sel: out, Dir: dataplane.Out, Priority: 50, Action: act},
	}
}

// setClear adds (or with nil, removes) s's clear policies and reconciles.
func setClear(t *testing.T, s *side, pols []dataplane.Policy) {
	t.Helper()
	kept := s.want.Policies[:0:0]
	for _, p := range s.want.Policies {
		if p.Action == dataplane.Protect {
			kept = append(kept, p)
		}
	}
	s.want.Policies = append(kept, pols...)
	if rep, err := s.rec.Reconcile(context.Background(), clone(s.want)); err != nil {
		t.Fatalf("reconcile: %v %v", err, rep.Changes)
	}
	// The kernel lists them back as they were written: an idle reconcile
	// sends nothing (the policies are owned, action included).
	if rep, err := s.rec.Reconcile(context.Background(), clone(s.want)); err != nil || rep.Ops != 0 {
		t.Fatalf("idle reconcile: %d ops %v %v", rep.Ops, rep.Changes, err)
	}
}

func outPackets(t *testing.T, a, b *side, c child) uint64 {
	t.Helper()
	k, err := a.dp.Counters(context.Background(), c.outSA(b))
	if err != nil {
		t.Fatal(err)
	}
	return k.Packets
}

// TestBlockPolicy: security-policy action drop. A block policy more
// specific than (here: of a better priority than) the child's drops the
// pings the child would carry, in the kernel, before ESP; removing it
// lets them through the tunnel again.
func TestBlockPolicy(t *testing.T) {
	a, b := setup(t, topo{})
	c := with(gcm256, func(c *child) { c.spi = 0x9000 })
	install(t, a, b, c)
	setClear(t, a, clearPolicies(a, b, dataplane.Discard))
	n, err := ping(a.ns, a.inner, b.inner, 2)
	if err != nil {
		t.Logf("ping with the block policy: %v", err) // EPERM from the output path is a drop too
	}
	if n != 0 {
		t.Fatalf("%d echo replies through a block policy", n)
	}
	if p := outPackets(t, a, b, c); p != 0 {
		t.Fatalf("the out SA carried %d packets through a block policy", p)
	}
	// Inbound: B's pings to A meet A's block in/fwd policies.
	n, _ = ping(b.ns, b.inner, a.inner, 2)
	if n != 0 {
		t.Fatalf("%d echo replies from A through its block policies", n)
	}
	setClear(t, a, nil)
	traffic(t, a, b, c, a.inner, b.inner)
}

// TestAllowPolicy: security-policy action pass. Allow policies of a
// better priority than the child's let the pings go in clear on both
// sides: replies come back and the child's SAs carry none of them.
func TestAllowPolicy(t *testing.T) {
	a, b := setup(t, topo{})
	c := with(gcm256, func(c *child) { c.spi = 0xa000 })
	install(t, a, b, c)
	setClear(t, a, clearPolicies(a, b, dataplane.Bypass))
	setClear(t, b, clearPolicies(b, a, dataplane.Bypass))
	n, err := ping(a.ns, a.inner, b.inner, 4)
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Fatalf("%d of 4 echo replies through allow policies", n)
	}
	if p := outPackets(t, a, b, c); p != 0 {
		t.Fatalf("the out SA carried %d packets: the allow policy did not bypass IPsec", p)
	}
	k, err := a.dp.Counters(context.Background(), c.inSA(a))
	if err != nil || k.Packets != 0 {
		t.Fatalf("A's in SA: %+v %v: the replies were not in clear", k, err)
	}
	// Without them the same pings go through ESP.
	setClear(t, a, nil)
	setClear(t, b, nil)
	traffic(t, a, b, c, a.inner, b.inner)
}

// TestXFRMInterfaceNoCapture: svti-id-in/out. Policies with an if_id,
// wildcard selectors included, only apply to the traffic routed through
// the XFRM interface of that id: the pings between the outer addresses,
// routed on the veth, go in clear, while the inner ones go through the
// interface and ESP.
func TestXFRMInterfaceNoCapture(t *testing.T) {
	a, b := setup(t, topo{ifID: 9})
	c := with(gcm256, func(c *child) { c.ifID, c.anySel, c.spi = 9, true, 0xb000 })
	install(t, a, b, c)
	n, err := ping(a.ns, a.outer, b.outer, 3)
	if err != nil || n < 2 {
		t.Fatalf("%d echo replies between the outer addresses, %v", n, err)
	}
	if p := outPackets(t, a, b, c); p != 0 {
		t.Fatalf("the 0.0.0.0/0 if_id policies captured %d packets not routed through the interface", p)
	}
	traffic(t, a, b, c, a.inner, b.inner)
}

// TestSPDHash: global-options sp-hash-ipv4/ipv6 as the daemon sets them
// (xfrm.Dataplane.SetSPDHash at start and commit) on Debian's kernel: the
// thresholds read back by XFRM_MSG_GETSPDINFO, and policies of the hashed
// prefix lengths still carry traffic after the rebuild.
func TestSPDHash(t *testing.T) {
	a, b := setup(t, topo{})
	want := xfrm.SPDHash{IPv4Local: 16, IPv4Remote: 16, IPv6Local: 64, IPv6Remote: 64}
	for _, s := range []*side{a, b} {
		if err := s.dp.SetSPDHash(want); err != nil {
			t.Fatal(err)
		}
		info, err := s.dp.SPDInfo()
		if err != nil || info.Hash != want {
			t.Fatalf("SPD info %+v %v, want thresholds %+v", info, err, want)
		}
	}
	c := with(gcm256, func(c *child) { c.spi = 0xc000 })
	install(t, a, b, c)
	traffic(t, a, b, c, a.inner, b.inner)
}
