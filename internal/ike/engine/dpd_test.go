package engine_test

import (
	"net/netip"
	"secgw/internal/ipsec"
	"testing"
	"testing/synctest"
	"time"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

const dpdDelay = 10 * time.Second

// dpd sets dpd-delay 10s with a mode and, if not zero, a threshold.
func dpd(mode generated.E_SecgwVrf_Vrf_Ike_IkePolicyTemplate_DpdMode, threshold uint8) func(*generated.SecgwVrf_Vrf_Ike) {
	return withIKE(func(p *ikePolicy) {
		p.DpdDelay, p.DpdMode = ptr("10s"), mode
		if threshold > 0 {
			p.DpdThreshold = ptr(threshold)
		}
	})
}

func dpdAction(a generated.E_SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_DpdAction) func(*generated.SecgwVrf_Vrf_Ike) {
	return withIPsec(func(p *ipsecPolicy) { p.DpdAction = a })
}

const (
	probeIdle  = generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_DpdMode_probe_idle_tunnel
	optimized  = generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_DpdMode_optimized
	alwaysSend = generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_DpdMode_always_send
)

// probe checks that p sent exactly one datagram, an empty INFORMATIONAL
// request (RFC 7296 §1.4), delivers it if to is set and returns it.
func probe(t *testing.T, got []engine.Datagram, to, from *peer) engine.Datagram {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("%d datagrams, want one liveness check", len(got))
	}
	if to != nil {
		h, ps := open(t, to, got[0])
		if h.Exchange != info || h.Flags.Response() || len(ps) != 0 {
			t.Fatalf("got %v {%s}, want an empty INFORMATIONAL request", h, summary(ps))
		}
		inject(to, got[0], nil, from)
	}
	return got[0]
}

// TestDPDProbeIdle: probe-idle-tunnel (the default) probes when nothing
// was received for dpd-delay; inbound ESP (the dataplane's activity) is
// proof of liveness too, and postpones the probe to dpd-delay after it.
func TestDPDProbeIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, dpd(0, 0), nil, nil)
		establish(t, a, b)
		probe(t, advance(a, dpdDelay), b, a) // nothing received for 10 s
		step(t, b, a, info, true, "")        // alive
		c, _ := checkChildPair(t, a, b)
		time.Sleep(5 * time.Second)
		a.dp.SetActivity(c.InSPI, time.Now(), time.Time{}) // ESP from B at 15 s
		if got := advance(a, 5*time.Second); len(got) != 0 {
			t.Fatal("probed although ESP arrived 5 s ago")
		}
		probe(t, advance(a, 5*time.Second), nil, nil) // 10 s after the ESP
	})
}

// TestDPDOptimized: optimized probes only when traffic was sent to the
// peer and none came back: an idle tunnel is not probed.
func TestDPDOptimized(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, dpd(optimized, 0), nil, nil)
		establish(t, a, b)
		c, _ := checkChildPair(t, a, b)
		if got := advance(a, 3*dpdDelay); len(got) != 0 {
			t.Fatal("probed an idle tunnel")
		}
		a.dp.SetActivity(c.InSPI, time.Time{}, time.Now()) // ESP sent, nothing back
		probe(t, advance(a, dpdDelay), b, a)
		step(t, b, a, info, true, "")
		// The answer is newer than the traffic sent: no more probes.
		if got := advance(a, 3*dpdDelay); len(got) != 0 {
			t.Fatal("probed after the answer")
		}
	})
}

// TestDPDAlwaysSend: always-send probes every dpd-delay whatever the
// traffic.
func TestDPDAlwaysSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, dpd(alwaysSend, 0), nil, nil)
		establish(t, a, b)
		c, _ := checkChildPair(t, a, b)
		for range 3 {
			a.dp.SetActivity(c.InSPI, time.Now(), time.Now())
			probe(t, advance(a, dpdDelay), b, a)
			step(t, b, a, info, true, "")
		}
	})
}

// TestDPDThreshold: with dpd-threshold 3 a probe is sent every dpd-delay
// and the peer is declared dead after 3 unanswered ones (Juniper's
// interval and threshold), not after the retransmission schedule;
// dpd-action clear then only closes the child SAs.
func TestDPDThreshold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var evA events
		a, b := pairOpts(t, chain(dpd(0, 3), dpdAction(dpdClear)), nil, evA.hook(), nil)
		establish(t, a, b)
		first := probe(t, advance(a, dpdDelay), nil, nil)
		for i := range 2 { // the same probe again at 20 s and 30 s
			if d := probe(t, advance(a, dpdDelay), nil, nil); string(d.Data) != string(first.Data) {
				t.Fatalf("probe %d differs", i+2)
			}
		}
		if got := advance(a, dpdDelay-time.Millisecond); len(got) != 0 || len(a.e.IKESAs()) != 1 {
			t.Fatal("gave up early")
		}
		advance(a, time.Millisecond)
		if len(a.e.IKESAs()) != 0 || len(a.dp.Children()) != 0 {
			t.Fatal("peer not declared dead after 3 probes")
		}
		if got := advance(a, time.Minute); len(got) != 0 {
			t.Error("dpd-action clear sent something")
		}
		if got := evA.kinds(); got != "ike-up child-up child-down ike-down" {
			t.Errorf("events %q", got)
		}
	})
}

// TestDPDActionRestart: the peer stops answering; once the probe's
// retransmissions are exhausted the IKE SA is gone and dpd-action restart
// (the default) negotiates its child SAs under a fresh IKE SA at once.
// The responder, whose VPN has no remote-address, restarts towards where
// the peer was.
func TestDPDActionRestart(t *testing.T) {
	for _, who := range []string{"initiator", "responder"} {
		t.Run(who, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var da, db func(*generated.SecgwVrf_Vrf_Ike)
				if who == "initiator" {
					da = dpd(0, 0)
				} else {
					db = dpd(0, 0)
				}
				a, b := pair(t, da, db, nil)
				establish(t, a, b)
				x, y := a, b
				if who == "responder" {
					x, y = b, a
				}
				probe(t, advance(x, dpdDelay), nil, nil) // unanswered from now on
				takeAll(y)
				total := engine.RetransmitTotal(5, 4*time.Second, 1.8, 0)
				got := advance(x, total-dpdDelay)
				takeAll(y)
				if len(x.e.IKESAs()) != 1 || len(got) != 5 {
					t.Fatalf("%d retransmissions, %d IKE SAs", len(got), len(x.e.IKESAs()))
				}
				got = advance(x, dpdDelay)
				if len(got) != 1 {
					t.Fatalf("%d datagrams after the peer was declared dead, want the new IKE_SA_INIT", len(got))
				}
				if _, m := message(t, got[0]); m.Header.Exchange != initX || got[0].Remote.Addr() != y.e.Config().VPNs[0].LocalAddr {
					t.Fatalf("restart sent %v to %v", m.Header.Exchange, got[0].Remote)
				}
				if len(x.dp.Children()) != 0 {
					t.Error("old child SA left")
				}
				// The peer answers again: the child SA is back.
				inject(y, got[0], nil, x)
				deliverInit(t, y, x, true)
				step(t, x, y, authX, false, "IDi IDr AUTH N(INITIAL_CONTACT) SA TSi TSr")
				step(t, y, x, authX, true, "IDr AUTH SA TSi TSr")
				if len(x.dp.Children()) != 1 {
					t.Fatal("child SA not restarted")
				}
			})
		})
	}
}

// TestDPDActionTrap: dpd-action trap installs trap policies for the child
// SAs of the dead IKE SA; traffic then renegotiates (Acquire).
func TestDPDActionTrap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, chain(dpd(0, 1), dpdAction(dpdTrap)), nil, nil)
		establish(t, a, b)
		probe(t, advance(a, dpdDelay), nil, nil)
		takeAll(b)
		if got := advance(a, dpdDelay); len(got) != 0 || len(a.e.IKESAs()) != 0 {
			t.Fatalf("after the threshold: %d datagrams, %d IKE SAs", len(got), len(a.e.IKESAs()))
		}
		if tr := a.dp.Traps(); len(tr) != 1 || tr["net"].VPN != "to-b" {
			t.Fatalf("traps %+v", tr)
		}
		if err := a.e.Acquire("", engine.Packet{Src: ip("192.168.1.7"), Dst: ip("192.168.2.9"), Proto: 6, DstPort: 22}); err != nil {
			t.Fatal(err)
		}
		deliverInit(t, a, b, false)
		deliverInit(t, b, a, true)
		ps := step(t, a, b, authX, false, "IDi IDr AUTH N(INITIAL_CONTACT) SA TSi TSr")
		step(t, b, a, authX, true, "IDr AUTH SA TSi TSr")
		// B did not know the first IKE SA was dead; A's INITIAL_CONTACT
		// (its only IKE SA with B) made B remove it with its child SA
		// (RFC 7296 §2.4, unique.go).
		if cs := a.dp.Children(); len(cs) != 1 || len(b.dp.Children()) != 1 || b.dp.Installed[cs[0].OutSPI].OutSPI != cs[0].InSPI || len(b.e.IKESAs()) != 1 {
			t.Fatalf("child SAs after the acquire: A %d, B %d", len(cs), len(b.dp.Children()))
		}
		if tsi := firstTS(ps, false); len(tsi) != 2 || tsi[0].StartAddr != ip("192.168.1.7") || tsi[0].EndAddr != ip("192.168.1.7") {
			t.Errorf("TSi %v: want the packet's address first (RFC 7296 §2.9)", tsi)
		}
	})
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// firstTS returns the selectors of the TSi (or TSr) payload of ps.
func firstTS(ps []wire.Payload, responder bool) []ipsec.TrafficSelector {
	for _, p := range ps {
		if ts, ok := p.(*wire.TrafficSelectors); ok && ts.Responder == responder {
			return ts.Selectors
		}
	}
	return nil
}
