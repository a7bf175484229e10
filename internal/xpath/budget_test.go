package xpath

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// bigTree is a root with n vpn entries of a name and two leaves each.
func bigTree(n int) *tnode {
	r := cont("")
	for i := range n {
		r.add(cont("vpn", leaf("name", fmt.Sprintf("vpn%d", i)), leaf("psk", "k"), leaf("mtu", "1400")))
	}
	return r
}

// TestEvalWithinStepLimit checks that expensive expressions stop with a
// LimitError wrapping ErrStepLimit, quickly, and that cheap ones give the
// same result as Eval.
func TestEvalWithinStepLimit(t *testing.T) {
	r := bigTree(2000)
	const budget = 200_000
	for _, src := range []string{
		"/vpn[name = /vpn/name]",                                // quadratic predicate
		"count(/vpn[count(/vpn[count(/vpn) > 0]) > 0])",         // nested count()
		"/vpn/name = /vpn/mtu",                                  // pairwise node-set comparison
		"//*[string(/) = 'x']",                                  // string-value of the root per node
		"count(//*/following::*)",                               // document axes
		"count(//*[translate(string(/), string(/), 'x') = ''])", // long strings
	} {
		x := MustCompile(src)
		start := time.Now()
		_, err := x.EvalWithin(context.Background(), r, nil, budget)
		var le *LimitError
		if !errors.As(err, &le) || !errors.Is(err, ErrStepLimit) {
			t.Errorf("%s: err = %v, want a step limit", src, err)
			continue
		}
		if le.Steps <= budget || le.Steps > budget+checkEvery+10_000 {
			t.Errorf("%s: stopped after %d steps, budget %d", src, le.Steps, budget)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: took %v to stop", src, d)
		}
	}
	for _, src := range []string{"/vpn[name = 'vpn7']/mtu", "count(/vpn)", "/vpn[3]/name"} {
		x := MustCompile(src)
		want, err := x.Eval(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := x.EvalWithin(context.Background(), r, nil, budget)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if fmt.Sprint(labels(got.Nodes()), got.String()) != fmt.Sprint(labels(want.Nodes()), want.String()) {
			t.Errorf("%s: EvalWithin %v, Eval %v", src, got, want)
		}
	}
}

// TestEvalWithinContext checks that the context stops an evaluation: at
// once when already done, within a few milliseconds of its deadline
// otherwise.
func TestEvalWithinContext(t *testing.T) {
	r := bigTree(3000)
	x := MustCompile("/vpn[name = /vpn/name]") // about 10^8 steps
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := x.EvalWithin(ctx, r, nil, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := x.EvalWithin(ctx, r, nil, 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("stopped %v after start, deadline 50ms", d)
	}
	// The pooled evaluator is usable again, without the old budget.
	if v, err := MustCompile("count(/vpn)").Eval(r, nil); err != nil || v.Number() != 3000 {
		t.Errorf("after a stop: %v %v", v, err)
	}
}
