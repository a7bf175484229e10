package engine

import (
	"slices"

	"secgw/internal/ike/wire"
)

// IKE message IDs across an HA takeover (the "safe
// margin"). RFC 6311 defines an exchange that resynchronises the message
// IDs of a cluster member that took over, but strongSwan 5.9, our test
// peer, does not implement it; so the record carries the IDs as of the
// last completed exchange, and the node that takes over:
//
//   - as responder, accepts the peer's next request at any message ID
//     from the synced expected one on (the old active may have answered
//     some since its last sync), once it authenticates; from then on the
//     window applies as usual (ikeSA.haResync, handleRequest);
//   - as requester, goes on with the synced next ID. If the old active
//     had sent a request with that ID after its last sync, the peer
//     takes ours for a retransmission and sends its cached response to
//     that request again (RFC 7296 §2.1). A response to our request's ID
//     of another exchange is that: it authenticates, so it proves the
//     peer alive, and our request goes again with the next ID
//     (cachedAnswer); one of the same exchange (an empty INFORMATIONAL,
//     as DPD sends) answers ours as well as the old one. This holds until
//     a response of ours has been processed (ikeSA.haFirstReq).
//
// The first request after the takeover is always a liveness check (an
// empty INFORMATIONAL, livenessFirst): a cached response of the same
// exchange type as a request with real content (a CREATE_CHILD_SA) would
// otherwise be taken for the answer to it, with the peer's nonce and
// SPI of another exchange, and give keys the peer does not have.
//
// What the old active did in exchanges after its last sync is lost to
// the new active: a child SA it created then is unknown here (the peer
// deletes it when it expires, or never uses it); a rekey it completed is
// done again.

// cachedAnswer handles, on an IKE SA just taken over, a response to our
// outstanding request i that answers another exchange: the peer's cached
// response to the old active's request with this ID. Authenticated, it
// is the peer's proof of liveness; the request's task is sent again with
// the next message ID. sa.w.mu is held.
func (sa *ikeSA) cachedAnswer(i int, m *wire.Message) {
	if _, complete, err := sa.decrypt(m, true); err != nil || !complete {
		return // forged, or more fragments to come
	}
	r := sa.out[i]
	sa.out = slices.Delete(sa.out, i, i+1)
	if len(sa.out) == 0 {
		sa.out = nil
	}
	sa.rearmRetransmit()
	sa.lastIn = sa.w.e.mono()
	sa.nextID = max(sa.nextID, r.id+1)
	sa.log().Info("HA: the peer answered our first request after the takeover with its cached response to the old active's; sending it again with the next message ID",
		"msgid", r.id, "exchange", m.Header.Exchange, "ours", r.task.exchange())
	sa.tasks = append([]task{r.task}, sa.tasks...)
	sa.startNext()
	sa.syncLater()
}

// livenessFirst makes sure, on an IKE SA just taken over, that the first
// request is a liveness check and goes alone: it queues one ahead of the
// other tasks if needed, and reports whether the next queued task may be
// sent now (no request outstanding). sa.w.mu is held.
func (sa *ikeSA) livenessFirst() bool {
	if len(sa.out) > 0 {
		return false // the first request: the others wait for its answer
	}
	if _, ok := sa.tasks[0].(*livenessTask); !ok {
		sa.tasks = append([]task{&livenessTask{}}, sa.tasks...)
	}
	return true
}
