//go:build vmtest

package kernel

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"

	"secgw/internal/dataplane"
	"secgw/internal/dataplane/childsa"
	"secgw/internal/dataplane/xfrm"
	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/engine"
	"secgw/internal/ipsec"
	"secgw/internal/netnsutil"
	"secgw/internal/netnsutil/netnstest"
)

// engineChild is the child SA as the IKE engine gives it to the
// Programmer on side s (A when isA): the SPIs and keys of c, outer
// addresses local and remote, selectors the two inner /16s.
func engineChild(c child, s, peer *side, isA bool, local, remote netip.Addr, encap bool) engine.ChildSA {
	toA := engine.DirKeys{Encr: keyBytes(1, c.encrLen)}
	toB := engine.DirKeys{Encr: keyBytes(3, c.encrLen)}
	inSPI, outSPI, in, out := c.spi+1, c.spi+2, toA, toB
	if !isA {
		inSPI, outSPI, in, out = c.spi+2, c.spi+1, toB, toA
	}
	return engine.ChildSA{
		VPN: "mobile", Policy: "p", UniqueID: 1, InSPI: inSPI, OutSPI: outSPI,
		Mode: config.ModeTunnel, IKESPIi: 1, IKESPIr: 2, Encap: encap,
		Local: netip.AddrPortFrom(local, 4500), Remote: netip.AddrPortFrom(remote, 4500),
		Suite: ikecrypto.Suite{Encr: c.encr, KeyBits: (c.encrLen - 4) * 8},
		In:    in, Out: out,
		LocalTS:   []ipsec.TrafficSelector{ipsec.SelectorFromPrefix(netip.PrefixFrom(s.inner, 16), 0, 0, 65535)},
		RemoteTS:  []ipsec.TrafficSelector{ipsec.SelectorFromPrefix(netip.PrefixFrom(peer.inner, 16), 0, 0, 65535)},
		Lifetimes: config.ChildLifetimes{ReplayWindow: uint16(c.window)},
	}
}

// TestMoveChild: MOBIKE's move of a child SA (RFC 4555 §3.5) through
// childsa.Programmer.MoveChild on the kernel dataplane. A's address
// changes (a new one on its veth, the old one removed); both sides move
// the child as the engine does after UPDATE_SA_ADDRESSES; ESP passes again
// under the same SPIs, the kernel's SAs and policy templates name the new
// addresses, and A's outbound sequence number went on from where it was.
// With encap, a NAT appears with the move: the moved SAs use UDP
// encapsulation on port 4500 (RFC 3948).
func TestMoveChild(t *testing.T) {
	for name, encap := range map[string]bool{"plain": false, "udp-encap-after": true} {
		t.Run(name, func(t *testing.T) { testMoveChild(t, encap) })
	}
}

func testMoveChild(t *testing.T, encap bool) {
	a, b := setup(t, topo{})
	if encap {
		for _, s := range []*side{a, b} {
			var c *net.UDPConn
			err := netnsutil.Run(s.ns, func() (err error) {
				c, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 4500})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := xfrm.EnableESPInUDP(c); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := with(gcm256, func(c *child) { c.spi = 0x9000 })
	progs := map[*side]*childsa.Programmer{}
	chs := map[*side]engine.ChildSA{}
	for _, s := range []*side{a, b} {
		peer := b
		if s == b {
			peer = a
		}
		progs[s] = childsa.NewProgrammer(childsa.ProgrammerOptions{Dataplane: s.dp})
		chs[s] = engineChild(c, s, peer, s == a, s.outer, peer.outer, false)
		if err := progs[s].InstallChild(chs[s]); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	const pings = 6
	if n, err := ping(a.ns, a.inner, b.inner, pings); err != nil || n < pings-1 {
		t.Fatalf("before the move: %d of %d replies, %v", n, pings, err)
	}
	before, err := a.dp.Counters(ctx, c.outSA(b))
	if err != nil {
		t.Fatal(err)
	}
	if before.OSeq < pings-1 {
		t.Fatalf("before the move: out SA %+v", before)
	}

	// A's new address: a secondary in the same subnet, promoted when
	// the old primary goes (without promote_secondaries the kernel
	// removes the secondaries with their primary).
	netnstest.Sysctl(t, a.ns, "net/ipv4/conf/va/promote_secondaries", "1")
	va, err := a.h.LinkByName("va")
	if err != nil {
		t.Fatal(err)
	}
	oldA, newA := a.outer, addr("192.0.2.11")
	netnstest.Addr(t, a.h, va, netip.PrefixFrom(newA, 24))
	old, err := netlink.ParseAddr(oldA.String() + "/24")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.h.AddrDel(va, old); err != nil {
		t.Fatalf("removing %s: %v", oldA, err)
	}
	// The inner route through B: replaced in case the address change
	// took it away.
	dst := &net.IPNet{IP: net.IP(netip.PrefixFrom(b.inner, 16).Masked().Addr().AsSlice()), Mask: net.CIDRMask(16, 32)}
	if err := a.h.RouteReplace(&netlink.Route{Dst: dst, Gw: b.outer.AsSlice(), Src: a.inner.AsSlice(), LinkIndex: va.Attrs().Index}); err != nil {
		t.Fatalf("route to B's inner network: %v", err)
	}

	// The engine's moves: A's local address and B's remote one.
	a.outer = newA
	for _, s := range []*side{a, b} {
		peer := b
		if s == b {
			peer = a
		}
		moved := engineChild(c, s, peer, s == a, s.outer, peer.outer, encap)
		if err := progs[s].MoveChild(chs[s], moved); err != nil {
			t.Fatalf("move on %s: %v", map[bool]string{true: "A", false: "B"}[s == a], err)
		}
		chs[s] = moved
	}

	if n, err := ping(a.ns, a.inner, b.inner, pings); err != nil || n < pings-1 {
		t.Fatalf("after the move: %d of %d replies, %v", n, pings, err)
	}
	after, err := a.dp.Counters(ctx, c.outSA(b))
	if err != nil {
		t.Fatal(err)
	}
	if after.OSeq < before.OSeq+pings-1 {
		t.Errorf("outbound sequence number: %d before the move, %d after %d more pings", before.OSeq, after.OSeq, pings)
	}
	in, err := a.dp.Counters(ctx, c.inSA(a))
	if err != nil {
		t.Fatalf("A's inbound SA under its new address: %v", err)
	}
	if in.Packets < pings-1 || in.AuthDrops != 0 || in.ReplayDrops != 0 {
		t.Errorf("A's inbound SA after the move: %+v", in)
	}
	t.Logf("A's out SA: oseq %d before the move, %d after; in SA %d packets", before.OSeq, after.OSeq, in.Packets)

	// The kernel's SAs and policy templates on both sides: same SPIs,
	// new addresses, nothing left under the old one.
	for _, s := range []*side{a, b} {
		st, err := s.dp.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.SAs) != 2 {
			t.Errorf("%d SAs: %v", len(st.SAs), st.SAs)
		}
		for _, sa := range st.SAs {
			if sa.SPI != c.spi+1 && sa.SPI != c.spi+2 {
				t.Errorf("SA with a new SPI: %s", sa.String())
			}
			wantEncap := dataplane.Encap{}
			if encap {
				wantEncap = dataplane.Encap{SrcPort: 4500, DstPort: 4500}
			}
			if sa.Src == oldA || sa.Dst == oldA || (sa.Src != newA && sa.Dst != newA) || sa.Encap != wantEncap {
				t.Errorf("SA not moved to %s: %s", newA, sa.String())
			}
		}
		for _, p := range st.Policies {
			if p.Tmpl.Src == oldA || p.Tmpl.Dst == oldA {
				t.Errorf("policy template still names %s: %+v", oldA, p)
			}
		}
		// The Programmer's desired state is what the kernel holds.
		if rep, err := dataplane.NewReconciler(s.dp, nil).Reconcile(ctx, progs[s].State()); err != nil || rep.Ops != 0 {
			t.Errorf("reconcile after the move: %d ops %v %v", rep.Ops, rep.Changes, err)
		}
	}
}
