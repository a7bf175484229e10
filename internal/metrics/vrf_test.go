package metrics

import (
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/ptr"
)

// TestExpositionOtherVRFs: the IKE and child SAs by state, the
// statistics and the extra figures of every vrf of Others come with
// their vrf label, beside main's; the daemon's own figures (commits,
// sessions) are main's only; each vrf's ESP totals are its own, and keep
// the bytes of its child SAs that are gone.
func TestExpositionOtherVRFs(t *testing.T) {
	cust := state()
	cust.IkeSa[1].ChildSa[2].BytesIn = ptr.To(uint64(555))
	cust.Statistics.IkeSaSetups = ptr.To(uint64(8))
	src := testSources()
	src.Others = func() map[string]VRFSource {
		return map[string]VRFSource{"cust": {State: cust, Extra: Extra{Blocked: 6, ESPDrops: map[string]uint64{"replay": 3}}}}
	}
	c := NewCollector(src, false)
	body := collectText(t, c)
	for _, want := range []string{
		`secgw_ike_sas{state="established",vrf="main"} 1`,
		`secgw_ike_sas{state="established",vrf="cust"} 1`,
		`secgw_child_sas{state="installed",vrf="cust"} 1`,
		`secgw_ike_sa_setups_total{vrf="cust"} 8`,
		`secgw_ike_sa_setups_total{vrf="main"} 3`,
		`secgw_ike_blocked_total{vrf="cust"} 6`,
		`secgw_esp_drops_total{cause="replay",vrf="cust"} 3`,
		`secgw_esp_bytes_total{direction="in",vrf="cust"} 555`,
		`secgw_esp_bytes_total{direction="in",vrf="main"} 1000`,
		`secgw_commits_total{vrf="main"} 2`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("exposition lacks %s", want)
		}
	}
	for _, not := range []string{`secgw_commits_total{vrf="cust"}`, `secgw_netconf_sessions{vrf="cust"}`} {
		if strings.Contains(body, not) {
			t.Errorf("exposition has %s: the daemon's figures are main's", not)
		}
	}
	delete(cust.IkeSa[1].ChildSa, 2)
	cust.IkeSa[1].ChildSa = map[uint32]*generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa{}
	if got := collectText(t, c); !strings.Contains(got, `secgw_esp_bytes_total{direction="in",vrf="cust"} 555`+"\n") ||
		!strings.Contains(got, `secgw_esp_bytes_total{direction="in",vrf="main"} 1000`+"\n") {
		t.Errorf("after cust's child SA went, the totals:\n%s", got)
	}
}
