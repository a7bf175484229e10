package xmlcodec

import (
	"bytes"
	"strings"
	"testing"

	"secgw/generated"
)

// The 10k-VPN concentrator configuration (9.6 MB of XML, 340k elements,
// 290k edits: keys make no edit of their own) through each stage of the
// NETCONF server.

func BenchmarkEncode10k(b *testing.B) {
	s := loadSchema(b)
	d := concentrator(b, s, 10000)
	opts := EncodeOptions{Config: true, Secrets: true}
	buf, err := codecOf(s).Append(nil, d, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = codecOf(s).Append(buf[:0], d, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeReportAll10k(b *testing.B) {
	s := loadSchema(b)
	d := concentrator(b, s, 10000)
	opts := EncodeOptions{Config: true, Secrets: true, WithDefaults: ReportAll}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = codecOf(s).Append(buf[:0], d, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeFilter10k selects one VPN by key among 10k.
func BenchmarkEncodeFilter10k(b *testing.B) {
	s := loadSchema(b)
	d := concentrator(b, s, 10000)
	f, err := ParseFilter(strings.NewReader(`<vrf xmlns="urn:secgw:yang:secgw-vrf"><ike xmlns="urn:secgw:yang:secgw-ike"><vpn><name>vpn05000</name></vpn></ike></vrf>`))
	if err != nil {
		b.Fatal(err)
	}
	opts := EncodeOptions{Config: true, Filter: f}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = codecOf(s).Append(buf[:0], d, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode10k(b *testing.B) {
	s := loadSchema(b)
	doc := encode(b, s, concentrator(b, s, 10000), EncodeOptions{Config: true, Secrets: true})
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := codecOf(s).Decode(bytes.NewReader(doc), nil, DecodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkApply10k(b *testing.B) {
	s := loadSchema(b)
	doc := encode(b, s, concentrator(b, s, 10000), EncodeOptions{Config: true, Secrets: true})
	edits, err := codecOf(s).Decode(bytes.NewReader(doc), nil, DecodeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := Apply(s, &generated.Device{}, edits, OpMerge); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEditOneVPN10k is the common <edit-config>: one VPN changed in
// the 10k-VPN configuration, decoded and applied.
func BenchmarkEditOneVPN10k(b *testing.B) {
	s := loadSchema(b)
	d := concentrator(b, s, 10000)
	doc := []byte(`<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">
 <vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name>
  <ike xmlns="urn:secgw:yang:secgw-ike">
   <vpn><name>vpn05000</name>
    <description>moved to the new site</description>
    <remote-address>10.200.0.1</remote-address>
    <security-policy xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="replace"><name>sp05000_0</name>
     <local-ts><subnet>172.26.0.0/24</subnet></local-ts>
     <remote-ts><subnet>100.200.0.0/24</subnet></remote-ts>
    </security-policy>
   </vpn>
  </ike>
 </vrf>
</config>`)
	b.ReportAllocs()
	for b.Loop() {
		edits, err := codecOf(s).Decode(bytes.NewReader(doc), d, DecodeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := Apply(s, d, edits, OpMerge); err != nil {
			b.Fatal(err)
		}
	}
}
