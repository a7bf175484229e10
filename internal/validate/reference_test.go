package validate

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/cli"
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

// apply runs configuration-mode lines on d.
func apply(t testing.TB, s *schema.Schema, d *generated.Device, lines ...string) {
	t.Helper()
	ed := &cli.Editor{S: s}
	for _, l := range lines {
		if _, err := ed.Set(d, nil, cli.Fields(l)); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
	}
}

func readLines(t testing.TB, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// TestReferenceConfigLines applies every configuration line of the vsr
// guide, in order, and validates the result.
func TestReferenceConfigLines(t *testing.T) {
	s, v := setup(t)
	d := &generated.Device{}
	// The guide's preconditions: vrf main always exists, and its
	// inject-routes example says "the svti100 interface must exist in VRF
	// trusted".
	apply(t, s, d, "/ vrf main", "/ vrf trusted")
	lines := readLines(t, "../../test/testdata/vsr-config-lines.txt")
	if len(lines) != 75 {
		t.Fatalf("test data has %d lines, the guide has 75", len(lines))
	}
	apply(t, s, d, lines...)
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
