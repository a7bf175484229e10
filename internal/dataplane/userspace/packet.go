package userspace

import (
	"encoding/binary"
	"net/netip"

	"secgw/internal/dataplane"
)

// IP protocol numbers used here.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
	protoSCTP   = 132

	ipv4HeaderLen = 20
	ipv6HeaderLen = 40
	udpHeaderLen  = 8
)

// flow is what the SPD looks at in an IP packet (RFC 4301 §4.4.1.1):
// addresses, protocol and ports. It is parsed without allocation.
type flow struct {
	src, dst         netip.Addr
	proto            uint8
	srcPort, dstPort uint16
	hdrLen           int  // length of the IP header(s) before the transport header
	df               bool // IPv4 Don't Fragment
	v6               bool
}

// parseFlow reads the selector fields of an IPv4 or IPv6 packet. ok is
// false for anything that is not a whole IP header. Ports are read for
// TCP, UDP and SCTP when the transport header is in this fragment (the
// first); IPv6 extension headers other than none are not walked, so the
// protocol is the first Next Header (fine for the selectors the engine
// installs, which name TCP/UDP/ICMP or any protocol).
func parseFlow(p []byte) (f flow, ok bool) {
	if len(p) < 1 {
		return f, false
	}
	switch p[0] >> 4 {
	case 4:
		if len(p) < ipv4HeaderLen {
			return f, false
		}
		ihl := int(p[0]&0x0f) * 4
		if ihl < ipv4HeaderLen || len(p) < ihl {
			return f, false
		}
		f.src = netip.AddrFrom4([4]byte(p[12:16]))
		f.dst = netip.AddrFrom4([4]byte(p[16:20]))
		f.proto = p[9]
		f.hdrLen = ihl
		frag := binary.BigEndian.Uint16(p[6:8])
		f.df = frag&0x4000 != 0
		if frag&0x1fff != 0 {
			return f, true // not the first fragment: no ports
		}
	case 6:
		if len(p) < ipv6HeaderLen {
			return f, false
		}
		f.v6 = true
		f.src = netip.AddrFrom16([16]byte(p[8:24]))
		f.dst = netip.AddrFrom16([16]byte(p[24:40]))
		f.proto = p[6]
		f.hdrLen = ipv6HeaderLen
	default:
		return f, false
	}
	switch f.proto {
	case protoTCP, protoUDP, protoSCTP:
		if len(p) >= f.hdrLen+4 {
			f.srcPort = binary.BigEndian.Uint16(p[f.hdrLen:])
			f.dstPort = binary.BigEndian.Uint16(p[f.hdrLen+2:])
		}
	}
	return f, true
}

// matches tells whether the flow falls under a selector.
func matches(s *dataplane.Selector, f *flow) bool {
	if s.Proto != 0 && s.Proto != f.proto {
		return false
	}
	if s.SrcPort != 0 && s.SrcPort != f.srcPort {
		return false
	}
	if s.DstPort != 0 && s.DstPort != f.dstPort {
		return false
	}
	return prefixContains(s.Src, f.src) && prefixContains(s.Dst, f.dst)
}

// prefixContains is Prefix.Contains with an unset prefix matching
// nothing.
func prefixContains(p netip.Prefix, a netip.Addr) bool {
	return p.IsValid() && p.Contains(a)
}

// checksum is the Internet checksum (RFC 1071) of b, folded, starting
// from sum.
func checksum(b []byte, sum uint32) uint16 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// pseudoSum is the partial sum of an IPv4 or IPv6 pseudo-header (RFC 768,
// RFC 8200 §8.1).
func pseudoSum(src, dst netip.Addr, proto uint8, length int) uint32 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
	}
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		add(s[:])
		add(d[:])
	} else {
		s, d := src.As16(), dst.As16()
		add(s[:])
		add(d[:])
	}
	return sum + uint32(proto) + uint32(length)
}

// putIPv4Header writes a 20-octet IPv4 header without options at b.
func putIPv4Header(b []byte, src, dst netip.Addr, proto uint8, total int, df bool) {
	b[0], b[1] = 0x45, 0
	binary.BigEndian.PutUint16(b[2:], uint16(total))
	binary.BigEndian.PutUint32(b[4:], 0)
	if df {
		b[6] = 0x40
	}
	b[8], b[9] = 64, proto
	b[10], b[11] = 0, 0
	s, d := src.As4(), dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[10:], checksum(b[:ipv4HeaderLen], 0))
}

// putIPv6Header writes a 40-octet IPv6 header at b.
func putIPv6Header(b []byte, src, dst netip.Addr, next uint8, payloadLen int) {
	binary.BigEndian.PutUint32(b, 6<<28)
	binary.BigEndian.PutUint16(b[4:], uint16(payloadLen))
	b[6], b[7] = next, 64
	s, d := src.As16(), dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
}

// Maximum ICMP error sizes: RFC 1812 §4.3.2.3 (576 octets for IPv4) and
// RFC 4443 §2.4(c) (the IPv6 minimum MTU).
const (
	icmp4ErrorMax = 576
	icmp6ErrorMax = 1280
)

// appendTooBig writes into dst the ICMP error that tells the sender of
// orig that it must send packets of at most mtu octets: Destination
// Unreachable / Fragmentation Needed (RFC 792, RFC 1191 §4) for IPv4,
// Packet Too Big (RFC 4443 §3.2) for IPv6. from is the error's source.
// It returns the packet, a prefix of dst (which needs icmp6ErrorMax
// octets).
func appendTooBig(dst, orig []byte, f *flow, from netip.Addr, mtu int) []byte {
	if !f.v6 {
		quote := min(len(orig), icmp4ErrorMax-ipv4HeaderLen-8)
		total := ipv4HeaderLen + 8 + quote
		b := dst[:total]
		putIPv4Header(b, from, f.src, protoICMP, total, false)
		icmp := b[ipv4HeaderLen:]
		icmp[0], icmp[1] = 3, 4 // Destination Unreachable, Fragmentation Needed and DF set
		icmp[2], icmp[3] = 0, 0
		binary.BigEndian.PutUint16(icmp[4:], 0)
		binary.BigEndian.PutUint16(icmp[6:], uint16(mtu)) // Next-Hop MTU (RFC 1191 §4)
		copy(icmp[8:], orig[:quote])
		binary.BigEndian.PutUint16(icmp[2:], checksum(icmp, 0))
		return b
	}
	quote := min(len(orig), icmp6ErrorMax-ipv6HeaderLen-8)
	total := ipv6HeaderLen + 8 + quote
	b := dst[:total]
	putIPv6Header(b, from, f.src, protoICMPv6, 8+quote)
	icmp := b[ipv6HeaderLen:]
	icmp[0], icmp[1] = 2, 0 // Packet Too Big
	icmp[2], icmp[3] = 0, 0
	binary.BigEndian.PutUint32(icmp[4:], uint32(mtu))
	copy(icmp[8:], orig[:quote])
	binary.BigEndian.PutUint16(icmp[2:], checksum(icmp, pseudoSum(from, f.src, protoICMPv6, 8+quote)))
	return b
}
