package dataplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Change is one difference between the desired and the actual state, and
// what the Reconciler did about it.
type Change struct {
	// Kind is the op that fixes it. With Replace, an SA whose immutable
	// fields differ, the fix is a DeleteSA followed by an AddSA.
	Kind    OpKind
	Replace bool
	// Key names the entry: an SAKey or a policy's direction and selector.
	Key string
	// Reason: "new" and "removed" (the desired state changed), "missing"
	// (an entry that was in place is gone), "stale" (an owned entry not
	// wanted, e.g. left by an earlier process), or "differs: <fields>".
	Reason string
	// Drift marks a change not explained by a change of the desired state
	// since the last successful Reconcile: someone or something altered
	// the dataplane, or it still holds what an earlier process installed.
	Drift bool
}

func (c Change) String() string {
	kind := c.Kind.String()
	if c.Replace {
		kind = "replace-sa"
	}
	s := kind + " " + c.Key + ": " + c.Reason
	if c.Drift {
		s += " (drift)"
	}
	return s
}

// Report tells what a Reconcile found and did.
type Report struct {
	// Changes are the differences found, in the order of their ops.
	Changes []Change
	// Ops is the number of ops sent in the batch.
	Ops int
	// Drift is the number of Changes with Drift set.
	Drift int
	// Remaining is, after a failed Apply, what still differs once the
	// dataplane has been listed again.
	Remaining []Change
}

// Reconciler makes a Dataplane's owned entries match a desired State with
// the fewest ops, sent as one batch. A second Reconcile of the same State
// sends nothing. Entries the dataplane owns but the State does not name
// (for instance left by an earlier process) are deleted.
//
// What is compared: every field of SAs and policies, keys included, except
// SA.OSeq and SA.ISeq (initial values, not state) and SA.Dir when the
// dataplane does not report it (the kernel does not keep it); lifetimes
// are compared at the kernel's one-second resolution. An SA whose lifetimes or UDP
// encapsulation ports differ is updated in place (what XFRM_MSG_UPDSA can
// change); any other difference replaces it (delete, then add: the kernel
// cannot change keys, algorithms or addresses of an SA). Policies are
// updated in place (XFRM_MSG_UPDPOLICY replaces every field but the key).
//
// The batch is ordered make-before-break: replaced and new SAs, updated
// SAs, new and updated policies, then deleted policies and deleted SAs, so
// traffic never meets a policy whose SA is not there yet.
//
// The Reconciler keeps a reference to the last desired State it applied
// (to tell drift from change): callers must not modify a State after
// passing it. Reconcile calls are serialized.
type Reconciler struct {
	dp  Dataplane
	log *slog.Logger

	mu   sync.Mutex
	last *State // desired state of the last successful Reconcile
}

// NewReconciler returns a Reconciler of dp; log may be nil.
func NewReconciler(dp Dataplane, log *slog.Logger) *Reconciler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reconciler{dp: dp, log: log.With("subsystem", "kernel")}
}

// Reconcile lists the dataplane, computes the ops that make it match
// desired and applies them in one batch. On an ApplyError it lists the
// dataplane again and reports what still differs in Report.Remaining; the
// error is returned with the report.
func (r *Reconciler) Reconcile(ctx context.Context, desired State) (Report, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	actual, err := r.dp.List(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("dataplane: reconcile: %w", err)
	}
	ops, changes, err := Plan(desired, actual)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Changes: changes, Ops: len(ops)}
	if len(changes) > 0 {
		r.classify(&desired, rep.Changes)
		for _, c := range rep.Changes {
			if c.Drift {
				rep.Drift++
				r.log.Warn("dataplane drift", "change", c.String())
			}
		}
	}
	if len(ops) == 0 {
		r.last = &desired
		return rep, nil
	}
	r.log.Info("reconciling", "dataplane", r.dp.Kind(), "ops", len(ops), "drift", rep.Drift)
	if err := r.dp.Apply(ctx, ops); err != nil {
		// What was applied is uncertain (the kernel may have applied ops
		// after the failed one in the same batch): look again.
		r.log.Error("reconcile failed", "err", err)
		if again, lerr := r.dp.List(ctx); lerr == nil {
			_, rep.Remaining, _ = Plan(desired, again)
		} else {
			err = errors.Join(err, fmt.Errorf("dataplane: reconcile: list after failure: %w", lerr))
		}
		return rep, err
	}
	r.last = &desired
	return rep, nil
}

// classify sets Drift and the reasons of changes, against the desired state
// of the last successful Reconcile.
func (r *Reconciler) classify(desired *State, changes []Change) {
	var lastSA map[string]*SA
	var lastPol map[string]*Policy
	if r.last != nil {
		lastSA = make(map[string]*SA, len(r.last.SAs))
		for i := range r.last.SAs {
			lastSA[r.last.SAs[i].Key().String()] = &r.last.SAs[i]
		}
		lastPol = make(map[string]*Policy, len(r.last.Policies))
		for i := range r.last.Policies {
			lastPol[policyName(r.last.Policies[i].Key())] = &r.last.Policies[i]
		}
	}
	wantSA := map[string]*SA{}
	wantPol := map[string]*Policy{}
	for i := range desired.SAs {
		wantSA[desired.SAs[i].Key().String()] = &desired.SAs[i]
	}
	for i := range desired.Policies {
		wantPol[policyName(desired.Policies[i].Key())] = &desired.Policies[i]
	}
	for i := range changes {
		c := &changes[i]
		var inLast, unchanged bool
		switch c.Kind {
		case AddSA, UpdateSA, DeleteSA:
			l, ok := lastSA[c.Key]
			inLast = ok
			if w, wok := wantSA[c.Key]; ok && wok {
				unchanged = len(diffSA(l, w, false)) == 0
			}
		default:
			l, ok := lastPol[c.Key]
			inLast = ok
			if w, wok := wantPol[c.Key]; ok && wok {
				unchanged = len(diffPolicy(l, w)) == 0
			}
		}
		switch c.Kind {
		case AddSA, AddPolicy:
			if c.Replace {
				c.Drift = !inLast || unchanged
			} else if inLast && unchanged {
				c.Drift, c.Reason = true, "missing"
			}
		case UpdateSA, UpdatePolicy:
			c.Drift = !inLast || unchanged
		case DeleteSA, DeletePolicy:
			if !inLast {
				c.Drift, c.Reason = true, "stale"
			}
		}
	}
}

// Plan computes the ops that turn actual into desired and the changes they
// make, without the Drift classification (which needs the history a
// Reconciler keeps). Ops point into desired and actual.
func Plan(desired, actual State) ([]Op, []Change, error) {
	var ops, sasAdd, polAdd, polDel, saDel []Op
	var changes, chAdd, chPol, chPolDel, chSADel []Change

	saIdx := newIndex(len(actual.SAs))
	for i := range actual.SAs {
		k := actual.SAs[i].Key()
		saIdx.probe(hashSAKey(k), func(j int) bool { return actual.SAs[j].Key() == k }, true, i)
	}
	seenSA := make([]bool, len(actual.SAs))
	var addedSA map[SAKey]bool
	for i := range desired.SAs {
		d := &desired.SAs[i]
		k := d.Key()
		j := saIdx.probe(hashSAKey(k), func(j int) bool { return actual.SAs[j].Key() == k }, false, 0)
		if j < 0 {
			if addedSA == nil {
				addedSA = map[SAKey]bool{}
			}
			if addedSA[k] {
				return nil, nil, fmt.Errorf("dataplane: desired state has SA %s twice", k)
			}
			addedSA[k] = true
			sasAdd = append(sasAdd, Op{Kind: AddSA, SA: d})
			chAdd = append(chAdd, Change{Kind: AddSA, Key: k.String(), Reason: "new"})
			continue
		}
		if seenSA[j] {
			return nil, nil, fmt.Errorf("dataplane: desired state has SA %s twice", k)
		}
		seenSA[j] = true
		a := &actual.SAs[j]
		fields := diffSA(a, d, true)
		if len(fields) == 0 {
			continue
		}
		reason := "differs: " + strings.Join(fields, ", ")
		if immutableDiff(a, d) {
			// Delete first: the new SA has the same key.
			ops = append(ops, Op{Kind: DeleteSA, SA: a})
			sasAdd = append(sasAdd, Op{Kind: AddSA, SA: d})
			chAdd = append(chAdd, Change{Kind: AddSA, Replace: true, Key: k.String(), Reason: reason})
			continue
		}
		sasAdd = append(sasAdd, Op{Kind: UpdateSA, SA: d})
		chAdd = append(chAdd, Change{Kind: UpdateSA, Key: k.String(), Reason: reason})
	}
	for j := range actual.SAs {
		if !seenSA[j] {
			saDel = append(saDel, Op{Kind: DeleteSA, SA: &actual.SAs[j]})
		}
	}

	polIdx := newIndex(len(actual.Policies))
	for i := range actual.Policies {
		k := actual.Policies[i].Key()
		polIdx.probe(hashPolicyKey(k), func(j int) bool { return actual.Policies[j].Key() == k }, true, i)
	}
	seenPol := make([]bool, len(actual.Policies))
	var addedPol map[PolicyKey]bool
	for i := range desired.Policies {
		d := &desired.Policies[i]
		k := d.Key()
		j := polIdx.probe(hashPolicyKey(k), func(j int) bool { return actual.Policies[j].Key() == k }, false, 0)
		if j < 0 {
			if addedPol == nil {
				addedPol = map[PolicyKey]bool{}
			}
			if addedPol[k] {
				return nil, nil, fmt.Errorf("dataplane: desired state has policy %s twice", policyName(k))
			}
			addedPol[k] = true
			polAdd = append(polAdd, Op{Kind: AddPolicy, Policy: d})
			chPol = append(chPol, Change{Kind: AddPolicy, Key: policyName(k), Reason: "new"})
			continue
		}
		if seenPol[j] {
			return nil, nil, fmt.Errorf("dataplane: desired state has policy %s twice", policyName(k))
		}
		seenPol[j] = true
		if fields := diffPolicy(&actual.Policies[j], d); len(fields) > 0 {
			polAdd = append(polAdd, Op{Kind: UpdatePolicy, Policy: d})
			chPol = append(chPol, Change{Kind: UpdatePolicy, Key: policyName(k), Reason: "differs: " + strings.Join(fields, ", ")})
		}
	}
	for j := range actual.Policies {
		if !seenPol[j] {
			polDel = append(polDel, Op{Kind: DeletePolicy, Policy: &actual.Policies[j]})
		}
	}

	// Deletes in a stable order: List order is the dataplane's.
	slices.SortFunc(polDel, func(x, y Op) int { return ComparePolicyKeys(x.Policy.Key(), y.Policy.Key()) })
	slices.SortFunc(saDel, func(x, y Op) int { return CompareSAKeys(x.SA.Key(), y.SA.Key()) })
	for _, op := range polDel {
		chPolDel = append(chPolDel, Change{Kind: DeletePolicy, Key: policyName(op.Policy.Key()), Reason: "removed"})
	}
	for _, op := range saDel {
		chSADel = append(chSADel, Change{Kind: DeleteSA, Key: op.SA.Key().String(), Reason: "removed"})
	}

	// The replaced SAs' deletes are already at the front of ops; their
	// changes are reported once, with the add.
	ops = slices.Concat(ops, sasAdd, polAdd, polDel, saDel)
	changes = slices.Concat(chAdd, chPol, chPolDel, chSADel)
	return ops, changes, nil
}

// policyName names a policy key in changes and logs.
func policyName(k PolicyKey) string {
	s := k.Dir.String() + " " + k.Sel.String()
	if k.Mark != (Mark{}) {
		s += fmt.Sprintf(" mark 0x%x/0x%x", k.Mark.Value, k.Mark.Mask)
	}
	if k.IfID != 0 {
		s += fmt.Sprintf(" if_id 0x%x", k.IfID)
	}
	return s
}

// diffSA names the fields of want that a differs in. With reported, a's
// zero Dir means "not reported" and matches any.
func diffSA(a, want *SA, reported bool) []string {
	var f []string
	add := func(diff bool, name string) {
		if diff {
			f = append(f, name)
		}
	}
	add(a.Src != want.Src, "src")
	add(a.Dir != want.Dir && !(reported && a.Dir == 0), "dir")
	add(a.Mode != want.Mode, "mode")
	add(a.ReqID != want.ReqID, "reqid")
	add(a.Encr != want.Encr, "encr")
	add(!bytes.Equal(a.EncrKey, want.EncrKey), "encr-key")
	add(a.Integ != want.Integ, "integ")
	add(!bytes.Equal(a.IntegKey, want.IntegKey), "integ-key")
	add(a.ESN != want.ESN, "esn")
	add(a.ReplayWindow != want.ReplayWindow, "replay-window")
	add(a.Encap != want.Encap, "encap")
	add(a.Mark != want.Mark, "mark")
	add(a.IfID != want.IfID, "if_id")
	add(a.Sel != want.Sel, "sel")
	add(secLimits(a.Limits) != secLimits(want.Limits), "lifetime")
	return f
}

// immutableDiff reports a difference XFRM_MSG_UPDSA cannot apply: anything
// but the lifetimes and the ports of an existing UDP encapsulation.
func immutableDiff(a, want *SA) bool {
	x, y := *a, *want
	if x.Encap.Enabled() && y.Encap.Enabled() {
		x.Encap = y.Encap
	}
	x.Limits = y.Limits
	return len(diffSA(&x, &y, true)) > 0
}

// secLimits rounds lifetimes up to whole seconds, as the kernel keeps
// them.
func secLimits(l Limits) Limits {
	l.SoftAdd, l.HardAdd = ceilSecond(l.SoftAdd), ceilSecond(l.HardAdd)
	return l
}

func ceilSecond(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}

func diffPolicy(a, want *Policy) []string {
	var f []string
	if a.Priority != want.Priority {
		f = append(f, "priority")
	}
	if a.Action != want.Action {
		f = append(f, "action")
	}
	if want.Action == Protect && a.Tmpl != want.Tmpl {
		f = append(f, "tmpl")
	}
	return f
}
