package engine

import (
	"net/netip"
	"sync/atomic"
	"time"

	"secgw/internal/ike/config"
	"secgw/internal/ike/wire"
)

// DoS protection (global-options dos-protection, the vsr guide's "DoS
// protection"), applied to each IKE_SA_INIT request that would create a
// responder IKE SA, in the order strongSwan's receiver applies the same
// knobs:
//
//  1. cookie-threshold: with that many half-open IKE SAs (or always), a
//     request without a valid COOKIE gets one (RFC 7296 §2.6) and
//     nothing is kept: the cookie is a MAC of the request, so a flood
//     from spoofed addresses, which never see the cookie, costs a MAC and
//     a small answer each and no memory;
//  2. block-threshold: a peer IP address with that many half-open IKE
//     SAs whose return routability was proved (see below) gets no new
//     one;
//  3. init-limit-half-open: with that many half-open IKE SAs in all, no
//     new one;
//  4. ike-sa-limit: with that many established IKE SAs, no new
//     connection;
//  5. init-limit-job-load: with that many received datagrams waiting for
//     a worker, IKE_SA_INIT requests are dropped on arrival (Run), before
//     they cost anything.
//
// block-threshold and spoofed addresses. An off-path attacker can send
// IKE_SA_INIT requests with any source address, the victim's included;
// if those counted toward the victim's block-threshold, five spoofed
// datagrams would lock the victim out for HalfOpenTimeout, and cookies
// would not help, the count being against the address and not against
// who sent the requests. RFC 8019's rate limiting of half-open SAs per
// source address rests on the return routability a cookie proves (RFC
// 7296 §2.6), for this very reason. So the half-open SAs of
// an address are counted in two groups:
// unverified (created without a cookie) and verified (created by a
// request that returned a valid COOKIE, proving that whoever sent it
// receives what is sent to that address, RFC 7296 §2.6):
//
//   - an address with block-threshold unverified half-open SAs gets a
//     COOKIE for its next request without one, whatever cookie-threshold
//     says (even 0: the per-address cookie is part of block-threshold,
//     and the only thing that tells the victim from its impostors);
//     nothing is kept for it;
//   - only the verified half-open SAs count toward block-threshold.
//
// A spoofer thus gets at most block-threshold half-open SAs per address
// (as before), then only cookies, which go to the real owner of the
// address; the real peer returns its cookie and gets in. A real peer
// that opens too many half-open SAs still proves each, and is blocked
// at block-threshold verified ones.
//
// A refused request is dropped without an answer (there is no error
// notification for "busy" in IKE_SA_INIT; the initiator retransmits and
// may get through later), and counted (DoSStats).
//
// A half-open IKE SA is a responder IKE SA between its IKE_SA_INIT and
// its IKE_AUTH. It is dropped HalfOpenTimeout after it was created if
// IKE_AUTH has not authenticated the peer by then. Half-open SAs and their
// counts are O(1) to maintain: counted when created and when they leave
// the state, never by scanning the table.
//
// Established IKE SAs never wait behind new ones: Run queues the
// datagrams of existing SAs and the IKE_SA_INIT requests apart, and each
// worker serves the first queue before the second, so that a flood of
// IKE_SA_INIT requests delays and drops only IKE_SA_INIT requests.

// HalfOpenTimeout is how long a responder IKE SA may stay half-open. The
// model has no leaf for it. strongSwan's charon.half_open_timeout is 30 s;
// we take twice that: with the default retransmission constants an
// initiator sends its IKE_AUTH request at 0, 4, 11.2, 24.2 and 47.5 s, and
// a fragmented one is reassembled for 30 s (reassemblyTimeout), so 60 s
// lets a peer on a lossy path through where 30 s would drop it after its
// fourth try. What bounds the memory of a flood is not this timeout but
// cookie-threshold, block-threshold and init-limit-half-open: the
// timeout only decides how long the half-open SAs that got in stay.
const HalfOpenTimeout = 60 * time.Second

// DoSStats are the counters of the DoS protection.
type DoSStats struct {
	// HalfOpen is the number of half-open responder IKE SAs, Established
	// the number of established IKE SAs, now.
	HalfOpen, Established int
	// Cookies counts COOKIE answers; the others count IKE_SA_INIT
	// requests refused by block-threshold (Blocked), init-limit-half-open
	// (HalfOpenLimit), ike-sa-limit (SALimit) and init-limit-job-load
	// (JobLoad), and datagrams Run dropped because their worker's queue
	// was full (QueueFull).
	Cookies, Blocked, HalfOpenLimit, SALimit, JobLoad, QueueFull uint64
	// PeerCookies counts the COOKIE answers (among Cookies) demanded from
	// an address that had block-threshold unverified half-open SAs.
	PeerCookies uint64
	// HalfOpenTimeouts counts half-open IKE SAs dropped after
	// HalfOpenTimeout.
	HalfOpenTimeouts uint64
	// CookieRotations counts the rotations of the cookie secret
	// (cookie.go).
	CookieRotations uint64
}

// dosCounters are the engine-wide counters of the DoS protection; the
// per-peer counts live in the workers.
type dosCounters struct {
	halfOpen, established                                                 atomic.Int64
	cookies, blocked, halfOpenLimit, saLimit, jobLoad, queueFull, timeout atomic.Uint64
	peerCookies, cookieRotations                                          atomic.Uint64
}

// peerHalfOpen counts the half-open IKE SAs of one peer address, by
// whether their initiator proved its return routability with a cookie.
type peerHalfOpen struct{ unverified, verified int32 }

// DoSStats returns the counters of the DoS protection.
func (e *Engine) DoSStats() DoSStats {
	d := &e.dos
	return DoSStats{HalfOpen: int(d.halfOpen.Load()), Established: int(d.established.Load()),
		Cookies: d.cookies.Load(), Blocked: d.blocked.Load(), HalfOpenLimit: d.halfOpenLimit.Load(),
		SALimit: d.saLimit.Load(), JobLoad: d.jobLoad.Load(), QueueFull: d.queueFull.Load(),
		PeerCookies: d.peerCookies.Load(), HalfOpenTimeouts: d.timeout.Load(), CookieRotations: d.cookieRotations.Load()}
}

// admitInit applies the cookie and the limits to an IKE_SA_INIT request
// from d whose nonce is ni; w is the peer's worker, locked. It reports
// whether the request may create a half-open IKE SA, and whether it
// carried a valid cookie (verified: its initiator proved its return
// routability); if not admitted, it sent the COOKIE when one is due.
//
// The half-open count is shared by the workers, which admit requests in
// parallel: admitting takes a place in it at once (an atomic increment,
// then the checks against the count before it), so that two workers never
// both take the last place below cookie-threshold or
// init-limit-half-open. An admitted request holds its place until its SA
// becomes half-open (startHalfOpen) or the caller gives it back
// (releaseHalfOpen).
func (e *Engine) admitInit(w *worker, d Datagram, m *wire.Message, ps []wire.Payload, ni []byte) (admitted, verified bool) {
	g := e.config().Global
	l := g.DoS
	peer := d.Remote.Addr().Unmap()
	counts := w.perPeer[peer]
	before := e.dos.halfOpen.Add(1) - 1
	// RFC 7296 §2.6: the COOKIE notify is the first payload.
	if n, first := ps[0].(*wire.Notify); first && n.NotifyType == wire.NotifyCookie {
		verified = e.validCookie(n.Data, ni, peer, m.Header.SPIi)
	}
	global := e.o.RequireCookies || g.Cookies.Required(int(before))
	perPeer := l.BlockThreshold > 0 && uint32(counts.unverified) >= l.BlockThreshold
	if (global || perPeer) && !verified {
		e.releaseHalfOpen()
		e.dos.cookies.Add(1)
		if !global {
			e.dos.peerCookies.Add(1)
			e.debugLimited("asking for a cookie: address has block-threshold unverified half-open IKE SAs", "remote", d.Remote)
		} else {
			e.debugLimited("asking for a cookie", "remote", d.Remote)
		}
		e.replyInit(d, m, wire.NewNotify(wire.NotifyCookie, e.cookie(ni, peer, m.Header.SPIi)))
		return false, false
	}
	switch {
	case l.BlockThreshold > 0 && uint32(counts.verified) >= l.BlockThreshold:
		e.dos.blocked.Add(1)
		e.debugLimited("ignoring IKE_SA_INIT: peer has too many half-open IKE SAs (block-threshold)", "remote", d.Remote)
	case l.InitLimitHalfOpen > 0 && before >= int64(l.InitLimitHalfOpen):
		e.dos.halfOpenLimit.Add(1)
		e.debugLimited("ignoring IKE_SA_INIT: init-limit-half-open reached", "remote", d.Remote)
	case l.IKESALimit > 0 && e.dos.established.Load() >= int64(l.IKESALimit):
		e.dos.saLimit.Add(1)
		e.debugLimited("ignoring IKE_SA_INIT: ike-sa-limit reached", "remote", d.Remote)
	default:
		return true, verified
	}
	e.releaseHalfOpen()
	return false, verified
}

// releaseHalfOpen gives back a place admitInit took for a request that
// created no half-open SA after all.
func (e *Engine) releaseHalfOpen() { e.dos.halfOpen.Add(-1) }

// jobLoadExceeded reports whether init-limit-job-load refuses an
// IKE_SA_INIT request now, with jobs datagrams waiting for a worker.
func jobLoadExceeded(g config.Global, jobs int64) bool {
	return g.DoS.InitLimitJobLoad > 0 && jobs >= int64(g.DoS.InitLimitJobLoad)
}

// startHalfOpen records a new responder IKE SA as half-open under key,
// in the place admitInit took, and starts its timeout; verified is
// admitInit's (a valid cookie came with the request). sa.w.mu is held.
func (sa *ikeSA) startHalfOpen(key halfOpenKey, verified bool) {
	w := sa.w
	key.remote = netip.AddrPortFrom(key.remote.Addr().Unmap(), key.remote.Port())
	sa.halfOpenKey, sa.haveHalfOpen, sa.halfOpenVerified = key, true, verified
	w.halfOpen[key] = sa
	c := w.perPeer[key.remote.Addr()]
	if verified {
		c.verified++
	} else {
		c.unverified++
	}
	w.perPeer[key.remote.Addr()] = c
	sa.arm(timerHalfOpen, HalfOpenTimeout)
}

// endHalfOpen forgets that the SA is half-open: it was authenticated or
// is being removed. It is idempotent.
func (sa *ikeSA) endHalfOpen() {
	if !sa.haveHalfOpen {
		return
	}
	w := sa.w
	sa.haveHalfOpen = false
	if w.halfOpen[sa.halfOpenKey] == sa {
		delete(w.halfOpen, sa.halfOpenKey)
	}
	peer := sa.halfOpenKey.remote.Addr()
	c := w.perPeer[peer]
	if sa.halfOpenVerified {
		c.verified--
	} else {
		c.unverified--
	}
	if c.verified > 0 || c.unverified > 0 {
		w.perPeer[peer] = c
	} else {
		delete(w.perPeer, peer)
	}
	sa.w.e.dos.halfOpen.Add(-1)
	sa.disarm(timerHalfOpen)
}

// findHalfOpen returns the half-open SA of an initiator address and SPI.
func (w *worker) findHalfOpen(remote netip.AddrPort, spii uint64) *ikeSA {
	return w.halfOpen[halfOpenKey{remote: netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port()), spii: spii}]
}

// expiredHalfOpen drops a responder IKE SA that is still half-open.
func (sa *ikeSA) expiredHalfOpen() {
	if !sa.haveHalfOpen || sa.state != stateInit {
		return
	}
	sa.w.e.dos.timeout.Add(1)
	sa.log().Debug("half-open IKE SA timed out", "timeout", HalfOpenTimeout)
	sa.failure = "half-open timeout"
	sa.w.e.removeSA(sa)
}

// setEstablished marks the SA authenticated and counts it for
// ike-sa-limit.
func (sa *ikeSA) setEstablished() {
	if sa.state != stateEstablished {
		sa.w.e.dos.established.Add(1)
	}
	sa.state = stateEstablished
}
