package ha

import "fmt"

// Role is a node's part in the pair (secgw-ha.yang, state/role).
type Role uint8

// The roles.
const (
	// RoleInit: no VRRP notification yet. The engine is passive, as in
	// standby: it sends nothing, answers nothing, initiates nothing (HA
	// design, decision 1), and imports what an active peer syncs.
	RoleInit Role = iota
	// RoleActive negotiates, carries traffic and syncs its SAs.
	RoleActive
	// RoleStandby holds the active's SAs passively.
	RoleStandby
)

func (r Role) String() string {
	switch r {
	case RoleInit:
		return "init"
	case RoleActive:
		return "active"
	case RoleStandby:
		return "standby"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// VRRPState is what keepalived's notify script reports of the VRRP group
// bound to our HA group (the ha-notify RPC's state).
type VRRPState uint8

// The VRRP states.
const (
	// VRRPUnknown: no notification since start.
	VRRPUnknown VRRPState = iota
	VRRPMaster
	VRRPBackup
	VRRPFault
	VRRPStop
)

// ParseVRRPState maps ha-notify's state enum (master, backup, fault,
// stop; keepalived's MASTER/BACKUP/FAULT/STOP in any case) to a VRRPState.
func ParseVRRPState(s string) (VRRPState, error) {
	switch s {
	case "master", "MASTER":
		return VRRPMaster, nil
	case "backup", "BACKUP":
		return VRRPBackup, nil
	case "fault", "FAULT":
		return VRRPFault, nil
	case "stop", "STOP":
		return VRRPStop, nil
	}
	return VRRPUnknown, fmt.Errorf("ha: VRRP state %q (master, backup, fault or stop)", s)
}

func (s VRRPState) String() string {
	switch s {
	case VRRPUnknown:
		return "unknown"
	case VRRPMaster:
		return "master"
	case VRRPBackup:
		return "backup"
	case VRRPFault:
		return "fault"
	case VRRPStop:
		return "stop"
	}
	return fmt.Sprintf("vrrp(%d)", uint8(s))
}

// peerUnknown is the peer's role while the link is down or before its
// first hello.
const peerUnknown Role = 0xff

// decide is the role state machine, a pure function of its inputs (HA
// design, decisions 1 and 5):
//   - no VRRP notification yet: init;
//   - VRRP master: active, except in split brain: when the link is up
//     and the peer says it is active too, node 1 stays active and node 2
//     goes standby (splitBrain reports it);
//   - VRRP backup, fault or stop: standby.
//
// Without the link each node obeys its VRRP group: a VRRP split brain
// then makes two actives, and the oseq-shift of the takeover is what
// keeps their sequence numbers apart (as long as the old active sent
// fewer than oseq-shift packets after its last sync).
func decide(vrrp VRRPState, linkUp bool, peer Role, nodeID uint8) (role Role, splitBrain bool) {
	switch vrrp {
	case VRRPUnknown:
		return RoleInit, false
	case VRRPMaster:
		if linkUp && peer == RoleActive {
			if nodeID == 1 {
				return RoleActive, true
			}
			return RoleStandby, true
		}
		return RoleActive, false
	}
	return RoleStandby, false
}
