package xpath

import (
	"math"
	"strings"
	"testing"
)

func TestNodeSetFunctions(t *testing.T) {
	runEval(t, testTree(), []evalCase{
		{"position()", "", "", 1},
		{"last()", "", "", 1},
		{"count(vpn)", "", "", 3},
		{"count(/nothing)", "", "", 0},
		{"count(//tag)", "", "", 3},
		{"count(current())", "vpn#1", "", 1},
		{"local-name(/vpn)", "", "", "vpn"},
		{"local-name()", "vpn#1/name", "", "name"},
		{"local-name(/)", "", "", ""},
		{"local-name()", "", "", ""},
		{"local-name(/nothing)", "", "", ""},
		{"local-name(ike:ike/*[2])", "", "", "proposal"},
		{"name(ike:ike)", "", "", "ike"},
		{"name()", "vrf#2", "", "vrf"},
		{"/vpn/*[local-name() = 'tag'][2]", "", "", ns("/vpn[1]/tag[2]")},
	})
}

func TestStringFunctions(t *testing.T) {
	runEval(t, testTree(), []evalCase{
		{"string(1 div 0)", "", "", "Infinity"},
		{"string(-1 div 0)", "", "", "-Infinity"},
		{"string(0 div 0)", "", "", "NaN"},
		{"string(-0)", "", "", "0"},
		{"string(1.50)", "", "", "1.5"},
		{"string(100)", "", "", "100"},
		{"string(-2.25)", "", "", "-2.25"},
		{"string(0.1 + 0.2)", "", "", "0.30000000000000004"},
		{"string(123456789012)", "", "", "123456789012"},
		{"string(0.000001)", "", "", "0.000001"},
		{"string(true())", "", "", "true"},
		{"string(false())", "", "", "false"},
		{"string(/vrf/name)", "", "", "red"},
		{"string(/nothing)", "", "", ""},
		{"string()", "vpn#1/name", "", "vpn1"},
		{"string()", "vrf#2", "", "blue20"},
		{"string('x')", "", "", "x"},
		{"concat('a', 'b', 1, true())", "", "", "ab1true"},
		{"concat(/vrf/name, '-', ../name)", "vpn#1/vrf", "", "red-vpn1"},
		{"starts-with('hello', 'he')", "", "", true},
		{"starts-with('hello', 'lo')", "", "", false},
		{"starts-with('hello', '')", "", "", true},
		{"contains(/system/hostname, 'example')", "", "", true},
		{"contains(/system/hostname, 'xample.')", "", "", false},
		{"contains('', '')", "", "", true},
		{"substring-before('1999/04/01', '/')", "", "", "1999"},
		{"substring-after('1999/04/01', '/')", "", "", "04/01"},
		{"substring-before('abc', 'x')", "", "", ""},
		{"substring-after('abc', 'x')", "", "", ""},
		{"substring-after('abc', '')", "", "", "abc"},
		{"substring-before('abc', '')", "", "", ""},
		// The examples of XPath 1.0 §4.2.
		{"substring('12345', 2, 3)", "", "", "234"},
		{"substring('12345', 2)", "", "", "2345"},
		{"substring('12345', 1.5, 2.6)", "", "", "234"},
		{"substring('12345', 0, 3)", "", "", "12"},
		{"substring('12345', 0 div 0, 3)", "", "", ""},
		{"substring('12345', 1, 0 div 0)", "", "", ""},
		{"substring('12345', -42, 1 div 0)", "", "", "12345"},
		{"substring('12345', -1 div 0, 1 div 0)", "", "", ""},
		{"substring('12345', 6)", "", "", ""},
		{"substring('12345', 5)", "", "", "5"},
		{"substring('héllo', 2, 2)", "", "", "él"},
		{"string-length('héllo')", "", "", 5},
		{"string-length('')", "", "", 0},
		{"string-length()", "system/hostname", "", 13},
		{"string-length(/vrf)", "", "", 5},
		{"normalize-space(/system/description)", "", "", "hello world"},
		{"normalize-space()", "system/description", "", "hello world"},
		{"normalize-space('  ')", "", "", ""},
		{"normalize-space('a')", "", "", "a"},
		{"translate('bar', 'abc', 'ABC')", "", "", "BAr"},
		{"translate('--aaa--', 'abc-', 'ABC')", "", "", "AAA"},
		{"translate('aba', 'aa', 'xy')", "", "", "xbx"},
		{"translate('héllo', 'é', 'e')", "", "", "hello"},
	})
}

func TestBooleanAndNumberFunctions(t *testing.T) {
	runEval(t, testTree(), []evalCase{
		{"boolean(0)", "", "", false},
		{"boolean(-0)", "", "", false},
		{"boolean(0 div 0)", "", "", false},
		{"boolean(-1)", "", "", true},
		{"boolean('')", "", "", false},
		{"boolean('0')", "", "", true},
		{"boolean(/vrf)", "", "", true},
		{"boolean(/nothing)", "", "", false},
		{"boolean(/system/empty)", "", "", true},
		{"not(true())", "", "", false},
		{"not(/nothing)", "", "", true},
		{"true()", "", "", true},
		{"false()", "", "", false},
		{"number('  12.5 ')", "", "", 12.5},
		{"number('-3')", "", "", -3},
		{"number('+3')", "", "", math.NaN()},
		{"number('1e3')", "", "", math.NaN()},
		{"number('.5')", "", "", 0.5},
		{"number('5.')", "", "", 5},
		{"number('')", "", "", math.NaN()},
		{"number('-')", "", "", math.NaN()},
		{"number('.')", "", "", math.NaN()},
		{"number('1.2.3')", "", "", math.NaN()},
		{"number('- 3')", "", "", math.NaN()},
		{"number('0x10')", "", "", math.NaN()},
		{"number('Infinity')", "", "", math.NaN()},
		{"number(true())", "", "", 1},
		{"number(false())", "", "", 0},
		{"number()", "system/mtu", "", 1500},
		{"number()", "system/hostname", "", math.NaN()},
		{"number(/system/ratio)", "", "", 2.5},
		{"number(/nothing)", "", "", math.NaN()},
		{"sum(/vrf/table)", "", "", 30},
		{"sum(/nothing)", "", "", 0},
		{"sum(/vrf/name)", "", "", math.NaN()},
		{"floor(2.5)", "", "", 2},
		{"floor(-2.5)", "", "", -3},
		{"ceiling(2.1)", "", "", 3},
		{"ceiling(-2.5)", "", "", -2},
		{"ceiling(-0.5)", "", "", math.Copysign(0, -1)},
		{"round(2.5)", "", "", 3},
		{"round(2.4)", "", "", 2},
		{"round(-2.5)", "", "", -2},
		{"round(-2.6)", "", "", -3},
		{"round(-0.4)", "", "", math.Copysign(0, -1)},
		{"round(0 div 0)", "", "", math.NaN()},
		{"round(1 div 0)", "", "", inf},
		{"round(9007199254740993)", "", "", 9007199254740992},
		{"round(0.49999999999999994)", "", "", 0},
	})
}

func TestYANGFunctions(t *testing.T) {
	runEval(t, testTree(), []evalCase{
		{"current()", "vpn#1/name", "", ns("/vpn[1]/name[1]")},
		{"current()/../name", "", "vpn#2/vrf", ns("/vpn[2]/name[1]")},
		{"current()//name", "vpn#3", "", ns("/vpn[3]/name[1]", "/vpn[3]/esp-proposal[1]/name[1]")},
		{"/vpn[vrf = current()/../vrf]/name", "vpn#1/name", "", ns("/vpn[1]/name[1]")},
		{"/vpn/tag[. = current()]", "", "vpn#1/tag#2", ns("/vpn[1]/tag[2]")},
		{`re-match('1.22.333', '\d{1,3}\.\d{1,3}\.\d{1,3}')`, "", "", true},
		{`re-match('1.22.3333', '\d{1,3}\.\d{1,3}\.\d{1,3}')`, "", "", false},
		{"re-match('aaax', 'a*')", "", "", false},
		{"re-match('xaaa', 'a*')", "", "", false},
		{"re-match('aaa', 'a*')", "", "", true},
		{"re-match('a$b', 'a$b')", "", "", true},
		{"re-match('^a', '^a')", "", "", true},
		{"re-match('a', '^a')", "", "", false},
		{"re-match('ab\ncd', '.*')", "", "", false},
		{"re-match('ab\rcd', '.*')", "", "", false},
		{"re-match('abcd', '.*')", "", "", true},
		{`re-match(/system/hostname, '[a-z0-9.\-]+')`, "", "", true},
		{`re-match('é', '\w')`, "", "", true},
		{`re-match('-', '\w')`, "", "", false},
		{`re-match('-', '\W')`, "", "", true},
		{`re-match('é1', '[\w]+')`, "", "", true},
		{`re-match(' ', '\s')`, "", "", true},
		{`re-match('x', '\S')`, "", "", true},
		{`re-match('a1', '\i\c*')`, "", "", true},
		{`re-match('1', '\i')`, "", "", false},
		{`re-match('1', '\I')`, "", "", true},
		{`re-match('é', '\C')`, "", "", false},
		{`re-match('٣', '\d')`, "", "", true},
		{`re-match('x', '\D')`, "", "", true},
		{`re-match('A', '\p{Lu}')`, "", "", true},
		{`re-match('a', '\P{Lu}')`, "", "", true},
		{`re-match('a|b', 'a\|b')`, "", "", true},
		{"re-match('b', 'a|b')", "", "", true},
		{"re-match('x', '[^a-c]')", "", "", true},
		{"re-match('^', '[\\^]')", "", "", true},
		{"re-match('abc', concat('a', 'b.'))", "", "", true},
		{"re-match('abd', concat('a', 'b[c]'))", "", "", false},
		{"re-match(/vrf/name, /pool/name)", "", "", false},
		{"deref(/system/vrf-ref)", "", "", ns("/vrf[2]")},
		{"deref(/system/vrf-ref)/table = 20", "", "", true},
		{"deref(/nothing)", "", "", ns()},
		{"derived-from(/system/auth-type, 'ike:eap')", "", "", true},
		{"derived-from(/system/auth-type, 'ike:eap-tls')", "", "", false},
		{"derived-from-or-self(/system/auth-type, 'ike:eap-tls')", "", "", true},
		{"derived-from-or-self(/system/auth-type, 'ike:psk')", "", "", false},
		{"derived-from-or-self(/system/plain-ident, 'psk')", "", "", true},
		{"derived-from-or-self(/system/plain-ident, 'x:psk')", "", "", true},
		{"derived-from(/system/plain-ident, 'ike:psk')", "", "", true},
		{"derived-from-or-self(/system/plain-ident, 'eap')", "", "", false},
		{"derived-from(/nothing, 'x')", "", "", false},
		{"derived-from(/system/*, 'eap')", "", "", true},
		{"enum-value(/system/mode)", "", "", 2},
		{"enum-value(/nothing)", "", "", math.NaN()},
		{"bit-is-set(/system/flags, 'flag-c')", "", "", true},
		{"bit-is-set(/system/flags, 'flag-b')", "", "", false},
		{"bit-is-set(/system/flags, 'flag')", "", "", false},
		{"bit-is-set(/nothing, 'a')", "", "", false},
		{"bit-is-set(/system, 'a')", "", "", false},
	})
}

// TestEvalErrors covers the errors that only evaluation can detect.
func TestEvalErrors(t *testing.T) {
	r := testTree()
	for _, c := range []struct{ expr, want string }{
		{"deref(/system/mtu)", "xpath: deref() is not supported"},
		{"deref(/system/bad-ref)", "xpath: deref(): dangling"},
		{"false() or deref(/system/bad-ref)", "dangling"},
		{"count(deref(/system/bad-ref)) = 0", "dangling"},
		{"enum-value(/system/mtu)", "xpath: enum-value() is not supported"},
		{"re-match('a', concat('[', ''))", "xpath: re-match(): pattern"},
		{"/vpn[deref(../system/bad-ref)]", "dangling"},
		{"/vpn/name[deref(/system/bad-ref)]", "dangling"},
		{"(/vpn)[deref(/system/bad-ref)]", "dangling"},
		{"/vpn[name = deref(/system/bad-ref)]", "dangling"},
		{"-deref(/system/bad-ref)", "dangling"},
		{"1 + deref(/system/bad-ref)", "dangling"},
		{"deref(/system/bad-ref) | /vpn", "dangling"},
		{"/vpn | deref(/system/bad-ref)", "dangling"},
		{"deref(/system/bad-ref)/x", "dangling"},
		{"concat('a', deref(/system/bad-ref))", "dangling"},
		{"substring('a', deref(/system/bad-ref))", "dangling"},
		{"translate('a', 'b', deref(/system/bad-ref))", "dangling"},
		{"derived-from(/system/mtu, deref(/system/bad-ref))", "dangling"},
		{"bit-is-set(/system/mtu, deref(/system/bad-ref))", "dangling"},
		{"starts-with(deref(/system/bad-ref), 'a')", "dangling"},
		{"contains('a', deref(/system/bad-ref))", "dangling"},
		{"normalize-space(deref(/system/bad-ref))", "dangling"},
		{"re-match(deref(/system/bad-ref), 'a')", "dangling"},
		{"re-match('a', string(deref(/system/bad-ref)))", "dangling"},
	} {
		e, err := Compile(c.expr)
		if err != nil {
			t.Fatalf("Compile(%q): %v", c.expr, err)
		}
		for _, run := range []func() error{
			func() error { _, err := e.Eval(r, nil); return err },
			func() error { _, err := e.EvalBool(r, nil); return err },
		} {
			if err := run(); err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "xpath: ") {
				t.Errorf("%q: error %v, want %q", c.expr, err, c.want)
			}
		}
	}
	if _, err := MustCompile("1").Eval(nil, nil); err == nil || err.Error() != "xpath: nil context node" {
		t.Errorf("nil context: %v", err)
	}
	if _, err := MustCompile("1 + 1").EvalNodes(r, r); err == nil || !strings.Contains(err.Error(), "not a node-set") {
		t.Errorf("EvalNodes of a number: %v", err)
	}
	if _, err := MustCompile("1").EvalBool(nil, r); err == nil {
		t.Errorf("EvalBool with nil context succeeded")
	}
	if _, err := MustCompile("/").EvalNodes(nil, r); err == nil {
		t.Errorf("EvalNodes with nil context succeeded")
	}
}
