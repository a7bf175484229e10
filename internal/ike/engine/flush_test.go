package engine_test

import (
	"testing"
	"testing/synctest"
	"time"

	"secgw/internal/ike/engine"
)

// flushedAtOnce checks that p holds no IKE SA and no child SA right after
// a flush, and that it sent exactly one datagram, which it returns.
func flushedAtOnce(t *testing.T, p *peer) {
	t.Helper()
	if n := len(p.e.IKESAs()); n != 0 {
		t.Fatalf("%d IKE SAs right after the flush, want none", n)
	}
	if n := len(p.dp.Children()); n != 0 {
		t.Fatalf("%d child SAs in the dataplane right after the flush, want none", n)
	}
}

// TestFlushIKE: "flush ike ike-sa" removes the IKE SA and its child SAs
// at once and tells the peer with one INFORMATIONAL D(IKE) request; the
// answer is not waited for, nothing is retransmitted, and neither
// dpd-action restart nor close-action start brings the tunnel back.
func TestFlushIKE(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, chain(dpd(0, 0), dpdAction(dpdRestart), closeAction(closeStart)), nil, nil)
		establish(t, a, b)
		if err := a.e.FlushIKE(saState(t, a).UniqueID); err != nil {
			t.Fatal(err)
		}
		flushedAtOnce(t, a)
		if a.net.Len() != 1 {
			t.Fatalf("the flush sent %d datagrams, want one D(IKE)", a.net.Len())
		}
		step(t, a, b, info, false, "D(IKE)") // INFORMATIONAL request: SK{D(IKE)}
		deliver(t, b, a)                     // INFORMATIONAL response: SK{}, to an SA A no longer has
		if n := len(b.e.IKESAs()) + len(b.dp.Children()); n != 0 {
			t.Fatalf("B keeps %d SAs after the D(IKE)", n)
		}
		if got := advance(a, time.Hour); len(got) != 0 {
			t.Fatalf("A sent %d datagrams in the hour after the flush", len(got))
		}
		if err := a.e.FlushIKE(1); err != engine.ErrNoSA {
			t.Errorf("flushing a flushed SA: %v, want ErrNoSA", err)
		}
	})
}

// TestFlushIKEPeerGone: the D(IKE) of a flush is lost (the peer is
// gone): it is not retransmitted, and the dpd-action restart that a
// DELETE retransmitted to exhaustion used to trigger does not
// re-initiate the flushed tunnel.
func TestFlushIKEPeerGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, chain(dpd(0, 0), dpdAction(dpdRestart), closeAction(closeStart)), nil, nil)
		establish(t, a, b)
		if err := a.e.FlushIKE(saState(t, a).UniqueID); err != nil {
			t.Fatal(err)
		}
		flushedAtOnce(t, a)
		drop(t, a) // the D(IKE), lost
		for range 60 {
			if got := advance(a, time.Minute); len(got) != 0 {
				_, m := message(t, got[0])
				t.Fatalf("A sent %d datagrams (%v) after its flushed DELETE was lost", len(got), m.Header.Exchange)
			}
		}
		if n := len(a.e.IKESAs()); n != 0 {
			t.Fatalf("%d IKE SAs an hour after the flush", n)
		}
	})
}

// TestFlushDuringIKEAuth: an IKE SA flushed while our IKE_AUTH request is
// out is gone from our state at once. The keys exist and the peer may
// complete IKE_AUTH, so it is told, but within the window of one (RFC
// 7296 §2.3): D(IKE) goes out once the IKE_AUTH answer is in (not acted
// on), and the peer keeps nothing.
func TestFlushDuringIKEAuth(t *testing.T) {
	a, b := pair(t, nil, nil, nil)
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b) // IKE_SA_INIT request
	deliver(t, b, a) // IKE_SA_INIT response; A sends IKE_AUTH
	if err := a.e.FlushIKE(a.e.Snapshot(false)[0].UniqueID); err != nil {
		t.Fatal(err)
	}
	flushedAtOnce(t, a)
	if a.net.Len() != 1 {
		t.Fatalf("%d datagrams out, want the IKE_AUTH request alone (window of one)", a.net.Len())
	}
	deliver(t, a, b) // IKE_AUTH request: B establishes
	if len(b.e.IKESAs()) != 1 {
		t.Fatal("B did not establish")
	}
	deliver(t, b, a)                     // IKE_AUTH response: not acted on, A sends D(IKE)
	step(t, a, b, info, false, "D(IKE)") // INFORMATIONAL request, message ID 2
	step(t, b, a, info, true, "")        // INFORMATIONAL response
	if n := len(a.e.IKESAs()) + len(b.e.IKESAs()); n != 0 {
		t.Fatalf("%d IKE SAs left", n)
	}
	if n := len(a.dp.Children()) + len(b.dp.Children()); n != 0 {
		t.Fatalf("%d child SAs left", n)
	}
	silent(t, a, b)
}

// TestFlushWithRequestOutstanding: an established IKE SA flushed while a
// request of ours (a DPD probe) is out loses its child SAs and leaves
// the state at once; its D(IKE) follows the probe's answer, and the SA
// is gone on both sides.
func TestFlushWithRequestOutstanding(t *testing.T) {
	a, b := pair(t, nil, nil, nil)
	establish(t, a, b)
	if err := a.e.CheckLiveness(a.e.Snapshot(false)[0].SPIi); err != nil {
		t.Fatal(err)
	}
	if a.net.Len() != 1 {
		t.Fatalf("%d datagrams, want the DPD probe", a.net.Len())
	}
	if err := a.e.FlushIKE(a.e.Snapshot(false)[0].UniqueID); err != nil {
		t.Fatal(err)
	}
	flushedAtOnce(t, a)
	if a.net.Len() != 1 {
		t.Fatalf("%d datagrams out, want the DPD probe alone (window of one)", a.net.Len())
	}
	deliver(t, a, b)                     // DPD probe
	deliver(t, b, a)                     // its answer: A sends D(IKE)
	step(t, a, b, info, false, "D(IKE)") // INFORMATIONAL request
	step(t, b, a, info, true, "")        // INFORMATIONAL response
	if n := len(a.e.IKESAs()) + len(b.e.IKESAs()); n != 0 {
		t.Fatalf("%d IKE SAs left", n)
	}
	if n := len(b.dp.Children()); n != 0 {
		t.Fatalf("%d child SAs left on the peer", n)
	}
}

// TestFlushDuringIKEAuthPeerGone: the IKE_AUTH request of a flushed SA is
// not retransmitted, no D(IKE) goes out without its answer, nothing is
// re-initiated, and the SA is gone after one retransmission delay.
func TestFlushDuringIKEAuthPeerGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pairOpts(t, withIPsec(func(p *ipsecPolicy) { p.DpdAction = dpdRestart; p.CloseAction = closeStart }), nil, nil, nil)
		if err := a.e.Initiate("to-b"); err != nil {
			t.Fatal(err)
		}
		deliver(t, a, b) // IKE_SA_INIT request
		deliver(t, b, a) // IKE_SA_INIT response; A sends IKE_AUTH
		drop(t, a)       // the IKE_AUTH request is lost, and the peer with it
		if err := a.e.FlushIKE(a.e.Snapshot(false)[0].UniqueID); err != nil {
			t.Fatal(err)
		}
		if got := advance(a, time.Hour); len(got) != 0 {
			t.Fatalf("%d datagrams in the hour after the flush, want none", len(got))
		}
		if n := a.e.SACount(); n != 0 {
			t.Fatalf("%d IKE SAs left in the table an hour after the flush", n)
		}
	})
}

// TestFlushWithRequestOutstandingPeerGone: an established SA flushed
// while its DPD probe is out, whose peer is gone, ends without a
// dpd-action restart (the end is the operator's, not a dead peer's).
func TestFlushWithRequestOutstandingPeerGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pairOpts(t, withIPsec(func(p *ipsecPolicy) { p.DpdAction = dpdRestart; p.CloseAction = closeStart }), nil, nil, nil)
		establish(t, a, b)
		if err := a.e.CheckLiveness(a.e.Snapshot(false)[0].SPIi); err != nil {
			t.Fatal(err)
		}
		drop(t, a) // the probe is lost, and the peer with it
		if err := a.e.FlushIKE(a.e.Snapshot(false)[0].UniqueID); err != nil {
			t.Fatal(err)
		}
		if got := advance(a, time.Hour); len(got) != 0 {
			t.Fatalf("%d datagrams in the hour after the flush, want none (no retransmission, no re-initiation)", len(got))
		}
		if n := a.e.SACount(); n != 0 {
			t.Fatalf("%d IKE SAs left in the table", n)
		}
	})
}
