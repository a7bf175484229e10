package resolve

import (
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/ike/config"
)

// TestResolveAuth: local-auth-method, remote-auth-method, certificate
// and ca-certificate (the VPN's over its template's), DN identities, and
// the configurations refused: certificates without their names, a ppk
// with certificates, EAP.
func TestResolveAuth(t *testing.T) {
	cert := generated.SecgwIke_AuthMethod_certificate
	ike := &generated.SecgwVrf_Vrf_Ike{
		IkePolicyTemplate: map[string]*generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate{
			"pki": {Name: ptr("pki"), LocalAuthMethod: cert, RemoteAuthMethod: cert, Certificate: ptr("gw"), CaCertificate: ptr("root")},
		},
		Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{
			"a": {Name: ptr("a"), RemoteId: ptr("C=FR, O=secgw, CN=peer"), IkePolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{Template: ptr("pki")}},
			"b": {Name: ptr("b"), IkePolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{Template: ptr("pki"),
				LocalAuthMethod: generated.SecgwIke_AuthMethod_pre_shared_key, PreSharedKey: ptr("s"), CaCertificate: ptr("other")}},
			"c": {Name: ptr("c"), IkePolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{PreSharedKey: ptr("s")}},
		},
	}
	c, err := Config(ike)
	if err != nil {
		t.Fatal(err)
	}
	a, b, cc := c.VPN("a"), c.VPN("b"), c.VPN("c")
	if a.LocalAuth != config.AuthCert || a.RemoteAuth != config.AuthCert || *a.Certs != (config.CertNames{Certificate: "gw", CACertificate: "root"}) {
		t.Errorf("a: %v %v %+v", a.LocalAuth, a.RemoteAuth, a.Certs)
	}
	if a.RemoteID.String() != "C=FR, O=secgw, CN=peer" {
		t.Errorf("a's remote-id %q", a.RemoteID.String())
	}
	if b.LocalAuth != config.AuthPSK || b.RemoteAuth != config.AuthCert || *b.Certs != (config.CertNames{CACertificate: "other"}) {
		t.Errorf("b: %v %v %+v", b.LocalAuth, b.RemoteAuth, b.Certs)
	}
	if cc.LocalAuth != config.AuthPSK || cc.RemoteAuth != config.AuthPSK || cc.Certs != nil {
		t.Errorf("c: %v %v %+v", cc.LocalAuth, cc.RemoteAuth, cc.Certs)
	}
	for _, bad := range []struct {
		mod  func(*generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy)
		want string
	}{
		{func(p *generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy) { p.LocalAuthMethod = cert }, "local-auth-method certificate needs certificate"},
		{func(p *generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy) { p.RemoteAuthMethod = cert }, "remote-auth-method certificate needs ca-certificate"},
		{func(p *generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy) {
			p.LocalAuthMethod = generated.SecgwIke_AuthMethod_eap_radius // remote only (the eap branch)
		}, "local-auth-method eap-radius is not supported"},
		{func(p *generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy) {
			p.LocalAuthMethod = generated.SecgwIke_AuthMethod_pre_shared_key_radius // remote only
		}, "local-auth-method pre-shared-key-radius is not supported"},
	} {
		v := &generated.SecgwVrf_Vrf_Ike_Vpn{Name: ptr("x"), IkePolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{}}
		bad.mod(v.IkePolicy)
		if _, err := Config(&generated.SecgwVrf_Vrf_Ike{Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{"x": v}}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("error %v, want %q", err, bad.want)
		}
	}
	// pre-shared-key-radius: a shared-key AUTH, its key from the RADIUS
	// servers.
	v := &generated.SecgwVrf_Vrf_Ike_Vpn{Name: ptr("r"), IkePolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{
		RemoteAuthMethod: generated.SecgwIke_AuthMethod_pre_shared_key_radius}}
	if c, err := Config(&generated.SecgwVrf_Vrf_Ike{Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{"r": v}}); err != nil {
		t.Errorf("pre-shared-key-radius: %v", err)
	} else if r := c.VPN("r"); r.RemoteAuth != config.AuthPSK || r.RemoteAAA != config.AAAPSK || r.LocalAuth != config.AuthPSK {
		t.Errorf("pre-shared-key-radius: %v %v %v", r.LocalAuth, r.RemoteAuth, r.RemoteAAA)
	}
	v.IkePolicy.RequirePpk = ptr(true)
	if _, err := Config(&generated.SecgwVrf_Vrf_Ike{Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{"r": v}}); err == nil ||
		!strings.Contains(err.Error(), "a ppk with remote-auth-method pre-shared-key-radius is not supported") {
		t.Errorf("require-ppk with pre-shared-key-radius: %v", err)
	}
	// eap-radius: the AUTH is over the MSK; a PPK (RFC 8784) there is not
	// built either, and refused rather than ignored.
	v.IkePolicy.RemoteAuthMethod = generated.SecgwIke_AuthMethod_eap_radius
	if _, err := Config(&generated.SecgwVrf_Vrf_Ike{Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{"r": v}}); err == nil ||
		!strings.Contains(err.Error(), "a ppk with remote-auth-method eap-radius is not supported") {
		t.Errorf("require-ppk with eap-radius: %v", err)
	}
	ike.Ppk = map[string]*generated.SecgwVrf_Vrf_Ike_Ppk{"k": {Name: ptr("k"), Id: ptr("k"), Secret: ptr("0x0102")}}
	ike.Vpn["a"].Ppk = ptr("k")
	if _, err := Config(ike); err == nil || !strings.Contains(err.Error(), "a ppk with certificate authentication is not supported") {
		t.Errorf("ppk with certificates: %v", err)
	}
}
