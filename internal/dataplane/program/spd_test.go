package program

import (
	"testing"

	"secgw/generated"
	"secgw/internal/dataplane/xfrm"
)

func TestSPDHashFromConfig(t *testing.T) {
	if got := SPDHashFromConfig(nil); got != xfrm.DefaultSPDHash {
		t.Errorf("defaults: %+v, want the kernel's %+v", got, xfrm.DefaultSPDHash)
	}
	g := &generated.SecgwVrf_Vrf_Ike_GlobalOptions{}
	g.GetOrCreateSpHashIpv4().Local = new(uint8(16))
	g.GetOrCreateSpHashIpv4().Remote = new(uint8(24))
	g.GetOrCreateSpHashIpv6().Remote = new(uint8(64))
	if got, want := SPDHashFromConfig(g), (xfrm.SPDHash{IPv4Local: 16, IPv4Remote: 24, IPv6Local: 128, IPv6Remote: 64}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
