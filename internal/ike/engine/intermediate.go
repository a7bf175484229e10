package engine

import (
	"bytes"
	"secgw/internal/ipsec"

	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/proposal"
	"secgw/internal/ike/wire"
)

// Multiple key exchanges (RFC 9370) in IKE_INTERMEDIATE exchanges (RFC
// 9242). When the IKE proposal accepted in IKE_SA_INIT lists additional
// key exchanges (ADDKE1..7 other than NONE) and both sides sent
// INTERMEDIATE_EXCHANGE_SUPPORTED, one IKE_INTERMEDIATE exchange per
// additional key exchange follows IKE_SA_INIT, in the order of the
// transform types (RFC 9370 §2.2.1):
//
//	HDR, SK {KEi(n)}  -->
//	                  <--  HDR, SK {KEr(n)}
//
// with message IDs 1, 2, ... and IKE_AUTH after them (RFC 9242 §3.1).
// Exchange n is protected with the keys of exchange n-1; once it is done
// both sides derive new keys from SK_d(n-1) and the new shared secret
// (RFC 9370 §2.2.2, crypto.AdditionalKEKeys). The messages of the
// exchanges are authenticated in IKE_AUTH through the IntAuth chain of RFC
// 9242 §3.3 appended to the signed octets. The messages are fragmented like
// IKE_AUTH when fragmentation was negotiated (RFC 7383; RFC 9242 §3.4).

// intermediateState is the part of the handshake state the
// IKE_INTERMEDIATE exchanges need.
type intermediateState struct {
	// addKE are the additional key exchanges still to run, in order.
	addKE []ipsec.TransformID
	// addKETransforms are the ADDKE transforms of the accepted IKE
	// proposal, NONE included (acceptedIKE).
	addKETransforms []wire.Transform
	// intAuthI and intAuthR are the IntAuth chains of the initiator's and
	// the responder's IKE_INTERMEDIATE messages (RFC 9242 §3.3.2), nil
	// before the first exchange.
	intAuthI, intAuthR []byte
	// intPlain and intFirst are the inner payloads of the last
	// IKE_INTERMEDIATE message received, in clear, and the type of the
	// first (set by open and openFragment), for its IntAuth.
	intPlain []byte
	intFirst wire.PayloadType
	// intFrag1 is, on the responder, fragment 1 of the last fragmented
	// IKE_INTERMEDIATE request as received: a retransmission of it
	// arrives protected with the keys before the exchange's update and
	// still gets the cached response (RFC 7383 §2.6.1).
	intFrag1 []byte
}

// intermediateTask is the initiator's IKE_INTERMEDIATE exchange of one
// additional key exchange (RFC 9370 §2.2.1).
type intermediateTask struct {
	group ipsec.TransformID
	ke    ikecrypto.DH
	// plain and first are the request's inner payloads as sent.
	plain []byte
	first wire.PayloadType
}

func (t *intermediateTask) exchange() wire.ExchangeType { return wire.ExchangeIKEIntermediate }

func (t *intermediateTask) build(sa *ikeSA) ([]wire.Payload, error) {
	if t.ke == nil {
		ke, err := ikecrypto.NewKE(t.group, sa.w.e.o.Rand)
		if err != nil {
			return nil, err
		}
		t.ke = ke
	}
	ps := []wire.Payload{&wire.KE{Group: t.group, Data: t.ke.PublicKey()}}
	var err error
	t.plain, t.first, err = wire.AppendPayloadChain(nil, ps)
	return ps, err
}

func (t *intermediateTask) process(sa *ikeSA, m *wire.Message, ps []wire.Payload) error {
	if n := wire.FirstError(ps); n != nil {
		return &NotifyError{Type: n.NotifyType, Reason: "IKE_INTERMEDIATE refused by peer"}
	}
	ke := find[*wire.KE](ps, nil)
	if ke == nil || ke.Group != t.group {
		return notifyErr(wire.NotifyInvalidSyntax, "IKE_INTERMEDIATE response without the KE payload of %s",
			ipsec.TransformName(ipsec.TransformKE, t.group))
	}
	secret, err := t.ke.SharedSecret(ke.Data)
	if err != nil {
		return notifyErr(wire.NotifyInvalidSyntax, "bad KE data in IKE_INTERMEDIATE: %v", err)
	}
	sa.chainIntAuth(sa.header(wire.ExchangeIKEIntermediate, m.Header.MessageID, false), t.first, t.plain,
		m.Header, sa.intFirst, sa.intPlain)
	if len(sa.addKE) > 0 {
		sa.addKE = sa.addKE[1:]
	}
	return sa.applyAdditionalKE(t.group, secret)
}

// startIntermediate records the additional key exchanges of the accepted
// IKE proposal (initiator and responder) and, on the initiator, queues
// their IKE_INTERMEDIATE exchanges before IKE_AUTH.
func (sa *ikeSA) startIntermediate(chosen wire.Proposal) {
	sa.addKEs = proposal.AdditionalKEs(chosen)
	sa.addKE = sa.addKEs
	for typ := ipsec.TransformAddKE1; typ <= ipsec.TransformAddKE7; typ++ {
		if t, ok := proposal.Transform(chosen, typ); ok {
			sa.addKETransforms = append(sa.addKETransforms, t)
		}
	}
	if !sa.initiator || len(sa.addKEs) == 0 {
		return
	}
	ts := make([]task, 0, len(sa.addKEs)+len(sa.tasks))
	for _, g := range sa.addKEs {
		ts = append(ts, &intermediateTask{group: g})
	}
	sa.tasks = append(ts, sa.tasks...)
}

// respondIntermediate is the responder's IKE_INTERMEDIATE exchange: the
// KE payload of the next additional key exchange gets ours (for ML-KEM
// the ciphertext), and the keys are updated once the response is sent.
// A KE payload of another method, or invalid Key Exchange Data, ends the
// handshake with INVALID_SYNTAX (RFC 9370 §2.2.2).
func (sa *ikeSA) respondIntermediate(m *wire.Message, ps []wire.Payload) []wire.Payload {
	group := sa.addKE[0]
	ke := find[*wire.KE](ps, nil)
	if ke == nil || ke.Group != group || len(ke.Data) != ikecrypto.InitiatorKEDataLen(group) {
		sa.log().Info("IKE_INTERMEDIATE request without a valid KE payload", "want", ipsec.TransformName(ipsec.TransformKE, group))
		sa.lastError = wire.NotifyInvalidSyntax
		sa.closeAfterResponse = true
		return []wire.Payload{wire.NewNotify(wire.NotifyInvalidSyntax, nil)}
	}
	data, secret, err := ikecrypto.RespondKE(group, ke.Data, sa.w.e.o.Rand)
	if err != nil {
		sa.log().Info("IKE_INTERMEDIATE: bad KE data", "err", err)
		sa.lastError = wire.NotifyInvalidSyntax
		sa.closeAfterResponse = true
		return []wire.Payload{wire.NewNotify(wire.NotifyInvalidSyntax, nil)}
	}
	resp := []wire.Payload{&wire.KE{Group: group, Data: data}}
	plain, first, err := wire.AppendPayloadChain(nil, resp)
	if err != nil {
		clear(secret)
		sa.closeAfterResponse = true
		return []wire.Payload{wire.NewNotify(wire.NotifyInvalidSyntax, nil)}
	}
	sa.chainIntAuth(m.Header, sa.intFirst, sa.intPlain,
		sa.header(wire.ExchangeIKEIntermediate, m.Header.MessageID, true), first, plain)
	sa.addKE = sa.addKE[1:]
	// The response goes out with the keys that protected the request
	// (RFC 9370 §2.2.2); the update follows it.
	sa.w.afterResponse = append(sa.w.afterResponse, func() {
		if err := sa.applyAdditionalKE(group, secret); err != nil && sa.state != stateDeleted {
			sa.fail(err)
		}
	})
	return resp
}

// chainIntAuth adds the messages of one IKE_INTERMEDIATE exchange to the
// IntAuth chains (RFC 9242 §3.3.2) with the SK_pi and SK_pr that
// protected them: req and resp are their headers as sent, with the first
// inner payload's type and the inner payloads in clear.
func (sa *ikeSA) chainIntAuth(req wire.Header, reqFirst wire.PayloadType, reqPlain []byte,
	resp wire.Header, respFirst wire.PayloadType, respPlain []byte) {
	k := sa.keys()
	prf := sa.prf()
	sa.intAuthI = ikecrypto.IntAuth(prf, k.SKpi, sa.intAuthI, ikecrypto.IntAuthA(req, reqFirst, len(reqPlain)), reqPlain)
	sa.intAuthR = ikecrypto.IntAuth(prf, k.SKpr, sa.intAuthR, ikecrypto.IntAuthA(resp, respFirst, len(respPlain)), respPlain)
	sa.intPlain = nil
}

// applyAdditionalKE derives the SA's keys after additional key exchange
// n from SK_d(n-1) and its shared secret (RFC 9370 §2.2.2); secret is
// cleared.
func (sa *ikeSA) applyAdditionalKE(group ipsec.TransformID, secret []byte) error {
	defer clear(secret)
	keys, err := ikecrypto.AdditionalKEKeys(sa.prf(), sa.keys().SKd, sa.suite, secret, sa.ni, sa.nr, sa.spii, sa.spir)
	if err != nil {
		return err
	}
	sa.setKeys(sa.suite, keys)
	k := sa.keys()
	sa.log().Info("additional key exchange done", "method", ipsec.TransformName(ipsec.TransformKE, group), "left", len(sa.addKE))
	sa.log().Keys("IKE SA keys after additional key exchange", "sk_d", k.SKd, "sk_ei", k.SKei, "sk_er", k.SKer,
		"sk_ai", k.SKai, "sk_ar", k.SKar)
	return nil
}

// signedOctets is the AUTH payload's signed octets (crypto.SignedOctets)
// followed, after IKE_INTERMEDIATE exchanges, by IntAuth = IntAuth_iN |
// IntAuth_rN | IKE_AUTH_MID (RFC 9242 §3.3.2), the last being the Message
// ID of the IKE_AUTH request: the outstanding one on the initiator, the one
// being answered on the responder.
func (sa *ikeSA) signedOctets(skp, realMessage, peerNonce, idBody []byte) []byte {
	so := ikecrypto.SignedOctets(sa.prf(), skp, realMessage, peerNonce, idBody)
	if sa.handshake == nil || sa.intAuthI == nil {
		return so
	}
	mid := sa.expectID
	if sa.initiator {
		mid = sa.curID
	}
	return ikecrypto.AppendIntAuth(so, sa.intAuthI, sa.intAuthR, mid)
}

// keepIntermediatePlain records the inner payloads of a received
// IKE_INTERMEDIATE message for its IntAuth.
func (sa *ikeSA) keepIntermediatePlain(m *wire.Message, first wire.PayloadType, plain []byte) {
	if sa.handshake == nil || m.Header.Exchange != wire.ExchangeIKEIntermediate {
		return
	}
	sa.intPlain, sa.intFirst = plain, first
}

// keepIntermediateFragment records fragment 1 of a fragmented
// IKE_INTERMEDIATE request (see intermediateState.intFrag1).
func (sa *ikeSA) keepIntermediateFragment(m *wire.Message, f *wire.EncryptedFragment, response bool) {
	if sa.handshake == nil || response || f.FragmentNumber != 1 || m.Header.Exchange != wire.ExchangeIKEIntermediate {
		return
	}
	sa.intFrag1 = bytes.Clone(m.Raw)
}

// retransmittedIntermediate reports whether m is fragment 1 of the
// IKE_INTERMEDIATE request last answered, as received before.
func (sa *ikeSA) retransmittedIntermediate(m *wire.Message) bool {
	return sa.handshake != nil && sa.intFrag1 != nil && bytes.Equal(m.Raw, sa.intFrag1)
}

// keList renders the key exchange methods of the SA, the IKE_SA_INIT one
// and the additional ones, as "ECP_256/ML_KEM_768".
func keList(group ipsec.TransformID, add []ipsec.TransformID) string {
	s := ipsec.TransformName(ipsec.TransformKE, group)
	for _, g := range add {
		s += "/" + ipsec.TransformName(ipsec.TransformKE, g)
	}
	return s
}
