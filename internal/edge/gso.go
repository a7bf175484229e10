package edge

import (
	"encoding/binary"
	"errors"
)

// The virtio-net header that a TUN device with IFF_VNET_HDR puts in front
// of every packet (struct virtio_net_hdr in linux/virtio_net.h; fields in
// host order, which is little-endian on every platform we build for).
const (
	vnetHdrLen = 10

	vnetFlagNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM

	gsoNone  = 0    // VIRTIO_NET_HDR_GSO_NONE
	gsoTCPv4 = 1    // VIRTIO_NET_HDR_GSO_TCPV4
	gsoTCPv6 = 4    // VIRTIO_NET_HDR_GSO_TCPV6
	gsoECN   = 0x80 // VIRTIO_NET_HDR_GSO_ECN
)

// vnetHdr is a decoded virtio-net header.
type vnetHdr struct {
	flags, gsoType                      uint8
	hdrLen, gsoSize, csumStart, csumOff uint16
}

func decodeVnetHdr(b []byte) vnetHdr {
	return vnetHdr{
		flags: b[0], gsoType: b[1],
		hdrLen:    binary.LittleEndian.Uint16(b[2:]),
		gsoSize:   binary.LittleEndian.Uint16(b[4:]),
		csumStart: binary.LittleEndian.Uint16(b[6:]),
		csumOff:   binary.LittleEndian.Uint16(b[8:]),
	}
}

var errGSO = errors.New("edge: malformed offloaded packet")

// segmenter cuts one packet read with a virtio-net header into the
// packets the kernel would have sent without offloads: a TCP super-segment
// (TSO, gso_type TCPv4/TCPv6) becomes gso_size-sized segments with their
// own IP lengths, IPv4 IDs, sequence numbers and checksums; a packet with a
// partial checksum (NEEDS_CSUM) gets its checksum completed.
type segmenter struct {
	pkt       []byte // the packet after the virtio-net header
	h         vnetHdr
	hdrLen    int // IP + TCP header octets of a segment
	next      int // offset in pkt of the next segment's payload
	seg       uint32
	v4        bool
	remaining bool
}

// reset starts cutting pkt (with h its header). It refuses packets whose
// offload fields do not describe them.
func (s *segmenter) reset(h vnetHdr, pkt []byte) error {
	*s = segmenter{pkt: pkt, h: h}
	if len(pkt) < 1 {
		return errGSO
	}
	s.v4 = pkt[0]>>4 == 4
	switch h.gsoType &^ gsoECN {
	case gsoNone:
		if h.flags&vnetFlagNeedsCsum != 0 {
			cs, co := int(h.csumStart), int(h.csumOff)
			if cs+co+2 > len(pkt) {
				return errGSO
			}
			// The kernel left the pseudo-header sum in the field: the
			// sum from csum_start on, complemented, is the checksum.
			binary.BigEndian.PutUint16(pkt[cs+co:], ^fold(sum(pkt[cs:], 0)))
		}
		s.next, s.remaining = len(pkt), true
		return nil
	case gsoTCPv4, gsoTCPv6:
	default:
		return errGSO
	}
	cs := int(h.csumStart)
	if h.gsoSize == 0 || cs+20 > len(pkt) || (s.v4 && cs < 20) || (!s.v4 && cs < 40) {
		return errGSO
	}
	if s.v4 != (h.gsoType&^gsoECN == gsoTCPv4) {
		return errGSO
	}
	s.hdrLen = cs + int(pkt[cs+12]>>4)*4
	if s.hdrLen > len(pkt) || s.hdrLen < cs+20 {
		return errGSO
	}
	s.next, s.remaining = s.hdrLen, true
	return nil
}

// more reports whether a packet is left.
func (s *segmenter) more() bool { return s.remaining }

// write copies the next packet into b and returns its length; b must
// hold hdrLen+gso_size octets (or the whole packet without GSO).
func (s *segmenter) write(b []byte) (int, error) {
	if s.h.gsoType&^gsoECN == gsoNone {
		s.remaining = false
		if len(b) < len(s.pkt) {
			return 0, errGSO
		}
		return copy(b, s.pkt), nil
	}
	pkt, hl := s.pkt, s.hdrLen
	end := min(s.next+int(s.h.gsoSize), len(pkt))
	n := hl + end - s.next
	if len(b) < n {
		s.remaining = false
		return 0, errGSO
	}
	copy(b, pkt[:hl])
	copy(b[hl:], pkt[s.next:end])
	seg := s.seg
	last := end == len(pkt)
	s.next, s.seg, s.remaining = end, s.seg+1, !last
	out := b[:n]
	cs := int(s.h.csumStart)
	tcp := out[cs:]
	binary.BigEndian.PutUint32(tcp[4:], binary.BigEndian.Uint32(pkt[cs+4:])+seg*uint32(s.h.gsoSize))
	if !last {
		tcp[13] &^= 0x09 // FIN, PSH only on the last segment
	}
	if seg > 0 {
		tcp[13] &^= 0x80 // CWR only on the first (RFC 3168 §6.1.2)
	}
	var pseudo uint64
	if s.v4 {
		binary.BigEndian.PutUint16(out[2:], uint16(n))
		binary.BigEndian.PutUint16(out[4:], binary.BigEndian.Uint16(pkt[4:])+uint16(seg))
		out[10], out[11] = 0, 0
		ihl := int(out[0]&0x0f) * 4
		binary.BigEndian.PutUint16(out[10:], ^fold(sum(out[:ihl], 0)))
		pseudo = sum(out[12:20], 0) + 6 + uint64(n-cs)
	} else {
		binary.BigEndian.PutUint16(out[4:], uint16(n-40))
		pseudo = sum(out[8:40], 0) + 6 + uint64(n-cs)
	}
	tcp[16], tcp[17] = 0, 0
	binary.BigEndian.PutUint16(tcp[16:], ^fold(sum(tcp, pseudo)))
	return n, nil
}

// sum adds b as big-endian 16-bit words (RFC 1071) to acc, unfolded.
func sum(b []byte, acc uint64) uint64 {
	for len(b) >= 32 {
		acc += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:])) +
			uint64(binary.BigEndian.Uint32(b[8:])) + uint64(binary.BigEndian.Uint32(b[12:])) +
			uint64(binary.BigEndian.Uint32(b[16:])) + uint64(binary.BigEndian.Uint32(b[20:])) +
			uint64(binary.BigEndian.Uint32(b[24:])) + uint64(binary.BigEndian.Uint32(b[28:]))
		b = b[32:]
	}
	for len(b) >= 4 {
		acc += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
}

// fold reduces an unfolded sum to 16 bits (one's complement addition).
func fold(acc uint64) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}
