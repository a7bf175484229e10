package netconf

import (
	"errors"
	"strings"
	"testing"
	"time"

	gonetconf "github.com/Juniper/go-netconf/netconf"

	"secgw/internal/configtest"
	"secgw/internal/datastore"
	"secgw/internal/ncclient"
	"secgw/internal/schema"
	"secgw/internal/xmlcodec"
)

// getXPath runs get-config of ds with an xpath filter.
func getXPath(t *testing.T, s *ncclient.Session, ds, sel string) (string, error) {
	t.Helper()
	return exec1(t, s, `<get-config><source><`+ds+`/></source><filter type="xpath" select="`+sel+`"/></get-config>`)
}

// TestXPathFilterSecrets checks that a read-only user's xpath filters and
// subtree content matches cannot test secrets, committed or only in the
// candidate: a filter true when the secret matches answers exactly what a
// false one answers. The admin's role sees secrets, and its filters do.
func TestXPathFilterSecrets(t *testing.T) {
	f := start(t)
	admin := dial(t, f.addr, "admin", "secret-admin")
	reader := dial(t, f.addr, "reader", "secret-reader")
	edit := func(psk string) string {
		return `<edit-config><target><candidate/></target><config>
	  <vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name>
	    <ike ` + ikeNS + `><vpn><name>hq</name><remote-address>198.51.100.1</remote-address>
	      <ike-policy><pre-shared-key>` + psk + `</pre-shared-key></ike-policy></vpn>
	      <ppk><name>k1</name><id>alice</id><secret>0x00112233445566778899aabbccddeeff</secret></ppk>
	    </ike></vrf></config></edit-config>`
	}
	for _, op := range []string{edit("abc-running"), `<commit/>`, edit("xyz-candidate")} {
		if _, err := exec1(t, admin, op); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct{ ds, yes, no string }{
		{"running", "/vrf/ike/vpn[contains(ike-policy/pre-shared-key,'a')]", "/vrf/ike/vpn[contains(ike-policy/pre-shared-key,'q')]"},
		{"running", "/vrf/ike/vpn[substring(ike-policy/pre-shared-key,1,3)='abc']", "/vrf/ike/vpn[substring(ike-policy/pre-shared-key,1,3)='abd']"},
		{"candidate", "/vrf/ike/vpn[starts-with(ike-policy/pre-shared-key,'xyz')]", "/vrf/ike/vpn[starts-with(ike-policy/pre-shared-key,'xyy')]"},
		{"running", "/vrf/ike/ppk[contains(secret,'0x0011')]", "/vrf/ike/ppk[contains(secret,'0x0012')]"},
	}
	for _, c := range cases {
		yes, err := getXPath(t, reader, c.ds, c.yes)
		if err != nil {
			t.Fatalf("%s: %v", c.yes, err)
		}
		no, err := getXPath(t, reader, c.ds, c.no)
		if err != nil {
			t.Fatalf("%s: %v", c.no, err)
		}
		if yes != no || strings.Contains(yes, "<vpn") || strings.Contains(yes, "<ppk") {
			t.Errorf("reader, %s: %s answers\n%s\nand %s answers\n%s", c.ds, c.yes, yes, c.no, no)
		}
		yes, err = getXPath(t, admin, c.ds, c.yes)
		if err != nil || !strings.Contains(yes, "<name>") {
			t.Errorf("admin, %s: %s answers %s %v; want the entry", c.ds, c.yes, yes, err)
		}
	}
	// Subtree content match on a secret leaf.
	subtree := func(psk string) string {
		return `<get-config><source><running/></source><filter type="subtree"><vrf xmlns="urn:secgw:yang:secgw-vrf"><ike ` + ikeNS +
			`><vpn><ike-policy><pre-shared-key>` + psk + `</pre-shared-key></ike-policy></vpn></ike></vrf></filter></get-config>`
	}
	yes, err1 := exec1(t, reader, subtree("abc-running"))
	no, err2 := exec1(t, reader, subtree("nope"))
	if err1 != nil || err2 != nil || yes != no || strings.Contains(yes, "<vpn") {
		t.Errorf("reader subtree content match: %s %v / %s %v", yes, err1, no, err2)
	}
}

// loadVPNs commits n VPNs of the concentrator into f's store.
func loadVPNs(t *testing.T, f *fixture, n int) {
	t.Helper()
	doc, err := f.srv.codec.Append(nil, configtest.Concentrator(t, f.srv.cfg.Schema, n), xmlcodec.EncodeOptions{Config: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Edit(1, func(root schema.Node) error {
		return f.srv.applyConfig(nil, root, configOf(t, doc), xmlcodec.OpMerge)
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Commit(datastore.CommitOptions{Session: 1}); err != nil {
		t.Fatal(err)
	}
}

// TestXPathFilterLimits checks that a filter over the step budget or the
// timeout is refused with application resource-denied, in time, and that
// a cheap filter on the same tree is answered.
func TestXPathFilterLimits(t *testing.T) {
	for _, c := range []struct {
		name  string
		opt   func(*Config)
		words string
		bound time.Duration
	}{
		{"steps", func(c *Config) { c.XPathMaxSteps, c.XPathTimeout = 200_000, -1 }, "200000 steps", 2 * time.Second},
		{"timeout", func(c *Config) { c.XPathMaxSteps, c.XPathTimeout = -1, 100*time.Millisecond }, "within 100ms", time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := start(t, c.opt)
			loadVPNs(t, f, 1000)
			reader := dial(t, f.addr, "reader", "secret-reader")
			begin := time.Now()
			_, err := getXPath(t, reader, "running", "/vrf/ike/vpn[name = /vrf/ike/vpn/name]")
			took := time.Since(begin)
			var re *gonetconf.RPCError
			if !errors.As(err, &re) || re.Type != "application" || re.Tag != "resource-denied" || !strings.Contains(re.Message, c.words) {
				t.Fatalf("quadratic filter: %v (%+v)", err, re)
			}
			if took > c.bound {
				t.Errorf("refused after %v, want within %v", took, c.bound)
			}
			data, err := getXPath(t, reader, "running", "/vrf/ike/vpn[name='vpn00042']/remote-id")
			if err != nil || !strings.Contains(data, "ucpe00042.example.com") {
				t.Errorf("cheap filter: %v %.300s", err, data)
			}
		})
	}
}
