package engine_test

import (
	"log/slog"
	"net/netip"
	"testing"

	"secgw/generated"
	"secgw/internal/ike/engine"
)

// BenchmarkHATakeover10k measures SetRole(true) on a standby holding 10k
// passive IKE SAs with one child SA each (the 10k tunnels): the
// engine's part of a failover, with the recording dataplane (the real
// dataplanes' install cost is their own benchmarks'). ns/op is one
// takeover of the 10k; ns/sa is per IKE SA.
func BenchmarkHATakeover10k(b *testing.B) {
	const n = 10000
	// One real record, from an IKE SA established by two engines.
	c, a := pair(b, nil, nil, nil)
	var rec []byte
	a.e.SetSyncSink(sinkFunc(func(_, _ uint64, r []byte) { rec = r }))
	establish(b, c, a)
	if rec == nil {
		b.Fatal("no record")
	}
	recs := make([][]byte, n)
	for i := range recs {
		var err error
		if recs[i], err = engine.HARecordVariantForTest(rec, uint32(i+1)); err != nil {
			b.Fatal(err)
		}
	}
	ike := vpnConfig("from-a", addrB, netip.Addr{}, "b.example", "a.example", "secret", "192.168.2.0/24", "192.168.1.0/24")
	// A table sized for 10k IKE SAs, as the vsr guide asks of a
	// concentrator (sa-table-size; its default of one bucket makes every
	// insert walk every SA).
	ike.GlobalOptions = &generated.SecgwVrf_Vrf_Ike_GlobalOptions{SaTableSize: ptr(uint32(16384)), SaTableSegments: ptr(uint32(64))}
	seqs := func(k engine.SeqKey) (engine.Seq, bool) { return engine.Seq{OSeq: uint64(k.SPI), ISeq: 7}, true }
	for b.Loop() {
		b.StopTimer()
		s := newPeer(b, ike, addrB, both(standby, quietLog))
		for _, r := range recs {
			if err := s.e.SyncImport(r); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if err := s.e.SetRole(true, seqs, 1<<20); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if got := len(s.dp.Children()); got != n {
			b.Fatalf("%d child SAs installed, want %d", got, n)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/sa")
}

// quietLog discards an engine's log.
func quietLog(o *engine.Options) { o.Logger = slog.New(slog.DiscardHandler) }

// sinkFunc is a SyncSink of SAUpdate only.
type sinkFunc func(spiI, spiR uint64, rec []byte)

func (f sinkFunc) SAUpdate(spiI, spiR uint64, rec []byte) { f(spiI, spiR, rec) }
func (f sinkFunc) SADelete(uint64, uint64)                {}
