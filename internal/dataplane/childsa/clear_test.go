package childsa

import (
	"context"
	"fmt"
	"net/netip"
	"secgw/internal/ipsec"
	"strings"
	"testing"

	"secgw/internal/dataplane"
	"secgw/internal/ike/config"
)

// clearPolicy is a pass or drop security policy of vpn1 from
// 10.1.0.0/16 to remote.
func clearPolicy(name string, act config.ClearAction, remote ipsec.TrafficSelector) config.ClearPolicy {
	return config.ClearPolicy{VPN: "vpn1", Action: act,
		SecurityPolicy: config.SecurityPolicy{Name: name, Local: config.MustSelector(ts4("10.1.0.0", "10.1.255.255")), Remote: config.MustSelector(remote)}}
}

// TestClearPoliciesGolden: pass and drop security policies become allow
// and block policies (out, in, fwd) beside a child SA's, more specific
// first by priority; SetClearPolicies is idempotent, changes an action in
// place and removes what the list no longer holds.
func TestClearPoliciesGolden(t *testing.T) {
	f := dataplane.NewFake()
	p := NewProgrammer(ProgrammerOptions{Dataplane: f})
	var out strings.Builder
	do := func(name string, fn func() error) {
		t.Helper()
		f.ResetCounts()
		err := fn()
		fmt.Fprintf(&out, "### %s\nops: add-policy %d update-policy %d delete-policy %d, batches %d, err %v\n",
			name, f.OpCount(dataplane.AddPolicy), f.OpCount(dataplane.UpdatePolicy), f.OpCount(dataplane.DeletePolicy), f.Batches(), err)
		out.WriteString(dataplane.Render(f.All(), dataplane.RenderOptions{}))
		if ops, ch, err := dataplane.Plan(p.State(), must(f.List(context.Background()))); err != nil || len(ops) != 0 {
			t.Errorf("%s: the Programmer's State differs from the dataplane: %v %v", name, ch, err)
		}
	}
	do("child 1: esp 10.1.0.0/16 <-> 10.2.0.0/16", func() error { return p.InstallChild(testChild(0xc1000001, 0xd1000001)) })

	pass := clearPolicy("pass-5", config.ClearPass, ts4("10.2.5.0", "10.2.5.255"))
	web := clearPolicy("drop-web", config.ClearDrop, ipsec.TrafficSelector{Type: ipsec.TSIPv4AddrRange, IPProtocol: 6,
		StartAddr: netip.MustParseAddr("10.2.6.0"), EndAddr: netip.MustParseAddr("10.2.6.255"), StartPort: 80, EndPort: 80})
	prio := clearPolicy("drop-prio", config.ClearDrop, ts4("10.9.0.0", "10.9.0.7"))
	prio.Priority = 10
	do("pass and drop policies: allow/block out, in, fwd", func() error {
		return p.SetClearPolicies([]config.ClearPolicy{pass, web, prio})
	})
	do("the same list again: no op", func() error { return p.SetClearPolicies([]config.ClearPolicy{pass, web, prio}) })

	pass2 := pass
	pass2.Action = config.ClearDrop
	do("pass-5 becomes a drop: updated in place", func() error { return p.SetClearPolicies([]config.ClearPolicy{pass2, web, prio}) })
	do("drop-prio removed", func() error { return p.SetClearPolicies([]config.ClearPolicy{pass2, web}) })
	do("all removed: the child's policies stay", func() error { return p.SetClearPolicies(nil) })
	golden(t, "clear", out.String())
}

// TestClearPolicyPriority: a pass policy inside an esp policy's selectors
// wins by priority (lower is better), as the kernel and the userspace
// SPD order them.
func TestClearPolicyPriority(t *testing.T) {
	pols, err := ClearEntries(clearPolicy("p", config.ClearPass, ts4("10.2.5.0", "10.2.5.255")))
	if err != nil {
		t.Fatal(err)
	}
	_, child, err := ChildEntries(testChild(1, 2), ChildOptions{}, dataplane.OwnedReqIDs.Min)
	if err != nil {
		t.Fatal(err)
	}
	if len(pols) != 3 {
		t.Fatalf("pass policy: %d entries, want out, in, fwd", len(pols))
	}
	for _, p := range pols {
		if p.Action != dataplane.Bypass || p.Priority >= child[0].Priority {
			t.Errorf("pass %s %s: action %d priority %d, want Bypass before the child's %d", p.Dir, p.Sel, p.Action, p.Priority, child[0].Priority)
		}
	}
}

// TestClearPoliciesTakeOver: a pass or drop policy a previous run left in
// the dataplane (same key, another action) is taken over by an update,
// and the rest of the batch goes on; removing one already gone is not an
// error.
func TestClearPoliciesTakeOver(t *testing.T) {
	f := dataplane.NewFake()
	p := NewProgrammer(ProgrammerOptions{Dataplane: f})
	drop := clearPolicy("d", config.ClearDrop, ts4("10.2.6.0", "10.2.6.255"))
	pols, err := ClearEntries(drop)
	if err != nil {
		t.Fatal(err)
	}
	left := pols[0]
	left.Action, left.Priority = dataplane.Bypass, 7
	f.Edit(func(_ map[dataplane.SAKey]dataplane.SA, m map[dataplane.PolicyKey]dataplane.Policy) {
		m[left.Key()] = left
	})
	if err := p.SetClearPolicies([]config.ClearPolicy{drop}); err != nil {
		t.Fatal(err)
	}
	if ops, ch, err := dataplane.Plan(p.State(), must(f.List(context.Background()))); err != nil || len(ops) != 0 {
		t.Fatalf("after the take-over the dataplane differs: %v %v", ch, err)
	}
	f.Edit(func(_ map[dataplane.SAKey]dataplane.SA, m map[dataplane.PolicyKey]dataplane.Policy) {
		delete(m, left.Key())
	})
	if err := p.SetClearPolicies(nil); err != nil {
		t.Fatalf("removing a policy already gone: %v", err)
	}
	if n := len(f.All().Policies); n != 0 {
		t.Errorf("%d policies left", n)
	}
}
