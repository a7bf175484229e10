package userspace

import (
	"context"
	"net/netip"
	"testing"

	"secgw/internal/dataplane"
)

// clearOps are the ops of a drop (Discard) or pass (Bypass) security
// policy from local to remote, as childsa.ClearEntries writes them (out,
// in, fwd), at a priority better than the tunnel's (100); del removes
// them.
func clearOps(local, remote netip.Prefix, act dataplane.Action, del bool) []dataplane.Op {
	kind := dataplane.AddPolicy
	if del {
		kind = dataplane.DeletePolicy
	}
	out := dataplane.Selector{Src: local, Dst: remote}
	back := dataplane.Selector{Src: remote, Dst: local}
	var ops []dataplane.Op
	for _, p := range []dataplane.Policy{
		{Sel: back, Dir: dataplane.In, Priority: 50, Action: act},
		{Sel: back, Dir: dataplane.Fwd, Priority: 50, Action: act},
		{Sel: out, Dir: dataplane.Out, Priority: 50, Action: act},
	} {
		ops = append(ops, dataplane.Op{Kind: kind, Policy: &p})
	}
	return ops
}

// TestNetnsDropPolicy: security-policy action drop in the userspace
// dataplane with real traffic. Inside the tunnel's 172.16.1.0/24 <->
// 172.16.2.0/24, a drop policy between the two inner hosts drops the
// pings A sends into its TUN (outbound, before ESP) and, on B, the pings
// that arrive through the tunnel (inbound, after decryption), as the
// kernel's block policies do; its removal lets them through again.
func TestNetnsDropPolicy(t *testing.T) {
	a, b := newNetnsPair(t)
	installSuite(t, a, b, suites[0], 0x9000)
	ping(t, a.ns, innerB)
	ctx := context.Background()
	hostA, hostB := netip.PrefixFrom(innerA, 32), netip.PrefixFrom(innerB, 32)

	// Outbound, on A.
	if err := a.dp.Apply(ctx, clearOps(hostA, hostB, dataplane.Discard, false)); err != nil {
		t.Fatal(err)
	}
	before, sa := a.dp.Stats().Discard, dataplane.SAKey{Dst: vethB, SPI: 0x9001}
	sent, _ := a.dp.Counters(ctx, sa)
	if tryPing(t, a.ns, innerB, 2) {
		t.Fatal("an echo reply through A's drop policy")
	}
	if n := a.dp.Stats().Discard - before; n < 2 {
		t.Errorf("A discarded %d packets, want the 2 echo requests", n)
	}
	if after, _ := a.dp.Counters(ctx, sa); after.Packets != sent.Packets {
		t.Errorf("A's out SA carried %d packets through a drop policy", after.Packets-sent.Packets)
	}
	if err := a.dp.Apply(ctx, clearOps(hostA, hostB, dataplane.Discard, true)); err != nil {
		t.Fatal(err)
	}
	ping(t, a.ns, innerB)

	// Inbound, on B: the pings arrive in ESP and are dropped once open.
	// Only the In policy: B's replies would otherwise meet its Out one.
	inOnly := clearOps(hostB, hostA, dataplane.Discard, false)[:1]
	if err := b.dp.Apply(ctx, inOnly); err != nil {
		t.Fatal(err)
	}
	before = b.dp.Stats().Discard
	if tryPing(t, a.ns, innerB, 2) {
		t.Fatal("an echo reply through B's drop policy")
	}
	if n := b.dp.Stats().Discard - before; n < 2 {
		t.Errorf("B discarded %d packets, want the 2 echo requests it decrypted", n)
	}
	if st := b.dp.Stats(); st.Auth != 0 || st.Selector != 0 {
		t.Errorf("B dropped for another reason: %+v", st)
	}
	// IPv6 between the same namespaces is not covered by the policy.
	ping(t, a.ns, inB6)
	if err := b.dp.Apply(ctx, clearOps(hostB, hostA, dataplane.Discard, true)[:1]); err != nil {
		t.Fatal(err)
	}
	ping(t, a.ns, innerB)
}
