package xmlcodec

import (
	"errors"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/rpcerr"
	"secgw/internal/schema"
)

// filtered encodes d through the subtree filter doc.
func filtered(t *testing.T, s *schema.Schema, d *generated.Device, doc string, opts EncodeOptions) string {
	t.Helper()
	f, err := ParseFilter(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	opts.Filter = f
	return string(encode(t, s, d, opts))
}

func filterTree(t *testing.T, s *schema.Schema) *generated.Device {
	d := stateTree(t, s)
	apply(t, s, d,
		"/ vrf trusted description t",
		"/ vrf main ike vpn branch remote-address 203.0.113.7",
		"/ vrf main ike vpn branch vip-pool p1",
		"/ vrf main ike vpn branch vip-pool p9",
		"/ vrf main ike vpn branch enabled true",
	)
	return d
}

const (
	vrfOpen = `<vrf xmlns="urn:secgw:yang:secgw-vrf">`
	ikeOpen = `<ike xmlns="urn:secgw:yang:secgw-ike">`
)

func TestFilter(t *testing.T) {
	s := loadSchema(t)
	d := filterTree(t, s)
	cfg := EncodeOptions{Config: true, Secrets: true}
	for _, tc := range []struct {
		name, filter string
		opts         EncodeOptions
		want         string
	}{
		{"selection of a container, through containment", `<filter type="subtree"><vrf ` + nsVRF + `><name>main</name><ike ` + nsIKE + `><global-options/></ike></vrf></filter>`, cfg,
			vrfOpen + `<name>main</name>` + ikeOpen + `<global-options><retransmit-tries>3</retransmit-tries><retransmit-timeout>4.0</retransmit-timeout></global-options></ike></vrf>`},
		{"selection of a leaf in every entry", `<vrf ` + nsVRF + `><description/></vrf>`, cfg,
			vrfOpen + `<name>main</name><description>main &amp; &lt;only&gt;</description></vrf>` + vrfOpen + `<name>trusted</name><description>t</description></vrf>`},
		{"selection of the key lists every entry's key", `<vrf ` + nsVRF + `><name/></vrf>`, cfg,
			vrfOpen + `<name>main</name></vrf>` + vrfOpen + `<name>trusted</name></vrf>`},
		{"selection of a nested key", `<vrf ` + nsVRF + `><name>main</name><ike ` + nsIKE + `><vpn><name/></vpn></ike></vrf>`, cfg,
			vrfOpen + `<name>main</name>` + ikeOpen + `<vpn><name>branch</name></vpn><vpn><name>hq</name></vpn></ike></vrf>`},
		{"content match on a key selects the whole entry", `<vrf ` + nsVRF + `><name>trusted</name></vrf>`, cfg,
			vrfOpen + `<name>trusted</name><description>t</description></vrf>`},
		{"key match with selection", `<vrf ` + nsVRF + `><name>main</name><ike ` + nsIKE + `><vpn><name>hq</name><remote-address/><vip-pool/></vpn></ike></vrf>`, cfg,
			vrfOpen + `<name>main</name>` + ikeOpen + `<vpn><name>hq</name><remote-address>198.51.100.1</remote-address><vip-pool>p2</vip-pool><vip-pool>p1</vip-pool></vpn></ike></vrf>`},
		{"content match on a non-key leaf", `<vrf ` + nsVRF + `><ike ` + nsIKE + `><vpn><remote-address>203.0.113.7</remote-address><enabled/></vpn></ike></vrf>`, cfg,
			vrfOpen + `<name>main</name>` + ikeOpen + `<vpn><name>branch</name><enabled>true</enabled><remote-address>203.0.113.7</remote-address></vpn></ike></vrf>`},
		{"content match on a leaf-list value", `<vrf ` + nsVRF + `><ike ` + nsIKE + `><vpn><vip-pool>p1</vip-pool><name/></vpn></ike></vrf>`, cfg,
			vrfOpen + `<name>main</name>` + ikeOpen + `<vpn><name>branch</name><vip-pool>p1</vip-pool></vpn><vpn><name>hq</name><vip-pool>p1</vip-pool></vpn></ike></vrf>`},
		{"content match that fails", `<vrf ` + nsVRF + `><ike ` + nsIKE + `><vpn><name>nope</name></vpn></ike></vrf>`, cfg, ``},
		{"content match of the wrong type", `<vrf ` + nsVRF + `><ike ` + nsIKE + `><global-options><threads>many</threads></global-options></ike></vrf>`, cfg, ``},
		{"content match in canonical form", `<vrf ` + nsVRF + `><ike ` + nsIKE + `><global-options><retransmit-timeout> 4 </retransmit-timeout></global-options></ike></vrf>`, cfg,
			vrfOpen + `<name>main</name>` + ikeOpen + `<global-options><retransmit-tries>3</retransmit-tries><retransmit-timeout>4.0</retransmit-timeout></global-options></ike></vrf>`},
		{"content match on a default, explicit", `<vrf ` + nsVRF + `><ike ` + nsIKE + `><vpn><enabled>true</enabled><name/></vpn></ike></vrf>`, cfg,
			vrfOpen + `<name>main</name>` + ikeOpen + `<vpn><name>branch</name><enabled>true</enabled></vpn></ike></vrf>`},
		{"content match on a default, report-all", `<vrf ` + nsVRF + `><ike ` + nsIKE + `><vpn><enabled>true</enabled><name/></vpn></ike></vrf>`, EncodeOptions{Config: true, WithDefaults: ReportAll},
			vrfOpen + `<name>main</name>` + ikeOpen + `<vpn><name>branch</name><enabled>true</enabled></vpn><vpn><name>hq</name><enabled>true</enabled></vpn></ike></vrf>`},
		{"no namespace matches any module", `<vrf><name>main</name><ike><ha><node-id/></ha></ike></vrf>`, cfg,
			vrfOpen + `<name>main</name>` + ikeOpen + `<ha xmlns="urn:secgw:yang:secgw-ha"><node-id>1</node-id></ha></ike></vrf>`},
		// The content match node is in the output (§6.2.5), ike is not.
		{"namespace of another module", `<vrf ` + nsVRF + `><name>main</name><ike ` + nsHA + `/></vrf>`, cfg, vrfOpen + `<name>main</name></vrf>`},
		{"unknown namespace", `<vrf xmlns="urn:example"/>`, cfg, ``},
		{"unknown element", `<vrf ` + nsVRF + `><bogus/></vrf>`, cfg, ``},
		{"empty filter", `<filter xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" type="subtree"/>`, cfg, ``},
		{"sibling instances", `<vrf ` + nsVRF + `><name>main</name><description/></vrf><vrf ` + nsVRF + `><name>trusted</name></vrf>`, cfg,
			vrfOpen + `<name>main</name><description>main &amp; &lt;only&gt;</description></vrf>` + vrfOpen + `<name>trusted</name><description>t</description></vrf>`},
		{"sibling key matches: key order, once each, unknown keys select nothing", `<vrf ` + nsVRF + `><name>main</name><ike ` + nsIKE + `><vpn><name>hq</name></vpn><vpn><name>nope</name></vpn><vpn><name>branch</name><enabled/></vpn><vpn><name>hq</name></vpn></ike></vrf>`, cfg,
			vrfOpen + `<name>main</name>` + ikeOpen + `<vpn><name>branch</name><enabled>true</enabled></vpn><vpn><name>hq</name><ike-policy><pre-shared-key>s3cr3t-psk</pre-shared-key></ike-policy><local-address>198.51.100.2</local-address><remote-address>198.51.100.1</remote-address><vip-pool>p2</vip-pool><vip-pool>p1</vip-pool>` +
				`<security-policy><name>sp1</name><local-ts><subnet>10.0.0.0/24</subnet></local-ts><remote-ts><subnet>10.1.0.0/24</subnet></remote-ts><mode>tunnel</mode><svti-id-out>7</svti-id-out><inject-routes><next-hop>eth0</next-hop></inject-routes></security-policy></vpn></ike></vrf>`},
		{"key match next to an element without one: every entry", `<vrf ` + nsVRF + `><name>main</name><ike ` + nsIKE + `><vpn><name>hq</name><remote-address/></vpn><vpn><enabled>true</enabled></vpn></ike></vrf>`, cfg,
			vrfOpen + `<name>main</name>` + ikeOpen + `<vpn><name>branch</name><enabled>true</enabled><remote-address>203.0.113.7</remote-address><vip-pool>p1</vip-pool><vip-pool>p9</vip-pool></vpn><vpn><name>hq</name><remote-address>198.51.100.1</remote-address></vpn></ike></vrf>`},
		{"secret content match without secrets", `<vrf ` + nsVRF + `><ike ` + nsIKE + `><vpn><ike-policy><pre-shared-key>s3cr3t-psk</pre-shared-key></ike-policy></vpn></ike></vrf>`, EncodeOptions{Config: true}, ``},
		{"secret content match with secrets", `<vrf ` + nsVRF + `><ike ` + nsIKE + `><vpn><ike-policy><pre-shared-key>s3cr3t-psk</pre-shared-key></ike-policy></vpn></ike></vrf>`, cfg,
			vrfOpen + `<name>main</name>` + ikeOpen + `<vpn><name>hq</name><ike-policy><pre-shared-key>s3cr3t-psk</pre-shared-key></ike-policy></vpn></ike></vrf>`},
		{"state with get-config", `<vrf ` + nsVRF + `><ike ` + nsIKE + `><ike-sa/></ike></vrf>`, cfg, ``},
		{"state with get", `<vrf ` + nsVRF + `><ike ` + nsIKE + `><ike-sa><unique-id>7</unique-id><name/></ike-sa></ike></vrf>`, EncodeOptions{},
			vrfOpen + `<name>main</name>` + ikeOpen + `<ike-sa><unique-id>7</unique-id><name>hq</name></ike-sa></ike></vrf>`},
		{"report-all in a selected subtree", `<vrf ` + nsVRF + `><name>main</name><ike ` + nsIKE + `><global-options><sp-hash-ipv4/></global-options></ike></vrf>`, EncodeOptions{Config: true, WithDefaults: ReportAll},
			vrfOpen + `<name>main</name>` + ikeOpen + `<global-options><sp-hash-ipv4><local>32</local><remote>32</remote></sp-hash-ipv4></global-options></ike></vrf>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := filtered(t, s, d, tc.filter, tc.opts); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	for _, tc := range []struct{ doc, tag string }{
		{`<filter type="xpath" select="/vrf"/>`, "operation-not-supported"},
		{`<filter type="regex"/>`, "bad-attribute"},
		{`<filter><vrf></filter>`, "malformed-message"},
		{`<!DOCTYPE x><filter/>`, "malformed-message"},
		{strings.Repeat("<a>", maxDepth+1), "malformed-message"},
	} {
		_, err := ParseFilter(strings.NewReader(tc.doc))
		var xe *rpcerr.Error
		if !errors.As(err, &xe) || xe.Tag != tc.tag {
			t.Errorf("%.40s: %v, want %s", tc.doc, err, tc.tag)
		}
	}
}

// TestFilterRead: with a Read check, list entries are checked with their
// keys (an entry whose key is denied is left out), and the subtree filter
// sees only what Read grants: a content match on a denied leaf matches
// nothing, so the entry it would select is not revealed.
func TestFilterRead(t *testing.T) {
	s := loadSchema(t)
	d := filterTree(t, s)
	var seen []string
	read := func(ns string, p schema.DataPath, secret bool) bool {
		seen = append(seen, p.String())
		ps := p.String()
		return !strings.HasSuffix(ps, "/remote-address") && ps != "/vrf[name='trusted']/name" &&
			!strings.HasPrefix(ps, "/vrf[name='main']/ike/vpn[name='hq']")
	}
	opts := EncodeOptions{Config: true, Secrets: true, Read: read}
	for _, tc := range []struct{ name, filter, want string }{
		{"content match on a denied leaf", `<vrf ` + nsVRF + `><name>main</name><ike ` + nsIKE + `><vpn><remote-address>203.0.113.7</remote-address></vpn></ike></vrf>`,
			vrfOpen + `<name>main</name></vrf>`},
		{"an entry denied by its key", `<vrf ` + nsVRF + `><name>main</name><ike ` + nsIKE + `><vpn><name/></vpn></ike></vrf>`,
			vrfOpen + `<name>main</name>` + ikeOpen + `<vpn><name>branch</name></vpn></ike></vrf>`},
		{"an entry whose key leaf is denied", `<vrf ` + nsVRF + `><description/></vrf>`,
			vrfOpen + `<name>main</name><description>main &amp; &lt;only&gt;</description></vrf>`},
	} {
		if got := filtered(t, s, d, tc.filter, opts); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	if !strings.Contains(strings.Join(seen, " "), "/vrf[name='main']/ike/vpn[name='branch']/remote-address") {
		t.Errorf("Read was not asked with the entries' keys: %v", seen)
	}
}
