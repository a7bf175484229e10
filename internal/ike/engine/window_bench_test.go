package engine_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"secgw/internal/ike/engine"
)

// BenchmarkWindowChildRekeys rekeys 16 child SAs of one IKE SA at once
// between two in-process engines with a simulated one-way latency of
// 2 ms (each round of datagrams waits that long), with window-size 1 and
// 4 on both sides. It reports the rounds of datagrams one batch of
// rekeys (CREATE_CHILD_SA and the delete of each old child SA) takes:
// with a window of 1 every exchange waits for the previous one.
func BenchmarkWindowChildRekeys(b *testing.B) {
	const children, latency = 16, 2 * time.Millisecond
	for _, w := range []uint8{1, 4} {
		b.Run(fmt.Sprintf("window=%d", w), func(b *testing.B) {
			discard := func(o *engine.Options) { o.Logger = slog.New(slog.DiscardHandler) }
			x, y := pairOpts(b, chain(withWindow(w), withPolicies(children)), chain(withWindow(w), withPolicies(children)), discard, discard)
			establishWindow(b, x, y)
			initiateChildren(b, x, children)
			pumpWindow(b, x, y)
			rounds := 0
			b.ResetTimer()
			for range b.N {
				for _, c := range x.e.Snapshot(false)[0].Children {
					x.e.RekeyChild(c.UniqueID)
				}
				for {
					da, db := takeAll(x), takeAll(y)
					if len(da) == 0 && len(db) == 0 {
						break
					}
					time.Sleep(latency)
					rounds++
					for _, d := range da {
						inject(y, d, nil, x)
					}
					for _, d := range db {
						inject(x, d, nil, y)
					}
				}
			}
			b.StopTimer()
			if n := len(x.dp.Children()); n != children {
				b.Fatalf("%d child SAs after the rekeys, want %d", n, children)
			}
			b.ReportMetric(float64(rounds)/float64(b.N), "rounds/op")
		})
	}
}
