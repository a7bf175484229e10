package security

import (
	"strings"
	"testing"

	"secgw/test/secgwdtest"
)

// TestXPathFiltersHideSecrets: a read-only user's
// xpath filter (and subtree content match) with a predicate on a secret
// leaf must learn nothing. For every secret (a committed PSK, a PSK of a
// template, and uncommitted ones in the candidate: a changed PSK, a PPK
// secret and an HA secret), a predicate true for the real value and
// one false for it get the same answer, which selects nothing. The admin
// role sees secrets, so its filters on them do select.
func TestXPathFiltersHideSecrets(t *testing.T) {
	d := secgwdtest.Start(t, secgwdBin, secgwdtest.NewDataDir(t))
	admin := secgwdtest.MustDial(t, d.Addr, secgwdtest.AdminUser, secgwdtest.AdminPassword)
	reader := secgwdtest.MustDial(t, d.Addr, secgwdtest.ReaderUser, secgwdtest.ReaderPassword)

	committed := secgwdtest.IKEConfig(
		`<ike-policy-template><name>t1</name><pre-shared-key>tmpl-Secret-77</pre-shared-key></ike-policy-template>` +
			secgwdtest.VPNElem("run-Secret-42", "hq", "hq-sp", "192.0.2.1", "198.51.100.1", "gw.example.com", "hq.example.com", "10.1.0.0/16", "10.2.0.0/16"))
	if _, err := editCandidate(admin, committed); err != nil {
		t.Fatal(err)
	}
	secgwdtest.MustRPC(t, admin, `<commit/>`)
	// Uncommitted: a new PSK for hq, a PPK and IKE HA with their secrets
	// (this release refuses to commit PPKs and HA: README, Status).
	pending := `<config><vrf xmlns="` + secgwdtest.NsVRF + `"><name>main</name>` +
		`<vrrp xmlns="` + nsHA + `"><group><name>vg</name><instance>eth0</instance><notify-ha-group>g1</notify-ha-group></group></vrrp>` +
		`<ike xmlns="` + secgwdtest.NsIKE + `"><vpn><name>hq</name><ike-policy><pre-shared-key>cand-Secret-99</pre-shared-key></ike-policy></vpn>` +
		`<ha xmlns="` + nsHA + `"><listen-ha-group>g1</listen-ha-group><node-id>1</node-id><local-address>10.9.0.1</local-address>` +
		`<remote-address>10.9.0.2</remote-address><secret>ha-Secret-0123456789</secret></ha>` +
		`<ppk><name>k1</name><id>alice</id><secret>0xC0FFEE00112233445566778899aabbcc</secret></ppk></ike></vrf></config>`
	if _, err := editCandidate(admin, pending); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		op, ds    string
		yes, no   string // true, and false, for the real secret
		adminSees bool   // the admin's "yes" selects an entry
	}{
		{"get-config", "running", "/vrf/ike/vpn[contains(ike-policy/pre-shared-key,'Secret-42')]", "/vrf/ike/vpn[contains(ike-policy/pre-shared-key,'Secret-43')]", true},
		{"get-config", "running", "/vrf/ike/vpn[substring(ike-policy/pre-shared-key,1,1)='r']", "/vrf/ike/vpn[substring(ike-policy/pre-shared-key,1,1)='s']", true},
		{"get-config", "running", "/vrf/ike/vpn[ike-policy/pre-shared-key='run-Secret-42']", "/vrf/ike/vpn[ike-policy/pre-shared-key='run-Secret-41']", true},
		{"get-config", "running", "/vrf/ike/vpn[string-length(ike-policy/pre-shared-key)=13]", "/vrf/ike/vpn[string-length(ike-policy/pre-shared-key)=14]", true},
		{"get-config", "running", "/vrf/ike/ike-policy-template[starts-with(pre-shared-key,'tmpl')]", "/vrf/ike/ike-policy-template[starts-with(pre-shared-key,'tmpx')]", true},
		{"get-config", "candidate", "/vrf/ike/ppk[contains(secret,'C0FFEE')]", "/vrf/ike/ppk[contains(secret,'C0FFEF')]", true},
		{"get-config", "running", "/vrf/ike/vpn[contains(string(/),'run-Secret')]", "/vrf/ike/vpn[contains(string(/),'run-Secrex')]", true},
		{"get", "", "/vrf/ike/vpn[contains(ike-policy/pre-shared-key,'Secret-42')]", "/vrf/ike/vpn[contains(ike-policy/pre-shared-key,'Secret-43')]", true},
		{"get-config", "candidate", "/vrf/ike/vpn[contains(ike-policy/pre-shared-key,'cand-')]", "/vrf/ike/vpn[contains(ike-policy/pre-shared-key,'cane-')]", true},
		{"get-config", "candidate", "/vrf/ike/ha[starts-with(secret,'ha-Secret')]", "/vrf/ike/ha[starts-with(secret,'ha-Secreu')]", true},
		{"get-config", "candidate", "//*[.='cand-Secret-99']", "//*[.='cand-Secret-98']", true},
	}
	for _, c := range cases {
		yes, err := getXPath(reader, c.op, c.ds, c.yes)
		if err != nil {
			t.Fatalf("reader %s %s %s: %v", c.op, c.ds, c.yes, err)
		}
		no, err := getXPath(reader, c.op, c.ds, c.no)
		if err != nil {
			t.Fatalf("reader %s %s %s: %v", c.op, c.ds, c.no, err)
		}
		if yes != no {
			t.Errorf("reader %s %s: the answers differ, the secret leaks:\n%s -> %.300s\n%s -> %.300s", c.op, c.ds, c.yes, yes, c.no, no)
		}
		for _, el := range []string{"<vpn", "<ppk", "<ha", "<ike-policy-template", "Secret"} {
			if strings.Contains(yes, el) {
				t.Errorf("reader %s %s %s selects %s: %.300s", c.op, c.ds, c.yes, el, yes)
			}
		}
		ay, err := getXPath(admin, c.op, c.ds, c.yes)
		if err != nil {
			t.Fatalf("admin %s: %v", c.yes, err)
		}
		an, err := getXPath(admin, c.op, c.ds, c.no)
		if err != nil {
			t.Fatalf("admin %s: %v", c.no, err)
		}
		if c.adminSees && (!strings.Contains(ay, "<ike") || strings.Contains(an, "<ike")) {
			t.Errorf("admin %s %s: %s -> %.200s; %s -> %.200s; the admin role sees secrets and its filters must too", c.op, c.ds, c.yes, ay, c.no, an)
		}
	}

	// Subtree filters: a content match on a secret leaf matches nothing
	// for the reader, whatever the value.
	subtree := func(ds, psk string) string {
		return `<get-config><source><` + ds + `/></source><filter type="subtree"><vrf xmlns="` + secgwdtest.NsVRF + `"><ike xmlns="` + secgwdtest.NsIKE +
			`"><vpn><ike-policy><pre-shared-key>` + psk + `</pre-shared-key></ike-policy></vpn></ike></vrf></filter></get-config>`
	}
	for _, c := range [][3]string{{"running", "run-Secret-42", "nope"}, {"candidate", "cand-Secret-99", "nope"}} {
		yes := secgwdtest.MustRPC(t, reader, subtree(c[0], c[1]))
		no := secgwdtest.MustRPC(t, reader, subtree(c[0], c[2]))
		if yes != no || strings.Contains(yes, "<vpn") {
			t.Errorf("reader subtree content match on %s: %.300s / %.300s", c[0], yes, no)
		}
	}
	if strings.Contains(d.Logs(), "Secret-") {
		t.Error("a secret reached the daemon's log")
	}
}

// TestSecretTypeErrorsHideValue: an edit that puts
// a secret outside its type (too long, too short) is refused with an
// rpc-error that names the leaf but not the value, and the value reaches
// neither the log nor the reply in any form.
func TestSecretTypeErrorsHideValue(t *testing.T) {
	d := secgwdtest.Start(t, secgwdBin, secgwdtest.NewDataDir(t))
	admin := secgwdtest.MustDial(t, d.Addr, secgwdtest.AdminUser, secgwdtest.AdminPassword)
	long := "LEAKED-" + strings.Repeat("k", 1100)
	for _, c := range []struct{ name, config, leaf string }{
		{"psk too long", secgwdtest.IKEConfig(secgwdtest.VPNElem(long, "hq", "hq-sp", "192.0.2.1", "198.51.100.1", "gw.example.com", "hq.example.com", "10.1.0.0/16", "10.2.0.0/16")), "pre-shared-key"},
		{"template psk too long", secgwdtest.IKEConfig(`<ike-policy-template><name>t1</name><pre-shared-key>` + long + `</pre-shared-key></ike-policy-template>`), "pre-shared-key"},
		{"ppk secret too long", secgwdtest.IKEConfig(`<ppk><name>k1</name><id>alice</id><secret>` + long + `</secret></ppk>`), "secret"},
		{"ha secret too short", `<config><vrf xmlns="` + secgwdtest.NsVRF + `"><name>main</name>` +
			`<vrrp xmlns="` + nsHA + `"><group><name>vg</name><instance>eth0</instance><notify-ha-group>g1</notify-ha-group></group></vrrp>` +
			`<ike xmlns="` + secgwdtest.NsIKE + `"><ha xmlns="` + nsHA + `"><listen-ha-group>g1</listen-ha-group><node-id>1</node-id>` +
			`<local-address>10.9.0.1</local-address><remote-address>10.9.0.2</remote-address><secret>LEAKED-short</secret></ha></ike></vrf></config>`, "secret"},
	} {
		reply, err := admin.Exec(rawOp(`<edit-config><target><candidate/></target>` + c.config + `</edit-config>`))
		re := rpcError(err)
		if re == nil {
			t.Errorf("%s: accepted (%v)", c.name, err)
			continue
		}
		if re.Tag != "invalid-value" || !strings.Contains(re.Path, c.leaf) {
			t.Errorf("%s: %s %s at %q: %s; want invalid-value at the leaf", c.name, re.Type, re.Tag, re.Path, re.Message)
		}
		if reply != nil && strings.Contains(reply.RawReply, "LEAKED") {
			t.Errorf("%s: the rpc-reply shows the secret", c.name)
		}
		if strings.Contains(re.Message, "LEAKED") {
			t.Errorf("%s: the message shows the secret", c.name)
		} else {
			t.Logf("%s: %s", c.name, re.Message)
		}
	}
	// The same through <validate> of an inline config.
	_, err := admin.Exec(rawOp(`<validate><source>` + secgwdtest.IKEConfig(`<ppk><name>k1</name><id>alice</id><secret>`+long+`</secret></ppk>`) + `</source></validate>`))
	if re := rpcError(err); re == nil || strings.Contains(re.Message, "LEAKED") {
		t.Errorf("validate: %v", err)
	}
	if strings.Contains(d.Logs(), "LEAKED") {
		t.Error("a refused secret reached the daemon's log")
	}
}
