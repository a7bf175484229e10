package engine_test

import (
	"log/slog"
	"testing"

	"secgw/generated"
	"secgw/internal/ike/engine"
)

// BenchmarkSetupX25519 measures one IKE SA with its child SA set up
// between two engines (both sides' CPU, no network): IKE_SA_INIT with
// X25519 and IKE_AUTH with a PSK. The IKE SA is deleted, outside the
// timed part, before the next one.
func BenchmarkSetupX25519(b *testing.B) {
	benchSetup(b, hybrid(generated.SecgwIke_DhGroup_curve25519))
}

// BenchmarkSetupX25519MLKEM768 is BenchmarkSetupX25519 with ML-KEM-768
// as an additional key exchange (RFC 9370): one IKE_INTERMEDIATE more,
// the cost of going post-quantum.
func BenchmarkSetupX25519MLKEM768(b *testing.B) {
	benchSetup(b, hybrid(generated.SecgwIke_DhGroup_curve25519, keList{mlkem768}))
}

func benchSetup(b *testing.B, mod func(*generated.SecgwVrf_Vrf_Ike)) {
	discard := func(o *engine.Options) { o.Logger = slog.New(slog.DiscardHandler) }
	x, y := pairOpts(b, mod, mod, discard, discard)
	quietPump := func() {
		for moved := true; moved; {
			moved = false
			for _, d := range takeAll(x) {
				inject(y, d, nil, x)
				moved = true
			}
			for _, d := range takeAll(y) {
				inject(x, d, nil, y)
				moved = true
			}
		}
	}
	b.ResetTimer()
	for range b.N {
		if err := x.e.Initiate("to-b"); err != nil {
			b.Fatal(err)
		}
		quietPump()
		b.StopTimer()
		spi, s := onlySA(b, x)
		if s.State != "established" {
			b.Fatalf("IKE SA %s", s.State)
		}
		x.e.DeleteIKE(spi)
		quietPump()
		b.StartTimer()
	}
}
