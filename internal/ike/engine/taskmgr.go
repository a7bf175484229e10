package engine

import (
	"errors"
	"log/slog"
	"time"

	"secgw/internal/ike/wire"
	"secgw/internal/ipsec"
)

// task is one concern of an exchange we initiate (strongSwan's task
// model): build returns the payloads of the request, process consumes the
// response's payloads. Tasks run one at a time: IKEv2 with a window of 1
// (RFC 7296 §2.3) has at most one outstanding request per SA.
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

// request is the outstanding request of an SA.
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
}

// taskManager owns the message IDs of one IKE SA (RFC 7296 §2.2): as
// requester the next ID and the outstanding request with its retransmission
// timer; as responder the next expected ID and the cached last response,
// sent again when the request is retransmitted.
type taskManager struct {
	tasks    []task
	pending  *request
	nextID   uint32
	expectID uint32
	// lastResp is the last response sent, as its datagrams (fragments).
	lastResp     [][]byte
	haveLastResp bool
	// closeAfterResponse removes the SA once the response is sent
	// (AUTHENTICATION_FAILED, RFC 7296 §2.21.2).
	closeAfterResponse bool
}

func (sa *ikeSA) queue(t task) { sa.tasks = append(sa.tasks, t) }

// startNext sends the request of the next queued task if none is
// outstanding.
func (sa *ikeSA) startNext() {
	if sa.pending != nil || len(sa.tasks) == 0 || sa.state == stateDeleted {
		return
	}
	t := sa.tasks[0]
	sa.tasks[0] = nil
	sa.tasks = sa.tasks[1:]
	if len(sa.tasks) == 0 {
		sa.tasks = nil // free the array: most SAs idle with no task
	}
	sa.sendRequest(t, sa.nextID)
}

func (sa *ikeSA) sendRequest(t task, id uint32) {
	ps, err := t.build(sa)
	if errors.Is(err, errSkip) {
		// The task has nothing to do any more (its child SA went away
		// while it waited in the queue).
		sa.startNext()
		return
	}
	if err != nil {
		sa.fail(err)
		return
	}
	msgs, err := sa.encodeAll(t.exchange(), id, false, ps)
	if err != nil {
		sa.fail(err)
		return
	}
	if t.exchange() == wire.ExchangeIKESAInit {
		sa.initRequest = msgs[0]
	}
	sa.pending = &request{id: id, msgs: msgs, task: t, tries: sa.w.e.config().Global.Retransmit.Tries}
	if r, ok := t.(retransmitter); ok {
		if tries, d := r.retransmitSchedule(sa); d > 0 {
			sa.pending.tries, sa.pending.fixed = tries, d
		}
	}
	sa.log().Debug("sending request", "exchange", t.exchange(), "msgid", id, "fragments", len(msgs))
	sa.sendAll(msgs)
	sa.armRetransmit()
}

// armRetransmit arms the retransmission timer of the outstanding request
// (its timerRetransmit deadline: clearing it is stopping the timer).
func (sa *ikeSA) armRetransmit() {
	p := sa.pending
	r := sa.w.e.config().Global.Retransmit
	d := p.fixed
	if d == 0 {
		d = RetransmitDelay(p.try, r.Tries, r.Timeout, r.Base, r.JitterPct, r.Limit, sa.w.e.o.Jitter)
	}
	sa.arm(timerRetransmit, d)
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

// expiredRetransmit retransmits the outstanding request or, after the
// last try, gives up on the IKE SA (RFC 7296 §2.4).
func (sa *ikeSA) expiredRetransmit() {
	if sa.pending == nil {
		return // answered meanwhile
	}
	if sa.pending.try >= sa.pending.tries {
		// A flushed SA's end is the operator's, not a dead peer's:
		// no dpd-action (flush.go).
		sa.peerDead = sa.state == stateEstablished && !sa.flushed
		sa.fail(errPeerDead)
		return
	}
	sa.pending.try++
	if sa.pending.try >= mobikeSwitchTry {
		sa.tryOtherPath() // mobike.go
	}
	sa.log().Debug("retransmitting request", "msgid", sa.pending.id, "try", sa.pending.try)
	sa.sendAll(sa.pending.msgs)
	sa.armRetransmit()
}

// handleResponse matches a response with the outstanding request; anything
// else is a stale or duplicate response and is dropped (RFC 7296 §2.2).
func (sa *ikeSA) handleResponse(d Datagram, m *wire.Message) {
	p := sa.pending
	if p == nil || m.Header.MessageID != p.id || m.Header.Exchange != p.task.exchange() {
		return
	}
	var ps []wire.Payload
	if m.Header.Exchange == wire.ExchangeIKESAInit {
		ps = wire.SkipUnknown(m.Payloads)
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
	sa.stopTimer()
	sa.pending = nil
	sa.lastIn = sa.w.e.mono()
	if sa.flushed {
		// The answer the flush waited for: not acted on; the D(IKE)
		// follows (flush.go).
		sa.nextID = p.id + 1
		sa.startNext()
		return
	}
	err := p.task.process(sa, m, ps)
	switch {
	case errors.Is(err, errRestart):
		sa.sendRequest(p.task, p.id)
		return
	case errors.Is(err, errAgain):
		sa.nextID = p.id + 1
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
	sa.nextID = p.id + 1
	sa.startNext()
}

// handleRequest runs the responder side of an exchange: a retransmitted
// request gets the cached response, an unexpected message ID is dropped
// (RFC 7296 §2.2, §2.3).
func (sa *ikeSA) handleRequest(d Datagram, m *wire.Message) {
	id := m.Header.MessageID
	if sa.haveLastResp && id+1 == sa.expectID {
		if f, ok := lastFragment(m); ok && !sa.retransmittedFirstFragment(m, f) {
			return // RFC 7383 §2.6.1: only fragment 1 triggers the resend
		}
		sa.log().Debug("retransmitting cached response", "msgid", id)
		sa.sendResponse(d, sa.lastResp)
		return
	}
	if id != sa.expectID || m.Header.Exchange == wire.ExchangeIKESAInit {
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
	sa.lastIn = sa.w.e.mono()
	if d.Local.Port() == PortNATT && !sa.natt && !sa.mobike {
		// The initiator floated to port 4500 (RFC 7296 §2.23). With
		// MOBIKE, addresses change by UPDATE_SA_ADDRESSES only (RFC
		// 4555 §3.5; mobike.go).
		sa.natt, sa.local, sa.remote = true, d.Local, d.Remote
	}
	var resp []wire.Payload
	switch m.Header.Exchange {
	case wire.ExchangeIKEAuth:
		if sa.state != stateInit || sa.handshake == nil || len(sa.addKE) > 0 {
			return // RFC 9370 §2.2.1: after every IKE_INTERMEDIATE
		}
		resp = sa.respondAuth(d, ps)
	case wire.ExchangeIKEIntermediate:
		if sa.state != stateInit || sa.handshake == nil || len(sa.addKE) == 0 {
			return
		}
		resp = sa.respondIntermediate(m, ps)
	case wire.ExchangeInformational:
		if sa.state != stateEstablished {
			return
		}
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
	sa.lastResp, sa.haveLastResp = msgs, true
	sa.expectID = m.Header.MessageID + 1
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
