package xfrm

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"secgw/internal/dataplane"
	"secgw/internal/netnsutil"
	"secgw/internal/netnsutil/netnstest"
	"secgw/internal/poll"
)

var (
	sampleSrc4 = netip.MustParseAddr("192.0.2.1")
	sampleDst4 = netip.MustParseAddr("192.0.2.2")
	sampleSrc6 = netip.MustParseAddr("2001:db8::1")
	sampleDst6 = netip.MustParseAddr("2001:db8::2")
)

// ip4 is an IPv4 packet of protocol proto from src to dst carrying l4
// (ihl in 32-bit words, 5 or more; frag the fragment offset field).
func ip4(proto byte, l4 []byte, ihl int, frag uint16) []byte {
	b := make([]byte, ihl*4, ihl*4+len(l4))
	b[0], b[8], b[9] = 0x40|byte(ihl), 64, proto
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)+len(l4)))
	binary.BigEndian.PutUint16(b[6:], frag)
	copy(b[12:], sampleSrc4.AsSlice())
	copy(b[16:], sampleDst4.AsSlice())
	return append(b, l4...)
}

func ip6(proto byte, l4 []byte) []byte {
	b := make([]byte, 40, 40+len(l4))
	b[0], b[6], b[7] = 0x60, proto, 64
	binary.BigEndian.PutUint16(b[4:], uint16(len(l4)))
	copy(b[8:], sampleSrc6.AsSlice())
	copy(b[24:], sampleDst6.AsSlice())
	return append(b, l4...)
}

func espHdr(spi uint32) []byte {
	b := make([]byte, 8+16)
	binary.BigEndian.PutUint32(b, spi)
	binary.BigEndian.PutUint32(b[4:], 1)
	return b
}

func udp(dport uint16, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b, 4500)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
	return append(b, payload...)
}

// TestSampleFilter runs the sampling socket's BPF program (in
// x/net/bpf's VM) over packets: ESP and ESP in UDP 4500 pass, with the
// octets up to the SPI; IKE (Non-ESP Marker), NAT-keepalives, other UDP
// ports, TCP, later fragments and other IP versions do not.
func TestSampleFilter(t *testing.T) {
	prog, err := sampleFilter()
	if err != nil {
		t.Fatal(err)
	}
	ins := make([]bpf.Instruction, len(prog))
	for i, r := range prog {
		ins[i] = r.Disassemble()
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	ike := append(make([]byte, 4), []byte("IKE header.....")...)
	for _, tc := range []struct {
		name string
		pkt  []byte
		pass bool
	}{
		{"esp4", ip4(unix.IPPROTO_ESP, espHdr(0x1234), 5, 0), true},
		{"esp4 with options", ip4(unix.IPPROTO_ESP, espHdr(0x1234), 6, 0), true},
		{"udp-esp4", ip4(unix.IPPROTO_UDP, udp(4500, espHdr(0x1234)), 5, 0), true},
		{"udp-esp4 with options", ip4(unix.IPPROTO_UDP, udp(4500, espHdr(0x1234)), 7, 0), true},
		{"ike4 on 4500", ip4(unix.IPPROTO_UDP, udp(4500, ike), 5, 0), false},
		{"keepalive4", ip4(unix.IPPROTO_UDP, udp(4500, []byte{0xff}), 5, 0), false},
		{"udp4 500", ip4(unix.IPPROTO_UDP, udp(500, espHdr(0x1234)), 5, 0), false},
		{"tcp4", ip4(unix.IPPROTO_TCP, espHdr(0x1234), 5, 0), false},
		{"esp4 later fragment", ip4(unix.IPPROTO_ESP, espHdr(0x1234), 5, 0x00b9), false},
		{"esp6", ip6(unix.IPPROTO_ESP, espHdr(0x1234)), true},
		{"udp-esp6", ip6(unix.IPPROTO_UDP, udp(4500, espHdr(0x1234))), true},
		{"ike6", ip6(unix.IPPROTO_UDP, udp(4500, ike)), false},
		{"keepalive6", ip6(unix.IPPROTO_UDP, udp(4500, []byte{0xff})), false},
		{"icmp6", ip6(unix.IPPROTO_ICMPV6, espHdr(0x1234)), false},
		{"not ip", append([]byte{0x20}, make([]byte, 60)...), false},
	} {
		n, err := vm.Run(tc.pkt)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if (n > 0) != tc.pass {
			t.Errorf("%s: kept %d octets, want pass=%v", tc.name, n, tc.pass)
			continue
		}
		if !tc.pass {
			continue
		}
		kept := tc.pkt[:min(n, len(tc.pkt))]
		src, dst, spi, ok := parseSample(kept)
		if !ok || spi != 0x1234 || !src.IsValid() || !dst.IsValid() {
			t.Errorf("%s: parsed %s %s %#x %v from the kept %d octets", tc.name, src, dst, spi, ok, n)
		}
	}
}

// TestParseSample: the addresses and SPI of sampled packets; truncated
// packets and reserved SPIs are not reported.
func TestParseSample(t *testing.T) {
	src, dst, spi, ok := parseSample(ip4(unix.IPPROTO_UDP, udp(4500, espHdr(0xc0ffee)), 5, 0))
	if !ok || src != sampleSrc4 || dst != sampleDst4 || spi != 0xc0ffee {
		t.Fatalf("udp-esp4: %s %s %#x %v", src, dst, spi, ok)
	}
	src, dst, spi, ok = parseSample(ip6(unix.IPPROTO_ESP, espHdr(0xabc)))
	if !ok || src != sampleSrc6 || dst != sampleDst6 || spi != 0xabc {
		t.Fatalf("esp6: %s %s %#x %v", src, dst, spi, ok)
	}
	full := ip4(unix.IPPROTO_UDP, udp(4500, espHdr(0xc0ffee)), 5, 0)
	for n := range 20 + 8 + 4 {
		if _, _, _, ok := parseSample(full[:n]); ok {
			t.Errorf("truncated to %d octets: parsed", n)
		}
	}
	if _, _, _, ok := parseSample(ip4(unix.IPPROTO_ESP, espHdr(200), 5, 0)); ok {
		t.Error("reserved SPI 200 reported")
	}
}

// FuzzParseSample: any input parses or not without panicking; what
// parses names addresses of one family and an SPI above 255.
func FuzzParseSample(f *testing.F) {
	f.Add(ip4(unix.IPPROTO_ESP, espHdr(0x1234), 5, 0))
	f.Add(ip4(unix.IPPROTO_UDP, udp(4500, espHdr(0x1234)), 6, 0))
	f.Add(ip6(unix.IPPROTO_UDP, udp(4500, espHdr(0x1234))))
	f.Fuzz(func(t *testing.T, b []byte) {
		src, dst, spi, ok := parseSample(b)
		if ok && (src.Is4() != dst.Is4() || spi <= 255) {
			t.Fatalf("%s %s %#x", src, dst, spi)
		}
	})
}

// TestHostSampleUnknownSPI: in a namespace B, the sampler reports the
// ESP and ESP-in-UDP that A sends with SPIs B has no SA for (this
// kernel has no ESP: B's stack drops them, the packet socket sees them),
// once each, and not A's IKE on port 4500 nor its NAT-keepalives.
func TestHostSampleUnknownSPI(t *testing.T) {
	a, b := netnstest.NewNS(t), netnstest.NewNS(t)
	netnstest.Veth(t, a, b, "va", "vb", netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("192.0.2.2/24"))
	d := newDP(t, b, false)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var raw int
		var u *net.UDPConn
		if err := netnsutil.Run(a, func() (err error) {
			if raw, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ESP); err != nil {
				return err
			}
			u, err = net.DialUDP("udp", &net.UDPAddr{Port: 4500}, &net.UDPAddr{IP: net.ParseIP("192.0.2.2"), Port: 4500})
			return err
		}); err != nil {
			t.Error(err)
			return
		}
		defer unix.Close(raw)
		defer u.Close()
		to := &unix.SockaddrInet4{Addr: [4]byte{192, 0, 2, 2}}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			unix.Sendto(raw, espHdr(0x5eed0001), 0, to)
			u.Write(espHdr(0x5eed0002))                        // ESP in UDP
			u.Write(append(make([]byte, 4), "IKE message"...)) // Non-ESP Marker
			u.Write([]byte{0xff})                              // NAT-keepalive
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	// A new veth pair carries nothing until the kernel's link watch
	// activates it (up to a second, more on a loaded machine): sample
	// until A's packets arrive, each sample reporting an SPI once.
	got := map[uint32]bool{}
	var err error
	poll.Until(10*time.Second, func() bool {
		var evs []dataplane.Event
		evs, err = d.SampleUnknownSPI(context.Background(), 300*time.Millisecond, 8)
		once := map[uint32]bool{}
		for _, ev := range evs {
			if ev.Kind != dataplane.UnknownSPI || ev.Src != sampleSrc4 || ev.SA.Dst != sampleDst4 || once[ev.SA.SPI] {
				t.Errorf("event %+v", ev)
			}
			once[ev.SA.SPI], got[ev.SA.SPI] = true, true
		}
		return err != nil || len(got) >= 2
	})
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0x5eed0001] || !got[0x5eed0002] {
		t.Errorf("sampled SPIs %v, want 5eed0001 (ESP) and 5eed0002 (ESP in UDP) only", got)
	}
}
