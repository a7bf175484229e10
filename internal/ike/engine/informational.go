package engine

import (
	"encoding/binary"

	"secgw/internal/ike/wire"
)

// deleteTask deletes a child SA or the IKE SA (RFC 7296 §1.4.1):
//
//	HDR, SK {D(ESP, our inbound SPI)}  -->  <--  HDR, SK {D(ESP, its inbound SPI)}
//	HDR, SK {D(IKE)}                   -->  <--  HDR, SK {}
type deleteTask struct {
	ike   bool
	child uint32
}

func (t *deleteTask) exchange() wire.ExchangeType { return wire.ExchangeInformational }

func (t *deleteTask) build(sa *ikeSA) ([]wire.Payload, error) {
	if t.ike {
		return []wire.Payload{&wire.Delete{Protocol: wire.ProtocolIKE}}, nil
	}
	return []wire.Payload{&wire.Delete{Protocol: wire.ProtocolESP, SPISize: 4,
		SPIs: [][]byte{binary.BigEndian.AppendUint32(nil, t.child)}}}, nil
}

func (t *deleteTask) process(sa *ikeSA, m *wire.Message, ps []wire.Payload) error {
	if t.ike {
		sa.log.Info("IKE SA deleted")
		sa.e.removeSA(sa)
		return nil
	}
	if c := sa.child(t.child); c != nil {
		sa.removeChild(c)
	}
	return nil
}

func (sa *ikeSA) removeChild(c *childSA) {
	if err := sa.e.o.Dataplane.DeleteChild(c.ChildSA); err != nil {
		sa.log.Warn("dataplane delete failed", "subsystem", "child", "err", err)
	}
	sa.e.emit(Event{Kind: ChildDown, SA: sa.uid, Child: c.UniqueID, VPN: c.VPN, Policy: c.Policy})
	for i, x := range sa.children {
		if x == c {
			sa.children = append(sa.children[:i], sa.children[i+1:]...)
			break
		}
	}
	sa.log.Info("child SA deleted", "subsystem", "child", "in", spi32(c.InSPI), "out", spi32(c.OutSPI))
}

// livenessTask is the empty INFORMATIONAL request of DPD (RFC 7296 §1.4):
// the response is the proof of liveness, no response ends the IKE SA after
// the retransmissions.
type livenessTask struct{}

func (livenessTask) exchange() wire.ExchangeType { return wire.ExchangeInformational }

func (livenessTask) build(*ikeSA) ([]wire.Payload, error) { return nil, nil }

func (livenessTask) process(sa *ikeSA, _ *wire.Message, _ []wire.Payload) error {
	sa.log.Debug("peer is alive")
	return nil
}

// respondInformational answers an INFORMATIONAL request: deletes of child
// SAs are answered with the deletes of the paired SAs, a delete of the IKE
// SA with an empty response after which the SA is gone, anything else (a
// liveness check) with an empty response (RFC 7296 §1.4.1).
func (sa *ikeSA) respondInformational(ps []wire.Payload) []wire.Payload {
	var ours [][]byte
	for _, p := range ps {
		d, ok := p.(*wire.Delete)
		if !ok {
			continue
		}
		switch d.Protocol {
		case wire.ProtocolIKE:
			sa.log.Info("IKE SA deleted by peer")
			sa.closeAfterResponse = true
			return nil
		case wire.ProtocolESP:
			for _, spi := range d.SPIs {
				if len(spi) != 4 {
					continue
				}
				if c := sa.childByOut(binary.BigEndian.Uint32(spi)); c != nil {
					ours = append(ours, binary.BigEndian.AppendUint32(nil, c.InSPI))
					sa.removeChild(c)
				}
			}
		}
	}
	if len(ours) == 0 {
		return nil
	}
	return []wire.Payload{&wire.Delete{Protocol: wire.ProtocolESP, SPISize: 4, SPIs: ours}}
}
