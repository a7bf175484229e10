package xpath

import (
	"errors"
	"strings"
	"testing"
)

// nsn is a test node that knows its namespace (NamespaceNode).
type nsn struct {
	name, ns, val string
	leaf          bool
	parent        *nsn
	kids          []Node
}

func (n *nsn) Name() string      { return n.name }
func (n *nsn) Namespace() string { return n.ns }
func (n *nsn) Parent() Node {
	if n.parent == nil {
		return nil
	}
	return n.parent
}
func (n *nsn) Children(name string) []Node {
	if name == "*" {
		return n.kids
	}
	var out []Node
	for _, k := range n.kids {
		if k.Name() == name {
			out = append(out, k)
		}
	}
	return out
}
func (n *nsn) Value() (string, bool) { return n.val, n.leaf }

func (n *nsn) add(name, ns, val string, leaf bool) *nsn {
	c := &nsn{name: name, ns: ns, val: val, leaf: leaf, parent: n}
	n.kids = append(n.kids, c)
	return c
}

// TestCompileNS: prefixes resolve through the caller's declarations; an
// undeclared one is a compile error (XPath 1.0 §2.3); a prefixed name test
// matches only nodes of its namespace, on every axis and in predicates;
// Compile still ignores prefixes.
func TestCompileNS(t *testing.T) {
	root := &nsn{}
	a := root.add("a", "urn:A", "", false)
	a.add("b", "urn:A", "1", true)
	c := root.add("c", "urn:B", "", false)
	c.add("b", "urn:B", "2", true)
	c.add("b", "urn:A", "3", true) // an augment of c by module A
	decls := map[string]string{"p": "urn:A", "q": "urn:B", "z": "urn:none"}
	ns := func(prefix string) (string, bool) { u, ok := decls[prefix]; return u, ok }

	for _, tc := range []struct{ expr, want string }{
		{"/p:a/p:b", "1"},
		{"/q:a", ""},
		{"//p:b", "1 3"},
		{"//q:b", "2"},
		{"//b", "1 2 3"},
		{"/q:c/p:b", "3"},
		{"/q:c/*", "2 3"},
		{"/*/q:*", "2"},
		{"/q:c[p:b = '3']/q:b", "2"},
		{"/q:c[q:b = '3']/q:b", ""},
		{"//p:b/parent::q:c/q:b", "2"},
		{"/z:a", ""},
		{"count(//p:b)", "2"},
	} {
		x, err := CompileNS(tc.expr, ns)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		v, err := x.Eval(root, nil)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		var got []string
		if v.Kind() == NodeSetKind {
			for _, n := range v.Nodes() {
				got = append(got, StringValue(n))
			}
		} else {
			got = []string{v.String()}
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("%s = %q, want %q", tc.expr, g, tc.want)
		}
	}
	for _, expr := range []string{"/x:a", "/p:a[x:b = 1]", "count(/x:*)", "/p:a/child::x:b"} {
		_, err := CompileNS(expr, ns)
		var e *Error
		if err == nil || !strings.Contains(err.Error(), `prefix "x" is not declared`) {
			t.Errorf("%s: %v, want the undeclared prefix refused", expr, err)
		} else if !errors.As(err, &e) {
			t.Errorf("%s: %T, want *Error", expr, err)
		}
	}
	// Compile ignores prefixes, as YANG's own expressions need.
	x := MustCompile("/x:a/y:b")
	if v, err := x.Eval(root, nil); err != nil || len(v.Nodes()) != 1 {
		t.Errorf("Compile with prefixes: %v %v", v.Nodes(), err)
	}
}
