package datastore

import (
	"testing"

	"secgw/generated"
)

// TestSnapshot checks that a snapshot is a copy that later edits and
// commits leave alone, that it is shared until the datastore changes, and
// that the candidate's shows its uncommitted changes.
func TestSnapshot(t *testing.T) {
	st := open(t, t.TempDir())
	defer st.Close()
	get := func(ds Datastore) uint8 {
		return st.Snapshot(ds).Vrf["main"].GetIke().GetGlobalOptions().GetRetransmitTries()
	}
	r0 := st.Snapshot(Running)
	if st.Snapshot(Running) != r0 || st.Snapshot(Candidate) != r0 {
		t.Fatal("without a change, running and a clean candidate must share one copy")
	}
	if err := st.Edit(1, set("/ vrf main ike global-options retransmit-tries 3")); err != nil {
		t.Fatal(err)
	}
	if get(Candidate) != 3 || get(Running) == 3 {
		t.Fatalf("after an edit: candidate %d, running %d", get(Candidate), get(Running))
	}
	c1 := st.Snapshot(Candidate)
	if st.Snapshot(Candidate) != c1 {
		t.Error("an unchanged candidate must give the same copy")
	}
	if err := st.Edit(1, set("/ vrf main ike global-options retransmit-tries 4")); err != nil {
		t.Fatal(err)
	}
	if c1.Vrf["main"].Ike.GlobalOptions.GetRetransmitTries() != 3 || get(Candidate) != 4 {
		t.Error("an edit must not reach an earlier candidate copy, and must reach the next")
	}
	if err := st.Commit(CommitOptions{Session: 1}); err != nil {
		t.Fatal(err)
	}
	if r0.Vrf["main"].GetIke().GetGlobalOptions().GetRetransmitTries() == 4 {
		t.Error("a commit reached an earlier running copy")
	}
	if get(Running) != 4 || st.Snapshot(Candidate) != st.Snapshot(Running) {
		t.Errorf("after commit: running %d; clean candidate shares running's copy: %v", get(Running), st.Snapshot(Candidate) == st.Snapshot(Running))
	}
}

// TestSnapshotDoesNotBlockWriters checks that a reader working on a
// snapshot holds no lock: a commit goes through meanwhile.
func TestSnapshotDoesNotBlockWriters(t *testing.T) {
	st := open(t, t.TempDir())
	defer st.Close()
	snap := st.Snapshot(Running)
	done := make(chan error)
	go func() {
		if err := st.Edit(1, set("/ vrf main ike global-options retransmit-tries 3")); err != nil {
			done <- err
			return
		}
		done <- st.Commit(CommitOptions{Session: 1})
	}()
	// The "reader" still holds snap and works on it.
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if snap.Vrf["main"].GetIke().GetGlobalOptions().GetRetransmitTries() == 3 {
		t.Error("the commit changed the reader's snapshot")
	}
}

// TestCommitSharesUnchangedNodes checks the structural sharing: a commit
// of one VPN gives a running configuration that shares every other VPN
// (the same struct) with the one before, and leaves the one before as it
// was, field for field; a discarded edit leaves running untouched too.
func TestCommitSharesUnchangedNodes(t *testing.T) {
	dir, d := t.TempDir(), big(t, 50)
	if err := writeAtomic(dir+"/"+runningFile, encodeConfig(tSchema, d, 0), nil); err != nil {
		t.Fatal(err)
	}
	st := open(t, dir)
	defer st.Close()
	r0 := st.Snapshot(Running)
	before := Clone(r0)
	if err := st.Edit(1, set("/ vrf main ike vpn vpn00007 remote-address 192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	if err := st.Discard(1); err != nil {
		t.Fatal(err)
	}
	if err := st.Edit(1, set("/ vrf main ike vpn vpn00007 remote-address 192.0.2.2", "/ vrf main ike vpn vpn00009 security-policy sp00009_0 remote-ts subnet 198.51.100.0/24")); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(CommitOptions{Session: 1}); err != nil {
		t.Fatal(err)
	}
	if d := Diff(tSchema, before, r0); len(d) != 0 {
		t.Fatalf("the edits and the commit wrote into the running configuration before them: %v", d)
	}
	r1 := st.Snapshot(Running)
	old, cur := r0.Vrf["main"].Ike.Vpn, r1.Vrf["main"].Ike.Vpn
	shared := 0
	for name, v := range cur {
		switch {
		case name == "vpn00007" || name == "vpn00009":
			if old[name] == v {
				t.Errorf("%s changed but is the same struct in both versions", name)
			}
		case old[name] == v:
			shared++
		}
	}
	if shared != len(cur)-2 {
		t.Errorf("%d of %d unchanged VPNs shared", shared, len(cur)-2)
	}
	sp0, sp1 := old["vpn00009"].SecurityPolicy, cur["vpn00009"].SecurityPolicy
	if sp0["sp00009_1"] != sp1["sp00009_1"] || sp0["sp00009_0"] == sp1["sp00009_0"] {
		t.Error("in the changed VPN, only the changed security policy is a new struct")
	}
	if r1.Vrf["main"].Ike.IkePolicyTemplate["t"] != r0.Vrf["main"].Ike.IkePolicyTemplate["t"] {
		t.Error("an unchanged template is not shared")
	}
}

// TestReadsDoNotWaitForCommit checks that a reader of running is served
// while a commit holds the store: a subscriber's Apply waits until a
// Snapshot and a View were served, which, with readers waiting for the
// commit, would never happen.
func TestReadsDoNotWaitForCommit(t *testing.T) {
	st := open(t, t.TempDir())
	defer st.Close()
	r0 := st.Snapshot(Running)
	read := make(chan *generated.Device)
	sub := &hookSub{apply: func(*Tx) error {
		go func() {
			st.View(func(d *generated.Device) { read <- d })
			read <- st.Snapshot(Running)
		}()
		for range 2 {
			if d := <-read; d != r0 {
				t.Error("a read during the commit did not get the last committed running")
			}
		}
		return nil
	}}
	st.Subscribe(sub)
	if err := st.Edit(1, set("/ vrf main ike global-options retransmit-tries 3")); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(CommitOptions{Session: 1}); err != nil {
		t.Fatal(err)
	}
	if st.Snapshot(Running) == r0 {
		t.Error("after the commit, running is still the old one")
	}
}

// hookSub is a subscriber whose Apply runs a function.
type hookSub struct{ apply func(*Tx) error }

func (h *hookSub) Name() string       { return "hook" }
func (h *hookSub) Prepare(*Tx) error  { return nil }
func (h *hookSub) Apply(tx *Tx) error { return h.apply(tx) }
func (h *hookSub) Abort(*Tx)          {}
