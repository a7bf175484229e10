package edge

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// refSum is a plain RFC 1071 checksum, independent of sum/fold.
func refSum(parts ...[]byte) uint16 {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	if len(b)%2 == 1 {
		b = append(b, 0)
	}
	var s uint32
	for i := 0; i < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// superSegment builds an IPv4 or IPv6 TCP packet with payload, flags
// and seq, the way the kernel hands it over with TSO: the TCP checksum
// field holds only the pseudo-header sum (csum not yet complete).
func superSegment(v4 bool, payload []byte, flags byte, seq uint32) []byte {
	var ip []byte
	if v4 {
		ip = make([]byte, 20)
		ip[0], ip[8], ip[9] = 0x45, 64, 6
		binary.BigEndian.PutUint16(ip[2:], uint16(20+20+len(payload)))
		binary.BigEndian.PutUint16(ip[4:], 0x1234)
		ip[6] = 0x40 // DF
		copy(ip[12:], []byte{10, 1, 0, 1, 10, 2, 0, 1})
	} else {
		ip = make([]byte, 40)
		ip[0], ip[6], ip[7] = 0x60, 6, 64
		binary.BigEndian.PutUint16(ip[4:], uint16(20+len(payload)))
		ip[8], ip[23], ip[24], ip[39] = 0xfd, 1, 0xfd, 2
	}
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	tcp[12], tcp[13] = 5<<4, flags
	pkt := append(append(ip, tcp...), payload...)
	return pkt
}

// checkSegment verifies one cut segment's IP and TCP checksums and
// lengths, and returns its TCP header and payload.
func checkSegment(t *testing.T, v4 bool, seg []byte) (tcp, payload []byte) {
	t.Helper()
	var pseudo []byte
	hl := 40
	if v4 {
		hl = 20
		if refSum(seg[:20]) != 0xffff {
			t.Fatalf("IPv4 header checksum wrong: %x", seg[:20])
		}
		if int(binary.BigEndian.Uint16(seg[2:])) != len(seg) {
			t.Fatalf("IPv4 total length %d, segment %d", binary.BigEndian.Uint16(seg[2:]), len(seg))
		}
		pseudo = append(append([]byte(nil), seg[12:20]...), 0, 6, byte((len(seg)-hl)>>8), byte(len(seg)-hl))
	} else {
		if int(binary.BigEndian.Uint16(seg[4:])) != len(seg)-40 {
			t.Fatalf("IPv6 payload length %d, segment %d", binary.BigEndian.Uint16(seg[4:]), len(seg))
		}
		pseudo = append(append([]byte(nil), seg[8:40]...), 0, 0, byte((len(seg)-hl)>>8), byte(len(seg)-hl), 0, 0, 0, 6)
	}
	if refSum(pseudo, seg[hl:]) != 0xffff {
		t.Fatalf("TCP checksum wrong")
	}
	return seg[hl : hl+20], seg[hl+20:]
}

// TestSegmentTSO: a TCP super-segment is cut into gso_size segments
// whose payloads concatenate to the original, with consecutive sequence
// numbers and IPv4 IDs, FIN/PSH only on the last, CWR only on the first,
// and valid checksums.
func TestSegmentTSO(t *testing.T) {
	for _, v4 := range []bool{true, false} {
		payload := make([]byte, 3500)
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		pkt := superSegment(v4, payload, 0x80|0x10|0x08|0x01, 1000) // CWR ACK PSH FIN
		h := vnetHdr{flags: vnetFlagNeedsCsum, gsoType: gsoTCPv6, gsoSize: 1000, csumOff: 16}
		h.csumStart = 40
		if v4 {
			h.gsoType, h.csumStart = gsoTCPv4, 20
		}
		var s segmenter
		if err := s.reset(h, pkt); err != nil {
			t.Fatal(err)
		}
		var got []byte
		var segs int
		for s.more() {
			b := make([]byte, 2000)
			n, err := s.write(b)
			if err != nil {
				t.Fatal(err)
			}
			tcp, pl := checkSegment(t, v4, b[:n])
			last := !s.more()
			if seq := binary.BigEndian.Uint32(tcp[4:]); seq != 1000+uint32(len(got)) {
				t.Errorf("segment %d: seq %d", segs, seq)
			}
			if v4 {
				if id := binary.BigEndian.Uint16(b[4:]); id != 0x1234+uint16(segs) {
					t.Errorf("segment %d: IPv4 ID %#x", segs, id)
				}
			}
			if fin := tcp[13]&0x09 != 0; fin != last {
				t.Errorf("segment %d: FIN/PSH %v, last %v", segs, fin, last)
			}
			if cwr := tcp[13]&0x80 != 0; cwr != (segs == 0) {
				t.Errorf("segment %d: CWR %v", segs, cwr)
			}
			if tcp[13]&0x10 == 0 {
				t.Errorf("segment %d: ACK lost", segs)
			}
			if !last && len(pl) != 1000 {
				t.Errorf("segment %d: %d octets", segs, len(pl))
			}
			got = append(got, pl...)
			segs++
		}
		if segs != 4 || !bytes.Equal(got, payload) {
			t.Errorf("v4 %v: %d segments, payload equal %v", v4, segs, bytes.Equal(got, payload))
		}
	}
}

// TestSegmentNeedsCsum: a packet without GSO whose checksum the kernel
// left partial (the pseudo-header sum in the field) comes out whole
// with a valid checksum.
func TestSegmentNeedsCsum(t *testing.T) {
	pkt := superSegment(true, []byte("hello, odd length"), 0x18, 7)
	pseudo := append(append([]byte(nil), pkt[12:20]...), 0, 6, 0, byte(len(pkt)-20))
	binary.BigEndian.PutUint16(pkt[36:], refSum(pseudo))
	var s segmenter
	if err := s.reset(vnetHdr{flags: vnetFlagNeedsCsum, csumStart: 20, csumOff: 16}, pkt); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 100)
	n, err := s.write(b)
	if err != nil || n != len(pkt) || s.more() {
		t.Fatalf("write: %d %v more %v", n, err, s.more())
	}
	if refSum(pseudo, b[20:n]) != 0xffff {
		t.Error("TCP checksum not completed")
	}
}

// TestSegmentRefused: offload fields that do not describe the packet
// are refused, and a too small buffer is an error, not a panic.
func TestSegmentRefused(t *testing.T) {
	pkt := superSegment(true, make([]byte, 100), 0x10, 1)
	for name, h := range map[string]vnetHdr{
		"csum beyond":   {flags: vnetFlagNeedsCsum, csumStart: 130, csumOff: 16},
		"gso size 0":    {gsoType: gsoTCPv4, csumStart: 20},
		"v6 type on v4": {gsoType: gsoTCPv6, gsoSize: 50, csumStart: 20},
		"short csum":    {gsoType: gsoTCPv4, gsoSize: 50, csumStart: 10},
		"UDP GSO":       {gsoType: 5, gsoSize: 50, csumStart: 20},
	} {
		var s segmenter
		if s.reset(h, pkt) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	var s segmenter
	if err := s.reset(vnetHdr{gsoType: gsoTCPv4, gsoSize: 50, csumStart: 20}, pkt); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write(make([]byte, 60)); err == nil || s.more() {
		t.Errorf("small buffer: %v, more %v", err, s.more())
	}
}

// FuzzSegment: any header and packet are cut without panicking, into
// segments that fit the buffer.
func FuzzSegment(f *testing.F) {
	pkt := superSegment(true, make([]byte, 300), 0x19, 1)
	f.Add([]byte{1, 1, 0, 0, 100, 0, 20, 0, 16, 0}, pkt)
	f.Add([]byte{1, 0, 0, 0, 0, 0, 20, 0, 16, 0}, pkt)
	f.Add([]byte{1, 4, 0, 0, 100, 0, 40, 0, 16, 0}, superSegment(false, make([]byte, 300), 0x10, 9))
	f.Fuzz(func(t *testing.T, hdr, pkt []byte) {
		if len(hdr) < vnetHdrLen {
			return
		}
		var s segmenter
		if s.reset(decodeVnetHdr(hdr), pkt) != nil {
			return
		}
		b := make([]byte, 1500)
		for i := 0; s.more() && i < 1<<16; i++ {
			n, err := s.write(b)
			if err != nil {
				return
			}
			if n > len(b) {
				t.Fatalf("segment of %d octets", n)
			}
		}
	})
}
