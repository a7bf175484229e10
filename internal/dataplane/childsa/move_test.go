package childsa

import (
	"net/netip"
	"testing"

	"secgw/internal/dataplane"
	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
)

// TestMoveChild: a child SA installed over its trap moves to a new peer
// address (MOBIKE): its inbound SA (same key) is updated in place, its
// outbound SA is replaced with the same SPI and keys, starting after the
// old one's sequence number, and the out policy — owned by the trap —
// takes the new address; a rekey after the move and the delete of the
// moved child leave the policy with the rekeyed child's address, not the
// trap's.
func TestMoveChild(t *testing.T) {
	f := dataplane.NewFake()
	p := NewProgrammer(ProgrammerOptions{Dataplane: f})
	trap := engine.Trap{VPN: "vpn1", Policy: "sp1", Local: netip.MustParseAddr("192.0.2.1"), Remote: netip.MustParseAddr("192.0.2.2"),
		LocalTS: ts4("10.1.0.0", "10.1.255.255"), RemoteTS: ts4("10.2.0.0", "10.2.255.255"), Mode: config.ModeTunnel}
	if err := p.InstallTrap(trap); err != nil {
		t.Fatal(err)
	}
	c := testChild(0x1001, 0x2001)
	if err := p.InstallChild(c); err != nil {
		t.Fatal(err)
	}
	f.SetCounters(dataplane.SAKey{Dst: gwB, SPI: 0x2001}, dataplane.Counters{OSeq: 5000})
	newPeer := netip.MustParseAddr("192.0.2.3")
	moved := c
	moved.Remote = netip.AddrPortFrom(newPeer, 4500)
	f.ResetCounts()
	if err := p.MoveChild(c, moved); err != nil {
		t.Fatal(err)
	}
	if n := f.OpCount(dataplane.UpdateSA); n != 1 {
		t.Errorf("%d SA updates, want 1 (the inbound SA in place)", n)
	}
	st := f.All()
	if len(st.SAs) != 2 {
		t.Fatalf("SAs after the move: %+v", st.SAs)
	}
	for _, sa := range st.SAs {
		switch sa.Dir {
		case dataplane.In:
			if sa.SPI != 0x1001 || sa.Src != newPeer || sa.Dst != gwA {
				t.Errorf("inbound SA after the move: %s", sa.String())
			}
		case dataplane.Out:
			if sa.SPI != 0x2001 || sa.Src != gwA || sa.Dst != newPeer || sa.OSeq != 5000+seqMargin {
				t.Errorf("outbound SA after the move: %s oseq %d, want to %s from %d", sa.String(), sa.OSeq, newPeer, 5000+seqMargin)
			}
		}
	}
	checkTmpl := func(step string, want netip.Addr) {
		t.Helper()
		for _, pol := range f.All().Policies {
			if pol.Action != dataplane.Protect {
				continue
			}
			peer := pol.Tmpl.Dst
			if pol.Dir != dataplane.Out {
				peer = pol.Tmpl.Src
			}
			if peer != want {
				t.Errorf("%s: %s policy %s names peer %s, want %s", step, pol.Dir, pol.Sel, peer, want)
			}
		}
	}
	checkTmpl("after the move", newPeer)

	// The peer rekeys the child SA at the new address, then deletes
	// the moved one.
	r := testChild(0x1002, 0x2002)
	r.Remote = moved.Remote
	if err := p.InstallChild(r); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteChild(moved); err != nil {
		t.Fatal(err)
	}
	checkTmpl("after the rekey", newPeer)

	if err := p.MoveChild(c, moved); err == nil {
		t.Error("moving a deleted child SA succeeded")
	}
}

// kernelFake is the Fake reporting itself as the kernel dataplane.
type kernelFake struct{ *dataplane.Fake }

func (kernelFake) Kind() string { return "kernel" }

// TestMoveChildKernelLocal: our own address changes (we are the mobile
// side) with the kernel dataplane: the inbound SA, whose key is our
// address, is replaced; the outbound one keeps its key but not its
// source, which XFRM_MSG_UPDSA would not change, so it is replaced too,
// after the old one's last sequence number.
func TestMoveChildKernelLocal(t *testing.T) {
	f := dataplane.NewFake()
	p := NewProgrammer(ProgrammerOptions{Dataplane: kernelFake{f}})
	c := testChild(0x1001, 0x2001)
	if err := p.InstallChild(c); err != nil {
		t.Fatal(err)
	}
	f.SetCounters(dataplane.SAKey{Dst: gwB, SPI: 0x2001}, dataplane.Counters{OSeq: 77})
	f.SetCounters(dataplane.SAKey{Dst: gwA, SPI: 0x1001}, dataplane.Counters{ISeq: 66})
	newLocal := netip.MustParseAddr("198.51.100.7")
	moved := c
	moved.Local = netip.AddrPortFrom(newLocal, 4500)
	f.ResetCounts()
	if err := p.MoveChild(c, moved); err != nil {
		t.Fatal(err)
	}
	if u := f.OpCount(dataplane.UpdateSA); u != 0 {
		t.Errorf("%d SA updates in the kernel, want replacements", u)
	}
	for _, sa := range f.All().SAs {
		switch sa.Dir {
		case dataplane.In:
			if sa.Dst != newLocal || sa.SPI != 0x1001 || sa.ISeq != 66 {
				t.Errorf("inbound SA: %s iseq %d, want the old window's 66", sa.String(), sa.ISeq)
			}
		case dataplane.Out:
			if sa.Src != newLocal || sa.SPI != 0x2001 || sa.OSeq != 77+seqMargin {
				t.Errorf("outbound SA: %s oseq %d", sa.String(), sa.OSeq)
			}
		}
	}
	if n := len(f.All().SAs); n != 2 {
		t.Errorf("%d SAs after the move, want 2", n)
	}
}
