package ikesvc

import (
	"testing"
	"time"

	"secgw/generated"
	"secgw/internal/ike/engine"
)

// TestPPKStateAndFailures: ppk-used in the ike-sa state follows the
// engine's SA (RFC 8784 was used), and a failure because a PPK was
// required and not used is counted as ppk-required, not as the
// AUTHENTICATION_FAILED it also is (both roles' reasons, as the engine
// words them).
func TestPPKStateAndFailures(t *testing.T) {
	for _, used := range []bool{false, true} {
		e := ikeSAState(engine.SAState{UniqueID: 1, VPN: "vpn0", State: "established", PPKUsed: used}, time.Now(), false, nil)
		if e.PpkUsed == nil || *e.PpkUsed != used {
			t.Errorf("ppk-used %v, want %v", e.PpkUsed, used)
		}
	}
	var st stats
	for _, reason := range []string{
		"engine: AUTHENTICATION_FAILED: PPK required: the peer does not support PPK (no USE_PPK in its IKE_SA_INIT response)",
		"AUTHENTICATION_FAILED sent: PPK required: the peer named no PPK (no PPK_IDENTITY)",
		"engine: AUTHENTICATION_FAILED: peer AUTH does not verify",
	} {
		st.count(engine.Event{Kind: engine.IKEFailed, VPN: "vpn0", Reason: reason})
	}
	var s generated.SecgwVrf_Vrf_Ike_Statistics
	st.fill(&s)
	ppk := s.Failure[generated.SecgwVrf_Vrf_Ike_Statistics_Failure_Reason_ppk_required]
	auth := s.Failure[generated.SecgwVrf_Vrf_Ike_Statistics_Failure_Reason_authentication_failed]
	if ppk == nil || *ppk.Count != 2 || auth == nil || *auth.Count != 1 {
		t.Errorf("failures ppk-required %+v, authentication-failed %+v; want 2 and 1", ppk, auth)
	}
}
