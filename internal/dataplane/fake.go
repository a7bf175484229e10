package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
)

// Fake is an in-memory Dataplane for tests. It applies ops with the
// kernel's strictness (add of an existing entry and update or delete of a
// missing one fail), counts the ops and batches it is given, fails on
// demand, and lets a test change its state behind the caller's back (drift)
// or hold entries it does not own (foreign entries, which List does not
// return and ops cannot touch).
//
// All methods are safe for concurrent use. List returns SAs whose key
// slices are shared with the Fake: callers must not modify them.
type Fake struct {
	mu sync.Mutex
	// Entries are kept in slices (List copies them in one move) with
	// their positions by key.
	sas      []SA
	saPos    map[SAKey]int
	pols     []Policy
	polPos   map[PolicyKey]int
	foreign  State
	counters map[SAKey]Counters
	ops      [DeletePolicy + 1]int
	batches  int
	fail     func(i int, op Op) error
	listErr  error
	nextSPI  uint32
	events   chan Event
	closed   bool
}

// NewFake returns an empty Fake. Its AllocSPI hands out 0xc0000001,
// 0xc0000002, ... so that golden files are stable.
func NewFake() *Fake {
	return &Fake{
		saPos:    map[SAKey]int{},
		polPos:   map[PolicyKey]int{},
		counters: map[SAKey]Counters{},
		nextSPI:  0xc0000000,
		events:   make(chan Event, 64),
	}
}

// Kind implements Dataplane.
func (f *Fake) Kind() string { return "fake" }

// Apply implements Dataplane: ops are applied in order until one fails.
func (f *Fake) Apply(ctx context.Context, ops []Op) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dataplane: fake: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errors.New("dataplane: fake: closed")
	}
	f.batches++
	for i, op := range ops {
		f.ops[op.Kind]++
		err := f.apply(op)
		if err == nil && f.fail != nil {
			// An injected failure leaves the op unapplied, as a kernel
			// error would.
			if err = f.fail(i, op); err == nil {
				err = f.commit(op)
			}
		} else if err == nil {
			err = f.commit(op)
		}
		if err != nil {
			return &ApplyError{Index: i, Op: op, Err: err}
		}
	}
	return nil
}

// apply checks that op can be applied.
func (f *Fake) apply(op Op) error {
	switch op.Kind {
	case AddSA, UpdateSA, DeleteSA:
		if op.SA == nil {
			return errors.New("dataplane: fake: op without SA")
		}
		k := op.SA.Key()
		_, ok := f.saPos[k]
		if f.foreignSA(k) {
			return ErrExist
		}
		if op.Kind == AddSA && ok {
			return ErrExist
		}
		if op.Kind != AddSA && !ok {
			return ErrNotFound
		}
	case AddPolicy, UpdatePolicy, DeletePolicy:
		if op.Policy == nil {
			return errors.New("dataplane: fake: op without policy")
		}
		k := op.Policy.Key()
		_, ok := f.polPos[k]
		if f.foreignPolicy(k) {
			return ErrExist
		}
		if op.Kind == AddPolicy && ok {
			return ErrExist
		}
		if op.Kind != AddPolicy && !ok {
			return ErrNotFound
		}
	default:
		return fmt.Errorf("dataplane: fake: unknown op %d", op.Kind)
	}
	return nil
}

func (f *Fake) commit(op Op) error {
	switch op.Kind {
	case AddSA, UpdateSA:
		sa := *op.SA
		sa.EncrKey, sa.IntegKey = slices.Clone(sa.EncrKey), slices.Clone(sa.IntegKey)
		f.sas, f.saPos = put(f.sas, f.saPos, sa.Key(), sa)
	case DeleteSA:
		f.sas = remove(f.sas, f.saPos, op.SA.Key(), (*SA).Key)
		delete(f.counters, op.SA.Key())
	case AddPolicy, UpdatePolicy:
		f.pols, f.polPos = put(f.pols, f.polPos, op.Policy.Key(), *op.Policy)
	case DeletePolicy:
		f.pols = remove(f.pols, f.polPos, op.Policy.Key(), (*Policy).Key)
	}
	return nil
}

// put stores v under k, in place if k exists.
func put[K comparable, V any](list []V, pos map[K]int, k K, v V) ([]V, map[K]int) {
	if i, ok := pos[k]; ok {
		list[i] = v
		return list, pos
	}
	pos[k] = len(list)
	return append(list, v), pos
}

// remove deletes k by moving the last entry into its place.
func remove[K comparable, V any](list []V, pos map[K]int, k K, key func(*V) K) []V {
	i, ok := pos[k]
	if !ok {
		return list
	}
	last := len(list) - 1
	list[i] = list[last]
	pos[key(&list[i])] = i
	delete(pos, k)
	return list[:last]
}

func (f *Fake) foreignSA(k SAKey) bool {
	return slices.ContainsFunc(f.foreign.SAs, func(sa SA) bool { return sa.Key() == k })
}

func (f *Fake) foreignPolicy(k PolicyKey) bool {
	return slices.ContainsFunc(f.foreign.Policies, func(p Policy) bool { return p.Key() == k })
}

// List implements Dataplane: the owned SAs and policies, in no particular
// order.
func (f *Fake) List(ctx context.Context) (State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil {
		return State{}, f.listErr
	}
	return State{SAs: slices.Clone(f.sas), Policies: slices.Clone(f.pols)}, nil
}

// Counters implements Dataplane with the values set by SetCounters; an
// SA without them reports its installed OSeq and ISeq, as a real
// dataplane does before the SA carries traffic.
func (f *Fake) Counters(ctx context.Context, k SAKey) (Counters, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.saPos[k]
	if !ok {
		return Counters{}, fmt.Errorf("dataplane: fake: counters of %s: %w", k, ErrNotFound)
	}
	c, set := f.counters[k]
	if !set {
		c.OSeq, c.ISeq = f.sas[i].OSeq, f.sas[i].ISeq
	}
	return c, nil
}

// SeqStates implements Dataplane: every owned SA with the sequence
// numbers Counters reports for it.
func (f *Fake) SeqStates(ctx context.Context) ([]SeqState, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dataplane: fake: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil {
		return nil, f.listErr
	}
	out := make([]SeqState, len(f.sas))
	for i := range f.sas {
		sa := &f.sas[i]
		st := SeqState{Key: sa.Key(), Dir: sa.Dir, OSeq: sa.OSeq, ISeq: sa.ISeq}
		if c, ok := f.counters[st.Key]; ok {
			st.OSeq, st.ISeq = c.OSeq, c.ISeq
		}
		out[i] = st
	}
	return out, nil
}

// AllocSPI implements Dataplane with a predictable sequence of SPIs.
func (f *Fake) AllocSPI(ctx context.Context, src, dst netip.Addr, reqID uint32) (uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		f.nextSPI++
		if _, ok := f.saPos[SAKey{Dst: dst, SPI: f.nextSPI}]; !ok {
			return f.nextSPI, nil
		}
	}
}

// Events implements Dataplane; see Emit.
func (f *Fake) Events() <-chan Event { return f.events }

// Close implements Dataplane: it closes the Events channel.
func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.events)
	}
	return nil
}

// Emit delivers ev on the Events channel, as the kernel would deliver an
// acquire or an expiry. It blocks while the channel is full.
func (f *Fake) Emit(ev Event) {
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if !closed {
		f.events <- ev
	}
}

// SetCounters sets the statistics Counters returns for an SA.
func (f *Fake) SetCounters(k SAKey, c Counters) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counters[k] = c
}

// FailWith makes Apply call fn for each op that would otherwise succeed;
// a non-nil error fails that op (it is not applied) and stops the batch.
// i is the op's index in its batch. nil removes the hook.
func (f *Fake) FailWith(fn func(i int, op Op) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = fn
}

// FailList makes List and SeqStates fail with err (nil: succeed again).
func (f *Fake) FailList(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listErr = err
}

// OpCount returns how many ops of kind Apply was given (failed ones
// included) since the last ResetCounts.
func (f *Fake) OpCount(kind OpKind) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ops[kind]
}

// Ops returns the number of ops of all kinds Apply was given since the
// last ResetCounts.
func (f *Fake) Ops() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.ops {
		n += c
	}
	return n
}

// Batches returns the number of Apply calls since the last ResetCounts.
func (f *Fake) Batches() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.batches
}

// ResetCounts zeroes the op and batch counters.
func (f *Fake) ResetCounts() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = [DeletePolicy + 1]int{}
	f.batches = 0
}

// Edit lets a test change the owned state directly, without counting ops:
// the drift a reconciler must find (an SA removed by hand, a policy whose
// priority someone changed). Entries are stored under their own keys
// whatever the map keys.
func (f *Fake) Edit(fn func(sas map[SAKey]SA, pols map[PolicyKey]Policy)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sas := make(map[SAKey]SA, len(f.sas))
	for _, sa := range f.sas {
		sas[sa.Key()] = sa
	}
	pols := make(map[PolicyKey]Policy, len(f.pols))
	for _, p := range f.pols {
		pols[p.Key()] = p
	}
	fn(sas, pols)
	f.sas, f.saPos, f.pols, f.polPos = nil, map[SAKey]int{}, nil, map[PolicyKey]int{}
	for k, sa := range sas {
		f.sas, f.saPos = put(f.sas, f.saPos, k, sa)
	}
	for k, p := range pols {
		f.pols, f.polPos = put(f.pols, f.polPos, k, p)
	}
}

// AddForeign installs entries the Fake does not own: List leaves them out
// and ops on their keys fail with ErrExist, as entries of another IKE
// daemon would in the kernel.
func (f *Fake) AddForeign(s State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.foreign.SAs = append(f.foreign.SAs, s.SAs...)
	f.foreign.Policies = append(f.foreign.Policies, s.Policies...)
}

// All returns the owned and the foreign entries, for rendering.
func (f *Fake) All() State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return State{SAs: slices.Concat(f.sas, f.foreign.SAs), Policies: slices.Concat(f.pols, f.foreign.Policies)}
}
