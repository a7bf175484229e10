package xmlcodec

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/rpcerr"
	"secgw/internal/schema"
)

const (
	nsVRF = `xmlns="urn:secgw:yang:secgw-vrf"`
	nsIKE = `xmlns="urn:secgw:yang:secgw-ike"`
	nsHA  = `xmlns="urn:secgw:yang:secgw-ha"`
	nsNC  = `xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"`
)

// inMain wraps XML in vrf main and its ike container.
func inMain(xml string) string {
	return `<vrf ` + nsVRF + ` ` + nsNC + `><name>main</name><ike ` + nsIKE + `>` + xml + `</ike></vrf>`
}

// decodeApply decodes doc and applies it to d with merge.
func decodeApply(s *schema.Schema, d *generated.Device, doc string) error {
	edits, err := codecOf(s).Decode(strings.NewReader(doc), d, DecodeOptions{})
	if err != nil {
		return err
	}
	return Apply(s, d, edits, OpMerge)
}

// TestDecodeErrors checks the NETCONF error of each kind of bad request,
// found by Decode or, for the state of the target, by Apply on the small
// configuration.
func TestDecodeErrors(t *testing.T) {
	s := loadSchema(t)
	for _, tc := range []struct {
		name, doc      string
		typ, tag, path string
		info           map[string]string
		msg            string // part of Error()
	}{
		{"unknown element", inMain(`<global-options><bogus>1</bogus></global-options>`),
			"application", "unknown-element", "/vrf[name='main']/ike/global-options/bogus",
			map[string]string{"bad-element": "bogus"}, `xmlcodec: unknown element "bogus" in /vrf[name='main']/ike/global-options`},
		{"wrong namespace", `<vrf ` + nsVRF + `><name>main</name><ike ` + nsHA + `/></vrf>`,
			"application", "unknown-namespace", "/vrf[name='main']/ike",
			map[string]string{"bad-element": "ike", "bad-namespace": "urn:secgw:yang:secgw-ha"}, `not "urn:secgw:yang:secgw-ike"`},
		{"inherited namespace of the parent module", `<vrf ` + nsVRF + `><name>main</name><ike/></vrf>`,
			"application", "unknown-namespace", "/vrf[name='main']/ike",
			map[string]string{"bad-element": "ike", "bad-namespace": "urn:secgw:yang:secgw-vrf"}, "namespace"},
		{"unknown namespace", `<vrf xmlns="urn:example:other"><name>main</name></vrf>`,
			"application", "unknown-namespace", "/vrf",
			map[string]string{"bad-element": "vrf", "bad-namespace": "urn:example:other"}, "unknown namespace"},
		{"no namespace", `<vrf><name>main</name></vrf>`,
			"application", "unknown-namespace", "/vrf",
			map[string]string{"bad-element": "vrf", "bad-namespace": ""}, "has no namespace"},
		{"unknown element of a known module", `<vpn ` + nsIKE + `><name>x</name></vpn>`,
			"application", "unknown-element", "/vpn", map[string]string{"bad-element": "vpn"}, "unknown element"},
		{"missing key", `<vrf ` + nsVRF + `><description>x</description></vrf>`,
			"application", "missing-element", "/vrf", map[string]string{"bad-element": "name"}, "has no key name"},
		{"missing nested key", inMain(`<vpn><enabled>true</enabled></vpn>`),
			"application", "missing-element", "/vrf[name='main']/ike/vpn", map[string]string{"bad-element": "name"}, "/vrf[name='main']/ike/vpn has no key name"},
		{"key in the wrong namespace", inMain(`<vpn><name ` + nsHA + `>x</name></vpn>`),
			"application", "unknown-namespace", "/vrf[name='main']/ike/vpn/name", map[string]string{"bad-element": "name", "bad-namespace": "urn:secgw:yang:secgw-ha"}, "namespace"},
		{"two keys", inMain(`<vpn><name>a</name><name>b</name></vpn>`),
			"application", "bad-element", "/vrf[name='main']/ike/vpn", map[string]string{"bad-element": "name"}, "two keys"},
		{"bad value", inMain(`<global-options><retransmit-tries>many</retransmit-tries></global-options>`),
			"application", "invalid-value", "/vrf[name='main']/ike/global-options/retransmit-tries",
			map[string]string{"bad-element": "retransmit-tries"}, `"many" is not an integer`},
		{"bad enum", inMain(`<vpn><name>x</name><ipsec-policy><start-action>go</start-action></ipsec-policy></vpn>`),
			"application", "invalid-value", "/vrf[name='main']/ike/vpn[name='x']/ipsec-policy/start-action",
			map[string]string{"bad-element": "start-action"}, "is not one of"},
		{"bad key value", inMain(`<ike-policy-template><name>t</name><ike-proposal><id>first</id></ike-proposal></ike-policy-template>`),
			"application", "invalid-value", "/vrf[name='main']/ike/ike-policy-template[name='t']/ike-proposal/id",
			map[string]string{"bad-element": "id"}, "not an integer"},
		{"bad leaf-list value", inMain(`<ike-policy-template><name>t</name><ike-proposal><id>1</id><dh-group>modp1</dh-group></ike-proposal></ike-policy-template>`),
			"application", "invalid-value", "/vrf[name='main']/ike/ike-policy-template[name='t']/ike-proposal[id='1']/dh-group",
			map[string]string{"bad-element": "dh-group"}, "modp1"},
		{"bad operation", inMain(`<vpn nc:operation="destroy"><name>hq</name></vpn>`),
			"protocol", "bad-attribute", "/vrf[name='main']/ike/vpn",
			map[string]string{"bad-attribute": "operation", "bad-element": "vpn"}, `operation "destroy"`},
		{"unqualified operation", inMain(`<vpn operation="delete"><name>hq</name></vpn>`),
			"protocol", "bad-attribute", "/vrf[name='main']/ike/vpn",
			map[string]string{"bad-attribute": "operation", "bad-element": "vpn"}, "not in the NETCONF namespace"},
		{"unknown NETCONF attribute", inMain(`<vpn nc:op="delete"><name>hq</name></vpn>`),
			"protocol", "unknown-attribute", "/vrf[name='main']/ike/vpn",
			map[string]string{"bad-attribute": "op", "bad-element": "vpn"}, "unknown NETCONF attribute"},
		{"key operation", inMain(`<vpn><name nc:operation="delete">hq</name></vpn>`),
			"protocol", "bad-attribute", "/vrf[name='main']/ike/vpn/name",
			map[string]string{"bad-attribute": "operation", "bad-element": "name"}, "key"},
		{"insert attribute", inMain(`<vpn><name>hq</name><vip-pool xmlns:yang="urn:ietf:params:xml:ns:yang:1" yang:insert="middle">p0</vip-pool></vpn>`),
			"application", "bad-attribute", "/vrf[name='main']/ike/vpn[name='hq']/vip-pool",
			map[string]string{"bad-attribute": "insert", "bad-element": "vip-pool"}, "not one of first, last, before, after"},
		{"state node", inMain(`<dataplane>kernel-xfrm</dataplane>`),
			"application", "unknown-element", "/vrf[name='main']/ike/dataplane",
			map[string]string{"bad-element": "dataplane"}, "state data"},
		{"leaf with children", inMain(`<enabled><x/></enabled>`),
			"application", "bad-element", "/vrf[name='main']/ike/enabled", map[string]string{"bad-element": "enabled"}, "cannot have child elements"},
		{"container with text", inMain(`<global-options>5</global-options>`),
			"application", "bad-element", "/vrf[name='main']/ike/global-options", map[string]string{"bad-element": "global-options"}, "not text"},
		{"wd:default not default", inMain(`<enabled xmlns:wd="urn:ietf:params:xml:ns:netconf:default:1.0" wd:default="true">false</enabled>`),
			"application", "invalid-value", "/vrf[name='main']/ike/enabled", map[string]string{"bad-element": "enabled"}, "wd:default"},
		{"malformed", `<vrf ` + nsVRF + `><name>main</vrf>`, "rpc", "malformed-message", "", nil, "malformed XML"},
		{"DTD", `<!DOCTYPE vrf [<!ENTITY x "y">]><vrf ` + nsVRF + `><name>&x;</name></vrf>`, "rpc", "malformed-message", "", nil, "DTD"},
		{"text at top", `hello <vrf ` + nsVRF + `><name>main</name></vrf>`, "rpc", "malformed-message", "", nil, "text outside"},
		// Found by Apply, against the small configuration.
		{"create existing", inMain(`<vpn nc:operation="create"><name>hq</name></vpn>`),
			"application", "data-exists", "/vrf[name='main']/ike/vpn[name='hq']", nil, "already exists"},
		{"create existing leaf", inMain(`<global-options><retransmit-tries nc:operation="create">4</retransmit-tries></global-options>`),
			"application", "data-exists", "/vrf[name='main']/ike/global-options/retransmit-tries", nil, "already exists"},
		{"create existing leaf-list value", inMain(`<vpn><name>hq</name><vip-pool nc:operation="create">p1</vip-pool></vpn>`),
			"application", "data-exists", "/vrf[name='main']/ike/vpn[name='hq']/vip-pool[.='p1']", nil, "already exists"},
		{"delete missing", inMain(`<vpn nc:operation="delete"><name>nope</name></vpn>`),
			"application", "data-missing", "/vrf[name='main']/ike/vpn[name='nope']", nil, "does not exist"},
		{"delete missing leaf", inMain(`<global-options><threads nc:operation="delete"/></global-options>`),
			"application", "data-missing", "/vrf[name='main']/ike/global-options/threads", nil, "does not exist"},
		{"delete in a new entry", `<vrf ` + nsVRF + ` ` + nsNC + `><name>other</name><description nc:operation="delete"/></vrf>`,
			"application", "data-missing", "/vrf[name='other']/description", nil, "/vrf[name='other']/description does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeApply(s, smallTree(t, s), tc.doc)
			var xe *rpcerr.Error
			if !errors.As(err, &xe) {
				t.Fatalf("error %v (%T), want an *rpcerr.Error", err, err)
			}
			if xe.Type != tc.typ || xe.Tag != tc.tag || xe.Path != tc.path {
				t.Errorf("got %s/%s at %q, want %s/%s at %q (%v)", xe.Type, xe.Tag, xe.Path, tc.typ, tc.tag, tc.path, err)
			}
			if len(xe.Info) != 0 || len(tc.info) != 0 {
				if !reflect.DeepEqual(xe.Info, tc.info) {
					t.Errorf("info %v, want %v", xe.Info, tc.info)
				}
			}
			if !strings.HasPrefix(err.Error(), "xmlcodec: ") || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q lacks %q", err.Error(), tc.msg)
			}
		})
	}
}

// TestDecodeEdits checks the edits of a request: document order,
// inherited operations, keys anywhere, canonical values, trimming.
func TestDecodeEdits(t *testing.T) {
	s := loadSchema(t)
	doc := `<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">
  <vrf ` + nsVRF + ` ` + nsNC + `>
    <description>  two  spaces  </description>
    <name>main</name>
    <ike ` + nsIKE + `>
      <global-options nc:operation="replace">
        <retransmit-timeout> 4 </retransmit-timeout>
        <initiator-only>
          true
        </initiator-only>
      </global-options>
      <ike-policy-template nc:operation="create">
        <ike-proposal><dh-group>modp2048</dh-group><id>007</id></ike-proposal>
        <name>t</name>
      </ike-policy-template>
      <vpn><name>hq</name><description nc:operation="delete">ignored</description><vip-pool nc:operation="remove">p1</vip-pool></vpn>
    </ike>
  </vrf>
</config>`
	edits, err := codecOf(s).Decode(strings.NewReader(doc), nil, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range edits {
		got = append(got, e.Path.String()+" "+string(e.Op)+" "+e.Value)
	}
	want := []string{
		"/vrf[name='main']  ",
		"/vrf[name='main']/description    two  spaces  ",
		"/vrf[name='main']/ike  ",
		"/vrf[name='main']/ike/global-options replace ",
		"/vrf[name='main']/ike/global-options/retransmit-timeout replace 4.0",
		"/vrf[name='main']/ike/global-options/initiator-only replace true",
		"/vrf[name='main']/ike/ike-policy-template[name='t'] create ",
		"/vrf[name='main']/ike/ike-policy-template[name='t']/ike-proposal[id='7'] create ",
		"/vrf[name='main']/ike/ike-policy-template[name='t']/ike-proposal[id='7']/dh-group create modp2048",
		"/vrf[name='main']/ike/vpn[name='hq']  ",
		"/vrf[name='main']/ike/vpn[name='hq']/description delete ",
		"/vrf[name='main']/ike/vpn[name='hq']/vip-pool remove p1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("edits:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Foreign and unqualified attributes are ignored; state is accepted
	// with AllowState.
	doc = inMain(`<enabled xmlns:x="urn:example" x:note="n" color="red">true</enabled><dataplane>kernel-xfrm</dataplane>`)
	if _, err := codecOf(s).Decode(strings.NewReader(doc), nil, DecodeOptions{AllowState: true}); err != nil {
		t.Errorf("AllowState: %v", err)
	}
}

// TestDecodeWithDefaultsTag checks RFC 6243 §4.5.2: a leaf tagged
// wd:default with its default value returns to the default.
func TestDecodeWithDefaultsTag(t *testing.T) {
	s := loadSchema(t)
	d := smallTree(t, s)
	d.Vrf["main"].Ike.Enabled = ygotBool(true)
	doc := inMain(`<enabled xmlns:wd="urn:ietf:params:xml:ns:netconf:default:1.0" wd:default="true">true</enabled>`)
	if err := decodeApply(s, d, doc); err != nil {
		t.Fatal(err)
	}
	if d.Vrf["main"].Ike.Enabled != nil {
		t.Errorf("enabled = %v, want unset", *d.Vrf["main"].Ike.Enabled)
	}
}

func ygotBool(b bool) *bool { return &b }
