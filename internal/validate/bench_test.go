package validate

import (
	"fmt"
	"testing"

	"secgw/generated"
	"secgw/internal/schema"
)

// concentrator builds the configuration of the vSecGW concentrator
// reference scaled to n VPNs: two templates, and per VPN its peer, its
// identities and four security policies.
func concentrator(t testing.TB, s *schema.Schema, n int) *generated.Device {
	t.Helper()
	d := &generated.Device{}
	apply(t, s, d,
		"/ vrf main ike ike-policy-template vpnc_ike ike-proposal 1 aead-alg aes128-gcm-96 prf-alg hmac-sha1 dh-group modp2048",
		"/ vrf main ike ike-policy-template vpnc_ike unique-sa replace rekey-time 0 mobike true",
		"/ vrf main ike ipsec-policy-template vpnc_esp esp-proposal 1 aead-alg aes128-gcm-128 esn true",
		"/ vrf main ike ipsec-policy-template vpnc_esp start-action none close-action none replay-window 4096 rekey-time 0",
	)
	ike := d.Vrf["main"].Ike
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("vpn%05d", i)
		v := ike.GetOrCreateVpn(name)
		v.GetOrCreateIkePolicy().Template = ygotString("vpnc_ike")
		v.GetOrCreateIpsecPolicy().Template = ygotString("vpnc_esp")
		v.LocalAddress = ygotString("250.0.0.2")
		v.RemoteAddress = ygotString(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
		v.LocalId = ygotString("vpnc.example.com")
		v.RemoteId = ygotString(fmt.Sprintf("ucpe%05d.example.com", i))
		for j := 0; j < 4; j++ {
			sp := v.GetOrCreateSecurityPolicy(fmt.Sprintf("sp%05d_%d", i, j))
			sp.GetOrCreateLocalTs().Subnet = ygotString(fmt.Sprintf("172.%d.0.0/24", 26+j))
			sp.GetOrCreateRemoteTs().Subnet = ygotString(fmt.Sprintf("100.%d.%d.0/24", j*16+i>>8&15, i&255))
		}
	}
	return d
}

func ygotString(s string) *string { return &s }

func TestConcentratorValid(t *testing.T) {
	s, v := setup(t)
	d := concentrator(t, s, 500)
	if err := v.Validate(d); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkValidateFull10k validates the whole 10k-VPN configuration
// (target: 200 ms).
func BenchmarkValidateFull10k(b *testing.B) {
	s, v := setup(b)
	d := concentrator(b, s, 10000)
	b.ResetTimer()
	for b.Loop() {
		if err := v.Validate(d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateOneVPN10k validates one changed VPN in the 10k-VPN
// configuration (target: 1 ms).
func BenchmarkValidateOneVPN10k(b *testing.B) {
	s, v := setup(b)
	d := concentrator(b, s, 10000)
	p := schema.DataPath{{Name: "vrf", KeyName: "name", Key: "main"}, {Name: "ike"}, {Name: "vpn", KeyName: "name", Key: "vpn05000"}}
	// The datastore validated the tree in full before (at load or at the
	// previous commit); incremental checks follow.
	if err := v.Validate(d); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := v.ValidateChange(d, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkYgotValidate10k is the baseline: ygot's own Validate of the same
// tree, which checks types, patterns and leafrefs but no must, when,
// mandatory or unique.
func BenchmarkYgotValidate10k(b *testing.B) {
	s, _ := setup(b)
	d := concentrator(b, s, 10000)
	b.ResetTimer()
	for b.Loop() {
		if err := d.ΛValidate(); err != nil {
			b.Fatal(err)
		}
	}
}
