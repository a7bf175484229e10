package transport

import (
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// authGuard slows password guessing down (1,002 wrong passwords
// at 27/s, whose bcrypt load made real logins take 2.4 s). Failed
// password authentications are counted per source and per user name;
// beyond Limits.AuthFreeFailures each failure refuses further attempts
// for a delay that doubles up to AuthMaxDelay. A refused attempt costs no
// bcrypt. And the checks themselves run at most MaxConcurrentAuth at once,
// one slot kept for sources without recent failures and without a check
// in progress, so that a real login does not queue behind a guesser's,
// not even behind the burst of a guesser's first attempts.
type authGuard struct {
	lim Limits
	log *slog.Logger

	clean   chan struct{} // MaxConcurrentAuth slots
	suspect chan struct{} // MaxConcurrentAuth-1: what failing sources may use

	mu       sync.Mutex
	sources  map[netip.Prefix]*failures
	users    map[string]*failures
	inflight map[netip.Prefix]int // checks in progress per source
	stats    AuthStats
}

// failures is the recent failure record of a source or a user name.
type failures struct {
	n     int       // failures since the record was last forgotten
	last  time.Time // of the last failure
	until time.Time // attempts are refused before this
}

// maxTracked bounds the failure records of each map: user names are the
// attacker's to choose.
const maxTracked = 1 << 14

// AuthStats counts password authentications.
type AuthStats struct {
	// Failed counts wrong passwords (and unknown users).
	Failed uint64
	// Throttled counts attempts refused without a check by the
	// per-source or per-user delay.
	Throttled uint64
	// Busy counts attempts refused because no check slot freed up within
	// AuthQueueTimeout.
	Busy uint64
}

// errThrottled and errAuthBusy are the reasons logged for refused
// attempts; the client only learns that authentication failed.
var (
	errThrottled = errors.New("netconf: too many failed authentications: attempt refused without a check")
	errAuthBusy  = errors.New("netconf: too many authentications in progress: attempt refused")
)

func newAuthGuard(lim Limits, log *slog.Logger) *authGuard {
	n := max(1, lim.MaxConcurrentAuth)
	return &authGuard{
		lim:      lim,
		log:      log,
		clean:    make(chan struct{}, n),
		suspect:  make(chan struct{}, max(1, n-1)),
		sources:  map[netip.Prefix]*failures{},
		users:    map[string]*failures{},
		inflight: map[netip.Prefix]int{},
	}
}

// check runs one password check: it refuses the attempt when its source
// or user is being delayed, waits for a check slot, runs check and
// records the outcome.
func (g *authGuard) check(user string, src netip.Prefix, check func() error) error {
	suspect, err := g.admit(user, src)
	if err != nil {
		return err
	}
	defer g.done(src)
	release, err := g.acquire(suspect)
	if err != nil {
		return err
	}
	err = check()
	release()
	if err != nil {
		g.failed(user, src)
	}
	return err
}

// admit reports whether the attempt must be refused, and whether its
// source has failed recently or has a check in progress (then it may not
// take the last slot). An admitted attempt is in progress until done.
func (g *authGuard) admit(user string, src netip.Prefix) (suspect bool, err error) {
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.current(g.sources[src], now)
	u := g.current(g.users[user], now)
	switch {
	case s != nil && now.Before(s.until):
	case u != nil && s != nil && now.Before(u.until):
		// The user name is under attack and this source has failed:
		// refuse. A source without failures still gets its check, so
		// that the owner of the name can log in during an attack.
	default:
		suspect = s != nil || g.inflight[src] > 0
		g.inflight[src]++
		return suspect, nil
	}
	g.stats.Throttled++
	g.log.Debug("netconf authentication refused: delayed after failures", "user", user, "source", src.String())
	return true, errThrottled
}

// done ends an attempt admit let through.
func (g *authGuard) done(src netip.Prefix) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.inflight[src]--; g.inflight[src] <= 0 {
		delete(g.inflight, src)
	}
}

// current returns f unless it is nil or forgotten.
func (g *authGuard) current(f *failures, now time.Time) *failures {
	if f == nil || now.Sub(f.last) > g.lim.AuthForget {
		return nil
	}
	return f
}

// acquire waits for a check slot: a suspect attempt first takes one of
// the slots failing sources may use, so that one slot always stays free
// for the others.
func (g *authGuard) acquire(suspect bool) (release func(), err error) {
	timer := time.NewTimer(g.lim.AuthQueueTimeout)
	defer timer.Stop()
	if suspect {
		select {
		case g.suspect <- struct{}{}:
		case <-timer.C:
			g.busy()
			return nil, errAuthBusy
		}
	}
	select {
	case g.clean <- struct{}{}:
	case <-timer.C:
		if suspect {
			<-g.suspect
		}
		g.busy()
		return nil, errAuthBusy
	}
	return func() {
		<-g.clean
		if suspect {
			<-g.suspect
		}
	}, nil
}

func (g *authGuard) busy() {
	g.mu.Lock()
	g.stats.Busy++
	g.mu.Unlock()
}

// failed records a failure of user from src and starts or lengthens
// their delays.
func (g *authGuard) failed(user string, src netip.Prefix) {
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stats.Failed++
	if d, n := countFailure(g, g.sources, src, now); d > 0 {
		g.log.Warn("netconf authentication failures: source delayed", "source", src.String(),
			"failures", n, "delay", d)
	}
	if d, n := countFailure(g, g.users, user, now); d > 0 {
		g.log.Warn("netconf authentication failures: user delayed for failing sources", "user", user,
			"failures", n, "delay", d)
	}
}

// countFailure counts a failure in m[key] and returns the delay it starts (0:
// within the free failures) with the count.
func countFailure[K comparable](g *authGuard, m map[K]*failures, key K, now time.Time) (time.Duration, int) {
	f := g.current(m[key], now)
	if f == nil {
		if len(m) >= maxTracked {
			for k, old := range m {
				if g.current(old, now) == nil {
					delete(m, k)
				}
			}
			if len(m) >= maxTracked {
				return 0, 0 // the other map still applies
			}
		}
		f = &failures{}
		m[key] = f
	}
	f.n++
	f.last = now
	over := f.n - g.lim.AuthFreeFailures
	if over <= 0 {
		return 0, f.n
	}
	d := g.lim.AuthFailureDelay
	for i := 1; i < over && d < g.lim.AuthMaxDelay; i++ {
		d *= 2
	}
	d = min(d, g.lim.AuthMaxDelay)
	f.until = now.Add(d)
	return d, f.n
}

func (g *authGuard) snapshot() AuthStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stats
}
