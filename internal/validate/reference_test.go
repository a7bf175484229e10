package validate

import (
	"testing"

	"secgw/generated"
	"secgw/internal/configtest"
	"secgw/internal/schema"
)

var testSchema *schema.Schema
var testValidator *Validator

func setup(t testing.TB) (*schema.Schema, *Validator) {
	t.Helper()
	if testValidator != nil {
		return testSchema, testValidator
	}
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	testSchema, testValidator = s, v
	return s, v
}

func apply(t testing.TB, s *schema.Schema, d *generated.Device, lines ...string) {
	t.Helper()
	configtest.Apply(t, s, d, lines...)
}

// TestReferenceConfigLines applies every configuration line of the vsr
// guide, in order, and validates the result.
func TestReferenceConfigLines(t *testing.T) {
	s, v := setup(t)
	if n := len(configtest.Lines(t, "vsr-config-lines.txt")); n != 75 {
		t.Fatalf("test data has %d lines, the guide has 75", n)
	}
	d := configtest.Reference(t, s)
	if err := v.Validate(d); err != nil {
		t.Fatalf("the guide's configuration does not validate:\n%v", err)
	}
	// Spot checks that the lines landed where the guide says.
	ike := d.Vrf["main"].Ike
	if got := ike.GlobalOptions.GetRetransmitTries(); got != 3 {
		t.Errorf("retransmit-tries = %d, want 3", got)
	}
	if got := ike.GlobalOptions.SpHashIpv6.GetRemote(); got != 64 {
		t.Errorf("sp-hash-ipv6 remote = %d, want 64", got)
	}
	if got := ike.IpsecPolicyTemplate["ipsectemp1"].EspProposal[3].Esn; len(got) != 2 || got[0] != true || got[1] != false {
		t.Errorf("esp-proposal 3 esn = %v, want [true false]", got)
	}
	if got := ike.Vpn["vpn-secgw"].VipPool; len(got) != 2 || got[1] != "radius" {
		t.Errorf("vip-pool = %v", got)
	}
	if got := d.Vrf["untrusted"].Ike.Vpn["myvpn"].SecurityPolicy["mytunnel"].InjectRoutes.GetTable(); got != 300 {
		t.Errorf("inject-routes table = %d", got)
	}
}
