package engine_test

import (
	"encoding/binary"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// Helpers of the lifecycle tests (rekey, reauthentication, DPD, actions).

// open decrypts d, a protected message sent to p, with the keys of p's SA
// it names, and returns its header and inner payloads.
func open(t testing.TB, p *peer, d engine.Datagram) (wire.Header, []wire.Payload) {
	t.Helper()
	b, m := message(t, d)
	spi := m.Header.SPIi
	if m.Header.Flags.Initiator() {
		spi = m.Header.SPIr
	}
	ps, err := p.e.OpenForTest(spi, b, false)
	if err != nil {
		t.Fatalf("cannot open %v: %v", m.Header.Exchange, err)
	}
	return m.Header, ps
}

// step hands the next datagram of from to to after checking that it is
// the exchange and direction expected and carries the payloads want (see
// summary); it returns the decrypted payloads.
func step(t testing.TB, from, to *peer, exch wire.ExchangeType, response bool, want string) []wire.Payload {
	t.Helper()
	d, ok := from.net.Next()
	if !ok {
		t.Fatalf("no datagram to deliver, want %v %s", exch, want)
	}
	h, ps := open(t, to, d)
	if h.Exchange != exch || h.Flags.Response() != response || summary(ps) != want {
		t.Fatalf("got %v response=%v {%s}, want %v response=%v {%s}", h.Exchange, h.Flags.Response(), summary(ps), exch, response, want)
	}
	inject(to, d, nil, from)
	return ps
}

// summary names the payloads of a message in order: SA(IKE) or SA, KE,
// No, TSi, TSr, N(TYPE), D(ESP) or D(IKE).
func summary(ps []wire.Payload) string {
	var out []string
	for _, p := range ps {
		switch x := p.(type) {
		case *wire.SA:
			if len(x.Proposals) > 0 && x.Proposals[0].Protocol == wire.ProtocolIKE {
				out = append(out, "SA(IKE)")
			} else {
				out = append(out, "SA")
			}
		case *wire.KE:
			out = append(out, "KE")
		case *wire.Nonce:
			out = append(out, "No")
		case *wire.TrafficSelectors:
			if x.Responder {
				out = append(out, "TSr")
			} else {
				out = append(out, "TSi")
			}
		case *wire.Notify:
			out = append(out, "N("+x.NotifyType.String()+")")
		case *wire.Delete:
			if x.Protocol == wire.ProtocolIKE {
				out = append(out, "D(IKE)")
			} else {
				out = append(out, "D(ESP)")
			}
		default:
			out = append(out, p.Type().String())
		}
	}
	return strings.Join(out, " ")
}

// nonceOf returns the Nonce Data of a message's payloads.
func nonceOf(t testing.TB, ps []wire.Payload) []byte {
	t.Helper()
	for _, p := range ps {
		if n, ok := p.(*wire.Nonce); ok {
			return n.Data
		}
	}
	t.Fatal("no nonce")
	return nil
}

// proposedSPI returns the SPI of the first proposal of a message's SA
// payload: 4 octets for ESP, 8 for IKE.
func proposedSPI(t testing.TB, ps []wire.Payload) uint64 {
	t.Helper()
	for _, p := range ps {
		if sa, ok := p.(*wire.SA); ok {
			spi := sa.Proposals[0].SPI
			if len(spi) == 4 {
				return uint64(binary.BigEndian.Uint32(spi))
			}
			return binary.BigEndian.Uint64(spi)
		}
	}
	t.Fatal("no SA payload")
	return 0
}

// saState returns the only IKE SA of p's snapshot.
func saState(t testing.TB, p *peer) engine.SAState {
	t.Helper()
	s := p.e.Snapshot(false)
	if len(s) != 1 {
		t.Fatalf("%d IKE SAs, want 1: %+v", len(s), s)
	}
	return s[0]
}

// silent fails if either peer has something left to send.
func silent(t testing.TB, a, b *peer) {
	t.Helper()
	if a.net.Len() != 0 || b.net.Len() != 0 {
		t.Fatalf("unexpected datagrams: A %d, B %d", a.net.Len(), b.net.Len())
	}
}

// seeded makes an engine's random source deterministic.
func seeded(seed uint64) func(*engine.Options) {
	return func(o *engine.Options) {
		var s [32]byte
		binary.BigEndian.PutUint64(s[:], seed)
		o.Rand = mrand.NewChaCha8(s)
	}
}

// both applies several option functions.
func both(fs ...func(*engine.Options)) func(*engine.Options) {
	return func(o *engine.Options) {
		for _, f := range fs {
			if f != nil {
				f(o)
			}
		}
	}
}

// addPolicy adds a second security policy to the only VPN of ike.
func addPolicy(name, local, remote string) func(*generated.SecgwVrf_Vrf_Ike) {
	return func(ike *generated.SecgwVrf_Vrf_Ike) {
		for _, v := range ike.Vpn {
			v.SecurityPolicy[name] = &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy{
				Name:     ptr(name),
				LocalTs:  &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_LocalTs{Subnet: ptr(local)},
				RemoteTs: &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_RemoteTs{Subnet: ptr(remote)},
			}
		}
	}
}

// withIPsec changes the ipsec-policy of the only VPN of ike.
func withIPsec(f func(*generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy)) func(*generated.SecgwVrf_Vrf_Ike) {
	return func(ike *generated.SecgwVrf_Vrf_Ike) {
		for _, v := range ike.Vpn {
			if v.IpsecPolicy == nil {
				v.IpsecPolicy = &generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy{}
			}
			f(v.IpsecPolicy)
		}
	}
}

// withIKE changes the ike-policy of the only VPN of ike.
func withIKE(f func(*generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy)) func(*generated.SecgwVrf_Vrf_Ike) {
	return func(ike *generated.SecgwVrf_Vrf_Ike) {
		for _, v := range ike.Vpn {
			f(v.IkePolicy)
		}
	}
}

// chain applies several configuration changes.
func chain(fs ...func(*generated.SecgwVrf_Vrf_Ike)) func(*generated.SecgwVrf_Vrf_Ike) {
	return func(ike *generated.SecgwVrf_Vrf_Ike) {
		for _, f := range fs {
			if f != nil {
				f(ike)
			}
		}
	}
}

// pfs makes the ESP proposal aes256-gcm-128 with the dh-groups given
// (perfect forward secrecy in CREATE_CHILD_SA).
func pfs(groups ...generated.E_SecgwIke_DhGroup) func(*generated.SecgwVrf_Vrf_Ike) {
	return withIPsec(func(p *generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy) {
		p.EspProposal = map[uint8]*generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy_EspProposal{1: {Id: ptr(uint8(1)),
			AeadAlg: []generated.E_SecgwIke_AeadAlgorithm{generated.SecgwIke_AeadAlgorithm_aes256_gcm_128}, DhGroup: groups}}
	})
}

// childSPIs returns the inbound SPIs of p's installed child SAs, sorted.
func childSPIs(p *peer) []uint32 {
	var out []uint32
	for _, c := range p.dp.Children() {
		out = append(out, c.InSPI)
	}
	slices.Sort(out)
	return out
}

// onlyChildUID returns the unique-id of p's only child SA.
func onlyChildUID(t testing.TB, p *peer) uint32 {
	t.Helper()
	s := saState(t, p)
	if len(s.Children) != 1 {
		t.Fatalf("%d child SAs, want 1", len(s.Children))
	}
	return s.Children[0].UniqueID
}

// events records an engine's events.
type events struct{ list []engine.Event }

func (ev *events) hook() func(*engine.Options) {
	return func(o *engine.Options) { o.Events = func(e engine.Event) { ev.list = append(ev.list, e) } }
}

func (ev *events) kinds() string {
	var out []string
	for _, e := range ev.list {
		out = append(out, e.Kind.String())
	}
	return strings.Join(out, " ")
}

type (
	ipsecPolicy = generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy
	ikePolicy   = generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy
)

const (
	dpdClear   = generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_DpdAction_clear
	dpdRestart = generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_DpdAction_restart
	dpdTrap    = generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_DpdAction_trap

	startNone  = generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_StartAction_none
	startTrap  = generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_StartAction_trap
	startStart = generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_StartAction_start

	closeNone  = generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_CloseAction_none
	closeTrap  = generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_CloseAction_trap
	closeStart = generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_CloseAction_start
)
