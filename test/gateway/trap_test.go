package gateway

import (
	"testing"
)

// TestTrapAcquire: with the default start-action trap, secgwd installs
// the trap of its security policy (and, with the userspace dataplane, the
// route of its remote selector into the TUN); the first packet to the
// remote network raises an acquire and secgwd negotiates the child SA
// with charon by itself: later packets go through, and the three views
// agree.
func TestTrapAcquire(t *testing.T) {
	t.Parallel()
	st := newSetup(t, suiteGCM, policy4)
	// The first echo request is the trigger; it may be lost.
	runErr("ip", "netns", "exec", st.top.gw, "ping", "-n", "-q", "-c", "4", "-i", "0.5", "-W", "1",
		"-I", gwInner4.String(), charonIn4.String())
	st.checkAgree(t, policy4.name)
	ping(t, st.top.gw, gwInner4, charonIn4)
	ping(t, st.top.charon, charonIn4, gwInner4)
}
