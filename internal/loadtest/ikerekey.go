package loadtest

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"

	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/proposal"
	"secgw/internal/ike/wire"
)

// ikeRekey is a held tunnel's IKE SA rekey in progress (RFC 7296 §1.3.2),
// which the generator initiates every Options.IKERekey: the new SPIi, our
// key exchange and nonce. The request itself is the tunnel's outstanding
// request (soakState.probe), resent and given up as a liveness check is.
type ikeRekey struct {
	spii uint64
	dh   ikecrypto.DH
	ni   []byte
}

// oldIKESA is the IKE SA a rekey replaced, until the responder answers
// its delete (RFC 7296 §2.18: the initiator of the rekey deletes the old
// IKE SA): its SPIs, the delete request as sent, and how many times it
// went unanswered. Until then the responder's requests on it are still
// answered (a DPD probe that crossed the rekey, RFC 7296 §2.4), with its
// SK ciphers, Message ID and last response.
type oldIKESA struct {
	spii, spir uint64
	del        []byte
	misses     int
	out, in    ikecrypto.SKCipher
	expectID   uint32
	lastResp   []byte
	// sent is when del was first sent.
	sent time.Time
}

// ikeRekeyRequest starts an IKE SA rekey of t with the profile's suite
// and returns the CREATE_CHILD_SA request (RFC 7296 §1.3.2):
//
//	HDR, SK {SA, Ni, KEi}  -->
//
// whose SA payload offers the IKE proposal with the new SPIi. t.mu is
// held; the Message ID is t.nextID.
func (t *tunnel) ikeRekeyRequest(p *Profile, rand io.Reader) ([]byte, error) {
	var b [8]byte
	r := &ikeRekey{ni: make([]byte, nonceLen)}
	for r.spii == 0 {
		if _, err := io.ReadFull(rand, b[:]); err != nil {
			return nil, fmt.Errorf("loadtest: random: %w", err)
		}
		r.spii = binary.BigEndian.Uint64(b[:])
	}
	if _, err := io.ReadFull(rand, r.ni); err != nil {
		return nil, fmt.Errorf("loadtest: random: %w", err)
	}
	dh, err := ikecrypto.NewDH(p.Suite.Group, rand)
	if err != nil {
		return nil, err
	}
	r.dh = dh
	prop := p.IKE
	prop.SPI = binary.BigEndian.AppendUint64(nil, r.spii)
	raw, err := t.seal(wire.ExchangeCreateChildSA, t.nextID, false, []wire.Payload{
		&wire.SA{Proposals: []wire.Proposal{prop}},
		&wire.Nonce{Data: r.ni},
		&wire.KE{Group: p.Suite.Group, Data: dh.PublicKey()},
	})
	if err != nil {
		return nil, err
	}
	t.rekey = r
	return raw, nil
}

// handleIKERekeyResponse takes the answer to t's IKE SA rekey (already
// decrypted: ps). On success it moves t to the new IKE SA (RFC 7296
// §2.18: keys from the old SK_d, the new shared secret and nonces; the
// child SA moves with it; Message IDs start again at zero, §2.2) and
// returns the delete of the old IKE SA, sealed with the old keys, to
// send; refused is true when the responder declined (an error notify:
// TEMPORARY_FAILURE during an exchange of its own, §2.25), and t keeps
// its IKE SA. t.mu is held.
func (t *tunnel) handleIKERekeyResponse(p *Profile, ps []wire.Payload) (del []byte, refused bool, err error) {
	r := t.rekey
	t.rekey = nil
	if n := wire.FirstError(ps); n != nil {
		return nil, true, nil
	}
	sa := find[*wire.SA](ps)
	ke := find[*wire.KE](ps)
	nr := find[*wire.Nonce](ps)
	if sa == nil || ke == nil || nr == nil {
		return nil, false, fmt.Errorf("IKE SA rekey: response lacks SA, KE or Nr")
	}
	chosen, ok := proposal.Single([]wire.Proposal{p.IKE}, sa.Proposals)
	if !ok || ke.Group != p.Suite.Group || len(chosen.SPI) != 8 {
		return nil, false, fmt.Errorf("IKE SA rekey: responder chose a proposal we did not offer")
	}
	spir := binary.BigEndian.Uint64(chosen.SPI)
	gir, err := r.dh.SharedSecret(ke.Data)
	if err != nil {
		return nil, false, fmt.Errorf("IKE SA rekey: bad KEr: %v", err)
	}
	keys, err := ikecrypto.RekeyIKEKeys(t.prf, t.skd, p.Suite, gir, r.ni, nr.Data, r.spii, spir)
	clear(gir)
	if err != nil {
		return nil, false, fmt.Errorf("IKE SA rekey: keys: %v", err)
	}
	defer keys.Clear()
	out, in, err := keys.Ciphers(p.Suite, true)
	if err != nil {
		return nil, false, fmt.Errorf("IKE SA rekey: ciphers: %v", err)
	}
	// The exchange is over on the old IKE SA: its next request, the
	// delete, takes the next Message ID (RFC 7296 §1.4.1).
	t.nextID++
	del, err = t.seal(wire.ExchangeInformational, t.nextID, false,
		[]wire.Payload{&wire.Delete{Protocol: wire.ProtocolIKE}})
	if err != nil {
		return nil, false, err
	}
	t.old = &oldIKESA{spii: t.spii, spir: t.spir, del: del, out: t.out, in: t.in, expectID: t.expectID, lastResp: t.lastResp}
	clear(t.skd)
	t.skd = append([]byte(nil), keys.SKd...)
	t.spii, t.spir, t.out, t.in = r.spii, spir, out, in
	t.nextID, t.expectID, t.lastResp = 0, 0, nil
	return del, false, nil
}

// oldRequest answers a request of the responder on the IKE SA o that a
// rekey replaced (RFC 7296 §2.18: it lives until deleted): a liveness
// check or a delete gets an empty INFORMATIONAL response, anything else
// NO_ADDITIONAL_SAS (its child SA moved to the new IKE SA). A
// retransmitted request gets the cached response (§2.1). It returns the
// response to send, nil for none, and whether the request deleted o.
func (o *oldIKESA) request(h wire.Header, data []byte) (resp []byte, deleted bool) {
	if h.SPIr != o.spir {
		return nil, false
	}
	if o.lastResp != nil && h.MessageID+1 == o.expectID {
		return o.lastResp, false
	}
	if h.MessageID != o.expectID {
		return nil, false
	}
	m, err := wire.Parse(data)
	if err != nil {
		return nil, false
	}
	ps, err := open(o.in, m)
	if err != nil {
		return nil, false
	}
	var answer []wire.Payload
	switch h.Exchange {
	case wire.ExchangeInformational:
		for _, p := range ps {
			if d, ok := p.(*wire.Delete); ok && d.Protocol == wire.ProtocolIKE {
				deleted = true
			}
		}
	default:
		answer = []wire.Payload{wire.NewNotify(wire.NotifyNoAdditionalSAs, nil)}
	}
	plain, first, err := wire.AppendPayloadChain(nil, answer)
	if err != nil {
		return nil, false
	}
	raw, err := sealSA(o.out, o.spii, o.spir, h.Exchange, h.MessageID, true, plain, first)
	if err != nil {
		return nil, false
	}
	o.lastResp = raw
	o.expectID++
	return raw, deleted
}
