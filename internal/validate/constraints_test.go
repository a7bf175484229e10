package validate

import (
	"errors"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/cliedit"
	"secgw/internal/schema"
)

// base is a small valid configuration the constraint cases start from.
var base = []string{
	"/ vrf main ike ike-policy-template t1 ike-proposal 1 aead-alg aes256-gcm-128 prf-alg hmac-sha256 dh-group ecp256",
	"/ vrf main ike ipsec-policy-template e1 esp-proposal 1 aead-alg aes256-gcm-128",
	"/ vrf main ike vpn hq ike-policy template t1",
	"/ vrf main ike vpn hq ipsec-policy template e1",
	"/ vrf main ike vpn hq local-address 192.0.2.1 remote-address 198.51.100.1",
	"/ vrf main ike vpn hq security-policy trunk local-ts subnet 192.168.0.0/24",
	"/ vrf main ike vpn hq security-policy trunk remote-ts subnet 192.168.99.0/24",
	"/ vrf main ike pool p1 address 10.1.0.0/24",
	"/ vrf main ike ppk k1 id alice secret 0x00112233445566778899aabbccddeeff",
}

func TestBaseIsValid(t *testing.T) {
	s, v := setup(t)
	d := &generated.Device{}
	apply(t, s, d, base...)
	if err := v.Validate(d); err != nil {
		t.Fatal(err)
	}
}

// TestConstraints breaks the base configuration one constraint at a time
// and checks the error: its kind, the data path it names, and its words.
func TestConstraints(t *testing.T) {
	const vpn = "/vrf[name='main']/ike/vpn[name='hq']"
	cases := []struct {
		name  string
		lines []string
		kind  Kind
		path  string
		msg   string
	}{
		{"range integer", []string{"/ vrf main ike global-options retransmit-tries 101"},
			KindType, "/vrf[name='main']/ike/global-options/retransmit-tries", "101 is out of range 0..100"},
		{"range decimal", []string{"/ vrf main ike global-options retransmit-timeout 60.5"},
			KindType, "/vrf[name='main']/ike/global-options/retransmit-timeout", "60.5 is out of range 0.000..60.000"},
		{"range with gaps", []string{"/ vrf main ike global-options routing-table 254"},
			KindType, "/vrf[name='main']/ike/global-options/routing-table", "254 is out of range"},
		{"range replay-window", []string{"/ vrf main ike ipsec-policy-template e1 replay-window 4097"},
			KindType, "/vrf[name='main']/ike/ipsec-policy-template[name='e1']/replay-window", "4097 is out of range 0..4096"},
		{"pattern duration", []string{"/ vrf main ike ike-policy-template t1 dpd-delay 10sec"},
			KindType, "/vrf[name='main']/ike/ike-policy-template[name='t1']/dpd-delay", `"10sec" does not match the pattern`},
		{"pattern address", []string{"/ vrf main ike vpn hq remote-address 198.51.100.300"},
			KindType, vpn + "/remote-address", `"198.51.100.300" is not a valid value`},
		{"length", []string{"/ vrf main ike global-options install-vip-on a-very-long-interface-name"},
			KindType, "/vrf[name='main']/ike/global-options/install-vip-on", "has length 26, allowed 1..15"},
		{"mandatory", []string{"/ vrf main ike ppk k2 id bob"},
			KindMandatory, "/vrf[name='main']/ike/ppk[name='k2']", "secret is mandatory"},
		{"mandatory in presence container", []string{
			"/ vrf main ike vpn hq security-policy trunk svti-id-out 10",
			"/ vrf main ike vpn hq security-policy trunk inject-routes table 300"},
			KindMandatory, vpn + "/security-policy[name='trunk']/inject-routes", "next-hop is mandatory"},
		{"must aead and enc", []string{"/ vrf main ike ike-policy-template t1 ike-proposal 1 enc-alg aes128-cbc"},
			KindMust, "/vrf[name='main']/ike/ike-policy-template[name='t1']/ike-proposal[id='1']", "with an aead-alg takes no enc-alg or auth-alg"},
		{"must enc needs auth", []string{"/ vrf main ike ipsec-policy-template e1 esp-proposal 2 enc-alg aes128-cbc"},
			KindMust, "/vrf[name='main']/ike/ipsec-policy-template[name='e1']/esp-proposal[id='2']", "with an enc-alg needs an auth-alg"},
		{"must empty proposal", []string{"/ vrf main ike vpn hq ike-policy ike-proposal 3 dh-group ecp256"},
			KindMust, vpn + "/ike-policy/ike-proposal[id='3']", "needs an enc-alg or an aead-alg"},
		{"must address family", []string{"/ vrf main ike vpn hq remote-address 2001:db8::1"},
			KindMust, vpn, "same address family"},
		{"must ts family", []string{"/ vrf main ike vpn hq security-policy trunk remote-ts subnet 2001:db8::/64"},
			KindMust, vpn + "/security-policy[name='trunk']", "same address family"},
		{"must with defaults", []string{"/ vrf main ike global-options sa-table-segments 4"},
			KindMust, "/vrf[name='main']/ike/global-options", "sa-table-segments cannot exceed sa-table-size"},
		{"must exclusive", []string{
			"/ vrf main ike vpn hq security-policy trunk svti-id-out 10",
			"/ vrf main ike vpn hq security-policy trunk inject-routes next-hop svti10 table 300 l3vrf blue"},
			KindMust, vpn + "/security-policy[name='trunk']/inject-routes", "table and l3vrf are exclusive"},
		{"when", []string{"/ vrf main ike vpn hq security-policy trunk inject-routes next-hop svti10"},
			KindWhen, vpn + "/security-policy[name='trunk']/inject-routes", "only allowed when ../svti-id-out"},
		{"leafref template", []string{"/ vrf main ike vpn hq ike-policy template nope"},
			KindLeafref, vpn + "/ike-policy/template", `no ike-policy-template with name "nope" exists`},
		{"leafref ipsec template", []string{"/ vrf main ike vpn hq ipsec-policy template nope"},
			KindLeafref, vpn + "/ipsec-policy/template", `no ipsec-policy-template with name "nope" exists`},
		{"leafref ppk", []string{"/ vrf main ike vpn hq ppk nope"},
			KindLeafref, vpn + "/ppk", `no ppk with name "nope" exists`},
		{"leafref vrf", []string{
			"/ vrf main ike vpn hq security-policy trunk svti-id-out 10",
			"/ vrf main ike vpn hq security-policy trunk inject-routes next-hop svti10 vrf trusted"},
			KindLeafref, vpn + "/security-policy[name='trunk']/inject-routes/vrf", `no vrf with name "trusted" exists`},
		{"unique", []string{"/ vrf main ike ppk k2 id alice secret 0x0102"},
			KindUnique, "/vrf[name='main']/ike/ppk[name='k2']", "same id as ppk \"k1\""},
		{"min-elements", []string{"/ vrf main ike pool p2 dns 192.0.2.53"},
			KindMinElements, "/vrf[name='main']/ike/pool[name='p2']", "address needs at least 1 entries, has 0"},
		{"max-elements", []string{"/ vrf main ike pool p1 netmask 255.255.255.0 netmask ffff:: netmask 255.0.0.0"},
			KindMaxElements, "/vrf[name='main']/ike/pool[name='p1']", "netmask allows at most 2 entries, has 3"},
		{"missing pool", []string{"/ vrf main ike vpn hq vip-pool nope"},
			KindReference, vpn + "/vip-pool", `no pool named "nope" exists`},
		{"ppk identity forms", []string{"/ vrf main ike ppk k2 id-hex 616c696365 secret s"},
			KindReference, "/vrf[name='main']/ike/ppk[name='k2']", "same identity as ppk \"k1\""},
		{"ppk id and id-hex", []string{"/ vrf main ike ppk k1 id-hex 01"},
			KindMust, "/vrf[name='main']/ike/ppk[name='k1']", "exactly one of id and id-hex"},
		{"security policy names", []string{
			"/ vrf main ike vpn spoke remote-address 198.51.100.2",
			"/ vrf main ike vpn spoke security-policy trunk local-ts subnet 10.0.0.0/8"},
			KindReference, "/vrf[name='main']/ike/vpn[name='spoke']/security-policy[name='trunk']", "also exists in vpn \"hq\""},
		{"pool range", []string{"/ vrf main ike pool p1 address 10.0.0.9-10.0.0.1"},
			KindType, "/vrf[name='main']/ike/pool[name='p1']/address", "ends before it starts"},
		{"require-ppk", []string{"/ vrf main ike ike-policy-template t1 require-ppk true"},
			KindReference, vpn + "/ppk", "require-ppk is true for this VPN but it names no ppk"},
		{"ha listen group", []string{"/ vrf main ike ha listen-ha-group g1 node-id 1 local-address 10.9.0.1 remote-address 10.9.0.2 secret 0123456789abcdef0123"},
			KindMust, "/vrf[name='main']/ike/ha", "no VRRP group notifies the listen-ha-group"},
		{"ha pool", []string{
			"/ vrf main vrrp group vg instance eth0 notify-ha-group g1",
			"/ vrf main ike ha listen-ha-group g1 node-id 1 local-address 10.9.0.1 remote-address 10.9.0.2 secret 0123456789abcdef0123",
			"/ vrf main ike vpn hq vip-pool p1"},
			KindReference, vpn + "/vip-pool", "not synchronized with the HA peer"},
	}
	s, v := setup(t)
	ed := &cliedit.Editor{S: s}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := &generated.Device{}
			apply(t, s, d, base...)
			var last schema.DataPath
			for _, l := range c.lines {
				p, err := ed.Set(d, nil, cliedit.Fields(l))
				if err != nil {
					t.Fatalf("%s: %v", l, err)
				}
				last = p
			}
			check := func(how string, err error) {
				t.Helper()
				var es Errors
				if !errors.As(err, &es) {
					t.Fatalf("%s: got %v, want a %s error at %s", how, err, c.kind, c.path)
				}
				for _, e := range es {
					if e.Kind == c.kind && e.Path == c.path && strings.Contains(e.Message, c.msg) {
						return
					}
				}
				t.Errorf("%s: want %s error at %s containing %q, got:\n%v", how, c.kind, c.path, c.msg, es)
			}
			check("full", v.Validate(d))
			// Incremental validation of the subtree the last line edited
			// must find the same error.
			check("incremental "+last.String(), v.ValidateChange(d, last))
		})
	}
}

func TestMissingMainVRF(t *testing.T) {
	s, v := setup(t)
	d := &generated.Device{}
	apply(t, s, d, "/ vrf other")
	err := v.Validate(d)
	if err == nil || !strings.Contains(err.Error(), "vrf main must exist") {
		t.Fatalf("got %v", err)
	}
}

// TestDeletedTarget checks the reverse dependency analysis: deleting a
// template breaks the VPNs that use it, and a change at the template's
// path finds them.
func TestDeletedTarget(t *testing.T) {
	s, v := setup(t)
	d := &generated.Device{}
	apply(t, s, d, base...)
	d.Vrf["main"].Ike.DeleteIkePolicyTemplate("t1")
	p := schema.DataPath{{Name: "vrf", KeyName: "name", Key: "main"}, {Name: "ike"}, {Name: "ike-policy-template", KeyName: "name", Key: "t1"}}
	err := v.ValidateChange(d, p)
	if err == nil || !strings.Contains(err.Error(), `no ike-policy-template with name "t1" exists`) {
		t.Fatalf("got %v", err)
	}
}

// TestParallelOrder breaks entries of a list large enough to be checked on
// all CPUs: the errors come in tree order whatever the scheduling.
func TestParallelOrder(t *testing.T) {
	s, v := setup(t)
	d := concentrator(t, s, 2*parallelMin)
	ike := d.Vrf["main"].Ike
	broken := []string{"vpn00003", "vpn00600", "vpn01020"}
	for _, name := range broken {
		ike.Vpn[name].IkePolicy.Template = ygotString("missing")
	}
	for i := 0; i < 5; i++ {
		var es Errors
		if !errors.As(v.Validate(d), &es) || len(es) != len(broken) {
			t.Fatalf("got %v", es)
		}
		for j, e := range es {
			if !strings.Contains(e.Path, broken[j]) {
				t.Fatalf("error %d at %s, want %s", j, e.Path, broken[j])
			}
		}
	}
}
