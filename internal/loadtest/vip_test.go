package loadtest

import (
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"secgw/internal/ike/engine"
)

// seqVIPs hands out 10.100.0.1, .2, ... up to max addresses.
type seqVIPs struct {
	mu   sync.Mutex
	next int
	max  int
}

func (v *seqVIPs) Assign(pools []string, id string, v6 bool) (engine.VIPLease, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.next >= v.max || v6 {
		return engine.VIPLease{}, errors.New("exhausted")
	}
	v.next++
	return engine.VIPLease{Pool: pools[0], Identity: id, Addr: AddrAdd(netip.MustParseAddr("10.100.0.0"), uint64(v.next))}, nil
}
func (v *seqVIPs) Release(engine.VIPLease)                      {}
func (v *seqVIPs) Install(string, netip.Addr, netip.Addr) error { return nil }
func (v *seqVIPs) Remove(string, netip.Addr, netip.Addr)        {}

// TestVIPProfile: with Profile.VIP a tunnel asks for a virtual IP, takes
// the one of the CFG_REPLY and fails with INTERNAL_ADDRESS_FAILURE when
// the pool is empty.
func TestVIPProfile(t *testing.T) {
	o := respOptions()
	o.Pool, o.VIPs = "10.100.0.0/16", &seqVIPs{max: 2}
	h := newInproc(t, o)
	p := testProfile()
	p.VIP = true
	for i, want := range []string{"10.100.0.1", "10.100.0.2"} {
		tn, err := h.establish(t, &p, i)
		if err != nil || tn.vip.String() != want {
			t.Fatalf("tunnel %d: %v, virtual IP %s, want %s", i, err, tn.vip, want)
		}
	}
	if _, err := h.establish(t, &p, 2); err == nil || !strings.Contains(reason(err), "INTERNAL_ADDRESS_FAILURE") {
		t.Fatalf("third tunnel: %v, want INTERNAL_ADDRESS_FAILURE", err)
	}
}
