package engine_test

import (
	"net/netip"
	"secgw/internal/ipsec"
	"slices"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

type keList = []generated.E_SecgwIke_KeyExchange

var (
	mlkem768  = generated.SecgwIke_KeyExchange_mlkem768
	mlkem1024 = generated.SecgwIke_KeyExchange_mlkem1024
	keNone    = generated.SecgwIke_KeyExchange_none
)

// hybrid sets the gateway's one IKE proposal: AES-GCM-16/256, PRF
// HMAC-SHA2-256, the DH group and additional-key-exchange-1, -2, ...
func hybrid(dh dhGroup, add ...keList) func(*generated.SecgwVrf_Vrf_Ike) {
	return func(ike *generated.SecgwVrf_Vrf_Ike) {
		p := &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal{Id: ptr(uint8(1)),
			AeadAlg: []aeadAlg{generated.SecgwIke_AeadAlgorithm_aes256_gcm_128},
			PrfAlg:  []prfAlg{generated.SecgwIke_PrfAlgorithm_hmac_sha256}, DhGroup: []dhGroup{dh}}
		for i, l := range add {
			*[]*keList{&p.AdditionalKeyExchange_1, &p.AdditionalKeyExchange_2, &p.AdditionalKeyExchange_3}[i] = l
		}
		for _, v := range ike.Vpn {
			v.IkePolicy.IkeProposal = map[uint8]*generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal{1: p}
		}
	}
}

// sent is one datagram seen on the wire by runUntilQuiet.
type sent struct {
	exch     wire.ExchangeType
	id       uint32
	response bool
	fragment bool // an SKF message (RFC 7383)
	size     int
}

// runUntilQuiet delivers every datagram between A and B until both are
// quiet and returns them in order.
func runUntilQuiet(t *testing.T, a, b *peer) []sent {
	t.Helper()
	var out []sent
	for moved := true; moved; {
		moved = false
		for _, dir := range [][2]*peer{{a, b}, {b, a}} {
			for _, d := range takeAll(dir[0]) {
				_, m := message(t, d)
				_, skf := m.Payloads[len(m.Payloads)-1].(*wire.EncryptedFragment)
				out = append(out, sent{m.Header.Exchange, m.Header.MessageID, m.Header.Flags.Response(), skf, len(d.Data)})
				inject(dir[1], d, nil, dir[0])
				moved = true
			}
		}
	}
	return out
}

// exchanges lists the distinct requests of a run: exchange type and
// message ID.
func exchanges(ss []sent) []string {
	var out []string
	for _, s := range ss {
		x := s.exch.String() + "#" + string(rune('0'+s.id))
		if !s.response && (len(out) == 0 || out[len(out)-1] != x) {
			out = append(out, x)
		}
	}
	return out
}

// TestHybridKeyExchange runs IKE_SA_INIT, one IKE_INTERMEDIATE per
// additional key exchange and IKE_AUTH between two engines (RFC 9370
// §2.2.1, RFC 9242): the message IDs follow one another, the child SA's
// keys pair (so both sides derived the same SK_d through every update and
// verified each other's AUTH with the IntAuth chain), the state lists the
// methods, and with a small fragment size the ML-KEM payloads go in SKF
// fragments (RFC 7383).
func TestHybridKeyExchange(t *testing.T) {
	for _, c := range []struct {
		name  string
		set   func(*generated.SecgwVrf_Vrf_Ike)
		frag  int
		want  []string
		addKE []ipsec.TransformID
	}{
		{"x25519+mlkem768", hybrid(generated.SecgwIke_DhGroup_curve25519, keList{mlkem768}), 0,
			[]string{"IKE_SA_INIT#0", "IKE_INTERMEDIATE#1", "IKE_AUTH#2"}, []ipsec.TransformID{ipsec.GroupMLKEM768}},
		{"ecp384+mlkem1024 fragmented", hybrid(generated.SecgwIke_DhGroup_ecp384, keList{mlkem1024}), 576,
			[]string{"IKE_SA_INIT#0", "IKE_INTERMEDIATE#1", "IKE_AUTH#2"}, []ipsec.TransformID{ipsec.GroupMLKEM1024}},
		{"x25519+mlkem768+ecp256+mlkem1024 fragmented",
			hybrid(generated.SecgwIke_DhGroup_curve25519, keList{mlkem768}, keList{generated.SecgwIke_KeyExchange_ecp256}, keList{mlkem1024}), 800,
			[]string{"IKE_SA_INIT#0", "IKE_INTERMEDIATE#1", "IKE_INTERMEDIATE#2", "IKE_INTERMEDIATE#3", "IKE_AUTH#4"},
			[]ipsec.TransformID{ipsec.GroupMLKEM768, ipsec.GroupECP256, ipsec.GroupMLKEM1024}},
	} {
		t.Run(c.name, func(t *testing.T) {
			logA, recA := recordLogs(t)
			logB, recB := recordLogs(t)
			optA, optB := recA, recB
			if c.frag > 0 {
				optA = func(o *engine.Options) { recA(o); o.FragmentSize = c.frag }
				optB = func(o *engine.Options) { recB(o); o.FragmentSize = c.frag }
			}
			a, b := pairOpts(t, c.set, c.set, optA, optB)
			if err := a.e.Initiate("to-b"); err != nil {
				t.Fatal(err)
			}
			ss := runUntilQuiet(t, a, b)
			if got := exchanges(ss); !slices.Equal(got, c.want) {
				t.Fatalf("exchanges %v, want %v", got, c.want)
			}
			checkChildPair(t, a, b)
			for _, p := range []*peer{a, b} {
				s := saState(t, p)
				if s.State != "established" || !slices.Equal(s.AddKEs, c.addKE) {
					t.Errorf("state %s, additional key exchanges %v, want %v", s.State, s.AddKEs, c.addKE)
				}
			}
			for _, l := range []*logRecorder{logA, logB} {
				if n := len(l.find("additional key exchange done")); n != len(c.addKE) {
					t.Errorf("%d key updates, want %d", n, len(c.addKE))
				}
			}
			frags := 0
			for _, s := range ss {
				if s.exch == wire.ExchangeIKEIntermediate && s.fragment {
					frags++
				}
				if c.frag > 0 && s.size > c.frag-28 {
					t.Errorf("%v datagram of %d octets with fragment size %d", s.exch, s.size, c.frag)
				}
			}
			if (c.frag > 0) != (frags > 0) {
				t.Errorf("%d IKE_INTERMEDIATE fragments with fragment size %d", frags, c.frag)
			}
		})
	}
}

// TestHybridIntermediateMessages checks the payloads one message at a
// time: INTERMEDIATE_EXCHANGE_SUPPORTED both ways in IKE_SA_INIT (RFC 9242
// §3.1), the ADDKE1 transform in both SA payloads (RFC 9370 §2.2.1), the
// encapsulation key in KEi and the ciphertext in KEr of IKE_INTERMEDIATE.
func TestHybridIntermediateMessages(t *testing.T) {
	set := hybrid(generated.SecgwIke_DhGroup_curve25519, keList{mlkem768})
	a, b := pair(t, set, set, nil)
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	_, req := ppkStep(t, a, b)  // IKE_SA_INIT request: SA(ADDKE1), KE, Ni, N(NAT_D*), N(FRAG), N(INTERMEDIATE_EXCHANGE_SUPPORTED)
	_, resp := ppkStep(t, b, a) // IKE_SA_INIT response: SA(ADDKE1 ML_KEM_768), KE, Nr, N(NAT_D*), N(FRAG), N(INTERMEDIATE_EXCHANGE_SUPPORTED)
	for name, ps := range map[string][]wire.Payload{"request": req, "response": resp} {
		if !has(ps, wire.NotifyIntermediateExchangeSupported) {
			t.Errorf("IKE_SA_INIT %s without INTERMEDIATE_EXCHANGE_SUPPORTED", name)
		}
	}
	sa := payloadOf[*wire.SA](resp)
	if x, ok := transformOf(sa.Proposals[0], ipsec.TransformAddKE1); !ok || x.ID != ipsec.GroupMLKEM768 {
		t.Errorf("chosen proposal %v", sa.Proposals[0])
	}
	h, ps := ppkStep(t, a, b) // IKE_INTERMEDIATE request: SK{KEi(ML_KEM_768)}
	if ke := payloadOf[*wire.KE](ps); h.Exchange != wire.ExchangeIKEIntermediate || h.MessageID != 1 || ke == nil ||
		ke.Group != ipsec.GroupMLKEM768 || len(ke.Data) != 1184 {
		t.Fatalf("IKE_INTERMEDIATE request %v %v", h, ps)
	}
	h, ps = ppkStep(t, b, a) // IKE_INTERMEDIATE response: SK{KEr(ML_KEM_768)}, the ciphertext
	if ke := payloadOf[*wire.KE](ps); !h.Flags.Response() || ke == nil || len(ke.Data) != 1088 {
		t.Fatalf("IKE_INTERMEDIATE response %v %v", h, ps)
	}
	h, _ = ppkStep(t, a, b) // IKE_AUTH request: SK{IDi, IDr, AUTH, SA, TSi, TSr}, with the new keys
	if h.Exchange != wire.ExchangeIKEAuth || h.MessageID != 2 {
		t.Fatalf("IKE_AUTH request %v", h)
	}
	ppkStep(t, b, a) // IKE_AUTH response: SK{IDr, AUTH, SA, TSi, TSr}
	checkChildPair(t, a, b)
}

// TestHybridWithPPK: a PPK (RFC 8784) on top of the additional key
// exchanges; AUTH is computed with SK_pi'/SK_pr' and the IntAuth chain.
func TestHybridWithPPK(t *testing.T) {
	set := hybrid(generated.SecgwIke_DhGroup_curve25519, keList{mlkem768})
	for _, required := range []bool{true, false} {
		mod := func(ike *generated.SecgwVrf_Vrf_Ike) {
			set(ike)
			withPPK(ike, "p1", "ppk-one", false, ppkSecret)
			usePPK(ike, "p1", required)
		}
		a, b := pair(t, mod, mod, nil)
		if err := a.e.Initiate("to-b"); err != nil {
			t.Fatal(err)
		}
		runUntilQuiet(t, a, b)
		checkChildPair(t, a, b)
		for _, p := range []*peer{a, b} {
			if s := saState(t, p); !s.PPKUsed || len(s.AddKEs) != 1 {
				t.Errorf("required %v: ppk-used %v, additional %v", required, s.PPKUsed, s.AddKEs)
			}
		}
	}
}

// TestHybridNegotiation: a peer without additional key exchanges is
// accepted classically when the policy lists none among them, in either
// role, and refused with NO_PROPOSAL_CHOSEN when the policy requires one
// (RFC 9370 §2.2.1).
func TestHybridNegotiation(t *testing.T) {
	classical := hybrid(generated.SecgwIke_DhGroup_curve25519)
	optional := hybrid(generated.SecgwIke_DhGroup_curve25519, keList{mlkem768, keNone})
	required := hybrid(generated.SecgwIke_DhGroup_curve25519, keList{mlkem768})
	for _, c := range []struct {
		name       string
		modA, modB func(*generated.SecgwVrf_Vrf_Ike)
		up         bool
	}{
		{"classical initiator, responder offers none", classical, optional, true},
		{"initiator offers none, classical responder", optional, classical, true},
		{"classical initiator, responder requires", classical, required, false},
		{"initiator requires, classical responder", required, classical, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var evA events
			a, b := pairOpts(t, c.modA, c.modB, evA.hook(), nil)
			if err := a.e.Initiate("to-b"); err != nil {
				t.Fatal(err)
			}
			ss := runUntilQuiet(t, a, b)
			if !c.up {
				if len(a.e.IKESAs()) != 0 || len(b.e.IKESAs()) != 0 {
					t.Fatalf("SAs left: %v %v", a.e.IKESAs(), b.e.IKESAs())
				}
				found := false
				for _, e := range evA.list {
					found = found || e.Kind == engine.IKEFailed && strings.Contains(e.Reason, "NO_PROPOSAL_CHOSEN")
				}
				if !found {
					t.Errorf("no NO_PROPOSAL_CHOSEN failure: %+v", evA.list)
				}
				return
			}
			checkChildPair(t, a, b)
			if got := exchanges(ss); !slices.Equal(got, []string{"IKE_SA_INIT#0", "IKE_AUTH#1"}) {
				t.Errorf("exchanges %v", got)
			}
			if s := saState(t, a); len(s.AddKEs) != 0 {
				t.Errorf("additional key exchanges %v", s.AddKEs)
			}
		})
	}
}

func transformOf(p wire.Proposal, typ ipsec.TransformType) (wire.Transform, bool) {
	for _, t := range p.Transforms {
		if t.Type == typ {
			return t, true
		}
	}
	return wire.Transform{}, false
}

// payloadOf returns the first payload of type T in ps.
func payloadOf[T wire.Payload](ps []wire.Payload) T {
	var zero T
	for _, p := range ps {
		if x, ok := p.(T); ok {
			return x
		}
	}
	return zero
}

// TestHybridRequiredByIdentity: the responder accepts a classical IKE SA
// under the proposal of a VPN that lists none among its additional key
// exchanges (the first candidate by name), but the VPN the peer's
// identity then selects requires ML-KEM-768: it refuses the peer with
// AUTHENTICATION_FAILED rather than take an IKE SA without it.
func TestHybridRequiredByIdentity(t *testing.T) {
	classical := hybrid(generated.SecgwIke_DhGroup_curve25519)
	modB := func(ike *generated.SecgwVrf_Vrf_Ike) {
		hybrid(generated.SecgwIke_DhGroup_curve25519, keList{mlkem768})(ike)
		other := vpnConfig("aaa-optional", addrB, netip.Addr{}, "b.example", "other.example", "secret", "192.168.2.0/24", "192.168.9.0/24").Vpn["aaa-optional"]
		ike.Vpn["aaa-optional"] = other
		hybrid(generated.SecgwIke_DhGroup_curve25519, keList{mlkem768, keNone})(&generated.SecgwVrf_Vrf_Ike{Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{"x": other}})
	}
	logB, recB := recordLogs(t)
	a, b := pairOpts(t, classical, modB, nil, recB)
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	runUntilQuiet(t, a, b)
	if len(a.e.IKESAs()) != 0 || len(b.e.IKESAs()) != 0 {
		t.Fatalf("an IKE SA without the required ML-KEM: A %v, B %v", a.e.IKESAs(), b.e.IKESAs())
	}
	if len(logB.find("authentication of peer failed")) != 1 {
		t.Error("B did not refuse the peer's authentication")
	}
}
