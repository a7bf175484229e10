package engine_test

import (
	"bytes"
	"testing"
	"testing/synctest"
	"time"

	"secgw/internal/ike/engine"
)

// The first retransmission comes after retransmit-timeout (4 s by
// default, no jitter configured).
const firstRetransmit = 4 * time.Second

// TestChildRekeyLostRequest: the CREATE_CHILD_SA request is lost; it is
// retransmitted unchanged after the retransmission timeout (RFC 7296
// §2.1) and the rekey completes.
func TestChildRekeyLostRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil, nil, nil)
		establish(t, a, b)
		a.e.RekeyChild(onlyChildUID(t, a))
		lost := drop(t, a) // CREATE_CHILD_SA request, lost
		re := advance(a, firstRetransmit)
		if len(re) != 1 || !bytes.Equal(re[0].Data, lost.Data) {
			t.Fatalf("retransmission: %d datagrams", len(re))
		}
		inject(b, re[0], nil, a)
		step(t, b, a, cc, true, "SA No TSi TSr")
		step(t, a, b, info, false, "D(ESP)")
		step(t, b, a, info, true, "D(ESP)")
		checkChildPair(t, a, b)
	})
}

// TestChildRekeyLostResponse: the response is lost; the retransmitted
// request is answered from the responder's cache (RFC 7296 §2.1): the
// responder installs nothing twice.
func TestChildRekeyLostResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil, nil, nil)
		establish(t, a, b)
		a.e.RekeyChild(onlyChildUID(t, a))
		step(t, a, b, cc, false, "N(REKEY_SA) SA No TSi TSr")
		lost := drop(t, b) // CREATE_CHILD_SA response, lost
		for _, d := range advance(a, firstRetransmit) {
			inject(b, d, nil, a) // the retransmitted request
		}
		again := next(t, b)
		if !bytes.Equal(again.Data, lost.Data) {
			t.Fatal("the retransmitted request got a new response")
		}
		if n := len(b.dp.Children()); n != 2 {
			t.Fatalf("B holds %d child SAs, want 2 (old and new)", n)
		}
		inject(a, again, nil, b)
		step(t, a, b, info, false, "D(ESP)")
		lostDel := drop(t, b) // INFORMATIONAL response, lost too
		for _, d := range advance(a, firstRetransmit) {
			inject(b, d, nil, a)
		}
		if d := next(t, b); !bytes.Equal(d.Data, lostDel.Data) {
			t.Fatal("the retransmitted delete got a new response")
		} else {
			inject(a, d, nil, b)
		}
		silent(t, a, b)
		checkChildPair(t, a, b)
	})
}

// TestIKERekeyLostResponse: the IKE SA rekey response is lost; the
// responder answers the retransmission from its cache and creates no
// second IKE SA; the rekey completes.
func TestIKERekeyLostResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil, nil, nil)
		establish(t, a, b)
		a.e.RekeyIKE(saState(t, a).UniqueID)
		step(t, a, b, cc, false, "SA(IKE) No KE")
		drop(t, b) // CREATE_CHILD_SA response, lost
		for _, d := range advance(a, firstRetransmit) {
			inject(b, d, nil, a)
		}
		if n := len(b.e.IKESAs()); n != 2 {
			t.Fatalf("B has %d IKE SAs, want the old one and one new", n)
		}
		step(t, b, a, cc, true, "SA(IKE) No KE")
		step(t, a, b, info, false, "D(IKE)")
		step(t, b, a, info, true, "")
		if saState(t, a).SPIi != saState(t, b).SPIi {
			t.Error("IKE SAs differ")
		}
		checkChildPair(t, a, b)
	})
}

// TestIKERekeyPeerGone: every retransmission of the rekey is lost: the
// IKE SA fails after the retransmission timeouts (RFC 7296 §2.4), its
// child SAs leave the dataplane and, with dpd-action clear, nothing
// follows. The responder, which had answered, drops the old IKE SA when
// no delete comes.
func TestIKERekeyPeerGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clear := withIPsec(func(p *ipsecPolicy) { p.DpdAction = dpdClear })
		a, b := pair(t, clear, clear, nil)
		establish(t, a, b)
		a.e.RekeyIKE(saState(t, a).UniqueID)
		step(t, a, b, cc, false, "SA(IKE) No KE") // B answers: a new IKE SA takes the child SA
		drop(t, b)                                // the response, lost; so are all retransmissions
		total := engine.RetransmitTotal(5, 4*time.Second, 1.8, 0)
		advance(a, total)
		if len(a.e.IKESAs()) != 0 || len(a.dp.Children()) != 0 {
			t.Fatal("A kept its SAs")
		}
		if n := len(b.e.IKESAs()); n != 2 {
			t.Fatalf("B has %d IKE SAs, want the old one (waiting for its delete) and the new one", n)
		}
		advance(a, 4*time.Second+time.Second)
		if len(b.e.IKESAs()) != 1 {
			t.Errorf("B has %d IKE SAs, want only the new one", len(b.e.IKESAs()))
		}
	})
}
