package cli

import (
	"errors"
	"strings"
	"testing"

	"secgw/internal/schema"
)

// TestParseReply reads replies: data kept by namespace, prefixes declared
// on <rpc-reply> carried into the data cut out of it, every rpc-error of
// severity error (warnings dropped) with its error-info.
func TestParseReply(t *testing.T) {
	s := loadSchema(t)
	c := New(s, nil, nil)
	msg := `<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:v="urn:secgw:yang:secgw-vrf" message-id="1">` +
		`<data xmlns:i="urn:secgw:yang:secgw-ike"><v:vrf><v:name>main</v:name><i:ike><i:ppk xmlns:i="urn:secgw:yang:secgw-ike"><i:name>k</i:name><i:id>a</i:id></i:ppk></i:ike></v:vrf>` +
		`<netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><sessions/></netconf-state></data></rpc-reply>`
	r, err := parseReply([]byte(msg), Keep(s))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(r.Data), "netconf-state") {
		t.Errorf("kept another module's data: %s", r.Data)
	}
	d, err := c.decode(r.Data)
	if err != nil {
		t.Fatalf("%v in %s", err, r.Data)
	}
	if d.Vrf["main"].GetIke().GetPpk("k").GetId() != "a" {
		t.Errorf("decoded %+v", d.Vrf["main"])
	}

	msg = `<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><rpc-error><error-type>application</error-type>` +
		`<error-tag>invalid-value</error-tag><error-severity>error</error-severity><error-path>/vrf[name='main']/ike</error-path>` +
		`<error-message>bad thing</error-message><error-info><bad-element>ike</bad-element></error-info></rpc-error>` +
		`<rpc-error><error-tag>foo</error-tag><error-severity>warning</error-severity></rpc-error>` +
		`<rpc-error><error-tag>data-missing</error-tag><error-severity>error</error-severity><error-message>other thing</error-message></rpc-error></rpc-reply>`
	r, err = parseReply([]byte(msg), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Errors) != 2 || r.Errors[0].Info["bad-element"] != "ike" || r.Errors[0].Path != "/vrf[name='main']/ike" || !r.Errors.Has("data-missing") {
		t.Fatalf("errors %+v", r.Errors)
	}
	var es RPCErrors
	if !errors.As(error(r.Errors), &es) || es.Error() != "cli: / vrf main ike: bad thing\nother thing" {
		t.Errorf("message %q", r.Errors.Error())
	}
	if ErrorText(r.Errors) != "Error: / vrf main ike: bad thing\n       other thing" {
		t.Errorf("shell text %q", ErrorText(r.Errors))
	}
	for _, bad := range []string{"", "<ok/>", "<rpc-reply>", `<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><data>`, `<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"/>`} {
		if _, err := parseReply([]byte(bad), nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestSecretNotEchoed: a bad value for a secret leaf is not repeated in
// the error; other bad values are named.
func TestSecretNotEchoed(t *testing.T) {
	s := loadSchema(t)
	ed := &Editor{S: s}
	p := schema.DataPath{{Name: "vrf", KeyName: "name", Key: "main"}, {Name: "ike"}, {Name: "ha"}}
	b, err := ed.BindingAt(p)
	if err != nil {
		t.Fatal(err)
	}
	f := b.Field("secret")
	if f == nil || !f.Secret {
		t.Fatal("ha secret is not a secret leaf")
	}
	if err := badValue(p, f, "hunter2-hunter2-hunter2", errors.New("too short")); strings.Contains(err.Error(), "hunter2") {
		t.Errorf("secret echoed: %v", err)
	}
	if _, err := ed.Parse(nil, Fields("/ vrf main ike ha node-id hunter2")); err == nil || !strings.Contains(err.Error(), `"hunter2"`) {
		t.Errorf("a non-secret bad value should be named: %v", err)
	}
}
