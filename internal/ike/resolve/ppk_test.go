package resolve

import (
	"bytes"
	"strings"
	"testing"

	"secgw/generated"
)

// TestResolvePPK: the ppk list (id and id-hex name the same bytes; the
// secret in the pre-shared-key syntax), vpn ppk and require-ppk (the
// VPN's value over its template's).
func TestResolvePPK(t *testing.T) {
	ike := &generated.SecgwVrf_Vrf_Ike{
		Ppk: map[string]*generated.SecgwVrf_Vrf_Ike_Ppk{
			"foo": {Name: ptr("foo"), Id: ptr("bar"), Secret: ptr("0sd0AgKts8ZnIs5QAo+TiMPUPwu/iXmuIxZjXg6WzECV0=")},
			"hex": {Name: ptr("hex"), IdHex: ptr("070078f342ee0a"), Secret: ptr("0x0102")},
			"txt": {Name: ptr("txt"), IdHex: ptr("626172ff"), Secret: ptr("plain text")},
		},
		IkePolicyTemplate: map[string]*generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate{
			"req": {Name: ptr("req"), RequirePpk: ptr(true)},
		},
		Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{
			"a": {Name: ptr("a"), Ppk: ptr("foo"), IkePolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{Template: ptr("req")}},
			"b": {Name: ptr("b"), Ppk: ptr("hex"), IkePolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{Template: ptr("req"), RequirePpk: ptr(false)}},
			"c": {Name: ptr("c")},
		},
	}
	c, err := Config(ike)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.PPKs) != 3 || c.PPKs[0].Name != "foo" || string(c.PPKs[0].ID) != "bar" ||
		!bytes.Equal(c.PPKs[1].ID, []byte{0x07, 0x00, 0x78, 0xf3, 0x42, 0xee, 0x0a}) || !bytes.Equal(c.PPKs[1].Secret, []byte{1, 2}) ||
		string(c.PPKs[2].Secret) != "plain text" || len(c.PPKs[0].Secret) != 32 {
		t.Fatalf("ppks %+v", c.PPKs)
	}
	// id-hex 626172 is id bar.
	if p := c.PPKByID([]byte("bar")); p == nil || p.Name != "foo" {
		t.Errorf("PPKByID(bar) = %+v", p)
	}
	if p := c.PPKByID([]byte("bar\xff")); p == nil || p.Name != "txt" {
		t.Errorf("PPKByID(bar ff) = %+v", p)
	}
	a, b, v := c.VPN("a"), c.VPN("b"), c.VPN("c")
	if a.PPK != c.PPKs[0] || !a.RequirePPK {
		t.Errorf("vpn a: ppk %v require %v, want foo and the template's true", a.PPK, a.RequirePPK)
	}
	if b.PPK != c.PPKs[1] || b.RequirePPK {
		t.Errorf("vpn b: ppk %v require %v, want hex and its own false", b.PPK, b.RequirePPK)
	}
	if v.PPK != nil || v.RequirePPK {
		t.Errorf("vpn c: ppk %v require %v", v.PPK, v.RequirePPK)
	}
	ike.Ppk["bad"] = &generated.SecgwVrf_Vrf_Ike_Ppk{Name: ptr("bad"), Id: ptr("x"), Secret: ptr("0xabc-secret")}
	if _, err := Config(ike); err == nil || strings.Contains(err.Error(), "abc") || !strings.Contains(err.Error(), "ppk bad") {
		t.Errorf("bad secret: %v (must name the ppk, never the value)", err)
	}
}
