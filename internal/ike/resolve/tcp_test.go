package resolve

import (
	"testing"

	"secgw/generated"
	"secgw/internal/ike/config"
)

// TestResolveTransport: transport of the VPN's ike-policy wins over its
// template's; unset on both is the template default udp. listen-tcp and
// tcp-port come from global-options (0: the default port 4500).
func TestResolveTransport(t *testing.T) {
	type enum = generated.E_SecgwVrf_Vrf_Ike_IkePolicyTemplate_Transport
	const (
		unset = generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_Transport_UNSET
		udp   = generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_Transport_udp
		tcp   = generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_Transport_tcp
		both  = generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_Transport_udp_then_tcp
	)
	for _, c := range []struct {
		vpn, tmpl enum
		want      config.Transport
	}{
		{unset, unset, config.TransportUDP},
		{unset, tcp, config.TransportTCP},
		{unset, both, config.TransportUDPThenTCP},
		{udp, tcp, config.TransportUDP},
		{both, udp, config.TransportUDPThenTCP},
		{tcp, unset, config.TransportTCP},
	} {
		ike := &generated.SecgwVrf_Vrf_Ike{
			IkePolicyTemplate: map[string]*generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate{"t": {Name: ptr("t"), Transport: c.tmpl}},
			Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{"v": {Name: ptr("v"),
				IkePolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{Template: ptr("t"), Transport: c.vpn}}},
		}
		cfg, err := Config(ike)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.VPNs[0].Transport; got != c.want {
			t.Errorf("vpn %v, template %v: %v, want %v", c.vpn, c.tmpl, got, c.want)
		}
	}
	cfg, err := Config(&generated.SecgwVrf_Vrf_Ike{GlobalOptions: &generated.SecgwVrf_Vrf_Ike_GlobalOptions{ListenTcp: ptr(true), TcpPort: ptr(uint16(4501))}})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Global.ListenTCP || cfg.Global.TCPPort != 4501 {
		t.Errorf("global: listen-tcp %v, tcp-port %d", cfg.Global.ListenTCP, cfg.Global.TCPPort)
	}
}
