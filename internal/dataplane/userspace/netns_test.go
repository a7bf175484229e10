package userspace

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"secgw/internal/dataplane"
	"secgw/internal/edge"
	"secgw/internal/netnsutil/netnstest"
)

// The real topology: namespaces A and B joined by a veth pair (outer
// addresses), each with a TUN device secgw0 holding its inner addresses
// and routes to the other side's inner prefixes.
var (
	vethA, vethB   = netip.MustParseAddr("10.77.0.1"), netip.MustParseAddr("10.77.0.2")
	innerA, innerB = netip.MustParseAddr("172.16.1.1"), netip.MustParseAddr("172.16.2.1")
	inA6, inB6     = netip.MustParseAddr("fd77:1::1"), netip.MustParseAddr("fd77:2::1")
	subA, subB     = netip.MustParsePrefix("172.16.1.0/24"), netip.MustParsePrefix("172.16.2.0/24")
	subA6, subB6   = netip.MustParsePrefix("fd77:1::/64"), netip.MustParsePrefix("fd77:2::/64")
)

var nsSeq atomic.Uint32

// requireNetns fails (never skips) when the namespace tests cannot run.
func requireNetns(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("userspace: the namespace tests need root (network namespaces, TUN devices)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("userspace: the namespace tests need ip(8) from the iproute2 package")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Fatal("userspace: the namespace tests need /dev/net/tun")
	}
}

// side is one namespace with its dataplane.
type side struct {
	ns   string
	dp   *Dataplane
	veth netip.Addr
}

// newSide creates namespace ns with the veth end and a TUN (with
// offloads: TSO super-segments cut by the TUN, virtio-net headers), and
// starts a dataplane on them.
func newSide(t testing.TB, ns string, nsh netns.NsHandle, veth, in4, in6 netip.Addr, remote4, remote6 netip.Prefix, mtu int, offload bool) *side {
	t.Helper()
	var devs []edge.Device
	var conns []*net.UDPConn
	netnstest.InNamed(t, ns, func() error {
		var err error
		create := edge.CreateTUN
		if offload {
			create = edge.CreateOffloadTUN
		}
		if devs, err = create("secgw0", 2); err != nil {
			return err
		}
		conns, err = edge.ListenUDP([]netip.Addr{veth}, 4500)
		return err
	})
	h := netnstest.Handle(t, nsh)
	tun, err := h.LinkByName("secgw0")
	if err == nil {
		err = h.LinkSetMTU(tun, mtu)
	}
	if err == nil {
		err = h.LinkSetUp(tun)
	}
	if err != nil {
		t.Fatalf("userspace: secgw0 in %s: %v", ns, err)
	}
	netnstest.Addr(t, h, tun, netip.PrefixFrom(in4, 32))
	netnstest.Addr(t, h, tun, netip.PrefixFrom(in6, 128))
	netnstest.Route(t, h, remote4, netip.Addr{}, in4, tun)
	netnstest.Route(t, h, remote6, netip.Addr{}, in6, tun)
	bind, err := edge.NewUDPBind(conns, true)
	if err != nil {
		t.Fatal(err)
	}
	dp, err := New(Options{TUN: devs, Bind: bind, MTU: 1500})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dp.Close() })
	return &side{ns: ns, dp: dp, veth: veth}
}

// newNetnsPair builds the two namespaces and their dataplanes; TUN MTU
// 1500 on a 1500 path, so that full-size packets exercise the
// Fragmentation Needed path.
func newNetnsPair(t testing.TB) (a, b *side) {
	t.Helper()
	requireNetns(t)
	id := fmt.Sprintf("secgw-us%d-%d", os.Getpid(), nsSeq.Add(1))
	na, nb := id+"-a", id+"-b"
	ha, hb := netnstest.NewNamed(t, na), netnstest.NewNamed(t, nb)
	netnstest.Veth(t, ha, hb, "veth-a", "veth-b", netip.PrefixFrom(vethA, 24), netip.PrefixFrom(vethB, 24))
	// A's TUN has offloads, B's has none: both kinds of queue, and
	// their packets interoperate.
	a = newSide(t, na, ha, vethA, innerA, inA6, subB, subB6, tunMTU, true)
	b = newSide(t, nb, hb, vethB, innerB, inB6, subA, subA6, tunMTU, false)
	return a, b
}

// installSuite replaces the tunnel between a and b with one of suite s:
// new SPIs each time, IPv4 and IPv6 inner prefixes.
func installSuite(t testing.TB, a, b *side, s suite, spiBase uint32) {
	t.Helper()
	ctx := context.Background()
	for _, d := range []*Dataplane{a.dp, b.dp} {
		st, _ := d.List(ctx)
		var del []dataplane.Op
		for i := range st.SAs {
			del = append(del, dataplane.Op{Kind: dataplane.DeleteSA, SA: &st.SAs[i]})
		}
		for i := range st.Policies {
			del = append(del, dataplane.Op{Kind: dataplane.DeletePolicy, Policy: &st.Policies[i]})
		}
		if err := d.Apply(ctx, del); err != nil {
			t.Fatal(err)
		}
	}
	ab, abIn := saPair(s, a.veth, b.veth, spiBase+1, 1)
	ba, baIn := saPair(s, b.veth, a.veth, spiBase+2, 1)
	polA := append(policies(subA, subB, a.veth, b.veth, 1), policies(subA6, subB6, a.veth, b.veth, 1)...)
	polB := append(policies(subB, subA, b.veth, a.veth, 1), policies(subB6, subA6, b.veth, a.veth, 1)...)
	if err := a.dp.Apply(ctx, ops([]dataplane.SA{ab, baIn}, polA)); err != nil {
		t.Fatal(err)
	}
	if err := b.dp.Apply(ctx, ops([]dataplane.SA{ba, abIn}, polB)); err != nil {
		t.Fatal(err)
	}
}

// ping sends ICMP echo requests from namespace ns to dst and waits for a
// reply (a raw ICMP socket: no ping binary needed).
func ping(t *testing.T, ns string, dst netip.Addr) {
	t.Helper()
	if !tryPing(t, ns, dst, 5) {
		t.Fatalf("no echo reply from %v in %s", dst, ns)
	}
}

// tryPing sends up to tries echo requests and reports whether one was
// answered.
func tryPing(t *testing.T, ns string, dst netip.Addr, tries int) bool {
	t.Helper()
	network, req := "ip4:icmp", byte(8)
	if dst.Is6() {
		network, req = "ip6:ipv6-icmp", 128
	}
	var c net.PacketConn
	netnstest.InNamed(t, ns, func() (err error) {
		c, err = net.ListenPacket(network, "")
		return err
	})
	defer c.Close()
	id := uint16(os.Getpid())
	for seq := uint16(1); seq <= uint16(tries); seq++ {
		msg := make([]byte, 8+56)
		msg[0] = req
		binary.BigEndian.PutUint16(msg[4:], id)
		binary.BigEndian.PutUint16(msg[6:], seq)
		if dst.Is4() {
			binary.BigEndian.PutUint16(msg[2:], checksum(msg, 0))
		} // ICMPv6: the kernel fills the checksum of raw ICMPv6 sockets
		if _, err := c.WriteTo(msg, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
			t.Fatalf("ping %v: %v", dst, err)
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 1500)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				break // retry with the next sequence number
			}
			if n >= 8 && (buf[0] == 0 || buf[0] == 129) && binary.BigEndian.Uint16(buf[4:]) == id &&
				binary.BigEndian.Uint16(buf[6:]) == seq {
				return true
			}
		}
	}
	return false
}

// tcpEcho connects from namespace from to an echo server in namespace to
// and checks that n random octets come back intact.
func tcpEcho(t *testing.T, from, to string, dst netip.Addr, n int) {
	t.Helper()
	var ln net.Listener
	netnstest.InNamed(t, to, func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(dst, 0).String())
		return err
	})
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	var c net.Conn
	netnstest.InNamed(t, from, func() (err error) {
		c, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		return err
	})
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	data := make([]byte, n)
	rand.Read(data)
	go func() { c.Write(data) }()
	got := make([]byte, n)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("TCP %s -> %v: %v", from, dst, err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("TCP %s -> %v: data changed", from, dst)
	}
}

// TestNetns runs two dataplanes on real TUN devices and UDP sockets in
// two network namespaces, with SAs and policies from Apply (no IKE): ping
// and TCP in both directions, IPv4 and IPv6 inner traffic, every suite.
// TCP at full size also crosses the Fragmentation Needed / Packet Too Big
// path (TUN MTU 1500 on a 1500 path).
func TestNetns(t *testing.T) {
	a, b := newNetnsPair(t)
	for i, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			installSuite(t, a, b, s, uint32(0x1000*(i+1)))
			ping(t, a.ns, innerB)
			ping(t, b.ns, innerA)
			ping(t, a.ns, inB6)
			ping(t, b.ns, inA6)
			tcpEcho(t, a.ns, b.ns, innerB, 200_000)
			tcpEcho(t, b.ns, a.ns, innerA, 200_000)
			tcpEcho(t, a.ns, b.ns, inB6, 200_000)
			tcpEcho(t, b.ns, a.ns, inA6, 200_000)
			c, err := b.dp.Counters(context.Background(), dataplane.SAKey{Dst: vethB, SPI: uint32(0x1000*(i+1)) + 1})
			if err != nil || c.Packets == 0 || c.AuthDrops != 0 {
				t.Errorf("B's inbound SA: %+v %v", c, err)
			}
		})
	}
	t.Logf("A: %+v", a.dp.Stats())
	t.Logf("B: %+v", b.dp.Stats())
	if st := a.dp.Stats(); st.Auth != 0 || st.Selector != 0 || st.BadInner != 0 {
		t.Errorf("A dropped inbound packets: %+v", st)
	}
}

// tunMTU is the TUN devices' MTU in the namespace tests.
var tunMTU = 1500
