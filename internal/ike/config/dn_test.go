package config

import (
	"bytes"
	"testing"

	"secgw/internal/ike/wire"
)

// TestParseDN: the local-id / remote-id DN syntax encodes to the DER
// RDNSequence in the order written, renders back, and matches an ID
// payload that encodes the same names with other string types.
func TestParseDN(t *testing.T) {
	id, err := ParseIdentity("C=FR, O=secgw test, CN=gw.example")
	if err != nil {
		t.Fatal(err)
	}
	if id.Type != wire.IDDERASN1DN || id.String() != "C=FR, O=secgw test, CN=gw.example" {
		t.Errorf("identity %v %q", id.Type, id.String())
	}
	// The same DN with UTF8String values (tag 12) instead of PrintableString (19).
	utf8 := bytes.ReplaceAll(bytes.Clone(id.Data), []byte{0x13, 0x02, 'F', 'R'}, []byte{0x0c, 0x02, 'F', 'R'})
	if bytes.Equal(utf8, id.Data) {
		t.Fatal("test DN not rewritten")
	}
	if !id.Matches(&wire.Identification{IDType: wire.IDDERASN1DN, Data: utf8}) {
		t.Error("same names with another string type do not match")
	}
	other, _ := ParseIdentity("C=FR, O=secgw test, CN=other")
	if id.Matches(other.Payload(false)) {
		t.Error("another DN matches")
	}
	for _, bad := range []string{"CN=", "XX=a", "CN=a, b"} {
		if _, err := ParseIdentity(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	// Truncated DER never matches and renders empty.
	for i := range id.Data {
		if DNEqual(id.Data[:i], id.Data) || DNString(id.Data[:i]) != "" {
			t.Errorf("truncated to %d octets: matched or rendered", i)
		}
	}
}

// FuzzDN decodes ID_DER_ASN1_DN data as received from a peer: no panic;
// a DN that decodes equals itself and renders, one that does not never
// matches and renders empty.
func FuzzDN(f *testing.F) {
	id, _ := ParseIdentity("C=FR, O=secgw test, CN=gw.example")
	f.Add(id.Data)
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := DNString(data)
		if ok := DNEqual(data, data); !ok && s != "" {
			t.Fatalf("rendered %q from a DN that does not decode", s)
		}
		if id.Matches(&wire.Identification{IDType: wire.IDDERASN1DN, Data: data}) && !DNEqual(id.Data, data) {
			t.Fatal("matched a DN that is not equal")
		}
	})
}
