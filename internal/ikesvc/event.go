package ikesvc

import "secgw/internal/ike/engine"

// SAEvent is an SA event as secgw-ike-rpc.yang's sa-event notification
// carries it; the yang tags name its nodes for the NETCONF adapter
// (netconf.Server.Notify). The vpn and unique-id are always sent, the
// child SA's policy and unique-id with a child SA's event, the reason
// when there is one.
type SAEvent struct {
	VRF           string  `yang:"vrf"`
	Event         string  `yang:"event"`
	VPN           string  `yang:"vpn"`
	UniqueID      uint32  `yang:"unique-id"`
	Policy        *string `yang:"security-policy"`
	ChildUniqueID *uint32 `yang:"child-unique-id"`
	Reason        *string `yang:"reason"`
}

// NewSAEvent is the sa-event of an engine event.
func NewSAEvent(ev engine.Event) SAEvent {
	e := SAEvent{VRF: VRF, Event: ev.Kind.String(), VPN: ev.VPN, UniqueID: ev.SA}
	if ev.Policy != "" {
		policy, child := ev.Policy, ev.Child
		e.Policy, e.ChildUniqueID = &policy, &child
	}
	if ev.Reason != "" {
		reason := ev.Reason
		e.Reason = &reason
	}
	return e
}
