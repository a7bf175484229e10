package engine

import (
	"fmt"
	"net/netip"
	"testing"

	"secgw/internal/ike/config"
)

// TestApplyConfigWorkFollowsTheChange counts the work, not the time, of
// a commit that changes one VPN, with one IKE SA per VPN: with 10 VPNs
// and with 10,000, ApplyConfig compares one VPN and visits one IKE SA
// (the changed VPN's, which it ends). SetConfig, the full comparison
// the start uses, compares every VPN: the counters do measure.
func TestApplyConfigWorkFollowsTheChange(t *testing.T) {
	work := map[int]UpdateWork{}
	for _, n := range []int{10, 10000} {
		vpns := make([]*config.VPN, n)
		for i := range vpns {
			vpns[i] = &config.VPN{Name: fmt.Sprintf("vpn%05d", i), RemoteAddr: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
				Policies: []config.SecurityPolicy{{Name: fmt.Sprintf("sp%05d", i)}}}
		}
		cfg := (&config.Config{Global: config.Global{Threads: 4}, VPNs: vpns}).Apply(config.Delta{Global: config.Global{Threads: 4}})
		e := New(Options{Config: cfg, Dataplane: nopDataplane{}})
		for _, v := range cfg.VPNs {
			w := e.lockPeer(v.RemoteAddr)
			sa := e.newSA(w, true, v)
			sa.remote = netip.AddrPortFrom(v.RemoteAddr, PortIKE)
			w.unlock()
		}
		before := e.UpdateWork()
		changed := *cfg.VPNs[n/2]
		changed.Fragmentation = !changed.Fragmentation
		next := cfg.Apply(config.Delta{Global: cfg.Global, Put: []config.Entry{{VPN: &changed}}})
		torn := e.ApplyConfig(next, []string{changed.Name})
		after := e.UpdateWork()
		if len(torn) != 1 || torn[0] != changed.Name {
			t.Fatalf("%d VPNs: torn %v, want %s", n, torn, changed.Name)
		}
		if got := e.set.Load().table.len(); got != n-1 {
			t.Fatalf("%d VPNs: %d IKE SAs left, want %d", n, got, n-1)
		}
		work[n] = UpdateWork{VPNsCompared: after.VPNsCompared - before.VPNsCompared, SAsVisited: after.SAsVisited - before.SAsVisited}

		if n == 10000 {
			all := make([]*config.VPN, n)
			for i, v := range next.VPNs {
				c := *v
				all[i] = &c
			}
			before := e.UpdateWork()
			e.SetConfig(&config.Config{Global: next.Global, VPNs: all})
			if d := e.UpdateWork().VPNsCompared - before.VPNsCompared; d != uint64(n) {
				t.Errorf("SetConfig of %d VPNs resolved anew compared %d", n, d)
			}
		}
	}
	t.Logf("one-VPN commit: %+v with 10 VPNs, %+v with 10,000", work[10], work[10000])
	if want := (UpdateWork{VPNsCompared: 1, SAsVisited: 1}); work[10] != want || work[10000] != want {
		t.Errorf("one-VPN commit: %+v with 10 VPNs, %+v with 10,000; want %+v for both", work[10], work[10000], want)
	}
}

// nopDataplane installs nothing.
type nopDataplane struct{}

func (nopDataplane) InstallChild(ChildSA) error { return nil }
func (nopDataplane) DeleteChild(ChildSA) error  { return nil }
