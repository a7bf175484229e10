package pool

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
)

// TestHAMirror: the leases of an ha pool, held or reserved after a
// release, reach a peer manager through OnLease (incremental) and
// HALeases (resync), not those of an ike pool; the peer then gives a new
// identity none of them, gives each identity its own back, keeps them in
// its lease file, and RetainHA drops the reservations a resync did not
// name (not a lease one of its IKE SAs holds).
func TestHAMirror(t *testing.T) {
	h := cfg(t, "h", "10.1.0.1-10.1.0.4")
	h.HA = true
	p := cfg(t, "p", "10.2.0.1-10.2.0.4")
	var evs []Event
	active, err := Open(Options{OnLease: func(e Event) { evs = append(evs, e) }})
	if err != nil {
		t.Fatal(err)
	}
	defer active.Close()
	active.Set([]Config{h, p})
	alice := acquire(t, active, "alice", false, "h")
	active.Release("h", "alice", alice) // reserved for alice, held by no SA
	bob := acquire(t, active, "bob", false, "h")
	acquire(t, active, "dave", false, "p") // an ike pool: not mirrored
	if fmt.Sprint(evs) != fmt.Sprint([]Event{
		{Pool: "h", Identity: "alice", Addr: alice, Leased: true, HA: true},
		{Pool: "h", Identity: "bob", Addr: bob, Leased: true, HA: true},
		{Pool: "p", Identity: "dave", Addr: netip.MustParseAddr("10.2.0.1"), Leased: true}}) {
		t.Fatalf("events %v", evs)
	}
	var snap []Event
	active.HALeases(func(e Event) { snap = append(snap, e) })
	if fmt.Sprint(snap) != fmt.Sprint(evs[:2]) {
		t.Fatalf("HALeases %v, want the ha pool's two leases %v", snap, evs[:2])
	}

	path := filepath.Join(t.TempDir(), "leases")
	standby := open(t, path, h, p)
	for _, e := range evs {
		if got, want := standby.InjectHA(e.Pool, e.Identity, e.Addr), e.HA; got != want {
			t.Fatalf("InjectHA %+v: %v, want %v", e, got, want)
		}
	}
	// After a takeover: a new identity gets neither address.
	if c := acquire(t, standby, "carol", false, "h"); c == alice || c == bob {
		t.Fatalf("carol got %s, already leased (alice %s, bob %s)", c, alice, bob)
	}
	if a := acquire(t, standby, "alice", false, "h"); a != alice {
		t.Fatalf("alice got %s, want her reservation %s", a, alice)
	}
	standby.Release("h", "alice", alice)
	standby.Close()
	standby = open(t, path, h, p)
	if a := acquire(t, standby, "bob", false, "h"); a != bob {
		t.Fatalf("after a restart bob got %s, want %s", a, bob)
	}
	// A resync that names only bob: alice's reservation goes, carol's
	// too; bob's lease is held here and stays whatever the keep says.
	n := standby.RetainHA(func(pool, id string, a netip.Addr) bool { return false })
	if n != 2 {
		t.Fatalf("RetainHA dropped %d, want 2 (alice, carol)", n)
	}
	st := standby.State(true)[0]
	if st.Leased != 1 || st.Leases[0].Identity != "bob" {
		t.Fatalf("after RetainHA: %+v", st)
	}
	standby.Close()
	standby = open(t, path, h, p)
	if st := standby.State(true)[0]; st.Leased != 1 {
		t.Fatalf("the lease file kept what RetainHA dropped: %+v", st)
	}
}
