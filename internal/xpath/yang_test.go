package xpath

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

// TestYANGExpressions covers must, when and leafref expressions as the
// secgw modules write them (RFC 7950 §7.5.3, §7.21.5, §9.9.2).
func TestYANGExpressions(t *testing.T) {
	runEval(t, testTree(), []evalCase{
		{"not(aead-alg and (enc-alg or auth-alg))", "vpn#1/esp-proposal#1", "", true},
		{"not(aead-alg and (enc-alg or auth-alg))", "vpn#1/esp-proposal#2", "", true},
		{"not(aead-alg and (enc-alg or auth-alg))", "vpn#3/esp-proposal", "", false},
		{"enc-alg or aead-alg", "ike/proposal#1", "", true},
		{"enc-alg or aead-alg", "ike/proposal#2", "", true},
		{"enc-alg or aead-alg", "vrf#1", "", false},
		{"../svti-id-out", "vpn#1/svti-id-in", "", ns("/vpn[1]/svti-id-out[1]")},
		{"boolean(../svti-id-out)", "vpn#3/name", "", false},
		{"../svti-id-in != ../svti-id-out", "vpn#1/name", "", true},
		{"count(../esp-proposal) >= 1", "vpn#1/name", "", true},
		{"count(../esp-proposal) >= 1", "vpn#2/name", "", false},
		{"/vrf[name=current()/../vrf]", "vpn#1/vrf", "", ns("/vrf[1]")},
		{"/vrf[name=current()/../vrf]", "vpn#3/vrf", "", ns("/vrf[2]")},
		{"/vrf[name=current()/../vrf]", "vpn#2/vrf", "", ns()},
		{"/vrf/name", "vpn#1/vrf", "", ns("/vrf[1]/name[1]", "/vrf[2]/name[1]")}, // a leafref path
		{"/vrf/name = current()", "vpn#1/vrf", "", true},
		{"/vrf/name = current()", "vpn#2/vrf", "", false},
		{". = 'radius' or ../../pool[name = current()]", "vpn#1/addr-source", "", true},
		{". = 'radius' or ../../pool[name = current()]", "vpn#2/addr-source", "", true},
		{". = 'radius' or ../../pool[name = current()]", "vpn#3/addr-source", "", false},
		{"starts-with(../local-ts/subnet, '10.')", "vpn#1/name", "", true},
		{"starts-with(../local-ts/subnet, '10.')", "vpn#2/name", "", false},
		{"../enabled = 'true'", "vpn#1/name", "", true},
		{"../enabled = 'true'", "vpn#2/name", "", false},
		{"../enabled = true()", "vpn#2/name", "", true}, // node-set vs boolean: existence
		{"count(/vpn[enabled = 'true']) <= 2", "", "", true},
		{"not(/vpn[name != current()/name][vrf = current()/vrf])", "vpn#1", "", true},
		{"count(/vpn[svti-id-out = current()/svti-id-out]) = 1", "vpn#1", "", true},
		{"derived-from-or-self(../auth-type, 'ike:eap')", "system/mtu", "", true},
		{"../mtu >= 576 and ../mtu <= 9000", "system/ratio", "", true},
		{"string-length(.) <= 63", "system/hostname", "", true},
		{"re-match(., '[a-z][a-z0-9\\-.]*')", "system/hostname", "", true},
		{"contains(., '/') and substring-after(., '/') <= 32", "vpn#1/local-ts/subnet", "", true},
		{"../../ike/proposal[name = 'prop2']/dh-group > 14", "vpn#1/name", "", true},
		{"sum(../local-ts/subnet) != 0", "vpn#1/name", "", true}, // NaN != 0
	})
}

// setIndexed switches the Indexer of every node of the tree on or off.
func setIndexed(n Node, on bool) {
	if tn, ok := n.(*tnode); ok {
		tn.indexed = on
	}
	for _, k := range n.Children("*") {
		setIndexed(k, on)
	}
}

// TestIndexer checks that key predicates use an Indexer when the node has
// one, and that results equal those of a scan.
func TestIndexer(t *testing.T) {
	cases := []struct {
		expr, ctx string
		indexed   bool // whether the Indexer must be consulted
	}{
		{"../../pool[name = current()]", "vpn#1/addr-source", true},
		{"../../pool[current() = name]/range", "vpn#1/addr-source", true},
		{"../../pool[name = current()]", "vpn#3/addr-source", true},
		{"/vpn[vrf = 'red']/name", "", true},
		{"/vpn['blue' = vrf]", "", true},
		{"/vpn[vrf = /nothing]", "", false}, // empty key: no entry can match
		{"/vpn[vrf = /vrf[2]/name][1]/name", "", true},
		{"/vpn[enabled = 'true'][2]/name", "", true},
		{"/vrf[name = current()/../vrf]", "vpn#1/vrf", true},
		{"/vpn[vrf = /vrf/name]/name", "", false},             // several nodes: scan
		{"/vpn[svti-id-out = 5]/name", "", false},             // numeric comparison
		{"/vpn[vrf = ../vrf]/name", "", false},                // depends on the context
		{"/vpn[vrf = concat('r', 'ed')]/name", "", true},      // context-free string
		{"/vpn[vrf = string()]/name", "", false},              // reads the context
		{"/vpn[position() = 1][vrf = 'red']/name", "", false}, // key not first
		{"/vpn[vrf = 'red' or vrf = 'blue']/name", "", false}, // not a single '='
		{"/vpn/tag[. = 'b']", "", false},                      // '.' is not a child
		{"/*[name = 'p1']", "", false},                        // wildcard step
		{"/vpn[tag = 'b']", "", true},                         // leaf-list
		{"/vpn[vrf = concat(substring('bluex', 1, 4), '')]/name", "", true},
		{"/vpn[vrf = (/vrf/name)[2]]/name", "", true},
		{"/vpn[vrf = (/vrf[2]/name | /nothing)]/name", "", true},
		{"/vpn[vrf = string(last())]", "", false},
		{"/vpn[vrf = string(1 + -2)]", "", true},
		{"/vpn[vrf = string(1 = 1 and true())]", "", true},
		{"/vpn[vrf = string(../x)]", "", false},
		{"/vpn[vrf = 'red']/esp-proposal[name = 'e2']/aead-alg", "", true}, // nested
	}
	for _, c := range cases {
		plain := testTree()
		e := MustCompile(c.expr)
		want, err := e.Eval(nodeAt(t, plain, c.ctx), nil)
		if err != nil {
			t.Fatal(err)
		}
		r := testTree()
		setIndexed(r, true)
		got, err := e.Eval(nodeAt(t, r, c.ctx), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(labels(got.Nodes()), labels(want.Nodes())) {
			t.Errorf("%s: indexed %q, scan %q", c.expr, labels(got.Nodes()), labels(want.Nodes()))
		}
		lookups := 0
		var count func(Node)
		count = func(n Node) {
			if tn, ok := n.(*tnode); ok {
				lookups += tn.lookups
			}
			for _, k := range n.Children("*") {
				count(k)
			}
		}
		count(r)
		if (lookups > 0) != c.indexed {
			t.Errorf("%s: %d index lookups, want indexed=%v", c.expr, lookups, c.indexed)
		}
	}
}

// TestConcurrentEval evaluates one Expr from many goroutines.
func TestConcurrentEval(t *testing.T) {
	r := testTree()
	exprs := []*Expr{
		MustCompile(". = 'radius' or ../../pool[name = current()]"),
		MustCompile("(/vpn | /vpn/esp-proposal)/name[. != 'x']"),
		MustCompile("re-match(., concat('p', '[0-9]'))"),
	}
	ctx := nodeAt(t, r, "vpn#1/addr-source")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				for j, e := range exprs {
					v, err := e.Eval(ctx, nil)
					if err != nil || !v.Bool() || (j == 1 && len(v.Nodes()) != 6) {
						errs <- fmt.Errorf("%s: %v %v", e, v, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
