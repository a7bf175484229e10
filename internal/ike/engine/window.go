package engine

import (
	"encoding/binary"

	"secgw/internal/ike/proposal"
	"secgw/internal/ike/wire"
)

// The IKE window (RFC 7296 §2.3). SET_WINDOW_SIZE announces how many
// requests an endpoint accepts before it has answered the first: the
// number of responses it keeps for retransmission. The window is one until
// the initial exchanges complete, and stays one towards a peer that
// announces nothing. We announce global-options window-size in IKE_AUTH
// when it is above one; a peer may raise its window later in an
// INFORMATIONAL request. An IKE SA created by a rekey inherits both
// windows of the SA it replaces.

// maxWindowSize bounds the window we use as requester, whatever the peer
// announces, and the one we announce (the model's range).
const maxWindowSize = 64

// windowNotify returns the SET_WINDOW_SIZE notify of our IKE_AUTH message
// (request or response) and records the window announced, or nothing with
// a window of one.
func (sa *ikeSA) windowNotify() []wire.Payload {
	w := uint32(min(max(sa.w.e.config().Global.WindowSize, 1), maxWindowSize))
	if w <= 1 {
		return nil
	}
	sa.ourWindow = w
	return []wire.Payload{wire.NewNotify(wire.NotifySetWindowSize, binary.BigEndian.AppendUint32(nil, w))}
}

// peerWindowFrom records the peer's SET_WINDOW_SIZE, if ps has one. A
// notify whose data is not 4 octets is ignored (§3.10.1: "MUST be 4
// octets long"), as is 0.
func (sa *ikeSA) peerWindowFrom(ps []wire.Payload) {
	n := wire.FindNotify(ps, wire.NotifySetWindowSize)
	if n == nil {
		return
	}
	if len(n.Data) != 4 || binary.BigEndian.Uint32(n.Data) == 0 {
		sa.log().Info("ignoring malformed SET_WINDOW_SIZE", "len", len(n.Data))
		return
	}
	sa.peerWindow = binary.BigEndian.Uint32(n.Data)
	sa.log().Debug("peer window", "size", sa.peerWindow)
	if sa.state == stateEstablished {
		sa.startNext() // a larger window may let queued requests go
	}
}

// sendWindow is how many requests we may have outstanding: the smaller of
// the peer's window and ours, one before the IKE SA is established (RFC
// 7296 §2.3).
func (sa *ikeSA) sendWindow() uint32 {
	if sa.state != stateEstablished || sa.peerWindow <= 1 {
		return 1
	}
	return min(sa.peerWindow, max(sa.ourWindow, 1), maxWindowSize)
}

// recvWindow is how many requests we accept ahead of the first one not
// answered: the window we announced, one before the IKE SA is established.
func (sa *ikeSA) recvWindow() uint32 {
	if sa.state != stateEstablished || sa.ourWindow <= 1 {
		return 1
	}
	return sa.ourWindow
}

// concurrent reports whether t may run beside other outstanding requests:
// child SA creations, rekeys and deletes, and liveness checks, which touch
// different child SAs. IKE SA rekeys and deletes, the initial exchanges,
// and the exchanges with additional key exchanges (RFC 9370, one
// IKE_FOLLOWUP_KE chain at a time) run alone, in queue order (RFC 7296
// §2.8, §2.25).
func (sa *ikeSA) concurrent(t task) bool {
	switch x := t.(type) {
	case *childCreateTask:
		return sa.vpn == nil || !proposal.HasAdditionalKE(sa.vpn.ESPProposals)
	case *deleteTask:
		return !x.ike
	case *livenessTask:
		return true
	}
	return false
}

// cachedResponse returns the cached response to request id, if we keep
// one.
func (sa *ikeSA) cachedResponse(id uint32) ([][]byte, bool) {
	if sa.haveLastResp && sa.lastRespID == id {
		return sa.lastResp, true
	}
	for _, c := range sa.older {
		if c.id == id {
			return c.msgs, true
		}
	}
	return nil, false
}

// cacheResponse keeps the response msgs to request id and moves expectID
// past the requests answered. With a window of one only the last
// response is kept; with a window of N the last N (§2.3: enough for any
// request the peer may still retransmit), the one with the lowest ID
// going first.
func (sa *ikeSA) cacheResponse(id uint32, msgs [][]byte) {
	w := sa.recvWindow()
	if sa.haveLastResp && w > 1 {
		sa.older = append(sa.older, cachedResp{sa.lastRespID, sa.lastResp})
	}
	sa.lastResp, sa.haveLastResp, sa.lastRespID = msgs, true, id
	for uint32(len(sa.older))+1 > w && len(sa.older) > 0 {
		low := 0
		for i, c := range sa.older {
			if c.id < sa.older[low].id {
				low = i
			}
		}
		sa.older = append(sa.older[:low], sa.older[low+1:]...)
	}
	if len(sa.older) == 0 {
		sa.older = nil
	}
	if id == sa.expectID {
		sa.expectID++
		for {
			if _, ok := sa.cachedResponse(sa.expectID); !ok {
				break
			}
			sa.expectID++
		}
	}
}
