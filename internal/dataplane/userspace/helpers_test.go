package userspace

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"secgw/internal/ipsec"
	"secgw/internal/poll"

	"secgw/internal/dataplane"
	"secgw/internal/edge"
	"secgw/internal/edge/edgetest"
	"secgw/internal/esp"
)

// suite is one ESP suite with test keys.
type suite struct {
	name        string
	encr, integ ipsec.TransformID
	ekey, ikey  int
}

var suites = []suite{
	{"aes128gcm16", ipsec.EncrAESGCM16, ipsec.IntegNone, 20, 0},
	{"aes256gcm16", ipsec.EncrAESGCM16, ipsec.IntegNone, 36, 0},
	{"chacha20poly1305", ipsec.EncrChaCha20Poly1305, ipsec.IntegNone, 36, 0},
	{"aes128-sha1_96", ipsec.EncrAESCBC, ipsec.IntegHMACSHA1_96, 16, 20},
	{"aes256-sha256_128", ipsec.EncrAESCBC, ipsec.IntegHMACSHA2_256_128, 32, 32},
	{"aes128-sha384_192", ipsec.EncrAESCBC, ipsec.IntegHMACSHA2_384_192, 16, 48},
	{"aes256-sha512_256", ipsec.EncrAESCBC, ipsec.IntegHMACSHA2_512_256, 32, 64},
}

func key(n int, seed byte) []byte {
	k := make([]byte, n)
	for i := range k {
		k[i] = seed + byte(i)*7
	}
	return k
}

// saPair returns the two directions between a and b for one SPI: the
// outbound SA at a and the inbound one at b.
func saPair(s suite, a, b netip.Addr, spi, reqID uint32) (out, in dataplane.SA) {
	out = dataplane.SA{
		Src: a, Dst: b, SPI: spi, Dir: dataplane.Out, ReqID: reqID,
		Encr: s.encr, EncrKey: key(s.ekey, byte(spi)), Integ: s.integ, IntegKey: key(s.ikey, byte(spi>>8)),
		ESN: true, ReplayWindow: 1024, Encap: dataplane.Encap{SrcPort: 4500, DstPort: 4500},
	}
	in = out
	in.Dir = dataplane.In
	return out, in
}

// policies returns the Out and In policies of a site-to-site tunnel
// between local and remote subnets through the gateways la and ra.
func policies(local, remote netip.Prefix, la, ra netip.Addr, reqID uint32) []dataplane.Policy {
	return []dataplane.Policy{
		{Sel: dataplane.Selector{Src: local, Dst: remote}, Dir: dataplane.Out, Priority: 100, Action: dataplane.Protect,
			Tmpl: dataplane.Template{Src: la, Dst: ra, ReqID: reqID}},
		{Sel: dataplane.Selector{Src: remote, Dst: local}, Dir: dataplane.In, Priority: 100, Action: dataplane.Protect,
			Tmpl: dataplane.Template{Src: ra, Dst: la, ReqID: reqID}},
	}
}

// ops turns SAs and policies into Add ops.
func ops(sas []dataplane.SA, pols []dataplane.Policy) []dataplane.Op {
	var out []dataplane.Op
	for i := range sas {
		out = append(out, dataplane.Op{Kind: dataplane.AddSA, SA: &sas[i]})
	}
	for i := range pols {
		out = append(out, dataplane.Op{Kind: dataplane.AddPolicy, Policy: &pols[i]})
	}
	return out
}

// The twin topology: gateways A and B, subnets behind them.
var (
	gwA   = netip.MustParseAddr("10.0.0.1")
	gwB   = netip.MustParseAddr("10.0.0.2")
	netA  = netip.MustParsePrefix("192.168.1.0/24")
	netB  = netip.MustParsePrefix("192.168.2.0/24")
	netA6 = netip.MustParsePrefix("fd00:1::/64")
	netB6 = netip.MustParsePrefix("fd00:2::/64")
	hostA = netip.MustParseAddr("192.168.1.10")
	hostB = netip.MustParseAddr("192.168.2.20")
	hA6   = netip.MustParseAddr("fd00:1::10")
	hB6   = netip.MustParseAddr("fd00:2::20")
)

// twin is two dataplanes joined by an in-memory network.
type twin struct {
	net        *edgetest.Net
	tunA, tunB *edgetest.TUN
	a, b       *Dataplane
	bindA      *edgetest.Bind
	bindB      *edgetest.Bind
}

func newTwin(t *testing.T, oa, ob Options) *twin {
	t.Helper()
	tw := &twin{net: edgetest.NewNet(), tunA: edgetest.NewTUN(256), tunB: edgetest.NewTUN(256)}
	tw.bindA = tw.net.Bind(netip.AddrPortFrom(gwA, 4500))
	tw.bindB = tw.net.Bind(netip.AddrPortFrom(gwB, 4500))
	oa.TUN, oa.Bind = []edge.Device{tw.tunA}, tw.bindA
	if ob.TUN == nil { // else the caller's device, over its own TUN twin
		ob.TUN = []edge.Device{tw.tunB}
	}
	ob.Bind = tw.bindB
	var err error
	if tw.a, err = New(oa); err != nil {
		t.Fatal(err)
	}
	if tw.b, err = New(ob); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tw.a.Close(); tw.b.Close() })
	return tw
}

// install puts a bidirectional tunnel of suite s between the twins: IPv4
// and IPv6 subnets, reqid 1, SPIs 0xa0000001 (A to B) and 0xb0000001.
func (tw *twin) install(t *testing.T, s suite) {
	t.Helper()
	ab, abIn := saPair(s, gwA, gwB, 0xa0000001, 1)
	ba, baIn := saPair(s, gwB, gwA, 0xb0000001, 1)
	polA := append(policies(netA, netB, gwA, gwB, 1), policies(netA6, netB6, gwA, gwB, 1)...)
	polB := append(policies(netB, netA, gwB, gwA, 1), policies(netB6, netA6, gwB, gwA, 1)...)
	if err := tw.a.Apply(context.Background(), ops([]dataplane.SA{ab, baIn}, polA)); err != nil {
		t.Fatal(err)
	}
	if err := tw.b.Apply(context.Background(), ops([]dataplane.SA{ba, abIn}, polB)); err != nil {
		t.Fatal(err)
	}
}

// ipv4 builds an IPv4 packet with a UDP payload of n octets.
func ipv4(src, dst netip.Addr, n int, df bool) []byte {
	p := make([]byte, ipv4HeaderLen+udpHeaderLen+n)
	putIPv4Header(p, src, dst, protoUDP, len(p), df)
	binary.BigEndian.PutUint16(p[20:], 1234)
	binary.BigEndian.PutUint16(p[22:], 5678)
	binary.BigEndian.PutUint16(p[24:], uint16(udpHeaderLen+n))
	for i := range n {
		p[28+i] = byte(i)
	}
	return p
}

// ipv6 builds an IPv6 packet with a UDP payload of n octets.
func ipv6(src, dst netip.Addr, n int) []byte {
	p := make([]byte, ipv6HeaderLen+udpHeaderLen+n)
	putIPv6Header(p, src, dst, protoUDP, udpHeaderLen+n)
	binary.BigEndian.PutUint16(p[40:], 1234)
	binary.BigEndian.PutUint16(p[42:], 5678)
	binary.BigEndian.PutUint16(p[44:], uint16(udpHeaderLen+n))
	for i := range n {
		p[48+i] = byte(i)
	}
	return p
}

// recv waits up to a second for a packet out of a TUN twin.
func recv(t *testing.T, tun *edgetest.TUN) []byte {
	t.Helper()
	select {
	case p := <-tun.Out():
		return p
	case <-time.After(2 * time.Second):
		t.Fatal("no packet out of the TUN")
		return nil
	}
}

// quiet checks that nothing comes out of a TUN twin for a moment.
func quiet(t *testing.T, tun *edgetest.TUN) {
	t.Helper()
	select {
	case p := <-tun.Out():
		t.Fatalf("unexpected packet %x", p)
	case <-time.After(50 * time.Millisecond):
	}
}

// event waits for the next event of a kind (others are skipped).
func event(t *testing.T, d *Dataplane, kind dataplane.EventKind) dataplane.Event {
	t.Helper()
	return eventWithin(t, d, kind, 2*time.Second)
}

// eventWithin is event with a deadline.
func eventWithin(t *testing.T, d *Dataplane, kind dataplane.EventKind, within time.Duration) dataplane.Event {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev := <-d.Events():
			if ev.Kind == kind {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %v event", kind)
		}
	}
}

// discard is a Device and Bind that drops everything, for allocation
// counts of the packet paths.
type discard struct{ done chan struct{} }

func newDiscard() discard { return discard{make(chan struct{})} }

func (d discard) Read(b []byte) (int, error) {
	<-d.done
	return 0, edge.ErrClosed
}
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) Close() error {
	select {
	case <-d.done:
	default:
		close(d.done)
	}
	return nil
}
func (discard) ReceiveFuncs() []edge.ReceiveFunc { return nil }
func (discard) Send(ds []edge.Datagram) error    { return nil }

var _ = esp.Scratch

type (
	edgeDevice      = edge.Device
	edgeDatagram    = edge.Datagram
	edgeReceiveFunc = edge.ReceiveFunc
)

// waitFor polls cond for up to two seconds (packets are processed on
// other goroutines).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.Require(t, 2*time.Second, what, cond)
}
