package engine_test

import (
	"bytes"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// tinyFragments is a fragment size that splits IKE_AUTH into several
// fragments in each direction: 150-octet IP datagrams leave 122 octets of
// IKE message on port 500.
const tinyFragments = 150

// initFragmenting runs IKE_SA_INIT between engines that both fragment at
// tinyFragments and returns A's IKE_AUTH request as fragments.
func initFragmenting(t testing.TB) (a, b *peer, frags []engine.Datagram) {
	t.Helper()
	a, b = pairOpts(t, nil, nil, fragSize(tinyFragments), fragSize(tinyFragments))
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b) // IKE_SA_INIT request: SA, KE, Ni, N(NAT_DETECTION_*), N(IKEV2_FRAGMENTATION_SUPPORTED)
	deliver(t, b, a) // IKE_SA_INIT response: SA, KE, Nr, N(NAT_DETECTION_*), N(IKEV2_FRAGMENTATION_SUPPORTED)
	frags = takeAll(a)
	checkFragments(t, frags, wire.ExchangeIKEAuth, 1, false)
	return a, b, frags
}

// checkFragments checks that ds are the fragments 1..n, in order, of one
// message: same header, SKF i/n, fragment 1 alone naming the first inner
// payload, each datagram within tinyFragments once IP and UDP headers are
// added (RFC 7383 §2.5, §2.5.1).
func checkFragments(t testing.TB, ds []engine.Datagram, exch wire.ExchangeType, id uint32, response bool) {
	t.Helper()
	if len(ds) < 2 {
		t.Fatalf("%v message in %d datagram(s), want fragments", exch, len(ds))
	}
	for i, d := range ds {
		_, m := message(t, d)
		f, ok := m.Payloads[len(m.Payloads)-1].(*wire.EncryptedFragment)
		if !ok || len(m.Payloads) != 1 {
			t.Fatalf("datagram %d: %v, want one SKF payload", i, m)
		}
		if m.Header.Exchange != exch || m.Header.MessageID != id || m.Header.Flags.Response() != response {
			t.Errorf("fragment %d: header %v msgid %d", i+1, m.Header.Exchange, m.Header.MessageID)
		}
		if int(f.FragmentNumber) != i+1 || int(f.TotalFragments) != len(ds) {
			t.Errorf("datagram %d is fragment %d/%d, want %d/%d", i, f.FragmentNumber, f.TotalFragments, i+1, len(ds))
		}
		if (f.NextPayload != wire.PayloadNone) != (i == 0) {
			t.Errorf("fragment %d: Next Payload %v", i+1, f.NextPayload)
		}
		if n := len(d.Data) + 20 + 8; n > tinyFragments {
			t.Errorf("fragment %d: %d-octet IP datagram, limit %d", i+1, n, tinyFragments)
		}
	}
}

func TestFragmentedIKEAuthReordered(t *testing.T) {
	a, b, frags := initFragmenting(t)
	t.Logf("IKE_AUTH request in %d fragments", len(frags))
	// The IKE_AUTH request's fragments arrive last first: B keeps each
	// authenticated fragment and answers only when it has them all.
	for i := len(frags) - 1; i >= 0; i-- {
		inject(b, frags[i], nil, a)
		if i > 0 && b.net.Len() != 0 {
			t.Fatalf("B answered before fragment 1 of %d arrived", len(frags))
		}
	}
	resp := takeAll(b) // IKE_AUTH response: SKF fragments of SK{IDr, AUTH, SA, TSi, TSr}
	checkFragments(t, resp, wire.ExchangeIKEAuth, 1, true)
	// A duplicate of a fragment is ignored; then the rest completes it.
	inject(a, resp[0], nil, b)
	inject(a, resp[0], nil, b)
	for _, d := range resp[1:] {
		inject(a, d, nil, b)
	}
	checkChildPair(t, a, b)
	if a.net.Len()+b.net.Len() != 0 {
		t.Error("unexpected datagrams")
	}
	// Later exchanges fragment too when they are large, and not when
	// they fit: an empty INFORMATIONAL goes in one datagram.
	spi, _ := onlySA(t, a)
	a.e.CheckLiveness(spi)
	deliver(t, a, b) // INFORMATIONAL request: SK{}
	deliver(t, b, a) // INFORMATIONAL response: SK{}
	if a.net.Len()+b.net.Len() != 0 {
		t.Error("a small message was fragmented")
	}
}

func TestFragmentLostAndRetransmitted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, frags := initFragmenting(t)
		// Fragment 2 of the IKE_AUTH request is lost.
		for i, d := range frags {
			if i != 1 {
				inject(b, d, nil, a)
			}
		}
		if b.net.Len() != 0 {
			t.Fatal("B answered an incomplete request")
		}
		// After retransmit-timeout A resends every fragment, unchanged
		// (RFC 7383 §2.6); B ignores the ones it has and completes.
		time.Sleep(4 * time.Second)
		synctest.Wait()
		again := takeAll(a)
		if len(again) != len(frags) {
			t.Fatalf("retransmission of %d datagrams, want %d", len(again), len(frags))
		}
		for i := range again {
			if !bytes.Equal(again[i].Data, frags[i].Data) {
				t.Fatalf("retransmitted fragment %d differs", i+1)
			}
			inject(b, again[i], nil, a)
		}
		resp := takeAll(b)
		checkFragments(t, resp, wire.ExchangeIKEAuth, 1, true)
		// Fragment 1 of the response is lost: A waits.
		for _, d := range resp[1:] {
			inject(a, d, nil, b)
		}
		if a.net.Len() != 0 || len(a.dp.Children()) != 0 {
			t.Fatal("A acted on an incomplete response")
		}
		time.Sleep(engine.RetransmitDelay(1, 5, 4*time.Second, 1.8, 0, 0, nil))
		synctest.Wait()
		again = takeAll(a) // try 2 of the IKE_AUTH request
		if len(again) != len(frags) {
			t.Fatalf("second retransmission of %d datagrams, want %d", len(again), len(frags))
		}
		// RFC 7383 §2.6.1: B answers the retransmitted request from its
		// cache on fragment 1 only.
		for _, d := range again[1:] {
			inject(b, d, nil, a)
		}
		if b.net.Len() != 0 {
			t.Fatal("B resent its response for a fragment other than 1")
		}
		inject(b, again[0], nil, a)
		resent := takeAll(b)
		if len(resent) != len(resp) {
			t.Fatalf("B resent %d datagrams, want the %d fragments of its response", len(resent), len(resp))
		}
		for i := range resent {
			if !bytes.Equal(resent[i].Data, resp[i].Data) {
				t.Fatalf("resent response fragment %d differs", i+1)
			}
		}
		inject(a, resent[0], nil, b)
		checkChildPair(t, a, b)
		// The rest of the resent fragments are stale now.
		for _, d := range resent[1:] {
			inject(a, d, nil, b)
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if a.net.Len()+b.net.Len() != 0 || len(a.dp.Children()) != 1 {
			t.Error("stale fragments or timers acted")
		}
	})
}

func TestFragmentForgedIgnored(t *testing.T) {
	a, b, frags := initFragmenting(t)
	bspi, _ := onlySA(t, b)
	n := len(frags)
	// A fragment 2 whose ICV does not verify is not kept.
	forged := slices.Clone(frags[1].Data)
	forged[len(forged)-1] ^= 1
	inject(b, engine.Datagram{Local: frags[1].Local, Remote: frags[1].Remote, Data: forged}, nil, a)
	// Nor one that claims more fragments (it would restart the
	// reassembly, RFC 7383 §2.6) but was not sealed with those counters.
	raw, m := message(t, frags[0])
	f := m.Payloads[0].(*wire.EncryptedFragment)
	f.TotalFragments++
	relabeled, err := m.Marshal()
	if err != nil || len(relabeled) != len(raw) {
		t.Fatal(err)
	}
	inject(b, engine.Datagram{Local: frags[0].Local, Remote: frags[0].Remote, Data: relabeled}, nil, a)
	if active, have, _ := b.e.ReassemblyForTest(bspi, false); active || have != 0 {
		t.Fatalf("forged fragments kept: active %v, %d fragments", active, have)
	}
	for i, d := range frags {
		if i != 1 {
			inject(b, d, nil, a)
		}
	}
	if active, have, _ := b.e.ReassemblyForTest(bspi, false); !active || have != n-1 || b.net.Len() != 0 {
		t.Fatalf("reassembly: active %v with %d of %d fragments, %d datagrams sent", active, have, n-1, b.net.Len())
	}
	inject(b, frags[1], nil, a)
	for _, d := range takeAll(b) {
		inject(a, d, nil, b)
	}
	checkChildPair(t, a, b)
}

// TestFragmentCounters checks the Total Fragments rules of RFC 7383 §2.6
// with authenticated fragments: more fragments than announced before
// restart the reassembly, fewer are dropped, and more than the limit are
// never reassembled.
func TestFragmentCounters(t *testing.T) {
	a, b, frags := initFragmenting(t)
	aspi, _ := onlySA(t, a)
	bspi, _ := onlySA(t, b)
	n := uint16(len(frags))
	send := func(num, total uint16, plain []byte) {
		t.Helper()
		raw, err := a.e.SealFragmentForTest(aspi, wire.ExchangeIKEAuth, 1, false, wire.PayloadNone, num, total, plain)
		if err != nil {
			t.Fatal(err)
		}
		inject(b, engine.Datagram{Local: frags[0].Local, Remote: frags[0].Remote, Data: raw}, nil, a)
	}
	check := func(wantActive bool, wantHave int) {
		t.Helper()
		if active, have, _ := b.e.ReassemblyForTest(bspi, false); active != wantActive || have != wantHave {
			t.Fatalf("reassembly active %v with %d fragments, want %v with %d", active, have, wantActive, wantHave)
		}
	}
	inject(b, frags[0], nil, a)
	check(true, 1)
	send(2, n-1, []byte("fewer")) // fewer than announced: dropped
	check(true, 1)
	send(2, n+1, []byte("more")) // more: the reassembly starts over with it
	check(true, 1)
	inject(b, frags[1], nil, a) // the original fragments now announce fewer
	check(true, 1)
	send(1, engine.MaxFragments+1, []byte("too many")) // over the limit: dropped
	check(true, 1)
	// A message over the size bound is dropped whole.
	big := make([]byte, engine.MaxReassembledLen/2+1)
	send(1, engine.MaxFragments, big) // restarts: the most fragments allowed
	if _, _, size := b.e.ReassemblyForTest(bspi, false); size != len(big) {
		t.Fatalf("reassembly holds %d octets, want %d", size, len(big))
	}
	send(2, engine.MaxFragments, big)
	check(false, 0)
	if b.net.Len() != 0 {
		t.Error("B answered")
	}
}

func TestFragmentReassemblyTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, frags := initFragmenting(t)
		bspi, _ := onlySA(t, b)
		inject(b, frags[0], nil, a)
		time.Sleep(engine.ReassemblyTimeout - time.Millisecond)
		synctest.Wait()
		if active, have, _ := b.e.ReassemblyForTest(bspi, false); !active || have != 1 {
			t.Fatal("fragment discarded early")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if active, have, _ := b.e.ReassemblyForTest(bspi, false); active || have != 0 {
			t.Fatal("incomplete message kept past the reassembly timeout")
		}
		takeAll(a) // the retransmissions meanwhile
	})
}

// TestFragmentTooMany: a request cut into more fragments than the
// receiver's limit is never reassembled.
func TestFragmentTooMany(t *testing.T) {
	a, b := pairOpts(t, nil, nil, fragSize(92), nil)
	a.e.Initiate("to-b")
	deliver(t, a, b) // IKE_SA_INIT request
	deliver(t, b, a) // IKE_SA_INIT response
	frags := takeAll(a)
	if len(frags) <= engine.MaxFragments {
		t.Fatalf("IKE_AUTH in %d fragments, want more than %d", len(frags), engine.MaxFragments)
	}
	bspi, _ := onlySA(t, b)
	for _, d := range frags {
		inject(b, d, nil, a)
	}
	if active, _, _ := b.e.ReassemblyForTest(bspi, false); active || b.net.Len() != 0 {
		t.Fatal("B reassembled more fragments than its limit")
	}
}

// TestFragmentationNotNegotiated: without IKEV2_FRAGMENTATION_SUPPORTED
// from both sides, nothing is fragmented and SKF is not accepted (RFC 7383
// §2.3).
func TestFragmentationNotNegotiated(t *testing.T) {
	off := func(ike *generated.SecgwVrf_Vrf_Ike) {
		for _, v := range ike.Vpn {
			v.IkePolicy.Fragmentation = ptr(false)
		}
	}
	for _, tc := range []struct {
		name       string
		modA, modB func(*generated.SecgwVrf_Vrf_Ike)
	}{{"initiator-off", off, nil}, {"responder-off", nil, off}} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := pairOpts(t, tc.modA, tc.modB, fragSize(tinyFragments), fragSize(tinyFragments))
			a.e.Initiate("to-b")
			d := deliver(t, a, b) // IKE_SA_INIT request
			_, m := message(t, d)
			if got := slices.Contains(notifies(m.Payloads), wire.NotifyIKEv2FragmentationSupported); got != (tc.modA == nil) {
				t.Errorf("request announces fragmentation: %v", got)
			}
			d = deliver(t, b, a) // IKE_SA_INIT response: no N(IKEV2_FRAGMENTATION_SUPPORTED)
			if _, m = message(t, d); slices.Contains(notifies(m.Payloads), wire.NotifyIKEv2FragmentationSupported) {
				t.Error("response announces fragmentation")
			}
			// An SKF message is dropped.
			aspi, _ := onlySA(t, a)
			skf, err := a.e.SealFragmentForTest(aspi, wire.ExchangeIKEAuth, 1, false, wire.PayloadIDi, 1, 1, []byte{0, 0, 0, 4})
			if err != nil {
				t.Fatal(err)
			}
			b.e.HandleDatagram(engine.Datagram{Local: d.Local, Remote: d.Remote, Data: skf})
			if b.net.Len() != 0 {
				t.Fatal("B answered an SKF message without fragmentation")
			}
			d = deliver(t, a, b) // IKE_AUTH request in one datagram, larger than the fragment size
			if len(d.Data)+28 <= tinyFragments {
				t.Fatalf("IKE_AUTH of %d octets, the test needs it larger than the fragment size", len(d.Data))
			}
			deliver(t, b, a) // IKE_AUTH response in one datagram
			checkChildPair(t, a, b)
		})
	}
}

// TestFragmentedUnsupportedCritical: the reassembled chain is checked like
// an SK payload's: an unknown critical payload is answered with
// UNSUPPORTED_CRITICAL_PAYLOAD (RFC 7296 §2.5), in fragments here.
func TestFragmentedUnsupportedCritical(t *testing.T) {
	a, b, frags := initFragmenting(t)
	aspi, _ := onlySA(t, a)
	ps := []wire.Payload{&wire.Unknown{CriticalFlag: wire.CriticalFlag{Critical: true}, PayloadType: 200, Body: make([]byte, 300)}}
	msgs, err := a.e.EncodeForTest(aspi, wire.ExchangeIKEAuth, 1, false, ps)
	if err != nil || len(msgs) < 2 {
		t.Fatalf("%d fragments, %v", len(msgs), err)
	}
	for _, raw := range msgs {
		inject(b, engine.Datagram{Local: frags[0].Local, Remote: frags[0].Remote, Data: raw}, nil, a)
	}
	resp := takeAll(b)
	if len(resp) != 1 {
		t.Fatalf("B sent %d datagrams, want one response", len(resp))
	}
	got, err := a.e.OpenForTest(aspi, resp[0].Data, false)
	if err != nil || !slices.Equal(notifies(got), []wire.NotifyType{wire.NotifyUnsupportedCriticalPayload}) ||
		!bytes.Equal(got[0].(*wire.Notify).Data, []byte{200}) {
		t.Fatalf("response %v, %v", got, err)
	}
	if len(b.e.IKESAs()) != 0 {
		t.Error("B kept the IKE SA after refusing IKE_AUTH")
	}
}
