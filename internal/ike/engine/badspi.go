package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"secgw/internal/ike/wire"
)

// Bad-SPI response (global-options respond-bad-spi, Juniper's option of
// that name): RFC 7296 §1.5 lets a node that receives ESP with an SPI it
// does not know send INVALID_SPI, whose Notification Data is that SPI
// (§3.10.1), in an INFORMATIONAL exchange; sent over an IKE SA with the
// packet's source it is protected, so the peer can act on it rather than
// take it as a mere hint. The usual cause is a peer that kept a child SA
// we lost (we restarted, or deleted it while its Delete was lost): told,
// it deletes the stale SA and negotiates a new one.

// badSPIWindow is how long max-responses notifications to one peer
// address may take: Juniper counts responses per gateway; a window lets
// a peer that loses its SAs again later be told again.
const badSPIWindow = time.Minute

// maxBadSPIPeers bounds the per-peer windows kept: only peers we have an
// IKE SA with get one, and expired windows are dropped when the map is
// full.
const maxBadSPIPeers = 1 << 16

// badSPIState counts and rate-limits the INVALID_SPI notifications.
type badSPIState struct {
	mu    sync.Mutex
	peers map[netip.Addr]badSPIPeer
	// reported counts the unknown-SPI packets reported by the
	// dataplane, sent the notifications sent, limited those not sent
	// because the peer's window was full; received the INVALID_SPI
	// notifications received that named an outbound SPI of ours and
	// deleted its child SA (invalidspi.go).
	reported, sent, limited, received atomic.Uint64
}

// badSPIPeer is one peer address's window: when it started and how
// many notifications it holds.
type badSPIPeer struct {
	start time.Time
	n     int
}

// allow reports whether one more notification may go to peer now with
// at most max per window.
func (b *badSPIState) allow(peer netip.Addr, now time.Time, max int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.peers == nil {
		b.peers = map[netip.Addr]badSPIPeer{}
	}
	p, ok := b.peers[peer]
	if !ok || now.Sub(p.start) >= badSPIWindow {
		if !ok && len(b.peers) >= maxBadSPIPeers {
			for a, q := range b.peers {
				if now.Sub(q.start) >= badSPIWindow {
					delete(b.peers, a)
				}
			}
			if len(b.peers) >= maxBadSPIPeers {
				return false
			}
		}
		p = badSPIPeer{start: now}
	}
	if p.n >= max {
		return false
	}
	p.n++
	b.peers[peer] = p
	return true
}

// BadSPIStats are the counters of the bad-SPI response.
type BadSPIStats struct {
	// Reported counts the ESP packets with an unknown SPI the dataplane
	// reported; Sent the INVALID_SPI notifications sent; Limited the
	// reports not answered because the peer had max-responses already;
	// Received the INVALID_SPI notifications received in an IKE SA that
	// named one of its child SAs' outbound SPIs, each of which deleted
	// that child SA.
	Reported, Sent, Limited, Received uint64
}

// BadSPIStats returns the counters of the bad-SPI response.
func (e *Engine) BadSPIStats() BadSPIStats {
	b := &e.badSPI
	return BadSPIStats{Reported: b.reported.Load(), Sent: b.sent.Load(), Limited: b.limited.Load(),
		Received: b.received.Load()}
}

// UnknownSPI is the dataplane's report of an inbound ESP packet from
// remote to local whose SPI no SA has. With respond-bad-spi, if an
// established IKE SA with remote exists (on local, when local is set),
// INVALID_SPI with the SPI goes to the peer over it, at most
// max-responses times per peer a minute. It reports whether a
// notification was queued.
func (e *Engine) UnknownSPI(local, remote netip.Addr, spi uint32) bool {
	e.badSPI.reported.Add(1)
	max := e.config().Global.RespondBadSPI
	if max <= 0 || !remote.IsValid() {
		return false
	}
	w := e.lockPeer(remote)
	defer w.unlock()
	var target *ikeSA
	w.each(func(sa *ikeSA) bool {
		if sa.state != stateEstablished || sa.closing || sa.successor != nil || sa.remote.Addr() != remote {
			return true
		}
		if local.IsValid() && sa.local.Addr() != local {
			return true
		}
		target = sa
		return false
	})
	if target == nil {
		return false
	}
	if !e.badSPI.allow(remote, e.now(), max) {
		e.badSPI.limited.Add(1)
		return false
	}
	e.badSPI.sent.Add(1)
	e.limit.Log(context.Background(), e.log, slog.LevelInfo, "ESP with unknown SPI: sending INVALID_SPI",
		"remote", remote, "spi", fmt.Sprintf("%08x", spi), "ike-sa", target.uid)
	target.queue(&invalidSPITask{spi: spi})
	target.startNext()
	return true
}

// invalidSPITask sends INVALID_SPI in an INFORMATIONAL request (RFC 7296
// §1.5): HDR, SK {N(INVALID_SPI, spi)} --> <-- HDR, SK {}. The Protocol
// ID is zero and the SPI field empty (§3.10: the receiver cannot tell
// whether the SPI is ESP's or AH's, and the SPI rides in the data).
type invalidSPITask struct {
	spi uint32
}

func (*invalidSPITask) exchange() wire.ExchangeType { return wire.ExchangeInformational }

func (t *invalidSPITask) build(*ikeSA) ([]wire.Payload, error) {
	return []wire.Payload{&wire.Notify{NotifyType: wire.NotifyInvalidSPI,
		Data: binary.BigEndian.AppendUint32(nil, t.spi)}}, nil
}

func (*invalidSPITask) process(*ikeSA, *wire.Message, []wire.Payload) error { return nil }
