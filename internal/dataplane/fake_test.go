package dataplane

import (
	"context"
	"errors"
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
