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
	// probeSent is when probe was first sent.
	probeSent time.Time
	// With Options.IKERekey (ikerekey.go): skd is the IKE SA's SK_d, which
	// the keys of its successor derive from (RFC 7296 §2.18); ikeSince
	// when the IKE SA was set up; rekey the rekey in progress (its request
	// is probe); old the IKE SA the last rekey replaced, until its delete
	// is answered.
	skd      []byte
	ikeSince time.Time
	rekey    *ikeRekey
	old      *oldIKESA
}

// soakCounters are the soak's tallies, updated from any goroutine.
type soakCounters struct {
	liveness, deletesIKE, deletesChild, childRefused, childRekeys, retransmits, bad atomic.Int64
	probesSent, probesAnswered, probesMissed, probesDead                            atomic.Int64
	ikeRekeys, ikeRekeysRefused, oldDeleted, oldUnanswered                          atomic.Int64
	// lateTicks counts the sweeper's ticks that found it a whole tick
	// behind, and maxLagNs its largest delay: a generator that fell
	// behind (its CPU share on a loaded machine) answers late, and the
	// responder may give up SAs that are not its fault.
	lateTicks, maxLagNs atomic.Int64
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
	// Our IKE SA rekeys (Options.IKERekey, RFC 7296 §1.3.2): done,
	// refused by the responder (tried again later), the old IKE SAs'
	// deletes answered and given up.
	IKERekeys, IKERekeysRefused, OldDeleted, OldUnanswered int64
	// LateTicks and MaxLag tell whether the generator kept up: sweeper
	// ticks a whole tick late, and the largest delay.
	LateTicks int64
	MaxLag    time.Duration
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
	if s.IKERekeys > 0 || s.IKERekeysRefused > 0 {
		fmt.Fprintf(b, "soak: IKE SA rekeys done %d, refused %d; old IKE SAs deleted %d, deletes unanswered %d\n",
			s.IKERekeys, s.IKERekeysRefused, s.OldDeleted, s.OldUnanswered)
	}
	if s.MaxLag > 0 {
		// The sweeper ran (liveness checks or IKE SA rekeys).
		fmt.Fprintf(b, "soak: generator sweep late ticks %d, max lag %d ms\n", s.LateTicks, s.MaxLag.Milliseconds())
	}
}

// heldGiveUp is the least time a held SA's request goes unanswered
// before the generator gives the SA up (besides Tries visits): RFC 7296
// §2.4 has a peer retransmit for minutes before it deems the other dead,
// and a responder busy with its rekeys answers late, not never.
const heldGiveUp = time.Minute

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
	if g.o.Liveness > 0 || g.o.IKERekey > 0 {
		g.sweep(ctx)
	}
	<-ctx.Done()
	c := &g.soak
	return &SoakStats{Held: g.held.up(), Duration: time.Since(start),
		Liveness: c.liveness.Load(), DeletesIKE: c.deletesIKE.Load(), DeletesChild: c.deletesChild.Load(),
		ChildRekeys: c.childRekeys.Load(), ChildRefused: c.childRefused.Load(), Retransmits: c.retransmits.Load(), Bad: c.bad.Load(),
		ProbesSent: c.probesSent.Load(), ProbesAnswered: c.probesAnswered.Load(),
		ProbesMissed: c.probesMissed.Load(), ProbesDead: c.probesDead.Load(),
		IKERekeys: c.ikeRekeys.Load(), IKERekeysRefused: c.ikeRekeysRefused.Load(),
		OldDeleted: c.oldDeleted.Load(), OldUnanswered: c.oldUnanswered.Load(),
		LateTicks: c.lateTicks.Load(), MaxLag: time.Duration(c.maxLagNs.Load())}
}

// visitEvery is how often the sweeper visits each held SA: the liveness
// interval, or a tenth of the IKE SA rekey interval without liveness
// checks (at least a second).
func (g *Generator) visitEvery() time.Duration {
	if g.o.Liveness > 0 {
		return g.o.Liveness
	}
	return max(g.o.IKERekey/10, time.Second)
}

// sweep visits every held SA once per visitEvery, a slice at each tick,
// so that the checks spread evenly instead of coming in one burst. It
// records how late its ticks come (lateTicks, maxLagNs).
func (g *Generator) sweep(ctx context.Context) {
	every := g.visitEvery()
	tick := min(100*time.Millisecond, every)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	pos := 0
	next := time.Now().Add(tick)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if lag := time.Since(next); lag > 0 {
			if lag >= tick {
				g.soak.lateTicks.Add(1)
			}
			for {
				cur := g.soak.maxLagNs.Load()
				if int64(lag) <= cur || g.soak.maxLagNs.CompareAndSwap(cur, int64(lag)) {
					break
				}
			}
		}
		next = time.Now().Add(tick)
		g.held.mu.Lock()
		total := len(g.held.ts)
		g.held.mu.Unlock()
		n := int((int64(total)*int64(tick) + int64(every) - 1) / int64(every))
		var ts []*tunnel
		ts, pos = g.held.slice(pos, n)
		for _, t := range ts {
			t.mu.Lock()
			g.probe(t)
			t.mu.Unlock()
		}
	}
}

// probe sends a liveness check on t, or starts an IKE SA rekey when one
// is due (Options.IKERekey), or resends the unanswered request; t.mu is
// held. After Tries unanswered intervals the SA is given up. The delete
// of an IKE SA a rekey replaced is resent the same way.
func (g *Generator) probe(t *tunnel) {
	if t.phase != phaseUp {
		return
	}
	if o := t.old; o != nil {
		if o.misses++; o.misses >= g.o.Tries && time.Since(o.sent) >= heldGiveUp {
			g.soak.oldUnanswered.Add(1)
			g.table.del(o.spii)
			t.old = nil
		} else {
			g.send(t.sock, t.remote, o.del)
		}
	}
	if t.probe != nil {
		g.soak.probesMissed.Add(1)
		t.misses++
		if t.misses >= g.o.Tries && time.Since(t.probeSent) >= heldGiveUp {
			g.soak.probesDead.Add(1)
			g.drop(t)
			return
		}
		g.send(t.sock, t.remote, t.probe)
		return
	}
	if g.o.IKERekey > 0 && t.old == nil && time.Since(t.ikeSince) >= g.o.IKERekey {
		raw, err := t.ikeRekeyRequest(&g.o.Profile, g.rand)
		if err != nil {
			return
		}
		t.probe, t.probeID, t.probeSent = raw, t.nextID, time.Now()
		g.send(t.sock, t.remote, raw)
		return
	}
	if g.o.Liveness > 0 {
		g.livenessCheck(t)
	}
}

// livenessCheck sends a liveness check on the held tunnel t, which has
// no request outstanding: the periodic one of -liveness, or Mark's;
// t.mu is held.
func (g *Generator) livenessCheck(t *tunnel) {
	// RFC 7296 §1.4: an INFORMATIONAL request with no payloads.
	raw, err := t.seal(wire.ExchangeInformational, t.nextID, false, nil)
	if err != nil {
		return
	}
	t.probe, t.probeID, t.probeSent = raw, t.nextID, time.Now()
	g.soak.probesSent.Add(1)
	g.send(t.sock, t.remote, raw)
}

// drop gives up the held tunnel t (and the IKE SA its last rekey
// replaced); t.mu is held.
func (g *Generator) drop(t *tunnel) {
	t.phase = phaseDone
	g.table.del(t.spii)
	if t.old != nil {
		g.table.del(t.old.spii)
		t.old = nil
	}
	clear(t.skd)
}

// probeResponse takes the answer to our liveness check or IKE SA rekey;
// t.mu is held.
func (g *Generator) probeResponse(t *tunnel, h wire.Header, data []byte) {
	want := wire.ExchangeInformational
	if t.rekey != nil {
		want = wire.ExchangeCreateChildSA
	}
	if t.probe == nil || h.Exchange != want || h.MessageID != t.probeID {
		return
	}
	m, err := wire.Parse(data)
	if err != nil {
		return
	}
	ps, err := open(t.in, m)
	if err != nil {
		return
	}
	t.probe, t.misses = nil, 0
	t.answeredAt = time.Now().UnixNano()
	if t.rekey == nil {
		t.nextID++
		g.soak.probesAnswered.Add(1)
		return
	}
	del, refused, err := t.handleIKERekeyResponse(&g.o.Profile, ps)
	switch {
	case refused:
		// Tried again at a later visit.
		t.nextID++
		g.soak.ikeRekeysRefused.Add(1)
	case err != nil:
		g.soak.bad.Add(1)
		t.nextID++
	default:
		g.soak.ikeRekeys.Add(1)
		t.ikeSince, t.old.sent = time.Now(), time.Now()
		g.table.put(t)
		g.send(t.sock, t.remote, del)
	}
}

// oldResponse takes a response on the IKE SA t's last rekey replaced:
// the answer to its delete (RFC 7296 §1.4.1); t.mu is held.
func (g *Generator) oldResponse(t *tunnel, h wire.Header) {
	o := t.old
	if o == nil || h.SPIi != o.spii || h.SPIr != o.spir || h.Exchange != wire.ExchangeInformational {
		return
	}
	g.soak.oldDeleted.Add(1)
	g.table.del(o.spii)
	t.old = nil
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
		g.drop(t)
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
