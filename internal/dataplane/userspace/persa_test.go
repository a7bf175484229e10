package userspace

import (
	"context"
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"

	"secgw/internal/dataplane"
)

// TestPerSAReplayAndIntegrity: two child SAs from A to B, one over the
// IPv4 subnets (SPI 0xa0000001, reqid 1) and one over the IPv6 ones
// (0xa0000002, reqid 2). The network duplicates one datagram of the
// first and corrupts another of it: the first SA's own counters (what the
// child-sa's replay-errors-in and integrity-errors-in read) count one
// replay and one integrity failure, the second's stay at zero while it
// carries all its packets.
func TestPerSAReplayAndIntegrity(t *testing.T) {
	tw := newTwin(t, Options{}, Options{})
	s := suites[4] // CBC with HMAC: a separate ICV check
	ab1, ab1In := saPair(s, gwA, gwB, 0xa0000001, 1)
	ab2, ab2In := saPair(s, gwA, gwB, 0xa0000002, 2)
	pa := append(policies(netA, netB, gwA, gwB, 1)[:1], policies(netA6, netB6, gwA, gwB, 2)[:1]...)
	pb := append(policies(netB, netA, gwB, gwA, 1)[1:], policies(netB6, netA6, gwB, gwA, 2)[1:]...)
	ctx := context.Background()
	if err := tw.a.Apply(ctx, ops([]dataplane.SA{ab1, ab2}, pa)); err != nil {
		t.Fatal(err)
	}
	if err := tw.b.Apply(ctx, ops([]dataplane.SA{ab1In, ab2In}, pb)); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	seen := map[uint32]int{}
	tw.net.Filter = func(from, to netip.AddrPort, b []byte) bool {
		if len(b) < 8 {
			return true
		}
		spi := binary.BigEndian.Uint32(b) // the UDP payload is the ESP packet
		mu.Lock()
		seen[spi]++
		n := seen[spi]
		mu.Unlock()
		if spi != 0xa0000001 {
			return true
		}
		switch n {
		case 1:
			tw.bindB.Deliver(from, to, b) // a duplicate, delivered first
		case 2:
			b[len(b)-1] ^= 0x80 // in the ICV
		}
		return true
	}
	for range 3 {
		tw.tunA.Inject(ipv4(hostA, hostB, 50, false))
		tw.tunA.Inject(ipv6(hA6, hB6, 50))
	}
	for range 5 { // 2 of the first SA, 3 of the second
		recv(t, tw.tunB)
	}
	waitFor(t, "the replay and ICV drops", func() bool { st := tw.b.Stats(); return st.Replay == 1 && st.Auth == 1 })
	quiet(t, tw.tunB)

	for _, c := range []struct {
		spi                   uint32
		packets, replay, auth uint64
	}{
		{0xa0000001, 2, 1, 1},
		{0xa0000002, 3, 0, 0},
	} {
		got, err := tw.b.Counters(ctx, dataplane.SAKey{Dst: gwB, SPI: c.spi})
		if err != nil {
			t.Fatal(err)
		}
		if got.Packets != c.packets || got.ReplayDrops != c.replay || got.AuthDrops != c.auth {
			t.Errorf("SA %08x: %d packets, %d replay, %d integrity drops; want %d, %d, %d",
				c.spi, got.Packets, got.ReplayDrops, got.AuthDrops, c.packets, c.replay, c.auth)
		}
	}
	// The sender's outbound SAs drop nothing.
	for _, spi := range []uint32{0xa0000001, 0xa0000002} {
		if got, _ := tw.a.Counters(ctx, dataplane.SAKey{Dst: gwB, SPI: spi}); got.ReplayDrops != 0 || got.AuthDrops != 0 || got.Packets != 3 {
			t.Errorf("outbound SA %08x: %+v", spi, got)
		}
	}
}
