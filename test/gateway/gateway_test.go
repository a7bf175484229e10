package gateway

import (
	"strings"
	"testing"
	"time"
)

// TestStrongSwan: secgwd, configured only through
// NETCONF, establishes a tunnel with charon, whichever side initiates;
// ping and TCP go through it both ways; the CLI, <get> and swanctl agree
// on the SAs; a commit that changes another VPN leaves the tunnel (same
// SPIs) and its traffic alone; deleting the VPN by NETCONF removes the SAs
// on both sides.
func TestStrongSwan(t *testing.T) {
	for _, role := range []string{"secgwd-initiates", "charon-initiates"} {
		t.Run(role, func(t *testing.T) {
			t.Parallel()
			st := newSetup(t, suiteGCM, policy4)
			// Another VPN, to a peer that is not there, never initiated.
			st.gw.configure(t,
				"vpn other local-address "+gwOuter.String()+" remote-address 192.0.2.99",
				"vpn other local-id "+gwID+" remote-id other.example",
				"vpn other ike-policy pre-shared-key other-secret-0123456789",
				"vpn other security-policy other local-ts subnet 10.1.1.0/24",
				"vpn other security-policy other remote-ts subnet 10.9.0.0/24")
			if role == "secgwd-initiates" {
				st.gwInitiate(t, policy4)
			} else {
				st.ch.initiate(t, policy4.name)
			}
			before := st.checkAgree(t, policy4.name)
			checkTraffic(t, st.top, traffic4)
			st.checkCounted(t)

			// A commit that changes the other VPN only.
			st.gw.configure(t, "vpn other remote-id changed.example", "vpn other ike-policy pre-shared-key changed-secret-0123456789")
			if after := st.checkAgree(t, policy4.name); after.String() != before.String() {
				t.Errorf("changing another VPN changed the tunnel:\nbefore %v\nafter  %v", before, after)
			}
			ping(t, st.top.gw, gwInner4, charonIn4)
			ping(t, st.top.charon, charonIn4, gwInner4)

			st.deleteVPN(t)
		})
	}
}

// checkCounted checks that secgwd's and charon's counters saw the traffic
// in both directions.
func (st *setup) checkCounted(t *testing.T) {
	t.Helper()
	show, get, ch := st.views(t)
	for _, v := range []struct {
		name  string
		views []saView
	}{{"show", show}, {"get", get}, {"charon", ch}} {
		for _, sa := range v.views {
			for _, c := range sa.Children {
				if c.PacketsIn == 0 || c.PacketsOut == 0 {
					t.Errorf("%s: child SA %s counted %d packets in, %d out; want traffic both ways", v.name, c.Name, c.PacketsIn, c.PacketsOut)
				}
			}
		}
	}
}

// deleteVPN deletes the VPN with a NETCONF edit-config and commit
// (go-netconf), then checks that secgwd sent charon a Delete for the
// IKE SA and that neither side keeps an SA, a route or traffic.
func (st *setup) deleteVPN(t *testing.T) {
	t.Helper()
	st.gw.rpc(t, `<edit-config><target><candidate/></target><config><vrf xmlns="`+nsVRF+`"><name>main</name>`+
		`<ike xmlns="`+nsIKE+`"><vpn xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="delete">`+
		`<name>`+ourVPNName+`</name></vpn></ike></vrf></config></edit-config>`)
	st.gw.rpc(t, `<commit/>`)
	if cfg := st.gw.rpc(t, `<get-config><source><running/></source></get-config>`); strings.Contains(cfg, ourVPNName) ||
		!strings.Contains(cfg, "other") {
		t.Errorf("running configuration after the delete:\n%s", cfg)
	}
	gone := eventually(5*time.Second, func() bool {
		show, get, ch := st.views(t)
		return len(show) == 0 && len(get) == 0 && len(ch) == 0
	})
	if !gone {
		show, get, ch := st.views(t)
		t.Fatalf("SAs left after deleting the VPN:\nshow %v\nget %v\ncharon %v", show, get, ch)
	}
	// RFC 7296 §1.4.1: the IKE SA is deleted with an INFORMATIONAL
	// exchange, not left to time out.
	if log := st.ch.ReadLog(); !strings.Contains(log, "received DELETE for IKE_SA secgw[") {
		t.Errorf("charon logged no Delete of the IKE SA from secgwd:\n%s", tail(log, 20))
	}
	if routes := run(t, "ip", "-n", st.top.gw, "route", "show", "table", "220"); strings.Contains(routes, charonNet4) {
		t.Errorf("secgwd left its route into the TUN device:\n%s", routes)
	}
	pingFails(t, st.top.gw, gwInner4, charonIn4)
}
