package xmlcodec

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/rpcerr"
	"secgw/internal/schema"
)

// TestEncodeGolden pins the XML of the small configuration in each
// with-defaults mode, with and without secrets.
func TestEncodeGolden(t *testing.T) {
	s := loadSchema(t)
	d := smallTree(t, s)
	for _, tc := range []struct {
		file string
		opts EncodeOptions
	}{
		{"small-explicit.xml", EncodeOptions{Config: true, Secrets: true}},
		{"small-explicit-nosecrets.xml", EncodeOptions{Config: true}},
		{"small-report-all.xml", EncodeOptions{Config: true, Secrets: true, WithDefaults: ReportAll}},
		{"small-report-all-tagged.xml", EncodeOptions{Config: true, Secrets: true, WithDefaults: ReportAllTagged}},
		{"small-trim.xml", EncodeOptions{Config: true, Secrets: true, WithDefaults: Trim}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			tc.opts.Indent = "  "
			golden(t, tc.file, encode(t, s, d, tc.opts))
		})
	}
}

// TestEncodeProperties checks the rules the golden files follow, on the
// compact form.
func TestEncodeProperties(t *testing.T) {
	s := loadSchema(t)
	d := smallTree(t, s)
	out := string(encode(t, s, d, EncodeOptions{Config: true, Secrets: true}))
	for _, want := range []string{
		// Namespace declared at the top and where it changes, only there.
		// The augments of vrf in libyang's order: secgw-ha's, then
		// secgw-ike's; ha's augment of ike after ike's own children.
		`<vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name><description>main &amp; &lt;only&gt;</description><vrrp xmlns="urn:secgw:yang:secgw-ha"><group><name>g1</name>`,
		`</vrrp><ike xmlns="urn:secgw:yang:secgw-ike"><global-options>`,
		`</vpn><ha xmlns="urn:secgw:yang:secgw-ha"><listen-ha-group>hag</listen-ha-group>`,
		// Keys first, then statement order (local-address before remote-address).
		`<vpn><name>hq</name><ike-policy><pre-shared-key>s3cr3t-psk</pre-shared-key></ike-policy><local-address>198.51.100.2</local-address><remote-address>198.51.100.1</remote-address>`,
		// ordered-by user leaf-list in insertion order.
		`<vip-pool>p2</vip-pool><vip-pool>p1</vip-pool>`,
		// Canonical decimal64 and a presence container.
		`<retransmit-timeout>4.0</retransmit-timeout>`,
		`<inject-routes><next-hop>eth0</next-hop></inject-routes>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s\n%s", want, out)
		}
	}
	if n := strings.Count(out, "xmlns="); n != 4 {
		t.Errorf("%d namespace declarations, want 4 (vrf, ike, ha, vrrp)", n)
	}
	noSecrets := string(encode(t, s, d, EncodeOptions{Config: true}))
	for _, secret := range []string{"s3cr3t-psk", "0123456789abcdef-ha", "pre-shared-key", "<secret>"} {
		if strings.Contains(noSecrets, secret) {
			t.Errorf("secret %q written without Secrets", secret)
		}
	}
	// Append appends.
	b, err := codecOf(s).Append([]byte("<data>"), d, EncodeOptions{Config: true})
	if err != nil || !bytes.HasPrefix(b, []byte("<data><vrf ")) {
		t.Errorf("Append = %.40s, %v", b, err)
	}
	// Bad mode.
	var xe *rpcerr.Error
	if _, err := codecOf(s).Append(nil, d, EncodeOptions{WithDefaults: "all"}); !errors.As(err, &xe) || xe.Tag != "invalid-value" {
		t.Errorf("bad with-defaults mode: %v", err)
	}
	// Empty tree, nil tree: of an empty tree, report-all gives the
	// defaults of the non-presence container /nacm alone (RFC 7950
	// §7.6.1: they exist without it), explicit nothing.
	if out := string(encode(t, s, &generated.Device{}, EncodeOptions{WithDefaults: ReportAll, Config: true})); !strings.HasPrefix(out, `<nacm xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-acm"><enable-nacm>true</enable-nacm>`) || strings.Contains(out, "<vrf") || strings.Contains(out, "denied") {
		t.Errorf("empty tree, report-all, gives %q", out)
	}
	if out := encode(t, s, &generated.Device{}, EncodeOptions{Config: true}); len(out) != 0 {
		t.Errorf("empty tree gives %q", out)
	}
}

// stateTree is the small configuration with operational state, some of it
// secret.
func stateTree(t testing.TB, s *schema.Schema) *generated.Device {
	d := smallTree(t, s)
	ike := d.Vrf["main"].Ike
	ike.Dataplane = generated.SecgwVrf_Vrf_Ike_Dataplane_kernel_xfrm
	sa := ike.GetOrCreateIkeSa(7)
	sa.Name = str("hq")
	sa.SkEi = str("00ff00ff")
	sa.LocalVip = []string{"10.9.0.1"}
	sa.GetOrCreateChildSa(9).EncrKeyIn = str("abcd")
	ike.Ha.GetOrCreateState().Role = generated.SecgwHa_HaRole_active
	return d
}

func TestEncodeState(t *testing.T) {
	s := loadSchema(t)
	d := stateTree(t, s)
	cfg := string(encode(t, s, d, EncodeOptions{Config: true, Secrets: true}))
	for _, state := range []string{"dataplane", "ike-sa", "<state>", "<role>"} {
		if strings.Contains(cfg, state) {
			t.Errorf("get-config output has state %s", state)
		}
	}
	// Session keys (secret state leaves) only when a filter names them,
	// even for a user allowed to see secrets.
	all := string(encode(t, s, d, EncodeOptions{Secrets: true}))
	for _, want := range []string{
		`<dataplane>kernel-xfrm</dataplane><ike-sa><unique-id>7</unique-id><name>hq</name>`,
		`<local-vip>10.9.0.1</local-vip><child-sa><unique-id>9</unique-id></child-sa></ike-sa>`,
		`<state><role>active</role></state></ha>`,
		`<secret>0123456789abcdef-ha</secret>`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("get output lacks %s\n%s", want, all)
		}
	}
	f, err := ParseFilter(strings.NewReader(`<vrf xmlns="urn:secgw:yang:secgw-vrf"><ike xmlns="urn:secgw:yang:secgw-ike"><ike-sa>` +
		`<unique-id/><name/><local-vip/><sk-ei/><child-sa><unique-id/><encr-key-in/></child-sa></ike-sa></ike></vrf>`))
	if err != nil {
		t.Fatal(err)
	}
	keys := string(encode(t, s, d, EncodeOptions{Secrets: true, Filter: f}))
	for _, want := range []string{
		`<ike-sa><unique-id>7</unique-id><name>hq</name><local-vip>10.9.0.1</local-vip><sk-ei>00ff00ff</sk-ei>`,
		`<child-sa><unique-id>9</unique-id><encr-key-in>abcd</encr-key-in></child-sa>`,
	} {
		if !strings.Contains(keys, want) {
			t.Errorf("get output with a filter naming the keys lacks %s\n%s", want, keys)
		}
	}
	if keys := string(encode(t, s, d, EncodeOptions{Filter: f})); strings.Contains(keys, "sk-ei") || strings.Contains(keys, "encr-key-in") {
		t.Errorf("keys named by the filter given without Secrets:\n%s", keys)
	}
	noSecrets := string(encode(t, s, d, EncodeOptions{}))
	if strings.Contains(noSecrets, "sk-ei") || strings.Contains(noSecrets, "encr-key-in") || !strings.Contains(noSecrets, "<child-sa><unique-id>9</unique-id></child-sa>") {
		t.Errorf("state secrets not omitted:\n%s", noSecrets)
	}
}

// TestStatementOrder checks that every child of every node was found in
// the YANG statements, so that no order falls back to names.
func TestStatementOrder(t *testing.T) {
	s := loadSchema(t)
	c, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	for b, p := range c.plans {
		order := StatementOrder(b.Entry)
		for _, fp := range p.fields {
			if _, ok := order[fp.f.Name]; !ok {
				t.Errorf("%s: %s has no statement", schema.Path(b.Entry), fp.f.Name)
			}
		}
	}
	var names []string
	for _, fp := range c.plans[s.RootBinding().Field("vrf").Elem].fields {
		names = append(names, fp.f.Name)
	}
	if got := strings.Join(names, " "); got != "name description vrrp ike kpi" {
		t.Errorf("vrf children in order %s", got)
	}
}

func TestAppendEscaped(t *testing.T) {
	for in, want := range map[string]string{
		"a<b>&c":      "a&lt;b&gt;&amp;c",
		"x\r\ny\tz":   "x&#xD;\ny\tz",
		"bad\x00\x1b": "bad\uFFFD\uFFFD",
		"\xff\ufffe":  "\uFFFD\uFFFD",
		"é":           "é",
	} {
		if got := string(appendEscaped(nil, in, false)); got != want {
			t.Errorf("appendEscaped(%q) = %q, want %q", in, got, want)
		}
	}
	if got := string(appendEscaped(nil, "a\"b\n", true)); got != "a&quot;b&#xA;" {
		t.Errorf("attribute escaping: %q", got)
	}
}
