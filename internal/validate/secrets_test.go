package validate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"secgw/generated"
	"secgw/internal/xpath"
)

// TestSelectHidesSecrets checks that, without SelectOptions.Secrets, a
// secret leaf does not exist for the expression: over two trees that
// differ only in their secrets, every expression selects the same nodes,
// whatever function or comparison reads the secrets, so nothing can be
// learned of them. With Secrets the same expressions tell the trees apart.
func TestSelectHidesSecrets(t *testing.T) {
	s, v := setup(t)
	tree := func(psk, tmpl, ppk, ha string) *generated.Device {
		d := &generated.Device{}
		apply(t, s, d, base...)
		apply(t, s, d,
			"/ vrf main ike vpn hq ike-policy pre-shared-key "+psk,
			"/ vrf main ike ike-policy-template t1 pre-shared-key "+tmpl,
			"/ vrf main ike ppk k1 secret "+ppk,
			"/ vrf main vrrp group vg instance eth0 notify-ha-group g1",
			"/ vrf main ike ha listen-ha-group g1 node-id 1 local-address 10.9.0.1 remote-address 10.9.0.2 secret "+ha)
		return d
	}
	a := tree("abc-psk", "tmpl-psk", "0x00112233445566778899aabbccddeeff", "0123456789abcdef0123")
	b := tree("zzz", "other", "0sQUJDREVGR0g=", "fedcba9876543210fedc")
	// Each expression selects something in a and nothing in b, for a
	// reader who sees secrets.
	exprs := []string{
		"/vrf/ike/vpn[contains(ike-policy/pre-shared-key, 'a')]",
		"/vrf/ike/vpn[substring(ike-policy/pre-shared-key, 1, 1) = 'a']",
		"/vrf/ike/vpn[ike-policy/pre-shared-key = 'abc-psk']",
		"/vrf/ike/vpn[string-length(ike-policy/pre-shared-key) = 7]",
		"/vrf/ike/vpn[string-length(ike-policy/pre-shared-key) > 5]",
		"/vrf/ike/vpn[contains(string(ike-policy), 'abc')]",
		"/vrf/ike/vpn[contains(string(/), 'abc-psk')]",
		"/vrf/ike/vpn[contains(concat(ike-policy/template, ike-policy/pre-shared-key), 't1abc')]",
		"/vrf/ike/ike-policy-template[starts-with(pre-shared-key, 'tmpl')]",
		"/vrf/ike/ppk[substring-before(secret, '1') = '0x00']",
		"/vrf/ike/ppk[translate(secret, 'x', 'y') = '0y00112233445566778899aabbccddeeff']",
		"/vrf/ike/ppk[re-match(secret, '0x.*')]",
		"/vrf/ike/ha[starts-with(secret, '0123')]",
		"//*[. = 'abc-psk']",
		"//*[starts-with(., '0x0011')]",
	}
	ctx := context.Background()
	for _, x := range exprs {
		ra, err := v.Select(ctx, a, x, SelectOptions{})
		if err != nil {
			t.Fatalf("%s: %v", x, err)
		}
		rb, err := v.Select(ctx, b, x, SelectOptions{})
		if err != nil {
			t.Fatalf("%s: %v", x, err)
		}
		if len(ra) != 0 || len(rb) != 0 {
			t.Errorf("without secrets, %s selects %v and %v; want nothing in both trees", x, ra, rb)
		}
		sa, err := v.Select(ctx, a, x, SelectOptions{Secrets: true})
		if err != nil {
			t.Fatal(err)
		}
		sb, err := v.Select(ctx, b, x, SelectOptions{Secrets: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(sa) == 0 || len(sb) != 0 {
			t.Errorf("with secrets, %s selects %v and %v; want something, then nothing", x, sa, sb)
		}
	}
	// Existence of a secret is as hidden as its value (encode leaves it
	// out too), and the rest of the tree is there for the reader.
	for _, c := range []struct {
		x    string
		want int
	}{
		{"//pre-shared-key | //secret", 0},
		{"/vrf/ike/vpn[ike-policy/pre-shared-key]", 0},
		{"/vrf/ike/vpn[count(ike-policy/*) = 1]", 1}, // template only
		{"/vrf/ike/vpn[ike-policy/template = 't1']/name", 1},
		{"/vrf/ike/ppk[substring-before(secret, '1') = '']", 1}, // secret is an empty node-set
	} {
		got, err := v.Select(ctx, a, c.x, SelectOptions{})
		if err != nil || len(got) != c.want {
			t.Errorf("without secrets, %s selects %v (%v); want %d nodes", c.x, got, err, c.want)
		}
	}
}

// TestSelectLimits checks that an expensive expression stops with
// ErrLimit, by step budget or by deadline, and a cheap one does not.
func TestSelectLimits(t *testing.T) {
	s, v := setup(t)
	d := concentrator(t, s, 500)
	ctx := context.Background()
	const quad = "/vrf/ike/vpn[name = /vrf/ike/vpn/name]"
	_, err := v.Select(ctx, d, quad, SelectOptions{MaxSteps: 100_000})
	var le *xpath.LimitError
	if !errors.Is(err, ErrLimit) || !errors.As(err, &le) || !errors.Is(err, xpath.ErrStepLimit) {
		t.Fatalf("quadratic predicate with a step budget: %v", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = v.Select(tctx, d, "count(/vrf/ike/vpn[count(/vrf/ike/vpn[name = /vrf/ike/vpn/name]) > 0])", SelectOptions{})
	if !errors.Is(err, ErrLimit) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("nested count with a deadline: %v", err)
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("stopped %v after start, deadline 20ms", el)
	}
	got, err := v.Select(ctx, d, "/vrf/ike/vpn[name = 'vpn00017']", SelectOptions{MaxSteps: 100_000})
	if err != nil || len(got) != 1 {
		t.Errorf("cheap select: %v %v", got, err)
	}
	if _, err := v.Select(ctx, d, "count(/vrf)", SelectOptions{}); err == nil || errors.Is(err, ErrLimit) {
		t.Errorf("a number instead of a node-set: %v", err)
	}
}

// TestTypeErrorsHideSecrets checks that a secret leaf's value outside its
// type (length, pattern) is reported without the value.
func TestTypeErrorsHideSecrets(t *testing.T) {
	s, v := setup(t)
	long := "LEAKME" + strings.Repeat("x", 1100)
	for _, c := range []struct{ line, value, path string }{
		{"/ vrf main ike vpn hq ike-policy pre-shared-key " + long, long, "/vrf[name='main']/ike/vpn[name='hq']/ike-policy/pre-shared-key"},
		{"/ vrf main ike ike-policy-template t1 pre-shared-key " + long, long, "/vrf[name='main']/ike/ike-policy-template[name='t1']/pre-shared-key"},
		{"/ vrf main ike ppk k1 secret " + long, long, "/vrf[name='main']/ike/ppk[name='k1']/secret"},
		{"/ vrf main ike ha listen-ha-group g1 node-id 1 local-address 10.9.0.1 remote-address 10.9.0.2 secret LEAKshort", "LEAKshort", "/vrf[name='main']/ike/ha/secret"},
	} {
		d := &generated.Device{}
		apply(t, s, d, base...)
		apply(t, s, d, "/ vrf main vrrp group vg instance eth0 notify-ha-group g1", c.line)
		for how, err := range map[string]error{"full": v.Validate(d), "incremental": v.ValidateChange(d, nil)} {
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("%s: %s: no error: %v", c.path, how, err)
			}
			found := false
			for _, e := range es {
				if strings.Contains(e.Message, "LEAK") || strings.Contains(e.Error(), "LEAK") {
					t.Errorf("%s: %s: the error shows the secret: %.200s", c.path, how, e.Error())
				}
				found = found || (e.Kind == KindType && e.Path == c.path && strings.Contains(e.Message, "has length"))
			}
			if !found {
				t.Errorf("%s: %s: no length error at the path: %v", c.path, how, es)
			}
		}
	}
}
