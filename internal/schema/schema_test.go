package schema

import (
	"reflect"
	"strings"
	"testing"

	"secgw/generated"
)

func load(t testing.TB) *Schema {
	t.Helper()
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReferenceDefaults checks the defaults and ranges the vsr guide states.
func TestReferenceDefaults(t *testing.T) {
	s := load(t)
	cases := []struct {
		path, dflt, rng string
	}{
		{"vrf/ike/global-options/initiator-only", "false", ""},
		{"vrf/ike/global-options/retransmit-tries", "5", "0..100"},
		{"vrf/ike/global-options/retransmit-timeout", "4.0", "0.000..60.000"},
		{"vrf/ike/global-options/retransmit-base", "1.8", "0.000..10.000"},
		{"vrf/ike/global-options/retransmit-jitter", "0", "0..20"},
		{"vrf/ike/global-options/retransmit-limit", "0", "0..100"},
		{"vrf/ike/global-options/acquire-timeout", "30", ""},
		{"vrf/ike/global-options/dos-protection/cookie-threshold", "10", ""},
		{"vrf/ike/global-options/dos-protection/block-threshold", "5", ""},
		{"vrf/ike/global-options/dos-protection/init-limit-half-open", "0", ""},
		{"vrf/ike/global-options/dos-protection/init-limit-job-load", "0", ""},
		{"vrf/ike/global-options/dos-protection/ike-sa-limit", "0", ""},
		{"vrf/ike/global-options/threads", "16", ""},
		{"vrf/ike/global-options/sa-table-size", "1", ""},
		{"vrf/ike/global-options/sa-table-segments", "1", ""},
		{"vrf/ike/global-options/sp-hash-ipv4/local", "32", "0..32"},
		{"vrf/ike/global-options/sp-hash-ipv4/remote", "32", "0..32"},
		{"vrf/ike/global-options/sp-hash-ipv6/local", "128", "0..128"},
		{"vrf/ike/global-options/sp-hash-ipv6/remote", "128", "0..128"},
		{"vrf/ike/global-options/install-routes", "false", ""},
		{"vrf/ike/global-options/routing-table", "220", ""},
		{"vrf/ike/global-options/routing-table-prio", "220", ""},
		{"vrf/ike/global-options/make-before-break", "false", ""},
		{"vrf/ike/global-options/mobike-prefer-best-path", "false", ""},
		{"vrf/ike/global-options/snmp", "false", ""},
		{"vrf/ike/logging/daemon/default", "0", ""},
		{"vrf/ike/logging/authpriv/default", "disable", ""},
		{"vrf/ike/ike-policy-template/dpd-delay", "0", ""},
		{"vrf/ike/ike-policy-template/require-ppk", "false", ""},
		{"vrf/ike/ike-policy-template/mobike", "false", ""},
		{"vrf/ike/ipsec-policy-template/replay-window", "32", "0..4096"},
		{"vrf/ike/ipsec-policy-template/start-action", "trap", ""},
		{"vrf/ike/ipsec-policy-template/dpd-action", "restart", ""},
		{"vrf/ike/vpn/enabled", "true", ""},
		{"vrf/ike/vpn/version", "2", ""},
		{"vrf/ike/vpn/security-policy/action", "esp", ""},
		{"vrf/ike/vpn/security-policy/mode", "tunnel", ""},
		{"vrf/ike/vpn/security-policy/priority", "0", ""},
	}
	for _, c := range cases {
		e := s.Find(strings.Split(c.path, "/")...)
		if e == nil {
			t.Errorf("%s: no such node", c.path)
			continue
		}
		if d, _ := e.SingleDefaultValue(); d != c.dflt {
			t.Errorf("%s: default %q, the guide says %q", c.path, d, c.dflt)
		}
		if c.rng != "" && e.Type.Range.String() != c.rng {
			t.Errorf("%s: range %s, the guide says %s", c.path, e.Type.Range, c.rng)
		}
	}
	// In a VPN, an unset leaf inherits its template's value: the inline
	// policy leaves have no defaults of their own.
	for _, p := range []string{"vrf/ike/vpn/ike-policy/dpd-delay", "vrf/ike/vpn/ipsec-policy/replay-window"} {
		if d, ok := s.Find(strings.Split(p, "/")...).SingleDefaultValue(); ok {
			t.Errorf("%s has default %q; it must inherit the template's", p, d)
		}
	}
}

// TestSecrets checks which nodes are marked as secrets, and that no other
// node is.
func TestSecrets(t *testing.T) {
	s := load(t)
	want := map[string]bool{
		"/aaa/user/password":                           true,
		"/aaa/user/password-hash":                      true,
		"/vrf/ike/ike-policy-template/pre-shared-key":  true,
		"/vrf/ike/vpn/ike-policy/pre-shared-key":       true,
		"/vrf/ike/ppk/secret":                          true,
		"/vrf/ike/radius/server/secret":                true,
		"/vrf/ike/ha/secret":                           true,
		"/vrf/ike/ike-sa/sk-ei":                        true,
		"/vrf/ike/ike-sa/sk-er":                        true,
		"/vrf/ike/ike-sa/sk-ai":                        true,
		"/vrf/ike/ike-sa/sk-ar":                        true,
		"/vrf/ike/ike-sa/child-sa/encr-key-in":         true,
		"/vrf/ike/ike-sa/child-sa/encr-key-out":        true,
		"/vrf/ike/ike-sa/child-sa/integ-key-in":        true,
		"/vrf/ike/ike-sa/child-sa/integ-key-out":       true,
		"/vrf/kpi/prometheus/basic-auth/password-hash": true,
	}
	got := map[string]bool{}
	var walk func(b *Binding)
	seen := map[*Binding]bool{}
	walk = func(b *Binding) {
		if seen[b] {
			return
		}
		seen[b] = true
		for _, f := range b.Fields {
			if f.Secret {
				got[Path(f.Entry)] = true
			}
			if f.Elem != nil {
				walk(f.Elem)
			}
		}
	}
	walk(s.RootBinding())
	if !reflect.DeepEqual(got, want) {
		t.Errorf("secret nodes:\n got %v\nwant %v", got, want)
	}
}

func TestValueRoundTrip(t *testing.T) {
	s := load(t)
	d := &generated.Device{}
	n := s.RootNode(d)
	vrf, _, err := n.Entry(s, n.B.Field("vrf"), "main", true)
	if err != nil {
		t.Fatal(err)
	}
	ike, _ := vrf.Container(vrf.B.Field("ike"), true)
	gopt, _ := ike.Container(ike.B.Field("global-options"), true)
	dos, _ := gopt.Container(gopt.B.Field("dos-protection"), true)
	logging, _ := ike.Container(ike.B.Field("logging"), true)
	daemon, _ := logging.Container(logging.B.Field("daemon"), true)
	for _, c := range []struct {
		n           Node
		leaf, value string
	}{
		{gopt, "retransmit-timeout", "3.5"},
		{gopt, "retransmit-tries", "3"},
		{gopt, "initiator-only", "true"},
		{dos, "cookie-threshold", "always"},
		{dos, "cookie-threshold", "12"},
		{daemon, "ike", "disable"},
		{daemon, "ike", "4"},
	} {
		f := c.n.B.Field(c.leaf)
		if err := c.n.SetLeaf(s, f, c.value); err != nil {
			t.Errorf("%s %s: %v", c.leaf, c.value, err)
			continue
		}
		if got, _ := c.n.Leaf(s, f); got != c.value {
			t.Errorf("%s: set %q, read %q", c.leaf, c.value, got)
		}
	}
	for _, c := range []struct{ leaf, value string }{
		{"retransmit-tries", "300"}, {"retransmit-tries", "-1"}, {"initiator-only", "yes"},
		{"retransmit-timeout", "1.2345"}, {"retransmit-timeout", "abc"},
	} {
		if err := gopt.SetLeaf(s, gopt.B.Field(c.leaf), c.value); err == nil {
			t.Errorf("%s %q accepted", c.leaf, c.value)
		}
	}
	if err := daemon.SetLeaf(s, daemon.B.Field("ike"), "verbose"); err == nil {
		t.Error("log level verbose accepted")
	}
}
