package engine

import (
	"bytes"
	"encoding/binary"
	"io"
	"time"

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
	idi    *wire.Identification
	policy config.SecurityPolicy
	spi    uint32
	offer  []wire.Proposal
	tsi    []wire.TrafficSelector
	tsr    []wire.TrafficSelector
}

func (t *authTask) exchange() wire.ExchangeType { return wire.ExchangeIKEAuth }

func localIdentity(sa *ikeSA, v *config.VPN) config.Identity {
	if !v.LocalID.IsZero() {
		return v.LocalID
	}
	return config.AddrIdentity(sa.local.Addr())
}

func (t *authTask) build(sa *ikeSA) ([]wire.Payload, error) {
	v := sa.vpn
	t.idi = localIdentity(sa, v).Payload(false)
	body, _ := t.idi.AppendBody(nil)
	auth := ikecrypto.AuthPSK(sa.prf, v.PSK, ikecrypto.SignedOctets(sa.prf, sa.keys.SKpi, sa.initRequest, sa.nr, body))
	ps := []wire.Payload{t.idi}
	if !v.RemoteID.IsZero() {
		ps = append(ps, v.RemoteID.Payload(true))
	}
	ps = append(ps, &wire.Auth{Method: wire.AuthSharedKeyMIC, Data: auth})
	if len(v.Policies) > 0 {
		t.policy = v.Policies[0]
		t.spi = sa.e.newChildSPI()
		t.offer = withSPI(proposal.WithoutKE(v.ESPProposals), t.spi)
		t.tsi = []wire.TrafficSelector{t.policy.Local}
		t.tsr = []wire.TrafficSelector{t.policy.Remote}
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
	if n := findNotify(ps, wire.NotifyAuthenticationFailed); n != nil {
		return notifyErr(wire.NotifyAuthenticationFailed, "peer rejected our authentication")
	}
	idr := find[*wire.Identification](ps, func(id *wire.Identification) bool { return id.Responder })
	auth := find[*wire.Auth](ps, nil)
	if idr == nil || auth == nil {
		if n := firstError(ps); n != nil {
			return &NotifyError{Type: n.NotifyType, Reason: "IKE_AUTH refused by peer"}
		}
		return notifyErr(wire.NotifyInvalidSyntax, "IKE_AUTH response lacks IDr or AUTH")
	}
	v := sa.vpn
	if !v.RemoteID.IsZero() && !v.RemoteID.Matches(idr) {
		return notifyErr(wire.NotifyAuthenticationFailed, "peer identity does not match remote-id")
	}
	so := ikecrypto.SignedOctets(sa.prf, sa.keys.SKpr, sa.initResponse, sa.ni, idr.SignedOctets())
	if auth.Method != wire.AuthSharedKeyMIC || !ikecrypto.VerifyAuthPSK(sa.prf, v.PSK, so, auth.Data) {
		return notifyErr(wire.NotifyAuthenticationFailed, "peer AUTH does not verify")
	}
	sa.state = stateEstablished
	sa.established, sa.peerID = time.Now(), config.Identity{Type: idr.IDType, Data: bytes.Clone(idr.Data)}
	sa.log.Info("IKE SA established", "peer-id", sa.peerID.String())
	sa.e.emit(Event{Kind: IKEUp, SA: sa.uid, VPN: sa.vpn.Name})
	if t.offer == nil {
		return nil
	}
	// RFC 7296 §2.21.3: a child SA failure leaves the IKE SA up.
	if n := firstError(ps); n != nil {
		sa.lastError = n.NotifyType
		sa.log.Info("first child SA refused", "subsystem", "child", "notify", n.NotifyType)
		return nil
	}
	sap := find[*wire.SA](ps, nil)
	tsi := find[*wire.TrafficSelectors](ps, func(x *wire.TrafficSelectors) bool { return !x.Responder })
	tsr := find[*wire.TrafficSelectors](ps, func(x *wire.TrafficSelectors) bool { return x.Responder })
	if sap == nil || tsi == nil || tsr == nil {
		sa.log.Info("IKE_AUTH response without child SA", "subsystem", "child")
		return nil
	}
	chosen, ok := proposal.Single(t.offer, sap.Proposals)
	if !ok || len(chosen.SPI) != 4 || !ts.Subset(tsi.Selectors, t.tsi) || !ts.Subset(tsr.Selectors, t.tsr) {
		// RFC 7296 §2.9: the responder may only narrow.
		sa.lastError = wire.NotifyTSUnacceptable
		sa.log.Info("peer answered with an unacceptable child SA", "subsystem", "child")
		return nil
	}
	return sa.installChild(t.policy, chosen, t.spi, binary.BigEndian.Uint32(chosen.SPI), tsi.Selectors, tsr.Selectors)
}

// respondAuth is the responder's IKE_AUTH: pick the VPN by identity among
// those matching the peer's address, verify AUTH, answer with ours, then
// try to create the first child SA.
func (sa *ikeSA) respondAuth(d Datagram, ps []wire.Payload) []wire.Payload {
	idi := find[*wire.Identification](ps, func(id *wire.Identification) bool { return !id.Responder })
	idr := find[*wire.Identification](ps, func(id *wire.Identification) bool { return id.Responder })
	auth := find[*wire.Auth](ps, nil)
	if idi == nil || auth == nil {
		sa.closeAfterResponse = true
		return []wire.Payload{wire.NewNotify(wire.NotifyInvalidSyntax, nil)}
	}
	so := ikecrypto.SignedOctets(sa.prf, sa.keys.SKpi, sa.initRequest, sa.nr, idi.SignedOctets())
	var vpn *config.VPN
	for _, v := range sa.candidates {
		if !v.RemoteID.IsZero() && !v.RemoteID.Matches(idi) {
			continue
		}
		if idr != nil && !v.LocalID.IsZero() && !v.LocalID.Matches(idr) {
			continue
		}
		if _, ok := proposal.Select(v.IKEProposals, []wire.Proposal{sa.acceptedIKE()}, proposal.Options{IgnoreKE: true}); !ok {
			continue
		}
		if len(v.PSK) > 0 && auth.Method == wire.AuthSharedKeyMIC && ikecrypto.VerifyAuthPSK(sa.prf, v.PSK, so, auth.Data) {
			vpn = v
			break
		}
	}
	if vpn == nil {
		// RFC 7296 §2.21.2: AUTHENTICATION_FAILED, and the IKE SA is gone.
		sa.lastError = wire.NotifyAuthenticationFailed
		sa.log.Info("authentication of peer failed", "peer-id", config.Identity{Type: idi.IDType, Data: idi.Data}.String())
		sa.closeAfterResponse = true
		return []wire.Payload{wire.NewNotify(wire.NotifyAuthenticationFailed, nil)}
	}
	sa.vpn = vpn
	sa.log = sa.e.saLogger(sa).With("spir", spiString(sa.spir))
	myID := localIdentity(sa, vpn).Payload(true)
	body, _ := myID.AppendBody(nil)
	myAuth := ikecrypto.AuthPSK(sa.prf, vpn.PSK, ikecrypto.SignedOctets(sa.prf, sa.keys.SKpr, sa.initResponse, sa.ni, body))
	sa.state = stateEstablished
	if sa.haveHalfOpen {
		delete(sa.e.halfOpen, sa.halfOpenKey)
		sa.haveHalfOpen = false
	}
	sa.established, sa.peerID = time.Now(), config.Identity{Type: idi.IDType, Data: bytes.Clone(idi.Data)}
	sa.log.Info("IKE SA established", "peer-id", sa.peerID.String())
	sa.e.emit(Event{Kind: IKEUp, SA: sa.uid, VPN: sa.vpn.Name})
	resp := []wire.Payload{myID, &wire.Auth{Method: wire.AuthSharedKeyMIC, Data: myAuth}}
	return append(resp, sa.respondChild(ps)...)
}

// acceptedIKE rebuilds the accepted IKE proposal from the suite, to check
// that a VPN picked by identity also accepts it.
func (sa *ikeSA) acceptedIKE() wire.Proposal {
	p := wire.Proposal{Number: 1, Protocol: wire.ProtocolIKE}
	enc := wire.Transform{Type: wire.TransformEncr, ID: sa.suite.Encr}
	if sa.suite.KeyBits != 0 {
		enc.Attributes = []wire.TransformAttribute{wire.KeyLengthAttribute(uint16(sa.suite.KeyBits))}
	}
	p.Transforms = append(p.Transforms, enc, wire.Transform{Type: wire.TransformPRF, ID: sa.suite.PRF})
	if sa.suite.Integ != wire.IntegNone {
		p.Transforms = append(p.Transforms, wire.Transform{Type: wire.TransformInteg, ID: sa.suite.Integ})
	}
	return p // KE is not checked: the group was agreed in IKE_SA_INIT
}

// respondChild negotiates the child SA carried by IKE_AUTH: proposal
// (ignoring KE transforms) and traffic selector narrowing against the
// VPN's security policies in name order (RFC 7296 §2.9). Failures are
// answered with NO_PROPOSAL_CHOSEN or TS_UNACCEPTABLE (§2.21.3).
func (sa *ikeSA) respondChild(ps []wire.Payload) []wire.Payload {
	sap := find[*wire.SA](ps, nil)
	tsi := find[*wire.TrafficSelectors](ps, func(x *wire.TrafficSelectors) bool { return !x.Responder })
	tsr := find[*wire.TrafficSelectors](ps, func(x *wire.TrafficSelectors) bool { return x.Responder })
	if sap == nil || tsi == nil || tsr == nil {
		return nil // childless (RFC 6023) or malformed: no child SA
	}
	chosen, ok := proposal.Select(proposal.WithoutKE(sa.vpn.ESPProposals), sap.Proposals, proposal.Options{IgnoreKE: true})
	if !ok || len(theirSPI(sap.Proposals, chosen.Number)) != 4 {
		sa.lastError = wire.NotifyNoProposalChosen
		return []wire.Payload{wire.NewNotify(wire.NotifyNoProposalChosen, nil)}
	}
	transport := findNotify(ps, wire.NotifyUseTransportMode) != nil
	for _, pol := range sa.vpn.Policies {
		if (pol.Mode == config.ModeTransport) != transport {
			continue
		}
		ni := ts.Narrow(tsi.Selectors, []wire.TrafficSelector{pol.Remote})
		nr := ts.Narrow(tsr.Selectors, []wire.TrafficSelector{pol.Local})
		if len(ni) == 0 || len(nr) == 0 {
			continue
		}
		peerSPI := binary.BigEndian.Uint32(theirSPI(sap.Proposals, chosen.Number))
		mySPI := sa.e.newChildSPI()
		chosen.SPI = binary.BigEndian.AppendUint32(nil, mySPI)
		if err := sa.installChild(pol, chosen, mySPI, peerSPI, ni, nr); err != nil {
			sa.log.Warn("cannot install child SA", "subsystem", "child", "err", err)
			return []wire.Payload{wire.NewNotify(wire.NotifyNoProposalChosen, nil)}
		}
		out := []wire.Payload{&wire.SA{Proposals: []wire.Proposal{chosen}},
			&wire.TrafficSelectors{Selectors: ni}, &wire.TrafficSelectors{Responder: true, Selectors: nr}}
		if transport {
			out = append(out, wire.NewNotify(wire.NotifyUseTransportMode, nil))
		}
		return out
	}
	sa.lastError = wire.NotifyTSUnacceptable
	sa.log.Info("no security policy matches the proposed selectors", "subsystem", "child")
	return []wire.Payload{wire.NewNotify(wire.NotifyTSUnacceptable, nil)}
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

// newChildSPI returns a random ESP SPI above 255 (RFC 4303 §2.1 reserves
// 1..255) not used by another child SA of the engine.
func (e *Engine) newChildSPI() uint32 {
	for {
		var b [4]byte
		io.ReadFull(e.o.Rand, b[:])
		spi := binary.BigEndian.Uint32(b[:])
		if spi < 256 {
			continue
		}
		used := false
		for _, sa := range e.sas {
			used = used || sa.child(spi) != nil
		}
		if !used {
			return spi
		}
	}
}

// installChild derives the child SA keys (RFC 7296 §2.17, KEYMAT = prf+(SK_d,
// Ni | Nr) for the child of IKE_AUTH) and gives the SA to the dataplane.
// tsi and tsr are the selectors as the initiator names them.
func (sa *ikeSA) installChild(pol config.SecurityPolicy, p wire.Proposal, inSPI, outSPI uint32, tsi, tsr []wire.TrafficSelector) error {
	enc, _ := proposal.Transform(p, wire.TransformEncr)
	integ, _ := proposal.Transform(p, wire.TransformInteg)
	esn, _ := proposal.Transform(p, wire.TransformESN)
	bits, _ := enc.KeyLength()
	suite, err := ikecrypto.NewESPSuite(enc.ID, int(bits), integ.ID, wire.GroupNone)
	if err != nil {
		return err
	}
	keys, err := ikecrypto.DeriveChildKeys(sa.prf, sa.keys.SKd, suite, nil, sa.ni, sa.nr)
	if err != nil {
		return err
	}
	c := ChildSA{
		VPN: sa.vpn.Name, Policy: pol.Name, IKESPIi: sa.spii, IKESPIr: sa.spir,
		Local: sa.local, Remote: sa.remote, Encap: sa.natLocal || sa.natRemote,
		UniqueID: sa.e.nextUID(), InSPI: inSPI, OutSPI: outSPI, Suite: suite, ESN: esn.ID == wire.ESNEnabled,
		Mode: pol.Mode, Lifetimes: sa.vpn.Child,
	}
	i, r := DirKeys{Encr: keys.EncrI, Integ: keys.IntegI}, DirKeys{Encr: keys.EncrR, Integ: keys.IntegR}
	if sa.initiator {
		c.Out, c.In = i, r
		c.LocalTS, c.RemoteTS = tsi, tsr
	} else {
		c.In, c.Out = i, r
		c.LocalTS, c.RemoteTS = tsr, tsi
	}
	if err := sa.e.o.Dataplane.InstallChild(c); err != nil {
		return err
	}
	sa.children = append(sa.children, &childSA{ChildSA: c, installed: time.Now()})
	sa.e.emit(Event{Kind: ChildUp, SA: sa.uid, Child: c.UniqueID, VPN: c.VPN, Policy: c.Policy})
	sa.log.Info("child SA installed", "subsystem", "child", "policy", pol.Name,
		"in", spi32(inSPI), "out", spi32(outSPI), "suite", suite.String())
	sa.log.Log(nil, LevelKeys, "child SA keys", "subsystem", "child", "in", spi32(inSPI), "encr_in", c.In.Encr,
		"integ_in", c.In.Integ, "encr_out", c.Out.Encr, "integ_out", c.Out.Integ)
	return nil
}

func spi32(s uint32) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = hex[s&15]
		s >>= 4
	}
	return string(b)
}
