package gateway

import (
	"errors"
	"strings"
	"testing"

	gonetconf "github.com/Juniper/go-netconf/netconf"
)

// TestDropPolicyAndSVTIRefusal: secgwd with the userspace dataplane and
// charon. A security policy of action drop, committed over the CLI beside
// an established tunnel, drops the pings between the two hosts it names
// (its Discard policy and its route into the TUN) and leaves the tunnel's
// SAs up (no IKE for it); deleting it lets them through again. An
// svti-id-in on the userspace dataplane is refused at commit with
// operation-not-supported.
func TestDropPolicyAndSVTIRefusal(t *testing.T) {
	t.Parallel()
	st := newSetup(t, suiteGCM, policy4)
	st.gwInitiate(t, policy4)
	before := st.checkAgree(t, policy4.name)
	ping(t, st.top.gw, gwInner4, charonIn4)

	sp := "vpn " + ourVPNName + " security-policy drop1 "
	st.gw.configure(t, sp+"local-ts subnet "+gwInner4.String()+"/32", sp+"remote-ts subnet "+charonIn4.String()+"/32", sp+"action drop")
	pingFails(t, st.top.gw, gwInner4, charonIn4)
	if after := st.checkAgree(t, policy4.name); after.String() != before.String() {
		t.Errorf("adding a drop policy changed the tunnel:\nbefore %v\nafter  %v", before, after)
	}

	st.gw.rpc(t, `<edit-config><target><candidate/></target><config><vrf xmlns="`+nsVRF+`"><name>main</name>`+
		`<ike xmlns="`+nsIKE+`"><vpn><name>`+ourVPNName+`</name>`+
		`<security-policy xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="delete"><name>drop1</name></security-policy>`+
		`</vpn></ike></vrf></config></edit-config>`)
	st.gw.rpc(t, `<commit/>`)
	ping(t, st.top.gw, gwInner4, charonIn4)

	st.gw.rpc(t, `<edit-config><target><candidate/></target><config><vrf xmlns="`+nsVRF+`"><name>main</name>`+
		`<ike xmlns="`+nsIKE+`"><vpn><name>`+ourVPNName+`</name><security-policy><name>`+policy4.name+`</name>`+
		`<svti-id-in>5</svti-id-in></security-policy></vpn></ike></vrf></config></edit-config>`)
	_, err := st.gw.nc.Exec(gonetconf.RawMethod(`<commit/>`))
	var re *gonetconf.RPCError
	if !errors.As(err, &re) || re.Tag != "operation-not-supported" || !strings.Contains(re.Message, "need the kernel dataplane") {
		t.Errorf("gateway: svti-id-in on the userspace dataplane was not refused as not supported: %v %+v", err, re)
	}
	st.gw.rpc(t, `<discard-changes/>`)
	if cfg := st.gw.rpc(t, `<get-config><source><running/></source></get-config>`); strings.Contains(cfg, "svti-id-in") {
		t.Errorf("the refused svti-id-in reached running:\n%s", cfg)
	}
	ping(t, st.top.gw, gwInner4, charonIn4)
}

// TestPassPolicyInClear: a security policy of action pass inside an esp
// policy whose trap routes its remote network into secgwd's TUN. With
// the pass policy (its throw route in routing-table), the pings between
// the two hosts it names leave by the main table, in clear, and raise no
// acquire: no IKE SA comes up. Once it is deleted the same pings enter
// the TUN, trap, and the tunnel comes up.
func TestPassPolicyInClear(t *testing.T) {
	t.Parallel()
	st := newSetup(t, suiteGCM, policy4)
	// The clear path: each side routes the other's inner host over the
	// veth in its main table (secgwd's table 220 is looked up first).
	run(t, "ip", "-n", st.top.gw, "route", "add", charonIn4.String()+"/32", "via", charonOuter.String())
	run(t, "ip", "-n", st.top.charon, "route", "add", gwInner4.String()+"/32", "via", gwOuter.String())
	sp := "vpn " + ourVPNName + " security-policy pass1 "
	st.gw.configure(t, sp+"local-ts subnet "+gwInner4.String()+"/32", sp+"remote-ts subnet "+charonIn4.String()+"/32", sp+"action pass")
	ping(t, st.top.gw, gwInner4, charonIn4)
	ping(t, st.top.charon, charonIn4, gwInner4)
	if show, get, ch := st.views(t); len(show)+len(get)+len(ch) != 0 {
		t.Fatalf("gateway: the pings of a pass policy set up SAs:\nshow %v\nget %v\ncharon %v", show, get, ch)
	}

	st.gw.rpc(t, `<edit-config><target><candidate/></target><config><vrf xmlns="`+nsVRF+`"><name>main</name>`+
		`<ike xmlns="`+nsIKE+`"><vpn><name>`+ourVPNName+`</name>`+
		`<security-policy xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="delete"><name>pass1</name></security-policy>`+
		`</vpn></ike></vrf></config></edit-config>`)
	st.gw.rpc(t, `<commit/>`)
	// The first echo request is the trigger; it may be lost.
	runErr("ip", "netns", "exec", st.top.gw, "ping", "-n", "-q", "-c", "4", "-i", "0.5", "-W", "1",
		"-I", gwInner4.String(), charonIn4.String())
	st.checkAgree(t, policy4.name)
	ping(t, st.top.gw, gwInner4, charonIn4)
}
