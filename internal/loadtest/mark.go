package loadtest

import (
	"context"
	"fmt"
	"time"
)

// Mark is the failover probe of make bench-ha (test/benchha): called
// during the hold at the instant the responder's address moves to
// another node, it sends a liveness check (RFC 7296 §1.4) at once on
// every held SA (resending the outstanding one where there is one), and
// from then on the hold's progress lines count the SAs answered since
// the mark. The time until 99 % of them answered is the time until the
// tunnels work again through the new node; an SA whose checks go
// unanswered Tries times is given up (SoakStats.ProbesDead), what a real
// peer would renegotiate.
//
// The checks still unanswered are sent again every markResend for
// markSpan (the periodic checks of -liveness, if any, go on besides):
// the first ones may reach the old node, or nothing, while the address
// moves.
func (g *Generator) Mark() {
	now := time.Now()
	g.mark.Store(now.UnixNano())
	g.held.mu.Lock()
	ts := g.held.ts
	g.held.mu.Unlock()
	for _, t := range ts {
		t.mu.Lock()
		if t.phase == phaseUp {
			if t.probe != nil {
				g.send(t.sock, t.remote, t.probe)
			} else {
				g.livenessCheck(t)
			}
		}
		t.mu.Unlock()
	}
	go func() {
		for range int(markSpan / markResend) {
			time.Sleep(markResend)
			if g.closed.Load() {
				return
			}
			for _, t := range ts {
				t.mu.Lock()
				if t.phase == phaseUp && t.probe != nil {
					g.send(t.sock, t.remote, t.probe)
				}
				t.mu.Unlock()
			}
		}
	}()
}

// markResend and markSpan pace the resends of Mark's liveness checks.
const (
	markResend = 250 * time.Millisecond
	markSpan   = 30 * time.Second
)

// answeredSinceMark counts the held SAs up whose liveness check was
// answered after the mark, and those up.
func (g *Generator) answeredSinceMark() (answered, up int) {
	mark := g.mark.Load()
	g.held.mu.Lock()
	ts := g.held.ts
	g.held.mu.Unlock()
	for _, t := range ts {
		t.mu.Lock()
		if t.phase == phaseUp {
			up++
			if mark != 0 && t.answeredAt > mark {
				answered++
			}
		}
		t.mu.Unlock()
	}
	return answered, up
}

// holdProgress prints, every ProgressEvery during the hold, the SAs up,
// those answered since the mark (once Mark was called) and the SAs given
// up: "hold t=12.3s up=10000 answered-since-mark=9950 dead=0".
func (g *Generator) holdProgress(ctx context.Context, start time.Time) {
	tick := time.NewTicker(g.o.ProgressEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			answered, up := g.answeredSinceMark()
			fmt.Fprintf(g.o.Progress, "hold t=%.1fs up=%d answered-since-mark=%d dead=%d mark=%v\n",
				now.Sub(start).Seconds(), up, answered, g.soak.probesDead.Load(), g.mark.Load() != 0)
		}
	}
}
