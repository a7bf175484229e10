package userspace

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"secgw/internal/dataplane"
)

// TestApply: ops apply in order with the kernel's strictness; the first
// failing one is named and the ones before it stay applied; List returns
// what is installed, keys included.
func TestApply(t *testing.T) {
	tw := newTwin(t, Options{}, Options{})
	ctx := context.Background()
	ab, abIn := saPair(suites[0], gwA, gwB, 0x1001, 1)
	pol := policies(netA, netB, gwA, gwB, 1)
	if err := tw.a.Apply(ctx, ops([]dataplane.SA{ab}, pol)); err != nil {
		t.Fatal(err)
	}
	ba, _ := saPair(suites[0], gwB, gwA, 0x2002, 1)
	baIn := ba
	baIn.Dir = dataplane.In
	clash := abIn // same key as ab
	noEncap := baIn
	noEncap.SPI, noEncap.Encap = 0x3003, dataplane.Encap{}
	badKey := baIn
	badKey.SPI, badKey.EncrKey = 0x4004, []byte{1, 2, 3}
	missing := baIn
	missing.SPI = 0x5005
	for _, c := range []struct {
		name string
		ops  []dataplane.Op
		idx  int
	}{
		{"add existing SA", []dataplane.Op{{Kind: dataplane.AddSA, SA: &baIn}, {Kind: dataplane.AddSA, SA: &clash}}, 1},
		{"add existing policy", []dataplane.Op{{Kind: dataplane.AddPolicy, Policy: &pol[0]}}, 0},
		{"no UDP encapsulation", []dataplane.Op{{Kind: dataplane.AddSA, SA: &noEncap}}, 0},
		{"bad key", []dataplane.Op{{Kind: dataplane.AddSA, SA: &badKey}}, 0},
		{"update missing", []dataplane.Op{{Kind: dataplane.UpdateSA, SA: &missing}}, 0},
		{"delete missing", []dataplane.Op{{Kind: dataplane.DeleteSA, SA: &missing}}, 0},
		{"delete missing policy", []dataplane.Op{{Kind: dataplane.DeletePolicy, Policy: &dataplane.Policy{Dir: dataplane.Fwd}}}, 0},
	} {
		err := tw.a.Apply(ctx, c.ops)
		var ae *dataplane.ApplyError
		if !errors.As(err, &ae) || ae.Index != c.idx {
			t.Errorf("%s: %v, want an ApplyError at %d", c.name, err, c.idx)
		}
	}
	st, _ := tw.a.List(ctx)
	if len(st.SAs) != 2 || len(st.Policies) != 2 {
		t.Fatalf("List: %d SAs %d policies, want 2 and 2 (the first op of the failed batch stays)", len(st.SAs), len(st.Policies))
	}
	slices.SortFunc(st.SAs, func(a, b dataplane.SA) int { return int(a.SPI) - int(b.SPI) })
	if st.SAs[0].SPI != 0x1001 || string(st.SAs[0].EncrKey) != string(ab.EncrKey) || st.SAs[1].Dir != dataplane.In {
		t.Errorf("List SAs %v", st.SAs)
	}
	// A second inbound SA with a used SPI (other destination) is refused:
	// SPIs index the inbound SAD.
	dup := baIn
	dup.Dst = gwB
	if err := tw.a.Apply(ctx, []dataplane.Op{{Kind: dataplane.AddSA, SA: &dup}}); err == nil {
		t.Error("inbound SPI used twice")
	}
	// Update keeps the counters when the keys stay, delete removes.
	upd := ab
	upd.Limits.SoftBytes = 1 << 30
	tw.tunA.Inject(ipv4(hostA, hostB, 1, false))
	waitFor(t, "the packet counted", func() bool { c, _ := tw.a.Counters(ctx, ab.Key()); return c.Packets == 1 })
	if err := tw.a.Apply(ctx, []dataplane.Op{{Kind: dataplane.UpdateSA, SA: &upd}}); err != nil {
		t.Fatal(err)
	}
	if c, _ := tw.a.Counters(ctx, ab.Key()); c.Packets != 1 || c.OSeq != 1 {
		t.Errorf("counters after update %+v", c)
	}
	if err := tw.a.Apply(ctx, []dataplane.Op{{Kind: dataplane.DeleteSA, SA: &ab}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.a.Counters(ctx, ab.Key()); err == nil {
		t.Error("counters of a deleted SA")
	}
}

// TestAllocSPI: SPIs are above 255, unique, and not those of installed
// SAs.
func TestAllocSPI(t *testing.T) {
	tw := newTwin(t, Options{}, Options{})
	seen := map[uint32]bool{}
	for range 2000 {
		spi, err := tw.a.AllocSPI(context.Background(), gwB, gwA, 1)
		if err != nil || spi < 256 || seen[spi] {
			t.Fatalf("AllocSPI %#x %v", spi, err)
		}
		seen[spi] = true
	}
}

// TestLifetimes: packet and byte limits raise SoftExpire then HardExpire
// (which removes the SA); time limits do the same, on the fake clock.
func TestLifetimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tw := newTwin(t, Options{}, Options{})
		ctx := context.Background()
		ab, _ := saPair(suites[0], gwA, gwB, 0x1001, 1)
		ab.Limits = dataplane.Limits{SoftPackets: 2, HardPackets: 4, SoftAdd: 10 * time.Second, HardAdd: 20 * time.Second}
		ab2, _ := saPair(suites[0], gwA, gwB, 0x1002, 2)
		ab2.Limits = dataplane.Limits{SoftAdd: 10 * time.Second, HardAdd: 20 * time.Second}
		pol := policies(netA, netB, gwA, gwB, 1)
		if err := tw.a.Apply(ctx, ops([]dataplane.SA{ab, ab2}, pol)); err != nil {
			t.Fatal(err)
		}
		for range 4 {
			tw.tunA.Inject(ipv4(hostA, hostB, 1, false))
		}
		synctest.Wait()
		ev := event(t, tw.a, dataplane.SoftExpire)
		if ev.SA != ab.Key() || ev.Reason != "packets" {
			t.Errorf("soft %+v", ev)
		}
		ev = event(t, tw.a, dataplane.HardExpire)
		if ev.SA != ab.Key() || ev.Reason != "packets" {
			t.Errorf("hard %+v", ev)
		}
		if _, err := tw.a.Counters(ctx, ab.Key()); err == nil {
			t.Error("hard-expired SA still installed")
		}
		// Then the other SA by time: soft at 10 s, hard at 20 s.
		start := time.Now()
		ev = eventWithin(t, tw.a, dataplane.SoftExpire, time.Minute)
		if ev.SA != ab2.Key() || ev.Reason != "time" || time.Since(start) < 9*time.Second {
			t.Errorf("soft by time %+v after %v", ev, time.Since(start))
		}
		ev = eventWithin(t, tw.a, dataplane.HardExpire, time.Minute)
		if ev.SA != ab2.Key() || ev.Reason != "time" || time.Since(start) < 19*time.Second {
			t.Errorf("hard by time %+v after %v", ev, time.Since(start))
		}
		tw.a.Close()
		tw.b.Close()
	})
}

// TestSeqOverflowEvent: an SA without ESN sends its last packet with
// sequence number 2^32-1, then stops and says so once (RFC 4303 §3.3.3).
func TestSeqOverflowEvent(t *testing.T) {
	tw := newTwin(t, Options{}, Options{})
	tw.install(t, suites[3])
	ctx := context.Background()
	ab, _ := saPair(suites[3], gwA, gwB, 0xa0000001, 1)
	ab.ESN, ab.OSeq = false, math.MaxUint32-1
	// Replace A's outbound SA (new keys state: OSeq applies).
	ab.EncrKey = key(16, 99)
	if err := tw.a.Apply(ctx, []dataplane.Op{{Kind: dataplane.UpdateSA, SA: &ab}}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		tw.tunA.Inject(ipv4(hostA, hostB, 1, false))
	}
	ev := event(t, tw.a, dataplane.SeqOverflow)
	if ev.SA != ab.Key() {
		t.Errorf("event %+v", ev)
	}
	waitFor(t, "two packets refused", func() bool { return tw.a.Stats().SeqOverflow == 2 })
	c, _ := tw.a.Counters(ctx, ab.Key())
	if c.OSeq != math.MaxUint32 || c.Packets != 1 {
		t.Errorf("counters %+v", c)
	}
}
