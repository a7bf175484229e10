package xpath

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// evalCase is one expression evaluated over testTree.
type evalCase struct {
	expr string
	ctx  string // nodeAt path of the context node; "" is the root
	cur  string // nodeAt path of the current() node; "" means ctx
	want any    // bool, float64, string, or []string of node labels
}

var inf = math.Inf(1)

// runEval evaluates cases over r, and checks that the tree is unchanged.
func runEval(t *testing.T, r *tnode, cases []evalCase) {
	t.Helper()
	before := dump(r)
	for _, c := range cases {
		t.Run(c.expr+"@"+c.ctx, func(t *testing.T) {
			e, err := Compile(c.expr)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			ctx := nodeAt(t, r, c.ctx)
			cur := ctx
			if c.cur != "" {
				cur = nodeAt(t, r, c.cur)
			}
			v, err := e.Eval(ctx, cur)
			if err != nil {
				t.Fatalf("Eval: %v", err)
			}
			if v.Kind() != e.Kind() {
				t.Errorf("Kind %v, static kind %v", v.Kind(), e.Kind())
			}
			checkValue(t, v, c.want)
			b, err := e.EvalBool(ctx, cur)
			if err != nil || b != v.Bool() {
				t.Errorf("EvalBool = %v, %v; want %v", b, err, v.Bool())
			}
		})
	}
	if after := dump(r); after != before {
		t.Fatalf("evaluation modified the tree")
	}
}

func checkValue(t *testing.T, v Value, want any) {
	t.Helper()
	switch w := want.(type) {
	case bool:
		if v.Kind() != BooleanKind || v.Bool() != w {
			t.Errorf("got %v %q, want boolean %v", v.Kind(), v.String(), w)
		}
	case float64:
		if v.Kind() != NumberKind || !sameNumber(v.Number(), w) {
			t.Errorf("got %v %q, want number %v", v.Kind(), v.String(), w)
		}
	case int:
		checkValue(t, v, float64(w))
	case string:
		if v.Kind() != StringKind || v.String() != w {
			t.Errorf("got %v %q, want string %q", v.Kind(), v.String(), w)
		}
	case []string:
		if v.Kind() != NodeSetKind {
			t.Fatalf("got %v %q, want node-set %q", v.Kind(), v.String(), w)
		}
		if got := labels(v.Nodes()); !slices.Equal(got, w) {
			t.Errorf("got %q\nwant %q", got, w)
		}
	default:
		t.Fatalf("bad want %T", want)
	}
}

// dump renders the tree through the Node interface, to detect mutation.
func dump(n Node) string {
	var b strings.Builder
	var walk func(Node)
	walk = func(n Node) {
		b.WriteString(label(n))
		if v, ok := n.Value(); ok {
			b.WriteString("=" + v)
		}
		b.WriteByte('\n')
		for _, k := range n.Children("*") {
			walk(k)
		}
	}
	walk(n)
	return b.String()
}

func ns(labels ...string) []string {
	if labels == nil {
		return []string{}
	}
	return labels
}

func TestLocationPaths(t *testing.T) {
	runEval(t, testTree(), []evalCase{
		{"/vrf", "vpn#1/name", "", ns("/vrf[1]", "/vrf[2]")},
		{"/", "vpn#1", "", ns("/")},
		{"/vrf/name", "", "", ns("/vrf[1]/name[1]", "/vrf[2]/name[1]")},
		{"vrf/name", "", "", ns("/vrf[1]/name[1]", "/vrf[2]/name[1]")},
		{"child::vrf/child::name", "", "", ns("/vrf[1]/name[1]", "/vrf[2]/name[1]")},
		{"ike:vrf/ike:name", "", "", ns("/vrf[1]/name[1]", "/vrf[2]/name[1]")},
		{"vpn/esp-proposal/name", "", "", ns("/vpn[1]/esp-proposal[1]/name[1]", "/vpn[1]/esp-proposal[2]/name[1]", "/vpn[3]/esp-proposal[1]/name[1]")},
		{"../svti-id-out", "vpn#1/name", "", ns("/vpn[1]/svti-id-out[1]")},
		{".", "vpn#2", "", ns("/vpn[2]")},
		{"..", "vpn#2/name", "", ns("/vpn[2]")},
		{"../..", "vpn#2/name", "", ns("/")},
		{"../../..", "vpn#2/name", "", ns()},
		{"../../vrf/..", "vpn#2/name", "", ns("/")},
		{"*", "vrf#1", "", ns("/vrf[1]/name[1]", "/vrf[1]/table[1]")},
		{"p:*", "vrf#1", "", ns("/vrf[1]/name[1]", "/vrf[1]/table[1]")},
		{"/vrf/node()", "", "", ns("/vrf[1]/name[1]", "/vrf[1]/table[1]", "/vrf[2]/name[1]", "/vrf[2]/table[1]")},
		{"/nothing/name", "", "", ns()},
		{"/vrf/name/nothing", "", "", ns()},
		{"//subnet", "vrf#1", "", ns("/vpn[1]/local-ts[1]/subnet[1]", "/vpn[1]/local-ts[2]/subnet[1]", "/vpn[2]/local-ts[1]/subnet[1]")},
		{"//local-ts[1]/subnet", "", "", ns("/vpn[1]/local-ts[1]/subnet[1]", "/vpn[2]/local-ts[1]/subnet[1]")},
		{"/descendant::local-ts[1]/subnet", "", "", ns("/vpn[1]/local-ts[1]/subnet[1]")},
		{"vpn//name", "", "", ns("/vpn[1]/name[1]", "/vpn[1]/esp-proposal[1]/name[1]", "/vpn[1]/esp-proposal[2]/name[1]",
			"/vpn[2]/name[1]", "/vpn[3]/name[1]", "/vpn[3]/esp-proposal[1]/name[1]")},
		{"//vpn[enabled='true']/name", "", "", ns("/vpn[1]/name[1]", "/vpn[3]/name[1]")},
		{"//vpn[position() = 2]/name", "", "", ns("/vpn[2]/name[1]")},
		{"count(//*)", "", "", 73},
		{"count(//node())", "", "", 73},
		{"count(/descendant-or-self::node()/self::node())", "", "", 74},
		{"count(//text())", "", "", 56},
		{".//.", "vrf#1/name", "", ns("/vrf[1]/name[1]")},
		{"count(//.)", "vrf#1/name", "", 74},
	})
}

func TestAxes(t *testing.T) {
	const e2 = "vpn#1/esp-proposal#2"
	runEval(t, testTree(), []evalCase{
		{"parent::vpn", e2, "", ns("/vpn[1]")},
		{"parent::ike", e2, "", ns()},
		{"parent::*", e2, "", ns("/vpn[1]")},
		{"parent::*", "vpn#1", "", ns()},
		{"parent::node()", "vpn#1", "", ns("/")},
		{"parent::node()[1]", "vpn#1", "", ns("/")},
		{"ancestor::*", e2, "", ns("/vpn[1]")},
		{"ancestor::node()", e2, "", ns("/", "/vpn[1]")},
		{"ancestor::vpn", e2 + "/name", "", ns("/vpn[1]")},
		{"ancestor-or-self::*", e2, "", ns("/vpn[1]", "/vpn[1]/esp-proposal[2]")},
		{"ancestor-or-self::node()[1]", e2, "", ns("/vpn[1]/esp-proposal[2]")},
		{"ancestor::node()[1]", e2, "", ns("/vpn[1]")},
		{"ancestor::node()[last()]", e2, "", ns("/")},
		{"ancestor-or-self::node()", "", "", ns("/")},
		{"self::esp-proposal", e2, "", ns("/vpn[1]/esp-proposal[2]")},
		{"self::vpn", e2, "", ns()},
		{"self::node()", e2, "", ns("/vpn[1]/esp-proposal[2]")},
		{"self::*", e2, "", ns("/vpn[1]/esp-proposal[2]")},
		{"self::*", "", "", ns()},
		{"self::node()", "", "", ns("/")},
		{"self::text()", e2 + "/name", "", ns("/vpn[1]/esp-proposal[2]/name[1]")},
		{"self::text()", e2, "", ns()},
		{"self::vpn[name = 'vpn1']", "vpn#1", "", ns("/vpn[1]")},
		{"descendant::*", "vpn#3", "", ns("/vpn[3]/name[1]", "/vpn[3]/enabled[1]", "/vpn[3]/vrf[1]", "/vpn[3]/addr-source[1]",
			"/vpn[3]/esp-proposal[1]", "/vpn[3]/esp-proposal[1]/name[1]", "/vpn[3]/esp-proposal[1]/aead-alg[1]", "/vpn[3]/esp-proposal[1]/enc-alg[1]")},
		{"descendant::name[2]", "vpn#3", "", ns("/vpn[3]/esp-proposal[1]/name[1]")},
		{"descendant::text()", "vrf#1", "", ns("/vrf[1]/name[1]", "/vrf[1]/table[1]")},
		{"descendant-or-self::esp-proposal", "vpn#1", "", ns("/vpn[1]/esp-proposal[1]", "/vpn[1]/esp-proposal[2]")},
		{"descendant-or-self::node()", "vrf#1", "", ns("/vrf[1]", "/vrf[1]/name[1]", "/vrf[1]/table[1]")},
		{"descendant-or-self::*", "", "", ns("/vrf[1]", "/vrf[1]/name[1]", "/vrf[1]/table[1]", "/vrf[2]", "/vrf[2]/name[1]", "/vrf[2]/table[1]",
			"/pool[1]", "/pool[1]/name[1]", "/pool[1]/range[1]", "/pool[2]", "/pool[2]/name[1]", "/pool[2]/range[1]",
			"/ike[1]", "/ike[1]/proposal[1]", "/ike[1]/proposal[1]/name[1]", "/ike[1]/proposal[1]/enc-alg[1]", "/ike[1]/proposal[1]/auth-alg[1]",
			"/ike[1]/proposal[1]/dh-group[1]", "/ike[1]/proposal[2]", "/ike[1]/proposal[2]/name[1]", "/ike[1]/proposal[2]/aead-alg[1]",
			"/ike[1]/proposal[2]/dh-group[1]", "/vpn[1]", "/vpn[1]/name[1]", "/vpn[1]/enabled[1]", "/vpn[1]/vrf[1]", "/vpn[1]/addr-source[1]",
			"/vpn[1]/svti-id-in[1]", "/vpn[1]/svti-id-out[1]", "/vpn[1]/esp-proposal[1]", "/vpn[1]/esp-proposal[1]/name[1]",
			"/vpn[1]/esp-proposal[1]/enc-alg[1]", "/vpn[1]/esp-proposal[1]/auth-alg[1]", "/vpn[1]/esp-proposal[2]",
			"/vpn[1]/esp-proposal[2]/name[1]", "/vpn[1]/esp-proposal[2]/aead-alg[1]", "/vpn[1]/local-ts[1]", "/vpn[1]/local-ts[1]/subnet[1]",
			"/vpn[1]/local-ts[2]", "/vpn[1]/local-ts[2]/subnet[1]", "/vpn[1]/tag[1]", "/vpn[1]/tag[2]", "/vpn[1]/tag[3]",
			"/vpn[2]", "/vpn[2]/name[1]", "/vpn[2]/enabled[1]", "/vpn[2]/vrf[1]", "/vpn[2]/addr-source[1]", "/vpn[2]/svti-id-out[1]",
			"/vpn[2]/local-ts[1]", "/vpn[2]/local-ts[1]/subnet[1]", "/vpn[3]", "/vpn[3]/name[1]", "/vpn[3]/enabled[1]", "/vpn[3]/vrf[1]",
			"/vpn[3]/addr-source[1]", "/vpn[3]/esp-proposal[1]", "/vpn[3]/esp-proposal[1]/name[1]", "/vpn[3]/esp-proposal[1]/aead-alg[1]",
			"/vpn[3]/esp-proposal[1]/enc-alg[1]", "/system[1]", "/system[1]/description[1]", "/system[1]/mtu[1]", "/system[1]/ratio[1]",
			"/system[1]/neg[1]", "/system[1]/flags[1]", "/system[1]/empty[1]", "/system[1]/hostname[1]", "/system[1]/auth-type[1]",
			"/system[1]/plain-ident[1]", "/system[1]/mode[1]", "/system[1]/vrf-ref[1]", "/system[1]/bad-ref[1]")},
		{"following-sibling::*", e2, "", ns("/vpn[1]/local-ts[1]", "/vpn[1]/local-ts[2]", "/vpn[1]/tag[1]", "/vpn[1]/tag[2]", "/vpn[1]/tag[3]")},
		{"following-sibling::local-ts", e2, "", ns("/vpn[1]/local-ts[1]", "/vpn[1]/local-ts[2]")},
		{"following-sibling::*[1]", e2, "", ns("/vpn[1]/local-ts[1]")},
		{"following-sibling::node()[last()]", e2, "", ns("/vpn[1]/tag[3]")},
		{"following-sibling::*", "", "", ns()},
		{"preceding-sibling::*", e2, "", ns("/vpn[1]/name[1]", "/vpn[1]/enabled[1]", "/vpn[1]/vrf[1]", "/vpn[1]/addr-source[1]",
			"/vpn[1]/svti-id-in[1]", "/vpn[1]/svti-id-out[1]", "/vpn[1]/esp-proposal[1]")},
		{"preceding-sibling::*[1]", e2, "", ns("/vpn[1]/esp-proposal[1]")},
		{"preceding-sibling::*[position() <= 2]", e2, "", ns("/vpn[1]/svti-id-out[1]", "/vpn[1]/esp-proposal[1]")},
		{"preceding-sibling::name", e2, "", ns("/vpn[1]/name[1]")},
		{"preceding-sibling::node()", "", "", ns()},
		{"following::name", "vpn#2/local-ts", "", ns("/vpn[3]/name[1]", "/vpn[3]/esp-proposal[1]/name[1]")},
		{"following::*[1]", "vrf#2", "", ns("/pool[1]")},
		{"following::*[3]", "vrf#2", "", ns("/pool[1]/range[1]")},
		{"following::node()", "", "", ns()},
		{"preceding::name", "vrf#2", "", ns("/vrf[1]/name[1]")},
		{"preceding::*", "pool#1", "", ns("/vrf[1]", "/vrf[1]/name[1]", "/vrf[1]/table[1]", "/vrf[2]", "/vrf[2]/name[1]", "/vrf[2]/table[1]")},
		{"preceding::*[1]", "pool#1", "", ns("/vrf[2]/table[1]")},
		{"preceding::*", "vrf#1/name", "", ns()},
		{"count(preceding::node())", "vpn#1/name", "", 22},
		// Multi-node inputs: merging, sorting and de-duplication.
		{"/vpn/following-sibling::vpn", "", "", ns("/vpn[2]", "/vpn[3]")},
		{"/vpn/preceding-sibling::*[1]", "", "", ns("/ike[1]", "/vpn[1]", "/vpn[2]")},
		{"/vpn/esp-proposal/..", "", "", ns("/vpn[1]", "/vpn[3]")},
		{"//esp-proposal/..", "", "", ns("/vpn[1]", "/vpn[3]")},
		{"/vpn/esp-proposal/ancestor::*", "", "", ns("/vpn[1]", "/vpn[3]")},
		{"/vpn/local-ts/subnet/../..", "", "", ns("/vpn[1]", "/vpn[2]")},
		{"/vpn/local-ts/subnet/../../name", "", "", ns("/vpn[1]/name[1]", "/vpn[2]/name[1]")},
		{"/vrf/name/parent::*/table", "", "", ns("/vrf[1]/table[1]", "/vrf[2]/table[1]")},
		{"(/vpn | /vpn/esp-proposal)/name", "", "", ns("/vpn[1]/name[1]", "/vpn[1]/esp-proposal[1]/name[1]", "/vpn[1]/esp-proposal[2]/name[1]",
			"/vpn[2]/name[1]", "/vpn[3]/name[1]", "/vpn[3]/esp-proposal[1]/name[1]")},
		{"(/vpn | /vpn/esp-proposal)/..", "", "", ns("/", "/vpn[1]", "/vpn[3]")},
		{"(/vpn | /vpn/esp-proposal)//aead-alg", "", "", ns("/vpn[1]/esp-proposal[2]/aead-alg[1]", "/vpn[3]/esp-proposal[1]/aead-alg[1]")},
		{"(/vpn | /vpn/esp-proposal)/descendant::name", "", "", ns("/vpn[1]/name[1]", "/vpn[1]/esp-proposal[1]/name[1]", "/vpn[1]/esp-proposal[2]/name[1]",
			"/vpn[2]/name[1]", "/vpn[3]/name[1]", "/vpn[3]/esp-proposal[1]/name[1]")},
		{"/vrf/descendant-or-self::node()", "", "", ns("/vrf[1]", "/vrf[1]/name[1]", "/vrf[1]/table[1]", "/vrf[2]", "/vrf[2]/name[1]", "/vrf[2]/table[1]")},
		{"/vrf/name/self::name", "", "", ns("/vrf[1]/name[1]", "/vrf[2]/name[1]")},
		{"/vrf/name/text()", "", "", ns("/vrf[1]/name[1]", "/vrf[2]/name[1]")},
		{"/vrf/*/following::vrf", "", "", ns("/vrf[2]", "/vpn[1]/vrf[1]", "/vpn[2]/vrf[1]", "/vpn[3]/vrf[1]")},
		{"/vpn/tag/preceding::vrf", "", "", ns("/vrf[1]", "/vrf[2]", "/vpn[1]/vrf[1]")},
	})
}

func TestPredicates(t *testing.T) {
	runEval(t, testTree(), []evalCase{
		{"/vpn/tag[2]", "", "", ns("/vpn[1]/tag[2]")},
		{"/vpn/tag[last()]", "", "", ns("/vpn[1]/tag[3]")},
		{"/vpn/tag[position() > 1]", "", "", ns("/vpn[1]/tag[2]", "/vpn[1]/tag[3]")},
		{"/vpn/tag[position() = 1 or position() = 3]", "", "", ns("/vpn[1]/tag[1]", "/vpn[1]/tag[3]")},
		{"/vpn/tag[position() != 2][2]", "", "", ns("/vpn[1]/tag[3]")},
		{"/vpn/*[position() = 1 or position() > 11]", "", "", ns("/vpn[1]/name[1]", "/vpn[1]/tag[2]", "/vpn[1]/tag[3]",
			"/vpn[2]/name[1]", "/vpn[3]/name[1]")},
		{"/vpn/tag[last() - 1]", "", "", ns("/vpn[1]/tag[2]")},
		{"/vpn/tag[1 + 1]", "", "", ns("/vpn[1]/tag[2]")},
		{"/vpn/tag[0]", "", "", ns()},
		{"/vpn/tag[1.5]", "", "", ns()},
		{"/vpn/tag[4]", "", "", ns()},
		{"/vpn/tag[-1]", "", "", ns()},
		{"/vpn/tag[. = 'b']", "", "", ns("/vpn[1]/tag[2]")},
		{"/vpn/tag[. != 'b']", "", "", ns("/vpn[1]/tag[1]", "/vpn[1]/tag[3]")},
		{"/vpn/tag['x']", "", "", ns("/vpn[1]/tag[1]", "/vpn[1]/tag[2]", "/vpn[1]/tag[3]")},
		{"/vpn/tag['']", "", "", ns()},
		{"/vpn/tag[true()][false()]", "", "", ns()},
		{"/vpn[name='vpn2']/vrf", "", "", ns("/vpn[2]/vrf[1]")},
		{"/vpn[enabled='true'][2]/name", "", "", ns("/vpn[3]/name[1]")},
		{"/vpn[2][enabled='true']", "", "", ns()},
		{"/vpn[svti-id-out > 5]/name", "", "", ns("/vpn[2]/name[1]")},
		{"/vpn[esp-proposal]/name", "", "", ns("/vpn[1]/name[1]", "/vpn[3]/name[1]")},
		{"/vpn[not(esp-proposal)]/name", "", "", ns("/vpn[2]/name[1]")},
		{"/vpn[esp-proposal/aead-alg][esp-proposal/enc-alg]/name", "", "", ns("/vpn[1]/name[1]", "/vpn[3]/name[1]")},
		{"/vpn[esp-proposal[aead-alg and enc-alg]]/name", "", "", ns("/vpn[3]/name[1]")},
		{"/vpn[count(tag) = 3]/name", "", "", ns("/vpn[1]/name[1]")},
		{"/vpn[last()]/name", "", "", ns("/vpn[3]/name[1]")},
		{"/vpn[position() = last() - 1]/name", "", "", ns("/vpn[2]/name[1]")},
		{"/vpn/esp-proposal[1]/name", "", "", ns("/vpn[1]/esp-proposal[1]/name[1]", "/vpn[3]/esp-proposal[1]/name[1]")},
		{"/vpn[vrf = /vrf/name]/name", "", "", ns("/vpn[1]/name[1]", "/vpn[3]/name[1]")},
		{"/vpn['red' = vrf]/name", "", "", ns("/vpn[1]/name[1]")},
		{"/vpn[vrf = /nothing]/name", "", "", ns()},
		{"/vpn[svti-id-out = 5.0]/name", "", "", ns("/vpn[1]/name[1]")},
		{"/vpn[svti-id-out = '5.0']/name", "", "", ns()},
		{"/vrf[name = current()/../vrf]", "vpn#1/name", "", ns("/vrf[1]")},
		{"/vrf[name = current()/../vrf]", "vpn#2/name", "", ns()},
		{"../../pool[name = current()]", "vpn#1/addr-source", "", ns("/pool[1]")},
		{"../../pool[current() = name]/range", "vpn#1/addr-source", "", ns("/pool[1]/range[1]")},
		{"/vpn[vrf = current()]/name", "", "vrf#2/name", ns("/vpn[3]/name[1]")},
		{"current()[. = 'p1']", "vpn#1/addr-source", "", ns("/vpn[1]/addr-source[1]")},
		{"current()[. = 'p2']", "vpn#1/addr-source", "", ns()},
		{"(/vpn/tag)[2]", "", "", ns("/vpn[1]/tag[2]")},
		{"(/vpn/name | /vrf/name)[1]", "", "", ns("/vrf[1]/name[1]")},
		{"(/vpn/name | /vrf/name)[last()]", "", "", ns("/vpn[3]/name[1]")},
		{"(//name)[position() > 1][1]", "", "", ns("/vrf[2]/name[1]")},
		{"(/vpn)[2]/name", "", "", ns("/vpn[2]/name[1]")},
		{"(/vpn)[name = 'vpn3']/name", "", "", ns("/vpn[3]/name[1]")},
		{"(/nothing)[1]", "", "", ns()},
		{"count(/vpn[position() < 3]/local-ts[position() = last()])", "", "", 2},
		{"/vpn[name = 'vpn1']/tag[position() = last()][. = 'c']", "", "", ns("/vpn[1]/tag[3]")},
	})
}
