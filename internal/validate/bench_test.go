package validate

import (
	"testing"

	"secgw/generated"
	"secgw/internal/configtest"
	"secgw/internal/schema"
)

func concentrator(t testing.TB, s *schema.Schema, n int) *generated.Device {
	return configtest.Concentrator(t, s, n)
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
