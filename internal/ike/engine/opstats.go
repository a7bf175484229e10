package engine

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"secgw/internal/ike/wire"
	"secgw/internal/ipsec"
)

// OpStats are engine-wide counters of the protocol's operations, read by
// the operational state and the metrics (one source for both).
type OpStats struct {
	// Requests counts the requests sent, retransmissions excluded;
	// Retransmissions the retransmitted ones (RFC 7296 §2.1).
	Requests, Retransmissions uint64
	// DPDSent counts the liveness checks sent (RFC 7296 §1.4: an empty
	// INFORMATIONAL request), DPDTimeouts the IKE SAs that failed
	// because one went unanswered.
	DPDSent, DPDTimeouts uint64
	// Refusals counts, by notify type, the error notifications we sent
	// as responder refusing an IKE or child SA (NO_PROPOSAL_CHOSEN,
	// AUTHENTICATION_FAILED, TS_UNACCEPTABLE, INVALID_KE_PAYLOAD, ...).
	Refusals map[string]uint64
}

// refusalTypes are the notify types a responder refusal is counted
// under; anything else is counted as "other".
var refusalTypes = []wire.NotifyType{
	wire.NotifyNoProposalChosen, wire.NotifyAuthenticationFailed, wire.NotifyTSUnacceptable,
	wire.NotifyInvalidKEPayload, wire.NotifyInvalidSyntax, wire.NotifyInternalAddressFailure,
}

// opCounters are the atomics behind OpStats.
type opCounters struct {
	requests, retransmits, dpdSent, dpdTimeouts atomic.Uint64
	// refusals is indexed like refusalTypes, the last slot "other".
	refusals [7]atomic.Uint64
}

// OpStats returns the operation counters.
func (e *Engine) OpStats() OpStats {
	c := &e.ops
	s := OpStats{Requests: c.requests.Load(), Retransmissions: c.retransmits.Load(),
		DPDSent: c.dpdSent.Load(), DPDTimeouts: c.dpdTimeouts.Load(), Refusals: map[string]uint64{}}
	for i, t := range refusalTypes {
		s.Refusals[t.String()] = c.refusals[i].Load()
	}
	s.Refusals["other"] = c.refusals[len(refusalTypes)].Load()
	return s
}

// saOps are the counters of one IKE SA (the ike-sa statistics of the
// state); the SA's worker lock guards them.
type saOps struct {
	requests, retransmits, childRekeys, dpdSent uint64
}

// SAStats are the counters of one IKE SA in its SAState.
type SAStats struct {
	Requests, Retransmissions, ChildRekeys, DPDSent uint64
}

func (o saOps) stats() SAStats {
	return SAStats{Requests: o.requests, Retransmissions: o.retransmits, ChildRekeys: o.childRekeys, DPDSent: o.dpdSent}
}

// countRequest counts a request of t sent for the first time.
func (sa *ikeSA) countRequest(t task) {
	sa.ops.requests++
	sa.w.e.ops.requests.Add(1)
	if _, ok := t.(*livenessTask); ok {
		sa.ops.dpdSent++
		sa.w.e.ops.dpdSent.Add(1)
	}
}

// countRetransmit counts one retransmission of a request.
func (sa *ikeSA) countRetransmit() {
	sa.ops.retransmits++
	sa.w.e.ops.retransmits.Add(1)
}

// countDPDTimeout counts an IKE SA given up on because request r went
// unanswered, when r was a liveness check.
func (sa *ikeSA) countDPDTimeout(r *request) {
	if _, ok := r.task.(*livenessTask); ok {
		sa.w.e.ops.dpdTimeouts.Add(1)
	}
}

// refused logs and counts a refusal we send as responder: at level 0
// (slog.LevelInfo, the default log level) or above, with the peer and
// the reason, so that an operator sees why a peer cannot connect without
// raising the log level; rate-limited per message (a peer that retries
// in a loop, or a flood, writes Burst lines and a summary per interval).
// msg is a constant per call site (the rate limit's key); args name
// what was received against what is configured.
func (e *Engine) refused(level slog.Level, n wire.NotifyType, msg string, remote any, args ...any) {
	i := len(refusalTypes)
	for j, t := range refusalTypes {
		if t == n {
			i = j
		}
	}
	e.ops.refusals[i].Add(1)
	attrs := append([]any{"notify", n.String(), "remote", remote}, args...)
	e.limit.Log(context.Background(), e.log, max(level, slog.LevelInfo), msg, attrs...)
	e.traceRefusal(n, msg, remote, args) // debug.go
}

// maxListed bounds what a refusal's log line lists of proposals and
// selectors: a peer decides how many it sends.
const maxListed = 8

// proposalsString renders proposals for the log, as
// "#1 ENCR:AES_GCM_16/256 PRF:PRF_HMAC_SHA2_256 KE:ECP_256; #2 ...".
func proposalsString(ps []wire.Proposal) string {
	var b strings.Builder
	for i, p := range ps {
		if i == maxListed {
			fmt.Fprintf(&b, "; ... %d more", len(ps)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "#%d", p.Number)
		for j, t := range p.Transforms {
			if j == 4*maxListed {
				b.WriteString(" ...")
				break
			}
			b.WriteString(" " + t.String())
		}
	}
	return b.String()
}

// selectorsString renders traffic selectors for the log, as
// "10.0.0.0-10.0.0.255 proto 0 ports 0-65535, ...".
func selectorsString(ts []ipsec.TrafficSelector) string {
	var b strings.Builder
	for i, t := range ts {
		if i == maxListed {
			fmt.Fprintf(&b, ", ... %d more", len(ts)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s-%s proto %d ports %d-%d", t.StartAddr, t.EndAddr, t.IPProtocol, t.StartPort, t.EndPort)
	}
	return b.String()
}

// Worker stats: see WorkerStats.

// WorkerStat is one worker's load in Run.
type WorkerStat struct {
	// Queued is the datagrams waiting for the worker now.
	Queued int
	// Jobs counts the datagrams it handled, Busy the time it spent
	// handling them (Busy/Jobs is the mean job latency).
	Jobs uint64
	Busy time.Duration
	// Wait is the time each datagram waited in the worker's queues
	// (from Run's dispatch to the worker taking it), Handling the time
	// the worker then spent on it (HandleDatagram): a long Wait says the
	// workers are saturated or flooded, a long Handling that the work
	// itself is slow (signatures, DH); their sum is the datagram's
	// latency in the engine.
	Wait, Handling Latency
}

// workerLoad counts one worker's jobs in Run.
type workerLoad struct {
	jobs, busyNs   atomic.Uint64
	wait, handling latencyHist // latency.go
}

// WorkerStats returns the load of each worker of the running Run (nil
// before Run started).
func (e *Engine) WorkerStats() []WorkerStat {
	r := e.running.Load()
	if r == nil {
		return nil
	}
	qs := *r.view.Load()
	out := make([]WorkerStat, len(qs))
	for i, q := range qs {
		out[i] = WorkerStat{Queued: len(q.hi) + len(q.lo), Jobs: q.load.jobs.Load(), Busy: time.Duration(q.load.busyNs.Load()),
			Wait: q.load.wait.snapshot(), Handling: q.load.handling.snapshot()}
	}
	return out
}

// authMethodName names an AUTH payload's method (RFC 7296 §3.8, RFC 7427).
func authMethodName(m wire.AuthMethod) string {
	switch m {
	case wire.AuthRSASignature:
		return "rsa-signature"
	case wire.AuthSharedKeyMIC:
		return "pre-shared-key"
	case wire.AuthDSSSignature:
		return "dss-signature"
	case 9, 10, 11:
		return "ecdsa"
	case 14:
		return "digital-signature"
	}
	return fmt.Sprintf("method-%d", m)
}
