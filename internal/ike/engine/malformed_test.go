package engine_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"secgw/internal/ipsec"
	"slices"
	"testing"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// Malformed, forged and unexpected messages: each is dropped or answered
// with the notification RFC 7296 names, and the responder keeps no state
// for what it refused.

// initRequest returns A's first IKE_SA_INIT request, not delivered.
func initRequest(t *testing.T, a *peer) (engine.Datagram, *wire.Message) {
	t.Helper()
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	d := drop(t, a)
	_, m := message(t, d)
	return d, m
}

// reinject hands B a copy of d carrying data instead.
func reinject(b *peer, d engine.Datagram, data []byte) {
	b.e.HandleDatagram(engine.Datagram{Local: d.Remote, Remote: d.Local, Data: data})
}

// onlyResponse returns B's single answer, parsed.
func onlyResponse(t *testing.T, b *peer) *wire.Message {
	t.Helper()
	ds := takeAll(b)
	if len(ds) != 1 {
		t.Fatalf("B sent %d datagrams, want one response", len(ds))
	}
	_, m := message(t, ds[0])
	return m
}

func TestInitUnknownPayloads(t *testing.T) {
	for _, critical := range []bool{false, true} {
		a, b := pair(t, nil, nil, nil)
		d, m := initRequest(t, a)
		// An unknown payload (type 200) before the others.
		m.Payloads = append([]wire.Payload{&wire.Unknown{CriticalFlag: wire.CriticalFlag{Critical: critical},
			PayloadType: 200, Body: []byte("future")}}, m.Payloads...)
		raw, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		reinject(b, d, raw)
		resp := onlyResponse(t, b)
		if !critical {
			// RFC 7296 §2.5: skipped; B answers as usual.
			if resp.Find(wire.PayloadSA) == nil || resp.Find(wire.PayloadKE) == nil || len(b.e.IKESAs()) != 1 {
				t.Errorf("non-critical unknown payload: response %v", resp)
			}
			continue
		}
		// RFC 7296 §2.5: the message is rejected with
		// UNSUPPORTED_CRITICAL_PAYLOAD naming the type; no state kept.
		n, _ := resp.Find(wire.PayloadNotify).(*wire.Notify)
		if n == nil || n.NotifyType != wire.NotifyUnsupportedCriticalPayload || !bytes.Equal(n.Data, []byte{200}) ||
			resp.Header.SPIr != 0 || len(b.e.IKESAs()) != 0 {
			t.Errorf("critical unknown payload: response %v, %d SAs", resp, len(b.e.IKESAs()))
		}
	}
}

func TestInitMalformed(t *testing.T) {
	a, b := pair(t, nil, nil, nil)
	d, m := initRequest(t, a)
	raw, _ := message(t, d)

	// Truncated or with a wrong Length: dropped (it cannot be answered
	// reliably, RFC 7296 §2.21).
	reinject(b, d, raw[:len(raw)-3])
	bad := slices.Clone(raw)
	binary.BigEndian.PutUint32(bad[24:], uint32(len(raw)+1))
	reinject(b, d, bad)
	reinject(b, d, raw[:10])
	if b.net.Len() != 0 || len(b.e.IKESAs()) != 0 {
		t.Fatal("B answered or kept state for a malformed request")
	}

	// Without KE: INVALID_SYNTAX, no state (RFC 7296 §3.10.1).
	noKE := &wire.Message{Header: m.Header}
	for _, p := range m.Payloads {
		if p.Type() != wire.PayloadKE {
			noKE.Payloads = append(noKE.Payloads, p)
		}
	}
	b2, _ := noKE.Marshal()
	reinject(b, d, b2)
	resp := onlyResponse(t, b)
	if n, _ := resp.Find(wire.PayloadNotify).(*wire.Notify); n == nil || n.NotifyType != wire.NotifyInvalidSyntax || len(b.e.IKESAs()) != 0 {
		t.Fatalf("request without KE: response %v", resp)
	}

	// A higher major version: an unprotected INFORMATIONAL response
	// with our version and the request's SPI and Message ID, carrying
	// INVALID_MAJOR_VERSION (RFC 7296 §2.5, §1.5).
	v3 := slices.Clone(raw)
	v3[17] = 0x30
	reinject(b, d, v3)
	resp = onlyResponse(t, b)
	h := resp.Header
	if h.MajorVersion != 2 || h.Exchange != wire.ExchangeInformational || !h.Flags.Response() || h.SPIi != m.Header.SPIi ||
		h.MessageID != m.Header.MessageID || !slices.Equal(notifies(resp.Payloads), []wire.NotifyType{wire.NotifyInvalidMajorVersion}) {
		t.Fatalf("version 3 request: response %+v %v", h, resp)
	}
	// The same as a response, or version 1 (IKEv1): only dropped.
	v3[19] |= byte(wire.FlagResponse)
	reinject(b, d, v3)
	v1 := slices.Clone(raw)
	v1[17] = 0x10
	reinject(b, d, v1)
	if b.net.Len() != 0 || len(b.e.IKESAs()) != 0 {
		t.Fatal("B answered a version-3 response or an IKEv1 message")
	}

	// The original request still works.
	reinject(b, d, raw)
	deliver(t, b, a) // IKE_SA_INIT response
	deliver(t, a, b) // IKE_AUTH request
	deliver(t, b, a) // IKE_AUTH response
	checkChildPair(t, a, b)
}

// authRequest runs IKE_SA_INIT and returns A's IKE_AUTH request, not
// delivered, with its decrypted payloads.
func authRequest(t *testing.T, a, b *peer) (aspi uint64, d engine.Datagram, ps []wire.Payload) {
	t.Helper()
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b) // IKE_SA_INIT request
	deliver(t, b, a) // IKE_SA_INIT response
	aspi, _ = onlySA(t, a)
	d = drop(t, a)
	raw, _ := message(t, d)
	ps, err := a.e.OpenForTest(aspi, raw, true)
	if err != nil {
		t.Fatal(err)
	}
	return aspi, d, ps
}

// sendAuth has A send ps as its IKE_AUTH request and returns B's answer
// decrypted, or nil if B sent nothing.
func sendAuth(t *testing.T, a, b *peer, aspi uint64, d engine.Datagram, ps []wire.Payload) []wire.Payload {
	t.Helper()
	msgs, err := a.e.EncodeForTest(aspi, wire.ExchangeIKEAuth, 1, false, ps)
	if err != nil || len(msgs) != 1 {
		t.Fatal(len(msgs), err)
	}
	reinject(b, d, withMarker(d, msgs[0]))
	return answer(t, a, b, aspi)
}

// answer returns B's one answer decrypted with A's keys, or nil if B sent
// nothing.
func answer(t *testing.T, a, b *peer, aspi uint64) []wire.Payload {
	t.Helper()
	ds := takeAll(b)
	if len(ds) == 0 {
		return nil
	}
	if len(ds) > 1 {
		t.Fatalf("B sent %d datagrams", len(ds))
	}
	raw, _ := message(t, ds[0])
	got, err := a.e.OpenForTest(aspi, raw, false)
	if err != nil {
		t.Fatalf("B's answer does not decrypt: %v", err)
	}
	return got
}

func TestAuthUnknownPayloads(t *testing.T) {
	t.Run("non-critical", func(t *testing.T) {
		a, b := pair(t, nil, nil, nil)
		aspi, d, ps := authRequest(t, a, b)
		ps = append(ps, &wire.Unknown{PayloadType: 201, Body: []byte("skip me")})
		msgs, _ := a.e.EncodeForTest(aspi, wire.ExchangeIKEAuth, 1, false, ps)
		reinject(b, d, msgs[0])
		deliver(t, b, a) // IKE_AUTH response: SK{IDr, AUTH, SA, TSi, TSr}
		checkChildPair(t, a, b)
	})
	t.Run("critical", func(t *testing.T) {
		a, b := pair(t, nil, nil, nil)
		aspi, d, ps := authRequest(t, a, b)
		ps = append(ps, &wire.Unknown{CriticalFlag: wire.CriticalFlag{Critical: true}, PayloadType: 201})
		got := sendAuth(t, a, b, aspi, d, ps)
		if !slices.Equal(notifies(got), []wire.NotifyType{wire.NotifyUnsupportedCriticalPayload}) ||
			!bytes.Equal(got[0].(*wire.Notify).Data, []byte{201}) || len(b.e.IKESAs()) != 0 {
			t.Fatalf("answer %v, B has %d SAs", got, len(b.e.IKESAs()))
		}
	})
}

func TestAuthMalformed(t *testing.T) {
	t.Run("forged", func(t *testing.T) {
		// A request whose ICV does not verify is dropped without an
		// answer (RFC 7296 §2.21); the real one then succeeds.
		a, b := pair(t, nil, nil, nil)
		_, d, _ := authRequest(t, a, b)
		forged := slices.Clone(d.Data)
		forged[len(forged)-1] ^= 1
		reinject(b, d, forged)
		if b.net.Len() != 0 || len(b.e.IKESAs()) != 1 {
			t.Fatal("B answered or dropped the SA for a forged request")
		}
		reinject(b, d, d.Data)
		deliver(t, b, a)
		checkChildPair(t, a, b)
	})
	t.Run("inner-chain", func(t *testing.T) {
		// Authentic, but the inner payloads do not parse: INVALID_SYNTAX,
		// protected, and no IKE SA (RFC 7296 §3.10.1, §2.21.2).
		a, b := pair(t, nil, nil, nil)
		aspi, d, _ := authRequest(t, a, b)
		raw, err := a.e.SealForTest(aspi, wire.ExchangeIKEAuth, 1, false, wire.PayloadIDi, []byte{0, 0, 0, 2})
		if err != nil {
			t.Fatal(err)
		}
		reinject(b, d, raw)
		got := answer(t, a, b, aspi)
		if !slices.Equal(notifies(got), []wire.NotifyType{wire.NotifyInvalidSyntax}) || len(b.e.IKESAs()) != 0 {
			t.Fatalf("answer %v, B has %d SAs", got, len(b.e.IKESAs()))
		}
	})
	t.Run("no-auth", func(t *testing.T) {
		a, b := pair(t, nil, nil, nil)
		aspi, d, ps := authRequest(t, a, b)
		var noAuth []wire.Payload
		for _, p := range ps {
			if p.Type() != wire.PayloadAuth {
				noAuth = append(noAuth, p)
			}
		}
		got := sendAuth(t, a, b, aspi, d, noAuth)
		if !slices.Equal(notifies(got), []wire.NotifyType{wire.NotifyInvalidSyntax}) || len(b.e.IKESAs()) != 0 {
			t.Fatalf("answer %v, B has %d SAs", got, len(b.e.IKESAs()))
		}
	})
	t.Run("unknown-spi", func(t *testing.T) {
		// A protected message for an IKE SA B does not have: dropped.
		a, b := pair(t, nil, nil, nil)
		_, d, _ := authRequest(t, a, b)
		other := slices.Clone(d.Data)
		other[8] ^= 0xff // SPIr
		reinject(b, d, other)
		if b.net.Len() != 0 {
			t.Fatal("B answered a message for an unknown SA")
		}
	})
}

func TestInformationalMalformed(t *testing.T) {
	// On an established SA an authentic request with a bad inner chain
	// is answered with INVALID_SYNTAX and the SA stays.
	a, b := pair(t, nil, nil, nil)
	establish(t, a, b)
	aspi, _ := onlySA(t, a)
	raw, err := a.e.SealForTest(aspi, wire.ExchangeInformational, 2, false, wire.PayloadDelete, []byte{0, 0, 0, 9, 3})
	if err != nil {
		t.Fatal(err)
	}
	b.e.HandleDatagram(engine.Datagram{Local: netip.AddrPortFrom(addrB, 500), Remote: netip.AddrPortFrom(addrA, 500), Data: raw})
	got := answer(t, a, b, aspi)
	if !slices.Equal(notifies(got), []wire.NotifyType{wire.NotifyInvalidSyntax}) {
		t.Fatalf("answer %v", got)
	}
	if _, s := onlySA(t, b); s.State != "established" || len(b.dp.Children()) != 1 {
		t.Fatalf("B's SA %+v after INVALID_SYNTAX", s)
	}
}

func TestChildNoProposalChosen(t *testing.T) {
	// The IKE SA is set up, the first child SA is refused with
	// NO_PROPOSAL_CHOSEN and the IKE SA stays (RFC 7296 §2.21.3).
	a, b := pair(t, nil, func(ike *generated.SecgwVrf_Vrf_Ike) {
		ike.Vpn["from-a"].IpsecPolicy = &generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy{
			EspProposal: map[uint8]*generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy_EspProposal{
				1: {Id: ptr(uint8(1)), EncAlg: []generated.E_SecgwIke_EncryptionAlgorithm{generated.SecgwIke_EncryptionAlgorithm_aes256_cbc},
					AuthAlg: []generated.E_SecgwIke_IntegrityAlgorithm{generated.SecgwIke_IntegrityAlgorithm_hmac_sha512}},
			}}
	}, nil)
	establish(t, a, b) // IKE_AUTH response: SK{IDr, AUTH, N(NO_PROPOSAL_CHOSEN)}
	_, sa := onlySA(t, a)
	_, sb := onlySA(t, b)
	if sa.State != "established" || sb.State != "established" ||
		sa.LastError != wire.NotifyNoProposalChosen || sb.LastError != wire.NotifyNoProposalChosen {
		t.Fatalf("A %+v, B %+v", sa, sb)
	}
	if len(a.dp.Children())+len(b.dp.Children()) != 0 {
		t.Error("child SA installed")
	}
}

// TestInvalidKEUnofferedGroup: an INVALID_KE_PAYLOAD naming a group A did
// not offer ends the attempt instead of a retry (RFC 7296 §1.2: the
// responder must pick one of the offered groups).
func TestInvalidKEUnofferedGroup(t *testing.T) {
	a, b := pair(t, nil, nil, nil)
	d, m := initRequest(t, a)
	resp := &wire.Message{Header: wire.Header{SPIi: m.Header.SPIi, MajorVersion: 2, Exchange: wire.ExchangeIKESAInit,
		Flags: wire.FlagResponse}, Payloads: []wire.Payload{wire.InvalidKEPayload(ipsec.GroupMODP4096)}}
	raw, _ := resp.Marshal()
	a.e.HandleDatagram(engine.Datagram{Local: d.Local, Remote: d.Remote, Data: raw})
	if a.net.Len() != 0 || len(a.e.IKESAs()) != 0 {
		t.Fatalf("A retried or kept its SA: %d datagrams", a.net.Len())
	}
	_ = b
}

// TestWindowOfOne: with a window of 1 (RFC 7296 §2.3) a second request
// waits for the response to the first and takes the next Message ID.
func TestWindowOfOne(t *testing.T) {
	a, b := pair(t, nil, nil, nil)
	establish(t, a, b)
	spi, _ := onlySA(t, a)
	a.e.CheckLiveness(spi)
	a.e.CheckLiveness(spi)
	if a.net.Len() != 1 {
		t.Fatalf("%d requests outstanding", a.net.Len())
	}
	d := deliver(t, a, b) // INFORMATIONAL request 2: SK{}
	if _, m := message(t, d); m.Header.MessageID != 2 {
		t.Fatalf("first liveness check has message ID %d", m.Header.MessageID)
	}
	deliver(t, b, a) // INFORMATIONAL response 2
	d = deliver(t, a, b)
	if _, m := message(t, d); m.Header.MessageID != 3 {
		t.Fatalf("second liveness check has message ID %d", m.Header.MessageID)
	}
	deliver(t, b, a)
	if a.net.Len()+b.net.Len() != 0 {
		t.Error("extra datagrams")
	}
}

// TestInitiatorOnly: with initiator-only, IKE_SA_INIT requests are
// dropped without an answer.
func TestInitiatorOnly(t *testing.T) {
	a, b := pair(t, nil, func(ike *generated.SecgwVrf_Vrf_Ike) {
		ike.GlobalOptions = &generated.SecgwVrf_Vrf_Ike_GlobalOptions{InitiatorOnly: ptr(true)}
	}, nil)
	a.e.Initiate("to-b")
	deliver(t, a, b)
	if b.net.Len() != 0 || len(b.e.IKESAs()) != 0 {
		t.Fatal("an initiator-only engine answered")
	}
}
