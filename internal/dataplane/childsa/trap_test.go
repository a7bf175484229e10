package childsa

import (
	"net/netip"
	"testing"

	"secgw/internal/dataplane"
	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
)

// TestTrap: a trap is the out policy alone, with the reqid its child SA
// takes; the child shares that policy (no second add) and adds its SAs and
// in/fwd policies; deleting the child leaves the trap's out policy in
// place (the next packet traps again); removing the trap removes it.
func TestTrap(t *testing.T) {
	f := dataplane.NewFake()
	p := NewProgrammer(ProgrammerOptions{Dataplane: f})
	trap := engine.Trap{VPN: "vpn1", Policy: "sp1", Local: netip.MustParseAddr("192.0.2.1"), Remote: netip.MustParseAddr("192.0.2.2"),
		LocalTS: ts4("10.1.0.0", "10.1.255.255"), RemoteTS: ts4("10.2.0.0", "10.2.255.255"), Mode: config.ModeTunnel}
	if err := p.InstallTrap(trap); err != nil {
		t.Fatal(err)
	}
	if err := p.InstallTrap(trap); err != nil { // idempotent
		t.Fatal(err)
	}
	st := f.All()
	if len(st.SAs) != 0 || len(st.Policies) != 1 || st.Policies[0].Dir != dataplane.Out || st.Policies[0].Action != dataplane.Protect {
		t.Fatalf("after the trap: %+v", st)
	}
	trapReq := st.Policies[0].Tmpl.ReqID

	c := testChild(0x1001, 0x2001)
	if err := p.InstallChild(c); err != nil {
		t.Fatal(err)
	}
	st = f.All()
	if len(st.SAs) != 2 || st.SAs[0].ReqID != trapReq {
		t.Fatalf("the child's SAs do not take the trap's reqid %d: %+v", trapReq, st.SAs)
	}
	outs := 0
	for _, pol := range st.Policies {
		if pol.Dir == dataplane.Out {
			outs++
		}
	}
	if outs != 1 || len(st.Policies) < 3 {
		t.Fatalf("policies with the child: %+v", st.Policies)
	}
	if err := p.DeleteChild(c); err != nil {
		t.Fatal(err)
	}
	st = f.All()
	if len(st.SAs) != 0 || len(st.Policies) != 1 || st.Policies[0].Dir != dataplane.Out {
		t.Fatalf("after the child went, the trap must stay: %+v", st)
	}
	if err := p.RemoveTrap(trap); err != nil {
		t.Fatal(err)
	}
	if st = f.All(); len(st.Policies) != 0 {
		t.Fatalf("after removing the trap: %+v", st.Policies)
	}
}

// TestTrapChildElsewhere: a child SA whose outer addresses are not the
// trap's (it followed a redirect to another gateway, RFC 5685) takes
// the out policy over with its own template while it lives, so that its
// traffic finds its SA; once it is gone the trap's policy is back.
func TestTrapChildElsewhere(t *testing.T) {
	f := dataplane.NewFake()
	p := NewProgrammer(ProgrammerOptions{Dataplane: f})
	c := testChild(0x1001, 0x2001)
	trap := engine.Trap{VPN: c.VPN, Policy: c.Policy, Local: c.Local.Addr(), Remote: netip.MustParseAddr("198.51.100.1"),
		LocalTS: c.LocalTS[0], RemoteTS: c.RemoteTS[0], Mode: c.Mode}
	if err := p.InstallTrap(trap); err != nil {
		t.Fatal(err)
	}
	outTmpl := func() dataplane.Template {
		t.Helper()
		for _, pol := range f.All().Policies {
			if pol.Dir == dataplane.Out {
				return pol.Tmpl
			}
		}
		t.Fatal("no out policy")
		return dataplane.Template{}
	}
	if got := outTmpl(); got.Dst != trap.Remote {
		t.Fatalf("trap template %+v", got)
	}
	if err := p.InstallChild(c); err != nil {
		t.Fatal(err)
	}
	if got := outTmpl(); got.Dst != c.Remote.Addr() {
		t.Fatalf("with the child elsewhere, the out template is %+v, want dst %v", got, c.Remote.Addr())
	}
	if err := p.DeleteChild(c); err != nil {
		t.Fatal(err)
	}
	if got := outTmpl(); got.Dst != trap.Remote {
		t.Fatalf("after the child, the out template is %+v, want the trap's", got)
	}
}
