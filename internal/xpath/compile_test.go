package xpath

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestCompileErrors(t *testing.T) {
	for _, c := range []struct {
		expr   string
		offset int
		msg    string
	}{
		{"", 0, "expected expression, found end of input"},
		{"   ", 3, "expected expression, found end of input"},
		{"1 +", 3, "expected expression, found end of input"},
		{"count(", 6, "expected expression, found end of input"},
		{"count(vpn", 9, "expected ')' to close the argument list, found end of input"},
		{"count(vpn,)", 10, "expected expression, found ')'"},
		{"foo()", 0, "unknown function foo()"},
		{"1 + bar(1, 2)", 4, "unknown function bar()"},
		{"ike:count(vpn)", 0, "unknown function ike:count()"},
		{"count()", 0, "count() takes 1 argument, got 0"},
		{"count(a, b)", 0, "count() takes 1 argument, got 2"},
		{"concat('a')", 0, "concat() takes at least 2 arguments, got 1"},
		{"substring('a')", 0, "substring() takes 2 to 3 arguments, got 1"},
		{"true(1)", 0, "true() takes 0 arguments, got 1"},
		{"not()", 0, "not() takes 1 argument, got 0"},
		{"re-match('a')", 0, "re-match() takes 2 arguments, got 1"},
		{"current(.)", 0, "current() takes 0 arguments, got 1"},
		{"count('a')", 0, "argument 1 of count() must be a node-set, not a string"},
		{"sum(1)", 0, "argument 1 of sum() must be a node-set, not a number"},
		{"local-name(1 = 1)", 0, "argument 1 of local-name() must be a node-set, not a boolean"},
		{"deref('x')", 0, "argument 1 of deref() must be a node-set"},
		{"bit-is-set('x', 'y')", 0, "argument 1 of bit-is-set() must be a node-set"},
		{"'a' | vpn", 4, "operands of '|' must be node-sets"},
		{"vpn | 1", 4, "operands of '|' must be node-sets"},
		{"'a'/b", 3, "location steps applied to a string"},
		{"count(a)//b", 8, "location steps applied to a number"},
		{"'a'[1]", 3, "predicate applied to a string"},
		{"vpn[", 4, "expected expression, found end of input"},
		{"vpn[1", 5, "expected ']' to close the predicate, found end of input"},
		{"vpn[]", 4, "expected expression, found ']'"},
		{"(1", 2, "expected ')' to close '(', found end of input"},
		{"()", 1, "expected expression, found ')'"},
		{"'abc", 0, "unterminated string literal"},
		{`"abc'`, 0, "unterminated string literal"},
		{"1 ! 2", 2, "unexpected '!'"},
		{"$x", 0, "variable references are not supported"},
		{"a = $x", 4, "variable references are not supported"},
		{"@name", 0, "attributes are not supported"},
		{"vpn/@name", 4, "attributes are not supported"},
		{"attribute::name", 0, "the attribute axis is not supported"},
		{"namespace::*", 0, "the namespace axis is not supported"},
		{"foo::bar", 0, `unknown axis "foo"`},
		{"comment()", 0, "node test comment() is not supported"},
		{"processing-instruction('x')", 0, "node test processing-instruction() is not supported"},
		{"node(1)", 5, "expected ')' after node(, found number 1"},
		{"child::", 7, "expected node test, found end of input"},
		{"node(a)", 5, `expected ')' after node(, found name "a"`},
		{"child::child::a", 7, "expected node test, found axis child::"},
		{"child::count(a)", 7, `expected node test, found name "count"`},
		{"child::ike:count(a)", 7, `expected node test, found name "ike:count"`},
		{"child::'a'", 7, `expected node test, found literal "a"`},
		{"vpn/", 4, "expected node test, found end of input"},
		{"vpn/1", 4, "expected node test, found number 1"},
		{"vpn//", 5, "expected node test, found end of input"},
		{"//", 2, "expected node test, found end of input"},
		{".[1]", 1, "a predicate cannot follow '.'"},
		{"..[1]", 2, "a predicate cannot follow '..'"},
		{"a b", 2, `expected operator, found name "b"`},
		{"1 2", 2, "unexpected number 2 after expression"},
		{"1e3", 1, `expected operator, found name "e3"`},
		{"vpn[1]]", 6, "unexpected ']' after expression"},
		{"a:", 1, "unexpected ':'"},
		{"a:1", 1, `expected local name after prefix "a"`},
		{"a : b", 2, "unexpected ':'"},
		{"-", 1, "expected expression, found end of input"},
		{"/ |", 3, "expected expression, found end of input"},
		{"1 +* 2", 5, "unexpected number 2 after expression"},
		{"1 = = 2", 4, "expected expression, found '='"},
		{"a or", 4, "expected expression, found end of input"},
		{"vpn[name = 'x' and]", 18, "expected expression, found ']'"},
		{"\x80", 0, "invalid UTF-8 or unexpected byte 0x80"},
		{"a\u00a0b", 1, "unexpected character"},
		{"#", 0, "unexpected character '#'"},
		{"re-match('x', '[a-z-[x]]')", 0, "character class subtraction is not supported"},
		{"re-match('x', '[')", 0, `pattern "["`},
		{`re-match('x', '\p{IsBasicLatin}')`, 0, `\p{IsBasicLatin} is not supported`},
		{`re-match('x', 'a\')`, 0, "trailing backslash"},
		{`re-match('x', '\q')`, 0, `invalid escape \q`},
		{`re-match('x', '[\S]')`, 0, `\S inside a character class is not supported`},
		{`re-match('x', '(?i)a')`, 0, "'(?' is not XSD syntax"},
		{`re-match('x', '[ab')`, 0, "unterminated character class"},
		{`re-match('x', '\p{L')`, 0, `malformed \p{...} escape`},
		{`re-match('x', 'a{2000}')`, 0, "invalid repeat count"},
		{strings.Repeat("(", 120) + "1" + strings.Repeat(")", 120), 100, "expression nested more than 100 levels deep"},
		{strings.Repeat("a[", 120) + "1" + strings.Repeat("]", 120), 200, "expression nested more than 100 levels deep"},
		{strings.Repeat(" ", maxSourceLen+1), maxSourceLen, "expression longer than"},
	} {
		e, err := Compile(c.expr)
		if err == nil {
			t.Errorf("Compile(%q) = %v, want error", c.expr, e.root)
			continue
		}
		var xe *Error
		if !errors.As(err, &xe) {
			t.Errorf("Compile(%q): %T is not *Error", c.expr, err)
			continue
		}
		if xe.Offset != c.offset || !strings.Contains(xe.Msg, c.msg) || !strings.HasPrefix(err.Error(), "xpath: offset ") {
			t.Errorf("Compile(%q):\n got %v\nwant offset %d: %s", c.expr, err, c.offset, c.msg)
		}
	}
}

// TestCompileAccepts covers lexical corner cases that must compile.
func TestCompileAccepts(t *testing.T) {
	for _, src := range []string{
		"*", "/*", "//*", "2 * *", "* * *", "p:*", "a-b.c_d", "_x", "ä/ö", "child :: a", "count ( a )",
		"a[1][2]", "-a", "a|b|c", "..//.", "div", "div div div", "mod mod 2", "or or and", "and and or",
		"node() | text()", "text ()", "self::node()", `"it's"`, `'say "hi"'`, "1.", ".5", "a/..", "a//b//c",
		"ancestor-or-self::*", "following::a", "preceding::a", "descendant::text()", "(a)[1]/b", "current()/..",
		"deref(a)//b", "(a)", "((1))", "-(-(1))", "a\t=\n'b'\r", "vpn[name='x']/ike:*",
		strings.Repeat("(", maxNesting-1) + "1" + strings.Repeat(")", maxNesting-1),
	} {
		if _, err := Compile(src); err != nil {
			t.Errorf("Compile(%q): %v", src, err)
		}
	}
}

func TestPaths(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
		pred []bool // InPredicate of each path; nil means none
	}{
		{"../../pool[name = current()]", []string{"../../pool", "../../pool/name", "current()"}, []bool{false, true, true}},
		{"/vrf[name=current()/../vrf]", []string{"/vrf", "/vrf/name", "current()/../vrf"}, []bool{false, true, true}},
		{"not(aead-alg and (enc-alg or auth-alg))", []string{"aead-alg", "enc-alg", "auth-alg"}, nil},
		{"count(../esp-proposal) >= 1", []string{"../esp-proposal"}, nil},
		{". = 'radius' or ../../pool[name = current()]", []string{".", "../../pool", "../../pool/name", "current()"}, nil},
		{"starts-with(../local-ts/subnet, '10.')", []string{"../local-ts/subnet"}, nil},
		{"//name", []string{"/descendant-or-self::node()/name"}, nil},
		{"a//b", []string{"a/descendant-or-self::node()/b"}, nil},
		{"deref(../ref)/../name", []string{"../ref", "(expr)/../name"}, nil},
		{"string-length() > 3", []string{"."}, nil},
		{"a[string() = 'x']", []string{"a", "a"}, []bool{false, true}},
		{"(a | b)[c]", []string{"a", "b", "(expr)/c"}, []bool{false, false, true}},
		{"current()[. = 'x']", []string{"current()", "current()/."}, nil},
		{"a[b[c]]/d[e]", []string{"a/d", "a/b", "a/b/c", "a/d/e"}, nil},
		{"ancestor::x[1]/y", []string{"ancestor::x/y"}, nil},
		{"a[/b[c]]", []string{"a", "/b", "/b/c"}, []bool{false, true, true}},
		{"a[1][position() = last()]", []string{"a"}, nil},
		{"/", []string{"/"}, nil},
		{".", []string{"."}, nil},
		{"current()", []string{"current()"}, nil},
		{"1 + 2", nil, nil},
		{"ike:vpn/text()", []string{"ike:vpn/text()"}, nil},
		{"child::a/descendant::b/following-sibling::*/node()", []string{"a/descendant::b/following-sibling::*/node()"}, nil},
		{"-a | b", []string{"a", "b"}, nil},
		{"x[. = current()/../y]", []string{"x", "x/.", "current()/../y"}, nil},
	} {
		e := MustCompile(c.expr)
		ps := e.Paths()
		var got []string
		for _, p := range ps {
			got = append(got, p.String())
		}
		if strings.Join(got, " ; ") != strings.Join(c.want, " ; ") {
			t.Errorf("Paths(%q) = %q, want %q", c.expr, got, c.want)
			continue
		}
		for i, want := range c.pred {
			if ps[i].InPredicate != want {
				t.Errorf("Paths(%q)[%d].InPredicate = %v", c.expr, i, ps[i].InPredicate)
			}
		}
	}

	ps := MustCompile("../ike:vpn[1]/x:*[y]").Paths()
	want := []Step{
		{Axis: AxisParent, Test: TestNode},
		{Axis: AxisChild, Test: TestName, Prefix: "ike", Name: "vpn", Predicates: 1},
		{Axis: AxisChild, Test: TestName, Prefix: "x", Name: "*", Predicates: 1},
	}
	if len(ps) != 2 || len(ps[0].Steps) != 3 || ps[0].Absolute || ps[0].Current || ps[0].Filter {
		t.Fatalf("Paths = %+v", ps)
	}
	for i, s := range want {
		if ps[0].Steps[i] != s {
			t.Errorf("step %d = %+v, want %+v", i, ps[0].Steps[i], s)
		}
	}
	if p := MustCompile("/a").Paths()[0]; !p.Absolute || p.Current || p.Filter {
		t.Errorf("/a: %+v", p)
	}
	if p := MustCompile("current()/a").Paths()[0]; p.Absolute || !p.Current || p.Filter {
		t.Errorf("current()/a: %+v", p)
	}
	if p := MustCompile("deref(a)/b").Paths()[1]; p.Absolute || p.Current || !p.Filter {
		t.Errorf("deref(a)/b: %+v", p)
	}
	// Paths returns copies.
	e := MustCompile("a/b")
	e.Paths()[0].Steps[0].Name = "changed"
	if e.Paths()[0].Steps[0].Name != "a" {
		t.Errorf("Paths shares its steps")
	}
	// Evaluation-time rewrites do not show in Paths.
	if got := MustCompile("//a[b]").Paths()[0].String(); got != "/descendant-or-self::node()/a" {
		t.Errorf("Paths(//a[b]) = %q", got)
	}
}

func TestAPI(t *testing.T) {
	e := MustCompile(" count(a) ")
	if e.String() != " count(a) " || e.Kind() != NumberKind {
		t.Errorf("String/Kind = %q %v", e.String(), e.Kind())
	}
	for src, k := range map[string]Kind{"a": NodeSetKind, "'a'": StringKind, "1": NumberKind, "a = 1": BooleanKind,
		"(a)[1]": NodeSetKind, "current()": NodeSetKind, "concat('a', 'b')": StringKind, "-a": NumberKind} {
		if got := MustCompile(src).Kind(); got != k {
			t.Errorf("Kind(%q) = %v, want %v", src, got, k)
		}
	}
	for k, s := range map[Kind]string{NodeSetKind: "node-set", StringKind: "string", NumberKind: "number", BooleanKind: "boolean", 9: "Kind(9)"} {
		if k.String() != s {
			t.Errorf("%d.String() = %q", k, k.String())
		}
	}
	if Axis(200).String() != "axis?" || AxisFollowingSibling.String() != "following-sibling" {
		t.Errorf("Axis.String")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("MustCompile did not panic")
			}
		}()
		MustCompile("(")
	}()

	var zero Value
	if zero.Kind() != NodeSetKind || zero.Bool() || zero.String() != "" || !math.IsNaN(zero.Number()) || zero.Nodes() != nil {
		t.Errorf("zero Value = %+v", zero)
	}
	for _, c := range []struct {
		v    Value
		s    string
		n    float64
		b    bool
		kind Kind
	}{
		{stringVal("12"), "12", 12, true, StringKind},
		{stringVal(""), "", math.NaN(), false, StringKind},
		{numberVal(0), "0", 0, false, NumberKind},
		{numberVal(math.NaN()), "NaN", math.NaN(), false, NumberKind},
		{numberVal(2.5), "2.5", 2.5, true, NumberKind},
		{boolVal(true), "true", 1, true, BooleanKind},
		{boolVal(false), "false", 0, false, BooleanKind},
	} {
		if c.v.Kind() != c.kind || c.v.String() != c.s || !sameNumber(c.v.Number(), c.n) || c.v.Bool() != c.b || c.v.Nodes() != nil {
			t.Errorf("%+v: %v %q %v %v", c.v, c.v.Kind(), c.v.String(), c.v.Number(), c.v.Bool())
		}
	}

	r := testTree()
	v, err := MustCompile("/vrf/table").Eval(r, nil)
	if err != nil || v.String() != "10" || v.Number() != 10 || !v.Bool() || len(v.Nodes()) != 2 {
		t.Errorf("node-set Value: %v %q", err, v.String())
	}
	// Returned node-sets are the caller's: changing them affects nothing.
	v.Nodes()[0] = nil
	nodes, err := MustCompile("/vrf").EvalNodes(r, nil)
	if err != nil || len(nodes) != 2 || nodes[0] == nil {
		t.Fatalf("EvalNodes = %v, %v", nodes, err)
	}
	nodes[0] = nil
	if r.Children("vrf")[0] == nil {
		t.Fatalf("EvalNodes returned the tree's slice")
	}
	if nodes, err := MustCompile("/nothing").EvalNodes(r, nil); err != nil || nodes != nil {
		t.Errorf("empty EvalNodes = %v, %v", nodes, err)
	}
	if StringValue(r.Children("vrf")[1]) != "blue20" || StringValue(nodeAt(t, r, "ike")) != "prop1aes256sha25614prop2aes-gcm-1619" {
		t.Errorf("StringValue")
	}
	if (&Error{Offset: 3, Msg: "m"}).Error() != "xpath: offset 3: m" {
		t.Errorf("Error format")
	}
}
