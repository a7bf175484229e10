package engine_test

import (
	"secgw/internal/ipsec"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/esp"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/engine/enginetest"
	"secgw/internal/ike/wire"
)

// Whatever the dataplane cannot carry is neither offered nor
// accepted. The dataplanes of these tests refuse AES-CBC (enginetest's
// Refuse: InstallChild fails for it, SupportsESP says so) and the engine
// is told with Options.SupportsESP, as the daemon does for the userspace
// dataplane.

// refuseCBC makes a peer's dataplane refuse AES-CBC and tells its engine.
func refuseCBC(o *engine.Options) {
	dp := o.Dataplane.(*enginetest.Dataplane)
	dp.Refuse = func(s ikecrypto.Suite) bool { return s.Encr == ipsec.EncrAESCBC }
	o.SupportsESP = dp.SupportsESP
}

// refuseAll makes a peer's dataplane refuse every ESP suite.
func refuseAll(o *engine.Options) {
	dp := o.Dataplane.(*enginetest.Dataplane)
	dp.Refuse = func(ikecrypto.Suite) bool { return true }
	o.SupportsESP = dp.SupportsESP
}

// espProposals sets the ESP proposals of the only VPN of ike, in order:
// "cbc" is aes256-cbc with hmac-sha256, "gcm" aes256-gcm-128.
func espProposals(names ...string) func(*generated.SecgwVrf_Vrf_Ike) {
	return func(ike *generated.SecgwVrf_Vrf_Ike) {
		m := map[uint8]*generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy_EspProposal{}
		for i, n := range names {
			id := uint8(i + 1)
			p := &generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy_EspProposal{Id: ptr(id)}
			switch n {
			case "cbc":
				p.EncAlg = []encAlg{generated.SecgwIke_EncryptionAlgorithm_aes256_cbc}
				p.AuthAlg = []intAlg{generated.SecgwIke_IntegrityAlgorithm_hmac_sha256}
			case "gcm":
				p.AeadAlg = []aeadAlg{generated.SecgwIke_AeadAlgorithm_aes256_gcm_128}
			}
			m[id] = p
		}
		for _, v := range ike.Vpn {
			v.IpsecPolicy = &generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy{EspProposal: m}
		}
	}
}

// offered returns the ENCR transforms of the SA payload of a message, by
// proposal.
func offered(ps []wire.Payload) [][]ipsec.TransformID {
	var out [][]ipsec.TransformID
	for _, p := range ps {
		if sa, ok := p.(*wire.SA); ok {
			for _, pr := range sa.Proposals {
				var ids []ipsec.TransformID
				for _, t := range pr.Transforms {
					if t.Type == ipsec.TransformEncr {
						ids = append(ids, t.ID)
					}
				}
				out = append(out, ids)
			}
		}
	}
	return out
}

// TestResponderRefusesUnsupportedESP: a peer proposing only a suite the
// responder's dataplane cannot carry gets NO_PROPOSAL_CHOSEN without the
// responder trying to install it; the responder logs why (Info) and
// reports ChildFailed, which the statistics count as no-proposal-chosen.
func TestResponderRefusesUnsupportedESP(t *testing.T) {
	logs, withLogs := recordLogs(t)
	var ev events
	a, b := pairOpts(t, espProposals("cbc"), espProposals("gcm", "cbc"), nil, both(refuseCBC, withLogs, ev.hook()))
	attempts := 0
	b.dp.InstallHook = func(engine.ChildSA) error { attempts++; return nil }
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b)                                                          // IKE_SA_INIT request
	deliver(t, b, a)                                                          // IKE_SA_INIT response
	step(t, a, b, authX, false, "IDi IDr AUTH N(INITIAL_CONTACT) SA TSi TSr") // IKE_AUTH request: SA offers AES-CBC only
	step(t, b, a, authX, true, "IDr AUTH N(NO_PROPOSAL_CHOSEN)")              // IKE_AUTH response: the child SA refused
	if attempts != 0 {
		t.Errorf("responder tried %d installs, want none", attempts)
	}
	if n := len(a.dp.Children()) + len(b.dp.Children()); n != 0 {
		t.Fatalf("%d child SAs", n)
	}
	recs := logs.find("child SA refused")
	if len(recs) != 1 || recs[0]["level"] != "INFO" || recs[0]["notify"] != "NO_PROPOSAL_CHOSEN" ||
		!strings.Contains(recs[0]["reason"], "the dataplane cannot carry AES_CBC/256-HMAC_SHA2_256_128") {
		t.Errorf("log records %v, want one at INFO naming the suite the dataplane cannot carry", recs)
	}
	if ev.kinds() != "ike-up child-failed" || !strings.Contains(ev.list[1].Reason, "NO_PROPOSAL_CHOSEN sent") {
		t.Errorf("events %q %+v, want ike-up, then child-failed with NO_PROPOSAL_CHOSEN", ev.kinds(), ev.list)
	}
	for _, p := range []*peer{a, b} {
		if _, sa := onlySA(t, p); sa.State != "established" {
			t.Fatalf("IKE SA %+v, want established", sa)
		}
	}
}

// TestResponderPicksSupportedESP: the responder prefers AES-CBC but its
// dataplane cannot carry it: it chooses the AES-GCM the peer also
// offers, rather than agreeing on AES-CBC and failing to install it.
func TestResponderPicksSupportedESP(t *testing.T) {
	a, b := pairOpts(t, espProposals("cbc", "gcm"), espProposals("cbc", "gcm"), nil, refuseCBC)
	establish(t, a, b)
	ca, _ := checkChildPair(t, a, b)
	if ca.Suite.Encr != ipsec.EncrAESGCM16 {
		t.Errorf("child SA %v, want AES-GCM-16", ca.Suite)
	}
}

// TestInitiatorOffersOnlySupportedESP: the initiator's dataplane cannot
// carry AES-CBC: its IKE_AUTH offers AES-GCM alone, renumbered as the
// first proposal (RFC 7296 §3.3.1), though both configurations prefer
// AES-CBC.
func TestInitiatorOffersOnlySupportedESP(t *testing.T) {
	a, b := pairOpts(t, espProposals("cbc", "gcm"), espProposals("cbc", "gcm"), refuseCBC, nil)
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b)                                                                // IKE_SA_INIT request
	deliver(t, b, a)                                                                // IKE_SA_INIT response
	ps := step(t, a, b, authX, false, "IDi IDr AUTH N(INITIAL_CONTACT) SA TSi TSr") // IKE_AUTH request
	if got := offered(ps); len(got) != 1 || len(got[0]) != 1 || got[0][0] != ipsec.EncrAESGCM16 {
		t.Errorf("offered %v, want one proposal of AES-GCM-16", got)
	}
	for _, p := range ps {
		if sa, ok := p.(*wire.SA); ok && sa.Proposals[0].Number != 1 {
			t.Errorf("proposal number %d, want 1", sa.Proposals[0].Number)
		}
	}
	step(t, b, a, authX, true, "IDr AUTH SA TSi TSr") // IKE_AUTH response: AES-GCM accepted
	ca, _ := checkChildPair(t, a, b)
	if ca.Suite.Encr != ipsec.EncrAESGCM16 {
		t.Errorf("child SA %v, want AES-GCM-16", ca.Suite)
	}
}

// TestInitiatorWithoutSupportedESP: the initiator's dataplane can carry
// none of its ESP proposals: IKE_AUTH carries no child SA (the IKE SA
// comes up childless, RFC 6023), and the child SA fails at once with a
// reason, instead of being agreed with the peer and torn down.
func TestInitiatorWithoutSupportedESP(t *testing.T) {
	logs, withLogs := recordLogs(t)
	var ev events
	a, b := pairOpts(t, nil, nil, both(refuseAll, withLogs, ev.hook()), nil)
	attempts := 0
	a.dp.InstallHook = func(engine.ChildSA) error { attempts++; return nil }
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b)                                               // IKE_SA_INIT request
	deliver(t, b, a)                                               // IKE_SA_INIT response
	step(t, a, b, authX, false, "IDi IDr AUTH N(INITIAL_CONTACT)") // IKE_AUTH request: no SA, TSi, TSr
	step(t, b, a, authX, true, "IDr AUTH")                         // IKE_AUTH response
	if n := len(a.dp.Log) + len(b.dp.Log); n != 0 || attempts != 0 {
		t.Errorf("dataplanes saw %v and %v and %d install attempts, want nothing", a.dp.Log, b.dp.Log, attempts)
	}
	if ev.kinds() != "child-failed ike-up" || ev.list[0].Policy != "net" || !strings.Contains(ev.list[0].Reason, "NO_PROPOSAL_CHOSEN") {
		t.Errorf("events %q %+v, want child-failed of policy net with NO_PROPOSAL_CHOSEN, then ike-up", ev.kinds(), ev.list)
	}
	if recs := logs.find("child SA not offered"); len(recs) != 1 || recs[0]["level"] != "INFO" || recs[0]["policy"] != "net" {
		t.Errorf("log records %v, want one at INFO naming the policy", recs)
	}
	for _, p := range []*peer{a, b} {
		if _, sa := onlySA(t, p); sa.State != "established" {
			t.Fatalf("IKE SA %+v, want established", sa)
		}
	}
}

// TestRekeyUnsupportedESP: CREATE_CHILD_SA follows the same rule. Once
// the responder's dataplane carries nothing, the rekey of a child SA is
// refused with NO_PROPOSAL_CHOSEN, logged and reported as the policy's
// failure, and the old child SA stays; once the initiator's carries
// nothing, it does not even ask.
func TestRekeyUnsupportedESP(t *testing.T) {
	logsA, withLogsA := recordLogs(t)
	logsB, withLogsB := recordLogs(t)
	var evB events
	a, b := pairOpts(t, nil, nil, both(withLogsA, func(o *engine.Options) { o.SupportsESP = o.Dataplane.(*enginetest.Dataplane).SupportsESP }),
		both(withLogsB, evB.hook(), func(o *engine.Options) { o.SupportsESP = o.Dataplane.(*enginetest.Dataplane).SupportsESP }))
	establish(t, a, b)
	old, _ := checkChildPair(t, a, b)
	evB.list = nil

	b.dp.Refuse = func(ikecrypto.Suite) bool { return true }
	if err := a.e.RekeyChild(onlyChildUID(t, a)); err != nil {
		t.Fatal(err)
	}
	step(t, a, b, cc, false, "N(REKEY_SA) SA No TSi TSr") // CREATE_CHILD_SA request
	step(t, b, a, cc, true, "N(NO_PROPOSAL_CHOSEN)")      // CREATE_CHILD_SA response: refused
	silent(t, a, b)
	if cur, _ := checkChildPair(t, a, b); cur.InSPI != old.InSPI {
		t.Errorf("child SA %08x, want the old one %08x kept", cur.InSPI, old.InSPI)
	}
	if recs := logsB.find("child SA refused"); len(recs) != 1 || recs[0]["policy"] != "net" ||
		!strings.Contains(recs[0]["reason"], "the dataplane cannot carry AES_GCM_16/256") {
		t.Errorf("B's log records %v, want one naming the policy and the suite", recs)
	}
	if evB.kinds() != "child-failed" || evB.list[0].Policy != "net" {
		t.Errorf("B's events %q %+v, want child-failed of policy net", evB.kinds(), evB.list)
	}

	b.dp.Refuse = nil
	a.dp.Refuse = func(ikecrypto.Suite) bool { return true }
	if err := a.e.RekeyChild(onlyChildUID(t, a)); err != nil {
		t.Fatal(err)
	}
	silent(t, a, b) // nothing to offer: no CREATE_CHILD_SA
	if recs := logsA.find("child SA not offered"); len(recs) != 1 || recs[0]["policy"] != "net" {
		t.Errorf("A's log records %v, want one naming the policy", recs)
	}
	if cur, _ := checkChildPair(t, a, b); cur.InSPI != old.InSPI {
		t.Errorf("child SA %08x, want the old one %08x kept", cur.InSPI, old.InSPI)
	}
}

// TestNegotiatedSuitesCarry: AES-CTR and AES-GCM-8/-12 child SAs
// negotiated between two engines key internal/esp (the userspace
// dataplane's ESP) in both directions: the KEYMAT split of ike/crypto (key
// then the 4-octet nonce or salt, RFC 3686 §5.1, RFC 4106 §8.1) is what
// esp expects, and a packet A seals B opens.
func TestNegotiatedSuitesCarry(t *testing.T) {
	for _, c := range []struct {
		name string
		p    generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy_EspProposal
		encr ipsec.TransformID
	}{
		{"aes256-ctr", generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy_EspProposal{EncAlg: []encAlg{generated.SecgwIke_EncryptionAlgorithm_aes256_ctr},
			AuthAlg: []intAlg{generated.SecgwIke_IntegrityAlgorithm_hmac_sha256}}, ipsec.EncrAESCTR},
		{"aes128-ctr", generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy_EspProposal{EncAlg: []encAlg{generated.SecgwIke_EncryptionAlgorithm_aes128_ctr},
			AuthAlg: []intAlg{generated.SecgwIke_IntegrityAlgorithm_hmac_sha1}}, ipsec.EncrAESCTR},
		{"aes128-gcm-64", generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy_EspProposal{AeadAlg: []aeadAlg{generated.SecgwIke_AeadAlgorithm_aes128_gcm_64}}, ipsec.EncrAESGCM8},
		{"aes256-gcm-96", generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy_EspProposal{AeadAlg: []aeadAlg{generated.SecgwIke_AeadAlgorithm_aes256_gcm_96}}, ipsec.EncrAESGCM12},
	} {
		t.Run(c.name, func(t *testing.T) {
			set := func(ike *generated.SecgwVrf_Vrf_Ike) {
				p := c.p
				p.Id = ptr(uint8(1))
				for _, v := range ike.Vpn {
					v.IpsecPolicy = &generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy{EspProposal: map[uint8]*generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy_EspProposal{1: &p}}
				}
			}
			a, b := pair(t, set, set, nil)
			establish(t, a, b)
			ca, cb := checkChildPair(t, a, b)
			if ca.Suite.Encr != c.encr {
				t.Fatalf("negotiated %v", ca.Suite)
			}
			for _, d := range []struct{ from, to engine.ChildSA }{{ca, cb}, {cb, ca}} {
				out, err := esp.NewOutbound(esp.Config{SPI: d.from.OutSPI, Encr: d.from.Suite.Encr, EncrKey: d.from.Out.Encr,
					Integ: d.from.Suite.Integ, IntegKey: d.from.Out.Integ})
				if err != nil {
					t.Fatal(err)
				}
				in, err := esp.NewInbound(esp.Config{SPI: d.to.InSPI, Encr: d.to.Suite.Encr, EncrKey: d.to.In.Encr,
					Integ: d.to.Suite.Integ, IntegKey: d.to.In.Integ, ReplayWindow: 32})
				if err != nil {
					t.Fatal(err)
				}
				msg := []byte("a packet through the tunnel")
				off := esp.Scratch + out.HeaderLen()
				buf := make([]byte, off+len(msg)+esp.MaxTrailer)
				copy(buf[off:], msg)
				pkt, err := out.Seal(buf, off, len(msg), esp.NextIPv4)
				if err != nil {
					t.Fatal(err)
				}
				h := off - out.HeaderLen()
				got, next, _, err := in.Open(buf, h, h+len(pkt))
				if err != nil || string(got) != string(msg) || next != esp.NextIPv4 {
					t.Fatalf("Open: %q %d %v", got, next, err)
				}
			}
		})
	}
}
