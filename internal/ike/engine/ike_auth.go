package engine

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"secgw/internal/ipsec"

	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/proposal"
	"secgw/internal/ike/ts"
	"secgw/internal/ike/wire"
)

// authTask is the initiator's IKE_AUTH with a pre-shared key and the first
// child SA (RFC 7296 §1.2, §2.15):
//
//	HDR, SK {IDi, [IDr,] AUTH, SAi2, TSi, TSr}  -->
//	                      <--  HDR, SK {IDr, AUTH, SAr2, TSi, TSr}
type authTask struct {
	idi *wire.Identification
	// policies are the security policies to set up child SAs for: the
	// first in IKE_AUTH, the others with CREATE_CHILD_SA once the IKE SA
	// is up (RFC 7296 §1.3.1). None makes a childless IKE SA (RFC 6023).
	policies []config.SecurityPolicy
	// hint is the packet that triggered the negotiation (an acquire),
	// if any: its addresses go first in TSi and TSr (RFC 7296 §2.9).
	hint   *Packet
	policy config.SecurityPolicy
	spi    uint32
	offer  []wire.Proposal
	tsi    []ipsec.TrafficSelector
	tsr    []ipsec.TrafficSelector
	// ppk holds SK_d', SK_pi' and SK_pr' while the IKE_AUTH request
	// authenticated with the PPK is outstanding (RFC 8784 §3); nil
	// without PPK.
	ppk *ikecrypto.IKEKeys
}

func (t *authTask) exchange() wire.ExchangeType { return wire.ExchangeIKEAuth }

func localIdentity(sa *ikeSA, v *config.VPN) config.Identity {
	if !v.LocalID.IsZero() {
		return v.LocalID
	}
	if id, ok := sa.certIdentity(v); ok {
		return id // auth_cert.go
	}
	return config.AddrIdentity(sa.local.Addr())
}

func (t *authTask) build(sa *ikeSA) ([]wire.Payload, error) {
	v := sa.vpn
	t.idi = localIdentity(sa, v).Payload(false)
	body, _ := t.idi.AppendBody(nil)
	skpi := sa.keys().SKpi
	if sa.usePPK {
		// RFC 8784 §3: AUTH with SK_pi' = prf+(PPK, SK_pi).
		if t.ppk != nil {
			t.ppk.Clear()
		}
		var err error
		if t.ppk, err = sa.ppkKeys(v.PPK.Secret); err != nil {
			return nil, err
		}
		skpi = t.ppk.SKpi
	}
	auth, err := sa.localAuth(v, sa.signedOctets(skpi, sa.initRequest, sa.nr, body)) // CERTs and AUTH (auth_cert.go)
	if err != nil {
		return nil, err
	}
	// RFC 7296 §1.2: IDi, [CERT,] [CERTREQ,] [IDr,] AUTH.
	ps := []wire.Payload{t.idi}
	ps = append(ps, auth[:len(auth)-1]...)
	ps = append(ps, sa.certReq(v)...)
	if !v.RemoteID.IsZero() {
		ps = append(ps, v.RemoteID.Payload(true))
	}
	ps = append(ps, auth[len(auth)-1])
	if sa.usePPK {
		ps = append(ps, wire.NewNotify(wire.NotifyPPKIdentity, ppkIdentity(v.PPK.ID)))
		if !v.RequirePPK {
			// RFC 8784 §3: with an optional PPK, NO_PPK_AUTH carries
			// the Authentication Data computed with SK_pi, for a
			// responder that does not have this PPK.
			noPPK := ikecrypto.AuthPSK(sa.prf(), v.PSK, sa.signedOctets(sa.keys().SKpi, sa.initRequest, sa.nr, body))
			ps = append(ps, wire.NewNotify(wire.NotifyNoPPKAuth, noPPK))
		}
	}
	ps = append(ps, sa.initialContact()...) // RFC 7296 §2.4 (unique.go)
	ps = append(ps, sa.windowNotify()...)   // RFC 7296 §2.3 (window.go)
	ps = append(ps, sa.mobikeNotify()...)   // RFC 4555 §3.3 (mobike.go)
	if len(v.VIPRequest()) > 0 {
		ps = append(ps, cpRequest(v.VIPRequest())) // RFC 7296 §2.19 (vip.go)
	}
	offer := sa.w.e.espOffer(proposal.WithoutKE(v.ESPProposals))
	if len(t.policies) > 0 && len(offer) == 0 {
		// Nothing we could install: no child SA is offered, the IKE SA
		// comes up childless (RFC 6023) and each policy fails.
		for _, p := range t.policies {
			sa.w.e.childFailed(sa, p.Name, noESPOffer(sa, p.Name))
		}
		t.policies = nil
	}
	if len(t.policies) > 0 {
		t.policy = t.policies[0]
		if t.spi == 0 {
			t.spi = sa.w.e.newChildSPI()
		}
		t.offer = withSPI(offer, t.spi)
		t.tsi, t.tsr = policySelectors(t.policy, t.hint)
		ps = append(ps, &wire.SA{Proposals: t.offer},
			&wire.TrafficSelectors{Selectors: t.tsi},
			&wire.TrafficSelectors{Responder: true, Selectors: t.tsr})
		if t.policy.Mode == config.ModeTransport {
			ps = append(ps, wire.NewNotify(wire.NotifyUseTransportMode, nil))
		}
	}
	return ps, nil
}

func (t *authTask) process(sa *ikeSA, m *wire.Message, ps []wire.Payload) error {
	if n := wire.FindNotify(ps, wire.NotifyAuthenticationFailed); n != nil {
		return notifyErr(wire.NotifyAuthenticationFailed, "peer rejected our authentication")
	}
	idr := find[*wire.Identification](ps, func(id *wire.Identification) bool { return id.Responder })
	auth := find[*wire.Auth](ps, nil)
	if idr == nil || auth == nil {
		if n := wire.FirstError(ps); n != nil {
			return &NotifyError{Type: n.NotifyType, Reason: "IKE_AUTH refused by peer"}
		}
		return notifyErr(wire.NotifyInvalidSyntax, "IKE_AUTH response lacks IDr or AUTH")
	}
	v := sa.vpn
	if !v.RemoteID.IsZero() && !v.RemoteID.Matches(idr) {
		return notifyErr(wire.NotifyAuthenticationFailed, "peer identity does not match remote-id")
	}
	ppk := t.ppk
	t.ppk = nil
	defer func() {
		if ppk != nil {
			ppk.Clear()
		}
	}()
	skpr := sa.keys().SKpr
	if ppk != nil {
		// RFC 8784 §3: the responder's PPK_IDENTITY says it used the
		// PPK; without it, it authenticated with NO_PPK_AUTH.
		if wire.FindNotify(ps, wire.NotifyPPKIdentity) != nil {
			skpr = ppk.SKpr
		} else if v.RequirePPK {
			return ppkRequired("the peer did not use the PPK (no PPK_IDENTITY in its IKE_AUTH response)")
		} else {
			sa.log().Info("the peer did not use the PPK: proceeding without", "ppk", v.PPK.Name)
			ppk.Clear()
			ppk = nil
		}
	}
	so := sa.signedOctets(skpr, sa.initResponse, sa.ni, idr.SignedOctets())
	if err := sa.verifyPeerAuth(v, ps, idr, auth, so); err != nil { // auth_cert.go
		return notifyErr(wire.NotifyAuthenticationFailed, "%v", err)
	}
	if n := wire.FindNotify(ps, wire.NotifyRedirect); n != nil && v.FollowRedirect {
		if ok, err := t.authRedirect(sa, m, n); ok {
			return err // RFC 5685 (redirect.go)
		}
	}
	if ppk != nil {
		sa.commitPPK(ppk, v.PPK.Name)
		ppk = nil
	}
	sa.peerWindowFrom(ps) // window.go
	sa.setEstablished()
	sa.established, sa.peerID = sa.w.e.mono(), config.Identity{Type: idr.IDType, Data: bytes.Clone(idr.Data)}
	sa.log().Info("IKE SA established", "peer-id", sa.peerID.String())
	sa.w.e.emit(Event{Kind: IKEUp, SA: sa.uid, VPN: sa.vpn.Name})
	sa.startIKETimers()
	sa.uniqueEstablished(wire.FindNotify(ps, wire.NotifyInitialContact) != nil) // unique.go
	sa.mobikeNegotiated(ps)                                                     // mobike.go
	defer sa.authDone()                                                         // the child SA of IKE_AUTH still needs the nonces
	if !sa.processCPReply(ps) {
		// We asked for a virtual IP and got none (vip.go): the child
		// SAs would name no address of ours. RFC 7296 §3.15.4 leaves
		// it to us; like strongSwan, the IKE SA is deleted.
		why := "no virtual IP received"
		if n := wire.FindNotify(ps, wire.NotifyInternalAddressFailure); n != nil {
			why += ": INTERNAL_ADDRESS_FAILURE"
			sa.lastError = wire.NotifyInternalAddressFailure
		}
		sa.log().Warn("deleting the IKE SA: " + why)
		sa.failure = why
		for _, p := range t.policies {
			sa.w.e.childFailed(sa, p.Name, why)
		}
		if t.offer != nil {
			sa.w.e.releaseSPI(t.spi)
			if find[*wire.SA](ps, nil) != nil {
				sa.queueFirst(&deleteTask{child: t.spi, orphan: true})
			}
		}
		sa.queue(&deleteTask{ike: true})
		sa.childrenDone()
		return nil
	}
	if t.offer == nil {
		sa.childrenDone()
		return nil
	}
	// The other policies get their child SAs by CREATE_CHILD_SA.
	for _, p := range t.policies[1:] {
		sa.pendingChildren++
		sa.queue(&childCreateTask{policy: p, counted: true})
	}
	t.processChild(sa, ps)
	sa.childrenDone()
	return nil
}

// processChild installs the child SA of the IKE_AUTH response. A child SA
// failure leaves the IKE SA up (RFC 7296 §2.21.3).
func (t *authTask) processChild(sa *ikeSA, ps []wire.Payload) {
	if n := wire.FirstError(ps); n != nil {
		sa.lastError = n.NotifyType
		sa.childLog().Info("first child SA refused", "notify", n.NotifyType)
		sa.w.e.childFailed(sa, t.policy.Name, n.NotifyType.String())
		sa.w.e.releaseSPI(t.spi)
		return
	}
	sap := find[*wire.SA](ps, nil)
	tsi := find[*wire.TrafficSelectors](ps, func(x *wire.TrafficSelectors) bool { return !x.Responder })
	tsr := find[*wire.TrafficSelectors](ps, func(x *wire.TrafficSelectors) bool { return x.Responder })
	if sap == nil || tsi == nil || tsr == nil {
		sa.childLog().Info("IKE_AUTH response without child SA")
		sa.w.e.childFailed(sa, t.policy.Name, "no child SA in the IKE_AUTH response")
		sa.w.e.releaseSPI(t.spi)
		return
	}
	chosen, ok := proposal.Single(t.offer, sap.Proposals)
	if !ok || len(chosen.SPI) != 4 || !ts.Subset(tsi.Selectors, t.tsi) || !ts.Subset(tsr.Selectors, t.tsr) {
		// RFC 7296 §2.9: the responder may only narrow.
		sa.lastError = wire.NotifyTSUnacceptable
		sa.childLog().Info("peer answered with an unacceptable child SA")
		sa.w.e.childFailed(sa, t.policy.Name, failureReason(0))
		sa.w.e.releaseSPI(t.spi)
		// The peer may have installed its half: delete it.
		sa.queueFirst(&deleteTask{child: t.spi, orphan: true})
		return
	}
	// RFC 7296 §2.19: our side of the child SA is the virtual IP we
	// received, whatever wider TSi the responder left (vip.go).
	mine := narrowToVIPs(tsi.Selectors, sa.localVIPs())
	if len(mine) == 0 {
		sa.lastError = wire.NotifyTSUnacceptable
		sa.childLog().Info("the responder's TSi does not cover our virtual IP")
		sa.w.e.childFailed(sa, t.policy.Name, "TSi does not cover the virtual IP")
		sa.w.e.releaseSPI(t.spi)
		sa.queueFirst(&deleteTask{child: t.spi, orphan: true})
		return
	}
	_, err := sa.installChild(childParams{policy: t.policy, proposal: chosen, inSPI: t.spi,
		outSPI: binary.BigEndian.Uint32(chosen.SPI), tsi: mine, tsr: tsr.Selectors,
		ni: sa.ni, nr: sa.nr, initiator: true})
	if err != nil {
		// Our side cannot carry what was agreed (the dataplane refused
		// the suite, say): not the peer's fault. The IKE SA stays up
		// (RFC 7296 §2.21.3) and the peer is told to delete its half,
		// so that it keeps no dead tunnel.
		sa.childLog().Warn("cannot install the child SA of IKE_AUTH: deleting it on the peer",
			"policy", t.policy.Name, "err", err)
		sa.w.e.childFailed(sa, t.policy.Name, "cannot install: "+err.Error())
		sa.w.e.releaseSPI(t.spi)
		sa.queueFirst(&deleteTask{child: t.spi, orphan: true})
	}
}

// policySelectors are the TSi and TSr we propose for a policy: its
// selectors, preceded by the addresses of the packet that triggered the
// negotiation, if any (RFC 7296 §2.9).
func policySelectors(p config.SecurityPolicy, hint *Packet) (tsi, tsr []ipsec.TrafficSelector) {
	if hint != nil && hint.Src.IsValid() && hint.Dst.IsValid() {
		tsi = append(tsi, hint.selector(true))
		tsr = append(tsr, hint.selector(false))
	}
	return append(tsi, p.Local.TS()), append(tsr, p.Remote.TS())
}

// respondAuth is the responder's IKE_AUTH: pick the VPN by identity among
// those matching the peer's address, verify AUTH, answer with ours, then
// try to create the first child SA. ok false means no response now: the
// peer's key was asked from the AAA server (psk_aaa.go: resumePSKAAA
// answers), or the request is a retransmission of one that waits for it.
func (sa *ikeSA) respondAuth(d Datagram, m *wire.Message, ps []wire.Payload) (resp []wire.Payload, ok bool) {
	if sa.pskAAAWaiting(m) {
		return nil, false
	}
	idi := find[*wire.Identification](ps, func(id *wire.Identification) bool { return !id.Responder })
	idr := find[*wire.Identification](ps, func(id *wire.Identification) bool { return id.Responder })
	auth := find[*wire.Auth](ps, nil)
	if idi == nil || auth == nil {
		sa.closeAfterResponse = true
		return []wire.Payload{wire.NewNotify(wire.NotifyInvalidSyntax, nil)}, true
	}
	sa.certReceived(ps) // auth_cert.go
	so := sa.signedOctets(sa.keys().SKpi, sa.initRequest, sa.nr, idi.SignedOctets())
	vpn, ppk, ppkWhy := sa.authenticatePeer(ps, idi, idr, auth, so)
	if vpn == nil {
		// No VPN of our own keys: one whose keys the RADIUS servers
		// hold, if any (pre-shared-key-radius).
		if v := sa.pskAAAVPN(idi, idr, auth); v != nil {
			return sa.startPSKAAA(d, m, v, ps, idi, auth)
		}
	}
	if vpn == nil {
		// RFC 7296 §2.21.2: AUTHENTICATION_FAILED, and the IKE SA is gone.
		sa.lastError = wire.NotifyAuthenticationFailed
		peer := config.Identity{Type: idi.IDType, Data: idi.Data}.String()
		reason := "no VPN of the peer's address accepts its identity and AUTH"
		if ppkWhy != "" {
			// RFC 8784 §3: a PPK was required and not used.
			sa.failure = wire.NotifyAuthenticationFailed.String() + " sent: PPK required: " + ppkWhy
			reason = "PPK required: " + ppkWhy
		} else if why := sa.cert.why; why != nil {
			// auth_cert.go: the certificate's reason, counted apart
			// when it expired.
			sa.failure = wire.NotifyAuthenticationFailed.String() + " sent: " + why.Error()
			reason = why.Error()
		}
		sa.w.e.refused(slog.LevelInfo, wire.NotifyAuthenticationFailed, "authentication of peer failed", sa.remote, "exchange", "IKE_AUTH",
			"unique-id", sa.uid, "peer-id", peer, "auth-method", authMethodName(auth.Method), "reason", reason)
		sa.closeAfterResponse = true
		return []wire.Payload{wire.NewNotify(wire.NotifyAuthenticationFailed, nil)}, true
	}
	return sa.acceptPeer(vpn, ppk, ps, idi, auth, nil), true
}

// acceptPeer establishes the IKE SA of a peer authenticated for vpn (with
// the PPK ppk, nil: none; by the AAA server's key, via, nil: by the
// VPN's own credentials) and answers its IKE_AUTH request ps: our
// identity and AUTH, then the configuration reply and the first child SA.
func (sa *ikeSA) acceptPeer(vpn *config.VPN, ppk *chosenPPK, ps []wire.Payload, idi *wire.Identification, auth *wire.Auth, via *pskAAAAuth) []wire.Payload {
	ic := wire.FindNotify(ps, wire.NotifyInitialContact) != nil
	if sa.uniqueRefuses(vpn, config.Identity{Type: idi.IDType, Data: idi.Data}, ic) {
		// unique-sa keep (unique.go); RFC 7296 §2.21.2.
		sa.lastError = wire.NotifyAuthenticationFailed
		sa.w.e.refused(slog.LevelInfo, wire.NotifyAuthenticationFailed, "IKE SA refused by unique-sa keep", sa.remote, "exchange", "IKE_AUTH",
			"unique-id", sa.uid, "vpn", vpn.Name, "peer-id", config.Identity{Type: idi.IDType, Data: idi.Data}.String(),
			"auth-method", authMethodName(auth.Method), "reason", "unique-sa keep: the identity has an IKE SA")
		sa.closeAfterResponse = true
		return []wire.Payload{wire.NewNotify(wire.NotifyAuthenticationFailed, nil)}
	}
	sa.w.setVPN(sa, vpn)
	myID := localIdentity(sa, vpn).Payload(true)
	body, _ := myID.AppendBody(nil)
	skpr := sa.keys().SKpr
	if ppk != nil {
		skpr = ppk.keys.SKpr // RFC 8784 §3: our AUTH with SK_pr'
	}
	myAuth, err := sa.localAuth(via.ourVPN(vpn), sa.signedOctets(skpr, sa.initResponse, sa.ni, body)) // CERTs and AUTH (auth_cert.go)
	if err != nil {
		sa.log().Warn("cannot authenticate ourselves", "err", err)
		sa.lastError = wire.NotifyAuthenticationFailed
		sa.failure = wire.NotifyAuthenticationFailed.String() + " sent: " + err.Error()
		sa.closeAfterResponse = true
		if ppk != nil {
			ppk.keys.Clear()
		}
		return []wire.Payload{wire.NewNotify(wire.NotifyAuthenticationFailed, nil)}
	}
	if ppk != nil {
		sa.commitPPK(ppk.keys, ppk.name)
	}
	sa.setEstablished()
	sa.endHalfOpen()
	sa.established, sa.peerID = sa.w.e.mono(), config.Identity{Type: idi.IDType, Data: bytes.Clone(idi.Data)}
	sa.log().Info("IKE SA established", "peer-id", sa.peerID.String())
	sa.w.e.emit(Event{Kind: IKEUp, SA: sa.uid, VPN: sa.vpn.Name})
	sa.startIKETimers()
	sa.uniqueEstablished(ic) // unique.go
	// IDr, [CERT,] AUTH (RFC 7296 §1.2)
	resp := append([]wire.Payload{myID}, myAuth...)
	sa.peerWindowFrom(ps)                     // window.go
	resp = append(resp, sa.windowNotify()...) // RFC 7296 §2.3
	if sa.mobikeNegotiated(ps); sa.mobike {
		resp = append(resp, sa.mobikeNotify()...) // RFC 4555 §3.3: only to an initiator that announced it
	}
	if ppk != nil {
		// RFC 8784 §3: an empty PPK_IDENTITY says the PPK was used.
		resp = append(resp, wire.NewNotify(wire.NotifyPPKIdentity, nil))
	}
	if n := sa.authRedirectResponse(vpn); n != nil {
		// RFC 5685: no child SA; the initiator deletes the IKE SA, or
		// it goes after redirectGrace (redirect.go).
		sa.stopIKETimers()
		sa.armIKETimer(timerIKEExpire, redirectGrace)
		resp = append(resp, n)
	} else if cp, child := sa.respondCPVia(ps, via); !child {
		resp = append(resp, cp...) // INTERNAL_ADDRESS_FAILURE: no child SA (RFC 7296 §3.10.1)
	} else {
		resp = append(resp, cp...) // the CFG_REPLY (vip.go)
		resp = append(resp, sa.respondChild(ps)...)
	}
	if via != nil {
		sa.aaaStart(vpn, via.user, via.attrs) // accounting (eap_acct.go), with the virtual IPs given
	}
	sa.authDone()
	return resp
}

// acceptedIKE rebuilds the accepted IKE proposal from the suite, to check
// that a VPN picked by identity also accepts it.
func (sa *ikeSA) acceptedIKE() wire.Proposal {
	p := wire.Proposal{Number: 1, Protocol: wire.ProtocolIKE}
	enc := wire.Transform{Type: ipsec.TransformEncr, ID: sa.suite.Encr}
	if sa.suite.KeyBits != 0 {
		enc.Attributes = []wire.TransformAttribute{wire.KeyLengthAttribute(uint16(sa.suite.KeyBits))}
	}
	p.Transforms = append(p.Transforms, enc, wire.Transform{Type: ipsec.TransformPRF, ID: sa.suite.PRF})
	if sa.suite.Integ != ipsec.IntegNone {
		p.Transforms = append(p.Transforms, wire.Transform{Type: ipsec.TransformInteg, ID: sa.suite.Integ})
	}
	// The additional key exchanges are checked (RFC 9370): a VPN that
	// requires one does not take an IKE SA set up without it under
	// another VPN's proposal.
	p.Transforms = append(p.Transforms, sa.addKETransforms...)
	return p // KE is not checked: the group was agreed in IKE_SA_INIT
}

// respondChild negotiates the child SA carried by IKE_AUTH, if any
// (RFC 7296 §1.2; none is childless, RFC 6023).
func (sa *ikeSA) respondChild(ps []wire.Payload) []wire.Payload {
	sap := find[*wire.SA](ps, nil)
	tsi := find[*wire.TrafficSelectors](ps, func(x *wire.TrafficSelectors) bool { return !x.Responder })
	tsr := find[*wire.TrafficSelectors](ps, func(x *wire.TrafficSelectors) bool { return x.Responder })
	if sap == nil || tsi == nil || tsr == nil {
		return nil // childless (RFC 6023) or malformed: no child SA
	}
	out, _ := sa.negotiateChild(childRequest{sap: sap, tsi: tsi.Selectors, tsr: tsr.Selectors,
		transport: wire.FindNotify(ps, wire.NotifyUseTransportMode) != nil, ni: sa.ni, nr: sa.nr, auth: true})
	return out
}

// narrow is the responder's narrowing of offered selectors to one allowed
// selector (RFC 7296 §2.9), without the selectors another one of the
// result covers (the packet's addresses that an acquire put first, when
// the whole policy is acceptable).
func narrow(offered []ipsec.TrafficSelector, allowed ipsec.TrafficSelector) []ipsec.TrafficSelector {
	n := ts.Narrow(offered, []ipsec.TrafficSelector{allowed})
	out := n[:0:0]
	for i, x := range n {
		covered := false
		for j, y := range n {
			if i != j && ts.Covers(y, x) && (!ts.Covers(x, y) || j < i) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, x)
		}
	}
	return out
}

func theirSPI(ps []wire.Proposal, num uint8) []byte {
	for _, p := range ps {
		if p.Number == num {
			return p.SPI
		}
	}
	return nil
}

func withSPI(ps []wire.Proposal, spi uint32) []wire.Proposal {
	for i := range ps {
		ps[i].SPI = binary.BigEndian.AppendUint32(nil, spi)
	}
	return ps
}
