package userspace

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"sync"
	"testing"

	"secgw/internal/dataplane"
)

// capture records the ESP datagrams crossing a twin's network (the UDP
// payload: the ESP packet, RFC 3948 §2.1).
type capture struct {
	mu   sync.Mutex
	pkts [][]byte
}

func (c *capture) filter(from, to netip.AddrPort, b []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pkts = append(c.pkts, append([]byte(nil), b...))
	return true
}

func (c *capture) all() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.pkts...)
}

// oneWay installs the tunnel from A (outbound SA ab, out policy) to B
// (inbound SA abIn, in policy) only.
func (tw *twin) oneWay(t *testing.T, ab, abIn dataplane.SA) {
	t.Helper()
	pa := policies(netA, netB, gwA, gwB, 1)[:1]
	pb := policies(netB, netA, gwB, gwA, 1)[1:]
	if err := tw.a.Apply(context.Background(), ops([]dataplane.SA{ab}, pa)); err != nil {
		t.Fatal(err)
	}
	if err := tw.b.Apply(context.Background(), ops([]dataplane.SA{abIn}, pb)); err != nil {
		t.Fatal(err)
	}
}

// TestTakeoverOSeq: an outbound SA installed with OSeq sends its first
// packet with OSeq+1 on the wire (RFC 4303 §3.3.3), at the 32-bit
// boundary too: with ESN the low half wraps to 0 and the receiver, whose
// window was resumed just below, opens them with their full numbers
// (the high half is in the ICV, §2.2.1); without ESN the SA sends 2^32-1
// and then refuses (no cycling).
func TestTakeoverOSeq(t *testing.T) {
	for _, c := range []struct {
		esn        bool
		oseq, iseq uint64
		sent       int    // packets that leave A out of 3
		wantTop    uint64 // B's ISeq after them
	}{
		{false, 1 << 20, 0, 3, 1<<20 + 3},
		{true, 1 << 20, 0, 3, 1<<20 + 3},
		{true, math.MaxUint32 - 1, math.MaxUint32 - 2, 3, math.MaxUint32 + 2},
		{true, 7<<32 - 2, 7<<32 - 3, 3, 7<<32 + 1},
		{false, math.MaxUint32 - 1, math.MaxUint32 - 2, 1, math.MaxUint32},
	} {
		t.Run(fmt.Sprintf("esn=%v oseq=%#x", c.esn, c.oseq), func(t *testing.T) {
			for _, s := range []suite{suites[0], suites[4]} {
				tw := newTwin(t, Options{}, Options{})
				var cap capture
				tw.net.Filter = cap.filter
				ab, abIn := saPair(s, gwA, gwB, 0xa0000001, 1)
				ab.ESN, abIn.ESN = c.esn, c.esn
				ab.OSeq, abIn.ISeq = c.oseq, c.iseq
				tw.oneWay(t, ab, abIn)
				for range 3 {
					tw.tunA.Inject(ipv4(hostA, hostB, 40, false))
				}
				for range c.sent {
					recv(t, tw.tunB)
				}
				quiet(t, tw.tunB)
				pkts := cap.all()
				if len(pkts) != c.sent {
					t.Fatalf("%s: %d ESP packets on the wire, want %d", s.name, len(pkts), c.sent)
				}
				for i, p := range pkts {
					want := uint32(c.oseq + uint64(i) + 1)
					if got := binary.BigEndian.Uint32(p[4:]); got != want {
						t.Errorf("%s: packet %d carries seq %#x, want %#x", s.name, i, got, want)
					}
				}
				ctx := context.Background()
				ca, _ := tw.a.Counters(ctx, ab.Key())
				cb, _ := tw.b.Counters(ctx, abIn.Key())
				if ca.OSeq != c.oseq+uint64(c.sent) || cb.ISeq != c.wantTop || cb.Packets != uint64(c.sent) {
					t.Errorf("%s: A oseq %#x, B iseq %#x packets %d; want %#x, %#x, %d",
						s.name, ca.OSeq, cb.ISeq, cb.Packets, c.oseq+uint64(c.sent), c.wantTop, c.sent)
				}
				if st := tw.a.Stats(); st.SeqOverflow != uint64(3-c.sent) {
					t.Errorf("%s: %d packets refused for overflow, want %d", s.name, st.SeqOverflow, 3-c.sent)
				}
			}
		})
	}
}

// TestTakeoverISeq: B's inbound SA is replaced, as a standby installs it
// at a takeover, with ISeq = 3 while packets 1..5 are still in flight
// (the old active received 1..3): 1..3 are dropped as replays and
// counted, 4 and 5 and the packets after them are accepted, with and
// without ESN.
func TestTakeoverISeq(t *testing.T) {
	for _, esn := range []bool{false, true} {
		t.Run(fmt.Sprintf("esn=%v", esn), func(t *testing.T) {
			tw := newTwin(t, Options{}, Options{})
			var cap capture
			ab, abIn := saPair(suites[4], gwA, gwB, 0xa0000001, 1)
			ab.ESN, abIn.ESN = esn, esn
			tw.oneWay(t, ab, abIn)
			// The old active's traffic: 5 packets B does not get.
			tw.net.Filter = func(from, to netip.AddrPort, b []byte) bool { cap.filter(from, to, b); return false }
			for range 5 {
				tw.tunA.Inject(ipv4(hostA, hostB, 40, false))
			}
			waitFor(t, "5 packets sent", func() bool { return len(cap.all()) == 5 })
			tw.net.Filter = nil
			// Takeover: the SA comes back with the synced ISeq.
			ctx := context.Background()
			resumed := abIn
			resumed.ISeq = 3
			if err := tw.b.Apply(ctx, []dataplane.Op{{Kind: dataplane.DeleteSA, SA: &abIn}, {Kind: dataplane.AddSA, SA: &resumed}}); err != nil {
				t.Fatal(err)
			}
			if c, _ := tw.b.Counters(ctx, abIn.Key()); c.ISeq != 3 {
				t.Fatalf("ISeq before any packet %d, want 3", c.ISeq)
			}
			for _, p := range cap.all() {
				tw.bindB.Deliver(netip.AddrPortFrom(gwA, 4500), netip.AddrPortFrom(gwB, 4500), p)
			}
			recv(t, tw.tunB)
			recv(t, tw.tunB)
			waitFor(t, "3 replay drops", func() bool { return tw.b.Stats().Replay == 3 })
			quiet(t, tw.tunB)
			tw.tunA.Inject(ipv4(hostA, hostB, 40, false)) // seq 6
			recv(t, tw.tunB)
			c, _ := tw.b.Counters(ctx, abIn.Key())
			if c.ReplayDrops != 3 || c.Packets != 3 || c.ISeq != 6 {
				t.Errorf("counters %+v; want 3 replay drops, 3 packets, ISeq 6", c)
			}
			states, err := tw.b.SeqStates(ctx)
			if err != nil || len(states) != 1 || states[0] != (dataplane.SeqState{Key: abIn.Key(), Dir: dataplane.In, ISeq: 6}) {
				t.Errorf("SeqStates = %+v, %v", states, err)
			}
		})
	}
}

// TestSeqStatesUnderTraffic: SeqStates lists every SA once, with the
// numbers the packets moved, while traffic flows and Apply installs
// more (it takes no lock the packet path or Apply holds for long).
func TestSeqStatesUnderTraffic(t *testing.T) {
	tw := newTwin(t, Options{}, Options{})
	tw.install(t, suites[0])
	ctx := context.Background()
	for range 10 {
		tw.tunA.Inject(ipv4(hostA, hostB, 40, false))
		recv(t, tw.tunB)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			if err := tw.a.Apply(ctx, scaleChild(i)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 50 {
		tw.tunA.Inject(ipv4(hostA, hostB, 40, false))
		if _, err := tw.a.SeqStates(ctx); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	for range 50 {
		recv(t, tw.tunB)
	}
	states, err := tw.a.SeqStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[dataplane.SAKey]dataplane.SeqState{}
	for _, s := range states {
		if _, dup := seen[s.Key]; dup {
			t.Fatalf("%s listed twice", s.Key)
		}
		seen[s.Key] = s
	}
	if len(seen) != 2+400 {
		t.Errorf("%d SAs listed, want %d", len(seen), 402)
	}
	if s := seen[dataplane.SAKey{Dst: gwB, SPI: 0xa0000001}]; s.Dir != dataplane.Out || s.OSeq != 60 {
		t.Errorf("A's outbound SA: %+v, want OSeq 60", s)
	}
	if s := seen[dataplane.SAKey{Dst: gwA, SPI: 0xb0000001}]; s.Dir != dataplane.In || s.ISeq != 0 {
		t.Errorf("A's inbound SA: %+v", s)
	}
}

// BenchmarkSeqStates reads the sequence numbers of 10k children (20k
// SAs), what HA sync does every sync-period-time on a loaded
// concentrator.
func BenchmarkSeqStates(b *testing.B) {
	d := newScaleDP(b)
	fillScale(b, d, 10000)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if s, err := d.SeqStates(ctx); err != nil || len(s) != 20000 {
			b.Fatal(len(s), err)
		}
	}
}
