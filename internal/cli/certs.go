package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"secgw/generated"
)

// showCertificates runs 'show ike certificates [vrf NAME]': the
// certificate-state of the certificate store (secgw-ike-pki.yang), one
// block per loaded certificate and CA, as strongSwan's 'swanctl
// --list-certs' shows them: subject, issuer, validity and the VPNs that
// use it.
func (c *CLI) showCertificates(words []string) error {
	vrf, err := vrfWord(words, "show ike certificates")
	if err != nil {
		return err
	}
	d, err := c.getState([]string{"vrf", vrf, "ike", "pki", "certificate-state"}, false)
	if err != nil {
		return err
	}
	var certs []*generated.SecgwVrf_Vrf_Ike_Pki_CertificateState
	if v := d.Vrf[vrf]; v != nil && v.Ike != nil && v.Ike.Pki != nil {
		for _, s := range v.Ike.Pki.CertificateState {
			certs = append(certs, s)
		}
	}
	sort.Slice(certs, func(i, j int) bool { return str(certs[i].Name) < str(certs[j].Name) })
	var b strings.Builder
	for _, s := range certs {
		fmt.Fprintf(&b, "%s\n", str(s.Name))
		fmt.Fprintf(&b, "  subject  %q\n", str(s.Subject))
		fmt.Fprintf(&b, "  issuer   %q\n", str(s.Issuer))
		fmt.Fprintf(&b, "  validity %s .. %s, %s\n", str(s.NotBefore), str(s.NotAfter), c.enum(s.Validity))
		used := "none"
		if len(s.UsedBy) > 0 {
			used = strings.Join(s.UsedBy, ", ")
		}
		fmt.Fprintf(&b, "  used by  %s\n", used)
	}
	_, err = io.WriteString(c.out, b.String())
	return err
}
