package xpath

import (
	"errors"
	"testing"
)

// fuzzTree is a small tree with every kind of node the engine special-cases.
func fuzzTree() *tnode {
	r := cont("",
		cont("vrf", leaf("name", "red"), leaf("table", "10")),
		cont("vrf", leaf("name", "blue"), leaf("table", "-2.5")),
		cont("vpn", leaf("name", "v1"), leaf("vrf", "red"), leaf("tag", "a"), leaf("tag", "b"),
			cont("esp", leaf("enc-alg", "aes"), leaf("aead-alg", "")),
			&identLeaf{tnode: leaf("auth", "x:eap-tls"), bases: map[string]bool{"x:eap": true}},
			&enumLeaf{tnode: leaf("mode", "tunnel"), v: 1}),
	)
	vrfs := r.Children("vrf")
	r.add(&derefLeaf{tnode: leaf("ref", "blue"), target: func() []Node { return []Node{vrfs[1], vrfs[0], vrfs[1]} }})
	r.add(&derefLeaf{tnode: leaf("bad", "x"), err: errors.New("dangling")})
	r.Children("vrf")[1].(*tnode).indexed = true
	r.indexed = true
	return r
}

// FuzzCompile checks that Compile never panics on arbitrary input, and that
// evaluating whatever compiles never panics and yields node-sets in document
// order without duplicates.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"not(aead-alg and (enc-alg or auth-alg))", "enc-alg or aead-alg", "../svti-id-out",
		"count(../esp-proposal) >= 1", "/vrf[name=current()/../vrf]",
		". = 'radius' or ../../pool[name = current()]", "starts-with(../local-ts/subnet, '10.')",
		"(//node() | /vpn/*)[last()]/preceding::*[2]", "substring('12345', 1.5, 2.6)",
		`re-match(., '[a-z]\d*')`, "deref(/ref)/../vrf[2]", "-1 div 0 mod 3",
	} {
		f.Add(s)
	}
	r := fuzzTree()
	order := map[Node]int{}
	var number func(Node)
	number = func(n Node) {
		order[n] = len(order)
		for _, k := range n.Children("*") {
			number(k)
		}
	}
	number(r)
	ctxs := []Node{r, nodeAt(f, r, "vpn"), nodeAt(f, r, "vpn/tag#2"), nodeAt(f, r, "vrf#2/table")}

	f.Fuzz(func(t *testing.T, src string) {
		e, err := Compile(src)
		if err != nil {
			var xe *Error
			if !errors.As(err, &xe) || xe.Offset < 0 || xe.Offset > len(src) {
				t.Fatalf("Compile(%q): bad error %v", src, err)
			}
			return
		}
		if e.String() != src {
			t.Fatalf("String() = %q", e.String())
		}
		for _, p := range e.Paths() {
			_ = p.String()
		}
		for _, ctx := range ctxs {
			v, err := e.Eval(ctx, ctxs[2])
			if err != nil {
				continue
			}
			if v.Kind() != e.Kind() {
				t.Fatalf("%q: kind %v, static %v", src, v.Kind(), e.Kind())
			}
			_, _ = v.String(), v.Number()
			last := -1
			for _, n := range v.Nodes() {
				i, ok := order[n]
				if !ok || i <= last {
					t.Fatalf("%q at %s: node-set %q not in document order", src, label(ctx), labels(v.Nodes()))
				}
				last = i
			}
			if b, err := e.EvalBool(ctx, ctxs[2]); err != nil || b != v.Bool() {
				t.Fatalf("%q: EvalBool = %v, %v; Eval gave %v", src, b, err, v.Bool())
			}
		}
	})
}
