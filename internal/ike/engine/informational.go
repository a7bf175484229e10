package engine

import (
	"encoding/binary"
	"time"

	"secgw/internal/ike/wire"
)

// deleteTask deletes a child SA or the IKE SA (RFC 7296 §1.4.1):
//
//	HDR, SK {D(ESP, our inbound SPI)}  -->  <--  HDR, SK {D(ESP, its inbound SPI)}
//	HDR, SK {D(IKE)}                   -->  <--  HDR, SK {}
type deleteTask struct {
	ike   bool
	child uint32
	// orphan: the child SA was never installed on our side (we refused
	// the peer's answer); the delete still tells the peer to drop its
	// half.
	orphan bool
	// once: the D(IKE) of a flushed SA, sent once and not retransmitted
	// (flush.go): the SA goes after one retransmission delay whatever
	// the peer says.
	once bool
}

// retransmitSchedule implements retransmitter: a D(IKE) sent once waits
// one first retransmission delay for its answer, then fails the SA.
func (t *deleteTask) retransmitSchedule(sa *ikeSA) (int, time.Duration) {
	if !t.once {
		return 0, 0
	}
	return 0, sa.w.e.config().Global.Retransmit.Timeout
}

func (t *deleteTask) exchange() wire.ExchangeType { return wire.ExchangeInformational }

func (t *deleteTask) build(sa *ikeSA) ([]wire.Payload, error) {
	if t.ike {
		sa.closing = true
		return []wire.Payload{&wire.Delete{Protocol: wire.ProtocolIKE}}, nil
	}
	if c := sa.child(t.child); c != nil {
		c.state = childDeleting
	} else if !t.orphan {
		return nil, errSkip // the peer deleted it meanwhile
	}
	return []wire.Payload{&wire.Delete{Protocol: wire.ProtocolESP, SPISize: 4,
		SPIs: [][]byte{binary.BigEndian.AppendUint32(nil, t.child)}}}, nil
}

func (t *deleteTask) process(sa *ikeSA, m *wire.Message, ps []wire.Payload) error {
	if t.ike {
		sa.log().Info("IKE SA deleted")
		sa.w.e.removeSA(sa)
		return nil
	}
	if c := sa.child(t.child); c != nil {
		sa.removeChild(c)
	}
	return nil
}

// livenessTask is the empty INFORMATIONAL request of DPD (RFC 7296 §1.4,
// §2.4): the response is the proof of liveness; no response ends the IKE
// SA after the retransmissions. With dpd-threshold, a DPD probe is sent
// every dpd-delay instead, and the peer is dead after threshold
// unanswered probes (the Juniper model of the reference).
type livenessTask struct {
	interval  time.Duration
	threshold int
}

func (*livenessTask) exchange() wire.ExchangeType { return wire.ExchangeInformational }

func (*livenessTask) build(*ikeSA) ([]wire.Payload, error) { return nil, nil }

func (*livenessTask) process(sa *ikeSA, _ *wire.Message, _ []wire.Payload) error {
	sa.log().Debug("peer is alive")
	return nil
}

// retransmitSchedule implements retransmitter: threshold probes in all,
// one every interval.
func (t *livenessTask) retransmitSchedule(*ikeSA) (int, time.Duration) {
	if t.threshold <= 0 || t.interval <= 0 {
		return 0, 0
	}
	return t.threshold - 1, t.interval
}

// respondInformational answers an INFORMATIONAL request: deletes of child
// SAs are answered with the deletes of the paired SAs, a delete of the IKE
// SA with an empty response after which the SA is gone, anything else (a
// liveness check) with an empty response (RFC 7296 §1.4.1).
func (sa *ikeSA) respondInformational(ps []wire.Payload) []wire.Payload {
	if n := wire.FindNotify(ps, wire.NotifyRedirect); n != nil {
		sa.informationalRedirect(n) // RFC 5685 (redirect.go)
	}
	sa.invalidSPIs(ps) // RFC 7296 §1.5 (invalidspi.go)
	var ours [][]byte
	for _, p := range ps {
		d, ok := p.(*wire.Delete)
		if !ok {
			continue
		}
		switch d.Protocol {
		case wire.ProtocolIKE:
			sa.log().Info("IKE SA deleted by peer")
			sa.peerDeleted()
			sa.closeAfterResponse = true
			return nil
		case wire.ProtocolESP:
			for _, spi := range d.SPIs {
				if len(spi) != 4 {
					continue
				}
				owner, c := sa, sa.childByOut(binary.BigEndian.Uint32(spi))
				if c == nil && sa.successor != nil {
					// Moved to the IKE SA that replaced this one.
					owner, c = sa.successor, sa.successor.childByOut(binary.BigEndian.Uint32(spi))
				}
				if c == nil {
					continue
				}
				if c.state != childDeleting {
					ours = append(ours, binary.BigEndian.AppendUint32(nil, c.InSPI))
				} // else RFC 7296 §2.25.1: we are closing it too, no Delete payload
				closed := c.state != childDeleting && !c.replaced
				owner.removeChild(c)
				if closed {
					vpn, policy := owner.vpn, c.Policy
					sa.w.afterResponse = append(sa.w.afterResponse, func() { sa.w.e.closeAction(sa.w, vpn, policy) })
				}
			}
		}
	}
	if len(ours) == 0 {
		return nil
	}
	return []wire.Payload{&wire.Delete{Protocol: wire.ProtocolESP, SPISize: 4, SPIs: ours}}
}

// peerDeleted prepares the removal of an IKE SA the peer deleted. If the
// peer rekeyed it while our own rekey was outstanding and did not see the
// collision, its delete says so: the IKE SA it created inherits the child
// SAs and our rekey is forgotten (RFC 7296 §2.8.2, §2.25.2). Otherwise
// the child SAs that go with it are closed by the peer (close-action).
func (sa *ikeSA) peerDeleted() {
	if n := sa.peerRekey; n != nil && sa.successor == nil && n.state == stateEstablished {
		sa.log().Info("peer deleted the IKE SA it rekeyed: its new IKE SA takes the child SAs")
		sa.moveTo(n)
		return
	}
	sa.closedByPeer = true
}
