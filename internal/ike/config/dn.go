package config

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"

	"secgw/internal/ike/wire"
)

// Distinguished names as identities (ID_DER_ASN1_DN, RFC 7296 §3.5): the
// local-id / remote-id syntax is strongSwan's, "C=FR, O=secgw, CN=gw",
// relative distinguished names from the first of the DER sequence to the
// last, one attribute each, no escaping (a comma cannot be in a value).

// dnAttrs maps the attribute names of the syntax to their OIDs (RFC
// 4519).
var dnAttrs = map[string]asn1.ObjectIdentifier{
	"C":            {2, 5, 4, 6},
	"O":            {2, 5, 4, 10},
	"OU":           {2, 5, 4, 11},
	"CN":           {2, 5, 4, 3},
	"L":            {2, 5, 4, 7},
	"ST":           {2, 5, 4, 8},
	"SERIALNUMBER": {2, 5, 4, 5},
	"DC":           {0, 9, 2342, 19200300, 100, 1, 25},
	"E":            {1, 2, 840, 113549, 1, 9, 1},
}

// parseDN encodes "C=FR, O=secgw, CN=gw" as the DER of its RDNSequence.
func parseDN(s string) (Identity, error) {
	var seq pkix.RDNSequence
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		oid, known := dnAttrs[strings.ToUpper(strings.TrimSpace(k))]
		if !ok || !known || strings.TrimSpace(v) == "" {
			return Identity{}, fmt.Errorf("config: bad distinguished name %q: want TYPE=value, ... with TYPE one of C, O, OU, CN, L, ST, SERIALNUMBER, DC, E", s)
		}
		seq = append(seq, pkix.RelativeDistinguishedNameSET{{Type: oid, Value: strings.TrimSpace(v)}})
	}
	der, err := asn1.Marshal(seq)
	if err != nil {
		return Identity{}, fmt.Errorf("config: distinguished name %q: %v", s, err)
	}
	return Identity{Type: wire.IDDERASN1DN, Data: der}, nil
}

// DNEqual reports whether two DER distinguished names name the same
// entity: the same attributes in the same order with equal values, the
// string types aside (PrintableString and UTF8String encode the same
// text differently).
func DNEqual(a, b []byte) bool {
	var x, y pkix.RDNSequence
	if r, err := asn1.Unmarshal(a, &x); err != nil || len(r) != 0 {
		return false
	}
	if r, err := asn1.Unmarshal(b, &y); err != nil || len(r) != 0 {
		return false
	}
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if len(x[i]) != len(y[i]) {
			return false
		}
		for j := range x[i] {
			if !x[i][j].Type.Equal(y[i][j].Type) || fmt.Sprint(x[i][j].Value) != fmt.Sprint(y[i][j].Value) {
				return false
			}
		}
	}
	return true
}

// DNString renders a DER distinguished name as the syntax parseDN reads,
// or "" when it does not decode.
func DNString(der []byte) string {
	var seq pkix.RDNSequence
	if r, err := asn1.Unmarshal(der, &seq); err != nil || len(r) != 0 {
		return ""
	}
	var parts []string
	for _, rdn := range seq {
		for _, a := range rdn {
			name := a.Type.String()
			for k, oid := range dnAttrs {
				if oid.Equal(a.Type) {
					name = k
				}
			}
			parts = append(parts, fmt.Sprintf("%s=%v", name, a.Value))
		}
	}
	return strings.Join(parts, ", ")
}
