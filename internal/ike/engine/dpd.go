package engine

import (
	"time"

	"secgw/internal/ike/config"
)

// Activity is implemented by dataplanes that know when a child SA last
// carried traffic. DPD takes inbound ESP as proof of liveness as the vsr
// guide says ("receiving IPsec traffic processed by one of its child
// SAs"), and outbound ESP as the traffic of dpd-mode optimized. Without
// it, only IKE messages count.
type Activity interface {
	// LastActivity returns when the child SA last received and last
	// sent a packet (zero: never).
	LastActivity(c ChildSA) (in, out time.Time)
}

// dpdCheck runs every dpd-delay on an established IKE SA (RFC 7296 §2.4,
// the vsr guide's "Dead Peer Detection", the Juniper modes of dpd-mode):
//
//   - probe-idle-tunnel: probe when nothing (IKE or ESP) was received
//     from the peer for dpd-delay;
//   - optimized: probe when, besides, traffic was sent to the peer since
//     the last received;
//   - always-send: probe every dpd-delay.
//
// A probe is an empty INFORMATIONAL request. Unanswered, it is
// retransmitted like any request and the IKE SA fails after the last try,
// or, with dpd-threshold, sent every dpd-delay and the IKE SA fails after
// threshold unanswered probes. Either way dpd-action then applies to its
// child SAs (see removeSA). An outstanding request is a liveness check of
// its own: no probe is added to it.
func (sa *ikeSA) dpdCheck() {
	v := sa.vpn.IKE
	delay := v.DPDDelay
	if delay <= 0 || sa.state != stateEstablished || sa.closing || sa.successor != nil {
		return
	}
	if sa.busy() || sa.queuedLiveness() {
		sa.armIKETimer(timerDPD, delay)
		return
	}
	lastIn, lastOut := sa.w.e.timeAt(sa.lastIn), time.Time{}
	if act, ok := sa.w.e.o.Dataplane.(Activity); ok {
		for _, c := range sa.children {
			in, out := act.LastActivity(sa.childSA(c))
			if in.After(lastIn) {
				lastIn = in
			}
			if out.After(lastOut) {
				lastOut = out
			}
		}
	}
	idle := sa.w.e.now().Sub(lastIn)
	var probe bool
	switch v.DPDMode {
	case config.DPDAlwaysSend:
		probe = true
	case config.DPDOptimized:
		probe = idle >= delay && lastOut.After(lastIn)
	default:
		probe = idle >= delay
	}
	next := delay
	if !probe && v.DPDMode != config.DPDAlwaysSend && idle < delay {
		next = delay - idle // dpd-delay after the last proof of liveness
	}
	if probe {
		sa.log().Debug("DPD: checking liveness", "mode", v.DPDMode.String(), "idle", idle)
		sa.queue(&livenessTask{interval: delay, threshold: int(v.DPDThreshold)})
		sa.startNext()
	}
	sa.armIKETimer(timerDPD, next)
}

func (sa *ikeSA) queuedLiveness() bool {
	for _, t := range sa.tasks {
		if _, ok := t.(*livenessTask); ok {
			return true
		}
	}
	return false
}
