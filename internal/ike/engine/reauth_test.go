package engine_test

import (
	"fmt"
	"slices"
	"testing"
	"testing/synctest"

	"secgw/generated"
	"secgw/internal/ike/wire"
)

const (
	initX = wire.ExchangeIKESAInit
	authX = wire.ExchangeIKEAuth
)

func makeBeforeBreak(on bool) func(*generated.SecgwVrf_Vrf_Ike) {
	return func(ike *generated.SecgwVrf_Vrf_Ike) {
		ike.GlobalOptions = &generated.SecgwVrf_Vrf_Ike_GlobalOptions{MakeBeforeBreak: ptr(on)}
	}
}

// deliverInit hands the IKE_SA_INIT request or response of from to to.
func deliverInit(t *testing.T, from, to *peer, response bool) {
	t.Helper()
	d := next(t, from)
	if _, m := message(t, d); m.Header.Exchange != initX || m.Header.Flags.Response() != response {
		t.Fatalf("got %v, want IKE_SA_INIT", m.Header)
	}
	inject(to, d, nil, from)
}

// opIndex is the position of an operation in a dataplane's log.
func opIndex(t *testing.T, p *peer, op string, spi uint32) int {
	t.Helper()
	i := slices.Index(p.dp.Ops(), fmt.Sprintf("%s %08x", op, spi))
	if i < 0 {
		t.Fatalf("no %s %08x in %v", op, spi, p.dp.Ops())
	}
	return i
}

// TestReauthMakeBeforeBreak: with make-before-break, the vsr sequence:
// a new IKE SA (IKE_SA_INIT, IKE_AUTH with the first child SA,
// CREATE_CHILD_SA for the second policy) is set up and its child SAs
// installed, then the old IKE SA is deleted with its child SAs: on both
// sides the dataplane holds a child SA of each policy throughout. The
// responder of the first IKE SA reauthenticates too (back to where the
// peer is).
func TestReauthMakeBeforeBreak(t *testing.T) {
	for _, who := range []string{"initiator", "responder"} {
		t.Run(who, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a, b := pair(t, chain(makeBeforeBreak(true), addPolicy("net2", "10.1.0.0/16", "10.2.0.0/16")),
					chain(makeBeforeBreak(true), addPolicy("net2", "10.2.0.0/16", "10.1.0.0/16")), nil)
				establish(t, a, b)
				a.e.InitiateChild("net2")
				step(t, a, b, cc, false, "SA No TSi TSr")
				step(t, b, a, cc, true, "SA No TSi TSr")
				old := saState(t, a)
				x, y := a, b
				if who == "responder" {
					x, y = b, a
				}
				if err := x.e.Reauth(saState(t, x).UniqueID); err != nil {
					t.Fatal(err)
				}
				deliverInit(t, x, y, false)                            // IKE_SA_INIT request
				deliverInit(t, y, x, true)                             // IKE_SA_INIT response
				step(t, x, y, authX, false, "IDi IDr AUTH SA TSi TSr") // IKE_AUTH: the first policy
				step(t, y, x, authX, true, "IDr AUTH SA TSi TSr")
				step(t, x, y, cc, false, "SA No TSi TSr") // the second policy
				step(t, y, x, cc, true, "SA No TSi TSr")
				if n := len(a.dp.Children()); n != 4 {
					t.Fatalf("A holds %d child SAs before the old IKE SA goes, want 4", n)
				}
				step(t, x, y, info, false, "D(IKE)") // the old IKE SA, last
				step(t, y, x, info, true, "")
				silent(t, a, b)
				cur := saState(t, a)
				if cur.UniqueID == old.UniqueID || cur.SPIi == old.SPIi || len(cur.Children) != 2 || cur.Initiator != (who == "initiator") {
					t.Fatalf("after reauthentication: %+v", cur)
				}
				for _, p := range []*peer{a, b} {
					for i := range 2 {
						oc, nc := old.Children[i], cur.Children[i]
						in, out := nc.InSPI, oc.InSPI
						if p == b {
							in, out = nc.OutSPI, oc.OutSPI
						}
						if opIndex(t, p, "install", in) > opIndex(t, p, "delete", out) {
							t.Errorf("%s: old child SA of %s deleted before the new one was installed: %v", who, nc.Policy, p.dp.Ops())
						}
					}
				}
			})
		})
	}
}

// TestReauthBreakBeforeMake: without make-before-break the old IKE SA is
// deleted first, then the new one is set up.
func TestReauthBreakBeforeMake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil, nil, nil)
		establish(t, a, b)
		old := saState(t, a)
		a.e.Reauth(old.UniqueID)
		step(t, a, b, info, false, "D(IKE)")
		step(t, b, a, info, true, "")
		if len(a.dp.Children())+len(b.dp.Children()) != 0 {
			t.Fatal("child SAs left between break and make")
		}
		deliverInit(t, a, b, false)
		deliverInit(t, b, a, true)
		step(t, a, b, authX, false, "IDi IDr AUTH N(INITIAL_CONTACT) SA TSi TSr")
		step(t, b, a, authX, true, "IDr AUTH SA TSi TSr")
		silent(t, a, b)
		c, _ := checkChildPair(t, a, b)
		if opIndex(t, a, "delete", old.Children[0].InSPI) > opIndex(t, a, "install", c.InSPI) {
			t.Error("new child SA installed before the old one was deleted")
		}
		if saState(t, a).UniqueID == old.UniqueID {
			t.Error("same IKE SA")
		}
	})
}

// TestReauthTime: reauth-time triggers the reauthentication (minus the
// random margin, none here).
func TestReauthTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reauth := chain(makeBeforeBreak(true), withIKE(func(p *ikePolicy) { p.ReauthTime = ptr(uint32(600)) }))
		a, b := pairOpts(t, reauth, nil, jitter(0), nil)
		establish(t, a, b)
		old := saState(t, a)
		got := advance(a, 600*1e9)
		if len(got) != 1 {
			t.Fatalf("%d datagrams at reauth-time", len(got))
		}
		inject(b, got[0], nil, a)
		deliverInit(t, b, a, true)
		step(t, a, b, authX, false, "IDi IDr AUTH SA TSi TSr")
		step(t, b, a, authX, true, "IDr AUTH SA TSi TSr")
		step(t, a, b, info, false, "D(IKE)")
		step(t, b, a, info, true, "")
		if s := saState(t, a); s.UniqueID == old.UniqueID || len(s.Children) != 1 {
			t.Errorf("after reauth-time: %+v", s)
		}
	})
}
