package engine

import (
	"net/netip"
	"time"

	"secgw/internal/ike/config"
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

func (e *Engine) now() time.Time { return time.Now() }

// softLifetime is t minus the random margin.
func (e *Engine) softLifetime(t time.Duration) time.Duration {
	return t - time.Duration(float64(t)*RekeyMarginPct/100*e.o.Jitter())
}

// armIKETimer arms a lifetime or DPD timer of the IKE SA.
func (sa *ikeSA) armIKETimer(k timerKind, d time.Duration) { sa.arm(k, d) }

// stopIKETimers stops the lifetimes and DPD of the IKE SA.
func (sa *ikeSA) stopIKETimers() {
	for _, k := range []timerKind{timerIKERekey, timerIKEReauth, timerIKEExpire, timerDPD} {
		sa.at[k] = 0
	}
	sa.resched()
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
		soft := sa.w.e.softLifetime(l.every)
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

// expiredIKETimer runs a lifetime or DPD timer of the IKE SA.
func (sa *ikeSA) expiredIKETimer(k timerKind) {
	if sa.state == stateDeleted {
		return
	}
	switch k {
	case timerIKERekey:
		sa.rekeyIKE()
	case timerIKEReauth:
		sa.log().Info("reauthentication time reached")
		sa.w.e.reauth(sa)
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
	sa.queue(&ikeRekeyTask{retries: int(sa.rekeyRetries)})
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
		sa.log().Info("dropping IKE SA replaced by a rekey")
		sa.w.e.removeSA(sa)
		return
	}
	if sa.busy() {
		sa.log().Info("IKE SA reached its maximum lifetime with a request unanswered, dropping it")
		sa.failure = "maximum lifetime reached"
		sa.w.e.removeSA(sa)
		return
	}
	if sa.closing {
		return
	}
	sa.log().Info("IKE SA reached its maximum lifetime, deleting it")
	sa.closing = true
	sa.queueFirst(&deleteTask{ike: true})
	sa.startNext()
}

func (sa *ikeSA) armChildTimer(c *childSA, k int, d time.Duration) { sa.armChild(c, k, d) }

func (sa *ikeSA) stopChildTimers(c *childSA) {
	c.at = [numChildTimers]int64{}
	sa.resched()
}

// armChildTimers starts the lifetimes of a new child SA (ipsec-policy
// rekey-time, life-time): rekeyed at rekey-time minus the random margin,
// deleted at life-time. A rekey-time not below the life-time is taken as
// 90% of it, so that the rekey comes first.
func (sa *ikeSA) armChildTimers(c *childSA, l config.ChildLifetimes) {
	if soft := l.RekeyTime; soft > 0 {
		if l.LifeTime > 0 && soft >= l.LifeTime {
			soft = l.LifeTime - l.LifeTime*RekeyMarginPct/100
		}
		sa.armChildTimer(c, timerChildRekey, sa.w.e.softLifetime(soft))
	}
	if l.LifeTime > 0 {
		sa.armChildTimer(c, timerChildExpire, l.LifeTime)
	}
}

// expiredChild runs timer k of child SA c of the IKE SA.
func (sa *ikeSA) expiredChild(c *childSA, k int) {
	if k == timerChildRekey {
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
	sa.childLog().Info("child SA reached its hard lifetime", "policy", c.Policy, "in", spi32(c.InSPI))
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
	sa, w := e.lookupChild(inSPI)
	if sa == nil {
		return ErrNoSA
	}
	defer w.unlock()
	c := sa.child(inSPI)
	if c == nil {
		return ErrNoSA
	}
	e.expire(sa, c, hard)
	return nil
}

// ExpireSA is Expire for an SA named as the dataplane names it, by
// destination address and SPI: the inbound (destination ours) or the
// outbound (destination the peer's) SA of a child SA. Both are found by
// SPI in an index (outspi.go for the outbound ones); an outbound SPI that
// several peers chose is looked for on the workers one at a time.
func (e *Engine) ExpireSA(dst netip.Addr, spi uint32, hard bool) error {
	dst = dst.Unmap()
	if sa, w := e.lookupChild(spi); sa != nil && func() bool {
		defer w.unlock()
		c := sa.child(spi)
		if c != nil && sa.local.Addr().Unmap() == dst {
			e.expire(sa, c, hard)
			return true
		}
		return false
	}() {
		return nil
	}
	sa, w, shared := e.lookupOut(spi)
	if sa != nil {
		defer w.unlock()
		if c := sa.childByOut(spi); c != nil && sa.remote.Addr().Unmap() == dst {
			e.expire(sa, c, hard)
			return nil
		}
		return ErrNoSA
	}
	if !shared {
		return ErrNoSA
	}
	found := false
	e.eachSA(func(sa *ikeSA) bool {
		e.outScanned.Add(1)
		if c := sa.childByOut(spi); c != nil && sa.remote.Addr().Unmap() == dst {
			e.expire(sa, c, hard)
			found = true
		}
		return !found
	})
	if !found {
		return ErrNoSA
	}
	return nil
}

func (e *Engine) expire(sa *ikeSA, c *childSA, hard bool) {
	if hard {
		sa.expireChild(c)
		return
	}
	sa.childLog().Info("child SA reached a soft limit of the dataplane", "in", spi32(c.InSPI))
	sa.rekeyChild(c)
}
