package engine

import (
	"bytes"
	"log/slog"

	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/proposal"
	"secgw/internal/ike/wire"
)

// Pre-shared keys held by the AAA server (remote-auth-method
// pre-shared-key-radius, the vsr guide's "Remote peer authentication by
// PSK via RADIUS"), as the responder:
//
//	HDR, SK {IDi, AUTH(PSK), [IDr,] SAi2, TSi, TSr}  -->
//	        [AAA: Access-Request User-Name = IDi; Access-Accept with
//	         Tunnel-Password = the peer's PSK (RFC 2868 §3.5)]
//	                 <--  HDR, SK {IDr, AUTH, [CP,] SAr2, TSi, TSr}
//
// The peer's AUTH is an ordinary shared-key one (RFC 7296 §2.15); only
// its key comes from the server, asked by the peer's identity as the
// user name (config.Identity.String: an FQDN or email as it is, an
// address in text, a DN in RFC 4514 form). Our AUTH follows
// local-auth-method: the VPN's certificate, or its pre-shared-key, or,
// when the VPN has none, the key the server gave (the usual symmetric
// PSK of a road warrior, one key per user). VPNs whose keys are our own
// are tried first (authenticatePeer); the AAA server is asked only when
// none verifies the AUTH.
//
// As with EAP (eap.go), the worker never waits for the server: the
// request is parked (ikeSA.pskAAA), its retransmissions are absorbed,
// and the server's answer, on its own goroutine, locks the SA's worker
// and sends the response (resumePSKAAA). The half-open timeout bounds
// the wait. The key is not kept: it is cleared once the AUTH payloads
// are computed and checked; a peer that reconnects is asked for again,
// so that a key changed or a user removed on the server takes effect at
// once (a cache by identity would buy one RADIUS round trip per IKE SA,
// which the setup of an IKE SA with a Diffie-Hellman easily absorbs).

// pskAAAState is the IKE_AUTH request of a peer waiting for the AAA
// server's answer: what it said, to check its AUTH and answer it then.
type pskAAAState struct {
	vpn *config.VPN
	// ps are the request's payloads; idi and auth its IDi and AUTH.
	ps   []wire.Payload
	idi  *wire.Identification
	auth *wire.Auth
	// user is the User-Name the server was asked for.
	user string
	// msg is the request's header, to answer it with.
	msg wire.Header
}

// pskAAAAuth is how the AAA server authenticated a peer: the user name
// and the Access-Accept's attributes (the vip-pool radius, accounting),
// and the key, for our own AUTH when the VPN has none.
type pskAAAAuth struct {
	user  string
	attrs AAAAttrs
	key   []byte
}

// ourVPN is the VPN our AUTH is computed for: v itself, or, authenticated
// by the AAA server with v having no pre-shared-key of its own, a copy of
// v with the server's key as ours.
func (a *pskAAAAuth) ourVPN(v *config.VPN) *config.VPN {
	if a == nil || v.LocalAuth != config.AuthPSK || len(v.PSK) > 0 {
		return v
	}
	c := *v
	c.PSK = a.key
	return &c
}

// pskAAAWaiting reports whether the SA's IKE_AUTH request waits for the
// AAA server: the request m is then a retransmission of it (or another
// request the peer should not have sent yet) and is absorbed.
func (sa *ikeSA) pskAAAWaiting(m *wire.Message) bool {
	st := sa.pskAAA
	if st == nil {
		return false
	}
	if m.Header.MessageID == st.msg.MessageID {
		sa.log().Debug("absorbing a retransmitted IKE_AUTH request: the AAA server has not answered yet", "msgid", m.Header.MessageID)
	}
	return true
}

// pskAAAVPN is the first candidate VPN of remote-auth-method
// pre-shared-key-radius whose identities and IKE proposal match the
// request, for a shared-key AUTH; nil when none.
func (sa *ikeSA) pskAAAVPN(idi, idr *wire.Identification, auth *wire.Auth) *config.VPN {
	if auth.Method != wire.AuthSharedKeyMIC {
		return nil
	}
	for _, v := range sa.candidates {
		if sa.aaaVPNMatches(v, config.AAAPSK, idi, idr) {
			return v
		}
	}
	return nil
}

// aaaVPNMatches reports whether candidate v authenticates its peers by
// the AAA method m and matches the IKE_AUTH request: the peer's identity
// idi, the identity idr it asked us for (if any, RFC 7296 §3.5), and the
// IKE proposal the SA accepted (a later KE may differ: IgnoreKE).
func (sa *ikeSA) aaaVPNMatches(v *config.VPN, m config.AAAMethod, idi, idr *wire.Identification) bool {
	if v.RemoteAAA != m {
		return false
	}
	if !v.RemoteID.IsZero() && !v.RemoteID.Matches(idi) {
		return false
	}
	if idr != nil && !v.LocalID.IsZero() && !v.LocalID.Matches(idr) {
		return false
	}
	_, ok := proposal.Select(v.IKEProposals, []wire.Proposal{sa.acceptedIKE()}, proposal.Options{IgnoreKE: true, MatchAddKE: true})
	return ok
}

// startPSKAAA asks the AAA server for the key of the peer of request m
// (payloads ps) for vpn and parks the request: ok false. Without an AAA
// server the peer is refused at once.
func (sa *ikeSA) startPSKAAA(d Datagram, m *wire.Message, vpn *config.VPN, ps []wire.Payload, idi *wire.Identification, auth *wire.Auth) ([]wire.Payload, bool) {
	user := config.Identity{Type: idi.IDType, Data: idi.Data}.String()
	st := &pskAAAState{vpn: vpn, ps: ps, user: user, msg: m.Header,
		idi:  &wire.Identification{IDType: idi.IDType, Data: bytes.Clone(idi.Data)},
		auth: &wire.Auth{Method: auth.Method, Data: bytes.Clone(auth.Data)}}
	aaa := sa.w.e.o.AAA
	if aaa == nil || len(user) > 253 {
		why := "no AAA server configured (ike radius)"
		if aaa != nil {
			why = "identity longer than a RADIUS User-Name (253 octets)"
		}
		return sa.pskAAAFail(st, slog.LevelWarn, why), true
	}
	sa.pskAAA = st
	sa.log().Info("asking the AAA server for the peer's pre-shared key", "peer-id", user, "vpn", vpn.Name)
	e := sa.w.e
	req := AAARequest{VPN: vpn.Name, UserName: user, Peer: sa.remote.Addr(), Local: sa.local.Addr()}
	// The call goes out once this worker's lock is released, so that an
	// AAA that answers at once does not find the lock held.
	sa.w.later = append(sa.w.later, func() {
		aaa.PSK(req, func(r AAAReply) { e.resumePSKAAA(sa, st, d, r) })
	})
	return nil, false
}

// resumePSKAAA is the AAA server's answer to the request st of sa, on
// the AAA's goroutine: it answers the IKE_AUTH request that waited,
// unless the SA went meanwhile. The key is cleared before it returns.
func (e *Engine) resumePSKAAA(sa *ikeSA, st *pskAAAState, d Datagram, r AAAReply) {
	defer clear(r.PSK)
	w, ok := e.lockSA(sa)
	defer w.unlock()
	if !ok || sa.pskAAA != st {
		return
	}
	sa.pskAAA = nil
	sa.answer(d, &wire.Message{Header: st.msg}, sa.pskAAAReply(st, r))
}

// pskAAAReply checks the peer's AUTH with the key of the server's answer
// r and, if it verifies, establishes the IKE SA (acceptPeer).
func (sa *ikeSA) pskAAAReply(st *pskAAAState, r AAAReply) []wire.Payload {
	switch {
	case r.Err != nil:
		// The error names the servers tried, never a secret.
		return sa.pskAAAFail(st, slog.LevelWarn, "no AAA server answered: "+r.Err.Error())
	case r.Outcome == AAAReject:
		return sa.pskAAAFail(st, slog.LevelInfo, "the AAA server rejected the identity")
	case r.Outcome != AAAAccept:
		return sa.pskAAAFail(st, slog.LevelWarn, "unexpected AAA verdict")
	case len(r.PSK) == 0:
		return sa.pskAAAFail(st, slog.LevelWarn, "the AAA server accepted the identity without a pre-shared key (Tunnel-Password)")
	}
	so := sa.signedOctets(sa.keys().SKpi, sa.initRequest, sa.nr, st.idi.SignedOctets())
	if !ikecrypto.VerifyAuthPSK(sa.prf(), r.PSK, so, st.auth.Data) {
		return sa.pskAAAFail(st, slog.LevelInfo, "the peer's AUTH does not verify with the pre-shared key of the AAA server")
	}
	sa.log().Info("peer authenticated with its pre-shared key from the AAA server", "peer-id", st.user, "vpn", st.vpn.Name)
	return sa.acceptPeer(st.vpn, nil, st.ps, st.idi, st.auth, &pskAAAAuth{user: st.user, attrs: r.Attrs, key: r.PSK})
}

// pskAAAFail refuses the peer (RFC 7296 §2.21.2: AUTHENTICATION_FAILED,
// and the IKE SA is gone), logged and counted with the refusals.
func (sa *ikeSA) pskAAAFail(st *pskAAAState, level slog.Level, why string) []wire.Payload {
	sa.lastError = wire.NotifyAuthenticationFailed
	sa.failure = wire.NotifyAuthenticationFailed.String() + " sent: pre-shared-key-radius: " + why
	sa.w.e.refused(level, wire.NotifyAuthenticationFailed, "authentication of peer failed", sa.remote, "exchange", "IKE_AUTH",
		"unique-id", sa.uid, "peer-id", st.user, "vpn", st.vpn.Name, "auth-method", authMethodName(st.auth.Method),
		"reason", "pre-shared-key-radius: "+why)
	sa.closeAfterResponse = true
	return []wire.Payload{wire.NewNotify(wire.NotifyAuthenticationFailed, nil)}
}

// respondCPVia is respondCP (vip.go), or, for a peer the AAA server
// authenticated (via), respondCPWith the attributes of its
// Access-Accept (pool 'radius', eap_vip.go).
func (sa *ikeSA) respondCPVia(ps []wire.Payload, via *pskAAAAuth) ([]wire.Payload, bool) {
	if via == nil {
		return sa.respondCP(ps)
	}
	return sa.respondCPWith(ps, via.attrs)
}
