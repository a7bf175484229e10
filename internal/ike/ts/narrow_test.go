package ts

import (
	"net/netip"
	"secgw/internal/ipsec"
	"testing"
)

func sel(p string, proto uint8, lo, hi uint16) ipsec.TrafficSelector {
	return ipsec.SelectorFromPrefix(netip.MustParsePrefix(p), proto, lo, hi)
}

func TestNarrow(t *testing.T) {
	// RFC 7296 §2.9: the responder narrows to its policy.
	got := Narrow([]ipsec.TrafficSelector{sel("10.0.0.0/8", 0, 0, 65535)}, []ipsec.TrafficSelector{sel("10.1.0.0/16", 6, 80, 80)})
	if len(got) != 1 || got[0].StartAddr.String() != "10.1.0.0" || got[0].EndAddr.String() != "10.1.255.255" || got[0].IPProtocol != 6 || got[0].StartPort != 80 {
		t.Fatalf("got %+v", got)
	}
	if !Subset(got, []ipsec.TrafficSelector{sel("10.0.0.0/8", 0, 0, 65535)}) {
		t.Error("narrowed selector not within the offer")
	}
	for name, b := range map[string]ipsec.TrafficSelector{
		"disjoint": sel("192.168.0.0/16", 0, 0, 65535), "family": sel("::/0", 0, 0, 65535),
		"protocol": sel("10.0.0.0/8", 17, 0, 65535),
	} {
		if n := Narrow([]ipsec.TrafficSelector{sel("10.0.0.0/8", 6, 0, 65535)}, []ipsec.TrafficSelector{b}); len(n) != 0 {
			t.Errorf("%s: got %+v", name, n)
		}
	}
	if Subset([]ipsec.TrafficSelector{sel("10.0.0.0/7", 0, 0, 65535)}, []ipsec.TrafficSelector{sel("10.0.0.0/8", 0, 0, 65535)}) {
		t.Error("widened selector accepted")
	}
}
