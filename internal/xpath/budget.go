package xpath

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// ErrStepLimit is the cause of a LimitError when an evaluation did more work
// than its step budget allows.
var ErrStepLimit = errors.New("step budget exhausted")

// LimitError reports an evaluation stopped by EvalWithin: its step budget
// ran out (Err is ErrStepLimit), or its context ended (Err is the
// context's error: context.DeadlineExceeded or context.Canceled).
type LimitError struct {
	// Steps is the work done when the evaluation stopped.
	Steps int64
	// Err says why it stopped.
	Err error
}

// Error implements error.
func (e *LimitError) Error() string {
	return fmt.Sprintf("xpath: evaluation stopped after %d steps: %v", e.Steps, e.Err)
}

// Unwrap returns the cause, for errors.Is.
func (e *LimitError) Unwrap() error { return e.Err }

// checkEvery is how many steps pass between two looks at the context: a
// look costs tens of nanoseconds, a step a few.
const checkEvery = 4096

// stopEval is the panic value that unwinds an evaluation whose budget ran
// out. Only EvalWithin recovers it; the other entry points run without a
// budget and never raise it. Unwinding by panic, as encoding/json and
// text/template do internally, stops every loop of the engine at once
// without threading an error through the functions that cannot fail
// otherwise (axes, comparisons, string-values).
type stopEval struct{ err *LimitError }

// charge accounts n steps of work: a node produced by an axis, a node a
// predicate is evaluated for, a pair of nodes compared, a node visited to
// build a string-value. It is a no-op without a budget but for an
// addition and a comparison.
func (ev *evaluator) charge(n int) {
	ev.spent += int64(n)
	if ev.spent >= ev.checkAt {
		ev.checkpoint()
	}
}

func (ev *evaluator) checkpoint() {
	if ev.limit > 0 && ev.spent > ev.limit {
		panic(stopEval{&LimitError{Steps: ev.spent, Err: ErrStepLimit}})
	}
	if ev.stop != nil {
		if err := ev.stop.Err(); err != nil {
			panic(stopEval{&LimitError{Steps: ev.spent, Err: err}})
		}
	}
	next := ev.spent + checkEvery
	if ev.limit > 0 && next > ev.limit+1 {
		next = ev.limit + 1
	}
	ev.checkAt = next
}

// EvalWithin is Eval under a budget, for expressions that come from
// clients (a NETCONF xpath filter) rather than from the schema: it stops
// with a *LimitError once maxSteps steps of work are done (maxSteps <= 0:
// no step bound) or once ctx is done, whichever comes first. A step is
// one node an axis yields, one node a predicate is evaluated for, one pair
// of nodes a comparison looks at, or one node visited to build a
// string-value, so the budget bounds time and memory whatever the shape of
// the expression (nested count(), quadratic predicates, descendant scans).
func (e *Expr) EvalWithin(ctx context.Context, node, current Node, maxSteps int64) (v Value, err error) {
	if err := ctx.Err(); err != nil {
		return Value{}, &LimitError{Err: err}
	}
	ev, err := acquire(node, current)
	if err != nil {
		return Value{}, err
	}
	defer ev.release()
	ev.limit, ev.stop = maxSteps, ctx
	ev.checkAt = 0 // look at once, then every checkEvery steps
	defer func() {
		if p := recover(); p != nil {
			s, ok := p.(stopEval)
			if !ok {
				panic(p)
			}
			v, err = Value{}, s.err
		}
	}()
	v, err = e.root.eval(ev)
	if err != nil {
		return Value{}, err
	}
	if v.kind == NodeSetKind {
		v.nodes = cloneNodes(v.nodes)
	}
	return v, nil
}

// unlimited is checkAt for an evaluation without a budget.
const unlimited = math.MaxInt64
