package engine

import (
	"log/slog"
	"time"
)

// DefaultKeepaliveInterval is the NAT keepalive interval used when
// Options.KeepaliveInterval is zero. secgw-ike*.yang and the vsr guide
// have no keepalive option, so this is strongSwan's charon.keep_alive
// default.
const DefaultKeepaliveInterval = 20 * time.Second

// keepaliveData is the NAT-keepalive packet: one octet 0xFF, sent on the
// NAT-T port without Non-ESP Marker (RFC 3948 §2.3).
var keepaliveData = []byte{0xff}

// keepalive is the NAT keepalive state of an IKE SA; its timer is the
// SA's timerKeepalive.
type keepalive struct {
	// keepaliveOn is set once a NAT was detected in front of us.
	keepaliveOn bool
	// sentSinceKeepalive is set by every datagram sent to the peer: a
	// keepalive is only needed after an interval without traffic.
	sentSinceKeepalive bool
}

func (e *Engine) keepaliveInterval() time.Duration {
	if e.o.KeepaliveInterval == 0 {
		return DefaultKeepaliveInterval
	}
	return e.o.KeepaliveInterval
}

// startKeepalive starts the NAT keepalives of the SA when NAT detection
// found our own address translated (RFC 7296 §2.23: the host behind the
// NAT keeps the mapping alive; RFC 3948 §2.3). It is idempotent. A
// negative interval disables keepalives.
func (sa *ikeSA) startKeepalive() {
	if sa.keepaliveOn || sa.w.e.keepaliveInterval() < 0 || sa.tcp {
		// Over TCP the stream's own traffic keeps a NAT's mapping
		// and a one-octet keepalive is not a frame (RFC 9329 §3).
		return
	}
	sa.keepaliveOn = true
	sa.arm(timerKeepalive, sa.w.e.keepaliveInterval())
}

func (sa *ikeSA) stopKeepalive() {
	sa.keepaliveOn = false
	sa.disarm(timerKeepalive)
}

// expiredKeepalive sends a NAT-keepalive if nothing was sent to the peer
// during the last interval, and re-arms the timer. Keepalives go on the
// NAT-T port only: before IKE floated to it there is no mapping to keep.
func (sa *ikeSA) expiredKeepalive() {
	if !sa.keepaliveOn || sa.state == stateDeleted {
		return
	}
	if sa.natt && !sa.sentSinceKeepalive {
		if err := sa.w.e.o.Conn.Send(Datagram{Local: sa.local, Remote: sa.remote, Data: keepaliveData}); err != nil {
			sa.log().Limited(slog.LevelWarn, "sending NAT keepalive failed", "err", err)
		} else {
			sa.log().Debug("sent NAT keepalive")
		}
	}
	sa.sentSinceKeepalive = false
	sa.arm(timerKeepalive, sa.w.e.keepaliveInterval())
}
