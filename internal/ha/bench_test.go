package ha

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// BenchmarkSnapshot10k: a standby joining an active node that holds 10k
// IKE SAs (1 KiB records, about what an IKE SA with one child SA and its
// keys takes) and 20k ESP SAs' numbers, over loopback TCP: the time until
// the standby holds them all, and the bytes sent per IKE SA.
func BenchmarkSnapshot10k(b *testing.B) {
	const sas = 10000
	rec := make([]byte, 1024)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		port := freePortB(b)
		e1, e2 := newFakeEngine(), newFakeEngine()
		src := newFakeSeqs()
		for j := range uint64(sas) {
			r := append([]byte(fmt.Sprintf("%d %d x", j, j)), ' ')
			e1.sas[saID{j, j}] = append(r, rec[:1024-len(r)]...)
			ip := netip.AddrFrom4([4]byte{10, byte(j >> 16), byte(j >> 8), byte(j)})
			src.entries[SeqKey{Dst: ip, SPI: uint32(j)}] = SeqEntry{Key: SeqKey{Dst: ip, SPI: uint32(j)}, Out: true, Seq: Seq{OSeq: j}}
			src.entries[SeqKey{Dst: ip, SPI: uint32(j) | 1<<31}] = SeqEntry{Key: SeqKey{Dst: ip, SPI: uint32(j) | 1<<31}, Seq: Seq{ISeq: j}}
		}
		c1, c2 := nodeConfig(nil, 1, port), nodeConfig(nil, 2, port)
		n1, n2 := New(c1, e1, src), New(c2, e2, nil)
		if err := n1.Start(); err != nil {
			b.Fatal(err)
		}
		if _, err := n1.Notify(VRRPMaster); err != nil {
			b.Fatal(err)
		}
		if err := n2.Start(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if _, err := n2.Notify(VRRPBackup); err != nil {
			b.Fatal(err)
		}
		for {
			st := n2.Stats()
			if st.IKESAs == sas && st.ChildSAs == sas {
				break
			}
			if time.Since(start) > time.Minute {
				b.Fatalf("standby holds %d/%d after a minute", st.IKESAs, st.ChildSAs)
			}
			time.Sleep(10 * time.Millisecond)
		}
		b.StopTimer()
		n1.Close()
		n2.Close()
	}
	// Frame overhead: 4 length + 16 GCM tag; message header 2 + SPIs
	// and length 20.
	b.ReportMetric(float64(1024+4+16+2+20), "bytes/IKE-SA")
}

func freePortB(b *testing.B) uint16 {
	ln, err := netListen()
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.port
}
