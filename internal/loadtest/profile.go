package loadtest

import (
	"fmt"
	"net/netip"
	"secgw/internal/ipsec"

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
	// Childless creates IKE SAs without the first child SA (RFC 6023:
	// IKE_AUTH without SA, TSi and TSr), to measure the IKE machinery
	// alone. The generator does not wait for CHILDLESS_IKEV2_SUPPORTED.
	Childless bool
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
