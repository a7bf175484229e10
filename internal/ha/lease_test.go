package ha

import (
	"net/netip"
	"testing"
)

// TestLinkLeases: the leases of the HA pools go from the active to the
// standby in the snapshot of a link's start and one by one after; a lease
// of a pool the standby lacks is refused and counted; the snapshot of a
// reconnection drops the reservations the active no longer has (not a
// lease the standby's own SAs hold).
func TestLinkLeases(t *testing.T) {
	port := freePort(t)
	l1, l2 := newFakeLeases("hp"), newFakeLeases("hp")
	c1, c2 := nodeConfig(t, 1, port), nodeConfig(t, 2, port)
	c1.Leases, c2.Leases = l1, l2
	n1 := start(t, c1, newFakeEngine(), nil)
	notify(t, n1, VRRPMaster, RoleActive)
	rw1 := Lease{Pool: "hp", Identity: "rw1", Addr: netip.MustParseAddr("10.8.0.1")}
	l1.make(n1, rw1) // no peer yet: the snapshot carries it
	// A reservation the standby holds from an earlier life, which the
	// active does not have, and one of its own SAs holds.
	stale := Lease{Pool: "hp", Identity: "old", Addr: netip.MustParseAddr("10.8.0.9")}
	mine := Lease{Pool: "hp", Identity: "mine", Addr: netip.MustParseAddr("10.8.0.8")}
	l2.leases[stale], l2.leases[mine] = false, true

	n2 := start(t, c2, newFakeEngine(), nil)
	notify(t, n2, VRRPBackup, RoleStandby)
	want := "[hp 10.8.0.1 rw1 hp 10.8.0.8 mine held]"
	waitFor(t, "snapshot of the leases "+want, func() bool { return l2.list() == want })

	rw2 := Lease{Pool: "hp", Identity: "rw2", Addr: netip.MustParseAddr("10.8.0.2")}
	l1.make(n1, rw2)
	want = "[hp 10.8.0.1 rw1 hp 10.8.0.2 rw2 hp 10.8.0.8 mine held]"
	waitFor(t, "incremental lease "+want, func() bool { return l2.list() == want })
	// The active takes 10.8.0.1 back for rw3: it replaces rw1's
	// reservation on the standby.
	rw3 := Lease{Pool: "hp", Identity: "rw3", Addr: rw1.Addr}
	l1.make(n1, rw3)
	want = "[hp 10.8.0.1 rw3 hp 10.8.0.2 rw2 hp 10.8.0.8 mine held]"
	waitFor(t, "a reclaimed address "+want, func() bool { return l2.list() == want })

	rejected := n2.Stats().Rejected
	l1.make(n1, Lease{Pool: "nope", Identity: "x", Addr: netip.MustParseAddr("10.9.0.1")})
	waitFor(t, "a lease of a pool the standby lacks counted", func() bool { return n2.Stats().Rejected == rejected+1 })
}
