package wire

import (
	"bytes"
	"net/netip"
	"reflect"
	"secgw/internal/ipsec"
	"strings"
	"testing"
)

func BenchmarkParseSAInit(b *testing.B) {
	data := mustMarshal(b, saInitRequest())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalSAInit(b *testing.B) {
	m := saInitRequest()
	buf := make([]byte, 0, 512)
	b.SetBytes(int64(len(mustMarshal(b, m))))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = m.Append(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func TestNATT(t *testing.T) {
	msg := mustMarshal(t, saInitRequest())
	dg := append(ipsec.AppendNonESPMarker(nil), msg...)
	if ipsec.ClassifyNATT(dg) != ipsec.PacketIKE {
		t.Error("IKE datagram not classified")
	}
	got, ok := ipsec.StripNonESPMarker(dg)
	if !ok || !bytes.Equal(got, msg) {
		t.Error("StripNonESPMarker")
	}
	if _, ok := ipsec.StripNonESPMarker([]byte{0, 0, 0, 1, 2}); ok {
		t.Error("stripped an ESP packet")
	}
	cases := map[ipsec.PacketKind][][]byte{
		ipsec.PacketKeepalive: {{0xff}},
		ipsec.PacketESP:       {{0, 0, 0, 1, 0, 0, 0, 1}},
		ipsec.PacketInvalid:   {nil, {0}, {0, 0, 0, 0}, {1, 2, 3}},
	}
	for want, dgs := range cases {
		for _, d := range dgs {
			if got := ipsec.ClassifyNATT(d); got != want {
				t.Errorf("ClassifyNATT(% x) = %d, want %d", d, got, want)
			}
		}
	}
}

func TestCheckCritical(t *testing.T) {
	ps := []Payload{
		&Unknown{PayloadType: 60},
		NewNotify(NotifyInitialContact, nil),
		&Unknown{CriticalFlag: CriticalFlag{Critical: true}, PayloadType: 61},
		&Unknown{CriticalFlag: CriticalFlag{Critical: true}, PayloadType: 62},
	}
	err := CheckCritical(ps)
	uc, ok := err.(*UnsupportedCriticalError)
	if !ok || uc.Type != 61 {
		t.Fatalf("CheckCritical = %v", err)
	}
	n := uc.Notify()
	if n.NotifyType != NotifyUnsupportedCriticalPayload || !bytes.Equal(n.Data, []byte{61}) {
		t.Errorf("notify %+v", n)
	}
	if err := CheckCritical(ps[:2]); err != nil {
		t.Errorf("non-critical unknown rejected: %v", err)
	}
	if got := SkipUnknown(ps); len(got) != 3 || got[0] != ps[1] {
		t.Errorf("SkipUnknown = %v", got)
	}
	// The Critical bit of a known type is preserved but does not matter.
	known := []Payload{&Nonce{CriticalFlag: CriticalFlag{Critical: true}, Data: seq(0, 16)}}
	if CheckCritical(known) != nil {
		t.Error("known critical payload rejected")
	}
}

func TestStrings(t *testing.T) {
	checks := []struct{ got, want string }{
		{PayloadSA.String(), "SA"},
		{PayloadSKF.String(), "SKF"},
		{PayloadType(99).String(), "PayloadType(99)"},
		{ExchangeIKESAInit.String(), "IKE_SA_INIT"},
		{ExchangeIKEIntermediate.String(), "IKE_INTERMEDIATE"},
		{ExchangeType(1).String(), "ExchangeType(1)"},
		{NotifyNATDetectionSourceIP.String(), "NAT_DETECTION_SOURCE_IP"},
		{NotifyNoPPKAuth.String(), "NO_PPK_AUTH"},
		{NotifyChildSANotFound.String(), "CHILD_SA_NOT_FOUND"},
		{NotifyType(12345).String(), "NotifyType(12345)"},
		{ProtocolESP.String(), "ESP"},
		{ipsec.TransformAddKE1.String(), "ADDKE1"},
		{CFGReply.String(), "CFG_REPLY"},
		{Flags(0).String(), "0"},
		{ipsec.TransformName(ipsec.TransformKE, ipsec.GroupMODP2048), "MODP_2048"},
		{ipsec.TransformName(ipsec.TransformPRF, 99), "99"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if !NotifyTSUnacceptable.IsError() || NotifyCookie.IsError() {
		t.Error("IsError")
	}
	// Every named notify type has a distinct name.
	seen := map[string]bool{}
	for n := range 1 << 16 {
		s := NotifyType(n).String()
		if strings.HasPrefix(s, "NotifyType(") {
			continue
		}
		if seen[s] {
			t.Errorf("duplicate name %s", s)
		}
		seen[s] = true
	}
	m := sampleMessages(t)[5].msg
	if got := m.String(); got != "IKE_AUTH request 1 [ SKF(1/3) ]" {
		t.Errorf("message string %q", got)
	}
}

func TestHelpers(t *testing.T) {
	if g, ok := InvalidKEPayload(ipsec.GroupECP256).Group(); !ok || g != ipsec.GroupECP256 {
		t.Errorf("Group = %v %v", g, ok)
	}
	n := NewNotify(NotifyAdditionalIP6Address, netip.MustParseAddr("2001:db8::1").AsSlice())
	if a, ok := n.Addr(); !ok || a != netip.MustParseAddr("2001:db8::1") {
		t.Errorf("Addr %v", a)
	}
	cr := &CertRequest{Authorities: rep(1, 41)}
	if _, ok := cr.Hashes(); ok {
		t.Error("Hashes accepted 41 octets")
	}
	cr.Authorities = rep(1, 40)
	if h, ok := cr.Hashes(); !ok || len(h) != 2 {
		t.Error("Hashes")
	}
	p6 := CPPrefix(CPInternalIP6Subnet, netip.MustParsePrefix("fd00:1::/48"))
	if p, ok := p6.Prefix(); !ok || p != netip.MustParsePrefix("fd00:1::/48") {
		t.Errorf("v6 prefix %v", p)
	}
	p4 := CPPrefix(CPInternalIP4Subnet, netip.MustParsePrefix("10.1.0.0/16"))
	if !bytes.Equal(p4.Value, []byte{10, 1, 0, 0, 255, 255, 0, 0}) {
		t.Errorf("v4 subnet % x", p4.Value)
	}
	if p, ok := p4.Prefix(); !ok || p != netip.MustParsePrefix("10.1.0.0/16") {
		t.Errorf("v4 prefix %v", p)
	}
	if _, ok := (CPAttribute{Value: []byte{10, 0, 0, 0, 255, 0, 255, 0}}).Prefix(); ok {
		t.Error("non-contiguous netmask accepted")
	}
	cp := &Configuration{Attributes: []CPAttribute{CPAddr(CPInternalIP4DNS, netip.MustParseAddr("1.1.1.1")), CPAddr(CPInternalIP4DNS, netip.MustParseAddr("8.8.8.8"))}}
	if v := cp.Find(CPInternalIP4DNS); len(v) != 2 {
		t.Errorf("Find = %v", v)
	}
	ts := ipsec.SelectorFromPrefix(netip.MustParsePrefix("2001:db8:1::/47"), 0, 0, 65535)
	if ts.Type != ipsec.TSIPv6AddrRange || ts.EndAddr != netip.MustParseAddr("2001:db8:1:ffff:ffff:ffff:ffff:ffff") {
		t.Errorf("selector %+v", ts)
	}
	if e := (&EAP{Message: []byte{2, 1, 0, 4}}); e.Code() != 2 {
		t.Error("EAP code")
	}
	var h Header
	h.MajorVersion = 2
	got, err := ParseHeader(h.Append(nil))
	if err != nil || !reflect.DeepEqual(got, h) {
		t.Errorf("header round trip %+v %v", got, err)
	}
}
