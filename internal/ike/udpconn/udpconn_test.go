package udpconn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"secgw/internal/ipsec"
	"secgw/internal/poll"

	"secgw/generated"
	"secgw/internal/configtest"
	"secgw/internal/edge"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/engine/enginetest"
	"secgw/internal/ike/resolve"
	"secgw/internal/ike/udpconn"
	"secgw/internal/ike/wire"
	"secgw/internal/schema"
)

// freePorts returns two UDP ports that were free on addr a moment ago.
func freePorts(t *testing.T, addr netip.Addr) (uint16, uint16) {
	t.Helper()
	var ports []uint16
	var socks []*net.UDPConn
	for len(ports) < 2 {
		s, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
		if err != nil {
			t.Fatal(err)
		}
		socks = append(socks, s)
		ports = append(ports, s.LocalAddr().(*net.UDPAddr).AddrPort().Port())
	}
	for _, s := range socks {
		s.Close()
	}
	return ports[0], ports[1]
}

// listen opens a Conn on addr with free ports and a peer socket on the
// same address; esp receives what OnESP gets.
func listen(t *testing.T, addr netip.Addr) (c *udpconn.Conn, peer *net.UDPConn, ike, natt netip.AddrPort, esp chan engine.Datagram) {
	return listenWith(t, addr, false)
}

// listenWith is listen; with borrow the Conn has OnESPBorrow (batched
// reads of port 4500) instead of OnESP, and esp gets copies of what it
// lends (a Datagram with nil Data for an end-of-batch call).
func listenWith(t *testing.T, addr netip.Addr, borrow bool) (c *udpconn.Conn, peer *net.UDPConn, ike, natt netip.AddrPort, esp chan engine.Datagram) {
	t.Helper()
	pi, pn := freePorts(t, addr)
	esp = make(chan engine.Datagram, 16)
	o := udpconn.Options{Addrs: []netip.Addr{addr}, PortIKE: pi, PortNATT: pn,
		OnESP: func(d engine.Datagram) { esp <- d }}
	if borrow {
		o.OnESP = nil
		o.OnESPBorrow = func(local, remote netip.AddrPort, data []byte) {
			esp <- engine.Datagram{Local: local, Remote: remote, Data: append([]byte(nil), data...)}
		}
	}
	c, err := udpconn.Listen(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	peer, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return c, peer, netip.AddrPortFrom(addr, pi), netip.AddrPortFrom(addr, pn), esp
}

func receive(t *testing.T, c *udpconn.Conn) engine.Datagram {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := c.Receive(ctx)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return d
}

// ikeHeader is a syntactically plausible IKE header: only its length and
// non-zero first octets matter to the Conn.
func ikeHeader() []byte {
	h := wire.Header{SPIi: 0x0102030405060708, MajorVersion: wire.MajorVersion, Exchange: wire.ExchangeIKESAInit,
		Flags: wire.FlagInitiator}
	return h.Append(nil)
}

// TestReceiveSortsDatagrams: RFC 3948 §2 on port 4500 (keepalives and
// bare markers dropped, ESP to the hook, IKE with its marker to Receive),
// with OnESP (one read per datagram) and with OnESPBorrow (recvmmsg).
func TestReceiveSortsDatagrams(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		borrow bool
	}{{"127.0.0.1", false}, {"::1", false}, {"127.0.0.1", true}, {"::1", true}} {
		addr := tc.addr
		t.Run(fmt.Sprintf("%s/borrow=%v", addr, tc.borrow), func(t *testing.T) {
			c, peer, ike, natt, esp := listenWith(t, netip.MustParseAddr(addr), tc.borrow)
			from := peer.LocalAddr().(*net.UDPAddr).AddrPort()
			send := func(to netip.AddrPort, b []byte) {
				if _, err := peer.WriteToUDPAddrPort(b, to); err != nil {
					t.Fatal(err)
				}
			}
			msg := ikeHeader()
			marked := append(ipsec.AppendNonESPMarker(nil), msg...)
			espPkt := []byte{0xc0, 0xff, 0xee, 0x01, 0, 0, 0, 1, 9, 9, 9, 9}

			// In order: a keepalive and a bare marker (dropped), ESP (to
			// OnESP), IKE on 4500 (kept with its marker), a runt on 500
			// (dropped), IKE on 500. Ordering on loopback is FIFO per
			// socket, and the IKE datagram on each port proves that the
			// ones before it were consumed.
			send(natt, []byte{0xff})
			send(natt, ipsec.AppendNonESPMarker(nil))
			send(natt, espPkt)
			send(natt, marked)
			send(ike, []byte{1, 2, 3})
			send(ike, msg)

			got := map[uint16]engine.Datagram{}
			for range 2 {
				d := receive(t, c)
				got[d.Local.Port()] = d
			}
			if d := got[engine.PortNATT]; !bytes.Equal(d.Data, marked) || d.Remote != from ||
				d.Local != netip.AddrPortFrom(natt.Addr(), engine.PortNATT) {
				t.Errorf("4500: got %+v, want marked IKE from %v", d, from)
			}
			if d := got[engine.PortIKE]; !bytes.Equal(d.Data, msg) || d.Local != netip.AddrPortFrom(ike.Addr(), engine.PortIKE) {
				t.Errorf("500: got %+v, want the IKE message", d)
			}
			select {
			case d := <-esp:
				if !bytes.Equal(d.Data, espPkt) || d.Local.Port() != engine.PortNATT || d.Remote != from {
					t.Errorf("ESP hook got %+v", d)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("ESP-in-UDP not handed to OnESP")
			}
			if tc.borrow {
				// The end of the batch was marked before the IKE message
				// after the ESP datagram was dispatched.
				select {
				case d := <-esp:
					if d.Data != nil || d.Local.IsValid() || d.Remote.IsValid() {
						t.Errorf("want the end-of-batch call, got %+v", d)
					}
				default:
					t.Error("no end-of-batch call (nil data) after the ESP datagram")
				}
			}
			select {
			case d := <-esp:
				t.Errorf("OnESP got an extra datagram %x", d.Data)
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if d, err := c.Receive(ctx); err == nil {
				t.Errorf("extra datagram %+v", d)
			}
		})
	}
}

// TestReceiveGSORun: a run of datagrams that a peer sent with UDP GSO
// (an edge.UDPBind) reaches the port-4500 reader whole (UDP_GRO) and is
// sorted datagram by datagram: ESP lent in order, an IKE message of the
// same size in the middle of the run to Receive, after an end-of-batch
// call for the ESP before it.
func TestReceiveGSORun(t *testing.T) {
	for _, addr := range []string{"127.0.0.1", "::1"} {
		t.Run(addr, func(t *testing.T) {
			c, peer, _, natt, esp := listenWith(t, netip.MustParseAddr(addr), true)
			from := peer.LocalAddr().(*net.UDPAddr).AddrPort()
			from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
			tx, err := edge.NewUDPBind([]*net.UDPConn{peer}, false)
			if err != nil {
				t.Fatal(err)
			}
			const size = 300
			espPkt := func(i int) []byte {
				b := bytes.Repeat([]byte{byte(i)}, size)
				copy(b, []byte{0xc0, 0xff, 0xee, byte(i + 1)})
				return b
			}
			ike := append(ipsec.AppendNonESPMarker(nil), ikeHeader()...)
			ike = append(ike, make([]byte, size-len(ike))...)
			var run []edge.Datagram
			for i := range 6 {
				b := espPkt(i)
				if i == 2 {
					b = ike
				}
				if i == 5 {
					b = b[:100] // the short last one
				}
				run = append(run, edge.Datagram{Buf: b, Local: from, Remote: natt})
			}
			if err := tx.Send(run); err != nil {
				t.Fatal(err)
			}
			next := func() engine.Datagram {
				t.Helper()
				select {
				case d := <-esp:
					return d
				case <-time.After(5 * time.Second):
					t.Fatal("OnESPBorrow not called")
				}
				return engine.Datagram{}
			}
			for _, want := range []int{0, 1, -1, 3, 4, 5, -1} {
				d := next()
				if want < 0 {
					if d.Data != nil {
						t.Fatalf("want the end of a batch, got %d octets", len(d.Data))
					}
					continue
				}
				if !bytes.Equal(d.Data, run[want].Buf) || d.Remote != from {
					t.Fatalf("want ESP datagram %d (%d octets) from %v, got %d octets from %v",
						want, len(run[want].Buf), from, len(d.Data), d.Remote)
				}
			}
			if d := receive(t, c); !bytes.Equal(d.Data, ike) {
				t.Errorf("IKE in the run: got %d octets", len(d.Data))
			}
		})
	}
}

func TestSend(t *testing.T) {
	c, peer, ike, natt, _ := listen(t, netip.MustParseAddr("127.0.0.1"))
	to := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	local500 := netip.AddrPortFrom(ike.Addr(), engine.PortIKE)
	local4500 := netip.AddrPortFrom(ike.Addr(), engine.PortNATT)
	msg := ikeHeader()
	marked := append(ipsec.AppendNonESPMarker(nil), msg...)
	for _, tc := range []struct {
		local    netip.AddrPort
		data     []byte
		wantFrom netip.AddrPort
	}{
		{local500, msg, ike},
		{local4500, marked, natt},
		{local4500, []byte{0xff}, natt}, // NAT-keepalive (RFC 3948 §2.3)
	} {
		if err := c.Send(engine.Datagram{Local: tc.local, Remote: to, Data: tc.data}); err != nil {
			t.Fatalf("Send from %v: %v", tc.local, err)
		}
		peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 1500)
		n, from, err := peer.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		if from != tc.wantFrom || !bytes.Equal(buf[:n], tc.data) {
			t.Errorf("peer got %x from %v, want %x from %v", buf[:n], from, tc.data, tc.wantFrom)
		}
	}
	// The engine adds the marker: a bare IKE message on 4500 is a bug.
	if err := c.Send(engine.Datagram{Local: local4500, Remote: to, Data: msg}); err == nil {
		t.Error("unmarked IKE on port 4500 was sent")
	}
	if err := c.Send(engine.Datagram{Local: netip.MustParseAddrPort("127.0.0.9:500"), Remote: to, Data: msg}); err == nil {
		t.Error("sent from an unbound address")
	}
}

func TestListenErrors(t *testing.T) {
	if _, err := udpconn.Listen(udpconn.Options{}); err == nil {
		t.Error("no address accepted")
	}
	if _, err := udpconn.Listen(udpconn.Options{Addrs: []netip.Addr{netip.IPv4Unspecified()}}); err == nil {
		t.Error("0.0.0.0 accepted")
	}
	c, _, ike, natt, _ := listen(t, netip.MustParseAddr("127.0.0.1"))
	la := c.LocalAddrs()
	if len(la) != 2 || la[netip.AddrPortFrom(ike.Addr(), engine.PortIKE)] != ike ||
		la[netip.AddrPortFrom(ike.Addr(), engine.PortNATT)] != natt {
		t.Errorf("LocalAddrs %v, want 500->%v and 4500->%v", la, ike, natt)
	}
	if _, err := udpconn.Listen(udpconn.Options{Addrs: []netip.Addr{ike.Addr()}, PortIKE: ike.Port(), PortNATT: 1}); err == nil {
		t.Error("bound a port twice")
	}
	c.Close()
	if _, err := c.Receive(context.Background()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Receive after Close: %v", err)
	}
}

// TestEnginesOverLoopback runs IKE_SA_INIT and IKE_AUTH between two
// engines on 127.0.0.1 and 127.0.0.2 through real sockets.
func TestEnginesOverLoopback(t *testing.T) {
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	a, b := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	pi, pn := freePorts(t, a)
	run := func(addr netip.Addr, lines ...string) *enginetest.Dataplane {
		d := &generated.Device{}
		configtest.Apply(t, s, d, "/ vrf main")
		configtest.Apply(t, s, d, lines...)
		cfg, err := resolve.Config(d.Vrf["main"].Ike)
		if err != nil {
			t.Fatal(err)
		}
		c, err := udpconn.Listen(udpconn.Options{Addrs: []netip.Addr{addr}, PortIKE: pi, PortNATT: pn})
		if err != nil {
			t.Fatal(err)
		}
		dp := enginetest.NewDataplane()
		e := engine.New(engine.Options{VRF: "main", Config: cfg, LocalAddr: addr, Conn: c, Dataplane: dp,
			Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { e.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done; c.Close() })
		if addr == a {
			if err := e.Initiate("v1"); err != nil {
				t.Fatal(err)
			}
		}
		return dp
	}
	common := func(v, lid, rid, lts, rts string) []string {
		p := "/ vrf main ike vpn " + v + " "
		return []string{p + "ike-policy pre-shared-key loopback-secret", p + "local-id " + lid, p + "remote-id " + rid,
			p + "security-policy sp local-ts subnet " + lts, p + "security-policy sp remote-ts subnet " + rts}
	}
	dpB := run(b, append(common("v1", "b.example", "a.example", "192.168.2.0/24", "192.168.1.0/24"),
		"/ vrf main ike vpn v1 local-address 127.0.0.2")...)
	dpA := run(a, append(common("v1", "a.example", "b.example", "192.168.1.0/24", "192.168.2.0/24"),
		"/ vrf main ike vpn v1 local-address 127.0.0.1", "/ vrf main ike vpn v1 remote-address 127.0.0.2")...)

	if !poll.Until(10*time.Second, func() bool { return len(dpA.Children()) > 0 && len(dpB.Children()) > 0 }) {
		t.Fatalf("no child SA pair: A %d, B %d", len(dpA.Children()), len(dpB.Children()))
	}
	ca, cb := dpA.Children()[0], dpB.Children()[0]
	if ca.InSPI != cb.OutSPI || ca.OutSPI != cb.InSPI || !bytes.Equal(ca.Out.Encr, cb.In.Encr) {
		t.Errorf("child SAs do not pair: %+v / %+v", ca, cb)
	}
}

// testWriter sends log lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(b, "\n")))
	return len(b), nil
}
