package loadtest

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"secgw/internal/ike/wire"
)

// soakState is what a held tunnel needs to answer the responder and to
// check liveness itself. Guarded by the tunnel's mu.
type soakState struct {
	// nextID is the Message ID of our next request, expectID that of the
	// responder's next request (RFC 7296 §2.2: one counter per direction).
	nextID, expectID uint32
	// lastResp is our last response, sent again when the responder
	// retransmits its request (RFC 7296 §2.1).
	lastResp []byte
	// peerChildSPI is the responder's inbound SPI of the child SA (the
	// first one, or the one that rekeyed it); rekeyed are the SPI pairs
	// (the responder's, ours) of the child SAs a rekey replaced, until
	// the responder deletes them (RFC 7296 §2.8).
	peerChildSPI uint32
	rekeyed      [][2]uint32
	// probe is our outstanding liveness request, probeID its Message ID
	// and misses how many intervals it went unanswered.
	probe   []byte
	probeID uint32
	misses  int
	// answeredAt is when a liveness check was last answered (unix
	// nanoseconds), for Mark (mark.go).
	answeredAt int64
}

// soakCounters are the soak's tallies, updated from any goroutine.
type soakCounters struct {
	liveness, deletesIKE, deletesChild, childRefused, childRekeys, retransmits, bad atomic.Int64
	probesSent, probesAnswered, probesMissed, probesDead                            atomic.Int64
}

// SoakStats summarizes the hold phase.
type SoakStats struct {
	// Held is the number of SAs still up at the end; Duration the hold.
	Held     int
	Duration time.Duration
	// Answered requests of the responder: empty INFORMATIONAL (liveness,
	// RFC 7296 §1.4), deletes of the IKE SA or of a child SA, rekeys of
	// the child SA (CREATE_CHILD_SA with REKEY_SA, without PFS), and the
	// other CREATE_CHILD_SA requests, refused with NO_ADDITIONAL_SAS (the
	// generator does not rekey IKE SAs nor add child SAs). Retransmits
	// are requests answered from the cache; Bad are requests that did not
	// decrypt or parse.
	Liveness, DeletesIKE, DeletesChild, ChildRekeys, ChildRefused, Retransmits, Bad int64
	// Our liveness checks: sent, answered, intervals without an answer,
	// and SAs given up after Tries missed intervals.
	ProbesSent, ProbesAnswered, ProbesMissed, ProbesDead int64
}

func (s *SoakStats) format(b *strings.Builder) {
	fmt.Fprintf(b, "soak: held %d SAs for %.0f s; answered liveness %d, IKE deletes %d, child deletes %d, CREATE_CHILD_SA refused %d, cached %d, bad %d\n",
		s.Held, s.Duration.Seconds(), s.Liveness, s.DeletesIKE, s.DeletesChild, s.ChildRefused, s.Retransmits, s.Bad)
	if s.ChildRekeys > 0 {
		fmt.Fprintf(b, "soak: child rekeys answered %d\n", s.ChildRekeys)
	}
	if s.ProbesSent > 0 {
		fmt.Fprintf(b, "soak: our liveness checks sent %d, answered %d, missed %d, SAs given up %d\n",
			s.ProbesSent, s.ProbesAnswered, s.ProbesMissed, s.ProbesDead)
	}
}

// heldList is the list of held tunnels the liveness sweeper walks.
type heldList struct {
	mu sync.Mutex
	ts []*tunnel
}

func (h *heldList) add(t *tunnel) {
	h.mu.Lock()
	h.ts = append(h.ts, t)
	h.mu.Unlock()
}

// slice returns up to n tunnels from position pos, wrapping around, and
// the next position.
func (h *heldList) slice(pos, n int) ([]*tunnel, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.ts) == 0 {
		return nil, 0
	}
	n = min(n, len(h.ts))
	out := make([]*tunnel, 0, n)
	for range n {
		pos %= len(h.ts)
		out = append(out, h.ts[pos])
		pos++
	}
	return out, pos
}

func (h *heldList) up() int {
	h.mu.Lock()
	ts := h.ts
	h.mu.Unlock()
	n := 0
	for _, t := range ts {
		t.mu.Lock()
		if t.phase == phaseUp {
			n++
		}
		t.mu.Unlock()
	}
	return n
}

// runSoak holds the SAs for Hold, sending liveness checks if asked.
func (g *Generator) runSoak(ctx context.Context) *SoakStats {
	ctx, cancel := context.WithTimeout(ctx, g.o.Hold)
	defer cancel()
	start := time.Now()
	if g.o.Progress != nil {
		// test/soak-ike.sh reads this line: the setups are over.
		fmt.Fprintf(g.o.Progress, "hold: %d SAs up, holding them for %v\n", g.held.up(), g.o.Hold)
	}
	if g.o.Progress != nil && g.o.ProgressEvery > 0 {
		go g.holdProgress(ctx, start)
	}
	if g.o.Liveness > 0 {
		g.sweep(ctx)
	}
	<-ctx.Done()
	c := &g.soak
	return &SoakStats{Held: g.held.up(), Duration: time.Since(start),
		Liveness: c.liveness.Load(), DeletesIKE: c.deletesIKE.Load(), DeletesChild: c.deletesChild.Load(),
		ChildRekeys: c.childRekeys.Load(), ChildRefused: c.childRefused.Load(), Retransmits: c.retransmits.Load(), Bad: c.bad.Load(),
		ProbesSent: c.probesSent.Load(), ProbesAnswered: c.probesAnswered.Load(),
		ProbesMissed: c.probesMissed.Load(), ProbesDead: c.probesDead.Load()}
}

// sweep visits every held SA once per Liveness interval, a slice at each
// tick, so that the checks spread evenly instead of coming in one burst.
func (g *Generator) sweep(ctx context.Context) {
	tick := min(100*time.Millisecond, g.o.Liveness)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	pos := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		g.held.mu.Lock()
		total := len(g.held.ts)
		g.held.mu.Unlock()
		n := int((int64(total)*int64(tick) + int64(g.o.Liveness) - 1) / int64(g.o.Liveness))
		var ts []*tunnel
		ts, pos = g.held.slice(pos, n)
		for _, t := range ts {
			t.mu.Lock()
			g.probe(t)
			t.mu.Unlock()
		}
	}
}

// probe sends a liveness check on t, or resends the unanswered one; t.mu
// is held. After Tries unanswered intervals the SA is given up.
func (g *Generator) probe(t *tunnel) {
	if t.phase != phaseUp {
		return
	}
	if t.probe != nil {
		g.soak.probesMissed.Add(1)
		t.misses++
		if t.misses >= g.o.Tries {
			g.soak.probesDead.Add(1)
			t.phase = phaseDone
			g.table.del(t.spii)
			return
		}
		g.send(t.sock, t.remote, t.probe)
		return
	}
	// RFC 7296 §1.4: an INFORMATIONAL request with no payloads.
	raw, err := t.seal(wire.ExchangeInformational, t.nextID, false, nil)
	if err != nil {
		return
	}
	t.probe, t.probeID = raw, t.nextID
	g.soak.probesSent.Add(1)
	g.send(t.sock, t.remote, raw)
}

// probeResponse takes the answer to our liveness check; t.mu is held.
func (g *Generator) probeResponse(t *tunnel, h wire.Header, data []byte) {
	if t.probe == nil || h.Exchange != wire.ExchangeInformational || h.MessageID != t.probeID {
		return
	}
	m, err := wire.Parse(data)
	if err != nil {
		return
	}
	if _, err := open(t.in, m); err != nil {
		return
	}
	t.probe, t.misses = nil, 0
	t.answeredAt = time.Now().UnixNano()
	t.nextID++
	g.soak.probesAnswered.Add(1)
}

// handleRequest answers a request of the responder on a held SA; t.mu is
// held. A retransmitted request gets the cached response, a request out
// of sequence is dropped (RFC 7296 §2.2).
func (g *Generator) handleRequest(t *tunnel, h wire.Header, data []byte) {
	if t.phase != phaseUp {
		return
	}
	if t.lastResp != nil && h.MessageID+1 == t.expectID {
		g.soak.retransmits.Add(1)
		g.send(t.sock, t.remote, t.lastResp)
		return
	}
	if h.MessageID != t.expectID || h.SPIr != t.spir {
		return
	}
	m, err := wire.Parse(data)
	if err != nil {
		g.soak.bad.Add(1)
		return
	}
	ps, err := open(t.in, m)
	if err != nil {
		g.soak.bad.Add(1)
		return
	}
	resp, closeIKE, ok := g.answer(t, h.Exchange, ps)
	if !ok {
		return
	}
	raw, err := t.seal(h.Exchange, h.MessageID, true, resp)
	if err != nil {
		return
	}
	t.lastResp = raw
	t.expectID++
	g.send(t.sock, t.remote, raw)
	if closeIKE {
		t.phase = phaseDone
		g.table.del(t.spii)
	}
}

// answer returns the payloads of our response to a request of exchange
// exch, whether it deletes the IKE SA, and false for an exchange we do not
// answer.
func (g *Generator) answer(t *tunnel, exch wire.ExchangeType, ps []wire.Payload) (resp []wire.Payload, closeIKE, ok bool) {
	switch exch {
	case wire.ExchangeInformational:
		deleted := false
		for _, p := range ps {
			d, isDel := p.(*wire.Delete)
			if !isDel {
				continue
			}
			deleted = true
			switch d.Protocol {
			case wire.ProtocolIKE:
				// RFC 7296 §1.4.1: the response to an IKE SA delete is empty.
				g.soak.deletesIKE.Add(1)
				return nil, true, true
			case wire.ProtocolESP:
				// RFC 7296 §1.4.1: answer with the delete of our inbound SA
				// of the pair.
				for _, spi := range d.SPIs {
					if len(spi) != 4 {
						continue
					}
					if ours, ok := t.deleteChild(binary.BigEndian.Uint32(spi)); ok {
						g.soak.deletesChild.Add(1)
						resp = append(resp, &wire.Delete{Protocol: wire.ProtocolESP, SPISize: 4,
							SPIs: [][]byte{binary.BigEndian.AppendUint32(nil, ours)}})
					}
				}
			}
		}
		if !deleted {
			g.soak.liveness.Add(1)
		}
		return resp, false, true
	case wire.ExchangeCreateChildSA:
		if resp, ok := g.answerChildRekey(t, ps); ok {
			g.soak.childRekeys.Add(1)
			return resp, false, true
		}
		// RFC 7296 §1.3: a responder may refuse; the generator does not
		// rekey IKE SAs nor take additional child SAs.
		g.soak.childRefused.Add(1)
		return []wire.Payload{wire.NewNotify(wire.NotifyNoAdditionalSAs, nil)}, false, true
	}
	return nil, false, false
}
