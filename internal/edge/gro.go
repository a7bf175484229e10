package edge

import "encoding/binary"

// CoalescingDevice is a Device that can merge the consecutive TCP
// segments of one flow into a single write of a TCP super-segment
// (receive offload, as GRO does for a NIC): a TUN with offloads.
type CoalescingDevice interface {
	Device
	// WriteCoalesced writes b, or holds a copy of it to merge it with the
	// next segments of its TCP flow. Packets keep their order.
	WriteCoalesced(b []byte) (int, error)
	// Flush writes what WriteCoalesced holds.
	Flush() error
}

// TCP flags (RFC 9293 §3.1).
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
	tcpURG = 0x20
)

// coalescer builds one TCP super-segment out of consecutive segments of
// a flow and writes it behind a virtio-net header with gso_type TCPv4 or
// TCPv6 and NEEDS_CSUM, the form TSO packets take (gso.go reads it back).
// The kernel takes such a packet up its stack in one piece.
type coalescer struct {
	// buf holds the virtio-net header and the held packet; n octets of
	// packet are held (0: none).
	buf                []byte
	n                  int
	ipHdr, hdrLen, gso int
	v4                 bool
	segs               int
	nextSeq            uint32
	closed             bool // the last segment was short or had PSH
	write              func(b []byte) error
}

// tcpSeg describes an IP packet that may be merged: a TCP segment with
// ACK and payload and no SYN, FIN, RST, URG, ECE or CWR, without IP
// options, extension headers or fragmentation, with a valid checksum.
type tcpSeg struct {
	ipHdr, hdrLen int
	v4            bool
}

func parseTCPSeg(b []byte) (tcpSeg, bool) {
	var s tcpSeg
	switch {
	case len(b) >= 40 && b[0] == 0x45:
		// IPv4 without options, not a fragment (MF clear, offset 0).
		if int(binary.BigEndian.Uint16(b[2:])) != len(b) || b[9] != 6 || binary.BigEndian.Uint16(b[6:])&0x3fff != 0 {
			return s, false
		}
		s.ipHdr, s.v4 = 20, true
	case len(b) >= 60 && b[0]>>4 == 6:
		if b[6] != 6 || 40+int(binary.BigEndian.Uint16(b[4:])) != len(b) {
			return s, false
		}
		s.ipHdr = 40
	default:
		return s, false
	}
	tcp := b[s.ipHdr:]
	doff := int(tcp[12]>>4) * 4
	if doff < 20 || doff >= len(tcp) {
		return s, false // no payload
	}
	if tcp[13]&^tcpPSH != tcpACK {
		return s, false
	}
	s.hdrLen = s.ipHdr + doff
	// A corrupt segment is written on its own for the kernel to drop:
	// NEEDS_CSUM would have it trust the merged one.
	if fold(sum(tcp, pseudoSum(b, s.ipHdr, s.v4, len(tcp)))) != 0xffff {
		return s, false
	}
	return s, true
}

// pseudoSum is the unfolded sum of the TCP pseudo-header (RFC 9293
// §3.1, RFC 8200 §8.1) of packet b for a TCP length of l.
func pseudoSum(b []byte, ipHdr int, v4 bool, l int) uint64 {
	if v4 {
		return sum(b[12:20], 0) + 6 + uint64(l)
	}
	return sum(b[8:40], 0) + 6 + uint64(l)
}

// add writes b or holds it.
func (c *coalescer) add(b []byte) error {
	s, ok := parseTCPSeg(b)
	if ok && c.n > 0 && c.mergeable(b, s) {
		plen := len(b) - s.hdrLen
		copy(c.buf[vnetHdrLen+c.n:], b[s.hdrLen:])
		c.n += plen
		c.segs++
		c.nextSeq += uint32(plen)
		held := c.buf[vnetHdrLen:]
		tcp := held[c.ipHdr:]
		copy(tcp[14:16], b[s.ipHdr+14:s.ipHdr+16]) // the newest window
		if plen < c.gso || b[s.ipHdr+13]&tcpPSH != 0 {
			tcp[13] |= b[s.ipHdr+13] & tcpPSH
			c.closed = true
		}
		return nil
	}
	if err := c.flush(); err != nil {
		return err
	}
	if !ok || len(b) > len(c.buf)-vnetHdrLen {
		return c.writePlain(b)
	}
	c.n = copy(c.buf[vnetHdrLen:], b)
	c.ipHdr, c.hdrLen, c.v4, c.segs = s.ipHdr, s.hdrLen, s.v4, 1
	c.gso = len(b) - s.hdrLen
	c.nextSeq = binary.BigEndian.Uint32(b[s.ipHdr+4:]) + uint32(c.gso)
	c.closed = b[s.ipHdr+13]&tcpPSH != 0
	return nil
}

// mergeable reports whether segment b (described by s) continues the
// held one: same addresses, ports, IP fields, ACK, header length and
// options, the next sequence number, no longer than the first segment
// and fits in 64 KiB.
func (c *coalescer) mergeable(b []byte, s tcpSeg) bool {
	held := c.buf[vnetHdrLen : vnetHdrLen+c.n]
	plen := len(b) - s.hdrLen
	if c.closed || s.v4 != c.v4 || s.hdrLen != c.hdrLen || plen > c.gso ||
		c.n+plen > 65535 || vnetHdrLen+c.n+plen > len(c.buf) {
		return false
	}
	if c.v4 {
		// TOS (and so ECN marks), DF, TTL and addresses.
		if b[1] != held[1] || b[6]&0x40 != held[6]&0x40 || b[8] != held[8] || string(b[12:20]) != string(held[12:20]) {
			return false
		}
	} else if string(b[:4]) != string(held[:4]) || b[7] != held[7] || string(b[8:40]) != string(held[8:40]) {
		return false
	}
	t, h := b[s.ipHdr:s.hdrLen], held[c.ipHdr:c.hdrLen]
	return string(t[:4]) == string(h[:4]) && binary.BigEndian.Uint32(t[4:]) == c.nextSeq &&
		string(t[8:13]) == string(h[8:13]) && t[13]&^tcpPSH == h[13]&^tcpPSH && string(t[20:]) == string(h[20:])
}

// flush writes the held packet: as it came if it is one segment, else
// as a TCP super-segment with its IP length, IPv4 header checksum and
// the pseudo-header sum in the TCP checksum field (NEEDS_CSUM).
func (c *coalescer) flush() error {
	if c.n == 0 {
		return nil
	}
	out := c.buf[:vnetHdrLen+c.n]
	pkt := out[vnetHdrLen:]
	c.n = 0
	clear(out[:vnetHdrLen])
	if c.segs == 1 {
		return c.write(out)
	}
	ipHdr := c.ipHdr
	tcpLen := len(pkt) - ipHdr
	gsoType := byte(gsoTCPv6)
	if c.v4 {
		gsoType = gsoTCPv4
		binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
		pkt[10], pkt[11] = 0, 0
		binary.BigEndian.PutUint16(pkt[10:], ^fold(sum(pkt[:20], 0)))
	} else {
		binary.BigEndian.PutUint16(pkt[4:], uint16(tcpLen))
	}
	binary.BigEndian.PutUint16(pkt[ipHdr+16:], fold(pseudoSum(pkt, ipHdr, c.v4, tcpLen)))
	out[0], out[1] = vnetFlagNeedsCsum, gsoType
	binary.LittleEndian.PutUint16(out[2:], uint16(c.hdrLen))
	binary.LittleEndian.PutUint16(out[4:], uint16(c.gso))
	binary.LittleEndian.PutUint16(out[6:], uint16(ipHdr))
	binary.LittleEndian.PutUint16(out[8:], 16)
	return c.write(out)
}

// writePlain writes b behind an all-zero virtio-net header, through the
// tail of buf (nothing is held when it is called).
func (c *coalescer) writePlain(b []byte) error {
	if len(b) > len(c.buf)-vnetHdrLen {
		return errGSO
	}
	clear(c.buf[:vnetHdrLen])
	n := copy(c.buf[vnetHdrLen:], b)
	return c.write(c.buf[:vnetHdrLen+n])
}
