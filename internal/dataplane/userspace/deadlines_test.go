package userspace

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"secgw/internal/dataplane"
)

// limitedChild returns the ops that install child i (scaleChild) with
// the time limits soft and hard on both its SAs.
func limitedChild(i int, soft, hard time.Duration) []dataplane.Op {
	ops := scaleChild(i)
	for _, op := range ops {
		if op.SA != nil {
			op.SA.Limits.SoftAdd, op.SA.Limits.HardAdd = soft, hard
		}
	}
	return ops
}

// fillLimited installs children from..to-1 with the time limits soft and
// hard, in one batch.
func fillLimited(tb testing.TB, d *Dataplane, from, to int, soft, hard time.Duration) {
	tb.Helper()
	var all []dataplane.Op
	for i := from; i < to; i++ {
		all = append(all, limitedChild(i, soft, hard)...)
	}
	if err := d.Apply(context.Background(), all); err != nil {
		tb.Fatal(err)
	}
}

// expireAt runs the expiry as a Tick at now would and returns the SAs it
// visited and the events it raised.
func expireAt(d *Dataplane, now time.Time) (visited uint64, evs []dataplane.Event) {
	d.mu.Lock()
	before := d.deadlines.visited
	d.mu.Unlock()
	evs = d.expire(now, nil)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.deadlines.visited - before, evs
}

// count returns how many events of kind evs holds.
func count(evs []dataplane.Event, kind dataplane.EventKind) int {
	n := 0
	for _, ev := range evs {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

// TestExpiryVisitsOnlyDue: with 10,000 idle children (20,000 SAs whose
// limits are an hour away) and 10 whose limits come first, a tick
// visits the 20 SAs that are due and none of the idle ones; a tick with
// nothing due visits none. A walk over the SAD visits 20,020 each tick.
func TestExpiryVisitsOnlyDue(t *testing.T) {
	d := newScaleDP(t)
	fillLimited(t, d, 0, 10_000, time.Hour, 2*time.Hour)
	// The clock of the ticks starts after the 10,000 (their fill may take
	// seconds on a busy machine) and before the ten children due in 10 s:
	// those are due between 10 s and 10 s plus their own fill.
	start := time.Now()
	fillLimited(t, d, 10_000, 10_010, 10*time.Second, 20*time.Second)
	// Children without a time limit never enter the heap.
	if err := d.Apply(context.Background(), scaleChild(20_000)); err != nil {
		t.Fatal(err)
	}
	if n := len(d.deadlines.h); n != 20_020 {
		t.Fatalf("heap holds %d SAs, want the 20,020 with time limits", n)
	}
	at := func(d time.Duration) time.Time { return start.Add(d) }

	if v, evs := expireAt(d, at(5*time.Second)); v != 0 || len(evs) != 0 {
		t.Errorf("tick with nothing due visited %d SAs, raised %d events; want 0, 0", v, len(evs))
	}
	v, evs := expireAt(d, at(11*time.Second))
	if v != 20 || count(evs, dataplane.SoftExpire) != 20 || len(evs) != 20 {
		t.Errorf("tick at 11 s visited %d SAs, raised %d soft expires of %d events; want 20, 20, 20", v, count(evs, dataplane.SoftExpire), len(evs))
	}
	for _, ev := range evs {
		if ev.Reason != "time" || ev.SA.SPI&0xffff < 10_000 {
			t.Errorf("soft expire of %v (%s): not one of the 10 children due", ev.SA, ev.Reason)
		}
	}
	if v, evs := expireAt(d, at(12*time.Second)); v != 0 || len(evs) != 0 {
		t.Errorf("tick at 12 s visited %d SAs, raised %d events; want 0, 0 (soft limits fire once)", v, len(evs))
	}
	v, evs = expireAt(d, at(21*time.Second))
	if v != 20 || count(evs, dataplane.HardExpire) != 20 || len(evs) != 20 {
		t.Errorf("tick at 21 s visited %d SAs, raised %d hard expires of %d events; want 20, 20, 20", v, count(evs, dataplane.HardExpire), len(evs))
	}
	for _, ev := range evs {
		if _, err := d.Counters(context.Background(), ev.SA); err == nil {
			t.Errorf("hard-expired SA %v still installed", ev.SA)
		}
	}
	if n := len(d.deadlines.h); n != 20_000 {
		t.Errorf("heap holds %d SAs after the hard expiries, want 20,000", n)
	}
	if n := d.tables.Load().sas.len(); n != 20_002 {
		t.Errorf("SAD holds %d SAs, want 20,002", n)
	}
	if v, _ := expireAt(d, at(59*time.Minute)); v != 0 {
		t.Errorf("tick at 59 min visited %d SAs, want 0", v)
	}
	if v, evs := expireAt(d, at(61*time.Minute)); v != 20_000 || count(evs, dataplane.SoftExpire) != 20_000 {
		t.Errorf("tick at 61 min visited %d SAs and raised %d soft expires, want 20,000 of each", v, count(evs, dataplane.SoftExpire))
	}
}

// TestDeadlinesFollowTables: deleting and replacing SAs takes them out of
// the heap (nothing is left for a tick to skip), an update that keeps the
// keys keeps the SA's installation time and fired limits, and after any
// sequence of ops the heap holds exactly the installed SAs with a time
// limit to fire, in heap order.
func TestDeadlinesFollowTables(t *testing.T) {
	d := newScaleDP(t)
	ctx := context.Background()
	start := time.Now()
	const n = 500
	fillLimited(t, d, 0, n, 10*time.Second, 20*time.Second)
	expireAt(d, start.Add(11*time.Second)) // every soft limit fires
	rng := rand.New(rand.NewPCG(1, 2))
	live := map[int]bool{}
	for i := range n {
		live[i] = true
	}
	for step := range 2000 {
		i := rng.IntN(n + 50)
		var op dataplane.Op
		switch ops := limitedChild(i, 10*time.Second, 20*time.Second); {
		case !live[i]:
			if err := d.Apply(ctx, ops); err != nil {
				t.Fatal(err)
			}
			live[i] = true
			continue
		case rng.IntN(3) == 0:
			for _, o := range ops {
				kind := dataplane.DeleteSA
				if o.Policy != nil {
					kind = dataplane.DeletePolicy
				}
				if err := d.Apply(ctx, []dataplane.Op{{Kind: kind, SA: o.SA, Policy: o.Policy}}); err != nil {
					t.Fatal(err)
				}
			}
			delete(live, i)
			continue
		default:
			// Update the inbound SA: new limits with the same keys.
			op = ops[0]
			op.Kind = dataplane.UpdateSA
			op.SA.Limits.HardAdd = time.Duration(20+rng.IntN(10)) * time.Second
		}
		if err := d.Apply(ctx, []dataplane.Op{op}); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
	}
	checkDeadlines(t, d)
	// The updates kept the installation time: every hard limit is due
	// within 30 s of the start; it fires before a soft limit due at the
	// same tick (that of a child installed again), which then never
	// fires.
	sad := d.tables.Load().sas.len()
	v, evs := expireAt(d, start.Add(31*time.Second))
	if hard, soft := count(evs, dataplane.HardExpire), count(evs, dataplane.SoftExpire); hard != sad || soft != 0 || int(v) != sad {
		t.Errorf("after 31 s: %d visited, %d hard and %d soft expires; want %d, %d, 0", v, hard, soft, sad, sad)
	}
	if n, h := d.tables.Load().sas.len(), len(d.deadlines.h); n != 0 || h != 0 {
		t.Errorf("after every hard limit the SAD holds %d SAs, the heap %d", n, h)
	}
}

// checkDeadlines checks the heap against the tables: the same SAs, each
// hidx its index, every parent due no later than its children.
func checkDeadlines(t *testing.T, d *Dataplane) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.deadlines.h
	inHeap := map[*sa]bool{}
	for i, e := range h {
		if int(e.s.hidx) != i {
			t.Fatalf("heap entry %d has hidx %d", i, e.s.hidx)
		}
		if p := (i - 1) / deadlineArity; i > 0 && h[p].due > e.due {
			t.Fatalf("heap entry %d due before its parent", i)
		}
		if due, ok := d.deadlines.due(e.s); !ok || due != e.due {
			t.Fatalf("heap entry %d due %d, the SA's limits say %d %v", i, e.due, due, ok)
		}
		inHeap[e.s] = true
	}
	installed := 0
	for _, s := range d.tables.Load().sas.all() {
		if _, ok := d.deadlines.due(s); ok {
			installed++
			if !inHeap[s] {
				t.Fatalf("installed SA %v with a limit to fire is not in the heap", s.cfg.Key())
			}
		}
	}
	if installed != len(h) {
		t.Fatalf("heap holds %d SAs, %d installed ones have a limit to fire", len(h), installed)
	}
}

// BenchmarkExpireIdle is one tick of the expiry with 1k, 10k and 100k
// installed children whose limits are an hour away.
func BenchmarkExpireIdle(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			d := newScaleDP(b)
			fillLimited(b, d, 0, n, time.Hour, 2*time.Hour)
			now := time.Now().Add(time.Second)
			var evs []dataplane.Event
			for b.Loop() {
				evs = d.expire(now, evs[:0])
			}
		})
	}
}
