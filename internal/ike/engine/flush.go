package engine

import "secgw/internal/ike/wire"

// flush removes sa at once, as the operator asked ("flush ike ike-sa");
// its worker is locked.
//
// The peer is told with D(IKE) (RFC 7296 §1.4.1) sent once, best effort:
// no retransmission, and the SA is gone at once for everyone else. What
// the SA is decides how the DELETE goes out:
//
//   - established, or ours with the IKE_AUTH request out (the keys exist
//     and the peer may complete the exchange: an SA we would not have,
//     the stale SA the soak found after a reauth then a flush), with no
//     request of ours outstanding: D(IKE) at once with the next message
//     ID, and the SA is removed;
//   - the same with a request of ours outstanding (IKE_AUTH, a DPD
//     probe, a rekey): the window of one (RFC 7296 §2.3: an endpoint
//     MUST NOT exceed the peer's window) forbids a second request, so
//     the SA's child SAs are removed at once, the SA leaves the state
//     (flushed) and stays only to send D(IKE) once the outstanding
//     request is answered (its answer is not acted on) or has timed
//     out, after which it is removed whatever the peer says;
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
	tell := sa.hasKeys() && (sa.state == stateEstablished || (sa.state == stateAuth && sa.initiator))
	sa.log().Info("IKE SA flushed")
	sa.syncLater() // gone for the standby too (ha.go)
	sa.closing = true
	sa.peerDead, sa.closedByPeer, sa.reestablish = false, false, nil
	if tell && sa.busy() {
		for len(sa.children) > 0 {
			sa.removeChild(sa.children[0])
		}
		sa.flushed = true
		e.contacts.drop(sa) // gone for everyone: no contact (unique.go)
		sa.tasks = []task{&deleteTask{ike: true, once: true}}
		// No more retransmissions of the outstanding requests: their
		// answers are awaited one retransmission delay, no longer.
		for _, r := range sa.out {
			r.tries = r.try
		}
		return
	}
	if tell {
		msgs, err := sa.encodeAll(wire.ExchangeInformational, sa.nextID, false, []wire.Payload{&wire.Delete{Protocol: wire.ProtocolIKE}})
		if err != nil {
			sa.log().Warn("flush: cannot encode the DELETE", "err", err)
		} else {
			sa.log().Debug("flush: sending the DELETE once", "msgid", sa.nextID)
			sa.sendAll(msgs)
		}
	}
	e.removeSA(sa)
}
