package engine_test

import (
	"log/slog"
	"testing"

	"secgw/generated"
	"secgw/internal/ike/engine"
)

// BenchmarkChildRekey measures a child SA rekey between two engines: the
// CREATE_CHILD_SA exchange, both installs and the INFORMATIONAL delete of
// the old child SA (both sides' CPU, no network).
func BenchmarkChildRekey(b *testing.B) { benchRekey(b, nil, false) }

// BenchmarkChildRekeyPFS is BenchmarkChildRekey with an ECP-256 exchange.
func BenchmarkChildRekeyPFS(b *testing.B) {
	benchRekey(b, pfs(generated.SecgwIke_DhGroup_ecp256), false)
}

// BenchmarkIKERekey measures an IKE SA rekey (X25519, the default group):
// CREATE_CHILD_SA and the delete of the old IKE SA.
func BenchmarkIKERekey(b *testing.B) { benchRekey(b, nil, true) }

func benchRekey(b *testing.B, mod func(*generated.SecgwVrf_Vrf_Ike), ike bool) {
	discard := func(o *engine.Options) { o.Logger = slog.New(slog.DiscardHandler) }
	x, y := pairOpts(b, mod, mod, discard, discard)
	establish(b, x, y)
	b.ResetTimer()
	for range b.N {
		s := x.e.Snapshot(false)[0]
		if ike {
			x.e.RekeyIKE(s.UniqueID)
		} else {
			x.e.RekeyChild(s.Children[0].UniqueID)
		}
		for range 2 { // CREATE_CHILD_SA, then INFORMATIONAL
			deliver(b, x, y)
			deliver(b, y, x)
		}
	}
}
