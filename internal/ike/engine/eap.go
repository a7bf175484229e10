package engine

import (
	"bytes"
	"io"
	"slices"

	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/wire"
)

// EAP as the responder, terminated at an AAA server (remote-auth-method
// eap-radius; RFC 7296 §2.16, RFC 3579, RFC 5998):
//
//	HDR, SK {IDi, [IDr,] SAi2, TSi, TSr}  -->          (no AUTH: EAP)
//	                 <--  HDR, SK {IDr, AUTH, EAP(Request/Identity)}
//	HDR, SK {EAP(Response/Identity)}  -->              [AAA: Access-Request]
//	                 <--  HDR, SK {EAP(Request)}       [Access-Challenge]
//	...
//	HDR, SK {EAP(Response)}  -->                       [Access-Accept, MSK]
//	                 <--  HDR, SK {EAP(Success)}
//	HDR, SK {AUTH}  -->                                (AUTH with the MSK)
//	                 <--  HDR, SK {AUTH, SAr2, TSi, TSr}
//
// With EAP_ONLY_AUTHENTICATION from the peer (RFC 5998), to a VPN
// without a pre-shared-key of ours, our first response has no AUTH, and
// the EAP method must be one that authenticates the server too
// (eapOnlyMethods).
//
// The AAA server is never waited for on a worker: the request goes to
// AAA.EAP and the IKE_AUTH request stays unanswered (eapState.pending);
// retransmissions of it are absorbed meanwhile (handleRequest caches
// nothing for it and respondEAP drops it), and the AAA's answer, on its
// own goroutine, locks the SA's worker and sends the response
// (resumeEAP). The IKE SA is still half-open throughout: the half-open
// timeout (HalfOpenTimeout) bounds the whole exchange.

// EAP codes and types (RFC 3748 §4, §5).
const (
	eapRequest  = 1
	eapResponse = 2
	eapSuccess  = 3
	eapFailure  = 4

	eapTypeIdentity = 1
)

// eapOnlyMethods are the EAP method types RFC 5998 §4 accepts for
// EAP-only authentication: mutually authenticating and key generating
// (EAP-TLS 13, EAP-SIM 18, EAP-TTLS 21, EAP-AKA 23, EAP-FAST 43,
// EAP-PAX 46, EAP-PSK 47, EAP-SAKE 48, EAP-IKEv2 49, EAP-AKA' 50,
// EAP-GPSK 51, EAP-pwd 52, EAP-EKE 53). EAP-MD5 and EAP-MSCHAPv2 are
// not: with them the gateway must authenticate itself with AUTH.
var eapOnlyMethods = []uint8{13, 18, 21, 23, 43, 46, 47, 48, 49, 50, 51, 52, 53}

// eapState is a responder IKE SA in the middle of EAP: what the first
// IKE_AUTH request said, and where the EAP conversation is. It lives from
// the first IKE_AUTH request to the last response (ikeSA.eap).
type eapState struct {
	vpn *config.VPN
	// idi is the peer's IDi of the first request, whose signed octets its
	// final AUTH covers; myID the IDr we sent, covered by our AUTH.
	idi, myID *wire.Identification
	// first are the payloads of the first request: the child SA (SAi2,
	// TSi, TSr), INITIAL_CONTACT, MOBIKE, the window.
	first []wire.Payload
	// eapOnly: the peer sent EAP_ONLY_AUTHENTICATION and our first
	// response carried no AUTH (RFC 5998).
	eapOnly bool
	// ident is the Identifier of the EAP request we relayed last; user
	// the peer's EAP identity; state the AAA server's State.
	ident uint8
	user  string
	state []byte
	// method is the last EAP method type the server asked for.
	method uint8
	// done: the server accepted (EAP-Success sent); the peer's AUTH comes
	// next, computed with msk (nil: SK_pi/SK_pr, RFC 7296 §2.16).
	done  bool
	msk   []byte
	attrs AAAAttrs
	// pending is the message ID of the request waiting for the AAA
	// server; gen tells an answer for an older request (or SA) apart.
	pending    bool
	pendingID  uint32
	gen        uint64
	pendingMsg wire.Header
}

// clear drops the key material of the EAP state.
func (st *eapState) clear() {
	clear(st.msk)
	st.msk = nil
}

// wantsEAP reports whether an IKE_AUTH request starts or continues EAP:
// an SA in the middle of EAP, or a first request without AUTH (RFC 7296
// §2.16: "the Initiator indicates a desire to use EAP by leaving out the
// AUTH payload") to a peer address with a VPN of remote-auth-method
// eap-radius. Without such a VPN, a request without AUTH is malformed
// for us (respondAuth: INVALID_SYNTAX).
func (sa *ikeSA) wantsEAP(ps []wire.Payload) bool {
	if sa.eap != nil {
		return true
	}
	if find[*wire.Auth](ps, nil) != nil {
		return false
	}
	for _, v := range sa.candidates {
		if v.RemoteAAA == config.AAAEAP {
			return true
		}
	}
	return false
}

// respondEAP handles an IKE_AUTH request of EAP. ok false means no
// response now: the request went to the AAA server (resumeEAP answers
// it), or it is a retransmission of that request and is absorbed.
func (sa *ikeSA) respondEAP(d Datagram, m *wire.Message, ps []wire.Payload) (resp []wire.Payload, ok bool) {
	st := sa.eap
	if st == nil {
		return sa.startEAP(ps), true
	}
	if st.pending {
		if m.Header.MessageID == st.pendingID {
			sa.log().Debug("absorbing a retransmitted IKE_AUTH request: the AAA server has not answered yet", "msgid", m.Header.MessageID)
		}
		return nil, false
	}
	if st.done {
		return sa.finishEAP(ps), true
	}
	e := find[*wire.EAP](ps, nil)
	if e == nil || len(e.Message) < 5 || e.Message[0] != eapResponse || e.Message[1] != st.ident ||
		int(e.Message[2])<<8|int(e.Message[3]) != len(e.Message) {
		// RFC 3748 §4.1: Code Response, the Identifier of our request,
		// Length the message's.
		return sa.eapFail("IKE_AUTH request without the EAP response expected"), true
	}
	if st.user == "" {
		if e.Message[4] != eapTypeIdentity {
			return sa.eapFail("the peer's first EAP response is not an EAP-Response/Identity"), true
		}
		st.user = string(e.Message[5:])
		if st.user == "" || len(st.user) > 253 {
			return sa.eapFail("empty or oversized EAP identity"), true
		}
	}
	aaa := sa.w.e.o.AAA
	if aaa == nil {
		return sa.eapFail("no AAA server configured (ike radius)"), true
	}
	st.pending, st.pendingID, st.pendingMsg = true, m.Header.MessageID, m.Header
	st.gen++
	gen := st.gen
	e2 := sa.w.e
	req := AAARequest{VPN: st.vpn.Name, UserName: st.user, EAP: bytes.Clone(e.Message), State: st.state,
		Peer: sa.remote.Addr(), Local: sa.local.Addr()}
	// The call goes out once this worker's lock is released, so that an
	// AAA that answers at once does not find the lock held.
	sa.w.later = append(sa.w.later, func() {
		aaa.EAP(req, func(r AAAReply) { e2.resumeEAP(sa, gen, d, r) })
	})
	return nil, false
}

// startEAP answers the first IKE_AUTH request of EAP: pick the VPN by
// identity, answer with our identity, our AUTH (not with EAP-only) and an
// EAP-Request/Identity.
func (sa *ikeSA) startEAP(ps []wire.Payload) []wire.Payload {
	idi := find[*wire.Identification](ps, func(id *wire.Identification) bool { return !id.Responder })
	idr := find[*wire.Identification](ps, func(id *wire.Identification) bool { return id.Responder })
	if idi == nil {
		sa.closeAfterResponse = true
		return []wire.Payload{wire.NewNotify(wire.NotifyInvalidSyntax, nil)}
	}
	peerEAPOnly := wire.FindNotify(ps, wire.NotifyEAPOnlyAuthentication) != nil
	var vpn *config.VPN
	for _, v := range sa.candidates {
		if !sa.aaaVPNMatches(v, config.AAAEAP, idi, idr) {
			continue
		}
		if !ownCredential(v) && !peerEAPOnly {
			continue // nothing to authenticate ourselves with
		}
		vpn = v
		break
	}
	// RFC 5998 §2: EAP-only is the responder's choice when the peer
	// offers it. We take it only when we have no key of our own to
	// authenticate with (the VPN has no pre-shared-key): our AUTH is
	// always the safer way, whatever the EAP method.
	eapOnly := peerEAPOnly && vpn != nil && !ownCredential(vpn)
	peer := config.Identity{Type: idi.IDType, Data: idi.Data}.String()
	if vpn == nil {
		sa.lastError = wire.NotifyAuthenticationFailed
		sa.log().Info("authentication of peer failed: no VPN with remote-auth-method eap-radius for it (IKE_AUTH without AUTH)", "peer-id", peer)
		sa.closeAfterResponse = true
		return []wire.Payload{wire.NewNotify(wire.NotifyAuthenticationFailed, nil)}
	}
	st := &eapState{vpn: vpn, idi: &wire.Identification{IDType: idi.IDType, Data: bytes.Clone(idi.Data)},
		first: ps, eapOnly: eapOnly}
	st.myID = localIdentity(sa, vpn).Payload(true)
	var b [1]byte
	io.ReadFull(sa.w.e.o.Rand, b[:])
	st.ident = b[0]
	sa.eap = st
	sa.log().Info("starting EAP with the AAA server", "peer-id", peer, "vpn", vpn.Name, "eap-only", eapOnly)
	resp := []wire.Payload{st.myID}
	if !eapOnly {
		// Our AUTH by local-auth-method: the PSK, or CERTs and a
		// signature (auth_cert.go).
		body, _ := st.myID.AppendBody(nil)
		auth, err := sa.localAuth(vpn, sa.signedOctets(sa.keys().SKpr, sa.initResponse, sa.ni, body))
		if err != nil {
			sa.eap = nil
			sa.lastError = wire.NotifyAuthenticationFailed
			sa.log().Warn("cannot authenticate ourselves to an EAP peer", "vpn", vpn.Name, "err", err)
			sa.closeAfterResponse = true
			return []wire.Payload{wire.NewNotify(wire.NotifyAuthenticationFailed, nil)}
		}
		resp = append(resp, auth...)
	}
	// RFC 3748 §5.1: the Identity request; its answer names the user
	// for the AAA server (RFC 3579 §2.1).
	return append(resp, &wire.EAP{Message: []byte{eapRequest, st.ident, 0, 5, eapTypeIdentity}})
}

// resumeEAP is the AAA server's answer to the request of generation gen
// of sa, on the AAA's goroutine: it answers the IKE_AUTH request that
// waited, unless the SA went or moved on meanwhile.
func (e *Engine) resumeEAP(sa *ikeSA, gen uint64, d Datagram, r AAAReply) {
	w, ok := e.lockSA(sa)
	defer w.unlock()
	st := sa.eap
	if !ok || st == nil || !st.pending || st.gen != gen {
		clear(r.MSK)
		return
	}
	st.pending = false
	sa.answer(d, &wire.Message{Header: st.pendingMsg}, sa.eapReply(r))
}

// eapReply turns the AAA server's answer into our IKE_AUTH response.
func (sa *ikeSA) eapReply(r AAAReply) []wire.Payload {
	st := sa.eap
	switch {
	case r.Err != nil:
		sa.log().Warn("EAP: no AAA server answered: refusing the peer", "user", st.user, "err", r.Err)
		return sa.eapFailWith("no AAA server answered", nil)
	case r.Outcome == AAAReject:
		sa.log().Info("EAP: the AAA server rejected the peer", "user", st.user)
		return sa.eapFailWith("the AAA server rejected the peer", r.EAP)
	case len(r.EAP) < 4 || int(r.EAP[2])<<8|int(r.EAP[3]) != len(r.EAP):
		clear(r.MSK)
		return sa.eapFailWith("the AAA server sent no usable EAP message", nil)
	case r.Outcome == AAAChallenge:
		if r.EAP[0] != eapRequest || len(r.EAP) < 5 {
			return sa.eapFailWith("the AAA server's challenge is not an EAP request", nil)
		}
		st.ident, st.method, st.state = r.EAP[1], r.EAP[4], r.State
		return []wire.Payload{&wire.EAP{Message: r.EAP}}
	case r.Outcome == AAAAccept:
		if r.EAP[0] != eapSuccess {
			clear(r.MSK)
			return sa.eapFailWith("the AAA server accepted without EAP-Success", nil)
		}
		if st.eapOnly && (r.MSK == nil || !slices.Contains(eapOnlyMethods, st.method)) {
			// RFC 5998 §4: EAP-only needs a mutually authenticating,
			// key-generating method; this one did not authenticate us.
			clear(r.MSK)
			sa.log().Info("EAP-only authentication with an EAP method that does not authenticate the gateway: refused (RFC 5998 §4)", "user", st.user, "method", st.method)
			return sa.eapFailWith("EAP-only with an unsafe method", nil)
		}
		st.done, st.msk, st.attrs, st.state = true, r.MSK, r.Attrs, nil
		sa.log().Info("EAP succeeded at the AAA server", "user", st.user, "method", st.method, "msk", r.MSK != nil)
		return []wire.Payload{&wire.EAP{Message: r.EAP}}
	}
	return sa.eapFailWith("unexpected AAA verdict", nil)
}

// finishEAP checks the peer's AUTH, computed with the MSK, and
// establishes the IKE SA with ours and the child SA of the first request
// (RFC 7296 §2.16).
func (sa *ikeSA) finishEAP(ps []wire.Payload) []wire.Payload {
	st := sa.eap
	auth := find[*wire.Auth](ps, nil)
	if auth == nil || auth.Method != wire.AuthSharedKeyMIC {
		return sa.eapFail("the peer's last IKE_AUTH after EAP lacks a shared-key AUTH")
	}
	keyI, keyR := st.msk, st.msk
	if keyI == nil {
		// RFC 7296 §2.16: a method without a shared key: AUTH with
		// SK_pi and SK_pr as the keys.
		keyI, keyR = sa.keys().SKpi, sa.keys().SKpr
	}
	so := sa.signedOctets(sa.keys().SKpi, sa.initRequest, sa.nr, st.idi.SignedOctets())
	if !ikecrypto.VerifyAuthPSK(sa.prf(), keyI, so, auth.Data) {
		return sa.eapFail("the peer's AUTH after EAP does not verify with the MSK")
	}
	vpn, idi := st.vpn, st.idi
	ic := wire.FindNotify(st.first, wire.NotifyInitialContact) != nil
	if sa.uniqueRefuses(vpn, config.Identity{Type: idi.IDType, Data: idi.Data}, ic) {
		return sa.eapFail("unique-sa keep: an IKE SA of this identity exists")
	}
	body, _ := st.myID.AppendBody(nil)
	myAuth := ikecrypto.AuthPSK(sa.prf(), keyR, sa.signedOctets(sa.keys().SKpr, sa.initResponse, sa.ni, body))
	first := st.first
	st.clear()
	sa.eap = nil
	sa.w.setVPN(sa, vpn)
	sa.setEstablished()
	sa.endHalfOpen()
	sa.established, sa.peerID = sa.w.e.mono(), config.Identity{Type: idi.IDType, Data: bytes.Clone(idi.Data)}
	sa.log().Info("IKE SA established", "peer-id", sa.peerID.String(), "eap-identity", st.user)
	sa.w.e.emit(Event{Kind: IKEUp, SA: sa.uid, VPN: vpn.Name})
	sa.startIKETimers()
	sa.uniqueEstablished(ic) // unique.go
	resp := []wire.Payload{&wire.Auth{Method: wire.AuthSharedKeyMIC, Data: myAuth}}
	sa.peerWindowFrom(first)
	resp = append(resp, sa.windowNotify()...)
	if sa.mobikeNegotiated(first); sa.mobike {
		resp = append(resp, sa.mobikeNotify()...)
	}
	if cp, child := sa.respondCPWith(first, st.attrs); !child {
		resp = append(resp, cp...) // INTERNAL_ADDRESS_FAILURE: no child SA (RFC 7296 §3.10.1)
	} else {
		resp = append(resp, cp...) // the CFG_REPLY (eap_vip.go)
		resp = append(resp, sa.respondChild(first)...)
	}
	sa.aaaStart(st.vpn, st.user, st.attrs) // accounting (eap_acct.go), with the virtual IPs given
	sa.authDone()
	return resp
}

// eapFail ends EAP on our side: AUTHENTICATION_FAILED, and the IKE SA
// is gone (RFC 7296 §2.21.2).
func (sa *ikeSA) eapFail(why string) []wire.Payload {
	return sa.eapFailWith(why, nil)
}

func (sa *ikeSA) eapFailWith(why string, eapMsg []byte) []wire.Payload {
	sa.lastError = wire.NotifyAuthenticationFailed
	sa.failure = wire.NotifyAuthenticationFailed.String() + " sent: EAP: " + why
	user := ""
	if sa.eap != nil {
		user = sa.eap.user
		sa.eap.clear()
	}
	sa.log().Info("authentication of peer failed", "reason", "EAP: "+why, "eap-identity", user)
	sa.closeAfterResponse = true
	var resp []wire.Payload
	if len(eapMsg) >= 4 && eapMsg[0] == eapFailure {
		resp = append(resp, &wire.EAP{Message: eapMsg})
	}
	return append(resp, wire.NewNotify(wire.NotifyAuthenticationFailed, nil))
}

// ownCredential reports whether v has a way to authenticate us with
// AUTH: a pre-shared-key, or a certificate (local-auth-method).
func ownCredential(v *config.VPN) bool {
	return v.LocalAuth == config.AuthCert || len(v.PSK) > 0
}
