package engine_test

import (
	"bytes"
	"secgw/internal/ipsec"
	"testing"
	"testing/synctest"
	"time"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

func TestHappyPath(t *testing.T) {
	a, b := pair(t, nil, nil, nil)
	establish(t, a, b)
	_, sa := onlySA(t, a)
	_, sb := onlySA(t, b)
	if sa.State != "established" || sb.State != "established" || sa.SPIi != sb.SPIi || sa.SPIr != sb.SPIr {
		t.Fatalf("IKE SAs: A %+v, B %+v", sa, sb)
	}
	ca, _ := checkChildPair(t, a, b)
	// Default ESP proposal 1: aes256-gcm-128 without ESN.
	if ca.Suite.Encr != ipsec.EncrAESGCM16 || ca.Suite.KeyBits != 256 || ca.ESN || ca.Encap {
		t.Errorf("child SA suite %v esn %v encap %v", ca.Suite, ca.ESN, ca.Encap)
	}
	if ca.Lifetimes.RekeyTime != time.Hour || ca.Lifetimes.ReplayWindow != 32 {
		t.Errorf("lifetimes %+v", ca.Lifetimes)
	}
	if a.net.Len() != 0 || b.net.Len() != 0 {
		t.Error("unexpected extra datagrams")
	}
}

func TestWrongPSK(t *testing.T) {
	a, b := pair(t, nil, func(ike *generated.SecgwVrf_Vrf_Ike) {
		ike.Vpn["from-a"].IkePolicy.PreSharedKey = ptr("other")
	}, nil)
	a.e.Initiate("to-b")
	deliver(t, a, b) // IKE_SA_INIT request
	deliver(t, b, a) // IKE_SA_INIT response
	deliver(t, a, b) // IKE_AUTH request: AUTH with A's key, which B cannot verify
	deliver(t, b, a) // IKE_AUTH response: SK{N(AUTHENTICATION_FAILED)}
	if n := len(a.e.IKESAs()) + len(b.e.IKESAs()); n != 0 {
		t.Errorf("%d IKE SAs left", n)
	}
	if len(a.dp.Children())+len(b.dp.Children()) != 0 {
		t.Error("child SA installed")
	}
}

func TestNoProposalChosen(t *testing.T) {
	a, b := pair(t, nil, func(ike *generated.SecgwVrf_Vrf_Ike) {
		ike.Vpn["from-a"].IkePolicy.IkeProposal = map[uint8]*generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal{
			1: {Id: ptr(uint8(1)), EncAlg: []generated.E_SecgwIke_EncryptionAlgorithm{generated.SecgwIke_EncryptionAlgorithm_aes256_cbc},
				AuthAlg: []generated.E_SecgwIke_IntegrityAlgorithm{generated.SecgwIke_IntegrityAlgorithm_hmac_sha512},
				DhGroup: []generated.E_SecgwIke_DhGroup{generated.SecgwIke_DhGroup_ecp384}},
		}
	}, nil)
	a.e.Initiate("to-b")
	deliver(t, a, b)      // IKE_SA_INIT request with the default proposals
	d := deliver(t, b, a) // IKE_SA_INIT response: N(NO_PROPOSAL_CHOSEN)
	m, err := wire.Parse(d.Data)
	if err != nil || m.String() == "" || m.Find(wire.PayloadNotify).(*wire.Notify).NotifyType != wire.NotifyNoProposalChosen {
		t.Fatalf("response %v, %v", m, err)
	}
	if n := len(a.e.IKESAs()) + len(b.e.IKESAs()); n != 0 {
		t.Errorf("%d IKE SAs left", n)
	}
}

func TestTSUnacceptable(t *testing.T) {
	a, b := pair(t, nil, func(ike *generated.SecgwVrf_Vrf_Ike) {
		ike.Vpn["from-a"].SecurityPolicy["net"].RemoteTs.Subnet = ptr("172.16.0.0/16")
	}, nil)
	establish(t, a, b) // IKE_AUTH response: SK{IDr, AUTH, N(TS_UNACCEPTABLE)}
	_, sa := onlySA(t, a)
	_, sb := onlySA(t, b)
	if sa.State != "established" || sb.State != "established" {
		t.Fatalf("IKE SA should survive a child failure (RFC 7296 §2.21.3): %v %v", sa.State, sb.State)
	}
	if sa.LastError != wire.NotifyTSUnacceptable || sb.LastError != wire.NotifyTSUnacceptable {
		t.Errorf("last errors %v %v", sa.LastError, sb.LastError)
	}
	if len(a.dp.Children())+len(b.dp.Children()) != 0 {
		t.Error("child SA installed")
	}
}

func TestNarrowing(t *testing.T) {
	// B only allows a /25 of A's /24: B narrows TSi (RFC 7296 §2.9).
	a, b := pair(t, nil, func(ike *generated.SecgwVrf_Vrf_Ike) {
		ike.Vpn["from-a"].SecurityPolicy["net"].RemoteTs.Subnet = ptr("192.168.1.128/25")
	}, nil)
	establish(t, a, b)
	ca, _ := checkChildPair(t, a, b)
	if got := ca.LocalTS[0].StartAddr.String(); got != "192.168.1.128" {
		t.Errorf("narrowed TSi starts at %s", got)
	}
}

func TestCookie(t *testing.T) {
	a, b := pair(t, nil, nil, func(o *engine.Options) { o.RequireCookies = true })
	a.e.Initiate("to-b")
	deliver(t, a, b) // IKE_SA_INIT request: SA, KE, Ni
	deliver(t, b, a) // IKE_SA_INIT response: N(COOKIE), SPIr zero, no state on B
	if len(b.e.IKESAs()) != 0 {
		t.Fatal("responder kept state before the cookie")
	}
	d := deliver(t, a, b) // IKE_SA_INIT request: N(COOKIE), SA, KE, Ni
	if m, _ := wire.Parse(d.Data); m.Payloads[0].(*wire.Notify).NotifyType != wire.NotifyCookie {
		t.Fatal("cookie is not the first payload")
	}
	deliver(t, b, a) // IKE_SA_INIT response: SA, KE, Nr
	deliver(t, a, b) // IKE_AUTH request
	deliver(t, b, a) // IKE_AUTH response
	checkChildPair(t, a, b)
}

func TestInvalidKEPayload(t *testing.T) {
	a, b := pair(t, nil, func(ike *generated.SecgwVrf_Vrf_Ike) {
		ike.Vpn["from-a"].IkePolicy.IkeProposal = map[uint8]*generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal{
			1: {Id: ptr(uint8(1)), AeadAlg: []generated.E_SecgwIke_AeadAlgorithm{generated.SecgwIke_AeadAlgorithm_aes256_gcm_128},
				PrfAlg:  []generated.E_SecgwIke_PrfAlgorithm{generated.SecgwIke_PrfAlgorithm_hmac_sha256},
				DhGroup: []generated.E_SecgwIke_DhGroup{generated.SecgwIke_DhGroup_ecp256}},
		}
	}, nil)
	a.e.Initiate("to-b")
	deliver(t, a, b)      // IKE_SA_INIT request: KE(curve25519), A's first guess
	d := deliver(t, b, a) // IKE_SA_INIT response: N(INVALID_KE_PAYLOAD, 19)
	m, _ := wire.Parse(d.Data)
	if g, ok := m.Find(wire.PayloadNotify).(*wire.Notify).Group(); !ok || g != ipsec.GroupECP256 {
		t.Fatalf("INVALID_KE_PAYLOAD names group %v", g)
	}
	d = deliver(t, a, b) // IKE_SA_INIT request again, message ID 0: KE(ecp256)
	m, _ = wire.Parse(d.Data)
	if ke := m.Find(wire.PayloadKE).(*wire.KE); ke.Group != ipsec.GroupECP256 || m.Header.MessageID != 0 {
		t.Fatalf("retry with group %v, message id %d", ke.Group, m.Header.MessageID)
	}
	deliver(t, b, a) // IKE_SA_INIT response
	deliver(t, a, b) // IKE_AUTH request
	deliver(t, b, a) // IKE_AUTH response
	checkChildPair(t, a, b)
}

func TestLostRequestRetransmitted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil, nil, nil)
		a.e.Initiate("to-b")
		first := drop(t, a) // IKE_SA_INIT request, lost
		time.Sleep(4*time.Second - time.Millisecond)
		synctest.Wait()
		if a.net.Len() != 0 {
			t.Fatal("retransmitted before retransmit-timeout")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		d := deliver(t, a, b) // IKE_SA_INIT request, try 1: the same octets
		if !bytes.Equal(d.Data, first.Data) {
			t.Fatal("retransmission differs from the original")
		}
		deliver(t, b, a) // IKE_SA_INIT response
		deliver(t, a, b) // IKE_AUTH request
		deliver(t, b, a) // IKE_AUTH response
		checkChildPair(t, a, b)
		// The retransmission timer of the answered request is stale now.
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if a.net.Len() != 0 {
			t.Error("stale timer retransmitted")
		}
	})
}

func TestGiveUpAfterTries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _ := pair(t, nil, nil, nil)
		a.e.Initiate("to-b")
		total := engine.RetransmitTotal(5, 4*time.Second, 1.8, 0) // 165 s
		time.Sleep(total - time.Second)
		synctest.Wait()
		if a.net.Len() != 6 || len(a.e.IKESAs()) != 1 {
			t.Fatalf("%d datagrams sent, %d SAs", a.net.Len(), len(a.e.IKESAs()))
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if len(a.e.IKESAs()) != 0 {
			t.Fatal("SA not abandoned after the total timeout")
		}
	})
}

func TestDuplicateRequestGetsCachedResponse(t *testing.T) {
	a, b := pair(t, nil, nil, nil)
	a.e.Initiate("to-b")
	init := deliver(t, a, b) // IKE_SA_INIT request
	r1 := drop(t, b)         // IKE_SA_INIT response, lost
	b.e.HandleDatagram(engine.Datagram{Local: init.Remote, Remote: init.Local, Data: init.Data})
	r2 := deliver(t, b, a) // the cached IKE_SA_INIT response
	if !bytes.Equal(r1.Data, r2.Data) || len(b.e.IKESAs()) != 1 {
		t.Fatal("duplicate IKE_SA_INIT not answered from the cache")
	}
	auth := deliver(t, a, b) // IKE_AUTH request
	r1 = drop(t, b)          // IKE_AUTH response, lost
	b.e.HandleDatagram(engine.Datagram{Local: auth.Remote, Remote: auth.Local, Data: auth.Data})
	r2 = deliver(t, b, a) // the cached IKE_AUTH response
	if !bytes.Equal(r1.Data, r2.Data) {
		t.Fatal("duplicate IKE_AUTH not answered from the cache")
	}
	checkChildPair(t, a, b)
	// A stale response (the first copy) is dropped by A.
	a.e.HandleDatagram(engine.Datagram{Local: r1.Remote, Remote: r1.Local, Data: r1.Data})
	if a.net.Len() != 0 || len(a.dp.Children()) != 1 {
		t.Fatal("stale response was processed")
	}
}

func TestDeleteChildFromInitiator(t *testing.T) {
	a, b := pair(t, nil, nil, nil)
	establish(t, a, b)
	ca, _ := checkChildPair(t, a, b)
	if err := a.e.DeleteChild(ca.InSPI); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b) // INFORMATIONAL request: SK{D(ESP, A's inbound SPI)}
	deliver(t, b, a) // INFORMATIONAL response: SK{D(ESP, B's inbound SPI)}
	if len(a.dp.Children())+len(b.dp.Children()) != 0 || len(a.dp.Deleted) != 1 || len(b.dp.Deleted) != 1 {
		t.Fatal("child SA not deleted on both sides")
	}
	if _, s := onlySA(t, a); s.State != "established" {
		t.Fatal("IKE SA gone")
	}
}

func TestDeleteIKEFromResponder(t *testing.T) {
	a, b := pair(t, nil, nil, nil)
	establish(t, a, b)
	spi, _ := onlySA(t, b)
	if err := b.e.DeleteIKE(spi); err != nil {
		t.Fatal(err)
	}
	deliver(t, b, a) // INFORMATIONAL request from the responder: SK{D(IKE)}
	deliver(t, a, b) // INFORMATIONAL response: SK{}
	if len(a.e.IKESAs())+len(b.e.IKESAs()) != 0 || len(a.dp.Children())+len(b.dp.Children()) != 0 {
		t.Fatal("IKE SA or child SAs left")
	}
}

func TestDeleteIKEFromInitiatorAndLiveness(t *testing.T) {
	a, b := pair(t, nil, nil, nil)
	establish(t, a, b)
	spi, _ := onlySA(t, a)
	if err := a.e.CheckLiveness(spi); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b) // INFORMATIONAL request: SK{} (liveness check)
	deliver(t, b, a) // INFORMATIONAL response: SK{}
	a.e.DeleteIKE(spi)
	deliver(t, a, b) // INFORMATIONAL request: SK{D(IKE)}
	deliver(t, b, a) // INFORMATIONAL response: SK{}
	if len(a.e.IKESAs())+len(b.e.IKESAs()) != 0 || len(a.dp.Children())+len(b.dp.Children()) != 0 {
		t.Fatal("IKE SA or child SAs left")
	}
}
