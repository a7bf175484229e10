package engine

import (
	"bytes"
	"encoding/binary"
	"io"
	"secgw/internal/ipsec"
	"slices"
	"time"

	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/proposal"
	"secgw/internal/ike/ts"
	"secgw/internal/ike/wire"
)

// DefaultMaxChildSAs bounds the child SAs of one IKE SA when
// Options.MaxChildSAs is zero: a request for more is answered with
// NO_ADDITIONAL_SAS (RFC 7296 §3.10.1). The model has no leaf for it.
const DefaultMaxChildSAs = 256

// TempFailureDelay is the shortest wait before an exchange refused with
// TEMPORARY_FAILURE is tried again; a random delay of up to as much again
// is added (RFC 7296 §2.25: the recipient "MUST NOT immediately retry",
// and MAY retry over several minutes). After MaxTempFailures refusals the
// engine gives up (the SA then ends at its hard lifetime).
const (
	TempFailureDelay = 10 * time.Second
	MaxTempFailures  = 5
)

func (e *Engine) tempFailureDelay() time.Duration {
	return TempFailureDelay + time.Duration(e.o.Jitter()*float64(TempFailureDelay))
}

// childCreateTask creates a child SA with CREATE_CHILD_SA, or rekeys one
// (RFC 7296 §1.3.1, §1.3.3):
//
//	HDR, SK {[N(REKEY_SA)], [N(USE_TRANSPORT_MODE)], SA, Ni, [KEi], TSi, TSr}  -->
//	        <--  HDR, SK {SA, Nr, [KEr], TSi, TSr, [N(USE_TRANSPORT_MODE)]}
//
// KEi is sent when the ESP proposals have a dh-group (PFS). A rekeyed
// child SA keeps its selectors and is deleted once the new one is
// installed (§2.8), so the dataplane always has one to send on.
type childCreateTask struct {
	policy config.SecurityPolicy
	// rekey is the child SA being rekeyed, nil for a new child SA.
	rekey *childSA
	hint  *Packet
	// counted: the IKE SA waits for this child SA (pendingChildren).
	counted bool
	retries int

	spi      uint32
	offer    []wire.Proposal
	group    ipsec.TransformID
	dh       ikecrypto.DH
	ni       []byte
	tsi, tsr []ipsec.TrafficSelector
	tries    int
}

func (t *childCreateTask) exchange() wire.ExchangeType { return wire.ExchangeCreateChildSA }

// finish ends the task's claim on the IKE SA's pending child count.
func (t *childCreateTask) finish(sa *ikeSA) {
	if t.counted {
		t.counted = false
		sa.pendingChildren--
		sa.childrenDone()
	}
}

func (t *childCreateTask) build(sa *ikeSA) ([]wire.Payload, error) {
	if sa.state != stateEstablished || sa.closing || sa.successor != nil {
		t.finish(sa)
		return nil, errSkip
	}
	v := sa.vpn
	if t.rekey != nil {
		c := t.rekey
		if sa.child(c.InSPI) != c || (c.state != childInstalled && c.state != childRekeying) {
			return nil, errSkip // deleted or rekeyed by the peer meanwhile
		}
	}
	offer := sa.w.e.espOffer(proposal.WithClassicalFallback(v.ESPProposals))
	if len(offer) == 0 {
		// Nothing we could install: not offered (a rekeyed child SA
		// lives on until its hard lifetime).
		name := t.policy.Name
		if t.rekey != nil {
			name = t.rekey.Policy
		}
		why := noESPOffer(sa, name)
		sa.w.e.releaseSPI(t.spi)
		if c := t.rekey; c != nil && c.state == childRekeying {
			c.state = childInstalled
		} else if c == nil {
			sa.w.e.childFailed(sa, name, why)
		}
		t.finish(sa)
		return nil, errSkip
	}
	if t.rekey != nil {
		c := t.rekey
		c.state = childRekeying
		t.policy = config.SecurityPolicy{Name: c.Policy, Mode: c.Mode}
		// RFC 7296 §2.8: the new child SA keeps the old one's selectors.
		t.tsi, t.tsr = c.LocalTS, c.RemoteTS
	} else {
		if sa.hasChild(t.policy.Name) {
			t.finish(sa)
			return nil, errSkip // set up meanwhile (a duplicate request)
		}
		t.tsi, t.tsr = policySelectors(t.policy, t.hint)
		if mine := narrowToVIPs(t.tsi, sa.localVIPs()); len(mine) > 0 {
			t.tsi = mine // RFC 7296 §2.19: our side is our virtual IP (vip.go)
		}
	}
	if t.spi == 0 {
		t.spi = sa.w.e.newChildSPI()
	}
	if t.group == 0 {
		t.group = pfsGroup(offer)
	}
	if t.group != ipsec.GroupNone && (t.dh == nil || t.dh.Group() != t.group) {
		dh, err := ikecrypto.NewDH(t.group, sa.w.e.o.Rand)
		if err != nil {
			return nil, err
		}
		t.dh = dh
	}
	t.ni = make([]byte, nonceLen)
	io.ReadFull(sa.w.e.o.Rand, t.ni)
	t.offer = withSPI(slices.Clone(offer), t.spi)
	var ps []wire.Payload
	if t.rekey != nil {
		ps = append(ps, &wire.Notify{Protocol: wire.ProtocolESP, NotifyType: wire.NotifyRekeySA,
			SPI: binary.BigEndian.AppendUint32(nil, t.rekey.InSPI)})
	}
	if t.policy.Mode == config.ModeTransport {
		ps = append(ps, wire.NewNotify(wire.NotifyUseTransportMode, nil))
	}
	ps = append(ps, &wire.SA{Proposals: t.offer}, &wire.Nonce{Data: t.ni})
	if t.dh != nil && t.group != ipsec.GroupNone {
		ps = append(ps, &wire.KE{Group: t.group, Data: t.dh.PublicKey()})
	}
	ps = append(ps, &wire.TrafficSelectors{Selectors: t.tsi}, &wire.TrafficSelectors{Responder: true, Selectors: t.tsr})
	what := "creating"
	if t.rekey != nil {
		what = "rekeying"
	}
	sa.childLog().Info(what+" child SA", "policy", t.policy.Name, "pfs", t.group != ipsec.GroupNone)
	return ps, nil
}

// pfsGroup is the KE group we send in CREATE_CHILD_SA: the first
// dh-group of the first ESP proposal that has one (the "guess" of RFC
// 7296 §1.3), or none.
func pfsGroup(ps []wire.Proposal) ipsec.TransformID {
	for _, p := range ps {
		for _, g := range proposal.Groups(p) {
			if g != ipsec.GroupNone {
				return g
			}
		}
	}
	return ipsec.GroupNone
}

func (t *childCreateTask) process(sa *ikeSA, m *wire.Message, ps []wire.Payload) error {
	t.tries++
	if n := wire.FindNotify(ps, wire.NotifyInvalidKEPayload); n != nil && t.tries < 3 {
		if g, ok := n.Group(); ok && g != t.group && offersGroup(t.offer, g) {
			// RFC 7296 §1.3: a new exchange with the group the
			// responder named.
			sa.log().Debug("responder wants another PFS group", "group", ipsec.TransformName(ipsec.TransformKE, g))
			t.group = g
			return errAgain
		}
	}
	if n := wire.FirstError(ps); n != nil {
		t.refused(sa, n)
		return nil
	}
	sap := find[*wire.SA](ps, nil)
	nr := find[*wire.Nonce](ps, nil)
	ke := find[*wire.KE](ps, nil)
	tsi := find[*wire.TrafficSelectors](ps, func(x *wire.TrafficSelectors) bool { return !x.Responder })
	tsr := find[*wire.TrafficSelectors](ps, func(x *wire.TrafficSelectors) bool { return x.Responder })
	var chosen wire.Proposal
	ok := sap != nil && nr != nil && tsi != nil && tsr != nil
	if ok {
		chosen, ok = proposal.Single(t.offer, sap.Proposals)
	}
	ok = ok && len(chosen.SPI) == 4 && ts.Subset(tsi.Selectors, t.tsi) && ts.Subset(tsr.Selectors, t.tsr)
	var gir []byte
	if ok {
		g, has := proposal.Transform(chosen, ipsec.TransformKE)
		pfs := has && g.ID != ipsec.GroupNone
		switch {
		case pfs && (ke == nil || ke.Group != g.ID || t.dh == nil || t.dh.Group() != g.ID):
			ok = false
		case pfs:
			var err error
			if gir, err = t.dh.SharedSecret(ke.Data); err != nil {
				ok = false
			}
		}
	}
	if !ok {
		// RFC 7296 §2.9, §3.3.6: an answer we did not offer. The peer
		// may have installed it: delete its half.
		sa.lastError = wire.NotifyNoProposalChosen
		sa.childLog().Info("peer answered with an unacceptable child SA", "policy", t.policy.Name)
		if sap != nil {
			sa.queueFirst(&deleteTask{child: t.spi, orphan: true})
		}
		t.failed(sa)
		return nil
	}
	defer clear(gir)
	p := childParams{policy: t.policy, proposal: chosen, inSPI: t.spi,
		outSPI: binary.BigEndian.Uint32(chosen.SPI), tsi: tsi.Selectors, tsr: tsr.Selectors,
		gir: gir, ni: t.ni, nr: nr.Data, initiator: true, rekeyOf: t.rekey}
	if add := proposal.AdditionalKEs(chosen); len(add) > 0 {
		// RFC 9370 §2.2.4: the child SA comes after the
		// IKE_FOLLOWUP_KE exchanges (followup.go); the responder has
		// installed nothing yet.
		install := func(sa *ikeSA, secrets []byte) error {
			defer clear(secrets)
			p.gir = secrets
			t.install(sa, p)
			return nil
		}
		if !sa.startFollowup(ps, add, gir, install, t.failed) {
			sa.childLog().Info("peer answered without ADDITIONAL_KEY_EXCHANGE", "policy", t.policy.Name)
			t.failed(sa)
		}
		return nil
	}
	t.install(sa, p)
	return nil
}

// install installs the child SA the exchange agreed on.
func (t *childCreateTask) install(sa *ikeSA, p childParams) {
	c, err := sa.installChild(p)
	if err != nil {
		sa.childLog().Warn("cannot install child SA", "err", err)
		sa.queueFirst(&deleteTask{child: t.spi, orphan: true})
		t.failed(sa)
		return
	}
	if t.rekey != nil {
		sa.rekeyed(t.rekey, c, t.ni, p.nr)
	}
	t.finish(sa)
}

// refused handles an error notification in the response.
func (t *childCreateTask) refused(sa *ikeSA, n *wire.Notify) {
	sa.lastError = n.NotifyType
	sa.childLog().Info("peer refused the child SA", "policy", t.policy.Name, "notify", n.NotifyType)
	switch n.NotifyType {
	case wire.NotifyTemporaryFailure:
		// RFC 7296 §2.25: wait, then try again.
		e := sa.w.e
		if t.rekey != nil {
			if c := t.rekey; sa.child(c.InSPI) == c && c.retries < MaxTempFailures {
				c.retries++
				sa.armChildTimer(c, timerChildRekey, e.tempFailureDelay())
			}
		} else if t.retries < MaxTempFailures {
			if sa.retries == nil {
				sa.retries = new([]childRetry)
			}
			*sa.retries = append(*sa.retries, childRetry{at: e.deadline(e.tempFailureDelay()),
				policy: t.policy.Name, hint: t.hint, retries: t.retries + 1})
			sa.resched()
		}
	case wire.NotifyChildSANotFound:
		// RFC 7296 §2.25: silently delete the child SA and create a new
		// one from scratch if none exists.
		if c := t.rekey; c != nil && sa.child(c.InSPI) == c {
			sa.removeChild(c)
			if !sa.hasChild(c.Policy) {
				if pol := sa.vpn.Policy(c.Policy); pol != nil {
					sa.queue(&childCreateTask{policy: *pol})
				}
			}
		}
	}
	t.failed(sa)
}

// failed cleans up after a child SA that was not created.
func (t *childCreateTask) failed(sa *ikeSA) {
	sa.w.e.releaseSPI(t.spi)
	if c := t.rekey; c != nil && c.state == childRekeying {
		c.state = childInstalled
	}
	if t.rekey == nil {
		sa.w.e.childFailed(sa, t.policy.Name, failureReason(sa.lastError))
	}
	t.finish(sa)
}

// retryChild queues a child SA creation again after TEMPORARY_FAILURE.
func (sa *ikeSA) retryChild(r childRetry) {
	if sa.state != stateEstablished || sa.closing || sa.successor != nil || sa.hasChild(r.policy) {
		return
	}
	pol := sa.vpn.Policy(r.policy)
	if pol == nil {
		return // no longer configured
	}
	sa.queue(&childCreateTask{policy: *pol, hint: r.hint, retries: r.retries})
	sa.startNext()
}

// rekeyed finishes our rekey of old, replaced by c; ni and nr are the
// nonces of our exchange. Without a collision the old child SA is
// deleted now that the new one is installed (RFC 7296 §2.8). If the peer
// rekeyed old at the same time, the SA created with the lowest of the four
// nonces is closed by the peer that created it (§2.8.1); the other peer
// closes the old one.
func (sa *ikeSA) rekeyed(old, c *childSA, ni, nr []byte) {
	old.replaced = true
	if sa.child(old.InSPI) != old {
		return // the peer deleted it while we rekeyed it (§2.25.1)
	}
	if p := old.peerRekey; p != nil && sa.child(p.InSPI) == p {
		if lowestIsOurs(ni, nr, *old.peerNonces) {
			sa.childLog().Info("simultaneous rekey: ours has the lowest nonce, deleting it",
				"policy", c.Policy, "in", spi32(c.InSPI))
			old.state = childRekeyed // the peer deletes it
			c.state = childDeleting
			sa.queueFirst(&deleteTask{child: c.InSPI})
			return
		}
		sa.childLog().Info("simultaneous rekey: the peer's has the lowest nonce, it deletes it",
			"policy", c.Policy, "in", spi32(p.InSPI))
	}
	old.state = childDeleting
	sa.queueFirst(&deleteTask{child: old.InSPI})
}

// lowestIsOurs reports whether the lowest of the four nonces of two
// simultaneous rekeys is one of ours (Ni, Nr of the exchange we
// initiated) rather than of theirs (RFC 7296 §2.8.1: nonces compared as
// octet strings).
func lowestIsOurs(ni, nr []byte, theirs [2][]byte) bool {
	ours := ni
	if bytes.Compare(nr, ours) < 0 {
		ours = nr
	}
	peer := theirs[0]
	if bytes.Compare(theirs[1], peer) < 0 {
		peer = theirs[1]
	}
	return bytes.Compare(ours, peer) < 0
}

// respondCreateChild answers a CREATE_CHILD_SA request: an IKE SA rekey
// (an SA payload of protocol IKE, RFC 7296 §1.3.2), a child SA rekey
// (N(REKEY_SA), §1.3.3) or a new child SA (§1.3.1).
func (sa *ikeSA) respondCreateChild(ps []wire.Payload) []wire.Payload {
	sap := find[*wire.SA](ps, nil)
	ni := find[*wire.Nonce](ps, nil)
	if sap == nil || ni == nil || len(sap.Proposals) == 0 {
		return []wire.Payload{wire.NewNotify(wire.NotifyInvalidSyntax, nil)}
	}
	if sap.Proposals[0].Protocol == wire.ProtocolIKE {
		return sa.respondRekeyIKE(sap, ni, find[*wire.KE](ps, nil))
	}
	rekey := wire.FindNotify(ps, wire.NotifyRekeySA)
	switch {
	case sa.successor != nil || (sa.closing && rekey != nil):
		// RFC 7296 §2.25, §2.25.1: the IKE SA was just rekeyed (its child
		// SAs moved to the new one), or is being closed with the child
		// SA: a temporary condition; the peer tries again later.
		return []wire.Payload{wire.NewNotify(wire.NotifyTemporaryFailure, nil)}
	case sa.closing:
		// RFC 7296 §3.10.1: the IKE SA is going away and takes no more
		// child SAs.
		return []wire.Payload{wire.NewNotify(wire.NotifyNoAdditionalSAs, nil)}
	}
	tsi := find[*wire.TrafficSelectors](ps, func(x *wire.TrafficSelectors) bool { return !x.Responder })
	tsr := find[*wire.TrafficSelectors](ps, func(x *wire.TrafficSelectors) bool { return x.Responder })
	if tsi == nil || tsr == nil {
		return []wire.Payload{wire.NewNotify(wire.NotifyInvalidSyntax, nil)}
	}
	req := childRequest{sap: sap, tsi: tsi.Selectors, tsr: tsr.Selectors, ke: find[*wire.KE](ps, nil),
		transport: wire.FindNotify(ps, wire.NotifyUseTransportMode) != nil, ni: ni.Data}
	var old *childSA
	if rekey != nil {
		if rekey.Protocol != wire.ProtocolESP || len(rekey.SPI) != 4 {
			return []wire.Payload{childNotFound(rekey)}
		}
		if old = sa.childByOut(binary.BigEndian.Uint32(rekey.SPI)); old == nil {
			// RFC 7296 §2.25: CHILD_SA_NOT_FOUND, the SPI copied.
			return []wire.Payload{childNotFound(rekey)}
		}
		if old.state == childDeleting || old.state == childRekeyed {
			// RFC 7296 §2.25.1: a child SA we are closing.
			return []wire.Payload{wire.NewNotify(wire.NotifyTemporaryFailure, nil)}
		}
		req.rekeyOf = old
	} else if len(sa.children) >= sa.w.e.maxChildSAs() {
		return []wire.Payload{wire.NewNotify(wire.NotifyNoAdditionalSAs, nil)}
	}
	req.nr = make([]byte, nonceLen)
	io.ReadFull(sa.w.e.o.Rand, req.nr)
	nonceI := bytes.Clone(ni.Data)
	req.created = func(c *childSA) {
		if old == nil {
			return
		}
		old.replaced = true
		if old.state == childRekeying {
			// RFC 7296 §2.8.1: we are rekeying it too; answer as usual
			// and let the nonces decide once ours completes.
			old.peerRekey, old.peerNonces = c, &[2][]byte{nonceI, req.nr}
		} else {
			old.state = childRekeyed // the initiator deletes it (§2.8)
		}
	}
	out, _ := sa.negotiateChild(req)
	if _, agreed := out[0].(*wire.SA); !agreed {
		return out
	}
	// SA, Nr, [KEr], TSi, TSr, [N(ADDITIONAL_KEY_EXCHANGE)] (RFC 7296
	// §1.3.1, RFC 9370 §2.2.4).
	return append([]wire.Payload{out[0], &wire.Nonce{Data: req.nr}}, out[1:]...)
}

func childNotFound(rekey *wire.Notify) *wire.Notify {
	return &wire.Notify{Protocol: rekey.Protocol, SPI: rekey.SPI, NotifyType: wire.NotifyChildSANotFound}
}

func (e *Engine) maxChildSAs() int {
	if e.o.MaxChildSAs > 0 {
		return e.o.MaxChildSAs
	}
	return DefaultMaxChildSAs
}

// hasChild reports whether the IKE SA has a live child SA of the policy or
// is about to create one.
func (sa *ikeSA) hasChild(policy string) bool {
	for _, c := range sa.children {
		if c.Policy == policy && (c.state == childInstalled || c.state == childRekeying) {
			return true
		}
	}
	return false
}

// plansChild reports whether the IKE SA has or will create a child SA of
// the policy.
func (sa *ikeSA) plansChild(policy string) bool {
	if sa.hasChild(policy) {
		return true
	}
	check := func(t task) bool {
		switch x := t.(type) {
		case *authTask:
			for _, p := range x.policies {
				if p.Name == policy {
					return true
				}
			}
		case *childCreateTask:
			return x.rekey == nil && x.policy.Name == policy
		}
		return false
	}
	if sa.outstanding(check) {
		return true
	}
	return slices.ContainsFunc(sa.tasks, check)
}

// queueFirst puts t at the head of the queue.
func (sa *ikeSA) queueFirst(t task) { sa.tasks = append([]task{t}, sa.tasks...) }
