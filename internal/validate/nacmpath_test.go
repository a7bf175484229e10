package validate

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/nacm"
	"secgw/internal/schema"
)

// TestRulePath: a rule's path resolves against the schema, its keys in
// canonical form (a uint8 key written 007 is 7, as the entry's key is);
// what names no node, or is not a key value, is refused in words.
func TestRulePath(t *testing.T) {
	_, v := setup(t)
	got, err := v.RulePath("/vrf[name='main']/ike/vpn[name='acme']/ike-policy/ike-proposal[id='007']")
	if err != nil {
		t.Fatal(err)
	}
	want := []nacm.Step{{Name: "vrf", Key: "main", Keyed: true}, {Name: "ike"}, {Name: "vpn", Key: "acme", Keyed: true},
		{Name: "ike-policy"}, {Name: "ike-proposal", Key: "7", Keyed: true}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got, err := v.RulePath("/"); err != nil || len(got) != 0 {
		t.Errorf("/: %v %v", got, err)
	}
	for path, msg := range map[string]string{
		"/vrf/ike/vpn/ike-policy/ike-proposal[id='x']": `"x" is not a value of the key id`,
		"/nope":          "no node nope under /",
		"/vrf/ike/vpn/x": "no node x under /vrf/ike/vpn",
	} {
		if _, err := v.RulePath(path); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want %q", path, err, msg)
		}
	}
}

// TestValidateRefusesRulePath: validation reports a bad rule path at the
// rule's path leaf, as invalid-value.
func TestValidateRefusesRulePath(t *testing.T) {
	_, v := setup(t)
	d := &generated.Device{}
	d.GetOrCreateVrf("main")
	rl, _ := d.GetOrCreateNacm().AppendNewRuleList("it's")
	r, _ := rl.AppendNewRule("r")
	p := "/vrf/ike/vpnx"
	r.Path = &p
	r.Action = generated.IETFNetconfAcm_ActionType_deny
	err := v.Validate(d)
	errs, ok := err.(Errors)
	if !ok || len(errs) != 1 {
		t.Fatalf("Validate: %v, want one error", err)
	}
	if e := errs[0]; e.Path != `/nacm/rule-list[name="it's"]/rule[name='r']/path` || e.ErrorTag() != "invalid-value" || !strings.Contains(e.Message, "no node vpnx") {
		t.Errorf("got %s (%s), want invalid-value at the rule's path", e, e.ErrorTag())
	}
	p = "/vrf/ike/vpn"
	if err := v.Validate(d); err != nil {
		t.Errorf("a good path: %v", err)
	}
}

// TestSelectRead: with SelectOptions.Read, what it denies is not in the
// tree the expression sees: not selected, not counted, not compared.
func TestSelectRead(t *testing.T) {
	s, v := setup(t)
	d := &generated.Device{}
	apply(t, s, d,
		"vrf main ike vpn hq remote-address 198.51.100.1",
		"vrf main ike vpn acme remote-address 198.51.100.2")
	deny := func(ns string, p schema.DataPath, secret bool) bool {
		if strings.Contains(p.String(), "[name='acme']") {
			return false
		}
		return !(len(p) == 4 && p[3].Name == "remote-address" && p[2].Key == "hq")
	}
	for expr, want := range map[string]string{
		"/vrf/ike/vpn":                                       "hq",
		"/vrf/ike/vpn[name='acme']":                          "",
		"/vrf/ike/vpn[remote-address='198.51.100.1']":        "",
		"/vrf/ike/vpn[remote-address]":                       "",
		"/vrf[count(ike/vpn) = 1]/ike/vpn":                   "hq",
		"/vrf/ike/vpn[not(remote-address)]":                  "hq",
		"/vrf/ike/vpn[../vpn/remote-address='198.51.100.2']": "",
	} {
		sels, err := v.Select(context.Background(), d, expr, SelectOptions{Secrets: true, Read: deny})
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		var got []string
		for _, sel := range sels {
			got = append(got, sel.Path[len(sel.Path)-1].Key)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s: selected %v, want %q", expr, got, want)
		}
	}
}
