package childsa

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"secgw/internal/ipsec"
	"strings"
	"testing"
	"time"

	"secgw/internal/dataplane"
	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/engine"
)

func ts4(start, end string) ipsec.TrafficSelector {
	return ipsec.TrafficSelector{Type: ipsec.TSIPv4AddrRange, StartAddr: netip.MustParseAddr(start), EndAddr: netip.MustParseAddr(end), EndPort: 65535}
}

// testChild is a child SA as the engine gives it: gateway 192.0.2.1
// (local) to 192.0.2.2, 10.1.0.0/16 <-> 10.2.0.0/16, AES-GCM-256.
func testChild(in, out uint32) engine.ChildSA {
	return engine.ChildSA{
		VPN: "vpn1", Policy: "sp1",
		Local: netip.MustParseAddrPort("192.0.2.1:4500"), Remote: netip.MustParseAddrPort("192.0.2.2:4500"),
		InSPI: in, OutSPI: out,
		Suite: ikecrypto.Suite{Encr: ipsec.EncrAESGCM16, KeyBits: 256},
		In:    engine.DirKeys{Encr: key(byte(in), 36)}, Out: engine.DirKeys{Encr: key(byte(out), 36)},
		LocalTS: []ipsec.TrafficSelector{ts4("10.1.0.0", "10.1.255.255")}, RemoteTS: []ipsec.TrafficSelector{ts4("10.2.0.0", "10.2.255.255")},
		Mode:      config.ModeTunnel,
		Lifetimes: config.ChildLifetimes{RekeyTime: 3000 * time.Second, LifeTime: 3600 * time.Second, ReplayWindow: 32},
	}
}

// TestProgrammerGolden installs, rekeys and deletes children and renders
// the Fake after each step.
func TestProgrammerGolden(t *testing.T) {
	f := dataplane.NewFake()
	p := NewProgrammer(ProgrammerOptions{Dataplane: f, Options: func(vpn, pol string) ChildOptions {
		if pol == "svti" {
			return ChildOptions{IfIDIn: 100, IfIDOut: 101}
		}
		if pol == "prio" {
			return ChildOptions{Priority: 50, MarkIn: dataplane.Mark{Value: 1, Mask: 0xff}, MarkOut: dataplane.Mark{Value: 2, Mask: 0xff}}
		}
		return ChildOptions{}
	}})
	var out strings.Builder
	do := func(name string, fn func() error) {
		f.ResetCounts()
		err := fn()
		fmt.Fprintf(&out, "### %s\nops: add-sa %d delete-sa %d add-policy %d update-policy %d delete-policy %d, batches %d, err %v\n",
			name, f.OpCount(dataplane.AddSA), f.OpCount(dataplane.DeleteSA), f.OpCount(dataplane.AddPolicy), f.OpCount(dataplane.UpdatePolicy), f.OpCount(dataplane.DeletePolicy), f.Batches(), err)
		out.WriteString(dataplane.Render(f.All(), dataplane.RenderOptions{}))
		// The Programmer's desired state is what the Fake holds.
		if ops, ch, err := dataplane.Plan(p.State(), must(f.List(context.Background()))); err != nil || len(ops) != 0 {
			t.Errorf("%s: the Programmer's State differs from the dataplane: %v %v", name, ch, err)
		}
	}
	c1 := testChild(0xc1000001, 0xd1000001)
	do("child 1: 2 SAs, out/in/fwd policies", func() error { return p.InstallChild(c1) })

	c1r := testChild(0xc1000002, 0xd1000002)
	do("rekey of child 1: same reqid, only the SAs are added", func() error { return p.InstallChild(c1r) })
	if a, _ := p.ReqID(c1.InSPI); a != must(p.ReqID(c1r.InSPI)) {
		t.Errorf("rekeyed child got reqid %d, the old one %d", must(p.ReqID(c1r.InSPI)), a)
	}
	do("old child 1 deleted: only its SAs go", func() error { return p.DeleteChild(c1) })

	c2 := testChild(0xc2000001, 0xd2000001)
	c2.Policy, c2.Encap = "svti", true
	c2.Remote = netip.MustParseAddrPort("192.0.2.2:31000")
	c2.Suite = ikecrypto.Suite{Encr: ipsec.EncrAESCBC, KeyBits: 128, Integ: ipsec.IntegHMACSHA2_512_256}
	c2.In.Integ, c2.Out.Integ = key(0x40, 64), key(0x80, 64)
	c2.In.Encr, c2.Out.Encr = key(1, 16), key(2, 16)
	c2.ESN = true
	c2.LocalTS = []ipsec.TrafficSelector{ts4("0.0.0.0", "255.255.255.255")}
	c2.RemoteTS = []ipsec.TrafficSelector{ts4("0.0.0.0", "255.255.255.255")}
	do("child 2: SVTI if_ids, NAT-T encap, CBC+SHA512, ESN (no packet cap)", func() error { return p.InstallChild(c2) })

	c3 := testChild(0xc3000001, 0xd3000001)
	c3.Policy, c3.Mode = "prio", config.ModeTransport
	c3.LocalTS = []ipsec.TrafficSelector{{Type: ipsec.TSIPv4AddrRange, IPProtocol: 6, StartAddr: gwA, EndAddr: gwA, StartPort: 179, EndPort: 179}}
	c3.RemoteTS = []ipsec.TrafficSelector{{Type: ipsec.TSIPv4AddrRange, IPProtocol: 6, StartAddr: gwB, EndAddr: gwB, EndPort: 65535}}
	do("child 3: transport mode, configured priority, marks, one port", func() error { return p.InstallChild(c3) })

	c4 := testChild(0xc4000001, 0xd4000001)
	c4.VPN = "vpn2"
	c4.RemoteTS = []ipsec.TrafficSelector{ts4("10.9.0.1", "10.9.0.6")}
	do("child 4: a range becomes prefixes; same local TS as child 1, other reqid", func() error { return p.InstallChild(c4) })

	do("child 2 deleted", func() error { return p.DeleteChild(c2) })
	do("rekeyed child 1 deleted: its policies go", func() error { return p.DeleteChild(c1r) })
	golden(t, "programmer", out.String())
}

func must[T any](v T, _ ...any) T { return v }

// TestProgrammerSharedPolicy: two children of different VPNs with the same
// selectors share the policies; the second takes them over when the first
// goes.
func TestProgrammerSharedPolicy(t *testing.T) {
	f := dataplane.NewFake()
	p := NewProgrammer(ProgrammerOptions{Dataplane: f})
	a, b := testChild(0xa1, 0xa2), testChild(0xb1, 0xb2)
	b.VPN = "other"
	if err := p.InstallChild(a); err != nil {
		t.Fatal(err)
	}
	if err := p.InstallChild(b); err != nil {
		t.Fatal(err)
	}
	ra, rb := must(p.ReqID(0xa1)), must(p.ReqID(0xb1))
	if ra == rb {
		t.Fatalf("children of two VPNs share reqid %d", ra)
	}
	f.ResetCounts()
	if err := p.DeleteChild(a); err != nil {
		t.Fatal(err)
	}
	if f.OpCount(dataplane.UpdatePolicy) != 3 || f.OpCount(dataplane.DeletePolicy) != 0 || f.OpCount(dataplane.DeleteSA) != 2 {
		t.Errorf("takeover: %d updates, %d policy deletes, %d SA deletes", f.OpCount(dataplane.UpdatePolicy), f.OpCount(dataplane.DeletePolicy), f.OpCount(dataplane.DeleteSA))
	}
	for _, pol := range f.All().Policies {
		if pol.Tmpl.ReqID != rb {
			t.Errorf("policy %s still on reqid %d", pol.Sel.String(), pol.Tmpl.ReqID)
		}
	}
	// The freed reqid is reused.
	c := testChild(0xc1, 0xc2)
	c.VPN = "third"
	if err := p.InstallChild(c); err != nil || must(p.ReqID(0xc1)) != ra {
		t.Errorf("reqid %d, want the freed %d (err %v)", must(p.ReqID(0xc1)), ra, err)
	}
}

// TestProgrammerDeleteToleratesGone: an SA removed by its hard lifetime
// does not fail the delete of its child, and the rest is still removed.
func TestProgrammerDeleteToleratesGone(t *testing.T) {
	f := dataplane.NewFake()
	p := NewProgrammer(ProgrammerOptions{Dataplane: f})
	c := testChild(0x11, 0x12)
	if err := p.InstallChild(c); err != nil {
		t.Fatal(err)
	}
	f.Edit(func(sas map[dataplane.SAKey]dataplane.SA, _ map[dataplane.PolicyKey]dataplane.Policy) {
		delete(sas, dataplane.SAKey{Dst: gwB, SPI: 0x12})
	})
	if err := p.DeleteChild(c); err != nil {
		t.Fatal(err)
	}
	if s := f.All(); len(s.SAs)+len(s.Policies) != 0 {
		t.Errorf("left over:\n%s", dataplane.Render(s, dataplane.RenderOptions{}))
	}
	if err := p.DeleteChild(c); err == nil {
		t.Error("second delete of the same child succeeded")
	}
}

// TestProgrammerInstallFailureUndoes: when an op of the install fails,
// what was added is removed and the child is not recorded.
func TestProgrammerInstallFailureUndoes(t *testing.T) {
	for fail := 0; fail < 5; fail++ {
		f := dataplane.NewFake()
		p := NewProgrammer(ProgrammerOptions{Dataplane: f})
		f.FailWith(func(i int, op dataplane.Op) error {
			if i == fail {
				return errors.New("injected")
			}
			return nil
		})
		err := p.InstallChild(testChild(0x21, 0x22))
		f.FailWith(nil)
		if err == nil {
			t.Fatalf("fail at %d: no error", fail)
		}
		if s := f.All(); len(s.SAs)+len(s.Policies) != 0 {
			t.Errorf("fail at %d: left over:\n%s", fail, dataplane.Render(s, dataplane.RenderOptions{}))
		}
		if len(p.State().SAs) != 0 {
			t.Errorf("fail at %d: child recorded", fail)
		}
		// The reqid was not kept: a retry gets the first one.
		if err := p.InstallChild(testChild(0x21, 0x22)); err != nil || must(p.ReqID(0x21)) != dataplane.OwnedReqIDs.Min {
			t.Errorf("fail at %d: retry: %v, reqid %d", fail, err, must(p.ReqID(0x21)))
		}
	}
}

func TestProgrammerRejects(t *testing.T) {
	p := NewProgrammer(ProgrammerOptions{Dataplane: dataplane.NewFake()})
	c := testChild(1, 2)
	c.RemoteTS = []ipsec.TrafficSelector{{Type: ipsec.TSIPv6AddrRange, StartAddr: netip.MustParseAddr("::"), EndAddr: netip.MustParseAddr("::1")}}
	if err := p.InstallChild(c); err == nil {
		t.Error("IPv4 local and IPv6 remote selectors gave policies")
	}
	c = testChild(1, 2)
	c.LocalTS[0].IPProtocol, c.RemoteTS[0].IPProtocol = 6, 17
	if err := p.InstallChild(c); err == nil {
		t.Error("TCP local and UDP remote selectors gave policies")
	}
	if err := p.InstallChild(testChild(1, 2)); err != nil {
		t.Fatal(err)
	}
	if err := p.InstallChild(testChild(1, 3)); err == nil {
		t.Error("second child with the same inbound SPI accepted")
	}
}

func TestPolicyPriority(t *testing.T) {
	sel := func(s, d string, proto uint8, dport uint16) dataplane.Selector {
		return dataplane.Selector{Src: netip.MustParsePrefix(s), Dst: netip.MustParsePrefix(d), Proto: proto, DstPort: dport}
	}
	// Each is strictly more specific than the one before: lower priority.
	// (IPv4 and IPv6 policies never compete.)
	v6 := []dataplane.Selector{sel("::/0", "::/0", 0, 0), sel("::/0", "2001:db8::/32", 0, 0), sel("2001:db8::1/128", "2001:db8::2/128", 58, 0)}
	order := []dataplane.Selector{
		sel("0.0.0.0/0", "0.0.0.0/0", 0, 0),
		sel("0.0.0.0/0", "0.0.0.0/0", 6, 0),
		sel("0.0.0.0/0", "0.0.0.0/0", 6, 80),
		sel("10.0.0.0/8", "0.0.0.0/0", 0, 0),
		sel("10.0.0.0/8", "10.2.0.0/16", 0, 0),
		sel("10.0.0.1/32", "10.2.0.1/32", 17, 53),
	}
	for _, order := range [][]dataplane.Selector{order, v6} {
		for i := 1; i < len(order); i++ {
			a, b := PolicyPriority(order[i-1], 0), PolicyPriority(order[i], 0)
			if b >= a {
				t.Errorf("%s: priority %d, not below %d of %s", order[i], b, a, order[i-1])
			}
		}
	}
	if p := PolicyPriority(v6[len(v6)-1], 0); p != AutoPriorityBase-2052 {
		t.Errorf("most specific IPv6 priority %d, want base-2052", p)
	}
	if p := PolicyPriority(order[0], 42); p != 42 {
		t.Errorf("configured priority: %d", p)
	}
}

// TestChildEntriesSeq: a child SA taken over by an HA standby carries its
// resumed numbers; the outbound SA gets OSeq, the inbound SA ISeq, and
// the dataplane reports them back (SeqStates).
func TestChildEntriesSeq(t *testing.T) {
	c := testChild(0xc1000001, 0xd1000001)
	c.OSeq, c.ISeq = 1<<20+4096, 777
	sas, _, err := ChildEntries(c, ChildOptions{}, dataplane.OwnedReqIDs.Min)
	if err != nil {
		t.Fatal(err)
	}
	in, out := sas[0], sas[1]
	if in.Dir != dataplane.In || in.ISeq != 777 || in.OSeq != 0 {
		t.Errorf("inbound SA: %s oseq %d iseq %d, want iseq 777 only", in.String(), in.OSeq, in.ISeq)
	}
	if out.Dir != dataplane.Out || out.OSeq != 1<<20+4096 || out.ISeq != 0 {
		t.Errorf("outbound SA: %s oseq %d iseq %d, want oseq %d only", out.String(), out.OSeq, out.ISeq, 1<<20+4096)
	}
	f := dataplane.NewFake()
	p := NewProgrammer(ProgrammerOptions{Dataplane: f})
	if err := p.InstallChild(c); err != nil {
		t.Fatal(err)
	}
	got := map[dataplane.SAKey]dataplane.SeqState{}
	for _, st := range must(f.SeqStates(context.Background())) {
		got[st.Key] = st
	}
	if st := got[in.Key()]; st.Dir != dataplane.In || st.ISeq != 777 {
		t.Errorf("SeqStates of the inbound SA: %+v", st)
	}
	if st := got[out.Key()]; st.Dir != dataplane.Out || st.OSeq != 1<<20+4096 {
		t.Errorf("SeqStates of the outbound SA: %+v", st)
	}
}
