package engine_test

import (
	"bytes"
	"net/netip"
	"secgw/internal/ipsec"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// hybridESP sets the gateway's one ESP proposal: AES-GCM-16/256, PFS with
// Curve25519 and additional-key-exchange-1, -2, ...
func hybridESP(add ...keList) func(*generated.SecgwVrf_Vrf_Ike) {
	return func(ike *generated.SecgwVrf_Vrf_Ike) {
		p := &generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy_EspProposal{Id: ptr(uint8(1)),
			AeadAlg: []aeadAlg{generated.SecgwIke_AeadAlgorithm_aes256_gcm_128},
			DhGroup: []dhGroup{generated.SecgwIke_DhGroup_curve25519}}
		for i, l := range add {
			*[]*keList{&p.AdditionalKeyExchange_1, &p.AdditionalKeyExchange_2}[i] = l
		}
		for _, v := range ike.Vpn {
			v.IpsecPolicy = &generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy{
				EspProposal: map[uint8]*generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy_EspProposal{1: p}}
		}
	}
}

func allOf(fs ...func(*generated.SecgwVrf_Vrf_Ike)) func(*generated.SecgwVrf_Vrf_Ike) {
	return func(ike *generated.SecgwVrf_Vrf_Ike) {
		for _, f := range fs {
			f(ike)
		}
	}
}

// TestHybridRekeys rekeys, after a hybrid IKE_SA_INIT, the child SA with
// PFS and additional key exchanges, then the IKE SA from each side, all
// with fragments: each CREATE_CHILD_SA is followed by one IKE_FOLLOWUP_KE
// per additional key exchange (RFC 9370 §2.2.4), the new SAs' keys pair,
// the new IKE SA inherits the child SA and the list of methods.
func TestHybridRekeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		set := allOf(hybrid(generated.SecgwIke_DhGroup_curve25519, keList{mlkem768}), hybridESP(keList{mlkem768}, keList{mlkem1024}))
		a, b := pairOpts(t, set, set, fragSize(576), fragSize(576))
		if err := a.e.Initiate("to-b"); err != nil {
			t.Fatal(err)
		}
		runUntilQuiet(t, a, b)
		first, _ := checkChildPair(t, a, b)

		// Child SA rekey: CREATE_CHILD_SA {N(REKEY_SA), SA, Ni, KEi, TSi, TSr}
		// then IKE_FOLLOWUP_KE for ML-KEM-768 and ML-KEM-1024 (a new
		// link each), then the INFORMATIONAL deleting the old child SA.
		if err := a.e.RekeyChild(onlyChildUID(t, a)); err != nil {
			t.Fatal(err)
		}
		ss := runUntilQuiet(t, a, b)
		if got, want := exchanges(ss), []string{"CREATE_CHILD_SA#3", "IKE_FOLLOWUP_KE#4", "IKE_FOLLOWUP_KE#5", "INFORMATIONAL#6"}; !slices.Equal(got, want) {
			t.Fatalf("child rekey exchanges %v, want %v", got, want)
		}
		c, _ := checkChildPair(t, a, b)
		if c.InSPI == first.InSPI || bytes.Equal(c.In.Encr, first.In.Encr) || c.Suite.Group != ipsec.GroupCurve25519 {
			t.Errorf("rekeyed child SA %+v", c)
		}

		// IKE SA rekey by A, then by B.
		for i, x := range []*peer{a, b} {
			y := map[*peer]*peer{a: b, b: a}[x]
			old := saState(t, x)
			if err := x.e.RekeyIKE(old.UniqueID); err != nil {
				t.Fatal(err)
			}
			ss := runUntilQuiet(t, a, b)
			want := []string{"CREATE_CHILD_SA#0", "IKE_FOLLOWUP_KE#1", "INFORMATIONAL#2"}
			if i == 0 {
				want = []string{"CREATE_CHILD_SA#7", "IKE_FOLLOWUP_KE#8", "INFORMATIONAL#9"}
			}
			if got := exchanges(ss); !slices.Equal(got, want) {
				t.Fatalf("IKE rekey by %d: exchanges %v, want %v", i, got, want)
			}
			sx, sy := saState(t, x), saState(t, y)
			if sx.SPIi == old.SPIi || sx.SPIi != sy.SPIi || !sx.Initiator || len(sx.Children) != 1 {
				t.Fatalf("new IKE SA %+v", sx)
			}
			for _, s := range []engine.SAState{sx, sy} {
				if !slices.Equal(s.AddKEs, []ipsec.TransformID{ipsec.GroupMLKEM768}) {
					t.Errorf("new IKE SA's additional key exchanges %v", s.AddKEs)
				}
			}
			kx, ky := x.e.Snapshot(true)[0].Keys, y.e.Snapshot(true)[0].Keys
			if !bytes.Equal(kx.SKei, ky.SKei) || !bytes.Equal(kx.SKer, ky.SKer) {
				t.Error("new IKE SA keys differ between the peers")
			}
		}
		// The last IKE SA works: its SK_d makes a child SA that pairs.
		if err := b.e.RekeyChild(onlyChildUID(t, b)); err != nil {
			t.Fatal(err)
		}
		runUntilQuiet(t, a, b)
		checkChildPair(t, a, b)
	})
}

// TestFollowupUnknownLink: an IKE_FOLLOWUP_KE whose link data the
// responder does not know is answered with STATE_NOT_FOUND (RFC 9370
// §2.2.4) and changes nothing.
func TestFollowupUnknownLink(t *testing.T) {
	set := hybrid(generated.SecgwIke_DhGroup_curve25519, keList{mlkem768})
	a, b := pair(t, set, set, nil)
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	runUntilQuiet(t, a, b)
	spi, _ := onlySA(t, a)
	msgs, err := a.e.EncodeForTest(spi, wire.ExchangeIKEFollowupKE, 3, false, []wire.Payload{
		&wire.KE{Group: ipsec.GroupMLKEM768, Data: make([]byte, 1184)},
		wire.NewNotify(wire.NotifyAdditionalKeyExchange, []byte("no-such-link"))})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		b.e.HandleDatagram(engine.Datagram{Local: netip.AddrPortFrom(addrB, 500), Remote: netip.AddrPortFrom(addrA, 500), Data: m})
	}
	d, ok := b.net.Next()
	if !ok {
		t.Fatal("no answer")
	}
	if _, ps := open(t, a, d); !has(ps, wire.NotifyStateNotFound) {
		t.Errorf("answer %v, want STATE_NOT_FOUND", ps)
	}
	checkChildPair(t, a, b)
}

// TestIntermediateResponseLost: B's fragmented IKE_INTERMEDIATE response
// is lost after B updated its keys (RFC 9370 §2.2.2). A resends every
// fragment of its request, still protected with the keys before the
// update; B recognizes fragment 1 as the request it answered and resends
// its cached response (RFC 7383 §2.6.1), and the handshake completes.
func TestIntermediateResponseLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		set := hybrid(generated.SecgwIke_DhGroup_ecp384, keList{mlkem1024})
		a, b := pairOpts(t, set, set, fragSize(576), fragSize(576))
		if err := a.e.Initiate("to-b"); err != nil {
			t.Fatal(err)
		}
		deliver(t, a, b)  // IKE_SA_INIT request
		deliver(t, b, a)  // IKE_SA_INIT response
		req := takeAll(a) // IKE_INTERMEDIATE request: SKF fragments of SK{KEi(ML_KEM_1024)}
		for _, d := range req {
			inject(b, d, nil, a)
		}
		lost := takeAll(b) // IKE_INTERMEDIATE response fragments: lost
		if len(req) < 2 || len(lost) < 2 {
			t.Fatalf("%d request and %d response datagrams, want fragments", len(req), len(lost))
		}
		time.Sleep(4 * time.Second) // A's first retransmission
		synctest.Wait()
		again := takeAll(a)
		if len(again) != len(req) {
			t.Fatalf("A resent %d datagrams, want %d", len(again), len(req))
		}
		for _, d := range again {
			inject(b, d, nil, a)
		}
		resent := takeAll(b)
		if len(resent) != len(lost) {
			t.Fatalf("B resent %d datagrams, want its %d response fragments", len(resent), len(lost))
		}
		for _, d := range resent {
			inject(a, d, nil, b)
		}
		runUntilQuiet(t, a, b)
		checkChildPair(t, a, b)
	})
}

// TestFollowupRekeyCollision: while A's child SA rekey waits for its
// IKE_FOLLOWUP_KE, B's IKE SA rekey is answered TEMPORARY_FAILURE (the
// new child SA does not exist yet, RFC 9370 §2.2.4, RFC 7296 §2.25); the
// child SA rekey completes, and B's rekey succeeds when it tries again.
func TestFollowupRekeyCollision(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, addKEConfig, addKEConfig, nil) // unfragmented, so the steps can be read
		if err := a.e.Initiate("to-b"); err != nil {
			t.Fatal(err)
		}
		runUntilQuiet(t, a, b)
		if err := a.e.RekeyChild(onlyChildUID(t, a)); err != nil {
			t.Fatal(err)
		}
		ppkStep(t, a, b) // CREATE_CHILD_SA request: SK{N(REKEY_SA), SA, Ni, KEi, TSi, TSr}
		ppkStep(t, b, a) // CREATE_CHILD_SA response: SK{SA, Nr, KEr, TSi, TSr, N(ADDITIONAL_KEY_EXCHANGE)}
		if err := b.e.RekeyIKE(saState(t, b).UniqueID); err != nil {
			t.Fatal(err)
		}
		ppkStep(t, b, a)          // B's CREATE_CHILD_SA request: SK{SA(IKE), Ni, KEi}
		_, ps := ppkStep(t, a, b) // IKE_FOLLOWUP_KE request of A, sent first
		if !has(ps, wire.NotifyAdditionalKeyExchange) {
			t.Fatalf("A's IKE_FOLLOWUP_KE: %v", ps)
		}
		_, ps = ppkStep(t, a, b) // A's answer to B: SK{N(TEMPORARY_FAILURE)}
		if !has(ps, wire.NotifyTemporaryFailure) {
			t.Fatalf("A answered B's IKE SA rekey with %v, want TEMPORARY_FAILURE", ps)
		}
		runUntilQuiet(t, a, b)
		checkChildPair(t, a, b)
		old := saState(t, a)
		time.Sleep(time.Minute) // B tries its IKE SA rekey again
		synctest.Wait()
		runUntilQuiet(t, a, b)
		if s := saState(t, a); s.SPIi == old.SPIi || len(s.AddKEs) != 1 {
			t.Errorf("IKE SA not rekeyed on the second try: %+v", s)
		}
		checkChildPair(t, a, b)
	})
}

// TestHybridSecondChild: a second security policy gets its child SA by
// CREATE_CHILD_SA with PFS and an additional key exchange, then
// IKE_FOLLOWUP_KE (RFC 9370 §2.2.4).
func TestHybridSecondChild(t *testing.T) {
	setA := allOf(addKEConfig, addPolicy("net2", "10.1.0.0/16", "10.2.0.0/16"))
	setB := allOf(addKEConfig, addPolicy("net2", "10.2.0.0/16", "10.1.0.0/16"))
	a, b := pair(t, setA, setB, nil)
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	runUntilQuiet(t, a, b)
	if _, err := a.e.InitiateChild("net2"); err != nil {
		t.Fatal(err)
	}
	ss := runUntilQuiet(t, a, b)
	want := []string{"CREATE_CHILD_SA#3", "IKE_FOLLOWUP_KE#4"}
	if got := exchanges(ss); !slices.Equal(got, want) {
		t.Fatalf("exchanges %v, want %v", got, want)
	}
	as, bs := a.dp.Children(), b.dp.Children()
	if len(as) != 2 || len(bs) != 2 {
		t.Fatalf("children: A %d, B %d", len(as), len(bs))
	}
	for _, c := range as {
		found := false
		for _, d := range bs {
			found = found || c.InSPI == d.OutSPI && bytes.Equal(c.In.Encr, d.Out.Encr) && bytes.Equal(c.Out.Encr, d.In.Encr)
		}
		if !found {
			t.Errorf("A's child SA %08x has no mirror on B", c.InSPI)
		}
	}
}
