package loadtest

import (
	"crypto/rand"
	"encoding/binary"

	"secgw/internal/ike/proposal"
	"secgw/internal/ike/wire"
)

// answerChildRekey answers the responder's rekey of the held child SA
// (RFC 7296 §1.3.3: CREATE_CHILD_SA with REKEY_SA naming the responder's
// inbound SPI), without PFS: the accepted proposal with a new SPI of ours,
// a nonce and the traffic selectors as requested. The generator sends no
// ESP, so it derives no child keys. false for any other request (a new
// child SA, an IKE SA rekey, a KE payload), which the caller refuses; t.mu
// is held.
func (g *Generator) answerChildRekey(t *tunnel, ps []wire.Payload) ([]wire.Payload, bool) {
	var rekey *wire.Notify
	for _, p := range ps {
		if n, ok := p.(*wire.Notify); ok && n.NotifyType == wire.NotifyRekeySA {
			rekey = n
		}
	}
	sa := find[*wire.SA](ps)
	nonce := find[*wire.Nonce](ps)
	if rekey == nil || rekey.Protocol != wire.ProtocolESP || len(rekey.SPI) != 4 ||
		binary.BigEndian.Uint32(rekey.SPI) != t.peerChildSPI || sa == nil || nonce == nil || find[*wire.KE](ps) != nil {
		return nil, false
	}
	var tsi, tsr *wire.TrafficSelectors
	for _, p := range ps {
		if ts, ok := p.(*wire.TrafficSelectors); ok {
			if ts.Responder {
				tsr = ts
			} else {
				tsi = ts
			}
		}
	}
	chosen, ok := proposal.Select([]wire.Proposal{g.o.Profile.ESP}, sa.Proposals, proposal.Options{})
	if !ok || tsi == nil || tsr == nil {
		return nil, false
	}
	peer, found := chosenPeerSPI(sa.Proposals, chosen.Number)
	if !found {
		return nil, false
	}
	var b [4 + nonceLen]byte
	ours := uint32(0)
	for ours < 256 { // RFC 4303 §2.1: 1-255 reserved
		if _, err := rand.Read(b[:]); err != nil {
			return nil, false
		}
		ours = binary.BigEndian.Uint32(b[:4])
	}
	t.rekeyed = append(t.rekeyed, [2]uint32{t.peerChildSPI, t.childSPI})
	t.peerChildSPI, t.childSPI = peer, ours
	chosen.SPI = binary.BigEndian.AppendUint32(nil, ours)
	return []wire.Payload{&wire.SA{Proposals: []wire.Proposal{chosen}}, &wire.Nonce{Data: b[4:]}, tsi, tsr}, true
}

// chosenPeerSPI returns the 4-octet SPI of the proposal numbered num.
func chosenPeerSPI(ps []wire.Proposal, num uint8) (uint32, bool) {
	for _, p := range ps {
		if p.Number == num && p.Protocol == wire.ProtocolESP && len(p.SPI) == 4 {
			return binary.BigEndian.Uint32(p.SPI), true
		}
	}
	return 0, false
}

// deleteChild takes the responder's delete of its inbound SPI spi: the
// held child SA or one a rekey replaced. It returns our SPI of the pair;
// t.mu is held.
func (t *tunnel) deleteChild(spi uint32) (uint32, bool) {
	for i, r := range t.rekeyed {
		if r[0] == spi {
			t.rekeyed = append(t.rekeyed[:i], t.rekeyed[i+1:]...)
			return r[1], true
		}
	}
	if spi == t.peerChildSPI {
		return t.childSPI, true
	}
	return 0, false
}
