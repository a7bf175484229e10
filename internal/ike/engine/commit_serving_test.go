package engine_test

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"secgw/generated"
	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/engine/enginetest"
	"secgw/internal/ike/resolve"
)

var servingSAs = flag.Int("serving.sas", 1000, "tunnels of TestServingDuringCommits (10000 passes in about 30 s)")

// TestServingDuringCommits: a responder with n established tunnels, DPD
// every 2 s on both sides and IKE SA rekeys every few seconds, takes 100
// back-to-back commits (one every 100 ms: a VPN added, changed, removed
// again, as an operator's script would) while its workers run. Every DPD
// and rekey exchange goes on being answered: no IKE SA is lost, every
// child SA stays, the rekeys happen, and the commits end no SA (they
// touch none of the tunnels' VPNs).
func TestServingDuringCommits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := *servingSAs
		sw := &switchNet{}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		defer wg.Wait()
		defer cancel()
		run := func(e *engine.Engine) {
			wg.Add(1)
			go func() { defer wg.Done(); e.Run(ctx) }()
		}
		ikeB := anyConfig()
		ikeB.Vpn["any"].IkePolicy.DpdDelay = ptr("2s")
		ikeB.Vpn["any"].IkePolicy.RekeyTime = ptr(uint32(7))
		withDoS(&dosProtection{CookieThreshold: generated.UnionUint32(0)}, func(g *generated.SecgwVrf_Vrf_Ike_GlobalOptions) {
			g.Threads, g.SaTableSize, g.SaTableSegments = ptr(uint32(4)), ptr(uint32(64)), ptr(uint32(8))
		})(ikeB)
		cb, err := resolve.Config(ikeB)
		if err != nil {
			t.Fatal(err)
		}
		dpB := enginetest.NewDataplane()
		var evB countingEvents
		ob := engine.Options{Config: cb, LocalAddr: addrB, Conn: sw.port(addrB), Dataplane: dpB}
		evB.hook()(&ob)
		b := engine.New(ob)
		run(b)
		var inits []*engine.Engine
		for i := range n {
			addr := netip.AddrFrom4([4]byte{10, 1, byte((i + 1) >> 8), byte(i + 1)})
			ike := vpnConfig("to-b", addr, addrB, fmt.Sprintf("a%d.example", i), "b.example", "secret",
				fmt.Sprintf("10.%d.%d.0/24", 100+i>>8, i&255), "192.168.2.0/24")
			ike.Vpn["to-b"].IkePolicy.DpdDelay = ptr("2s")
			ike.Vpn["to-b"].IkePolicy.RekeyTime = ptr(uint32(9))
			withDoS(nil, func(g *generated.SecgwVrf_Vrf_Ike_GlobalOptions) { g.Threads = ptr(uint32(1)) })(ike)
			c, err := resolve.Config(ike)
			if err != nil {
				t.Fatal(err)
			}
			e := engine.New(engine.Options{Config: c, LocalAddr: addr, Conn: sw.port(addr), Dataplane: enginetest.NewDataplane()})
			run(e)
			inits = append(inits, e)
		}
		// Set up in rounds 100 ms apart, so that B's queues keep up and
		// the timers of the tunnels (DPD, rekeys) do not all fire at
		// one instant of the fake clock.
		for i, e := range inits {
			e.Initiate("to-b")
			if i%250 == 249 {
				time.Sleep(100 * time.Millisecond)
			}
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if st := b.DoSStats(); st.Established != n || len(dpB.Children()) != n {
			t.Fatalf("B before the commits: %+v, %d child SAs", st, len(dpB.Children()))
		}
		rekeyed := evB.count(engine.IKERekeyed)

		// The commits, each through ApplyConfig with the VPN it changes,
		// as ikesvc does.
		cfg := b.Config()
		for i := range 100 {
			d := config.Delta{Global: cfg.Global, PPKs: cfg.PPKs}
			if i%3 == 2 {
				d.Remove = []string{"churn"}
			} else {
				d.Put = []config.Entry{{VPN: &config.VPN{Name: "churn", RemoteAddr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}),
					Policies: []config.SecurityPolicy{{Name: "churn-net"}}, StartAction: config.ActionNone}}}
			}
			cfg = cfg.Apply(d)
			if torn := b.ApplyConfig(cfg, []string{"churn"}); len(torn) != 0 {
				t.Fatalf("commit %d tore down %v", i, torn)
			}
			time.Sleep(100 * time.Millisecond)
		}
		synctest.Wait()
		st := b.DoSStats()
		if st.Established != n || len(dpB.Children()) != n || evB.count(engine.IKEDown) != 0 {
			t.Fatalf("after the commits: %+v, %d child SAs, events %v", st, len(dpB.Children()), evB.n)
		}
		// 10 s of commits: every IKE SA was rekeyed at least once, by
		// one side or the other (B's rekey-time 7 s, A's 9 s).
		got := evB.count(engine.IKERekeyed) - rekeyed
		t.Logf("%d IKE SAs up through 100 commits, %d IKE SA rekeys meanwhile", st.Established, got)
		if got < n {
			t.Fatalf("%d IKE SA rekeys during the commits, want at least %d", got, n)
		}
		for _, e := range inits {
			if st := e.DoSStats(); st.Established != 1 {
				t.Fatalf("an initiator lost its IKE SA: %+v", st)
			}
		}
	})
}
