package resolve

import (
	"net/netip"
	"testing"
	"time"

	"secgw/generated"
	"secgw/internal/ike/config"
	"secgw/internal/ike/wire"
)

// TestResolveRedirect: global-options redirect and the VPN's
// follow-redirect and redirect-to, the VPN's over its template's.
func TestResolveRedirect(t *testing.T) {
	ike := &generated.SecgwVrf_Vrf_Ike{
		GlobalOptions: &generated.SecgwVrf_Vrf_Ike_GlobalOptions{Redirect: &generated.SecgwVrf_Vrf_Ike_GlobalOptions_Redirect{
			Gateway: ptr("gw2.example.com"), HalfOpenThreshold: ptr(uint32(100)), ActiveThreshold: ptr(uint32(5000)),
			MaxRedirects: ptr(uint8(3)), LoopPeriod: ptr(uint32(60)),
		}},
		IkePolicyTemplate: map[string]*generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate{"t": {Name: ptr("t"),
			FollowRedirect: ptr(true), RedirectTo: ptr("192.0.2.9")}},
		Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{
			"a": {Name: ptr("a"), IkePolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{Template: ptr("t")}},
			"b": {Name: ptr("b"), IkePolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{Template: ptr("t"),
				FollowRedirect: ptr(false), RedirectTo: ptr("2001:db8::9")}},
			"c": {Name: ptr("c")},
		},
	}
	cfg, err := Config(ike)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Redirect{To: wire.Gateway{FQDN: "gw2.example.com"}, HalfOpenThreshold: 100, ActiveThreshold: 5000,
		MaxRedirects: 3, LoopPeriod: time.Minute}
	if cfg.Global.Redirect != want {
		t.Errorf("global redirect %+v", cfg.Global.Redirect)
	}
	for i, w := range []struct {
		follow bool
		to     wire.Gateway
	}{
		{true, wire.Gateway{Addr: netip.MustParseAddr("192.0.2.9")}},
		{false, wire.Gateway{Addr: netip.MustParseAddr("2001:db8::9")}},
		{false, wire.Gateway{}},
	} {
		var to wire.Gateway
		if v := cfg.VPNs[i]; v.RedirectTo != nil {
			to = *v.RedirectTo
		}
		if v := cfg.VPNs[i]; v.FollowRedirect != w.follow || to != w.to {
			t.Errorf("vpn %s: follow %v, redirect-to %v", v.Name, v.FollowRedirect, v.RedirectTo)
		}
	}
	ike.GlobalOptions.Redirect.Gateway = ptr("not a name")
	if _, err := Config(ike); err == nil {
		t.Error("bad global gateway accepted")
	}
	ike.GlobalOptions.Redirect.Gateway = nil
	ike.Vpn["c"].IkePolicy = &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{RedirectTo: ptr("-bad")}
	if _, err := Config(ike); err == nil {
		t.Error("bad redirect-to accepted")
	}
}
