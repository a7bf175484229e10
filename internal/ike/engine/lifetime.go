package engine

import (
	"net/netip"
	"time"
)

// RekeyMarginPct is the random margin of the soft lifetimes: an SA is
// rekeyed (or reauthenticated) after its rekey-time minus a random 0 to
// RekeyMarginPct percent of it, so that tunnels set up together (10k of
// them after a reboot) do not all rekey in the same second; an IKE SA not
// rekeyed by then is deleted RekeyMarginPct percent of rekey-time after
// its rekey was due (its maximum lifetime). This is what the YANG
// descriptions of rekey-time say, and what the vsr guide's output shows
// for rekey-time 14400: "scheduling rekeying in 13328s, maximum IKE_SA
// lifetime 14768s" (13328 + 1440), and for a child SA with rekey-time
// 3600 and the default life-time 3960: "rekeying in 3342s, expires in
// 3959s" (strongSwan's rekey_time/rand_time/over_time with rand_time and
// over_time at 10%).
const RekeyMarginPct = 10

// timerKind names the lifetime timers of an IKE SA and of a child SA.
type timerKind uint8

// IKE SA timers.
const (
	timerIKERekey timerKind = iota
	timerIKEReauth
	timerIKEExpire
	timerDPD
	numIKETimers
)

// Child SA timers.
const (
	timerChildRekey timerKind = iota
	timerChildExpire
	numChildTimers
)

// ikeTimers are the lifetime and DPD timers of an IKE SA. Each kind has a
// generation: a timer message whose generation is no longer current is
// stale and does nothing.
type ikeTimers struct {
	rekeyAt, reauthAt, expireAt time.Time
	tstop                       [numIKETimers]func() bool
	tgen                        [numIKETimers]uint32
}

// childTimers are the soft (rekey) and hard (expire) lifetimes of a child
// SA.
type childTimers struct {
	rekeyAt, expireAt time.Time
	cstop             [numChildTimers]func() bool
	cgen              [numChildTimers]uint32
}

// ikeTimer and childTimer are the timer messages.
type ikeTimer struct {
	spi  uint64
	kind timerKind
	gen  uint32
}

type childTimer struct {
	inSPI uint32
	kind  timerKind
	gen   uint32
}

func (e *Engine) now() time.Time { return time.Now() }

// softLifetime is t minus the random margin.
func (e *Engine) softLifetime(t time.Duration) time.Duration {
	return t - time.Duration(float64(t)*RekeyMarginPct/100*e.o.Jitter())
}

func (sa *ikeSA) armIKETimer(k timerKind, d time.Duration) {
	if stop := sa.tstop[k]; stop != nil {
		stop()
	}
	sa.tgen[k]++
	msg, e := ikeTimer{spi: sa.id, kind: k, gen: sa.tgen[k]}, sa.e
	sa.tstop[k] = e.o.Clock.AfterFunc(d, func() { e.expiredIKETimer(msg) })
	switch k {
	case timerIKERekey:
		sa.rekeyAt = e.now().Add(d)
	case timerIKEReauth:
		sa.reauthAt = e.now().Add(d)
	case timerIKEExpire:
		sa.expireAt = e.now().Add(d)
	}
}

func (sa *ikeSA) stopIKETimers() {
	for k := range sa.tstop {
		if sa.tstop[k] != nil {
			sa.tstop[k]()
			sa.tstop[k] = nil
		}
		sa.tgen[k]++
	}
	sa.rekeyAt, sa.reauthAt, sa.expireAt = time.Time{}, time.Time{}, time.Time{}
}

// startIKETimers arms the lifetimes and DPD of an IKE SA that just became
// established (IKE_AUTH or rekey), from its VPN's ike-policy.
func (sa *ikeSA) startIKETimers() {
	v := sa.vpn.IKE
	var hard time.Duration
	for _, l := range []struct {
		every time.Duration
		kind  timerKind
	}{{v.RekeyTime, timerIKERekey}, {v.ReauthTime, timerIKEReauth}} {
		if l.every <= 0 {
			continue
		}
		soft := sa.e.softLifetime(l.every)
		sa.armIKETimer(l.kind, soft)
		if h := soft + l.every*RekeyMarginPct/100; hard == 0 || h < hard {
			hard = h
		}
	}
	if hard > 0 {
		sa.armIKETimer(timerIKEExpire, hard)
	}
	if v.DPDDelay > 0 {
		sa.armIKETimer(timerDPD, v.DPDDelay)
	}
}

// expiredIKETimer runs an IKE SA timer that is still current.
func (e *Engine) expiredIKETimer(t ikeTimer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	sa := e.sas[t.spi]
	if sa == nil || sa.tgen[t.kind] != t.gen || sa.state == stateDeleted {
		return // stale
	}
	sa.tstop[t.kind] = nil
	switch t.kind {
	case timerIKERekey:
		sa.rekeyAt = time.Time{}
		sa.rekeyIKE()
	case timerIKEReauth:
		sa.reauthAt = time.Time{}
		sa.log.Info("reauthentication time reached")
		e.reauth(sa)
	case timerIKEExpire:
		sa.expireIKE()
	case timerDPD:
		sa.dpdCheck()
	}
}

// rekeyIKE queues a rekey of the IKE SA unless one is under way.
func (sa *ikeSA) rekeyIKE() bool {
	if sa.state != stateEstablished || sa.closing || sa.successor != nil {
		return false
	}
	if _, ok := sa.pendingTask().(*ikeRekeyTask); ok {
		return true
	}
	for _, t := range sa.tasks {
		if _, ok := t.(*ikeRekeyTask); ok {
			return true
		}
	}
	sa.queue(&ikeRekeyTask{retries: sa.rekeyRetries})
	sa.startNext()
	return true
}

// expireIKE ends an IKE SA at its maximum lifetime: deleted with an
// INFORMATIONAL exchange when established (§1.4.1), dropped at once when
// it only waited for its delete after a rekey or when a request of it
// is still unanswered (its rekey, most likely): it must not live on
// while that request is retransmitted.
func (sa *ikeSA) expireIKE() {
	if sa.successor != nil || sa.state != stateEstablished {
		sa.log.Info("dropping IKE SA replaced by a rekey")
		sa.e.removeSA(sa)
		return
	}
	if sa.pending != nil {
		sa.log.Info("IKE SA reached its maximum lifetime with a request unanswered, dropping it")
		sa.failure = "maximum lifetime reached"
		sa.e.removeSA(sa)
		return
	}
	if sa.closing {
		return
	}
	sa.log.Info("IKE SA reached its maximum lifetime, deleting it")
	sa.closing = true
	sa.queueFirst(&deleteTask{ike: true})
	sa.startNext()
}

func (sa *ikeSA) armChildTimer(c *childSA, k timerKind, d time.Duration) {
	if stop := c.cstop[k]; stop != nil {
		stop()
	}
	c.cgen[k]++
	msg, e := childTimer{inSPI: c.InSPI, kind: k, gen: c.cgen[k]}, sa.e
	c.cstop[k] = e.o.Clock.AfterFunc(d, func() { e.expiredChildTimer(msg) })
	if k == timerChildRekey {
		c.rekeyAt = e.now().Add(d)
	} else {
		c.expireAt = e.now().Add(d)
	}
}

func (sa *ikeSA) stopChildTimers(c *childSA) {
	for k := range c.cstop {
		if c.cstop[k] != nil {
			c.cstop[k]()
			c.cstop[k] = nil
		}
		c.cgen[k]++
	}
}

// armChildTimers starts the lifetimes of a new child SA (ipsec-policy
// rekey-time, life-time): rekeyed at rekey-time minus the random margin,
// deleted at life-time. A rekey-time not below the life-time is taken as
// 90% of it, so that the rekey comes first.
func (sa *ikeSA) armChildTimers(c *childSA) {
	l := c.Lifetimes
	if soft := l.RekeyTime; soft > 0 {
		if l.LifeTime > 0 && soft >= l.LifeTime {
			soft = l.LifeTime - l.LifeTime*RekeyMarginPct/100
		}
		sa.armChildTimer(c, timerChildRekey, sa.e.softLifetime(soft))
	}
	if l.LifeTime > 0 {
		sa.armChildTimer(c, timerChildExpire, l.LifeTime)
	}
}

// expiredChildTimer runs a child SA timer that is still current.
func (e *Engine) expiredChildTimer(t childTimer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	sa := e.spis[t.inSPI]
	if sa == nil {
		return
	}
	c := sa.child(t.inSPI)
	if c == nil || c.cgen[t.kind] != t.gen {
		return // stale
	}
	c.cstop[t.kind] = nil
	if t.kind == timerChildRekey {
		c.rekeyAt = time.Time{}
		sa.rekeyChild(c)
	} else {
		sa.expireChild(c)
	}
}

// rekeyChild queues the rekey of a child SA (its soft lifetime) unless it
// is already being rekeyed, replaced or deleted.
func (sa *ikeSA) rekeyChild(c *childSA) bool {
	if c.state != childInstalled || sa.state != stateEstablished || sa.closing || sa.successor != nil {
		return false
	}
	for _, t := range sa.tasks {
		if x, ok := t.(*childCreateTask); ok && x.rekey == c {
			return true
		}
	}
	sa.queue(&childCreateTask{rekey: c})
	sa.startNext()
	return true
}

// expireChild ends a child SA at its hard lifetime: out of the dataplane
// at once (it must not carry more traffic), then an INFORMATIONAL delete
// tells the peer (RFC 7296 §1.4.1).
func (sa *ikeSA) expireChild(c *childSA) {
	sa.log.Info("child SA reached its hard lifetime", "subsystem", "child", "policy", c.Policy, "in", spi32(c.InSPI))
	deleting := c.state == childDeleting
	sa.removeChild(c)
	if !deleting && sa.state == stateEstablished && !sa.closing {
		sa.queueFirst(&deleteTask{child: c.InSPI, orphan: true})
		sa.startNext()
	}
}

// Expire takes a lifetime expiry the dataplane reports for the child SA
// whose inbound SPI is inSPI (the bytes and packets limits of
// ipsec-policy, which only the dataplane counts): a soft expiry rekeys
// the child SA, a hard one means the dataplane removed it, so the engine
// deletes it. An expiry of a child SA already being rekeyed or deleted
// changes nothing.
func (e *Engine) Expire(inSPI uint32, hard bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	sa := e.spis[inSPI]
	if sa == nil || sa.child(inSPI) == nil {
		return ErrNoSA
	}
	e.expire(sa, sa.child(inSPI), hard)
	return nil
}

// ExpireSA is Expire for an SA named as the dataplane names it, by
// destination address and SPI: the inbound (destination ours) or the
// outbound (destination the peer's) SA of a child SA.
func (e *Engine) ExpireSA(dst netip.Addr, spi uint32, hard bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	dst = dst.Unmap()
	if sa := e.spis[spi]; sa != nil {
		if c := sa.child(spi); c != nil && c.Local.Addr().Unmap() == dst {
			e.expire(sa, c, hard)
			return nil
		}
	}
	for _, sa := range e.sas {
		if c := sa.childByOut(spi); c != nil && c.Remote.Addr().Unmap() == dst {
			e.expire(sa, c, hard)
			return nil
		}
	}
	return ErrNoSA
}

func (e *Engine) expire(sa *ikeSA, c *childSA, hard bool) {
	if hard {
		sa.expireChild(c)
		return
	}
	sa.log.Info("child SA reached a soft limit of the dataplane", "subsystem", "child", "in", spi32(c.InSPI))
	sa.rekeyChild(c)
}
