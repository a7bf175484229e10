package cli

import (
	"fmt"
	"io"
	"strings"

	"secgw/generated"
)

// showIkeHA runs 'show ike ha [vrf NAME]': the IKE HA state (secgw-ha's
// ike ha state) as the operator checks it before and after a failover:
// this node's role, the sync link and the peer's role, what is synced
// and when it last was, and the counters of role changes and of the link.
func (c *CLI) showIkeHA(words []string) error {
	vrf, err := vrfWord(words, "show ike ha")
	if err != nil {
		return err
	}
	d, err := c.getState([]string{"vrf", vrf, "ike", "ha", "state"}, false)
	if err != nil {
		return err
	}
	var st *generated.SecgwVrf_Vrf_Ike_Ha_State
	if v := d.Vrf[vrf]; v != nil && v.Ike != nil && v.Ike.Ha != nil {
		st = v.Ike.Ha.State
	}
	if st == nil {
		_, err = io.WriteString(c.out, "IKE HA is not configured in vrf "+vrf+"\n")
		return err
	}
	link, peer := "down", "-"
	if st.PeerConnected != nil && *st.PeerConnected {
		link = "up"
	}
	if st.PeerRole != 0 {
		peer = c.enum(st.PeerRole)
	}
	last := "never"
	if st.LastSync != nil {
		last = *st.LastSync
	}
	rows := [][2]string{
		{"Role", c.enum(st.Role)},
		{"Peer link", link},
		{"Peer role", peer},
		{"IKE SAs synced", fmt.Sprint(u32(st.IkeSaSynced))},
		{"Child SAs synced", fmt.Sprint(u32(st.ChildSaSynced))},
		{"Last sync", last},
		{"Transitions", fmt.Sprint(u64(st.Transitions))},
		{"Split brains", fmt.Sprint(u64(st.SplitBrains))},
		{"Resyncs", fmt.Sprint(u64(st.Resyncs))},
		{"Messages", fmt.Sprintf("sent %d, received %d, rejected %d", u64(st.MessagesSent), u64(st.MessagesReceived), u64(st.MessagesRejected))},
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%-17s %s\n", r[0]+":", r[1])
	}
	_, err = io.WriteString(c.out, b.String())
	return err
}
