package edge

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"secgw/internal/netnsutil/netnstest"
)

// TestPrepareSendRuns: which datagrams share a UDP_SEGMENT message. A run
// is one remote address and equal sizes but for a shorter last datagram;
// a longer datagram, another remote, 64 segments or 65507 octets end it.
func TestPrepareSendRuns(t *testing.T) {
	r1 := netip.MustParseAddrPort("192.0.2.1:4500")
	r2 := netip.MustParseAddrPort("192.0.2.2:4500")
	type dg struct {
		size int
		to   netip.AddrPort
	}
	many := func(n, size int) []dg {
		var out []dg
		for range n {
			out = append(out, dg{size, r1})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   []dg
		want []int // datagrams per message
	}{
		{"one", []dg{{100, r1}}, []int{1}},
		{"equal", many(5, 1000), []int{5}},
		{"short last", append(many(3, 1000), dg{400, r1}, dg{1000, r1}), []int{4, 1}},
		{"longer starts a run", []dg{{1000, r1}, {1000, r1}, {1200, r1}, {1200, r1}}, []int{2, 2}},
		{"remote", []dg{{1000, r1}, {1000, r1}, {1000, r2}, {1000, r2}, {1000, r1}}, []int{2, 2, 1}},
		{"64 segments", many(70, 100), []int{64, 6}},
		{"65507 octets", many(40, 1700), []int{38, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ds []Datagram
			for _, d := range tc.in {
				ds = append(ds, Datagram{Buf: make([]byte, d.size), Remote: d.to})
			}
			for _, gso := range []bool{true, false} {
				m := newMmsg(len(ds))
				m.prepareSend(ds, gso)
				want := tc.want
				if !gso {
					want = nil
					for range ds {
						want = append(want, 1)
					}
				}
				var got []int
				for i := range m.nmsg {
					h := &m.hdrs[i].Hdr
					n := int(h.Iovlen)
					got = append(got, n)
					first := m.first[i]
					if getSockaddr(&m.names[i]) != ds[first].Remote {
						t.Errorf("gso=%v message %d goes to %v", gso, i, getSockaddr(&m.names[i]))
					}
					if n == 1 {
						if h.Control != nil {
							t.Errorf("gso=%v message %d: a single datagram with a cmsg", gso, i)
						}
						continue
					}
					if h.Control == nil {
						t.Fatalf("gso=%v message %d of %d datagrams has no UDP_SEGMENT", gso, i, n)
					}
					c := m.ctrl[i*ctrlLen:]
					ch := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
					seg := *(*uint16)(unsafe.Pointer(&c[unix.CmsgLen(0)]))
					if ch.Level != unix.SOL_UDP || ch.Type != unix.UDP_SEGMENT || int(seg) != len(ds[first].Buf) {
						t.Errorf("message %d: cmsg level %d type %d segment %d", i, ch.Level, ch.Type, seg)
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("gso=%v: messages of %v datagrams, want %v", gso, got, want)
				}
			}
		})
	}
}

// gsoBatch is a send batch of three runs to one remote: ten datagrams of
// 1000 octets and a short one, three of 1200, and one of 1000.
func gsoBatch(from, to netip.AddrPort) []Datagram {
	var out []Datagram
	add := func(n, size int) {
		for range n {
			b := make([]byte, size)
			for j := range b {
				b[j] = byte(len(out)*7 + j)
			}
			out = append(out, Datagram{Buf: b, Local: from, Remote: to})
		}
	}
	add(10, 1000)
	add(1, 400)
	add(3, 1200)
	add(1, 1000)
	return out
}

// receiveSplit receives on c (through rf) until want datagrams came,
// splitting GRO runs; it returns them and the largest run seen.
func receiveSplit(t *testing.T, c *net.UDPConn, rf ReceiveFunc, want int) ([][]byte, int) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	var got [][]byte
	maxRun := 1
	for len(got) < want {
		ds := make([]Datagram, 8)
		for i := range ds {
			ds[i].Buf = make([]byte, 65535)
		}
		n, err := rf(ds)
		if err != nil {
			t.Fatalf("after %d datagrams of %d: %v", len(got), want, err)
		}
		for _, d := range ds[:n] {
			run := 0
			for one := range d.Datagrams() {
				got = append(got, one)
				run++
			}
			maxRun = max(maxRun, run)
		}
	}
	return got, maxRun
}

// TestUDPBindGSO sends runs with UDP_SEGMENT over loopback: a plain
// receiver gets every datagram on its own, in order and intact; a receiver
// with GRO gets a run as one message (Seg set), which splits back into
// the same datagrams. IPv4 and IPv6.
func TestUDPBindGSO(t *testing.T) {
	for _, addr := range []string{"127.0.0.1", "::1"} {
		t.Run(addr, func(t *testing.T) {
			a := netip.MustParseAddr(addr)
			conns, err := ListenUDP([]netip.Addr{a, a, a}, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			port := func(c *net.UDPConn) netip.AddrPort {
				p := c.LocalAddr().(*net.UDPAddr).AddrPort()
				return netip.AddrPortFrom(p.Addr().Unmap(), p.Port())
			}
			tx, err := NewUDPBind(conns[:1], false)
			if err != nil {
				t.Fatal(err)
			}
			if tx.EnableGRO() {
				t.Error("EnableGRO on a send-only Bind reported true")
			}
			plain, err := NewUDPBind(conns[1:2], true)
			if err != nil {
				t.Fatal(err)
			}
			gro, err := NewUDPBind(conns[2:], true)
			if err != nil {
				t.Fatal(err)
			}
			if !gro.EnableGRO() {
				t.Fatal("the kernel refused UDP_GRO")
			}
			for _, rx := range []struct {
				name    string
				b       *UDPBind
				c       *net.UDPConn
				wantRun int
			}{{"plain", plain, conns[1], 1}, {"gro", gro, conns[2], 11}} {
				out := gsoBatch(port(conns[0]), port(rx.c))
				if err := tx.Send(out); err != nil {
					t.Fatal(err)
				}
				got, run := receiveSplit(t, rx.c, rx.b.ReceiveFuncs()[0], len(out))
				if len(got) != len(out) {
					t.Fatalf("%s: %d datagrams, want %d", rx.name, len(got), len(out))
				}
				for i := range out {
					if !bytes.Equal(got[i], out[i].Buf) {
						t.Fatalf("%s: datagram %d: %d octets, want %d", rx.name, i, len(got[i]), len(out[i].Buf))
					}
				}
				if run != rx.wantRun {
					t.Errorf("%s: largest run received in one message %d, want %d", rx.name, run, rx.wantRun)
				}
			}
			if tx.socks[a].noGSO.Load() {
				t.Error("UDP GSO was turned off")
			}
		})
	}
}

// TestUDPBindGSOTooBig: a run whose datagrams exceed the path MTU is
// refused by the kernel (EINVAL: GSO does not fragment); it goes out
// datagram by datagram, fragmented, and arrives whole. GSO stays on for
// the next batch. Loopback with MTU 1200 in a namespace of its own.
func TestUDPBindGSOTooBig(t *testing.T) {
	ns := netnstest.NewNS(t)
	h := netnstest.Handle(t, ns)
	l, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetMTU(l, 1200)
	}
	if err != nil {
		t.Fatalf("edge: loopback MTU 1200: %v", err)
	}
	var conns []*net.UDPConn
	lo := netip.MustParseAddr("127.0.0.1")
	netnstest.In(t, ns, func() (err error) {
		conns, err = ListenUDP([]netip.Addr{lo, lo}, 0)
		return err
	})
	defer conns[0].Close()
	defer conns[1].Close()
	tx, err := NewUDPBind(conns[:1], false)
	if err != nil {
		t.Fatal(err)
	}
	rx, err := NewUDPBind(conns[1:], true)
	if err != nil {
		t.Fatal(err)
	}
	from := conns[0].LocalAddr().(*net.UDPAddr).AddrPort()
	to := conns[1].LocalAddr().(*net.UDPAddr).AddrPort()
	var out []Datagram
	for i := range 4 {
		size := 1400 // above the MTU
		if i == 3 {
			size = 500 // a run of its own after the three
		}
		out = append(out, Datagram{Buf: bytes.Repeat([]byte{byte(i + 1)}, size), Local: from, Remote: to})
	}
	if err := tx.Send(out); err != nil {
		t.Fatalf("send of a run above the MTU: %v", err)
	}
	got, _ := receiveSplit(t, conns[1], rx.ReceiveFuncs()[0], len(out))
	if len(got) != len(out) {
		t.Fatalf("%d datagrams, want %d", len(got), len(out))
	}
	for i := range out {
		if !bytes.Equal(got[i], out[i].Buf) {
			t.Fatalf("datagram %d: %d octets, want %d", i, len(got[i]), len(out[i].Buf))
		}
	}
	if tx.socks[lo].noGSO.Load() {
		t.Error("a refused oversize run turned UDP GSO off for good")
	}
}

// TestGROSize reads the UDP_GRO cmsg and survives malformed control data.
func TestGROSize(t *testing.T) {
	m := newMmsg(1)
	put := func(level, typ int32, l int, v int32) {
		clear(m.ctrl)
		ch := (*unix.Cmsghdr)(unsafe.Pointer(&m.ctrl[0]))
		ch.Level, ch.Type = level, typ
		ch.SetLen(l)
		*(*int32)(unsafe.Pointer(&m.ctrl[unix.CmsgLen(0)])) = v
		m.hdrs[0].Hdr.SetControllen(ctrlLen)
	}
	put(unix.SOL_UDP, unix.UDP_GRO, unix.CmsgLen(4), 1452)
	if g := m.groSize(0); g != 1452 {
		t.Errorf("UDP_GRO 1452 read as %d", g)
	}
	for _, tc := range []struct {
		level, typ int32
		l          int
	}{
		{unix.SOL_IP, unix.UDP_GRO, unix.CmsgLen(4)},  // another level
		{unix.SOL_UDP, unix.UDP_GRO, 3},               // shorter than a header
		{unix.SOL_UDP, unix.UDP_GRO, 1000},            // beyond the buffer
		{unix.SOL_UDP, unix.UDP_GRO, unix.CmsgLen(2)}, // too short for an int
	} {
		put(tc.level, tc.typ, tc.l, 1452)
		if g := m.groSize(0); g != 0 {
			t.Errorf("cmsg level %d len %d read as %d", tc.level, tc.l, g)
		}
	}
	m.hdrs[0].Hdr.SetControllen(0)
	if g := m.groSize(0); g != 0 {
		t.Errorf("no control data read as %d", g)
	}
}
