package config

import (
	"testing"

	"secgw/internal/ike/wire"
)

// TestParseIdentityKinds: addresses (IPv4, IPv6, IPv6 with a zone, which
// is dropped from the ID as netip keeps none in As16) are address
// identities; names that look partly like addresses are not.
func TestParseIdentityKinds(t *testing.T) {
	for _, c := range []struct {
		s    string
		want wire.IDType
	}{
		{"192.0.2.1", wire.IDIPv4Addr},
		{"2001:db8::1", wire.IDIPv6Addr},
		{"2001:DB8::A", wire.IDIPv6Addr},
		{"fe80::1%eth0", wire.IDIPv6Addr},
		{"::ffff:192.0.2.1", wire.IDIPv4Addr},
		{"cafe.be", wire.IDFQDN},
		{"vpnc.example.com", wire.IDFQDN},
		{"192.0.2.1.example", wire.IDFQDN},
		{"user@example.com", wire.IDRFC822Addr},
		{"keyid:abc", wire.IDKeyID},
	} {
		id, err := ParseIdentity(c.s)
		if err != nil || id.Type != c.want {
			t.Errorf("ParseIdentity(%q) = type %v, %v; want %v", c.s, id.Type, err, c.want)
		}
	}
}

// BenchmarkParseIdentityFQDN: a name is no address; parsing it allocates
// its data alone.
func BenchmarkParseIdentityFQDN(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseIdentity("ucpe00001.example.com"); err != nil {
			b.Fatal(err)
		}
	}
}
