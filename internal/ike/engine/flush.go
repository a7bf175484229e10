package engine

import "secgw/internal/ike/wire"

// flush removes sa at once, as the operator asked ("flush ike ike-sa");
// its worker is locked.
//
// The peer is told with D(IKE) (RFC 7296 §1.4.1) sent once, best effort:
// no retransmission, no wait for the answer, which is dropped as the
// answer of an unknown SA when it comes. What the SA is decides whether
// the DELETE goes out at all:
//
//   - established: D(IKE) with the next message ID (after an
//     outstanding request's, whose answer will never be used);
//   - ours with the IKE_AUTH request out: the keys exist and the peer may
//     have completed the exchange (an SA we would not have, the stale SA
//     the soak found after a reauth then a flush), so D(IKE) goes out at
//     once with message ID 2, right behind the IKE_AUTH request. It is
//     ahead of the window of one (RFC 7296 §2.3) only until the peer
//     answers IKE_AUTH, which a peer processing requests in order (charon)
//     has done before it reads ours; one that never got IKE_AUTH drops it
//     as out of the window and its half-open SA times out. Waiting for
//     the IKE_AUTH answer, as the deletion for other causes does
//     (endUnestablished), would not be "at once";
//   - in IKE_SA_INIT, or a responder not yet authenticated: nothing to
//     tell, nothing the peer can use without us; dropped.
//
// A flushed SA triggers no dpd-action and no close-action (they answer a
// peer's failure or deletion, not the operator's flush) and no
// break-before-make re-establishment. start-action is left to decide:
// with trap the trap policies stay installed and the next packet
// negotiates the tunnel again; with start the tunnel comes back only
// when a commit adds or changes its VPN (as charon's start_action=start
// acts when the connection is loaded, not after a terminate); with none
// it stays down.
func (e *Engine) flush(sa *ikeSA) {
	if sa.state == stateDeleted {
		return
	}
	if sa.hasKeys() && (sa.state == stateEstablished || (sa.state == stateAuth && sa.initiator)) {
		id := sa.nextID
		if sa.pending != nil {
			id = sa.pending.id + 1
		}
		msgs, err := sa.encodeAll(wire.ExchangeInformational, id, false, []wire.Payload{&wire.Delete{Protocol: wire.ProtocolIKE}})
		if err != nil {
			sa.log().Warn("flush: cannot encode the DELETE", "err", err)
		} else {
			sa.log().Debug("flush: sending the DELETE once", "msgid", id)
			sa.sendAll(msgs)
		}
	}
	sa.log().Info("IKE SA flushed")
	sa.closing = true
	sa.peerDead, sa.closedByPeer, sa.reestablish = false, false, nil
	e.removeSA(sa)
}
