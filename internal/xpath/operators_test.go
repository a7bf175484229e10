package xpath

import (
	"math"
	"strings"
	"testing"
)

func TestArithmetic(t *testing.T) {
	runEval(t, testTree(), []evalCase{
		{"1 + 2", "", "", 3},
		{"5 - 2", "", "", 3},
		{"2 * 3", "", "", 6},
		{"7 div 2", "", "", 3.5},
		{"7 mod 3", "", "", 1},
		{"-7 mod 3", "", "", -1},
		{"7 mod -3", "", "", 1},
		{"5.5 mod 2", "", "", 1.5},
		{"1 mod 0", "", "", math.NaN()},
		{"1 div 0", "", "", inf},
		{"-1 div 0", "", "", -inf},
		{"0 div 0", "", "", math.NaN()},
		{"- 3", "", "", -3},
		{"--3", "", "", 3},
		{"-(2)", "", "", -2},
		{"- -'4'", "", "", 4},
		{"-'x'", "", "", math.NaN()},
		{"-0", "", "", math.Copysign(0, -1)},
		{"2 + 3 * 4", "", "", 14},
		{"(2 + 3) * 4", "", "", 20},
		{"10 - 2 - 3", "", "", 5},
		{"8 div 2 div 2", "", "", 2},
		{"1 - -1", "", "", 2},
		{"2*3", "", "", 6},
		{".5 + 1.", "", "", 1.5},
		{"1" + strings.Repeat("0", 400), "", "", inf},
		{"number('-1" + strings.Repeat("0", 400) + "')", "", "", -inf},
		{"/vrf[1]/table * 2", "", "", 20},
		{"sum(/vrf/table) div count(/vrf)", "", "", 15},
		{"system/mtu+1", "", "", 1501},
		{"system/neg - 1", "", "", -4},
		{"system/neg-1", "", "", ns()}, // one NCName "neg-1" (XPath 1.0 §3.7)
		{"system/ratio * 2", "", "", 5},
		{"true() + true()", "", "", 2},
		{"'3' * '4'", "", "", 12},
		{"/vrf * 1", "", "", math.NaN()},
		{"2 * *", "vrf#1/table", "", math.NaN()},
		{"2 * *[2]", "vrf#1", "", 20},
		{"1 - 0.9", "", "", 0.09999999999999998}, // IEEE 754 double arithmetic
		{"number(system/neg-1)", "", "", math.NaN()},
	})
}

func TestComparisons(t *testing.T) {
	runEval(t, testTree(), []evalCase{
		{"1 = 1", "", "", true},
		{"1 != 1", "", "", false},
		{"1 < 2", "", "", true},
		{"2 <= 2", "", "", true},
		{"3 > 2", "", "", true},
		{"2 >= 3", "", "", false},
		{"'abc' = 'abc'", "", "", true},
		{"'abc' != 'abd'", "", "", true},
		{"'abc' < 'abd'", "", "", false}, // relational compares numbers: NaN
		{"'10' = 10", "", "", true},
		{"'10.0' = 10", "", "", true},
		{"'10.0' = '10'", "", "", false},
		{"'2' < '10'", "", "", true},
		{"true() = 'x'", "", "", true},
		{"false() = ''", "", "", true},
		{"true() = 2", "", "", true},
		{"false() = 0", "", "", true},
		{"1 = true()", "", "", true},
		{"true() > false()", "", "", true},
		{"true() != 'false'", "", "", false},
		{"number('x') = number('x')", "", "", false},
		{"number('x') != number('x')", "", "", true},
		{"0 div 0 < 1", "", "", false},
		{"1 div 0 > 1000000", "", "", true},
		// node-set vs string (XPath 1.0 §3.4: existential on string-values)
		{"/vrf/name = 'blue'", "", "", true},
		{"/vrf/name != 'blue'", "", "", true},
		{"/vrf/name = 'green'", "", "", false},
		{"/nothing != 'x'", "", "", false},
		{"/nothing = ''", "", "", false},
		{"'blue' = /vrf/name", "", "", true},
		{"/vrf/table < '15'", "", "", true},
		{"'15' < /vrf/table", "", "", true},
		{"'25' < /vrf/table", "", "", false},
		// node-set vs number (numbers of string-values)
		{"/vrf/table = 20", "", "", true},
		{"/vrf/table = 20.0", "", "", true},
		{"/vrf/table != 20", "", "", true},
		{"/vrf/table > 15", "", "", true},
		{"/vrf/table > 25", "", "", false},
		{"/vrf/table < 15", "", "", true},
		{"/vrf/table >= 20", "", "", true},
		{"/vrf/table <= 9", "", "", false},
		{"20 = /vrf/table", "", "", true},
		{"15 < /vrf/table", "", "", true},
		{"25 < /vrf/table", "", "", false},
		{"25 > /vrf/table", "", "", true},
		{"10 >= /vrf/table", "", "", true},
		{"9 >= /vrf/table", "", "", false},
		{"20 <= /vrf/table", "", "", true},
		{"25 <= /vrf/table", "", "", false},
		{"15 > /vrf/table", "", "", true},
		{"/vrf/name = 0", "", "", false},
		{"/vrf/name != 0", "", "", true}, // NaN != 0
		// node-set vs boolean (via boolean() of the node-set)
		{"/vrf = true()", "", "", true},
		{"/nothing = false()", "", "", true},
		{"/nothing = true()", "", "", false},
		{"/vrf != false()", "", "", true},
		{"true() = /vrf", "", "", true},
		{"/vrf > false()", "", "", true},
		{"/nothing < true()", "", "", true},
		// node-set vs node-set (some pair of string-values)
		{"/vrf/name = /vpn/vrf", "", "", true},
		{"/vrf/name != /vrf/name", "", "", true},
		{"/vrf[1]/name != /vrf[1]/name", "", "", false},
		{"/vrf/table < /vrf/table", "", "", true},
		{"/vrf/table > /vrf/table", "", "", true},
		{"/vrf[1]/table > /vrf/table", "", "", false},
		{"/vrf/table > /pool/name", "", "", false},
		{"/nothing = /nothing", "", "", false},
		{"/nothing != /vrf", "", "", false},
		{"/vrf/table >= /vrf/table", "", "", true},
		{"/vrf[1]/table <= /vrf[1]/table", "", "", true},
		{"/vpn[1]/tag = /vpn[1]/tag[3]", "", "", true},
		// string-value of a container: its leaves' values concatenated
		{"/vrf[1] = 'red10'", "", "", true},
		{"/vpn[1]/local-ts[1] = '10.1.0.0/16'", "", "", true},
		// and, or: short-circuit (deref() of bad-ref fails if evaluated)
		{"true() or deref(/system/bad-ref)", "", "", true},
		{"false() and deref(/system/bad-ref)", "", "", false},
		{"vrf and pool", "", "", true},
		{"vrf and nothing", "", "", false},
		{"nothing or vrf", "", "", true},
		{"nothing or 0", "", "", false},
		{"1 or 0", "", "", true},
		{"'' or 0 div 0", "", "", false},
		// precedence (XPath 1.0 §3.4)
		{"1 = 1 or 1 = 2 and 1 = 2", "", "", true},
		{"(1 = 1 or 1 = 2) and 1 = 2", "", "", false},
		{"1 < 2 = true()", "", "", true},
		{"3 > 2 > 1", "", "", false},
		{"1 + 1 = 2", "", "", true},
		{"2 = 1 + 1", "", "", true},
		{"-1 < 0", "", "", true},
	})
}

func TestUnion(t *testing.T) {
	runEval(t, testTree(), []evalCase{
		{"/vpn/name | /vrf/name", "", "", ns("/vrf[1]/name[1]", "/vrf[2]/name[1]", "/vpn[1]/name[1]", "/vpn[2]/name[1]", "/vpn[3]/name[1]")},
		{"/vrf | /vrf", "", "", ns("/vrf[1]", "/vrf[2]")},
		{"vrf | .", "", "", ns("/", "/vrf[1]", "/vrf[2]")},
		{"/nothing | /pool", "", "", ns("/pool[1]", "/pool[2]")},
		{"/pool | /nothing", "", "", ns("/pool[1]", "/pool[2]")},
		{"/pool[2] | /vrf[2] | /pool[1]", "", "", ns("/vrf[2]", "/pool[1]", "/pool[2]")},
		{"current() | ..", "vpn#1/name", "", ns("/vpn[1]", "/vpn[1]/name[1]")},
		{"count(//name | //*)", "", "", 73},
		{"/vpn[1]/esp-proposal/name | /vpn[1]", "", "", ns("/vpn[1]", "/vpn[1]/esp-proposal[1]/name[1]", "/vpn[1]/esp-proposal[2]/name[1]")},
	})
}
