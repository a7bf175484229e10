package ha

import "testing"

// TestDecide is the role table of the HA design (decisions 1 and 5).
func TestDecide(t *testing.T) {
	for _, c := range []struct {
		vrrp   VRRPState
		link   bool
		peer   Role
		node   uint8
		want   Role
		split  bool
		reason string
	}{
		{VRRPUnknown, false, peerUnknown, 1, RoleInit, false, "no notification yet"},
		{VRRPUnknown, true, RoleActive, 2, RoleInit, false, "no notification, peer active"},
		{VRRPMaster, false, peerUnknown, 2, RoleActive, false, "master without link"},
		{VRRPMaster, true, RoleStandby, 2, RoleActive, false, "master, peer standby"},
		{VRRPMaster, true, RoleInit, 2, RoleActive, false, "master, peer init"},
		{VRRPMaster, true, RoleActive, 1, RoleActive, true, "split brain: node 1 stays"},
		{VRRPMaster, true, RoleActive, 2, RoleStandby, true, "split brain: node 2 yields"},
		{VRRPMaster, false, RoleActive, 2, RoleActive, false, "link down: VRRP rules"},
		{VRRPBackup, true, RoleActive, 1, RoleStandby, false, "backup"},
		{VRRPFault, false, peerUnknown, 1, RoleStandby, false, "fault"},
		{VRRPStop, true, RoleStandby, 2, RoleStandby, false, "stop"},
	} {
		got, split := decide(c.vrrp, c.link, c.peer, c.node)
		if got != c.want || split != c.split {
			t.Errorf("%s: got %s split %v, want %s split %v", c.reason, got, split, c.want, c.split)
		}
	}
}

func TestParseVRRPState(t *testing.T) {
	for s, want := range map[string]VRRPState{"master": VRRPMaster, "BACKUP": VRRPBackup, "fault": VRRPFault, "STOP": VRRPStop} {
		if got, err := ParseVRRPState(s); err != nil || got != want {
			t.Errorf("%s: %v %v", s, got, err)
		}
	}
	if _, err := ParseVRRPState("init"); err == nil {
		t.Error("init accepted")
	}
}
