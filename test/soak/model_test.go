package soak

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
)

// The pre-shared key of every VPN and the IKE identities.
const (
	psk                         = "soak-test-secret-0123456789"
	idA, idB, idC               = "a.example", "b.example", "c.example"
	nsVRF, nsIKE, nsCfg, nsBase = "urn:secgw:yang:secgw-vrf", "urn:secgw:yang:secgw-ike", "urn:secgw:yang:secgw-config",
		"urn:ietf:params:xml:ns:netconf:base:1.0"
)

// peerOf is the side ('b' or 'c') of A's VPNs.
var peerOf = map[string]byte{"to-b": 'b', "to-c": 'c'}

// vpnNames are A's VPNs, in a fixed order (the walk's choices must not
// depend on map order, or a seed would not reproduce).
var vpnNames = []string{"to-b", "to-c"}

// policyName is the name of A's i-th security policy in a VPN: b0, c1...
func policyName(vpn string, i int) string { return fmt.Sprintf("%c%d", peerOf[vpn], i) }

// The templates the walk adds and removes; their content is fixed.
var (
	ikeTemplates = map[string]string{
		"ike-gcm": `<ike-proposal><id>1</id><aead-alg>aes256-gcm-128</aead-alg><prf-alg>hmac-sha256</prf-alg><dh-group>ecp256</dh-group></ike-proposal>`,
		"ike-cbc": `<ike-proposal><id>1</id><enc-alg>aes128-cbc</enc-alg><auth-alg>hmac-sha256</auth-alg><prf-alg>hmac-sha256</prf-alg><dh-group>modp2048</dh-group></ike-proposal>`,
	}
	ikeTemplateNames = []string{"ike-cbc", "ike-gcm"}
	// ipsecTemplates: start-action and ESP proposal. esp-ctr's AES-CTR
	// is valid configuration that the userspace dataplane cannot install
	// (known defect 3: the IKE SA must not be dropped silently).
	ipsecTemplates = map[string]struct{ start, esp string }{
		"esp-start": {"start", ""},
		"esp-none":  {"none", ""},
		"esp-cbc":   {"start", `<esp-proposal><id>1</id><enc-alg>aes128-cbc</enc-alg><auth-alg>hmac-sha256</auth-alg></esp-proposal>`},
		"esp-ctr":   {"start", `<esp-proposal><id>1</id><enc-alg>aes128-ctr</enc-alg><auth-alg>hmac-sha256</auth-alg></esp-proposal>`},
	}
	ipsecTemplateNames = []string{"esp-cbc", "esp-ctr", "esp-none", "esp-start"}
	startActions       = []string{"", "none", "trap", "start"}
)

// vpnM is one of A's VPNs in the model.
type vpnM struct {
	IKETmpl, IPsecTmpl string // "" or a template name
	Start              string // inline start-action, "" when unset
	Policies           []int  // present policies, sorted
}

// model is what A's running configuration must be (its managed part:
// VPNs, templates, two global options).
type model struct {
	VPNs       map[string]vpnM
	IKETmpls   map[string]bool
	IPsecTmpls map[string]bool
	Tries      int    // retransmit-tries, -1 unset
	Timeout    string // retransmit-timeout, "" unset
}

func newModel() model {
	return model{VPNs: map[string]vpnM{}, IKETmpls: map[string]bool{}, IPsecTmpls: map[string]bool{}, Tries: -1}
}

func (m model) clone() model {
	c := m
	c.VPNs = maps.Clone(m.VPNs)
	for k, v := range c.VPNs {
		v.Policies = slices.Clone(v.Policies)
		c.VPNs[k] = v
	}
	c.IKETmpls, c.IPsecTmpls = maps.Clone(m.IKETmpls), maps.Clone(m.IPsecTmpls)
	return c
}

// startAction is a VPN's effective start-action: its own, else its
// template's, else the default trap.
func (m model) startAction(name string) string {
	v := m.VPNs[name]
	if v.Start != "" {
		return v.Start
	}
	if v.IPsecTmpl != "" {
		return ipsecTemplates[v.IPsecTmpl].start
	}
	return "trap"
}

// effective is what a VPN resolves to (its templates' content, not their
// names): a commit that leaves it alone need not touch the VPN's SAs.
func (m model) effective(name string) string {
	v, ok := m.VPNs[name]
	if !ok {
		return ""
	}
	return fmt.Sprintf("ike %q esp %q start %s policies %v", ikeTemplates[v.IKETmpl], ipsecTemplates[v.IPsecTmpl].esp,
		m.startAction(name), v.Policies)
}

// canComeUp reports whether a VPN's child SAs can be installed: its ESP
// proposal is one both the userspace dataplane and the peer carry.
func (m model) canComeUp(name string) bool {
	v, ok := m.VPNs[name]
	return ok && v.IPsecTmpl != "esp-ctr"
}

// vpnXML is one of A's VPNs; op is an nc:operation or "".
func (m model) vpnXML(name, op string) string {
	v := m.VPNs[name]
	peer := map[byte]string{'b': bOuter.String(), 'c': cOuter.String()}[peerOf[name]]
	local := map[byte]string{'b': aToB.String(), 'c': aToC.String()}[peerOf[name]]
	remoteID := map[byte]string{'b': idB, 'c': idC}[peerOf[name]]
	var b strings.Builder
	fmt.Fprintf(&b, `<vpn%s><name>%s</name><local-address>%s</local-address><remote-address>%s</remote-address>`+
		`<local-id>%s</local-id><remote-id>%s</remote-id><ike-policy>`, opAttr(op), name, local, peer, idA, remoteID)
	if v.IKETmpl != "" {
		fmt.Fprintf(&b, `<template>%s</template>`, v.IKETmpl)
	}
	fmt.Fprintf(&b, `<pre-shared-key>%s</pre-shared-key></ike-policy>`, psk)
	if v.IPsecTmpl != "" || v.Start != "" {
		b.WriteString(`<ipsec-policy>`)
		if v.IPsecTmpl != "" {
			fmt.Fprintf(&b, `<template>%s</template>`, v.IPsecTmpl)
		}
		if v.Start != "" {
			fmt.Fprintf(&b, `<start-action>%s</start-action>`, v.Start)
		}
		b.WriteString(`</ipsec-policy>`)
	}
	for _, i := range v.Policies {
		b.WriteString(policyXML(policyName(name, i), subnet('a', i), subnet(peerOf[name], i)))
	}
	b.WriteString(`</vpn>`)
	return b.String()
}

func policyXML(name, local, remote string) string {
	return fmt.Sprintf(`<security-policy><name>%s</name><local-ts><subnet>%s</subnet></local-ts>`+
		`<remote-ts><subnet>%s</subnet></remote-ts></security-policy>`, name, local, remote)
}

func opAttr(op string) string {
	if op == "" {
		return ""
	}
	return ` xmlns:nc="` + nsBase + `" nc:operation="` + op + `"`
}

func ikeTemplateXML(name, op string) string {
	return fmt.Sprintf(`<ike-policy-template%s><name>%s</name>%s</ike-policy-template>`, opAttr(op), name, ikeTemplates[name])
}

func ipsecTemplateXML(name, op string) string {
	t := ipsecTemplates[name]
	return fmt.Sprintf(`<ipsec-policy-template%s><name>%s</name>%s<start-action>%s</start-action></ipsec-policy-template>`,
		opAttr(op), name, t.esp, t.start)
}

func (m model) globalXML(op string) string {
	var b strings.Builder
	if m.Tries >= 0 {
		fmt.Fprintf(&b, `<retransmit-tries>%d</retransmit-tries>`, m.Tries)
	}
	if m.Timeout != "" {
		fmt.Fprintf(&b, `<retransmit-timeout>%s</retransmit-timeout>`, m.Timeout)
	}
	if b.Len() == 0 && op == "" {
		return ""
	}
	return `<global-options` + opAttr(op) + `>` + b.String() + `</global-options>`
}

// ikeXML is the model's managed part of the ike container.
func (m model) ikeXML() string {
	var b strings.Builder
	for _, n := range ikeTemplateNames {
		if m.IKETmpls[n] {
			b.WriteString(ikeTemplateXML(n, ""))
		}
	}
	for _, n := range ipsecTemplateNames {
		if m.IPsecTmpls[n] {
			b.WriteString(ipsecTemplateXML(n, ""))
		}
	}
	for _, n := range vpnNames {
		if _, ok := m.VPNs[n]; ok {
			b.WriteString(m.vpnXML(n, ""))
		}
	}
	b.WriteString(m.globalXML(""))
	return b.String()
}

// managed are the children of ike the model owns.
var managed = []string{"vpn", "ike-policy-template", "ipsec-policy-template", "global-options"}

// editConfig is an edit-config of the candidate with ike content.
func editConfig(ike string) string {
	return `<edit-config><target><candidate/></target><config><vrf xmlns="` + nsVRF + `"><name>main</name><ike xmlns="` +
		nsIKE + `">` + ike + `</ike></vrf></config></edit-config>`
}

// mutation is a valid change of the model and the edit that makes it.
type mutation struct {
	desc string
	edit string // ike content of the edit-config
	next model
}

// mutate picks a valid change of m.
func (m model) mutate(r *rand.Rand) mutation {
	next := m.clone()
	for {
		switch r.IntN(8) {
		case 0, 1: // a VPN appears or goes
			name := vpnNames[r.IntN(len(vpnNames))]
			if _, ok := m.VPNs[name]; ok {
				delete(next.VPNs, name)
				return mutation{"delete vpn " + name, `<vpn` + opAttr("remove") + `><name>` + name + `</name></vpn>`, next}
			}
			v := vpnM{IKETmpl: pickPresent(r, m.IKETmpls, ikeTemplateNames), IPsecTmpl: pickPresent(r, m.IPsecTmpls, ipsecTemplateNames),
				Start: startActions[r.IntN(len(startActions))]}
			for i := range nets {
				if r.IntN(3) > 0 {
					v.Policies = append(v.Policies, i)
				}
			}
			next.VPNs[name] = v
			return mutation{"add vpn " + name, next.vpnXML(name, "replace"), next}
		case 2: // a VPN's templates or start-action
			name, v, ok := pickVPN(r, m)
			if !ok {
				continue
			}
			switch r.IntN(3) {
			case 0:
				v.IKETmpl = pickPresent(r, m.IKETmpls, ikeTemplateNames)
			case 1:
				v.IPsecTmpl = pickPresent(r, m.IPsecTmpls, ipsecTemplateNames)
			default:
				v.Start = startActions[r.IntN(len(startActions))]
			}
			next.VPNs[name] = v
			return mutation{"change vpn " + name, next.vpnXML(name, "replace"), next}
		case 3: // a security policy appears or goes
			name, v, ok := pickVPN(r, m)
			if !ok {
				continue
			}
			i := r.IntN(nets)
			if j := slices.Index(v.Policies, i); j >= 0 {
				v.Policies = slices.Delete(slices.Clone(v.Policies), j, j+1)
				next.VPNs[name] = v
				return mutation{"delete security-policy " + policyName(name, i), `<vpn><name>` + name + `</name><security-policy` +
					opAttr("remove") + `><name>` + policyName(name, i) + `</name></security-policy></vpn>`, next}
			}
			v.Policies = append(slices.Clone(v.Policies), i)
			slices.Sort(v.Policies)
			next.VPNs[name] = v
			return mutation{"add security-policy " + policyName(name, i), `<vpn><name>` + name + `</name>` +
				policyXML(policyName(name, i), subnet('a', i), subnet(peerOf[name], i)) + `</vpn>`, next}
		case 4: // an IKE template
			n := ikeTemplateNames[r.IntN(len(ikeTemplateNames))]
			if !m.IKETmpls[n] {
				next.IKETmpls[n] = true
				return mutation{"add " + n, ikeTemplateXML(n, "replace"), next}
			}
			if m.referenced(n) {
				continue
			}
			delete(next.IKETmpls, n)
			return mutation{"delete " + n, `<ike-policy-template` + opAttr("remove") + `><name>` + n + `</name></ike-policy-template>`, next}
		case 5: // an IPsec template
			n := ipsecTemplateNames[r.IntN(len(ipsecTemplateNames))]
			if !m.IPsecTmpls[n] {
				next.IPsecTmpls[n] = true
				return mutation{"add " + n, ipsecTemplateXML(n, "replace"), next}
			}
			if m.referenced(n) {
				continue
			}
			delete(next.IPsecTmpls, n)
			return mutation{"delete " + n, `<ipsec-policy-template` + opAttr("remove") + `><name>` + n + `</name></ipsec-policy-template>`, next}
		case 6, 7: // global options
			if r.IntN(2) == 0 {
				next.Tries = []int{-1, 2, 3, 7}[r.IntN(4)]
			} else {
				next.Timeout = []string{"", "2.0", "3.0"}[r.IntN(3)]
			}
			// Both unset: an empty replace (once ignored by commit,
			// seed 2 step 73; test/e2e TestReplaceContainerByNothing).
			edit := next.globalXML("replace")
			return mutation{fmt.Sprintf("global-options tries %d timeout %q", next.Tries, next.Timeout), edit, next}
		}
	}
}

// referenced reports whether a VPN uses template n.
func (m model) referenced(n string) bool {
	for _, v := range m.VPNs {
		if v.IKETmpl == n || v.IPsecTmpl == n {
			return true
		}
	}
	return false
}

// pickPresent picks one of the present templates, or "".
func pickPresent(r *rand.Rand, present map[string]bool, names []string) string {
	opts := []string{""}
	for _, n := range names {
		if present[n] {
			opts = append(opts, n)
		}
	}
	return opts[r.IntN(len(opts))]
}

// pickVPN picks a present VPN.
func pickVPN(r *rand.Rand, m model) (string, vpnM, bool) {
	var present []string
	for _, n := range vpnNames {
		if _, ok := m.VPNs[n]; ok {
			present = append(present, n)
		}
	}
	if len(present) == 0 {
		return "", vpnM{}, false
	}
	n := present[r.IntN(len(present))]
	return n, m.VPNs[n], true
}

// invalidEdit is an edit that must be refused, at edit-config or at
// commit (validation), leaving running unchanged.
func (m model) invalidEdit(r *rand.Rand) (desc, edit string) {
	name := vpnNames[r.IntN(len(vpnNames))]
	switch r.IntN(9) {
	case 0:
		return "retransmit-tries out of range", `<global-options><retransmit-tries>101</retransmit-tries></global-options>`
	case 1:
		return "local-address not an address", `<vpn><name>` + name + `</name><local-address>not-an-address</local-address></vpn>`
	case 2:
		return "unknown leaf", `<vpn><name>` + name + `</name><no-such-leaf>1</no-such-leaf></vpn>`
	case 3:
		return "start-action not an enum value", `<ipsec-policy-template><name>esp-bad</name><start-action>sometimes</start-action></ipsec-policy-template>`
	case 4:
		return "reference to a missing template", `<vpn><name>` + name + `</name><local-address>` + aToB.String() + `</local-address>` +
			`<ike-policy><template>no-such-template</template><pre-shared-key>` + psk + `</pre-shared-key></ike-policy></vpn>`
	case 5:
		return "IPv4 local-address, IPv6 remote-address", `<vpn><name>` + name + `</name><local-address>` + aToB.String() +
			`</local-address><remote-address>2001:db8::2</remote-address><ike-policy><pre-shared-key>` + psk + `</pre-shared-key></ike-policy></vpn>`
	case 6:
		return "IPv4 local-ts, IPv6 remote-ts", `<vpn><name>` + name + `</name><local-address>` + aToB.String() + `</local-address>` +
			`<ike-policy><pre-shared-key>` + psk + `</pre-shared-key></ike-policy>` + policyXML("bad-ts", "10.1.0.0/24", "fd00::/64") + `</vpn>`
	case 7:
		return "ike-proposal with enc-alg and no auth-alg", `<ike-policy-template><name>ike-bad</name><ike-proposal><id>1</id>` +
			`<enc-alg>aes128-cbc</enc-alg><prf-alg>hmac-sha256</prf-alg><dh-group>modp2048</dh-group></ike-proposal></ike-policy-template>`
	default:
		// Deleting a template a VPN uses (a leafref left dangling), or a
		// template name over 64 characters.
		for _, n := range append(slices.Clone(ikeTemplateNames), ipsecTemplateNames...) {
			if m.referenced(n) {
				kind := "ike-policy-template"
				if _, ok := ipsecTemplates[n]; ok {
					kind = "ipsec-policy-template"
				}
				return "delete template " + n + " in use", `<` + kind + opAttr("delete") + `><name>` + n + `</name></` + kind + `>`
			}
		}
		return "template name too long", `<ike-policy-template><name>` + strings.Repeat("x", 65) + `</name></ike-policy-template>`
	}
}
