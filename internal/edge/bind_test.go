package edge

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"
)

// TestUDPBindBatch sends a batch over loopback with sendmmsg and reads it
// with recvmmsg, for IPv4 and IPv6: payloads, lengths and both addresses
// come through; Close ends a blocked receive with ErrClosed.
func TestUDPBindBatch(t *testing.T) {
	for _, addr := range []string{"127.0.0.1", "::1"} {
		t.Run(addr, func(t *testing.T) {
			a := netip.MustParseAddr(addr)
			conns, err := ListenUDP([]netip.Addr{a, a}, 0)
			if err != nil {
				t.Fatal(err)
			}
			tx, err := NewUDPBind(conns[:1], false)
			if err != nil {
				t.Fatal(err)
			}
			rx, err := NewUDPBind(conns[1:], true)
			if err != nil {
				t.Fatal(err)
			}
			from := conns[0].LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort()
			to := conns[1].LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort()
			from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
			to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
			var out []Datagram
			for i := range 5 {
				out = append(out, Datagram{Buf: bytes.Repeat([]byte{byte(i)}, 100+i), Local: from, Remote: to})
			}
			if err := tx.Send(out); err != nil {
				t.Fatal(err)
			}
			rfs := rx.ReceiveFuncs()
			if len(rfs) != 1 || len(tx.ReceiveFuncs()) != 0 {
				t.Fatalf("%d receive functions", len(rfs))
			}
			got := 0
			for got < 5 {
				ds := make([]Datagram, 8)
				for i := range ds {
					ds[i].Buf = make([]byte, 2000)
				}
				n, err := rfs[0](ds)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range ds[:n] {
					if !bytes.Equal(d.Buf, out[got].Buf) || d.Local != to || d.Remote != from {
						t.Fatalf("datagram %d: %d octets %v <- %v", got, len(d.Buf), d.Local, d.Remote)
					}
					got++
				}
			}
			other := netip.MustParseAddr("192.0.2.1")
			if a.Is6() {
				other = netip.MustParseAddr("2001:db8::1")
			}
			if err := tx.Send([]Datagram{{Buf: []byte{1}, Local: netip.AddrPortFrom(other, 4500), Remote: to}}); !errors.Is(err, errNoSocket) {
				t.Errorf("send from an unbound address: %v", err)
			}
			done := make(chan error)
			go func() {
				ds := []Datagram{{Buf: make([]byte, 10)}}
				_, err := rfs[0](ds)
				done <- err
			}()
			time.Sleep(20 * time.Millisecond)
			rx.Close()
			select {
			case err := <-done:
				if !errors.Is(err, ErrClosed) {
					t.Errorf("receive after Close: %v", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("Close did not end a blocked receive")
			}
			tx.Close() // send-only: the shared socket stays open for its owner
			if _, err := conns[0].WriteToUDPAddrPort([]byte{1}, from); err != nil {
				t.Errorf("shared socket closed by a send-only Bind: %v", err)
			}
			conns[0].Close()
		})
	}
}

// TestSockaddr round-trips addresses through the raw sockaddr encoding.
func TestSockaddr(t *testing.T) {
	for _, s := range []string{"10.1.2.3:4500", "[fd00::1]:65535", "0.0.0.0:1"} {
		a := netip.MustParseAddrPort(s)
		m := newMmsg(1)
		putSockaddr(&m.names[0], a)
		if got := getSockaddr(&m.names[0]); got != a {
			t.Errorf("%v came back as %v", a, got)
		}
	}
}
