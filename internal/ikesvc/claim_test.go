package ikesvc

import (
	"net/netip"
	"testing"

	"secgw/internal/ike/engine"
	"secgw/internal/pool"
)

// TestVIPClaim: at an HA takeover the adapter makes the pool hold the
// lease the peer node gave (engine.VIPClaimer): the address is not given
// to another identity, and one held by another identity is refused.
func TestVIPClaim(t *testing.T) {
	m, err := pool.Open(pool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := pool.ParseAddress("10.8.0.1-10.8.0.2")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Set([]pool.Config{{Name: "rw", Ranges: []pool.Range{r}}}); err != nil {
		t.Fatal(err)
	}
	v := vipAdapter{&Service{o: Options{Pools: m}}}
	var _ engine.VIPClaimer = v
	vip := netip.MustParseAddr("10.8.0.2")
	if !v.Claim(engine.VIPLease{Pool: "rw", Identity: "alice", Addr: vip}) {
		t.Fatal("claim refused")
	}
	if l, err := m.Acquire([]string{"rw"}, "bob", false); err != nil || l.Addr == vip {
		t.Fatalf("bob got %v (%v): alice's address", l.Addr, err)
	}
	if v.Claim(engine.VIPLease{Pool: "rw", Identity: "carol", Addr: vip}) {
		t.Fatal("carol claimed alice's address")
	}
	if v.Claim(engine.VIPLease{Pool: "nope", Identity: "alice", Addr: vip}) {
		t.Fatal("claim from a pool that does not exist")
	}
}
