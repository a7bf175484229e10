package cli

import (
	"bytes"
	"testing"

	"secgw/generated"
	"secgw/internal/schema"
)

// FuzzReply feeds arbitrary server messages to the reply parser, and
// what it accepts to the data decoder and the renderers of 'show state'
// and 'show ike ike-sa details': bad input is an error, never a panic.
func FuzzReply(f *testing.F) {
	f.Add([]byte(`<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="1"><ok/></rpc-reply>`))
	f.Add([]byte(`<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><rpc-error><error-type>application</error-type><error-tag>invalid-value</error-tag><error-severity>error</error-severity><error-path>/vrf</error-path><error-message>bad</error-message><error-info><bad-element>vrf</bad-element></error-info></rpc-error></rpc-reply>`))
	f.Add([]byte(`<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><data><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name><ike xmlns="urn:secgw:yang:secgw-ike"><ike-sa><unique-id>1</unique-id><name>v</name><state>established</state><child-sa><unique-id>2</unique-id><protocol>esp</protocol></child-sa></ike-sa></ike></vrf><netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"/></data></rpc-reply>`))
	s, err := schema.Load()
	if err != nil {
		f.Fatal(err)
	}
	keep := Keep(s)
	c := New(s, nil, &bytes.Buffer{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		r, err := parseReply(msg, keep)
		if err != nil {
			return
		}
		for _, e := range r.Errors {
			_ = e.Error()
		}
		if r.Data == nil {
			return
		}
		d, err := c.decode(r.Data)
		if err != nil {
			return
		}
		c.renderTarget(d, &Target{})
		for _, v := range d.Vrf {
			if v.Ike != nil {
				for _, sa := range v.Ike.IkeSa {
					c.saDetails([]*generated.SecgwVrf_Vrf_Ike_IkeSa{sa}, true)
					c.saSummary([]*generated.SecgwVrf_Vrf_Ike_IkeSa{sa})
				}
			}
		}
	})
}

// FuzzCommand runs arbitrary command lines, in both modes, against an
// in-memory backend holding the guide's PPK configuration and state:
// errors are fine, panics are not.
func FuzzCommand(f *testing.F) {
	for _, l := range []string{
		"show config / vrf main ike vpn vpn0",
		"show state / vrf main ike ike-sa unique-id 1",
		"show ike ike-sa with-keys vpn vpn0",
		"/ vrf main ike vpn vpn0 security-policy s local-ts subnet 10.0.0.0/8",
		"del / vrf main ike vip-request",
		`/ vrf main description "a \"quoted\" word"`,
		"cmd ike initiate child-sa security-policy vpn0sp0 vrf main",
		"flush ike ike-sa unique-id 4294967296",
		"vrf main ike ?",
		"..",
	} {
		f.Add(l, true)
		f.Add(l, false)
	}
	s, err := schema.Load()
	if err != nil {
		f.Fatal(err)
	}
	var config, state []byte
	for _, gc := range loadGolden(f) {
		if gc.name == "config-ppk.txt" {
			config = gc.config
		}
		if gc.name == "state-ppk.txt" {
			state = gc.state
		}
	}
	f.Fuzz(func(t *testing.T, line string, config0 bool) {
		m := newMem(t, s, config, state)
		c := New(s, m, &bytes.Buffer{})
		if config0 {
			if err := c.Run("edit running"); err != nil {
				t.Fatal(err)
			}
		}
		_ = c.Run(line)
		_ = c.Prompt()
		_, _, _ = c.Complete(line, len(line))
		_ = c.Help(line)
	})
}
