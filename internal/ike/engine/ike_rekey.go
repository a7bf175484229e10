package engine

import (
	"bytes"
	"encoding/binary"
	"io"
	"secgw/internal/ipsec"
	"slices"

	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/proposal"
	"secgw/internal/ike/wire"
)

// ikeRekeyTask rekeys the IKE SA (RFC 7296 §1.3.2, §2.18):
//
//	HDR, SK {SA, Ni, KEi}  -->  <--  HDR, SK {SA, Nr, KEr}
//
// The proposals carry our SPI of the new IKE SA, whose keys come from
// SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr). The child SAs move to
// the new IKE SA and the old one is deleted with a Delete that is its last
// request (§2.18).
type ikeRekeyTask struct {
	spi     uint64
	group   ipsec.TransformID
	dh      ikecrypto.DH
	ni      []byte
	offer   []wire.Proposal
	tries   int
	retries int
}

func (t *ikeRekeyTask) exchange() wire.ExchangeType { return wire.ExchangeCreateChildSA }

func (t *ikeRekeyTask) build(sa *ikeSA) ([]wire.Payload, error) {
	if sa.state != stateEstablished || sa.closing || sa.successor != nil {
		t.abort(sa)
		return nil, errSkip
	}
	v := sa.vpn
	if t.spi == 0 {
		t.spi = sa.w.e.set.Load().table.reserve(sa.w.e.o.Rand)
	}
	if t.group == 0 {
		// Keep the group in use if it is still configured, else guess
		// the first (RFC 7296 §1.3.2 allows any offered group).
		t.group = sa.suite.Group
		if !offersGroup(v.IKEProposals, t.group) {
			t.group = proposal.Groups(v.IKEProposals[0])[0]
		}
	}
	if t.dh == nil || t.dh.Group() != t.group {
		dh, err := ikecrypto.NewDH(t.group, sa.w.e.o.Rand)
		if err != nil {
			return nil, err
		}
		t.dh = dh
	}
	t.ni = make([]byte, nonceLen)
	io.ReadFull(sa.w.e.o.Rand, t.ni)
	t.offer = slices.Clone(proposal.WithClassicalFallback(v.IKEProposals))
	for i := range t.offer {
		t.offer[i].SPI = binary.BigEndian.AppendUint64(nil, t.spi)
	}
	sa.log().Info("rekeying IKE SA")
	return []wire.Payload{&wire.SA{Proposals: t.offer}, &wire.Nonce{Data: t.ni}, &wire.KE{Group: t.group, Data: t.dh.PublicKey()}}, nil
}

// abort releases the SPI reserved for the new IKE SA.
func (t *ikeRekeyTask) abort(sa *ikeSA) {
	if t.spi != 0 {
		sa.w.e.set.Load().table.release(t.spi)
		t.spi = 0
	}
}

func (t *ikeRekeyTask) process(sa *ikeSA, m *wire.Message, ps []wire.Payload) error {
	t.tries++
	if n := wire.FindNotify(ps, wire.NotifyInvalidKEPayload); n != nil && t.tries < 3 {
		if g, ok := n.Group(); ok && g != t.group && offersGroup(sa.vpn.IKEProposals, g) {
			t.group = g
			return errAgain
		}
	}
	if n := wire.FirstError(ps); n != nil {
		t.abort(sa)
		sa.lastError = n.NotifyType
		sa.log().Info("peer refused the IKE SA rekey", "notify", n.NotifyType)
		if n.NotifyType == wire.NotifyTemporaryFailure && t.retries < MaxTempFailures && sa.peerRekey == nil {
			// RFC 7296 §2.25: wait, then try again (unless the peer
			// rekeyed it meanwhile: its delete of this SA follows).
			sa.rekeyRetries = int32(t.retries + 1)
			sa.armIKETimer(timerIKERekey, sa.w.e.tempFailureDelay())
		}
		return nil
	}
	sap := find[*wire.SA](ps, nil)
	nr := find[*wire.Nonce](ps, nil)
	ke := find[*wire.KE](ps, nil)
	if sap == nil || nr == nil || ke == nil {
		t.abort(sa)
		return notifyErr(wire.NotifyInvalidSyntax, "IKE SA rekey response lacks SA, Nr or KEr")
	}
	chosen, ok := proposal.Single(t.offer, sap.Proposals)
	if !ok || chosen.Protocol != wire.ProtocolIKE || len(chosen.SPI) != 8 {
		t.abort(sa)
		return notifyErr(wire.NotifyNoProposalChosen, "responder chose an IKE proposal we did not offer")
	}
	suite, err := ikeSuite(chosen)
	if err != nil || ke.Group != suite.Group || ke.Group != t.group {
		t.abort(sa)
		return notifyErr(wire.NotifyInvalidSyntax, "bad suite or KE group in the IKE SA rekey response")
	}
	gir, err := t.dh.SharedSecret(ke.Data)
	if err != nil {
		t.abort(sa)
		return notifyErr(wire.NotifyInvalidSyntax, "bad KE data: %v", err)
	}
	defer clear(gir)
	peerSPI := binary.BigEndian.Uint64(chosen.SPI)
	add := proposal.AdditionalKEs(chosen)
	finish := func(sa *ikeSA, secrets []byte) error {
		defer clear(secrets)
		return t.finish(sa, suite, add, secrets, nr.Data, peerSPI)
	}
	if len(add) > 0 {
		// RFC 9370 §2.2.4: IKE_FOLLOWUP_KE exchanges first (followup.go).
		if !sa.startFollowup(ps, add, gir, finish, t.abort) {
			t.abort(sa)
			return notifyErr(wire.NotifyInvalidSyntax, "IKE SA rekey response without ADDITIONAL_KEY_EXCHANGE")
		}
		return nil
	}
	return finish(sa, bytes.Clone(gir))
}

// finish creates the new IKE SA from the secrets of the exchange, g^ir
// followed by those of the additional key exchanges add, if any.
func (t *ikeRekeyTask) finish(sa *ikeSA, suite ikecrypto.Suite, add []ipsec.TransformID, secrets, nr []byte, peerSPI uint64) error {
	keys, err := ikecrypto.RekeyIKEKeys(sa.prf(), sa.keys().SKd, suite, secrets, t.ni, nr, t.spi, peerSPI)
	if err != nil {
		t.abort(sa)
		return err
	}
	n := sa.w.e.newRekeyedSA(sa, true, t.spi, peerSPI, suite, keys)
	n.addKEs = add
	t.spi = 0
	if p := sa.peerRekey; p != nil && p.state == stateEstablished {
		// RFC 7296 §2.8.2: both rekeyed; the new IKE SA with the lowest
		// nonce is deleted by the peer that created it, the other one
		// inherits the child SAs, and the old one is deleted by the
		// winner.
		if lowestIsOurs(t.ni, nr, *sa.peerRekeyNonces) {
			sa.log().Info("simultaneous IKE SA rekey: ours has the lowest nonce, deleting it")
			sa.moveTo(p)
			n.queue(&deleteTask{ike: true})
			n.startNext()
			return nil
		}
		sa.log().Info("simultaneous IKE SA rekey: the peer's has the lowest nonce, it deletes it")
	}
	sa.moveTo(n)
	// RFC 7296 §2.18: the Delete is the last request of the old IKE SA.
	sa.queue(&deleteTask{ike: true})
	return nil
}

// respondRekeyIKE is the responder's IKE SA rekey (RFC 7296 §1.3.2).
func (sa *ikeSA) respondRekeyIKE(sap *wire.SA, ni *wire.Nonce, ke *wire.KE) []wire.Payload {
	tempFail := []wire.Payload{wire.NewNotify(wire.NotifyTemporaryFailure, nil)}
	switch {
	case sa.closing, sa.successor != nil, sa.peerRekey != nil:
		// RFC 7296 §2.25.2: an IKE SA we are closing (or have already
		// replaced).
		return tempFail
	case sa.outstanding(childExchange):
		// RFC 7296 §2.25: a child SA exchange of ours is outstanding on
		// this IKE SA; the child SAs cannot move yet.
		return tempFail
	case sa.followup != nil || sa.followupQueued():
		// RFC 9370 §2.2.4: a CREATE_CHILD_SA exchange with additional
		// key exchanges, the peer's or ours, is not finished: its new SA
		// does not exist yet.
		return tempFail
	case ke == nil:
		return []wire.Payload{wire.NewNotify(wire.NotifyInvalidSyntax, nil)}
	}
	chosen, ok := proposal.Select(sa.vpn.IKEProposals, sap.Proposals, proposal.Options{PreferGroup: ke.Group})
	peer := theirSPI(sap.Proposals, chosen.Number)
	if !ok || len(peer) != 8 {
		return []wire.Payload{wire.NewNotify(wire.NotifyNoProposalChosen, nil)}
	}
	suite, err := ikeSuite(chosen)
	if err != nil {
		return []wire.Payload{wire.NewNotify(wire.NotifyNoProposalChosen, nil)}
	}
	if ke.Group != suite.Group {
		return []wire.Payload{wire.InvalidKEPayload(suite.Group)}
	}
	dh, err := ikecrypto.NewDH(suite.Group, sa.w.e.o.Rand)
	if err != nil {
		return []wire.Payload{wire.NewNotify(wire.NotifyNoProposalChosen, nil)}
	}
	gir, err := dh.SharedSecret(ke.Data)
	if err != nil {
		return []wire.Payload{wire.NewNotify(wire.NotifyInvalidSyntax, nil)}
	}
	defer clear(gir)
	nr := make([]byte, nonceLen)
	io.ReadFull(sa.w.e.o.Rand, nr)
	mySPI := sa.w.e.set.Load().table.reserve(sa.w.e.o.Rand)
	peerSPI := binary.BigEndian.Uint64(peer)
	nonceI := bytes.Clone(ni.Data)
	add := proposal.AdditionalKEs(chosen)
	// complete creates the new IKE SA from g^ir and the secrets of the
	// additional key exchanges, if any.
	complete := func(secrets []byte) []wire.Payload {
		keys, err := ikecrypto.RekeyIKEKeys(sa.prf(), sa.keys().SKd, suite, secrets, nonceI, nr, peerSPI, mySPI)
		if err != nil {
			sa.w.e.set.Load().table.release(mySPI)
			return []wire.Payload{wire.NewNotify(wire.NotifyNoProposalChosen, nil)}
		}
		n := sa.w.e.newRekeyedSA(sa, false, mySPI, peerSPI, suite, keys)
		n.addKEs = add
		if _, ours := sa.pendingTask().(*ikeRekeyTask); ours {
			// RFC 7296 §2.8.2: we are rekeying it too; answer as usual
			// and let the nonces decide when ours completes.
			sa.peerRekey, sa.peerRekeyNonces = n, &[2][]byte{nonceI, nr}
		} else {
			sa.moveTo(n)
		}
		return nil
	}
	chosen.SPI = binary.BigEndian.AppendUint64(nil, mySPI)
	resp := []wire.Payload{&wire.SA{Proposals: []wire.Proposal{chosen}}, &wire.Nonce{Data: nr},
		&wire.KE{Group: suite.Group, Data: dh.PublicKey()}}
	if len(add) > 0 {
		// RFC 9370 §2.2.4: the new IKE SA comes after the
		// IKE_FOLLOWUP_KE exchanges (followup.go).
		return append(resp, sa.awaitFollowup(add, gir, complete, func() { sa.w.e.set.Load().table.release(mySPI) }))
	}
	if refused := complete(gir); refused != nil {
		return refused
	}
	return resp
}

// childExchange reports whether t creates, rekeys or deletes child SAs.
func childExchange(t task) bool {
	switch x := t.(type) {
	case *childCreateTask:
		return true
	case *deleteTask:
		return !x.ike
	}
	return false
}

// newRekeyedSA creates the IKE SA that a rekey of old produced, with our
// SPI ours (reserved) and the peer's; initiator is true when we initiated
// the rekey: we are then the original initiator of the new SA (RFC 7296
// §2.18).
//
// The new SA lives on the old one's worker: same peer.
func (e *Engine) newRekeyedSA(old *ikeSA, initiator bool, ours, peer uint64, suite ikecrypto.Suite, keys *ikecrypto.IKEKeys) *ikeSA {
	n := &ikeSA{initiator: initiator, vpn: old.vpn, uid: e.nextUID(), id: ours}
	n.spii, n.spir = peer, ours
	if initiator {
		n.spii, n.spir = ours, peer
	}
	old.w.add(n)
	e.set.Load().table.insert(n, ours) // takes the reservation
	n.local, n.remote, n.natt, n.natLocal, n.natRemote, n.mobike = old.local, old.remote, old.natt, old.natLocal, old.natRemote, old.mobike
	n.mobikeInitiator = old.mobikeInitiator
	n.tcp = old.tcp // the new IKE SA stays on the stream (RFC 9329 §6.2)
	n.fragOK, n.peerID = old.fragOK, old.peerID
	n.ourWindow, n.peerWindow = old.ourWindow, old.peerWindow // window.go
	// The new SKEYSEED comes from the old SK_d, SK_d' with a PPK (RFC
	// 8784 §3): the new SA still carries the PPK's protection.
	n.ppkUsed = old.ppkUsed
	n.setEstablished()
	n.setKeys(suite, keys)
	k := n.keys()
	keys = &k
	n.established, n.lastIn = e.mono(), e.mono()
	n.log().Info("IKE SA rekeyed", "old-spii", spiString(old.spii), "old-spir", spiString(old.spir), "suite", suite.String())
	n.log().Keys("IKE SA keys", "sk_d", keys.SKd, "sk_ei", keys.SKei, "sk_er", keys.SKer,
		"sk_ai", keys.SKai, "sk_ar", keys.SKar)
	if old.keepaliveOn {
		n.startKeepalive()
	}
	n.startIKETimers()
	e.contacts.add(n) // same identities as old (unique.go)
	n.syncLater()     // a record of its own (ha.go)
	e.emit(Event{Kind: IKERekeyed, SA: n.uid, Old: old.uid, VPN: n.vpn.Name})
	return n
}

// moveTo hands the child SAs and the queued child SA work of sa to n, the
// IKE SA that replaces it (RFC 7296 §2.18), and stops sa's lifetimes: sa
// only waits for its delete now, ours or the peer's. If the peer never
// sends its delete, sa is dropped after the time the peer may spend
// retransmitting it.
func (sa *ikeSA) moveTo(n *ikeSA) {
	for _, c := range sa.children {
		sa.w.e.moveSPIOwner(c, sa, n)
		n.children = append(n.children, c)
	}
	sa.children = nil
	n.aaa, sa.aaa = sa.aaa, nil // the accounting session too (eap_acct.go)
	n.resched()                 // the child SAs' timers come along
	for _, t := range sa.tasks {
		if d, ok := t.(*deleteTask); ok && d.ike {
			continue
		}
		if _, ok := t.(*ikeRekeyTask); ok {
			continue
		}
		n.tasks = append(n.tasks, t)
	}
	sa.tasks = nil
	sa.successor = n
	n.vip, sa.vip = sa.vip, nil // the leases and addresses go with the SA (vip.go)
	sa.syncLater()              // its SADelete: its child SAs are n's now (ha.go)
	n.syncLater()
	n.pendingChildren, sa.pendingChildren = n.pendingChildren+sa.pendingChildren, 0
	n.replaces, sa.replaces = sa.replaces, 0
	sa.stopIKETimers()
	r := sa.w.e.config().Global.Retransmit
	sa.armIKETimer(timerIKEExpire, RetransmitTotal(r.Tries, r.Timeout, r.Base, r.Limit)+r.Timeout)
	n.startNext()
}
