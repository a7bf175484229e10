package engine_test

import (
	"testing"
	"testing/synctest"
	"time"

	"secgw/generated"
	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/resolve"
)

// commitA applies A's configuration, changed by mod, as a commit would
// (SetConfig): start-action applies to the VPNs it adds or changes.
func commitA(t *testing.T, a *peer, mod func(*generated.SecgwVrf_Vrf_Ike)) {
	t.Helper()
	ike := vpnConfig("to-b", addrA, addrB, "a.example", "b.example", "secret", "192.168.1.0/24", "192.168.2.0/24")
	if mod != nil {
		mod(ike)
	}
	c, err := resolve.Config(ike)
	if err != nil {
		t.Fatal(err)
	}
	a.e.SetConfig(c)
}

func startAction(s generated.E_SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_StartAction) func(*generated.SecgwVrf_Vrf_Ike) {
	return withIPsec(func(p *ipsecPolicy) { p.StartAction = s })
}

func closeAction(c generated.E_SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_CloseAction) func(*generated.SecgwVrf_Vrf_Ike) {
	return withIPsec(func(p *ipsecPolicy) { p.CloseAction = c })
}

// emptyA returns a pair whose A starts without configuration, so that a
// commit adds its VPN.
func emptyA(t *testing.T, modB func(*generated.SecgwVrf_Vrf_Ike)) (a, b *peer) {
	a, b = pair(t, nil, modB, nil)
	a.e.SetConfig(&config.Config{})
	return a, b
}

// TestStartActionStart: start-action start negotiates as soon as the
// configuration is applied: one IKE SA, its IKE_AUTH carrying the first
// policy's child SA and CREATE_CHILD_SA the second's.
func TestStartActionStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := emptyA(t, addPolicy("net2", "10.2.0.0/16", "10.1.0.0/16"))
		commitA(t, a, chain(startAction(startStart), addPolicy("net2", "10.1.0.0/16", "10.2.0.0/16")))
		deliverInit(t, a, b, false)
		deliverInit(t, b, a, true)
		step(t, a, b, authX, false, "IDi IDr AUTH N(INITIAL_CONTACT) SA TSi TSr")
		step(t, b, a, authX, true, "IDr AUTH SA TSi TSr")
		step(t, a, b, cc, false, "SA No TSi TSr")
		step(t, b, a, cc, true, "SA No TSi TSr")
		silent(t, a, b)
		if s := saState(t, a); len(s.Children) != 2 || len(a.dp.Traps()) != 0 {
			t.Fatalf("children %d, traps %v", len(s.Children), a.dp.Traps())
		}
		// The same configuration again changes nothing.
		commitA(t, a, chain(startAction(startStart), addPolicy("net2", "10.1.0.0/16", "10.2.0.0/16")))
		silent(t, a, b)
	})
}

// TestStartActionNone: start-action none installs nothing and sends
// nothing.
func TestStartActionNone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := emptyA(t, nil)
		commitA(t, a, startAction(startNone))
		silent(t, a, b)
		if len(a.dp.Traps()) != 0 {
			t.Fatal("traps installed")
		}
	})
}

// TestStartActionTrapAcquire: start-action trap (the default) installs a
// trap policy per security policy; the dataplane's acquire starts the
// negotiation, with the packet's addresses first in the selectors (RFC
// 7296 §2.9). Further acquires for the policy do nothing while it runs
// (acquire-timeout) or once its child SA is up. A commit that changes the
// VPN replaces its traps; one that removes it removes them.
func TestStartActionTrapAcquire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := emptyA(t, nil)
		commitA(t, a, nil)
		tr := a.dp.Traps()
		if len(tr) != 1 || tr["net"].Remote != addrB || tr["net"].LocalTS.StartAddr != ip("192.168.1.0") {
			t.Fatalf("traps %+v", tr)
		}
		silent(t, a, b)
		pkt := engine.Packet{Src: ip("192.168.1.5"), Dst: ip("192.168.2.5")}
		if err := a.e.Acquire("", pkt); err != nil {
			t.Fatal(err)
		}
		a.e.Acquire("net", pkt) // a second packet: the negotiation is under way
		deliverInit(t, a, b, false)
		if a.net.Len() != 0 {
			t.Fatal("a second acquire started a second negotiation")
		}
		deliverInit(t, b, a, true)
		ps := step(t, a, b, authX, false, "IDi IDr AUTH N(INITIAL_CONTACT) SA TSi TSr")
		if tsr := firstTS(ps, true); len(tsr) != 2 || tsr[0].StartAddr != pkt.Dst {
			t.Errorf("TSr %v", tsr)
		}
		step(t, b, a, authX, true, "IDr AUTH SA TSi TSr")
		checkChildPair(t, a, b)
		a.e.Acquire("", pkt) // child SA up: nothing to do
		silent(t, a, b)
		if err := a.e.Acquire("", engine.Packet{Src: ip("10.9.9.9"), Dst: ip("10.8.8.8")}); err != engine.ErrUnknownPolicy {
			t.Errorf("acquire outside every trap: %v", err)
		}
		// Changing the VPN: its SA goes, its traps are replaced.
		commitA(t, a, withIKE(func(p *ikePolicy) { p.RekeyTime = ptr(uint32(7200)) }))
		if ops := a.dp.Ops(); ops[len(ops)-2] != "untrap net" || ops[len(ops)-1] != "trap net" {
			t.Errorf("dataplane operations %v", ops)
		}
		a.e.SetConfig(&config.Config{})
		if len(a.dp.Traps()) != 0 {
			t.Error("traps left after the VPN was removed")
		}
	})
}

// TestAcquireTimeout: an acquire whose negotiation fails stops holding
// further acquires back: acquire-timeout bounds the wait even while the
// negotiation runs, and a failed one frees the policy at once.
func TestAcquireTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _ := emptyA(t, nil)
		commitA(t, a, func(ike *generated.SecgwVrf_Vrf_Ike) {
			ike.GlobalOptions = &generated.SecgwVrf_Vrf_Ike_GlobalOptions{AcquireTimeout: ptr(uint32(10)),
				RetransmitTries: ptr(uint8(1)), RetransmitTimeout: ptr(2.0), RetransmitBase: ptr(1.0)}
		})
		a.e.Acquire("net", engine.Packet{})
		if len(takeAll(a)) != 1 {
			t.Fatal("no IKE_SA_INIT")
		}
		time.Sleep(3 * time.Second) // retransmitted once, no answer
		synctest.Wait()
		takeAll(a)
		a.e.Acquire("net", engine.Packet{})
		if a.net.Len() != 0 {
			t.Fatal("acquire during acquire-timeout started something")
		}
		time.Sleep(time.Second) // 4 s: the negotiation failed
		synctest.Wait()
		if len(a.e.IKESAs()) != 0 {
			t.Fatal("negotiation still running")
		}
		a.e.Acquire("net", engine.Packet{})
		if len(takeAll(a)) != 1 {
			t.Fatal("an acquire after the failure did not negotiate")
		}
	})
}

// TestCloseAction: when the peer deletes a child SA (or its IKE SA),
// close-action start negotiates it again, trap installs a trap policy,
// none does nothing; a child SA the peer deletes because a rekey replaced
// it triggers nothing.
func TestCloseAction(t *testing.T) {
	for _, tc := range []struct {
		name   string
		action generated.E_SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_CloseAction
		ike    bool
	}{
		{"start/child", closeStart, false}, {"start/ike", closeStart, true},
		{"trap/child", closeTrap, false}, {"none/child", closeNone, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a, b := pair(t, closeAction(tc.action), nil, nil)
				establish(t, a, b)
				// B rekeys: its delete of the old child SA closes nothing.
				b.e.RekeyChild(onlyChildUID(t, b))
				step(t, b, a, cc, false, "N(REKEY_SA) SA No TSi TSr")
				step(t, a, b, cc, true, "SA No TSi TSr")
				step(t, b, a, info, false, "D(ESP)")
				step(t, a, b, info, true, "D(ESP)")
				silent(t, a, b)
				if len(a.dp.Traps()) != 0 {
					t.Fatal("a rekey triggered close-action")
				}
				if tc.ike {
					b.e.DeleteIKE(mustSPI(t, b))
					step(t, b, a, info, false, "D(IKE)")
					step(t, a, b, info, true, "")
				} else {
					b.e.DeleteChildByUID(onlyChildUID(t, b))
					step(t, b, a, info, false, "D(ESP)")
					step(t, a, b, info, true, "D(ESP)")
				}
				switch {
				case tc.action == closeStart && tc.ike:
					deliverInit(t, a, b, false) // a new IKE SA
					deliverInit(t, b, a, true)
					step(t, a, b, authX, false, "IDi IDr AUTH N(INITIAL_CONTACT) SA TSi TSr")
					step(t, b, a, authX, true, "IDr AUTH SA TSi TSr")
					checkChildPair(t, a, b)
				case tc.action == closeStart:
					step(t, a, b, cc, false, "SA No TSi TSr") // on the same IKE SA
					step(t, b, a, cc, true, "SA No TSi TSr")
					checkChildPair(t, a, b)
				case tc.action == closeTrap:
					if len(a.dp.Traps()) != 1 {
						t.Fatal("no trap after the peer closed the child SA")
					}
				}
				silent(t, a, b)
				if tc.action == closeNone && (len(a.dp.Children()) != 0 || len(a.dp.Traps()) != 0) {
					t.Fatal("close-action none did something")
				}
			})
		})
	}
}

// TestInitiatorOnlyStillInitiates: a gateway with initiator-only gives no answer to
// IKE_SA_INIT requests from peers, and still initiates its own.
func TestInitiatorOnlyStillInitiates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		only := func(ike *generated.SecgwVrf_Vrf_Ike) {
			ike.GlobalOptions = &generated.SecgwVrf_Vrf_Ike_GlobalOptions{InitiatorOnly: ptr(true)}
			ike.Vpn["from-a"].RemoteAddress = ptr(addrA.String())
		}
		a, b := pair(t, nil, only, nil)
		a.e.Initiate("to-b")
		deliverInit(t, a, b, false)
		if b.net.Len() != 0 || len(b.e.IKESAs()) != 0 {
			t.Fatal("an initiator-only gateway answered IKE_SA_INIT")
		}
		takeAll(a)
		a.e.SetConfig(&config.Config{}) // drop A's own attempt
		commitA(t, a, startAction(startNone))
		if err := b.e.Initiate("from-a"); err != nil {
			t.Fatal(err)
		}
		deliverInit(t, b, a, false)
		deliverInit(t, a, b, true)
		step(t, b, a, authX, false, "IDi IDr AUTH N(INITIAL_CONTACT) SA TSi TSr")
		step(t, a, b, authX, true, "IDr AUTH SA TSi TSr")
		checkChildPair(t, a, b)
	})
}
