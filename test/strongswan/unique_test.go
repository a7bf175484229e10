package strongswan

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"secgw/internal/poll"
)

// Interop of INITIAL_CONTACT (RFC 7296 §2.4) with charon, whose unique
// policy is its default, no (unique-sa no on our side too): a peer that
// restarts and connects again leaves no stale IKE SA on the other side.

// restartCharon kills charon (no DELETE: a crash), waits until it is
// gone, and starts a fresh one with the same configuration.
func (st *setup) restartCharon(t *testing.T) {
	t.Helper()
	pid := st.ch.PID()
	st.ch.Kill()
	poll.Require(t, 5*time.Second, "charon gone", func() bool { return syscall.Kill(pid, 0) != nil })
	st.ch = startCharon(t, st.top.charon)
	st.ch.Load(t, swanctlConf(suiteGCM, "interop-secret", st.top))
}

// TestInitialContactCharonRestarts: charon crashes and, restarted,
// connects again: its IKE_AUTH request carries INITIAL_CONTACT and our
// engine removes the IKE SA of charon's previous life and its child SA
// at once (not after a DPD timeout: none is configured), whoever had
// set it up.
func TestInitialContactCharonRestarts(t *testing.T) {
	for _, oursFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("first-initiated-by-ours=%v", oursFirst), func(t *testing.T) {
			t.Parallel()
			st := newSetup(t, suiteGCM, "interop-secret", "interop-secret")
			old := st.establish(t, oursFirst)
			st.restartCharon(t)
			if out, err := st.ch.Swanctl("--initiate", "--child", "net", "--timeout", "10"); err != nil {
				t.Fatalf("swanctl --initiate: %v\n%s", err, out)
			}
			if !strings.Contains(st.ch.ReadLog(), "N(INIT_CONTACT)") {
				t.Fatalf("the restarted charon sent no INITIAL_CONTACT\n%s", tail(st.ch.ReadLog(), 30))
			}
			poll.Require(t, 5*time.Second, "only the new IKE SA and child SA on our side", func() bool {
				cs := st.us.dp.Children()
				return len(st.us.e.IKESAs()) == 1 && len(cs) == 1 && cs[0].InSPI != old.InSPI
			})
			c := st.us.dp.Children()[0]
			st.checkCharonSAs(t, c)
			if n := len(st.us.logs.find("peer sent INITIAL_CONTACT on a new IKE SA: removing this one, which it no longer holds")); n != 1 {
				t.Errorf("%d IKE SAs removed on INITIAL_CONTACT, want 1", n)
			}
		})
	}
}

// TestInitialContactWeRestart: our engine crashes and, restarted,
// connects again: our IKE_AUTH request carries INITIAL_CONTACT (no IKE
// SA with charon exists) and charon destroys the IKE SA of our previous
// life at once.
func TestInitialContactWeRestart(t *testing.T) {
	for _, oursFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("first-initiated-by-ours=%v", oursFirst), func(t *testing.T) {
			t.Parallel()
			st := newSetup(t, suiteGCM, "interop-secret", "interop-secret")
			st.establish(t, oursFirst)
			st.us.stop() // a crash: no DELETE
			st.us = startOurs(t, st.top.ours, st.top.ourAddr, ourConf(suiteGCM, "interop-secret", st.top)...)
			c := st.establish(t, true)
			if !st.ch.WaitLog("received INITIAL_CONTACT", 5*time.Second) {
				t.Errorf("charon did not act on our INITIAL_CONTACT\n%s", tail(st.ch.ReadLog(), 30))
			}
			poll.Require(t, 5*time.Second, "charon holding only the new IKE SA and child SA", func() bool {
				return st.charonSettled(c)
			})
		})
	}
}

// TestUniqueReplaceInterop: with unique-sa replace, a second IKE SA
// charon sets up with the same identities (reuse_ikesa = no: charon
// opens a new IKE SA for the second initiate, without INITIAL_CONTACT
// since it has one with us) makes our engine delete the first with an
// INFORMATIONAL exchange, which charon accepts: both sides end with the
// second IKE SA and its child SA only.
func TestUniqueReplaceInterop(t *testing.T) {
	t.Parallel()
	st := newLifecycleSetup(t, "reuse_ikesa = no", false, "vpn v1 ike-policy unique-sa replace")
	old := st.establish(t, false)
	if out, err := st.ch.Swanctl("--initiate", "--child", "net", "--timeout", "10"); err != nil {
		t.Fatalf("swanctl --initiate: %v\n%s", err, out)
	}
	poll.Require(t, 10*time.Second, "only the second IKE SA on both sides", func() bool {
		cur, ok := st.ourSA()
		cs := st.us.dp.Children()
		return ok && len(cs) == 1 && cur.Children[0].InSPI != old.InSPI && st.charonSettled(cs[0])
	})
	if n := len(st.us.logs.find("unique-sa replace: deleting the IKE SA a new one of the peer identity replaces")); n != 1 {
		t.Errorf("%d IKE SAs deleted by unique-sa replace, want 1", n)
	}
}
