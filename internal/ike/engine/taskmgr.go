package engine

import (
	"errors"
	"log/slog"
	"slices"
	"time"

	"secgw/internal/ike/wire"
	"secgw/internal/ipsec"
)

// task is one concern of an exchange we initiate (strongSwan's task
// model): build returns the payloads of the request, process consumes the
// response's payloads. With a window of 1 (RFC 7296 §2.3) tasks run one at
// a time; with a larger window agreed by SET_WINDOW_SIZE (window.go) the
// independent ones (concurrent) run side by side.
type task interface {
	exchange() wire.ExchangeType
	build(sa *ikeSA) ([]wire.Payload, error)
	// process handles the response. Returning errRestart sends the
	// (rebuilt) request again with the same message ID (IKE_SA_INIT);
	// errAgain sends it again as a new exchange with the next message ID
	// (CREATE_CHILD_SA after INVALID_KE_PAYLOAD, RFC 7296 §1.3); any
	// other error ends the IKE SA.
	process(sa *ikeSA, m *wire.Message, ps []wire.Payload) error
}

// retransmitter is a task whose request follows its own retransmission
// schedule instead of global-options' (a DPD probe with dpd-threshold):
// tries retransmissions, each after delay.
type retransmitter interface {
	retransmitSchedule(sa *ikeSA) (tries int, delay time.Duration)
}

// request is an outstanding request of an SA.
type request struct {
	id uint32
	// msgs are the datagrams of the request: one, or its fragments
	// (RFC 7383), all resent on a retransmission.
	msgs [][]byte
	try  int
	task task
	// tries and fixed, when fixed is not zero, replace the global
	// retransmission constants (see retransmitter).
	tries int
	fixed time.Duration
	// due is when the request is retransmitted next (engine clock).
	due int64
}

// cachedResp is a response kept for the retransmission of its request.
type cachedResp struct {
	id   uint32
	msgs [][]byte
}

// taskManager owns the message IDs of one IKE SA (RFC 7296 §2.2, §2.3):
// as requester the next ID and the outstanding requests, each with its
// own retransmission deadline; as responder the lowest ID not yet
// answered and the cached responses, sent again when their request is
// retransmitted.
type taskManager struct {
	tasks []task
	// out are the outstanding requests in message ID order: at most one
	// in a window of 1.
	out    []*request
	nextID uint32
	// curID is the message ID of our request being built or of the
	// response being processed.
	curID uint32
	// expectID is the lowest message ID of the peer not yet answered.
	expectID uint32
	// lastResp is the last response sent (to request lastRespID), as
	// its datagrams (fragments); older are the earlier responses still
	// in our window (window.go), none in a window of 1.
	lastResp     [][]byte
	haveLastResp bool
	lastRespID   uint32
	older        []cachedResp
	// ourWindow is the window we announced with SET_WINDOW_SIZE and
	// peerWindow the peer's (0: none, a window of 1).
	ourWindow, peerWindow uint32
	// closeAfterResponse removes the SA once the response is sent
	// (AUTHENTICATION_FAILED, RFC 7296 §2.21.2).
	closeAfterResponse bool
}

func (sa *ikeSA) queue(t task) { sa.tasks = append(sa.tasks, t) }

// busy reports whether a request of ours is outstanding.
func (sa *ikeSA) busy() bool { return len(sa.out) > 0 }

// pendingTask is the task of the oldest outstanding request, nil if none.
// A task that is not concurrent is always alone.
func (sa *ikeSA) pendingTask() task {
	if len(sa.out) == 0 {
		return nil
	}
	return sa.out[0].task
}

// outstanding reports whether the task of an outstanding request
// satisfies f.
func (sa *ikeSA) outstanding(f func(task) bool) bool {
	return slices.ContainsFunc(sa.out, func(r *request) bool { return f(r.task) })
}

// startNext sends the requests of the queued tasks that the window
// allows, in queue order: the head task goes when no request is
// outstanding or, if it is concurrent, when every outstanding one is
// too and its message ID is within the send window.
func (sa *ikeSA) startNext() {
	for len(sa.tasks) > 0 && sa.state != stateDeleted {
		if sa.haFirstReq && !sa.livenessFirst() {
			return // the first request after an HA takeover goes alone (ha_msgid.go)
		}
		t := sa.tasks[0]
		if len(sa.out) > 0 {
			if !sa.concurrent(t) || !sa.outstanding(sa.concurrent) {
				return
			}
			if w := sa.sendWindow(); sa.nextID-sa.out[0].id >= w {
				// RFC 7296 §2.3: request X waits for the responses up
				// through X-N.
				return
			}
		}
		sa.tasks[0] = nil
		sa.tasks = sa.tasks[1:]
		if len(sa.tasks) == 0 {
			sa.tasks = nil // free the array: most SAs idle with no task
		}
		if !sa.sendRequest(t, sa.nextID) {
			continue // skipped: try the next task
		}
	}
}

// sendRequest builds and sends the request of t with message ID id; it
// returns false when the task had nothing to do or the SA failed.
func (sa *ikeSA) sendRequest(t task, id uint32) bool {
	sa.curID = id
	ps, err := t.build(sa)
	if errors.Is(err, errSkip) {
		// The task has nothing to do any more (its child SA went away
		// while it waited in the queue).
		return false
	}
	if err != nil {
		sa.fail(err)
		return false
	}
	msgs, err := sa.encodeAll(t.exchange(), id, false, ps)
	if err != nil {
		sa.fail(err)
		return false
	}
	if t.exchange() == wire.ExchangeIKESAInit {
		sa.initRequest = msgs[0]
	}
	sa.traceMessage(true, sa.header(t.exchange(), id, false), ps, msgs) // debug.go
	r := &request{id: id, msgs: msgs, task: t, tries: sa.w.e.config().Global.Retransmit.Tries}
	if rt, ok := t.(retransmitter); ok {
		if tries, d := rt.retransmitSchedule(sa); d > 0 {
			r.tries, r.fixed = tries, d
		}
	}
	sa.nextID = max(sa.nextID, id+1)
	i, _ := slices.BinarySearchFunc(sa.out, id, func(r *request, id uint32) int { return int(int64(r.id) - int64(id)) })
	sa.out = slices.Insert(sa.out, i, r)
	sa.log().Debug("sending request", "exchange", t.exchange(), "msgid", id, "fragments", len(msgs), "outstanding", len(sa.out))
	sa.countRequest(t)
	sa.sendAll(msgs)
	sa.armRetransmit(r)
	return true
}

// armRetransmit sets the retransmission deadline of request r and arms
// the SA's timerRetransmit for the earliest one of its requests.
func (sa *ikeSA) armRetransmit(r *request) {
	c := sa.w.e.config().Global.Retransmit
	d := r.fixed
	if d == 0 {
		d = RetransmitDelay(r.try, c.Tries, c.Timeout, c.Base, c.JitterPct, c.Limit, sa.w.e.o.Jitter)
	}
	r.due = sa.w.e.deadline(d)
	sa.rearmRetransmit()
}

// rearmRetransmit arms timerRetransmit for the earliest deadline of the
// outstanding requests, or stops it when none is outstanding.
func (sa *ikeSA) rearmRetransmit() {
	var at int64
	for _, r := range sa.out {
		if at == 0 || r.due < at {
			at = r.due
		}
	}
	if sa.at[timerRetransmit] != at {
		sa.at[timerRetransmit] = at
		sa.resched()
	}
}

func (sa *ikeSA) stopTimer() { sa.disarm(timerRetransmit) }

// stopTimers stops every timer of an SA that goes away: retransmission,
// reassembly and keepalive.
func (sa *ikeSA) stopTimers() {
	sa.stopTimer()
	sa.resetReassembly(0)
	sa.resetReassembly(1)
	sa.stopKeepalive()
}

// expiredRetransmit retransmits each outstanding request whose deadline
// has come or, after its last try, gives up on the IKE SA (RFC 7296
// §2.4).
func (sa *ikeSA) expiredRetransmit() {
	now := sa.w.e.mono()
	for _, r := range slices.Clone(sa.out) {
		if r.due > now {
			continue
		}
		if r.try >= r.tries {
			if sa.tcpFallback() { // tcp.go
				return
			}
			// A flushed SA's end is the operator's, not a dead peer's:
			// no dpd-action (flush.go).
			sa.peerDead = sa.state == stateEstablished && !sa.flushed
			if sa.peerDead {
				sa.countDPDTimeout(r)
			}
			sa.fail(errPeerDead)
			return
		}
		r.try++
		if r.try >= mobikeSwitchTry {
			sa.tryOtherPath() // mobike.go
		}
		sa.log().Debug("retransmitting request", "msgid", r.id, "try", r.try)
		sa.countRetransmit()
		sa.sendAll(r.msgs)
		c := sa.w.e.config().Global.Retransmit
		d := r.fixed
		if d == 0 {
			d = RetransmitDelay(r.try, c.Tries, c.Timeout, c.Base, c.JitterPct, c.Limit, sa.w.e.o.Jitter)
		}
		r.due = sa.w.e.deadline(d)
	}
	sa.rearmRetransmit()
}

// handleResponse matches a response with an outstanding request by
// message ID, in any order; anything else is a stale or duplicate
// response and is dropped (RFC 7296 §2.2).
func (sa *ikeSA) handleResponse(d Datagram, m *wire.Message) {
	i := slices.IndexFunc(sa.out, func(r *request) bool { return r.id == m.Header.MessageID })
	if i >= 0 && m.Header.Exchange != sa.out[i].task.exchange() && sa.haFirstReq {
		sa.cachedAnswer(i, m) // ha_msgid.go
		return
	}
	if i < 0 || m.Header.Exchange != sa.out[i].task.exchange() {
		return
	}
	p := sa.out[i]
	var ps []wire.Payload
	if m.Header.Exchange == wire.ExchangeIKESAInit {
		ps = wire.SkipUnknown(m.Payloads)
		if sa.ignoreInitRedirect(ps) {
			return // RFC 5685: not ours to follow (redirect.go)
		}
	} else {
		var err error
		var complete bool
		if ps, complete, err = sa.decrypt(m, true); err != nil {
			sa.log().Debug("dropping response", "err", err)
			return
		} else if !complete {
			return // more fragments to come (RFC 7383 §2.6)
		}
	}
	sa.traceMessage(false, m.Header, ps, [][]byte{d.Data}) // debug.go
	sa.out = slices.Delete(sa.out, i, i+1)
	if len(sa.out) == 0 {
		sa.out = nil
	}
	sa.rearmRetransmit()
	sa.lastIn = sa.w.e.mono()
	sa.haFirstReq = false
	defer sa.syncLater() // the message IDs moved (ha.go)
	if sa.flushed {
		// The answer the flush waited for: not acted on; the D(IKE)
		// follows (flush.go) once nothing is outstanding.
		sa.startNext()
		return
	}
	sa.curID = p.id
	err := p.task.process(sa, m, ps)
	switch {
	case errors.Is(err, errRestart):
		sa.sendRequest(p.task, p.id)
		return
	case errors.Is(err, errAgain):
		sa.tasks = append([]task{p.task}, sa.tasks...)
		sa.startNext()
		return
	case err != nil:
		sa.fail(err)
		return
	}
	if sa.state == stateDeleted {
		return
	}
	sa.startNext()
}

// handleRequest runs the responder side of an exchange: a retransmitted
// request gets its cached response, a new one within our window is
// answered in any order, anything else is dropped (RFC 7296 §2.2, §2.3).
func (sa *ikeSA) handleRequest(d Datagram, m *wire.Message) {
	id := m.Header.MessageID
	if msgs, ok := sa.cachedResponse(id); ok {
		if f, ok := lastFragment(m); ok && !sa.retransmittedFirstFragment(m, f) {
			return // RFC 7383 §2.6.1: only fragment 1 triggers the resend
		}
		sa.log().Debug("retransmitting cached response", "msgid", id)
		sa.sendResponse(d, msgs)
		return
	}
	if m.Header.Exchange == wire.ExchangeIKESAInit || id < sa.expectID {
		return
	}
	if w := sa.recvWindow(); id-sa.expectID >= w && !sa.haResync {
		if w > 1 {
			sa.log().Limited(slog.LevelInfo, "dropping request beyond the window", "msgid", id, "expected", sa.expectID, "window", w)
		}
		return
	}
	ps, complete, err := sa.decrypt(m, false)
	if err != nil {
		sa.rejectRequest(d, m, err)
		return
	}
	if !complete {
		return // more fragments to come (RFC 7383 §2.6)
	}
	sa.traceMessage(false, m.Header, ps, [][]byte{d.Data}) // debug.go
	if sa.haResync {
		// Taken over (ha_msgid.go): the old active may have
		// answered requests after its last sync; the first
		// authenticated request sets the expected message ID.
		sa.haResync, sa.expectID = false, id
	}
	defer sa.syncLater() // the message IDs moved (ha.go)
	sa.lastIn = sa.w.e.mono()
	if d.Local.Port() == PortNATT && !sa.natt && !sa.mobike {
		// The initiator floated to port 4500 (RFC 7296 §2.23). With
		// MOBIKE, addresses change by UPDATE_SA_ADDRESSES only (RFC
		// 4555 §3.5; mobike.go).
		sa.natt, sa.local, sa.remote = true, d.Local, d.Remote
	}
	sa.streamRequest(d) // tcp.go
	var resp []wire.Payload
	switch m.Header.Exchange {
	case wire.ExchangeIKEAuth:
		if sa.state != stateInit || sa.handshake == nil || len(sa.addKE) > 0 {
			return // RFC 9370 §2.2.1: after every IKE_INTERMEDIATE
		}
		if sa.wantsEAP(ps) {
			var ok bool
			if resp, ok = sa.respondEAP(d, m, ps); !ok {
				return // answered when the AAA server is (eap.go)
			}
		} else {
			var ok bool
			if resp, ok = sa.respondAuth(d, m, ps); !ok {
				return // answered when the AAA server is (psk_aaa.go)
			}
		}
	case wire.ExchangeIKEIntermediate:
		if sa.state != stateInit || sa.handshake == nil || len(sa.addKE) == 0 {
			return
		}
		resp = sa.respondIntermediate(m, ps)
	case wire.ExchangeInformational:
		if sa.state != stateEstablished {
			return
		}
		sa.peerWindowFrom(ps) // window.go
		resp = sa.respondInformational(ps)
		resp = append(resp, sa.respondUpdateAddresses(d, ps)...) // RFC 4555 (mobike.go)
	case wire.ExchangeCreateChildSA:
		if sa.state != stateEstablished {
			return
		}
		resp = sa.respondCreateChild(ps)
	case wire.ExchangeIKEFollowupKE:
		if sa.state != stateEstablished {
			return
		}
		resp = sa.respondFollowup(ps) // followup.go
	default:
		return // RFC 7296 §2.21: an unknown exchange type is dropped
	}
	sa.answer(d, m, resp)
}

// answer sends resp, the response to request m, removes the SA if the
// exchange ended it, then runs what the request leads to: for
// handleRequest, and for a request parked for the AAA server
// (resumeEAP, resumePSKAAA) once the server answered. The worker's lock
// is held.
func (sa *ikeSA) answer(d Datagram, m *wire.Message, resp []wire.Payload) {
	sa.respond(d, m, resp)
	if sa.state == stateDeleted || sa.closeAfterResponse {
		sa.w.e.removeSA(sa)
	}
	// What the request leads us to do comes after our answer to it.
	after := sa.w.afterResponse
	sa.w.afterResponse = nil
	for _, f := range after {
		f()
	}
}

// rejectRequest handles a request whose protected payloads could not be
// used. One that does not authenticate is dropped (RFC 7296 §2.21: no
// answer to what might be forged). One that authenticates but carries an
// unsupported critical payload, or whose inner payloads do not parse, is
// answered with UNSUPPORTED_CRITICAL_PAYLOAD (§2.5) or INVALID_SYNTAX
// (§3.10.1: only for an authenticated message); in IKE_AUTH the IKE SA is
// then not created (§2.21.2).
func (sa *ikeSA) rejectRequest(d Datagram, m *wire.Message, err error) {
	var uc *wire.UnsupportedCriticalError
	var pe *wire.ParseError
	var n *wire.Notify
	switch {
	case errors.As(err, &uc):
		n = uc.Notify()
	case errors.As(err, &pe):
		n = wire.NewNotify(wire.NotifyInvalidSyntax, nil)
	default:
		sa.log().Debug("dropping request", "err", err)
		return
	}
	sa.log().Info("rejecting request", "exchange", m.Header.Exchange, "msgid", m.Header.MessageID, "notify", n.NotifyType, "err", err)
	sa.lastError = n.NotifyType
	sa.respond(d, m, []wire.Payload{n})
	if sa.state != stateEstablished {
		sa.w.e.removeSA(sa)
	}
}

// respond encodes, caches and sends the response to request m, which
// came in d.
func (sa *ikeSA) respond(d Datagram, m *wire.Message, ps []wire.Payload) {
	msgs, err := sa.encodeAll(m.Header.Exchange, m.Header.MessageID, true, ps)
	if err != nil {
		sa.log().Warn("cannot encode response", "err", err)
		return
	}
	sa.cacheResponse(m.Header.MessageID, msgs) // window.go
	sa.traceMessage(true, sa.header(m.Header.Exchange, m.Header.MessageID, true), ps, msgs)
	sa.sendResponse(d, msgs)
}

// sendResponse sends the datagrams of a response to the request that
// came in d. With MOBIKE the response goes back where the request came
// from (RFC 7296 §2.11): the peer probes a new path with requests before
// it moves the IKE SA there (RFC 4555 §3.5), and the SA's own addresses
// change only by UPDATE_SA_ADDRESSES. Without MOBIKE it goes to the SA's
// addresses, as every other message.
func (sa *ikeSA) sendResponse(d Datagram, msgs [][]byte) {
	if !sa.mobike || (d.Local == sa.local && d.Remote == sa.remote) || !d.Remote.IsValid() {
		sa.sendAll(msgs)
		return
	}
	for _, raw := range msgs {
		data := raw
		if d.Local.Port() == PortNATT {
			data = ipsec.AppendNonESPMarker(make([]byte, 0, len(raw)+ipsec.NonESPMarkerLen))
			data = append(data, raw...)
		}
		if err := sa.w.e.o.Conn.Send(Datagram{Local: d.Local, Remote: d.Remote, Data: data}); err != nil {
			sa.log().Limited(slog.LevelWarn, "send failed", "err", err)
		}
	}
}
