package soak

import (
	"fmt"
	"secgw/test/charontest"
	"strings"
)

// bConfig is B's static configuration: VPN to-a with both policies
// mirrored, default proposals (which accept A's ike-gcm, ike-cbc and
// esp-cbc), start-action none: B negotiates only when asked (the RPCs of
// the walk) or when A does.
func bConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, `<vpn><name>to-a</name><local-address>%s</local-address><remote-address>%s</remote-address>`+
		`<local-id>%s</local-id><remote-id>%s</remote-id><ike-policy><pre-shared-key>%s</pre-shared-key></ike-policy>`+
		`<ipsec-policy><start-action>none</start-action></ipsec-policy>`, bOuter, aToB, idB, idA, psk)
	for i := range nets {
		b.WriteString(policyXML(policyName("to-b", i), subnet('b', i), subnet('a', i)))
	}
	b.WriteString(`</vpn>`)
	return b.String()
}

// charonConf is charon's swanctl.conf: connection "secgw" to A with a
// child per policy of A's to-c, proposals that accept A's defaults and
// templates (AES-CTR included: A may propose it), start_action none.
func charonConf() string {
	c := charontest.Conn{Name: "secgw", LocalAddrs: cOuter.String(), RemoteAddrs: aToC.String(),
		Proposals: "aes256gcm16-prfsha256-ecp256-curve25519-modp3072,aes128-sha256-modp2048-curve25519-ecp256-modp3072",
		Local:     charontest.Auth{Method: "psk", ID: idC}, Remote: charontest.Auth{Method: "psk", ID: idA},
		Secrets: []string{charontest.PSKSecret("secgw", psk, idC, idA)}}
	for i := range nets {
		c.Children = append(c.Children, charontest.Child{Name: policyName("to-c", i), LocalTS: subnet('c', i), RemoteTS: subnet('a', i),
			ESPProposals: "aes256gcm16,aes128-sha256,aes128ctr-sha256"})
	}
	return c.String()
}
