package ikesvc

import (
	"testing"
	"time"

	"secgw/generated"
	"secgw/internal/ike/engine"
)

// TestPassiveState: a passive IKE SA of the HA standby (engine/ha.go) is
// reported with the state passive, and so are its child SAs, in no
// dataplane (not installed).
func TestPassiveState(t *testing.T) {
	now := time.Now()
	sa := engine.SAState{UniqueID: 7, VPN: "v", State: "passive", SPIi: 1, SPIr: 2,
		Children: []engine.ChildState{{ChildSA: engine.ChildSA{UniqueID: 8, Policy: "net", InSPI: 0x1000, OutSPI: 0x2000}, State: "passive"}}}
	e := ikeSAState(sa, now, false, nil)
	if e.State != generated.SecgwVrf_Vrf_Ike_IkeSa_State_passive {
		t.Errorf("IKE SA state %v, want passive", e.State)
	}
	c := childState(sa.Children[0], now, false, nil)
	if c.State != generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_State_passive {
		t.Errorf("child SA state %v, want passive", c.State)
	}
}
