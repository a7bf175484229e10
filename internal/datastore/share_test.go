package datastore

import (
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/configtest"
	"secgw/internal/schema"
	"secgw/internal/xmlcodec"
)

// TestSharedContainerEditIsolated: running decoded from the stored file
// holds one struct for the equal ike-policy, ipsec-policy and local-ts
// containers of its VPNs; an edit of one VPN's, committed, then replayed
// from the journal onto the decoded tree at the next Open, changes that
// VPN alone.
func TestSharedContainerEditIsolated(t *testing.T) {
	open(t, t.TempDir()) // loads the schema
	dir := t.TempDir()
	if err := writeAtomic(dir+"/"+runningFile, encodeConfig(tSchema, configtest.Concentrator(t, tSchema, 3), 0), nil); err != nil {
		t.Fatal(err)
	}
	// No snapshot: the commit stays in the journal, replayed at Open.
	st := openWith(t, dir, 1000, 10)
	vpn := func(d *generated.Device, name string) *generated.SecgwVrf_Vrf_Ike_Vpn {
		v := d.Vrf["main"].Ike.Vpn[name]
		if v == nil {
			t.Fatalf("no vpn %s", name)
		}
		return v
	}
	r := st.Snapshot(Running)
	a, b := vpn(r, "vpn00000"), vpn(r, "vpn00001")
	if a.IkePolicy != b.IkePolicy || a.IpsecPolicy != b.IpsecPolicy ||
		a.SecurityPolicy["sp00000_0"].LocalTs != b.SecurityPolicy["sp00001_0"].LocalTs {
		t.Fatal("the decoded VPNs do not share their equal containers")
	}
	if a.SecurityPolicy["sp00000_0"].RemoteTs == b.SecurityPolicy["sp00001_0"].RemoteTs {
		t.Fatal("different remote-ts share a struct")
	}

	if err := st.Edit(1, set(
		"/ vrf main ike vpn vpn00000 ike-policy rekey-time 3600",
		"/ vrf main ike vpn vpn00000 ipsec-policy replay-window 64",
		"/ vrf main ike vpn vpn00000 security-policy sp00000_0 local-ts subnet 172.99.0.0/24",
	)); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(CommitOptions{Session: 1}); err != nil {
		t.Fatal(err)
	}
	check := func(when string, d *generated.Device) {
		t.Helper()
		a := vpn(d, "vpn00000")
		if got := a.GetIkePolicy().GetRekeyTime(); got != 3600 {
			t.Errorf("%s: vpn00000 ike-policy rekey-time %d, want 3600", when, got)
		}
		if got := a.GetIpsecPolicy().GetReplayWindow(); got != 64 {
			t.Errorf("%s: vpn00000 ipsec-policy replay-window %d, want 64", when, got)
		}
		if got := a.SecurityPolicy["sp00000_0"].GetLocalTs().GetSubnet(); got != "172.99.0.0/24" {
			t.Errorf("%s: vpn00000 local-ts %q, want 172.99.0.0/24", when, got)
		}
		for _, name := range []string{"vpn00001", "vpn00002"} {
			v := vpn(d, name)
			if v.GetIkePolicy().RekeyTime != nil || v.GetIkePolicy().GetTemplate() != "vpnc_ike" {
				t.Errorf("%s: %s ike-policy changed: %+v", when, name, *v.GetIkePolicy())
			}
			if v.GetIpsecPolicy().ReplayWindow != nil || v.GetIpsecPolicy().GetTemplate() != "vpnc_esp" {
				t.Errorf("%s: %s ipsec-policy changed: %+v", when, name, *v.GetIpsecPolicy())
			}
			for _, sp := range v.SecurityPolicy {
				if got := sp.GetLocalTs().GetSubnet(); got == "172.99.0.0/24" {
					t.Errorf("%s: %s security-policy %s local-ts changed to %s", when, name, sp.GetName(), got)
				}
			}
		}
	}
	check("after the commit", st.Snapshot(Running))
	st.Close()

	st = openWith(t, dir, 1000, 10)
	defer st.Close()
	if st.journaled == 0 {
		t.Fatal("the commit was not replayed from the journal")
	}
	check("after the journal's replay", st.Snapshot(Running))
	r = st.Snapshot(Running)
	if b, c := vpn(r, "vpn00001"), vpn(r, "vpn00002"); b.IkePolicy != c.IkePolicy {
		t.Fatal("after the replay, the VPNs it did not change no longer share their ike-policy")
	}

	// An <edit-config> (the NETCONF path: xmlcodec's edits on the
	// journaled candidate) of vpn00001's shared containers, merge and
	// replace.
	codec, err := xmlcodec.New(tSchema)
	if err != nil {
		t.Fatal(err)
	}
	edits, err := codec.Decode(strings.NewReader(`<vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name>`+
		`<ike xmlns="urn:secgw:yang:secgw-ike"><vpn><name>vpn00001</name>`+
		`<ike-policy><dpd-threshold>5</dpd-threshold></ike-policy>`+
		`<ipsec-policy xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="replace"><template>vpnc_esp</template><life-time>7200</life-time></ipsec-policy>`+
		`</vpn></ike></vrf>`), nil, xmlcodec.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Edit(1, func(root schema.Node) error { return xmlcodec.ApplyNode(tSchema, root, edits, xmlcodec.OpMerge) }); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(CommitOptions{Session: 1}); err != nil {
		t.Fatal(err)
	}
	r = st.Snapshot(Running)
	b = vpn(r, "vpn00001")
	if b.GetIkePolicy().GetDpdThreshold() != 5 || b.GetIkePolicy().GetTemplate() != "vpnc_ike" || b.GetIpsecPolicy().GetLifeTime() != 7200 {
		t.Errorf("vpn00001 after the edit-config: ike-policy %+v, ipsec-policy %+v", *b.GetIkePolicy(), *b.GetIpsecPolicy())
	}
	c := vpn(r, "vpn00002")
	if c.GetIkePolicy().DpdThreshold != nil || c.GetIpsecPolicy().LifeTime != nil {
		t.Errorf("vpn00002 changed by vpn00001's edit-config: ike-policy %+v, ipsec-policy %+v", *c.GetIkePolicy(), *c.GetIpsecPolicy())
	}
}

// TestDecodeDuplicateContainerUnshared: a file naming a container twice
// in one VPN (damaged, or written by hand) merges both into that VPN's
// container, and leaves the struct other VPNs share with it as it was;
// the merged container is no other text's.
func TestDecodeDuplicateContainerUnshared(t *testing.T) {
	open(t, t.TempDir()) // loads the schema
	data := []byte(`{"format":"` + formatName + `","commit":1,"data":{"vrf":[{"name":"main","ike":{"vpn":[
		{"name":"a","ike-policy":{"template":"t"}},
		{"name":"b","ike-policy":{"template":"t"},"ike-policy":{"rekey-time":"60"}},
		{"name":"c","ike-policy":{"rekey-time":"60"}},
		{"name":"d","ike-policy":{"template":"t"}}]}}]}}`)
	d, _, _, err := decodeSnapshot(tSchema, data, true)
	if err != nil {
		t.Fatal(err)
	}
	a, b := d.Vrf["main"].Ike.Vpn["a"].IkePolicy, d.Vrf["main"].Ike.Vpn["b"].IkePolicy
	if a.RekeyTime != nil || a.GetTemplate() != "t" {
		t.Errorf("vpn a ike-policy %+v, want template t alone", *a)
	}
	if b.GetRekeyTime() != 60 || b.GetTemplate() != "t" {
		t.Errorf("vpn b ike-policy %+v, want template t and rekey-time 60", *b)
	}
	if c := d.Vrf["main"].Ike.Vpn["c"].IkePolicy; c.GetRekeyTime() != 60 || c.Template != nil {
		t.Errorf("vpn c ike-policy %+v, want rekey-time 60 alone", *c)
	}
	if dp := d.Vrf["main"].Ike.Vpn["d"].IkePolicy; dp != a {
		t.Errorf("vpn d does not share vpn a's ike-policy")
	}
}
