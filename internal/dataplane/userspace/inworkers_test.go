package userspace

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"secgw/internal/dataplane"
	"secgw/internal/edge"
	"secgw/internal/edge/edgetest"
	"secgw/internal/esp"
)

// sealer seals inner packets as the peer's outbound side of sa would.
type sealer struct {
	o   *esp.Outbound
	buf []byte
}

func newSealer(t testing.TB, sa dataplane.SA) *sealer {
	t.Helper()
	o, err := esp.NewOutbound(esp.Config{SPI: sa.SPI, Encr: sa.Encr, EncrKey: sa.EncrKey, Integ: sa.Integ,
		IntegKey: sa.IntegKey, ESN: sa.ESN, ReplayWindow: sa.ReplayWindow})
	if err != nil {
		t.Fatal(err)
	}
	return &sealer{o: o, buf: make([]byte, headroom+65535+esp.MaxTrailer)}
}

// seal returns a fresh copy of inner sealed.
func (s *sealer) seal(t testing.TB, inner []byte) []byte {
	t.Helper()
	n := copy(s.buf[headroom:], inner)
	out, err := s.o.Seal(s.buf, headroom, n, esp.NextIPv4)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), out...)
}

// inboundSAs installs n inbound SAs from gwA at a dataplane at gwB (reqid
// 1, one In policy netA -> netB) and returns their sealers.
func inboundSAs(t testing.TB, d *Dataplane, n int, esn bool, window uint32) []*sealer {
	t.Helper()
	var sas []dataplane.SA
	var out []*sealer
	for i := range n {
		_, in := saPair(suites[0], gwA, gwB, 0x3c000000+uint32(i)*0x01020305, 1)
		in.ESN, in.ReplayWindow = esn, window
		sas = append(sas, in)
		out = append(out, newSealer(t, in))
	}
	pols := policies(netB, netA, gwB, gwA, 1)
	if err := d.Apply(context.Background(), ops(sas, pols)); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestInboundWorkers: with InboundWorkers the ESP that a reader hands to
// HandleESPBatched is opened by the worker of its SPI: every packet of an
// SA comes out of one TUN queue, in the order it was received; the SAs
// spread over the queues; each SA counts its packets; Close returns with
// batches still pending.
func TestInboundWorkers(t *testing.T) {
	const nSA, rounds, workers = 8, 50, 3
	var tuns []*edgetest.TUN
	var devs []edge.Device
	for range workers {
		tun := edgetest.NewTUN(nSA * rounds)
		tuns = append(tuns, tun)
		devs = append(devs, tun)
	}
	d, err := New(Options{TUN: devs, Bind: newDiscard(), InboundWorkers: workers})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	sealers := inboundSAs(t, d, nSA, true, 1024)
	local, remote := netip.AddrPortFrom(gwB, 4500), netip.AddrPortFrom(gwA, 4500)
	sent := 0
	for r := range rounds {
		for i, s := range sealers {
			p := ipv4(hostA, hostB, 100, false)
			binary.BigEndian.PutUint16(p[len(p)-4:], uint16(i))
			binary.BigEndian.PutUint16(p[len(p)-2:], uint16(r))
			d.HandleESPBatched(local, remote, s.seal(t, p))
			if sent++; sent%13 == 0 {
				d.FlushESP()
			}
		}
	}
	d.FlushESP()

	queueOf := map[int]int{}
	next := make([]int, nSA)
	for got := 0; got < nSA*rounds; got++ {
		var p []byte
		q := -1
		select {
		case p = <-tuns[0].Out():
			q = 0
		case p = <-tuns[1].Out():
			q = 1
		case p = <-tuns[2].Out():
			q = 2
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of %d packets came out; stats %+v", got, nSA*rounds, d.Stats())
		}
		i := int(binary.BigEndian.Uint16(p[len(p)-4:]))
		r := int(binary.BigEndian.Uint16(p[len(p)-2:]))
		if i >= nSA {
			t.Fatalf("packet of SA %d", i)
		}
		if r != next[i] {
			t.Fatalf("SA %d: packet %d came out when %d was due", i, r, next[i])
		}
		next[i]++
		if prev, ok := queueOf[i]; ok && prev != q {
			t.Fatalf("SA %d came out of TUN queues %d and %d", i, prev, q)
		}
		queueOf[i] = q
	}
	used := map[int]bool{}
	for _, q := range queueOf {
		used[q] = true
	}
	if len(used) < 2 {
		t.Errorf("%d SAs all went to one worker: %v", nSA, queueOf)
	}
	st, err := d.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, sa := range st.SAs {
		if c, _ := d.Counters(context.Background(), sa.Key()); c.Packets != rounds {
			t.Errorf("SA %08x counted %d packets, want %d", sa.SPI, c.Packets, rounds)
		}
	}
	// Pending batches and a full worker queue do not hold Close up.
	for range 3 * inBatchMax {
		d.HandleESPBatched(local, remote, sealers[0].seal(t, ipv4(hostA, hostB, 100, false)))
	}
	closed := make(chan error)
	go func() { closed <- d.Close() }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung with pending batches")
	}
}

// countDev is a TUN queue that counts the packets written into it.
type countDev struct {
	discard
	n *atomic.Int64
}

func (c countDev) Write(b []byte) (int, error) { c.n.Add(1); return len(b), nil }

// BenchmarkInboundWorkers opens 1400-octet ESP packets of 8 SAs
// (AES-128-GCM) handed over as a socket reader does (HandleESPBatched,
// FlushESP every 32), with the reader opening them itself (workers=1)
// and with two workers. The same sealed packets are replayed: the SAs
// have no replay window, so each is opened in full.
func BenchmarkInboundWorkers(b *testing.B) {
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			var n atomic.Int64
			devs := []edge.Device{countDev{newDiscard(), &n}, countDev{newDiscard(), &n}}
			d, err := New(Options{TUN: devs, Bind: newDiscard(), InboundWorkers: workers})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			sealers := inboundSAs(b, d, 8, false, 0)
			var pkts [][]byte
			for i := range 256 {
				pkts = append(pkts, sealers[i/32].seal(b, ipv4(hostA, hostB, 1400-28, false)))
			}
			local, remote := netip.AddrPortFrom(gwB, 4500), netip.AddrPortFrom(gwA, 4500)
			b.SetBytes(int64(len(pkts) * 1400))
			var want int64
			for b.Loop() {
				for _, p := range pkts {
					d.HandleESPBatched(local, remote, p)
				}
				d.FlushESP()
				want += int64(len(pkts))
			}
			for n.Load() < want {
				time.Sleep(100 * time.Microsecond)
			}
			if st := d.Stats(); st.Auth+st.Replay+st.Selector+st.BadInner != 0 {
				b.Fatalf("drops: %+v", st)
			}
		})
	}
}
