package engine

import (
	"encoding/binary"
	"io"
	"log/slog"
	"secgw/internal/ipsec"

	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/proposal"
	"secgw/internal/ike/wire"
)

// childState is where a child SA is in its life; String is in
// childstate_string.go.
type childState uint8

//go:generate go tool stringer -type=childState -linecomment

const (
	// childInstalled: in the dataplane, carrying traffic.
	childInstalled childState = iota // installed
	// childRekeying: our CREATE_CHILD_SA rekeying it is outstanding.
	childRekeying // rekeying
	// childRekeyed: a new child SA replaced it; its delete is due (ours
	// after our rekey, the peer's after the peer's rekey).
	childRekeyed // rekeyed
	// childDeleting: our INFORMATIONAL delete of it is outstanding or
	// queued.
	childDeleting // deleting
)

// childSA is a child SA installed in the dataplane. It belongs to one IKE
// SA at a time (it moves to the new IKE SA when that one is rekeyed, RFC
// 7296 §2.18) and is found by its inbound SPI in Engine.spis.
//
// It keeps only what is its own (childCore): the ChildSA the dataplane
// got is rebuilt with its IKE SA (ikeSA.childSA), whose VPN, outer
// addresses, encapsulation and SPIs are the child SA's. They do not change
// once the child SA exists: IKE floats to port 4500 during IKE_AUTH,
// before any child SA, and without MOBIKE the peer's address is fixed.
type childSA struct {
	childCore
	installed int64 // engine clock

	// peerRekey is the child SA the peer created by rekeying this one
	// while our own rekey of it was outstanding, and peerNonces the
	// nonces (Ni, Nr) of the peer's exchange: with ours they decide
	// which of the two redundant SAs survives (RFC 7296 §2.8.1).
	peerRekey  *childSA
	peerNonces *[2][]byte

	// retries counts TEMPORARY_FAILURE answers to our rekeys of it.
	retries int32
	state   childState
	// replaced: a rekey installed its successor; its removal is no
	// ChildDown and triggers no close-action.
	replaced bool

	// at are the deadlines of the rekey and expire timers (timers.go),
	// run by the IKE SA that holds the child SA.
	at [numChildTimers]int64
}

// childCore is the part of ChildSA that is the child SA's own.
type childCore struct {
	Policy                  string
	UniqueID, InSPI, OutSPI uint32
	ESN                     bool
	Mode                    config.Mode
	Suite                   ikecrypto.Suite
	In, Out                 DirKeys
	LocalTS, RemoteTS       []ipsec.TrafficSelector
}

// childSA returns the ChildSA of c, a child SA of sa, as the dataplane got
// it.
func (sa *ikeSA) childSA(c *childSA) ChildSA {
	k := &c.childCore
	return ChildSA{VPN: sa.vpnName(), Policy: k.Policy, UniqueID: k.UniqueID, InSPI: k.InSPI, OutSPI: k.OutSPI,
		Encap: sa.natLocal || sa.natRemote, ESN: k.ESN, Mode: k.Mode, IKESPIi: sa.spii, IKESPIr: sa.spir,
		Local: sa.local, Remote: sa.remote, Suite: k.Suite, In: k.In, Out: k.Out, LocalTS: k.LocalTS,
		RemoteTS: k.RemoteTS, Lifetimes: sa.vpn.Child}
}

// vpnName is the name of the SA's VPN, or "".
func (sa *ikeSA) vpnName() string {
	if sa.vpn == nil {
		return ""
	}
	return sa.vpn.Name
}

func (sa *ikeSA) child(inSPI uint32) *childSA {
	for _, c := range sa.children {
		if c.InSPI == inSPI {
			return c
		}
	}
	return nil
}

func (sa *ikeSA) childByOut(outSPI uint32) *childSA {
	for _, c := range sa.children {
		if c.OutSPI == outSPI {
			return c
		}
	}
	return nil
}

// childByUID finds a child SA of the engine by unique-id and locks its
// worker; the caller unlocks w when c is not nil.
func (e *Engine) childByUID(uid uint32) (sa *ikeSA, c *childSA, w *worker) {
	for _, w := range e.set.Load().workers {
		w.mu.Lock()
		w.each(func(x *ikeSA) bool {
			for _, y := range x.children {
				if y.UniqueID == uid {
					sa, c = x, y
					return false
				}
			}
			return true
		})
		if c != nil {
			return sa, c, w
		}
		w.unlock()
	}
	return nil, nil, nil
}

// newChildSPI returns a random ESP SPI above 255 (RFC 4303 §2.1 reserves
// 1..255) that no child SA of the engine uses or has reserved, and
// reserves it until installChild takes it or releaseSPI frees it.
func (e *Engine) newChildSPI() uint32 {
	for {
		var b [4]byte
		io.ReadFull(e.o.Rand, b[:])
		spi := binary.BigEndian.Uint32(b[:])
		if spi < 256 {
			continue
		}
		e.spiMu.Lock()
		_, used := e.spis[spi]
		if !used {
			e.spis[spi] = nil
		}
		e.spiMu.Unlock()
		if !used {
			return spi
		}
	}
}

// releaseSPI frees a reserved SPI that no child SA took.
func (e *Engine) releaseSPI(spi uint32) {
	e.spiMu.Lock()
	if owner, ok := e.spis[spi]; ok && owner == nil {
		delete(e.spis, spi)
	}
	e.spiMu.Unlock()
}

// childParams is what a negotiation decided about a new child SA.
type childParams struct {
	policy        config.SecurityPolicy
	proposal      wire.Proposal // the accepted proposal
	inSPI, outSPI uint32
	// tsi and tsr are the selectors as the initiator of the exchange
	// names them.
	tsi, tsr []ipsec.TrafficSelector
	// gir is the shared secret of the exchange's KE payloads (PFS), or
	// nil; ni and nr are its nonces.
	gir, ni, nr []byte
	// initiator: we initiated the exchange that creates the child SA.
	initiator bool
	// rekeyOf is the child SA this one replaces, if it is a rekey.
	rekeyOf *childSA
}

// installChild derives the child SA keys (RFC 7296 §2.17: KEYMAT =
// prf+(SK_d, [g^ir (new) |] Ni | Nr)), gives the SA to the dataplane and
// starts its lifetimes.
func (sa *ikeSA) installChild(p childParams) (*childSA, error) {
	enc, _ := proposal.Transform(p.proposal, ipsec.TransformEncr)
	integ, _ := proposal.Transform(p.proposal, ipsec.TransformInteg)
	esn, _ := proposal.Transform(p.proposal, ipsec.TransformESN)
	ke, _ := proposal.Transform(p.proposal, ipsec.TransformKE)
	bits, _ := enc.KeyLength()
	group := ipsec.GroupNone
	if p.gir != nil {
		group = ke.ID
	}
	suite, err := ikecrypto.NewESPSuite(enc.ID, int(bits), integ.ID, group)
	if err != nil {
		return nil, err
	}
	keys, err := ikecrypto.DeriveChildKeys(sa.prf(), sa.keys().SKd, suite, p.gir, p.ni, p.nr)
	if err != nil {
		return nil, err
	}
	c := ChildSA{
		VPN: sa.vpn.Name, Policy: p.policy.Name, IKESPIi: sa.spii, IKESPIr: sa.spir,
		Local: sa.local, Remote: sa.remote, Encap: sa.natLocal || sa.natRemote,
		UniqueID: sa.w.e.nextUID(), InSPI: p.inSPI, OutSPI: p.outSPI, Suite: suite, ESN: esn.ID == ipsec.ESNEnabled,
		Mode: p.policy.Mode, Lifetimes: sa.vpn.Child,
	}
	if p.rekeyOf != nil {
		c.RekeyOf = p.rekeyOf.UniqueID
	}
	i, r := DirKeys{Encr: keys.EncrI, Integ: keys.IntegI}, DirKeys{Encr: keys.EncrR, Integ: keys.IntegR}
	if p.initiator {
		c.Out, c.In = i, r
		c.LocalTS, c.RemoteTS = p.tsi, p.tsr
	} else {
		c.In, c.Out = i, r
		c.LocalTS, c.RemoteTS = p.tsr, p.tsi
	}
	if err := sa.w.e.o.Dataplane.InstallChild(c); err != nil {
		sa.w.e.releaseSPI(p.inSPI)
		return nil, err
	}
	child := &childSA{childCore: childCore{Policy: c.Policy, UniqueID: c.UniqueID, InSPI: c.InSPI, OutSPI: c.OutSPI,
		ESN: c.ESN, Mode: c.Mode, Suite: c.Suite, In: c.In, Out: c.Out, LocalTS: c.LocalTS, RemoteTS: c.RemoteTS},
		installed: sa.w.e.mono()}
	sa.children = append(sa.children, child)
	sa.w.e.setSPIOwner(child, sa)
	sa.syncLater() // ha.go
	sa.armChildTimers(child, c.Lifetimes)
	if p.rekeyOf != nil {
		sa.ops.childRekeys++
		sa.w.e.emit(Event{Kind: ChildRekeyed, SA: sa.uid, Child: c.UniqueID, Old: p.rekeyOf.UniqueID, VPN: c.VPN, Policy: c.Policy})
	} else {
		sa.w.e.childUp(sa, child)
	}
	sa.childLog().Info("child SA installed", "policy", p.policy.Name,
		"in", spi32(p.inSPI), "out", spi32(p.outSPI), "suite", suite.String())
	sa.childLog().Keys("child SA keys", "in", spi32(p.inSPI), "encr_in", c.In.Encr,
		"integ_in", c.In.Integ, "encr_out", c.Out.Encr, "integ_out", c.Out.Integ)
	return child, nil
}

// removeChild takes a child SA out of the dataplane and of its IKE SA.
func (sa *ikeSA) removeChild(c *childSA) {
	if err := sa.w.e.o.Dataplane.DeleteChild(sa.childSA(c)); err != nil {
		sa.childLog().Warn("dataplane delete failed", "err", err)
	}
	c.at = [numChildTimers]int64{}
	sa.w.e.dropSPI(c, sa)
	sa.syncLater() // ha.go
	if !c.replaced {
		sa.w.e.emit(Event{Kind: ChildDown, SA: sa.uid, Child: c.UniqueID, VPN: sa.vpnName(), Policy: c.Policy})
	}
	for i, x := range sa.children {
		if x == c {
			n := len(sa.children)
			copy(sa.children[i:], sa.children[i+1:])
			sa.children[n-1] = nil // not kept alive by the array
			sa.children = sa.children[:n-1]
			break
		}
	}
	if len(sa.children) == 0 {
		sa.children = nil
	}
	sa.resched()
	sa.childLog().Info("child SA deleted", "in", spi32(c.InSPI), "out", spi32(c.OutSPI))
}

// childRequest is a child SA proposal as the responder receives it, in
// IKE_AUTH or CREATE_CHILD_SA.
type childRequest struct {
	sap       *wire.SA
	tsi, tsr  []ipsec.TrafficSelector
	transport bool
	// ke is the initiator's KE payload (CREATE_CHILD_SA with PFS).
	ke *wire.KE
	// ni and nr are the nonces the KEYMAT uses: of IKE_SA_INIT for the
	// child SA of IKE_AUTH (ours, nr, included), of the exchange for
	// CREATE_CHILD_SA.
	ni, nr []byte
	// auth: the child SA of IKE_AUTH, whose KE transforms are ignored
	// (RFC 7296 §1.2).
	auth bool
	// rekeyOf is the child SA the request rekeys (REKEY_SA): only its
	// security policy applies.
	rekeyOf *childSA
	// created, if set, is called with the child SA once installed: in
	// the exchange, or after its IKE_FOLLOWUP_KE exchanges (RFC 9370).
	created func(c *childSA)
}

// negotiateChild is the responder's child SA negotiation: proposal
// selection (with the KE group check of CREATE_CHILD_SA, RFC 7296 §1.3)
// and traffic selector narrowing against the VPN's security policies in
// name order (§2.9), then installation. It returns the payloads of the
// answer (SA, [KEr,] TSi, TSr, [N(USE_TRANSPORT_MODE)]; the caller adds
// Nr) or an error notification (§2.21.3), and the child SA.
func (sa *ikeSA) negotiateChild(r childRequest) ([]wire.Payload, *childSA) {
	all := sa.vpn.ESPProposals
	o := proposal.Options{}
	if r.auth {
		all, o.IgnoreKE = proposal.WithoutKE(all), true
	} else if r.ke != nil {
		o.PreferGroup = r.ke.Group
	}
	// Only what the dataplane can carry is acceptable: a child SA agreed
	// on and then not installed would leave the peer a dead tunnel.
	ours := sa.w.e.espOffer(all)
	chosen, ok := proposal.Select(ours, r.sap.Proposals, o)
	if !ok {
		why := "no proposal matches ours"
		if s := unsupportedChoice(all, r.sap.Proposals, o); s != "" {
			why = "the dataplane cannot carry " + s
		}
		return sa.refuseChild(r, slog.LevelInfo, why), nil
	}
	if len(theirSPI(r.sap.Proposals, chosen.Number)) != 4 {
		return sa.refuseChild(r, slog.LevelInfo, "the chosen proposal has no 4-octet SPI"), nil
	}
	var gir []byte
	var myKE *wire.KE
	if ke, has := proposal.Transform(chosen, ipsec.TransformKE); has && ke.ID != ipsec.GroupNone && !r.auth {
		if r.ke == nil || r.ke.Group != ke.ID {
			// RFC 7296 §1.3: the initiator guessed another group, or
			// none; name ours.
			return []wire.Payload{wire.InvalidKEPayload(ke.ID)}, nil
		}
		dh, err := ikecrypto.NewDH(ke.ID, sa.w.e.o.Rand)
		if err != nil {
			return sa.refuseChild(r, slog.LevelWarn, "key exchange: "+err.Error()), nil
		}
		if gir, err = dh.SharedSecret(r.ke.Data); err != nil {
			return []wire.Payload{wire.NewNotify(wire.NotifyInvalidSyntax, nil)}, nil
		}
		defer clear(gir)
		myKE = &wire.KE{Group: ke.ID, Data: dh.PublicKey()}
	}
	for _, pol := range sa.vpn.Policies {
		if (pol.Mode == config.ModeTransport) != r.transport || (r.rekeyOf != nil && pol.Name != r.rekeyOf.Policy) {
			continue
		}
		// RFC 7296 §2.19: a side with virtual IPs is narrowed to them
		// (vip.go).
		ni := narrowToVIPs(narrow(r.tsi, pol.Remote.TS()), sa.peerInner())
		nr := narrowToVIPs(narrow(r.tsr, pol.Local.TS()), sa.localVIPs())
		if len(ni) == 0 || len(nr) == 0 {
			continue
		}
		peerSPI := binary.BigEndian.Uint32(theirSPI(r.sap.Proposals, chosen.Number))
		mySPI := sa.w.e.newChildSPI()
		chosen.SPI = binary.BigEndian.AppendUint32(nil, mySPI)
		p := childParams{policy: pol, proposal: chosen, inSPI: mySPI, outSPI: peerSPI,
			tsi: ni, tsr: nr, gir: gir, ni: r.ni, nr: r.nr, rekeyOf: r.rekeyOf}
		out := []wire.Payload{&wire.SA{Proposals: []wire.Proposal{chosen}}}
		if myKE != nil {
			out = append(out, myKE)
		}
		out = append(out, &wire.TrafficSelectors{Selectors: ni}, &wire.TrafficSelectors{Responder: true, Selectors: nr})
		if r.transport {
			out = append(out, wire.NewNotify(wire.NotifyUseTransportMode, nil))
		}
		if add := proposal.AdditionalKEs(chosen); len(add) > 0 && !r.auth {
			// RFC 9370 §2.2.4: installed after the IKE_FOLLOWUP_KE
			// exchanges (followup.go).
			install := func(secrets []byte) []wire.Payload {
				p.gir = secrets
				c, err := sa.installChild(p)
				if err != nil {
					sa.w.e.releaseSPI(mySPI)
					return sa.refuseChild(r, slog.LevelWarn, "cannot install: "+err.Error())
				}
				if r.created != nil {
					r.created(c)
				}
				return nil
			}
			return append(out, sa.awaitFollowup(add, gir, install, func() { sa.w.e.releaseSPI(mySPI) })), nil
		}
		c, err := sa.installChild(p)
		if err != nil {
			return sa.refuseChild(r, slog.LevelWarn, "cannot install: "+err.Error()), nil
		}
		if r.created != nil {
			r.created(c)
		}
		return out, c
	}
	sa.lastError = wire.NotifyTSUnacceptable
	var configured []ipsec.TrafficSelector
	for _, pol := range sa.vpn.Policies {
		configured = append(configured, pol.Remote.TS(), pol.Local.TS())
	}
	sa.w.e.refused(slog.LevelInfo, wire.NotifyTSUnacceptable, "no security policy matches the proposed selectors", sa.remote, "unique-id", sa.uid, "vpn", sa.vpnName(),
		"reason", "no security policy matches the proposed selectors",
		"received", "TSi "+selectorsString(r.tsi)+"; TSr "+selectorsString(r.tsr),
		"configured", "remote, local of each policy: "+selectorsString(configured))
	return []wire.Payload{wire.NewNotify(wire.NotifyTSUnacceptable, nil)}, nil
}

// refuseChild answers a child SA request with NO_PROPOSAL_CHOSEN (the
// IKE SA stays, RFC 7296 §2.21.3), logs why at level and reports
// ChildFailed (counted in the statistics' failures), so that an operator
// sees why the peer got no child SA. The policy is known only for a
// rekey: selection by traffic selectors comes after the proposal.
func (sa *ikeSA) refuseChild(r childRequest, level slog.Level, why string) []wire.Payload {
	sa.lastError = wire.NotifyNoProposalChosen
	policy := ""
	if r.rekeyOf != nil {
		policy = r.rekeyOf.Policy
	}
	var configured []wire.Proposal
	if sa.vpn != nil {
		configured = sa.vpn.ESPProposals
	}
	var received []wire.Proposal
	if r.sap != nil {
		received = r.sap.Proposals
	}
	sa.w.e.refused(level, wire.NotifyNoProposalChosen, "child SA refused", sa.remote, "unique-id", sa.uid, "vpn", sa.vpnName(), "policy", policy,
		"reason", why, "received", proposalsString(received), "configured", proposalsString(configured))
	sa.w.e.emit(Event{Kind: ChildFailed, SA: sa.uid, VPN: sa.vpnName(), Policy: policy,
		Reason: wire.NotifyNoProposalChosen.String() + " sent: " + why})
	return []wire.Payload{wire.NewNotify(wire.NotifyNoProposalChosen, nil)}
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
