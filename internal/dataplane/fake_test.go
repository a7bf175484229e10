package dataplane

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestFakeStrictness(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	in, out := gcmPair(1, 2, 1)
	ghost, _ := gcmPair(3, 4, 1)
	pol := tunnelPolicies("10.1.0.0/16", "10.2.0.0/16", 1)[0]
	if err := f.Apply(ctx, []Op{{Kind: AddSA, SA: &in}, {Kind: AddPolicy, Policy: &pol}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		op   Op
		want error
	}{
		{Op{Kind: AddSA, SA: &in}, ErrExist},
		{Op{Kind: UpdateSA, SA: &ghost}, ErrNotFound},
		{Op{Kind: DeleteSA, SA: &ghost}, ErrNotFound},
		{Op{Kind: AddPolicy, Policy: &pol}, ErrExist},
	} {
		err := f.Apply(ctx, []Op{{Kind: AddSA, SA: &out}, c.op, {Kind: DeleteSA, SA: &in}})
		var ae *ApplyError
		if !errors.As(err, &ae) || ae.Index != 1 || !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want ApplyError at 1 wrapping %v", c.op.Kind, err, c.want)
		}
		// The op before the failure applied, the one after did not.
		s, _ := f.List(ctx)
		if len(s.SAs) != 2 {
			t.Errorf("%s: %d SAs after the failed batch, want 2", c.op.Kind, len(s.SAs))
		}
		f.Apply(ctx, []Op{{Kind: DeleteSA, SA: &out}})
	}
	// Foreign entries are invisible and untouchable.
	fin, _ := gcmPair(9, 10, 9)
	f.AddForeign(State{SAs: []SA{fin}})
	if err := f.Apply(ctx, []Op{{Kind: DeleteSA, SA: &fin}}); !errors.Is(err, ErrExist) {
		t.Errorf("delete of a foreign SA: %v", err)
	}
	if s, _ := f.List(ctx); len(s.SAs) != 1 || len(f.All().SAs) != 2 || s.SAs[0].SPI != 1 {
		t.Errorf("List %d SAs, All %d", len(s.SAs), len(f.All().SAs))
	}
	// Key slices are the Fake's own copies.
	in.EncrKey[0] ^= 0xff
	if s, _ := f.List(ctx); s.SAs[0].EncrKey[0] == in.EncrKey[0] {
		t.Error("the Fake shares key memory with the caller's op")
	}
}

func TestFakeSPIsCountersEvents(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	sa := SA{Src: gwB, Dst: gwA, SPI: 0xc0000001}
	f.Apply(ctx, []Op{{Kind: AddSA, SA: &sa}})
	if spi, _ := f.AllocSPI(ctx, gwB, gwA, 1); spi != 0xc0000002 {
		t.Errorf("AllocSPI gave %#x, want the next free 0xc0000002", spi)
	}
	f.SetCounters(sa.Key(), Counters{Packets: 3})
	if c, err := f.Counters(ctx, sa.Key()); err != nil || c.Packets != 3 {
		t.Errorf("counters %+v %v", c, err)
	}
	if _, err := f.Counters(ctx, SAKey{Dst: gwA, SPI: 5}); !errors.Is(err, ErrNotFound) {
		t.Errorf("counters of a missing SA: %v", err)
	}
	f.Emit(Event{Kind: SoftExpire, SA: sa.Key(), Reason: "bytes"})
	if ev := <-f.Events(); ev.Kind != SoftExpire || ev.SA != sa.Key() {
		t.Errorf("event %+v", ev)
	}
	f.Close()
	if _, ok := <-f.Events(); ok {
		t.Error("Events not closed by Close")
	}
	if err := f.Apply(ctx, nil); err == nil {
		t.Error("Apply after Close succeeded")
	}
}

// TestRenderKeys: keys appear only when asked.
func TestRenderKeys(t *testing.T) {
	in, _ := gcmPair(1, 2, 1)
	in.EncrKey = []byte{0xde, 0xad, 0xbe, 0xef}
	s := State{SAs: []SA{in}}
	if out := Render(s, RenderOptions{}); strings.Contains(out, "deadbeef") || !strings.Contains(out, "(32 bits)") {
		t.Errorf("without Keys:\n%s", out)
	}
	if out := Render(s, RenderOptions{Keys: true}); !strings.Contains(out, "0xdeadbeef") {
		t.Errorf("with Keys:\n%s", out)
	}
}

// TestFakeSeqStates: the fake reports the installed OSeq/ISeq of every
// owned SA until a test sets its counters, and SeqStates follows
// SetCounters and FailList, so the HA code above it can be tested
// without a real dataplane.
func TestFakeSeqStates(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	in, out := gcmPair(1, 2, 1)
	in.ISeq, out.OSeq = 1000, 1<<20
	if err := f.Apply(ctx, []Op{{Kind: AddSA, SA: &in}, {Kind: AddSA, SA: &out}}); err != nil {
		t.Fatal(err)
	}
	f.AddForeign(State{SAs: []SA{{Src: gwA, Dst: gwB, SPI: 99, Dir: Out, OSeq: 5}}})
	got := seqMap(t, f)
	want := map[SAKey]SeqState{
		in.Key():  {Key: in.Key(), Dir: In, ISeq: 1000},
		out.Key(): {Key: out.Key(), Dir: Out, OSeq: 1 << 20},
	}
	if !maps.Equal(got, want) {
		t.Fatalf("SeqStates = %v, want %v", got, want)
	}
	if c, err := f.Counters(ctx, in.Key()); err != nil || c.ISeq != 1000 {
		t.Errorf("Counters(in) = %+v, %v; want ISeq 1000", c, err)
	}
	f.SetCounters(out.Key(), Counters{OSeq: 1<<20 + 7})
	if got := seqMap(t, f)[out.Key()].OSeq; got != 1<<20+7 {
		t.Errorf("OSeq after SetCounters = %d, want %d", got, 1<<20+7)
	}
	f.FailList(errors.New("boom"))
	if _, err := f.SeqStates(ctx); err == nil {
		t.Error("SeqStates succeeded while FailList is set")
	}
}

func seqMap(t *testing.T, f *Fake) map[SAKey]SeqState {
	t.Helper()
	list, err := f.SeqStates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[SAKey]SeqState{}
	for _, s := range list {
		m[s.Key] = s
	}
	if len(m) != len(list) {
		t.Fatalf("SeqStates lists an SA twice: %v", list)
	}
	return m
}

// TestReconcileIgnoresSeq: OSeq and ISeq are where an SA starts, not
// state a dataplane lists back; an SA whose numbers have moved on (or a
// kernel that does not report them) must not be replaced, which would
// reset its replay window and its counter.
func TestReconcileIgnoresSeq(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	r := NewReconciler(f, nil)
	in, out := gcmPair(1, 2, OwnedReqIDs.Min)
	in.ISeq, out.OSeq = 1000, 1<<20
	if _, err := r.Reconcile(ctx, State{SAs: []SA{in, out}}); err != nil {
		t.Fatal(err)
	}
	f.Edit(func(sas map[SAKey]SA, _ map[PolicyKey]Policy) {
		for k, sa := range sas {
			sa.OSeq, sa.ISeq = 0, 0
			sas[k] = sa
		}
	})
	f.ResetCounts()
	rep, err := r.Reconcile(ctx, State{SAs: []SA{in, out}})
	if err != nil || f.Ops() != 0 {
		t.Errorf("reconcile after the numbers moved: %d ops (%v), %v; want none", f.Ops(), rep.Changes, err)
	}
}
