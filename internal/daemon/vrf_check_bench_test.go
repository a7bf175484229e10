package daemon

import (
	"log/slog"
	"testing"

	"secgw/generated"
	"secgw/internal/configtest"
	"secgw/internal/datastore"
	"secgw/internal/schema"
)

// BenchmarkCommitBesideMissingVRF: one-VPN commits in vrf main (a VPN
// added, then removed) through the vrfs subscriber while vrf cust, whose
// namespace is missing, holds the concentrator's 10,000 VPNs (nice
// go test ./internal/daemon -run X -bench BenchmarkCommitBesideMissingVRF).
func BenchmarkCommitBesideMissingVRF(b *testing.B) {
	s, err := schema.Load()
	if err != nil {
		b.Fatal(err)
	}
	dev := configtest.Concentrator(b, s, 10000)
	cust := dev.Vrf["main"]
	name := "cust"
	cust.Name = &name
	dev.Vrf = map[string]*generated.SecgwVrf_Vrf{"cust": cust}
	configtest.Apply(b, s, dev, "/ vrf main ike vpn m0 remote-address 192.0.2.9",
		"/ vrf main ike vpn m0 security-policy sp local-ts subnet 10.8.0.0/16")
	with := datastore.Clone(dev)
	configtest.Apply(b, s, with, "/ vrf main ike vpn m1 remote-address 192.0.2.10",
		"/ vrf main ike vpn m1 security-policy sp local-ts subnet 10.9.0.0/16")
	add, remove := datastore.Diff(s, dev, with), datastore.Diff(s, with, dev)
	d := &Daemon{cfg: Config{Dataplane: DataplaneUserspace, Logger: slog.New(slog.DiscardHandler)}}
	v := newVRFs(d, b.TempDir())
	v.start(dev)
	b.Cleanup(v.close)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tx := &datastore.Tx{ID: uint64(i + 1), Old: dev, New: with, Changes: add}
		if i%2 == 1 {
			tx = &datastore.Tx{ID: uint64(i + 1), Old: with, New: dev, Changes: remove}
		}
		if err := v.Prepare(tx); err != nil {
			b.Fatal(err)
		}
		if err := v.Apply(tx); err != nil {
			b.Fatal(err)
		}
	}
}
