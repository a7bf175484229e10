package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"secgw/internal/ipsec"
	"slices"
	"strings"
	"testing"
	"time"
)

// step is one configuration step of the golden scenario: it changes the
// desired state and/or the Fake behind the reconciler's back, then
// reconciles.
type step struct {
	name string
	do   func(s *scenario)
}

type scenario struct {
	t       *testing.T
	f       *Fake
	r       *Reconciler
	desired State
	out     strings.Builder
}

func (s *scenario) reconcile() Report {
	s.f.ResetCounts()
	rep, err := s.r.Reconcile(context.Background(), s.desired)
	fmt.Fprintf(&s.out, "ops %d in %d batch(es), drift %d", s.f.Ops(), s.f.Batches(), rep.Drift)
	if err != nil {
		fmt.Fprintf(&s.out, ", error: %v", err)
	}
	s.out.WriteString("\n")
	for _, c := range rep.Changes {
		fmt.Fprintf(&s.out, "  %s\n", c)
	}
	for _, c := range rep.Remaining {
		fmt.Fprintf(&s.out, "  remaining: %s\n", c)
	}
	if err == nil && rep.Ops != s.f.Ops() {
		s.t.Errorf("report says %d ops, the fake was given %d", rep.Ops, s.f.Ops())
	}
	return rep
}

// clone copies a State so that steps can change the desired state without
// changing what the Reconciler remembers.
func clone(s State) State {
	return State{SAs: slices.Clone(s.SAs), Policies: slices.Clone(s.Policies)}
}

func TestReconcileGolden(t *testing.T) {
	c1in, c1out := gcmPair(0x1001, 0x2001, OwnedReqIDs.Min)
	c2in, c2out := gcmPair(0x1002, 0x2002, OwnedReqIDs.Min+1)
	c2in.Encr, c2in.EncrKey, c2in.Integ, c2in.IntegKey = ipsec.EncrAESCBC, key(1, 32), ipsec.IntegHMACSHA2_256_128, key(2, 32)
	c2out.Encr, c2out.EncrKey, c2out.Integ, c2out.IntegKey = ipsec.EncrAESCBC, key(3, 32), ipsec.IntegHMACSHA2_256_128, key(4, 32)
	c2in.ESN, c2out.ESN, c2in.ReplayWindow, c2out.ReplayWindow = true, true, 4096, 4096
	p1 := tunnelPolicies("10.1.0.0/16", "10.2.0.0/16", OwnedReqIDs.Min)
	p2 := tunnelPolicies("10.1.0.0/16", "10.3.0.0/24", OwnedReqIDs.Min+1)

	steps := []step{
		{"two children from nothing", func(s *scenario) {
			s.desired = State{SAs: []SA{c1in, c1out, c2in, c2out}, Policies: slices.Concat(p1, p2)}
			s.reconcile()
		}},
		{"the same state again: no op", func(s *scenario) {
			if s.reconcile(); s.f.Ops() != 0 || s.f.Batches() != 0 {
				s.t.Errorf("idle reconcile: %d ops in %d batches", s.f.Ops(), s.f.Batches())
			}
		}},
		{"rekey of child 1: new SAs, same reqid and policies, old SAs go", func(s *scenario) {
			n1in, n1out := gcmPair(0x1003, 0x2003, OwnedReqIDs.Min)
			s.desired = clone(s.desired)
			s.desired.SAs[0], s.desired.SAs[1] = n1in, n1out
			s.reconcile()
		}},
		{"lifetimes and a priority change: updates in place", func(s *scenario) {
			s.desired = clone(s.desired)
			s.desired.SAs[2].Limits.HardAdd = 7200 * time.Second
			s.desired.Policies[0].Priority = 100
			s.reconcile()
		}},
		{"UDP encapsulation switched on: replace (the kernel cannot add it)", func(s *scenario) {
			s.desired = clone(s.desired)
			s.desired.SAs[0].Encap = Encap{SrcPort: 4500, DstPort: 4500}
			s.reconcile()
		}},
		{"UDP encapsulation port change: update in place", func(s *scenario) {
			s.desired = clone(s.desired)
			s.desired.SAs[0].Encap = Encap{SrcPort: 4500, DstPort: 31000}
			s.reconcile()
		}},
		{"drift: an SA deleted, a key and a policy changed by hand, a stray policy", func(s *scenario) {
			s.f.Edit(func(sas map[SAKey]SA, pols map[PolicyKey]Policy) {
				delete(sas, s.desired.SAs[1].Key())
				sa := sas[s.desired.SAs[2].Key()]
				sa.EncrKey = key(0xee, 32)
				sas[sa.Key()] = sa
				p := pols[s.desired.Policies[4].Key()]
				p.Action = Bypass
				pols[p.Key()] = p
				stray := Policy{Sel: Selector{Src: netip.MustParsePrefix("10.9.0.0/16"), Dst: netip.MustParsePrefix("10.8.0.0/16")}, Dir: Out, Priority: 7, Action: Discard}
				pols[stray.Key()] = stray
			})
			s.reconcile()
		}},
		{"child 2 deleted: policies before SAs", func(s *scenario) {
			s.desired = State{SAs: slices.Clone(s.desired.SAs[:2]), Policies: slices.Clone(s.desired.Policies[:3])}
			s.reconcile()
		}},
		{"restart: a new reconciler wants nothing; owned entries are stale, foreign ones untouched", func(s *scenario) {
			fin, fout := gcmPair(0x77, 0x78, 7)
			s.f.AddForeign(State{SAs: []SA{fin, fout}, Policies: tunnelPolicies("172.16.0.0/12", "172.17.0.0/16", 7)[:1]})
			s.r = NewReconciler(s.f, nil)
			s.desired = State{}
			s.reconcile()
		}},
		{"failure: the second op fails; the rest is re-listed and reported", func(s *scenario) {
			s.desired = State{SAs: []SA{c1in, c1out}, Policies: slices.Clone(p1)}
			s.f.FailWith(func(i int, op Op) error {
				if i == 1 {
					return errors.New("injected")
				}
				return nil
			})
			s.reconcile()
			s.f.FailWith(nil)
		}},
		{"after the failure: the next run finishes the job", func(s *scenario) {
			s.reconcile()
		}},
	}

	s := &scenario{t: t, f: NewFake()}
	s.r = NewReconciler(s.f, nil)
	for i, st := range steps {
		fmt.Fprintf(&s.out, "### step %d: %s\n", i+1, st.name)
		st.do(s)
		s.out.WriteString("--- state\n")
		s.out.WriteString(Render(s.f.All(), RenderOptions{}))
		s.out.WriteString("\n")
	}
	golden(t, "reconcile", s.out.String())
}

// TestReconcileFewestOps checks each kind of difference costs exactly its
// op(s), and that a second run costs none.
func TestReconcileFewestOps(t *testing.T) {
	in, out := gcmPair(0x10, 0x20, 1)
	pols := tunnelPolicies("10.1.0.0/16", "10.2.0.0/16", 1)
	base := State{SAs: []SA{in, out}, Policies: pols}
	cases := []struct {
		name   string
		change func(s *State)
		want   map[OpKind]int
	}{
		{"nothing", func(s *State) {}, map[OpKind]int{}},
		{"limits", func(s *State) { s.SAs[0].Limits.SoftBytes = 5 }, map[OpKind]int{UpdateSA: 1}},
		{"sub-second lifetime rounds to the same second", func(s *State) { s.SAs[0].Limits.HardAdd -= 300 * time.Millisecond }, map[OpKind]int{}},
		{"key", func(s *State) { s.SAs[1].EncrKey = key(9, 36) }, map[OpKind]int{DeleteSA: 1, AddSA: 1}},
		{"reqid", func(s *State) { s.SAs[1].ReqID = 2 }, map[OpKind]int{DeleteSA: 1, AddSA: 1}},
		{"template", func(s *State) { s.Policies[1].Tmpl.ReqID = 2 }, map[OpKind]int{UpdatePolicy: 1}},
		{"new SA", func(s *State) { s.SAs = append(s.SAs, SA{Src: gwA, Dst: gwB, SPI: 0x30, ReqID: 1}) }, map[OpKind]int{AddSA: 1}},
		{"gone policy", func(s *State) { s.Policies = s.Policies[:2] }, map[OpKind]int{DeletePolicy: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := NewFake()
			r := NewReconciler(f, nil)
			ctx := context.Background()
			if _, err := r.Reconcile(ctx, clone(base)); err != nil {
				t.Fatal(err)
			}
			want := clone(base)
			c.change(&want)
			f.ResetCounts()
			if _, err := r.Reconcile(ctx, want); err != nil {
				t.Fatal(err)
			}
			total := 0
			for k := AddSA; k <= DeletePolicy; k++ {
				total += c.want[k]
				if got := f.OpCount(k); got != c.want[k] {
					t.Errorf("%s: %d ops, want %d", k, got, c.want[k])
				}
			}
			if f.Ops() != total || (total > 0 && f.Batches() != 1) {
				t.Errorf("%d ops in %d batches, want %d in one", f.Ops(), f.Batches(), total)
			}
			f.ResetCounts()
			if rep, err := r.Reconcile(ctx, want); err != nil || f.Ops() != 0 || len(rep.Changes) != 0 {
				t.Errorf("second run: %d ops, changes %v, err %v", f.Ops(), rep.Changes, err)
			}
		})
	}
}

// TestPlanOrder checks the make-before-break order of a batch with every
// kind of op.
func TestPlanOrder(t *testing.T) {
	in, out := gcmPair(0x10, 0x20, 1)
	pols := tunnelPolicies("10.1.0.0/16", "10.2.0.0/16", 1)
	actual := State{SAs: []SA{in, out}, Policies: pols}
	nin, _ := gcmPair(0x11, 0x21, 2)
	desired := clone(actual)
	desired.SAs[1].EncrKey = key(7, 36)    // replace
	desired.SAs[0].Limits.HardBytes = 9    // update
	desired.SAs = append(desired.SAs, nin) // add
	desired.Policies[0].Priority = 1       // update policy
	desired.Policies = desired.Policies[:2]
	actual.SAs = append(actual.SAs, SA{Src: gwA, Dst: gwB, SPI: 0x99}) // stale SA
	ops, _, err := Plan(desired, actual)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, op := range ops {
		kinds = append(kinds, op.Kind.String())
	}
	// The replaced SA (index 1) is deleted first; then the SA adds and
	// updates in desired order: update of 0, add of 1, add of the new one.
	want := "delete-sa update-sa add-sa add-sa update-policy delete-policy delete-sa"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("ops %s\nwant %s", got, want)
	}
	if ops[0].SA.SPI != 0x20 || ops[len(ops)-1].SA.SPI != 0x99 {
		t.Errorf("replace deletes %#x first, stale %#x last", ops[0].SA.SPI, ops[len(ops)-1].SA.SPI)
	}
}

func TestPlanRejectsDuplicates(t *testing.T) {
	in, _ := gcmPair(0x10, 0x20, 1)
	pol := tunnelPolicies("10.1.0.0/16", "10.2.0.0/16", 1)[0]
	for name, s := range map[string]State{
		"SA missing twice":     {SAs: []SA{in, in}},
		"policy missing twice": {Policies: []Policy{pol, pol}},
	} {
		if _, _, err := Plan(s, State{}); err == nil {
			t.Errorf("%s: no error", name)
		}
		if _, _, err := Plan(s, clone(State{SAs: s.SAs[:min(1, len(s.SAs))], Policies: s.Policies[:min(1, len(s.Policies))]})); err == nil {
			t.Errorf("%s (present once): no error", name)
		}
	}
}

// TestReconcileListFailure: a List error is returned, nothing is applied.
func TestReconcileListFailure(t *testing.T) {
	f := NewFake()
	f.FailList(errors.New("boom"))
	in, out := gcmPair(1, 2, 1)
	if _, err := NewReconciler(f, nil).Reconcile(context.Background(), State{SAs: []SA{in, out}}); err == nil || f.Ops() != 0 {
		t.Fatalf("err %v, %d ops", err, f.Ops())
	}
}

// TestReconcileIgnoresUnreportedDir: the kernel does not report an SA's
// direction; a zero Dir in the actual state is not drift.
func TestReconcileIgnoresUnreportedDir(t *testing.T) {
	in, out := gcmPair(1, 2, 1)
	actual := State{SAs: []SA{in, out}}
	actual.SAs[0].Dir, actual.SAs[1].Dir = 0, 0
	if ops, _, _ := Plan(State{SAs: []SA{in, out}}, actual); len(ops) != 0 {
		t.Errorf("ops %v", ops)
	}
	actual.SAs[0].Dir = Out
	if ops, _, _ := Plan(State{SAs: []SA{in, out}}, actual); len(ops) != 2 {
		t.Errorf("a reported wrong Dir should replace the SA: ops %v", ops)
	}
}
