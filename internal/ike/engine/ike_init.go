package engine

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"secgw/internal/ipsec"

	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/proposal"
	"secgw/internal/ike/wire"
)

const nonceLen = 32

// initTask is the initiator's IKE_SA_INIT (RFC 7296 §1.2):
//
//	HDR, SA, KEi, Ni, [N(NAT_DETECTION_*)], [N(IKEV2_FRAGMENTATION_SUPPORTED)],
//	[N(SIGNATURE_HASH_ALGORITHMS)]  -->
//	                    <--  HDR, SA, KEr, Nr, [N(NAT_DETECTION_*)], ...
//
// It handles the COOKIE (§2.6) and INVALID_KE_PAYLOAD (§1.2) retries.
type initTask struct {
	group  ipsec.TransformID
	dh     ikecrypto.DH
	cookie []byte
	tries  int
}

func (t *initTask) exchange() wire.ExchangeType { return wire.ExchangeIKESAInit }

func (t *initTask) build(sa *ikeSA) ([]wire.Payload, error) {
	if t.group == 0 {
		// The first group of the first proposal is the guess (yang dh-group).
		t.group = proposal.Groups(sa.vpn.IKEProposals[0])[0]
	}
	if t.dh == nil || t.dh.Group() != t.group {
		dh, err := ikecrypto.NewDH(t.group, sa.w.e.o.Rand)
		if err != nil {
			return nil, err
		}
		t.dh = dh
	}
	if sa.ni == nil {
		sa.ni = make([]byte, nonceLen)
		io.ReadFull(sa.w.e.o.Rand, sa.ni)
	}
	var ps []wire.Payload
	if t.cookie != nil {
		// RFC 7296 §2.6: the COOKIE notify is the first payload.
		ps = append(ps, wire.NewNotify(wire.NotifyCookie, t.cookie))
	}
	ps = append(ps,
		&wire.SA{Proposals: proposal.WithClassicalFallback(sa.vpn.IKEProposals)},
		&wire.KE{Group: t.group, Data: t.dh.PublicKey()},
		&wire.Nonce{Data: sa.ni},
	)
	ps = append(ps, natdPayloads(sa.spii, 0, sa.local, sa.remote, sa.w.e.o.ForceEncap)...)
	if sa.vpn.Fragmentation {
		ps = append(ps, wire.NewNotify(wire.NotifyIKEv2FragmentationSupported, nil))
	}
	if proposal.HasAdditionalKE(sa.vpn.IKEProposals) {
		// RFC 9242 §3: additional key exchanges run in IKE_INTERMEDIATE.
		ps = append(ps, wire.NewNotify(wire.NotifyIntermediateExchangeSupported, nil))
	}
	if sa.vpn.PPK != nil {
		// RFC 8784 §3: the initiator configured with a PPK for the
		// responder announces it, again after a COOKIE.
		ps = append(ps, wire.NewNotify(wire.NotifyUsePPK, nil))
	}
	// RFC 7427 §4 (auth_cert.go)
	ps = append(ps, sa.certInitPayloads(false, sa.vpn)...)
	ps = append(ps, sa.redirectNotifies()...) // RFC 5685 (redirect.go)
	return ps, nil
}

func (t *initTask) process(sa *ikeSA, m *wire.Message, ps []wire.Payload) error {
	t.tries++
	if n := wire.FindNotify(ps, wire.NotifyRedirect); n != nil {
		return sa.followInitRedirect(n) // RFC 5685 (redirect.go)
	}
	// A COOKIE again, other than the one we returned: the responder
	// replaced its secret meanwhile (RFC 7296 §2.6; or restarted), and
	// the new cookie is what it wants now. tries bounds the rounds.
	if n := wire.FindNotify(ps, wire.NotifyCookie); n != nil && !bytes.Equal(n.Data, t.cookie) && t.tries < 4 {
		t.cookie = bytes.Clone(n.Data)
		sa.log().Debug("responder asked for a cookie")
		return errRestart
	}
	if n := wire.FindNotify(ps, wire.NotifyInvalidKEPayload); n != nil && t.tries < 4 {
		g, ok := n.Group()
		if !ok || g == t.group || !offersGroup(sa.vpn.IKEProposals, g) {
			return notifyErr(wire.NotifyInvalidKEPayload, "responder wants unacceptable group %d", g)
		}
		sa.log().Debug("responder wants another group", "group", ipsec.TransformName(ipsec.TransformKE, g))
		t.group = g
		return errRestart
	}
	if n := wire.FirstError(ps); n != nil {
		return &NotifyError{Type: n.NotifyType, Reason: "IKE_SA_INIT refused by peer"}
	}
	sap := find[*wire.SA](ps, nil)
	ke := find[*wire.KE](ps, nil)
	nr := find[*wire.Nonce](ps, nil)
	if sap == nil || ke == nil || nr == nil || m.Header.SPIr == 0 {
		return notifyErr(wire.NotifyInvalidSyntax, "IKE_SA_INIT response lacks SA, KE or Nr")
	}
	chosen, ok := proposal.Single(proposal.WithClassicalFallback(sa.vpn.IKEProposals), sap.Proposals)
	if !ok {
		return notifyErr(wire.NotifyNoProposalChosen, "responder chose a proposal we did not offer")
	}
	suite, err := ikeSuite(chosen)
	if err != nil || suite.Group != ke.Group || ke.Group != t.group {
		return notifyErr(wire.NotifyInvalidSyntax, "bad suite or KE group in response")
	}
	if len(proposal.AdditionalKEs(chosen)) > 0 && wire.FindNotify(ps, wire.NotifyIntermediateExchangeSupported) == nil {
		return notifyErr(wire.NotifyNoProposalChosen, "responder chose additional key exchanges without INTERMEDIATE_EXCHANGE_SUPPORTED")
	}
	sa.spir = m.Header.SPIr
	sa.nr = bytes.Clone(nr.Data)
	sa.initResponse = m.Raw
	if err := sa.deriveKeys(suite, t.dh, ke.Data); err != nil {
		return err
	}
	sa.startIntermediate(chosen) // intermediate.go
	sa.detectNAT(ps)
	sa.certReceived(ps) // auth_cert.go
	// RFC 7383 §2.3: fragments only when both sides announced support.
	sa.fragOK = sa.vpn.Fragmentation && wire.FindNotify(ps, wire.NotifyIKEv2FragmentationSupported) != nil
	if sa.vpn.PPK != nil {
		// RFC 8784 §3: without USE_PPK in the response, a mandatory
		// PPK aborts the exchange; an optional one is not used.
		sa.usePPK = wire.FindNotify(ps, wire.NotifyUsePPK) != nil
		if !sa.usePPK {
			if sa.vpn.RequirePPK {
				return ppkRequired("the peer does not support PPK (no USE_PPK in its IKE_SA_INIT response)")
			}
			sa.log().Info("the peer does not support PPK: proceeding without", "ppk", sa.vpn.PPK.Name)
		}
	}
	sa.state = stateAuth
	sa.log().Info("IKE_SA_INIT done", "suite", suite.String(), "ke", keList(suite.Group, sa.addKEs), "nat", sa.natt)
	return nil
}

func offersGroup(ps []wire.Proposal, g ipsec.TransformID) bool {
	for _, p := range ps {
		for _, x := range proposal.Groups(p) {
			if x == g {
				return true
			}
		}
	}
	return false
}

// ikeSuite turns an accepted IKE proposal into a crypto suite.
func ikeSuite(p wire.Proposal) (ikecrypto.Suite, error) {
	enc, _ := proposal.Transform(p, ipsec.TransformEncr)
	prf, _ := proposal.Transform(p, ipsec.TransformPRF)
	integ, _ := proposal.Transform(p, ipsec.TransformInteg)
	ke, _ := proposal.Transform(p, ipsec.TransformKE)
	bits, _ := enc.KeyLength()
	return ikecrypto.NewIKESuite(enc.ID, int(bits), integ.ID, prf.ID, ke.ID)
}

// deriveKeys computes g^ir, SKEYSEED and the SK_* keys (RFC 7296 §2.14).
func (sa *ikeSA) deriveKeys(suite ikecrypto.Suite, dh ikecrypto.DH, peerKE []byte) error {
	gir, err := dh.SharedSecret(peerKE)
	if err != nil {
		return notifyErr(wire.NotifyInvalidSyntax, "bad KE data: %v", err)
	}
	defer clear(gir)
	keys, err := ikecrypto.NewIKEKeys(suite, gir, sa.ni, sa.nr, sa.spii, sa.spir)
	if err != nil {
		return err
	}
	sa.setKeys(suite, keys)
	k := sa.keys()
	keys = &k
	sa.log().Keys("IKE SA keys", "sk_d", keys.SKd, "sk_ei", keys.SKei, "sk_er", keys.SKer,
		"sk_ai", keys.SKai, "sk_ar", keys.SKar)
	return nil
}

// natdHash is SHA-1(SPIi | SPIr | IP | Port) (RFC 7296 §2.23).
func natdHash(spii, spir uint64, ap netip.AddrPort) []byte {
	h := sha1.New()
	var b [18]byte
	binary.BigEndian.PutUint64(b[:], spii)
	binary.BigEndian.PutUint64(b[8:], spir)
	h.Write(b[:16])
	h.Write(ap.Addr().Unmap().AsSlice())
	binary.BigEndian.PutUint16(b[16:], ap.Port())
	h.Write(b[16:])
	return h.Sum(nil)
}

// With force, the source hash is computed over port 0, which no datagram
// carries: the peer concludes that we are behind a NAT and both sides
// encapsulate ESP in UDP (what charon's encap=yes does). The userspace
// dataplane needs it: it only speaks ESP in UDP.
func natdPayloads(spii, spir uint64, local, remote netip.AddrPort, force bool) []wire.Payload {
	if force {
		local = netip.AddrPortFrom(local.Addr(), 0)
	}
	return []wire.Payload{
		wire.NewNotify(wire.NotifyNATDetectionSourceIP, natdHash(spii, spir, local)),
		wire.NewNotify(wire.NotifyNATDetectionDestinationIP, natdHash(spii, spir, remote)),
	}
}

// detectNAT compares the peer's NAT_DETECTION_* hashes with the addresses
// the datagram actually carried (RFC 7296 §2.23). When a NAT is found, IKE
// floats to port 4500 from the next exchange on and ESP is encapsulated in
// UDP (RFC 3948).
func (sa *ikeSA) detectNAT(ps []wire.Payload) {
	natLocal, natRemote, found := natFromHashes(ps, sa.spii, sa.spirForNATD(), sa.local, sa.remote)
	if !found {
		return // peer does not support NAT-T
	}
	sa.natRemote, sa.natLocal = natRemote, natLocal || sa.w.e.o.ForceEncap
	if natLocal {
		// Only a NAT really in front of us has a mapping to keep alive;
		// ForceEncap pretends one to get ESP in UDP, and keepalives
		// then are noise.
		sa.startKeepalive()
	}
	if (sa.natRemote || sa.natLocal) && sa.initiator {
		sa.natt = true
		sa.local = netip.AddrPortFrom(sa.local.Addr(), PortNATT)
		sa.remote = netip.AddrPortFrom(sa.remote.Addr(), PortNATT)
	}
}

// spirForNATD is the SPIr the peer put in its hashes: zero in the request,
// the responder's in the response.
func (sa *ikeSA) spirForNATD() uint64 {
	if sa.initiator {
		return sa.spir
	}
	return 0
}

// replyInit sends a stateless IKE_SA_INIT response carrying only n, with a
// zero SPIr (RFC 7296 §2.6, §1.2).
// refuseInit answers an IKE_SA_INIT request with NO_PROPOSAL_CHOSEN, says
// why in the log and reports an IKEFailed event without an SA (counted in
// the statistics' failures), so that an operator sees why a peer cannot
// connect.
func (e *Engine) refuseInit(d Datagram, m *wire.Message, vpn, why string, received, configured []wire.Proposal) {
	e.refused(slog.LevelInfo, wire.NotifyNoProposalChosen, "IKE_SA_INIT refused", d.Remote, "exchange", "IKE_SA_INIT", "vpn", vpn, "reason", why,
		"received", proposalsString(received), "configured", proposalsString(configured))
	e.replyInit(d, m, wire.NewNotify(wire.NotifyNoProposalChosen, nil))
	e.emit(Event{Kind: IKEFailed, VPN: vpn, Reason: wire.NotifyNoProposalChosen.String() + " sent: " + why})
}

func (e *Engine) replyInit(d Datagram, m *wire.Message, n *wire.Notify) {
	h := wire.Header{SPIi: m.Header.SPIi, MajorVersion: wire.MajorVersion, Exchange: wire.ExchangeIKESAInit,
		Flags: wire.FlagResponse, MessageID: m.Header.MessageID}
	raw, err := (&wire.Message{Header: h, Payloads: []wire.Payload{n}}).Marshal()
	if err != nil {
		return
	}
	e.traceStateless(true, d, h, []wire.Payload{n}, raw) // debug.go
	e.sendStateless(d, raw)
}

// sendStateless answers the datagram d with raw, from the address and port
// it was sent to. A request that came on port 4500 carried the Non-ESP
// Marker; so does the answer (RFC 3948 §2.2, RFC 7296 §2.23).
func (e *Engine) sendStateless(d Datagram, raw []byte) {
	if d.Local.Port() == PortNATT || d.Remote.Port() == PortNATT {
		raw = append(ipsec.AppendNonESPMarker(make([]byte, 0, len(raw)+ipsec.NonESPMarkerLen)), raw...)
	}
	if err := e.o.Conn.Send(Datagram{Local: d.Local, Remote: d.Remote, Data: raw, Stream: d.Stream}); err != nil {
		e.limit.Log(nil, e.log, slog.LevelWarn, "send failed", "remote", d.Remote, "err", err)
	}
}

// rejectVersion answers an IKE_SA_INIT request of a higher major version
// with an unprotected INVALID_MAJOR_VERSION notification whose header
// carries our version (RFC 7296 §2.5, §1.5: SPIs and Message ID copied
// from the request, Response flag set). Anything else of another version
// is only dropped.
func (e *Engine) rejectVersion(d Datagram, data []byte) {
	h, err := wire.ParseHeader(data)
	if err == nil || h.MajorVersion <= wire.MajorVersion || h.Flags.Response() ||
		h.Exchange != wire.ExchangeIKESAInit || h.SPIr != 0 || e.config().Global.InitiatorOnly {
		return
	}
	rh := wire.Header{SPIi: h.SPIi, MajorVersion: wire.MajorVersion, Exchange: wire.ExchangeInformational,
		Flags: wire.FlagResponse, MessageID: h.MessageID}
	raw, err := (&wire.Message{Header: rh, Payloads: []wire.Payload{wire.NewNotify(wire.NotifyInvalidMajorVersion, nil)}}).Marshal()
	if err != nil {
		return
	}
	e.log.Debug("answering INVALID_MAJOR_VERSION", "remote", d.Remote, "version", h.MajorVersion)
	e.sendStateless(d, raw)
}

// handleInitRequest is the responder's IKE_SA_INIT; w is the worker of
// the peer's address, locked.
func (e *Engine) handleInitRequest(w *worker, d Datagram, m *wire.Message) {
	h := m.Header
	if h.MessageID != 0 || h.SPIr != 0 || !h.Flags.Initiator() {
		return
	}
	if sa := w.findHalfOpen(d.Remote, h.SPIi); sa != nil {
		// A retransmitted request: the cached response (RFC 7296 §2.1).
		if bytes.Equal(sa.initRequest, m.Raw) && sa.haveLastResp {
			sa.sendAll(sa.lastResp)
		}
		return
	}
	cfg := e.config()
	if cfg.Global.InitiatorOnly {
		return
	}
	// The VPNs of the peer's address and those that accept any peer
	// (config.Config.Candidates, an index: not a walk of every VPN).
	var cands []*config.VPN
	for _, v := range cfg.Candidates(d.Remote.Addr()) {
		if matchesPeer(v, d) {
			cands = append(cands, v)
		}
	}
	if len(cands) == 0 {
		e.debugLimited("no vpn for peer", "remote", d.Remote)
		return
	}
	if err := wire.CheckCritical(m.Payloads); err != nil {
		var uc *wire.UnsupportedCriticalError
		if errors.As(err, &uc) {
			e.replyInit(d, m, uc.Notify())
		}
		return
	}
	ps := wire.SkipUnknown(m.Payloads)
	sap := find[*wire.SA](ps, nil)
	ke := find[*wire.KE](ps, nil)
	ni := find[*wire.Nonce](ps, nil)
	if sap == nil || ke == nil || ni == nil {
		e.replyInit(d, m, wire.NewNotify(wire.NotifyInvalidSyntax, nil))
		return
	}
	if e.redirectInit(d, m, ps, ni.Data) {
		return // RFC 5685: stateless, before the cookie (redirect.go)
	}
	// The cookie and the limits come before anything costly: no state,
	// no Diffie-Hellman for a request that is refused (dos.go).
	ok, verified := e.admitInit(w, d, m, ps, ni.Data)
	if !ok {
		return
	}
	admitted := true // a place among the half-open SAs (admitInit)
	defer func() {
		if admitted {
			e.releaseHalfOpen()
		}
	}()
	// Proposal selection over the candidate VPNs, in name order.
	var vpn *config.VPN
	var chosen wire.Proposal
	for _, v := range cands {
		if p, ok := proposal.Select(v.IKEProposals, sap.Proposals, proposal.Options{PreferGroup: ke.Group}); ok {
			vpn, chosen = v, p
			break
		}
	}
	if vpn == nil {
		e.refuseInit(d, m, cands[0].Name, "no IKE proposal of the peer is acceptable", sap.Proposals, cands[0].IKEProposals)
		return
	}
	suite, err := ikeSuite(chosen)
	if err != nil {
		e.refuseInit(d, m, vpn.Name, err.Error(), sap.Proposals, vpn.IKEProposals)
		return
	}
	if ke.Group != suite.Group {
		// RFC 7296 §1.2: the initiator guessed wrong; name our group.
		e.refused(slog.LevelInfo, wire.NotifyInvalidKEPayload, "IKE_SA_INIT refused", d.Remote, "exchange", "IKE_SA_INIT", "vpn", vpn.Name,
			"received", ipsec.TransformName(ipsec.TransformKE, ke.Group), "configured", ipsec.TransformName(ipsec.TransformKE, suite.Group))
		e.replyInit(d, m, wire.InvalidKEPayload(suite.Group))
		return
	}
	if len(proposal.AdditionalKEs(chosen)) > 0 && wire.FindNotify(ps, wire.NotifyIntermediateExchangeSupported) == nil {
		// RFC 9370 §2.2.1: additional key exchanges need IKE_INTERMEDIATE.
		e.refuseInit(d, m, vpn.Name, "additional key exchanges offered without INTERMEDIATE_EXCHANGE_SUPPORTED", sap.Proposals, vpn.IKEProposals)
		return
	}
	dh, err := ikecrypto.NewDH(suite.Group, e.o.Rand)
	if err != nil {
		return
	}
	sa := e.newSA(w, false, vpn)
	sa.handshake = &handshake{candidates: cands}
	sa.certReceived(ps) // auth_cert.go
	sa.spii, sa.spir = h.SPIi, sa.id
	sa.local, sa.remote = d.Local, d.Remote
	sa.natt = d.Local.Port() == PortNATT
	sa.tcp = d.Stream
	sa.ni = bytes.Clone(ni.Data)
	sa.nr = make([]byte, nonceLen)
	io.ReadFull(e.o.Rand, sa.nr)
	sa.initRequest = m.Raw
	sa.peerRedirect = announcesRedirect(ps) // redirect.go
	if err := sa.deriveKeys(suite, dh, ke.Data); err != nil {
		e.removeSA(sa)
		e.replyInit(d, m, wire.NewNotify(wire.NotifyInvalidSyntax, nil))
		return
	}
	sa.detectNAT(ps)
	sa.startIntermediate(chosen) // intermediate.go
	resp := []wire.Payload{
		&wire.SA{Proposals: []wire.Proposal{chosen}},
		&wire.KE{Group: suite.Group, Data: dh.PublicKey()},
		&wire.Nonce{Data: sa.nr},
	}
	resp = append(resp, natdPayloads(sa.spii, sa.spir, sa.local, sa.remote, sa.w.e.o.ForceEncap)...)
	if vpn.Fragmentation && wire.FindNotify(ps, wire.NotifyIKEv2FragmentationSupported) != nil {
		resp = append(resp, wire.NewNotify(wire.NotifyIKEv2FragmentationSupported, nil))
		sa.fragOK = true
	}
	if len(sa.addKEs) > 0 {
		resp = append(resp, wire.NewNotify(wire.NotifyIntermediateExchangeSupported, nil))
	}
	if wire.FindNotify(ps, wire.NotifyUsePPK) != nil && len(cfg.PPKs) > 0 {
		// RFC 8784 §3: a responder with PPKs configured answers
		// USE_PPK; one without ignores it.
		resp = append(resp, wire.NewNotify(wire.NotifyUsePPK, nil))
		sa.usePPK = true
	}
	resp = append(resp, sa.certInitPayloads(true, cands...)...) // RFC 7427 §4, RFC 7296 §1.2 (auth_cert.go)
	raw, err := sa.encode(wire.ExchangeIKESAInit, 0, true, resp)
	if err != nil {
		e.removeSA(sa)
		return
	}
	sa.initResponse = raw
	sa.lastResp, sa.haveLastResp, sa.expectID = [][]byte{raw}, true, 1
	sa.startHalfOpen(halfOpenKey{remote: d.Remote, spii: h.SPIi}, verified)
	admitted = false // the SA holds the place now
	sa.log().Info("IKE_SA_INIT answered", "suite", suite.String(), "ke", keList(suite.Group, sa.addKEs))
	sa.traceMessage(true, sa.header(wire.ExchangeIKESAInit, 0, true), resp, [][]byte{raw}) // debug.go
	sa.send(raw)
}

// matchesPeer reports whether v may answer an IKE_SA_INIT request that
// arrived as d: its remote-address and local-address, when set, are the
// datagram's.
func matchesPeer(v *config.VPN, d Datagram) bool {
	return (!v.RemoteAddr.IsValid() || v.RemoteAddr == d.Remote.Addr().Unmap()) &&
		(!v.LocalAddr.IsValid() || v.LocalAddr == d.Local.Addr().Unmap())
}
