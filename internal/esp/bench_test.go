package esp

import (
	"crypto/aes"
	"crypto/cipher"
	"testing"
	"time"
)

// benchLen is the inner packet size of the benchmarks: a full-size packet
// that still fits a 1500-octet path after ESP-in-UDP.
const benchLen = 1400

// BenchmarkSealOpen seals and opens one 1400-octet packet per iteration,
// in place, per suite. Compare with BenchmarkRawGCM (target: ESP at 0.7 of
// raw AES-GCM or better); -benchmem must show 0 allocs/op.
func BenchmarkSealOpen(b *testing.B) {
	for _, s := range suites {
		b.Run(s.name, func(b *testing.B) {
			o, in := s.pair(b, false, 1024)
			off := Scratch + o.HeaderLen()
			buf := make([]byte, off+benchLen+MaxTrailer)
			b.SetBytes(benchLen)
			b.ReportAllocs()
			for b.Loop() {
				pkt, err := o.Seal(buf, off, benchLen, NextIPv4)
				if err != nil {
					b.Fatal(err)
				}
				h := off - o.HeaderLen()
				if _, _, _, err := in.Open(buf, h, h+len(pkt)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRawGCM is the baseline: crypto/cipher AES-128-GCM Seal and
// Open of the same 1400 octets in place, nothing else.
func BenchmarkRawGCM(b *testing.B) {
	blk, _ := aes.NewCipher(make([]byte, 16))
	a, _ := cipher.NewGCM(blk)
	buf := make([]byte, benchLen+16)
	nonce := make([]byte, 12)
	aad := make([]byte, 8)
	b.SetBytes(benchLen)
	b.ReportAllocs()
	for b.Loop() {
		ct := a.Seal(buf[:0], nonce, buf[:benchLen], aad)
		if _, err := a.Open(ct[:0], nonce, ct, aad); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSealOpenAllocs pins the zero-allocation promise outside benchmarks.
func TestSealOpenAllocs(t *testing.T) {
	for _, s := range suites {
		o, in := s.pair(t, true, 4096)
		off := Scratch + o.HeaderLen()
		buf := make([]byte, off+benchLen+MaxTrailer)
		// Warm the per-SA pools.
		pkt, _ := o.Seal(buf, off, benchLen, NextIPv4)
		in.Open(buf, off-o.HeaderLen(), off-o.HeaderLen()+len(pkt))
		allocs := testing.AllocsPerRun(100, func() {
			pkt, err := o.Seal(buf, off, benchLen, NextIPv4)
			if err != nil {
				t.Fatal(err)
			}
			h := off - o.HeaderLen()
			if _, _, _, err := in.Open(buf, h, h+len(pkt)); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per Seal+Open", s.name, allocs)
		}
	}
}

// BenchmarkESPvsRawGCM interleaves blocks of ESP Seal+Open (AES-128-GCM,
// 1400 octets) and raw crypto/cipher Seal+Open of the same size, so that
// both see the same machine load, and reports the throughput ratio
// ESP/raw (target ≥ 0.7). One iteration is a block of 16 round trips of
// each.
func BenchmarkESPvsRawGCM(b *testing.B) {
	o, in := suites[0].pair(b, false, 1024)
	off := Scratch + o.HeaderLen()
	buf := make([]byte, off+benchLen+MaxTrailer)
	blk, _ := aes.NewCipher(suites[0].encrKey[:16])
	a, _ := cipher.NewGCM(blk)
	raw := make([]byte, benchLen+16)
	nonce, aad := make([]byte, 12), make([]byte, 8)
	const block = 16
	var espTime, rawTime time.Duration
	espMin, rawMin := time.Duration(1<<62), time.Duration(1<<62)
	b.ReportAllocs()
	b.SetBytes(2 * benchLen * block)
	for b.Loop() {
		e := timeIt(func() {
			pkt, err := o.Seal(buf, off, benchLen, NextIPv4)
			if err != nil {
				b.Fatal(err)
			}
			h := off - o.HeaderLen()
			if _, _, _, err := in.Open(buf, h, h+len(pkt)); err != nil {
				b.Fatal(err)
			}
		}, block)
		r := timeIt(func() {
			ct := a.Seal(raw[:0], nonce, raw[:benchLen], aad)
			if _, err := a.Open(ct[:0], nonce, ct, aad); err != nil {
				b.Fatal(err)
			}
		}, block)
		espTime, rawTime = espTime+e, rawTime+r
		espMin, rawMin = min(espMin, e), min(rawMin, r)
	}
	// The ratio of the fastest blocks is the one to read on a shared
	// machine: other load only ever slows a block down.
	b.ReportMetric(float64(rawTime)/float64(espTime), "esp/raw")
	b.ReportMetric(float64(rawMin)/float64(espMin), "esp/raw-best")
}

// timeIt runs f n times and returns the time per run.
func timeIt(f func(), n int) time.Duration {
	start := time.Now()
	for range n {
		f()
	}
	return time.Since(start) / time.Duration(n)
}
