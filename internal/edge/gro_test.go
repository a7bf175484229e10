package edge

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// tcpSegment builds a complete TCP segment as a sender puts it on the
// wire: source port sport, IPv4 ID id, valid IP and TCP checksums.
func tcpSegment(v4 bool, sport uint16, seq uint32, id uint16, flags byte, payload []byte) []byte {
	p := superSegment(v4, payload, flags, seq)
	hl := 40
	var pseudo []byte
	if v4 {
		hl = 20
		binary.BigEndian.PutUint16(p[4:], id)
		binary.BigEndian.PutUint16(p[10:], ^refSum(p[:20]))
		pseudo = append(append([]byte(nil), p[12:20]...), 0, 6, byte((len(p)-hl)>>8), byte(len(p)-hl))
	} else {
		pseudo = append(append([]byte(nil), p[8:40]...), 0, 0, byte((len(p)-hl)>>8), byte(len(p)-hl), 0, 0, 0, 6)
	}
	binary.BigEndian.PutUint16(p[hl:], sport)
	binary.BigEndian.PutUint16(p[hl+16:], ^refSum(pseudo, p[hl:]))
	return p
}

// recorder is a coalescer writing into a list of copies.
func recorder() (*coalescer, *[][]byte) {
	var out [][]byte
	c := &coalescer{buf: make([]byte, vnetHdrLen+65535), write: func(b []byte) error {
		out = append(out, append([]byte(nil), b...))
		return nil
	}}
	return c, &out
}

// explode cuts each write the way the kernel's GSO would (segmenter) and
// returns the packets, failing on a write the kernel would refuse.
func explode(t *testing.T, writes [][]byte) [][]byte {
	t.Helper()
	var pkts [][]byte
	for _, w := range writes {
		var s segmenter
		if err := s.reset(decodeVnetHdr(w), append([]byte(nil), w[vnetHdrLen:]...)); err != nil {
			t.Fatalf("write refused: %v", err)
		}
		for s.more() {
			b := make([]byte, 65535)
			n, err := s.write(b)
			if err != nil {
				t.Fatal(err)
			}
			pkts = append(pkts, b[:n])
		}
	}
	return pkts
}

// TestCoalesceFlow: consecutive full segments of one flow and a short
// last one with PSH go out as one TCPv4/TCPv6 super-segment whose
// checksum field holds the pseudo-header sum (completing it gives a
// valid checksum), and cutting it gives back the original segments.
func TestCoalesceFlow(t *testing.T) {
	for _, v4 := range []bool{true, false} {
		c, out := recorder()
		var in [][]byte
		seq := uint32(5000)
		for i := range 6 {
			size, flags := 1000, byte(tcpACK)
			if i == 5 {
				size, flags = 300, tcpACK|tcpPSH
			}
			pl := bytes.Repeat([]byte{byte(i + 1)}, size)
			in = append(in, tcpSegment(v4, 40000, seq, uint16(7+i), flags, pl))
			seq += uint32(size)
		}
		for _, p := range in {
			if err := c.add(p); err != nil {
				t.Fatal(err)
			}
		}
		if len(*out) != 0 {
			t.Fatalf("v4=%v: %d writes before Flush", v4, len(*out))
		}
		if err := c.flush(); err != nil {
			t.Fatal(err)
		}
		if len(*out) != 1 {
			t.Fatalf("v4=%v: %d writes, want one super-segment", v4, len(*out))
		}
		w := (*out)[0]
		h := decodeVnetHdr(w)
		wantType, hl := uint8(gsoTCPv6), 40
		if v4 {
			wantType, hl = gsoTCPv4, 20
		}
		if h.gsoType != wantType || h.gsoSize != 1000 || h.flags != vnetFlagNeedsCsum ||
			int(h.csumStart) != hl || h.csumOff != 16 || int(h.hdrLen) != hl+20 {
			t.Fatalf("v4=%v: virtio-net header %+v", v4, h)
		}
		// NEEDS_CSUM: the kernel sums from csum_start with the field as
		// it is and stores the complement; that must be the checksum.
		pkt := append([]byte(nil), w[vnetHdrLen:]...)
		tcp := pkt[hl:]
		binary.BigEndian.PutUint16(tcp[16:], ^refSum(tcp))
		checkSegment(t, v4, pkt)
		got := explode(t, *out)
		if len(got) != len(in) {
			t.Fatalf("v4=%v: %d segments back, want %d", v4, len(got), len(in))
		}
		for i := range in {
			if !bytes.Equal(got[i], in[i]) {
				t.Fatalf("v4=%v: segment %d differs:\n got %x\nwant %x", v4, i, got[i][:hl+20], in[i][:hl+20])
			}
		}
	}
}

// TestCoalesceBoundaries: what must not be merged is written on its own,
// and every packet comes out once and in order: another flow, a gap in
// the sequence numbers, a segment after a short one, SYN, a bad
// checksum, a non-TCP packet; a plain write flushes what is held.
func TestCoalesceBoundaries(t *testing.T) {
	pl := bytes.Repeat([]byte{0xab}, 500)
	bad := tcpSegment(true, 40000, 4500, 9, tcpACK, pl)
	bad[len(bad)-1] ^= 0xff
	udp := tcpSegment(true, 1, 1, 1, tcpACK, pl)
	udp[9] = 17
	binary.BigEndian.PutUint16(udp[10:], 0)
	binary.BigEndian.PutUint16(udp[10:], ^refSum(udp[:20]))
	in := [][]byte{
		tcpSegment(true, 40000, 1000, 1, tcpACK, pl), // held
		tcpSegment(true, 40000, 1500, 2, tcpACK, pl), // merged
		tcpSegment(true, 40001, 1000, 1, tcpACK, pl), // other flow
		tcpSegment(true, 40001, 1600, 2, tcpACK, pl), // gap
		tcpSegment(true, 40001, 2100, 3, tcpACK, pl[:100]),
		tcpSegment(true, 40001, 2200, 4, tcpACK, pl), // after a short one
		tcpSegment(true, 40000, 2700, 5, tcpSYN|tcpACK, pl),
		bad,
		udp,
		tcpSegment(false, 40000, 1000, 0, tcpACK, pl), // IPv6 after IPv4
	}
	c, out := recorder()
	for _, p := range in {
		if err := c.add(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	// 1+2 | 3 | 4+5 | 6 | SYN | bad | UDP | IPv6
	if len(*out) != 8 {
		t.Errorf("%d writes, want 8", len(*out))
	}
	got := explode(t, *out)
	if len(got) != len(in) {
		t.Fatalf("%d packets back, want %d", len(got), len(in))
	}
	for i := range in {
		if !bytes.Equal(got[i], in[i]) {
			t.Errorf("packet %d differs", i)
		}
	}
	if c.flush() != nil || len(*out) != 8 {
		t.Error("a second Flush wrote again")
	}
}

// FuzzCoalesce: arbitrary packets (cut from the input at the lengths of
// its first octets) never panic the coalescer, every write is one the
// kernel's GSO accepts, and cutting the writes gives as many packets as
// went in.
func FuzzCoalesce(f *testing.F) {
	a := tcpSegment(true, 40000, 1000, 1, tcpACK, make([]byte, 100))
	b := tcpSegment(true, 40000, 1100, 2, tcpACK, make([]byte, 100))
	v6 := tcpSegment(false, 40000, 1000, 1, tcpACK|tcpPSH, make([]byte, 40))
	seed := func(pkts ...[]byte) []byte {
		var s []byte
		for _, p := range pkts {
			s = append(binary.BigEndian.AppendUint16(s, uint16(len(p))), p...)
		}
		return s
	}
	f.Add(seed(a, b))
	f.Add(seed(a, b, v6, v6))
	f.Add(seed(a, []byte{0x45}))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, out := recorder()
		var n int
		for len(data) >= 2 {
			l := int(binary.BigEndian.Uint16(data))
			data = data[2:]
			if l == 0 || l > len(data) {
				break
			}
			if err := c.add(data[:l]); err != nil {
				t.Fatal(err)
			}
			data, n = data[l:], n+1
		}
		if err := c.flush(); err != nil {
			t.Fatal(err)
		}
		if got := len(explode(t, *out)); got != n {
			t.Fatalf("%d writes cut into %d packets, %d went in", len(*out), got, n)
		}
	})
}
