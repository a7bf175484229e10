package engine

import (
	"encoding/binary"
	"fmt"

	"secgw/internal/ike/wire"
)

// Receiving INVALID_SPI (RFC 7296 §1.5, §3.10.1): the peer got ESP under
// an SPI it does not know, usually because it lost the child SA (its
// dataplane restarted, or it deleted the SA and its Delete was lost), and
// says so with the SPI as the Notification Data. Inside an established IKE
// SA the notification is authenticated, so it is acted on rather than
// taken as a hint: the child SA whose outbound SPI it names is half dead
// (our packets are dropped), so it is closed as if the peer had deleted
// it, and close-action brings it back with new SPIs. Outside an IKE SA
// (IKE_SA_INIT, unprotected) it never reaches here: respondInformational
// runs only for SK-protected requests of established IKE SAs.
//
// The pair is closed with a Delete of our inbound SPI (§1.4.1: ESP SAs
// exist in pairs, and closing one closes both): the peer that lost both
// halves answers it with an empty response; the peer whose engine still
// holds the child SA although its dataplane lost it learns to drop that
// stale record, which would otherwise stay until it expires.

// invalidSPIs acts on the N(INVALID_SPI) of an INFORMATIONAL request on
// an established IKE SA; sa.w's lock is held. An SPI that is not the
// outbound SPI of one of the IKE SA's child SAs (or of the IKE SA that
// replaced it) is ignored.
func (sa *ikeSA) invalidSPIs(ps []wire.Payload) {
	for _, p := range ps {
		n, ok := p.(*wire.Notify)
		if !ok || n.NotifyType != wire.NotifyInvalidSPI {
			continue
		}
		if len(n.Data) != 4 {
			sa.log().Debug("INVALID_SPI without a 4-octet SPI ignored", "len", len(n.Data))
			continue
		}
		spi := binary.BigEndian.Uint32(n.Data)
		owner, c := sa, sa.childByOut(spi)
		if c == nil && sa.successor != nil {
			// Moved to the IKE SA that replaced this one.
			owner, c = sa.successor, sa.successor.childByOut(spi)
		}
		if c == nil {
			sa.log().Debug("INVALID_SPI for no outbound SPI of ours ignored", "spi", spi32(spi))
			continue
		}
		sa.w.e.badSPI.received.Add(1)
		owner.log().Info("peer lost child SA (INVALID_SPI): deleting it",
			"remote", sa.remote.Addr(), "spi", fmt.Sprintf("%08x", spi), "policy", c.Policy)
		// A child SA already being deleted (by us, or as the old SA of a
		// rekey) goes without a new Delete or close-action: its own
		// delete or its successor covers it.
		restart := c.state != childDeleting && !c.replaced
		owner.removeChild(c)
		if !restart {
			continue
		}
		vpn, policy, in := owner.vpn, c.Policy, c.InSPI
		sa.w.afterResponse = append(sa.w.afterResponse, func() {
			if owner.state != stateEstablished || owner.closing {
				return
			}
			owner.queue(&deleteTask{child: in, orphan: true})
			owner.startNext()
			sa.w.e.closeAction(sa.w, vpn, policy)
		})
	}
}
