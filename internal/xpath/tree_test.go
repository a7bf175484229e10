package xpath

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
)

// tnode is the test-only in-memory Node: containers and list entries keep
// their children in order and grouped by name; leaves have a value.
type tnode struct {
	name    string
	value   string
	leaf    bool
	parent  *tnode
	kids    []Node
	byName  map[string][]Node
	indexed bool // answer ChildrenByValue (else ok=false)
	index   map[string][]Node
	lookups int // ChildrenByValue calls answered
}

func (n *tnode) tn() *tnode { return n }

func (n *tnode) Name() string { return n.name }

func (n *tnode) Parent() Node {
	if n.parent == nil {
		return nil
	}
	return n.parent
}

func (n *tnode) Children(name string) []Node {
	if name == "*" {
		return n.kids
	}
	return n.byName[name]
}

func (n *tnode) Value() (string, bool) { return n.value, n.leaf }

// ChildrenByValue implements Indexer when n.indexed is set.
func (n *tnode) ChildrenByValue(name, leaf, value string) ([]Node, bool) {
	if !n.indexed {
		return nil, false
	}
	n.lookups++
	if n.index == nil {
		n.index = map[string][]Node{}
		for _, e := range n.kids {
			for _, k := range e.Children(leaf) {
				if v, ok := k.Value(); ok {
					key := e.Name() + "\x00" + leaf + "\x00" + v
					n.index[key] = append(n.index[key], e)
				}
			}
		}
	}
	return n.index[name+"\x00"+leaf+"\x00"+value], true
}

// hasTnode is implemented by tnode and the leaf wrappers below.
type hasTnode interface {
	Node
	tn() *tnode
}

// derefLeaf is a leafref leaf implementing Derefer.
type derefLeaf struct {
	*tnode
	target func() []Node
	err    error
}

func (d *derefLeaf) Deref() ([]Node, error) {
	if d.err != nil {
		return nil, d.err
	}
	return d.target(), nil
}

// identLeaf is an identityref leaf implementing IdentityNode.
type identLeaf struct {
	*tnode
	bases map[string]bool
}

func (i *identLeaf) DerivedFrom(id string, orSelf bool) bool {
	return i.bases[id] || (orSelf && id == i.value)
}

// enumLeaf is an enumeration leaf implementing EnumNode.
type enumLeaf struct {
	*tnode
	v int64
}

func (e *enumLeaf) EnumValue() (int64, bool) { return e.v, true }

func cont(name string, kids ...hasTnode) *tnode {
	n := &tnode{name: name, byName: map[string][]Node{}}
	for _, k := range kids {
		n.add(k)
	}
	return n
}

func (n *tnode) add(k hasTnode) {
	k.tn().parent = n
	n.kids = append(n.kids, k)
	n.byName[k.Name()] = append(n.byName[k.Name()], k)
}

func leaf(name, value string) *tnode { return &tnode{name: name, value: value, leaf: true} }

// nodeAt finds a node by a slash-separated path of name#k (k-th child of
// that name, default 1) from r; "" is r itself.
func nodeAt(t testing.TB, r Node, path string) Node {
	t.Helper()
	n := r
	if path == "" {
		return n
	}
	for _, part := range strings.Split(path, "/") {
		name, idx := part, 1
		if i := strings.IndexByte(part, '#'); i >= 0 {
			name = part[:i]
			idx, _ = strconv.Atoi(part[i+1:])
		}
		kids := n.Children(name)
		if idx < 1 || idx > len(kids) {
			t.Fatalf("nodeAt(%q): no %s", path, part)
		}
		n = kids[idx-1]
	}
	return n
}

// label names a node as an absolute path with positions among same-named
// siblings, e.g. /vpn[1]/esp-proposal[2]; the root is "/".
func label(n Node) string {
	var parts []string
	for p := n.Parent(); p != nil; n, p = p, p.Parent() {
		pos := 0
		for i, s := range p.Children(n.Name()) {
			if s == n {
				pos = i + 1
			}
		}
		parts = append(parts, fmt.Sprintf("%s[%d]", n.Name(), pos))
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteString("/" + parts[i])
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

func labels(ns []Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = label(n)
	}
	return out
}

// testTree builds the IPsec-gateway-like configuration the tests run over.
func testTree() *tnode {
	vpn1 := cont("vpn",
		leaf("name", "vpn1"), leaf("enabled", "true"), leaf("vrf", "red"),
		leaf("addr-source", "p1"), leaf("svti-id-in", "4"), leaf("svti-id-out", "5"),
		cont("esp-proposal", leaf("name", "e1"), leaf("enc-alg", "aes128"), leaf("auth-alg", "sha1")),
		cont("esp-proposal", leaf("name", "e2"), leaf("aead-alg", "aes-gcm")),
		cont("local-ts", leaf("subnet", "10.1.0.0/16")),
		cont("local-ts", leaf("subnet", "192.168.0.0/24")),
		leaf("tag", "a"), leaf("tag", "b"), leaf("tag", "c"),
	)
	vpn2 := cont("vpn",
		leaf("name", "vpn2"), leaf("enabled", "false"), leaf("vrf", "green"),
		leaf("addr-source", "radius"), leaf("svti-id-out", "7"),
		cont("local-ts", leaf("subnet", "172.16.0.0/12")),
	)
	vpn3 := cont("vpn",
		leaf("name", "vpn3"), leaf("enabled", "true"), leaf("vrf", "blue"),
		leaf("addr-source", "p9"),
		cont("esp-proposal", leaf("name", "e3"), leaf("aead-alg", "aes-gcm"), leaf("enc-alg", "aes256")),
	)
	ike := cont("ike",
		cont("proposal", leaf("name", "prop1"), leaf("enc-alg", "aes256"), leaf("auth-alg", "sha256"), leaf("dh-group", "14")),
		cont("proposal", leaf("name", "prop2"), leaf("aead-alg", "aes-gcm-16"), leaf("dh-group", "19")),
	)
	sys := cont("system",
		leaf("description", "  hello \t  world \n"), leaf("mtu", "1500"), leaf("ratio", "2.5"),
		leaf("neg", "-3"), leaf("flags", "flag-a flag-c"), leaf("empty", ""), leaf("hostname", "gw-01.example"),
		&identLeaf{tnode: leaf("auth-type", "ike:eap-tls"), bases: map[string]bool{"ike:eap": true, "eap": true}},
		leaf("plain-ident", "ike:psk"),
		&enumLeaf{tnode: leaf("mode", "tunnel"), v: 2},
	)
	r := cont("",
		cont("vrf", leaf("name", "red"), leaf("table", "10")),
		cont("vrf", leaf("name", "blue"), leaf("table", "20")),
		cont("pool", leaf("name", "p1"), leaf("range", "10.0.0.0/24")),
		cont("pool", leaf("name", "p2"), leaf("range", "10.0.1.0/24")),
		ike, vpn1, vpn2, vpn3, sys,
	)
	vrfs := r.Children("vrf")
	sys.add(&derefLeaf{tnode: leaf("vrf-ref", "blue"), target: func() []Node { return []Node{vrfs[1]} }})
	sys.add(&derefLeaf{tnode: leaf("bad-ref", "x"), err: fmt.Errorf("dangling")})
	return r
}

// checkTree verifies that evaluation did not modify the tree's slices.
func checkTree(t *testing.T, n Node) {
	t.Helper()
	tn := n.(hasTnode).tn()
	for _, k := range tn.kids {
		if k.Parent() != n {
			t.Fatalf("child %s of %s has wrong parent", label(k), label(n))
		}
		checkTree(t, k)
	}
	for name, ks := range tn.byName {
		for _, k := range ks {
			if k.Name() != name {
				t.Fatalf("byName[%q] of %s holds %s", name, label(n), label(k))
			}
		}
	}
}

// sameNumber compares numbers treating NaN as equal and telling -0 from 0.
func sameNumber(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b && math.Signbit(a) == math.Signbit(b)
}
