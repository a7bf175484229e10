package gateway

import "testing"

// TestSuites, end to end: for each suite, secgwd's
// userspace ESP and charon's kernel-libipsec carry IPv4 and IPv6 inner
// traffic (ping and TCP both directions). The IPv4 child SA is initiated
// by secgwd (with the IKE SA), the IPv6 one by charon (CREATE_CHILD_SA on
// the same IKE SA), and all views agree on the algorithms and SPIs.
func TestSuites(t *testing.T) {
	for _, s := range allSuites {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			st := newSetup(t, s, policy4, policy6)
			st.gwInitiate(t, policy4)
			st.ch.initiate(t, policy6.name)
			st.checkAgree(t, policy4.name, policy6.name)
			checkTraffic(t, st.top, traffic4)
			checkTraffic(t, st.top, traffic6)
			st.checkCounted(t)
		})
	}
}
