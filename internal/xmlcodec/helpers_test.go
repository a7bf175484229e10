package xmlcodec

import (
	"bytes"
	"path/filepath"
	"sync"
	"testing"

	"secgw/generated"
	"secgw/internal/configtest"
	goldenfile "secgw/internal/golden"
	"secgw/internal/schema"
)

var (
	schemaOnce sync.Once
	testSchema *schema.Schema
	testCodec  *Codec
	schemaErr  error
)

func loadSchema(t testing.TB) *schema.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		if testSchema, schemaErr = schema.Load(); schemaErr == nil {
			testCodec, schemaErr = New(testSchema)
		}
	})
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
	return testSchema
}

// codecOf is the codec of s, the tests' schema (built once with it).
func codecOf(s *schema.Schema) *Codec {
	if s != testSchema {
		panic("xmlcodec tests: codecOf of another schema")
	}
	return testCodec
}

// apply runs configuration-mode lines on d, as the CLI would.
func apply(t testing.TB, s *schema.Schema, d *generated.Device, lines ...string) {
	t.Helper()
	configtest.Apply(t, s, d, lines...)
}

// referenceTree is the configuration of the vsr guide.
func referenceTree(t testing.TB, s *schema.Schema) *generated.Device {
	return configtest.Reference(t, s)
}

// smallLines is the small configuration of the golden files: a vrf
// description, IKE options (one set to its default), a VPN with a secret,
// a security policy, VRRP and IKE HA (two more namespaces).
var smallLines = []string{
	`/ vrf main description "main & <only>"`,
	"/ vrf main ike global-options retransmit-tries 3 retransmit-timeout 4.0",
	"/ vrf main ike vpn hq remote-address 198.51.100.1 local-address 198.51.100.2",
	"/ vrf main ike vpn hq ike-policy pre-shared-key s3cr3t-psk",
	"/ vrf main ike vpn hq vip-pool p2",
	"/ vrf main ike vpn hq vip-pool p1",
	"/ vrf main ike vpn hq security-policy sp1 local-ts subnet 10.0.0.0/24",
	"/ vrf main ike vpn hq security-policy sp1 remote-ts subnet 10.1.0.0/24",
	"/ vrf main ike vpn hq security-policy sp1 mode tunnel svti-id-out 7",
	"/ vrf main ike vpn hq security-policy sp1 inject-routes next-hop eth0",
	"/ vrf main vrrp group g1 instance eth1 notify-ha-group hag",
	"/ vrf main ike ha listen-ha-group hag node-id 1 local-address 192.0.2.1 remote-address 192.0.2.2",
	"/ vrf main ike ha secret 0123456789abcdef-ha",
}

func smallTree(t testing.TB, s *schema.Schema) *generated.Device {
	t.Helper()
	d := &generated.Device{}
	apply(t, s, d, smallLines...)
	return d
}

// concentrator builds the vSecGW concentrator reference scaled to n VPNs.
func concentrator(t testing.TB, s *schema.Schema, n int) *generated.Device {
	return configtest.Concentrator(t, s, n)
}

func str(s string) *string { return &s }

func encode(t testing.TB, s *schema.Schema, d *generated.Device, opts EncodeOptions) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := codecOf(s).Encode(&b, d, opts); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// golden compares got with testdata/golden/name, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", "golden", name), got)
}
