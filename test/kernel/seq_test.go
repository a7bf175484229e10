//go:build vmtest

package kernel

import (
	"context"
	"maps"
	"testing"

	"secgw/internal/dataplane"
	"secgw/internal/dataplane/xfrm"
)

// TestTakeoverSeq: the replay state an HA takeover installs, on the real
// kernel with real ESP (RFC 4303 §3.3.3, §3.4.3; XFRMA_REPLAY_VAL and
// XFRMA_REPLAY_ESN_VAL). A's outbound SA to B is installed with OSeq =
// N-1 (its first packet carries N) and B's inbound SA with ISeq = N (the
// old active received up to N). Three echo requests: the first (N) is
// dropped by B as a replay and counted, N+1 and N+2 pass and are
// answered. Each replay-state kind: the legacy 32-bit bitmap, the bitmap
// state of a window above 32 without ESN, and ESN with N = 2^32 (the
// first packet's low half is 0, the high half comes from the window).
// SeqStates reads the numbers back, also from a second Dataplane (a
// restarted daemon) that infers the directions.
func TestTakeoverSeq(t *testing.T) {
	for _, c := range []struct {
		name   string
		esn    bool
		window uint32
		n      uint64
	}{
		{"legacy-window-32", false, 32, 1 << 20},
		{"bitmap-window-128", false, 128, 1 << 20},
		{"esn-window-4096-at-2^32", true, 4096, 1 << 32},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := setup(t, topo{})
			ch := with(gcm256, func(ch *child) { ch.spi, ch.esn, ch.window = 0x7000, c.esn, c.window })
			for _, s := range []*side{a, b} {
				peer := b
				if s == b {
					peer = a
				}
				e := ch.entries(s, peer, s == a)
				for i := range e.SAs {
					sa := &e.SAs[i]
					switch {
					case s == a && sa.Dir == dataplane.Out:
						sa.OSeq = c.n - 1
					case s == b && sa.Dir == dataplane.In:
						sa.ISeq = c.n
					}
				}
				s.want = e
				if rep, err := s.rec.Reconcile(context.Background(), clone(s.want)); err != nil {
					t.Fatalf("reconcile: %v %v", err, rep.Changes)
				}
			}
			ctx := context.Background()
			ab := ch.outSA(b) // A to B: A's out, B's in
			if cb, err := b.dp.Counters(ctx, ab); err != nil || cb.ISeq != c.n {
				t.Fatalf("B's inbound SA before traffic: %+v %v, want ISeq %#x", cb, err, c.n)
			}
			n, err := ping(a.ns, a.inner, b.inner, 3)
			if err != nil {
				t.Fatal(err)
			}
			if n != 2 {
				t.Errorf("%d of 3 echo replies, want 2 (the first request is a replay at B)", n)
			}
			ca, err := a.dp.Counters(ctx, ab)
			if err != nil {
				t.Fatal(err)
			}
			cb, err := b.dp.Counters(ctx, ab)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("A out: oseq %#x packets %d; B in: iseq %#x packets %d replay drops %d",
				ca.OSeq, ca.Packets, cb.ISeq, cb.Packets, cb.ReplayDrops)
			if ca.OSeq != c.n+2 {
				t.Errorf("A's outbound SA: oseq %#x, want %#x (N, N+1, N+2 sent)", ca.OSeq, c.n+2)
			}
			if cb.ReplayDrops != 1 || cb.Packets != 2 || cb.ISeq != c.n+2 || cb.AuthDrops != 0 {
				t.Errorf("B's inbound SA: %+v; want 1 replay drop, 2 packets, iseq %#x", cb, c.n+2)
			}
			// SeqStates: every owned SA with its direction and numbers.
			want := map[*side]map[dataplane.SAKey]dataplane.SeqState{
				a: {ab: {Key: ab, Dir: dataplane.Out, OSeq: c.n + 2}, ch.inSA(a): {Key: ch.inSA(a), Dir: dataplane.In, ISeq: 2}},
				b: {ab: {Key: ab, Dir: dataplane.In, ISeq: c.n + 2}, ch.inSA(a): {Key: ch.inSA(a), Dir: dataplane.Out, OSeq: 2}},
			}
			for s, name := range map[*side]string{a: "A", b: "B"} {
				restarted, err := xfrm.New(xfrm.Options{NetNS: s.ns})
				if err != nil {
					t.Fatal(err)
				}
				defer restarted.Close()
				for _, dp := range []dataplane.Dataplane{s.dp, restarted} {
					states, err := dp.SeqStates(ctx)
					if err != nil {
						t.Fatalf("%s: SeqStates: %v", name, err)
					}
					got := map[dataplane.SAKey]dataplane.SeqState{}
					for _, st := range states {
						got[st.Key] = st
					}
					if !maps.Equal(got, want[s]) {
						t.Errorf("%s: SeqStates\n got %v\nwant %v", name, got, want[s])
					}
				}
				// The numbers are not configuration: an idle reconcile
				// sends nothing.
				if rep, err := s.rec.Reconcile(ctx, clone(s.want)); err != nil || rep.Ops != 0 {
					t.Errorf("%s: idle reconcile: %d ops %v %v", name, rep.Ops, rep.Changes, err)
				}
			}
		})
	}
}
