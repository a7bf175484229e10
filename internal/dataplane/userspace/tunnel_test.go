package userspace

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"testing"

	"secgw/internal/dataplane"
	"secgw/internal/edge/edgetest"
	"secgw/internal/esp"
	"secgw/internal/ike/wire"
)

// TestTunnel passes IPv4 and IPv6 packets both ways through two
// dataplanes for every suite and checks they come out unchanged, with the
// SA counters of both ends agreeing.
func TestTunnel(t *testing.T) {
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			tw := newTwin(t, Options{}, Options{})
			tw.install(t, s)
			for i, c := range []struct {
				pkt      []byte
				from, to *edgetest.TUN
			}{
				{ipv4(hostA, hostB, 100, true), tw.tunA, tw.tunB},
				{ipv4(hostB, hostA, 1, false), tw.tunB, tw.tunA},
				{ipv6(hA6, hB6, 1200), tw.tunA, tw.tunB},
				{ipv6(hB6, hA6, 0), tw.tunB, tw.tunA},
			} {
				c.from.Inject(c.pkt)
				if got := recv(t, c.to); !bytes.Equal(got, c.pkt) {
					t.Fatalf("packet %d changed:\n got %x\nwant %x", i, got, c.pkt)
				}
			}
			ctx := context.Background()
			out, _ := tw.a.Counters(ctx, dataplane.SAKey{Dst: gwB, SPI: 0xa0000001})
			in, _ := tw.b.Counters(ctx, dataplane.SAKey{Dst: gwB, SPI: 0xa0000001})
			want := uint64(len(ipv4(hostA, hostB, 100, true)) + len(ipv6(hA6, hB6, 1200)))
			if out.Packets != 2 || in.Packets != 2 || out.Bytes != want || in.Bytes != want || out.OSeq != 2 {
				t.Errorf("A->B counters: out %+v in %+v, want 2 packets, %d bytes", out, in, want)
			}
			if in.LastUsed.IsZero() || in.Added.IsZero() {
				t.Errorf("times not set: %+v", in)
			}
		})
	}
}

// TestInboundSelectors: a decrypted packet outside the selectors of the
// SA's inbound policies is dropped (RFC 4301 §5.2), and so is one whose
// Next Header lies about the inner version.
func TestInboundSelectors(t *testing.T) {
	tw := newTwin(t, Options{}, Options{})
	tw.install(t, suites[0])
	// B's inbound policy admits 192.168.1.0/24 -> 192.168.2.0/24; A's
	// outbound one is widened to send from 10.9.9.9 too.
	wide := dataplane.Policy{Sel: dataplane.Selector{Src: netip.MustParsePrefix("10.9.9.0/24"), Dst: netB},
		Dir: dataplane.Out, Priority: 10, Action: dataplane.Protect, Tmpl: dataplane.Template{Src: gwA, Dst: gwB, ReqID: 1}}
	if err := tw.a.Apply(context.Background(), []dataplane.Op{{Kind: dataplane.AddPolicy, Policy: &wide}}); err != nil {
		t.Fatal(err)
	}
	tw.tunA.Inject(ipv4(netip.MustParseAddr("10.9.9.9"), hostB, 10, false))
	waitFor(t, "a selector drop", func() bool { return tw.b.Stats().Selector == 1 })
	quiet(t, tw.tunB)
	tw.tunA.Inject(ipv4(hostA, hostB, 10, false)) // still fine
	recv(t, tw.tunB)
}

// TestOutboundDecisions: no policy, a Discard policy, and a Protect
// policy without an SA (which raises one Acquire per interval, carrying
// the packet's selector).
func TestOutboundDecisions(t *testing.T) {
	tw := newTwin(t, Options{AcquireInterval: 1 << 62}, Options{})
	tw.tunA.Inject(ipv4(hostA, hostB, 10, false))
	waitFor(t, "a packet without a policy", func() bool { return tw.a.Stats().NoPolicy == 1 })
	pols := []dataplane.Policy{
		{Sel: dataplane.Selector{Src: netA, Dst: netB}, Dir: dataplane.Out, Priority: 100, Action: dataplane.Protect,
			Tmpl: dataplane.Template{Src: gwA, Dst: gwB, ReqID: 7}},
		// More specific but lower precedence (higher priority value).
		{Sel: dataplane.Selector{Src: netA, Dst: netip.MustParsePrefix("192.168.2.20/32"), Proto: protoUDP}, Dir: dataplane.Out,
			Priority: 200, Action: dataplane.Discard},
		// Same priority as the trap, more specific: wins for port 9.
		{Sel: dataplane.Selector{Src: netA, Dst: netB, Proto: protoUDP, DstPort: 9}, Dir: dataplane.Out,
			Priority: 100, Action: dataplane.Discard},
	}
	if err := tw.a.Apply(context.Background(), ops(nil, pols)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		tw.tunA.Inject(ipv4(hostA, hostB, 10, false))
	}
	p9 := ipv4(hostA, hostB, 10, false)
	binary.BigEndian.PutUint16(p9[22:], 9)
	tw.tunA.Inject(p9)
	ev := event(t, tw.a, dataplane.Acquire)
	want := dataplane.Selector{Src: netip.PrefixFrom(hostA, 32), Dst: netip.PrefixFrom(hostB, 32), Proto: protoUDP, SrcPort: 1234, DstPort: 5678}
	if ev.Sel != want || ev.Policy != pols[0].Key() {
		t.Errorf("acquire %+v", ev)
	}
	waitFor(t, "three trapped packets and a discarded one", func() bool {
		st := tw.a.Stats()
		return st.NoSA == 3 && st.Discard == 1
	})
	quiet(t, tw.tunB)
	select {
	case ev := <-tw.a.Events():
		t.Errorf("second event %+v within the acquire interval", ev)
	default:
	}
	if st := tw.a.Stats(); st.NoPolicy != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestReplayAndTamper: the network duplicates one datagram and corrupts
// another: the copy is dropped by the window, the corrupt one by the ICV,
// and the receiver's counters say so.
func TestReplayAndTamper(t *testing.T) {
	tw := newTwin(t, Options{}, Options{})
	tw.install(t, suites[4])
	n := 0
	tw.net.Filter = func(from, to netip.AddrPort, b []byte) bool {
		n++
		switch n {
		case 1:
			tw.bindB.Deliver(from, to, b) // duplicate
		case 2:
			b[len(b)-1] ^= 0x80
		}
		return true
	}
	for range 3 {
		tw.tunA.Inject(ipv4(hostA, hostB, 50, false))
	}
	recv(t, tw.tunB)
	recv(t, tw.tunB)
	waitFor(t, "the replay and ICV drops", func() bool { st := tw.b.Stats(); return st.Replay == 1 && st.Auth == 1 })
	quiet(t, tw.tunB)
	c, _ := tw.b.Counters(context.Background(), dataplane.SAKey{Dst: gwB, SPI: 0xa0000001})
	if c.Packets != 2 || c.ReplayDrops != 1 || c.AuthDrops != 1 {
		t.Errorf("counters %+v", c)
	}
}

// TestTooBig: with a 1000-octet path MTU, an IPv4 packet with DF that
// does not fit after ESP gets an ICMP Fragmentation Needed back (RFC 1191
// §4) with the MTU that fits; without DF it is sent (the outer packet is
// fragmented); an IPv6 one gets Packet Too Big (RFC 4443 §3.2).
func TestTooBig(t *testing.T) {
	tw := newTwin(t, Options{MTU: 1400}, Options{})
	tw.install(t, suites[0])
	big := ipv4(hostA, hostB, 1380, true)
	tw.tunA.Inject(big)
	icmp := recv(t, tw.tunA)
	// 1400 - 28 (IPv4+UDP) - 8 (ESP) - 8 (IV) - 2 - 16 (ICV), aligned: 1338.
	const mtu = 1336
	if f, ok := parseFlow(icmp); !ok || f.proto != protoICMP || f.dst != hostA || f.src != hostB ||
		icmp[20] != 3 || icmp[21] != 4 || binary.BigEndian.Uint16(icmp[26:]) != mtu || checksum(icmp[20:], 0) != 0 ||
		checksum(icmp[:20], 0) != 0 || !bytes.Equal(icmp[28:48], big[:20]) {
		t.Fatalf("ICMP %x", icmp)
	}
	fits := ipv4(hostA, hostB, mtu-28, true)
	tw.tunA.Inject(fits)
	if got := recv(t, tw.tunB); !bytes.Equal(got, fits) {
		t.Fatal("packet of exactly the MTU not passed")
	}
	noDF := ipv4(hostA, hostB, 1380, false)
	tw.tunA.Inject(noDF)
	if got := recv(t, tw.tunB); !bytes.Equal(got, noDF) {
		t.Fatal("packet without DF not passed")
	}
	big6 := ipv6(hA6, hB6, 1400)
	tw.tunA.Inject(big6)
	icmp6 := recv(t, tw.tunA)
	if icmp6[0]>>4 != 6 || icmp6[6] != protoICMPv6 || icmp6[40] != 2 || binary.BigEndian.Uint32(icmp6[44:]) != mtu ||
		len(icmp6) != 1280 {
		t.Fatalf("ICMPv6 %x", icmp6[:48])
	}
	if src := netip.AddrFrom16([16]byte(icmp6[8:24])); src != hB6 {
		t.Errorf("Packet Too Big from %v, want the packet's destination", src)
	}
	if checksum(icmp6[40:], pseudoSum(hB6, hA6, protoICMPv6, len(icmp6)-40)) != 0 {
		t.Error("ICMPv6 checksum")
	}
	waitFor(t, "two too-big packets", func() bool { return tw.a.Stats().TooBig == 2 })
}

// TestTransport carries a packet between the gateways themselves in
// transport mode: the receiver rebuilds the IP header from the SA.
func TestTransport(t *testing.T) {
	tw := newTwin(t, Options{}, Options{})
	s := suites[2]
	ab, abIn := saPair(s, gwA, gwB, 0x1234, 9)
	ab.Mode, abIn.Mode = dataplane.Transport, dataplane.Transport
	host := func(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, 32) }
	polA := []dataplane.Policy{{Sel: dataplane.Selector{Src: host(gwA), Dst: host(gwB), Proto: protoUDP}, Dir: dataplane.Out,
		Action: dataplane.Protect, Tmpl: dataplane.Template{Src: gwA, Dst: gwB, Mode: dataplane.Transport, ReqID: 9}}}
	polB := []dataplane.Policy{{Sel: dataplane.Selector{Src: host(gwA), Dst: host(gwB), Proto: protoUDP}, Dir: dataplane.In,
		Action: dataplane.Protect, Tmpl: dataplane.Template{Src: gwA, Dst: gwB, Mode: dataplane.Transport, ReqID: 9}}}
	ctx := context.Background()
	if err := tw.a.Apply(ctx, ops([]dataplane.SA{ab}, polA)); err != nil {
		t.Fatal(err)
	}
	if err := tw.b.Apply(ctx, ops([]dataplane.SA{abIn}, polB)); err != nil {
		t.Fatal(err)
	}
	p := ipv4(gwA, gwB, 33, false)
	tw.tunA.Inject(p)
	got := recv(t, tw.tunB)
	if !bytes.Equal(got[20:], p[20:]) || checksum(got[:20], 0) != 0 {
		t.Fatalf("transport packet\n got %x\nwant %x", got, p)
	}
	if f, _ := parseFlow(got); f.src != gwA || f.dst != gwB || f.proto != protoUDP {
		t.Errorf("rebuilt header %+v", f)
	}
}

// TestNonESP: datagrams behind the Non-ESP Marker go to OnIKE, NAT
// keepalives are counted and dropped (RFC 3948 §2).
func TestNonESP(t *testing.T) {
	var got []byte
	done := make(chan struct{})
	tw := newTwin(t, Options{}, Options{OnIKE: func(local, remote netip.AddrPort, b []byte) {
		if local != netip.AddrPortFrom(gwB, 4500) || remote != netip.AddrPortFrom(gwA, 4500) {
			t.Errorf("IKE datagram %v -> %v", remote, local)
		}
		got = append([]byte(nil), b...)
		close(done)
	}})
	ike := append([]byte{0, 0, 0, 0}, bytes.Repeat([]byte{0x21}, wire.HeaderLen)...)
	from, to := netip.AddrPortFrom(gwA, 4500), netip.AddrPortFrom(gwB, 4500)
	tw.bindB.Deliver(from, to, []byte{0xff})
	// Several readers share the Bind: the keepalive is counted before the
	// IKE datagram goes out, so the two cannot overtake each other.
	waitFor(t, "keepalive counted", func() bool { return tw.b.Stats().Keepalive == 1 })
	tw.bindB.Deliver(from, to, ike)
	<-done
	if !bytes.Equal(got, ike) {
		t.Errorf("OnIKE got %x", got)
	}
	if st := tw.b.Stats(); st.IKE != 1 || st.Keepalive != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestHandleESP: with the IKE socket's reader owning port 4500, ESP
// handed to HandleESP is processed like received ESP.
func TestHandleESP(t *testing.T) {
	tw := newTwin(t, Options{}, Options{})
	tw.install(t, suites[1])
	sent := make(chan []byte, 1)
	tw.net.Filter = func(from, to netip.AddrPort, b []byte) bool {
		sent <- append([]byte(nil), b...)
		return false // lost on the twin network; delivered by hand below
	}
	inner := ipv4(hostA, hostB, 64, false)
	tw.tunA.Inject(inner)
	pkt := <-sent
	tw.b.HandleESP(netip.AddrPortFrom(gwB, 4500), netip.AddrPortFrom(gwA, 4500), pkt)
	if got := recv(t, tw.tunB); !bytes.Equal(got, inner) {
		t.Fatalf("HandleESP delivered %x", got)
	}
}

// TestPathAllocs: neither packet path allocates.
func TestPathAllocs(t *testing.T) {
	if _, err := New(Options{TUN: nil, Bind: newDiscard()}); err == nil {
		t.Fatal("New without a TUN succeeded")
	}
	newDP := func() (*Dataplane, discard) {
		dev := newDiscard()
		d, err := New(Options{TUN: []edgeDevice{dev}, Bind: newDiscard()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d, dev
	}
	a, devA := newDP()
	b, _ := newDP()
	ab, abIn := saPair(suites[0], gwA, gwB, 0xa0000001, 1)
	ab.Limits = dataplane.Limits{SoftPackets: 1 << 40}
	ctx := context.Background()
	if err := a.Apply(ctx, ops([]dataplane.SA{ab}, policies(netA, netB, gwA, gwB, 1))); err != nil {
		t.Fatal(err)
	}
	if err := b.Apply(ctx, ops([]dataplane.SA{abIn}, policies(netB, netA, gwB, gwA, 1))); err != nil {
		t.Fatal(err)
	}
	capture := &captureBind{}
	a.o.Bind = capture
	buf := new(buffer)
	inner := ipv4(hostA, hostB, 1400, false)
	outbound := func() {
		n := copy(buf.b[headroom:], inner)
		a.outbound(devA, buf, n)
	}
	outbound()
	sealed := append([]byte(nil), capture.last...)
	if n := testing.AllocsPerRun(200, outbound); n != 0 {
		t.Errorf("outbound: %.1f allocations per packet", n)
	}
	// Inbound: the first sealed packet, then replays of it (which go
	// through the whole lookup and the window check).
	inbound := func() {
		n := copy(buf.b[esp.Scratch:], sealed)
		b.inbound(b.o.TUN[0], buf.b[:], n, netip.AddrPortFrom(gwB, 4500), netip.AddrPortFrom(gwA, 4500), false)
	}
	inbound()
	if c, _ := b.Counters(ctx, abIn.Key()); c.Packets != 1 {
		t.Fatalf("inbound packet not accepted: %+v %+v", c, b.Stats())
	}
	if n := testing.AllocsPerRun(200, inbound); n != 0 {
		t.Errorf("inbound: %.1f allocations per packet", n)
	}
	// And accepted packets: seal fresh ones first.
	var fresh [][]byte
	for range 201 {
		outbound()
		fresh = append(fresh, append([]byte(nil), capture.last...))
	}
	i := 0
	accept := func() {
		n := copy(buf.b[esp.Scratch:], fresh[i])
		i++
		b.inbound(b.o.TUN[0], buf.b[:], n, netip.AddrPortFrom(gwB, 4500), netip.AddrPortFrom(gwA, 4500), false)
	}
	if n := testing.AllocsPerRun(200, accept); n != 0 {
		t.Errorf("inbound accepted: %.1f allocations per packet", n)
	}
	if c, _ := b.Counters(ctx, abIn.Key()); c.Packets != 202 {
		t.Errorf("accepted %d packets", c.Packets)
	}
}

// captureBind keeps the last datagram sent.
type captureBind struct{ last []byte }

func (c *captureBind) ReceiveFuncs() []edgeReceiveFunc { return nil }
func (c *captureBind) Send(ds []edgeDatagram) error {
	c.last = append(c.last[:0], ds[0].Buf...)
	return nil
}
func (c *captureBind) Close() error { return nil }
