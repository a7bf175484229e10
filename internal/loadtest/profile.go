package loadtest

import (
	"fmt"
	"net/netip"
	"secgw/internal/ipsec"
	"slices"
	"strings"

	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/wire"
)

// Profile is what every tunnel of a run offers and proves: one IKE
// proposal, one ESP proposal, the pre-shared key, and how the identity and
// traffic selectors of tunnel i are made.
type Profile struct {
	// IKE is the single IKE proposal offered (number 1, no SPI); Suite is
	// the suite it implies, which the responder must choose.
	IKE   wire.Proposal
	Suite ikecrypto.Suite
	// ESP is the single child SA proposal (number 1, SPI added per
	// tunnel); ESPSuite is the suite it implies.
	ESP      wire.Proposal
	ESPSuite ikecrypto.Suite
	// PSK is the pre-shared key of every tunnel. Never logged.
	PSK []byte
	// IDFormat makes the identity of tunnel i from IDStart+i with
	// fmt.Sprintf; with an '@' it is an ID_RFC822_ADDR, otherwise an
	// ID_FQDN (config.ParseIdentity).
	IDFormat string
	IDStart  int
	// Inner is the range of the tunnels' inner addresses: tunnel i
	// proposes TSi = the i-th host address of Inner (wrapping around), as
	// a remote-access client with its own address would.
	Inner netip.Prefix
	// RemoteTS is the TSr every tunnel proposes.
	RemoteTS netip.Prefix
	// NATD adds the NAT_DETECTION_*_IP notifications to IKE_SA_INIT (RFC
	// 7296 §2.23), as real initiators do. Without them the responder
	// treats the initiator as not supporting NAT traversal.
	NATD bool
	// AddKE are the additional key exchanges (RFC 9370 ADDKE1.. in this
	// order, none optional), each run in its own IKE_INTERMEDIATE exchange
	// (RFC 9242) after IKE_SA_INIT; empty for a classical IKE SA. Set them
	// with SetKeyExchanges, which also puts them in IKE.
	AddKE []ipsec.TransformID
	// Childless creates IKE SAs without the first child SA (RFC 6023:
	// IKE_AUTH without SA, TSi and TSr), to measure the IKE machinery
	// alone. The generator does not wait for CHILDLESS_IKEV2_SUPPORTED.
	Childless bool
	// VIP asks for a virtual IP in IKE_AUTH (CFG_REQUEST with an empty
	// INTERNAL_IP4_ADDRESS, RFC 7296 §3.15) and proposes TSi 0.0.0.0/0
	// for the responder to narrow to it (§2.19), as a road warrior does;
	// a tunnel that gets no address fails. Generator.VIPs returns what
	// each tunnel got.
	VIP bool

	// Cert, if set, authenticates with certificates instead of the PSK
	// (cert.go).
	Cert *CertAuth
}

// DefaultProfile is the benchmark's suite: IKE with
// AES-GCM-256 (16-octet ICV), PRF-HMAC-SHA2-256 and ECP-256, ESP with
// AES-GCM-256, no PFS, no ESN; identities user%d@load.test; inner addresses
// from 10.200.0.0/16 towards 0.0.0.0/0.
func DefaultProfile(psk []byte) Profile {
	gcm := wire.Transform{Type: ipsec.TransformEncr, ID: ipsec.EncrAESGCM16,
		Attributes: []wire.TransformAttribute{wire.KeyLengthAttribute(256)}}
	return Profile{
		IKE: wire.Proposal{Number: 1, Protocol: wire.ProtocolIKE, Transforms: []wire.Transform{
			gcm,
			{Type: ipsec.TransformPRF, ID: ipsec.PRFHMACSHA2_256},
			{Type: ipsec.TransformKE, ID: ipsec.GroupECP256},
		}},
		Suite: ikecrypto.Suite{Encr: ipsec.EncrAESGCM16, KeyBits: 256, PRF: ipsec.PRFHMACSHA2_256, Group: ipsec.GroupECP256},
		ESP: wire.Proposal{Number: 1, Protocol: wire.ProtocolESP, Transforms: []wire.Transform{
			gcm,
			{Type: ipsec.TransformESN, ID: ipsec.ESNDisabled},
		}},
		ESPSuite: ikecrypto.Suite{Encr: ipsec.EncrAESGCM16, KeyBits: 256},
		PSK:      psk,
		IDFormat: "user%d@load.test",
		IDStart:  1,
		Inner:    netip.MustParsePrefix("10.200.0.0/16"),
		RemoteTS: netip.MustParsePrefix("0.0.0.0/0"),
		NATD:     true,
	}
}

// identity returns the IDi payload of tunnel i.
func (p *Profile) identity(i int) (*wire.Identification, error) {
	id, err := config.ParseIdentity(fmt.Sprintf(p.IDFormat, p.IDStart+i))
	if err != nil {
		return nil, fmt.Errorf("loadtest: identity of tunnel %d: %w", i, err)
	}
	return id.Payload(false), nil
}

// tsi is the TSi tunnel i proposes: its inner address, or with VIP the
// whole IPv4 space (narrowed to the virtual IP by the responder).
func (p *Profile) tsi(i int) ipsec.TrafficSelector {
	if p.VIP {
		return ipsec.SelectorFromPrefix(netip.MustParsePrefix("0.0.0.0/0"), 0, 0, 65535)
	}
	inner := p.innerAddr(i)
	return ipsec.SelectorFromPrefix(netip.PrefixFrom(inner, inner.BitLen()), 0, 0, 65535)
}

// innerAddr returns the i-th host address of Inner, skipping the network
// address, wrapping around when Inner is smaller than the run.
func (p *Profile) innerAddr(i int) netip.Addr {
	bits := p.Inner.Addr().BitLen() - p.Inner.Bits()
	size := uint64(1) << min(bits, 62)
	off := uint64(i)
	if size > 2 {
		off = off%(size-1) + 1
	} else {
		off %= size
	}
	return AddrAdd(p.Inner.Masked().Addr(), off)
}

// AddrAdd returns a plus n, carrying across octets (it wraps at the end
// of the address space).
func AddrAdd(a netip.Addr, n uint64) netip.Addr {
	b := a.As16()
	for i := 15; i >= 0 && n > 0; i-- {
		s := uint64(b[i]) + n&0xff
		b[i] = byte(s)
		n = n>>8 + s>>8
	}
	out := netip.AddrFrom16(b)
	if a.Is4() {
		return out.Unmap()
	}
	return out
}

// SetKeyExchanges makes the IKE proposal offer group as its key exchange
// (Transform Type 4) and addKE as ADDKE1, ADDKE2, ... (RFC 9370 §2.2.1),
// each required (no NONE), and records them in Suite and AddKE.
func (p *Profile) SetKeyExchanges(group ipsec.TransformID, addKE []ipsec.TransformID) error {
	if !ikecrypto.SupportedGroup(group) {
		return fmt.Errorf("loadtest: unsupported key exchange group %s", ipsec.TransformName(ipsec.TransformKE, group))
	}
	if len(addKE) > int(ipsec.TransformAddKE7-ipsec.TransformAddKE1)+1 {
		return fmt.Errorf("loadtest: %d additional key exchanges, at most 7", len(addKE))
	}
	ts := slices.DeleteFunc(slices.Clone(p.IKE.Transforms), func(t wire.Transform) bool {
		return t.Type == ipsec.TransformKE || (t.Type >= ipsec.TransformAddKE1 && t.Type <= ipsec.TransformAddKE7)
	})
	ts = append(ts, wire.Transform{Type: ipsec.TransformKE, ID: group})
	for i, g := range addKE {
		if !ikecrypto.SupportedAdditionalKE(g) {
			return fmt.Errorf("loadtest: unsupported additional key exchange %s", ipsec.TransformName(ipsec.TransformKE, g))
		}
		ts = append(ts, wire.Transform{Type: ipsec.TransformAddKE1 + ipsec.TransformType(i), ID: g})
	}
	p.IKE.Transforms = ts
	p.Suite.Group = group
	p.AddKE = slices.Clone(addKE)
	return nil
}

// keNames are the key exchange methods the command line and the
// benchmark name.
var keNames = map[string]ipsec.TransformID{
	"ecp256":    ipsec.GroupECP256,
	"ecp384":    ipsec.GroupECP384,
	"x25519":    ipsec.GroupCurve25519,
	"mlkem768":  ipsec.GroupMLKEM768,
	"mlkem1024": ipsec.GroupMLKEM1024,
}

// ParseKeyExchange returns the method named name: ecp256, ecp384, x25519,
// mlkem768 or mlkem1024.
func ParseKeyExchange(name string) (ipsec.TransformID, error) {
	if g, ok := keNames[name]; ok {
		return g, nil
	}
	return 0, fmt.Errorf("loadtest: unknown key exchange %q (ecp256, ecp384, x25519, mlkem768, mlkem1024)", name)
}

// ParseKeyExchanges parses a comma-separated list of ParseKeyExchange
// names; "" is none.
func ParseKeyExchanges(list string) ([]ipsec.TransformID, error) {
	if list == "" {
		return nil, nil
	}
	var out []ipsec.TransformID
	for _, name := range strings.Split(list, ",") {
		g, err := ParseKeyExchange(strings.TrimSpace(name))
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}
