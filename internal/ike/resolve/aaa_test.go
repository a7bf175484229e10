package resolve

import (
	"net/netip"
	"testing"
	"time"

	"secgw/generated"
	"secgw/internal/ike/config"
)

// TestResolveRADIUS: the radius container becomes the client's
// configuration: servers by priority then address, with the model's
// defaults (ports 1812/1813, timeout 3 s, retries 2) where unset, and
// remote-auth-method eap-radius (the VPN's, else its template's) marks
// the VPN as authenticated by the AAA server.
func TestResolveRADIUS(t *testing.T) {
	ike := &generated.SecgwVrf_Vrf_Ike{}
	r := ike.GetOrCreateRadius()
	r.NasIdentifier, r.Accounting = ptrTo("gw-1"), ptrTo(true)
	a, _ := r.NewServer("192.0.2.20")
	a.Secret, a.Priority = ptrTo("s1"), ptrTo(uint8(200))
	b, _ := r.NewServer("192.0.2.10")
	b.Secret, b.Priority, b.AuthPort, b.Timeout, b.Retries = ptrTo("s2"), ptrTo(uint8(200)), ptrTo(uint16(11812)), ptrTo(uint8(7)), ptrTo(uint8(0))
	c, _ := r.NewServer("2001:db8::1")
	c.Secret = ptrTo("s3") // priority 100 by default: first
	got, err := RADIUS(ike)
	if err != nil {
		t.Fatal(err)
	}
	if got.NASIdentifier != "gw-1" || !got.Accounting {
		t.Errorf("got %+v", got)
	}
	want := []config.RADIUSServer{
		{Addr: netip.MustParseAddr("2001:db8::1"), AuthPort: 1812, AcctPort: 1813, Secret: []byte("s3"), Timeout: 3 * time.Second, Retries: 2},
		{Addr: netip.MustParseAddr("192.0.2.10"), AuthPort: 11812, AcctPort: 1813, Secret: []byte("s2"), Timeout: 7 * time.Second, Retries: 0},
		{Addr: netip.MustParseAddr("192.0.2.20"), AuthPort: 1812, AcctPort: 1813, Secret: []byte("s1"), Timeout: 3 * time.Second, Retries: 2},
	}
	if len(got.Servers) != len(want) {
		t.Fatalf("servers %+v", got.Servers)
	}
	for i := range want {
		g, w := got.Servers[i], want[i]
		if g.Addr != w.Addr || g.AuthPort != w.AuthPort || g.AcctPort != w.AcctPort || string(g.Secret) != string(w.Secret) ||
			g.Timeout != w.Timeout || g.Retries != w.Retries {
			t.Errorf("server %d: %+v, want %+v", i, g, w)
		}
	}
	if got, err := RADIUS(&generated.SecgwVrf_Vrf_Ike{}); err != nil || len(got.Servers) != 0 {
		t.Errorf("no radius container: %+v, %v", got, err)
	}
	if remoteAAA(generated.SecgwIke_AuthMethod_UNSET, generated.SecgwIke_AuthMethod_eap_radius) != config.AAAEAP ||
		remoteAAA(generated.SecgwIke_AuthMethod_pre_shared_key, generated.SecgwIke_AuthMethod_eap_radius) != config.AAANone {
		t.Error("remote-auth-method eap-radius not resolved, or the VPN's own value not first")
	}
	cfg, err := Config(&generated.SecgwVrf_Vrf_Ike{Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{"x": {Name: ptrTo("x"),
		IkePolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{RemoteAuthMethod: generated.SecgwIke_AuthMethod_eap_radius}}}})
	if err != nil {
		t.Fatal(err)
	}
	if v := cfg.VPN("x"); v.RemoteAuth != config.AuthEAP || v.RemoteAAA != config.AAAEAP || v.LocalAuth != config.AuthPSK {
		t.Errorf("eap-radius VPN: remote %v (AAA %v), local %v", v.RemoteAuth, v.RemoteAAA, v.LocalAuth)
	}
}

func ptrTo[T any](v T) *T { return &v }
