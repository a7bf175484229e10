package datastore

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"sync"
	"testing"

	"secgw/generated"
)

// vpnMap returns the address of running's VPN map.
func vpnMap(d *generated.Device) uintptr {
	return reflect.ValueOf(d.Vrf["main"].Ike.Vpn).Pointer()
}

// TestMapsRecycled checks that commits without readers in between reuse
// the VPN map of the version before last (two maps take turns) instead
// of copying it, and that a reader's version is never reused.
func TestMapsRecycled(t *testing.T) {
	dir, d := t.TempDir(), big(t, 20)
	if err := writeAtomic(dir+"/"+runningFile, encodeConfig(tSchema, d, 0), nil); err != nil {
		t.Fatal(err)
	}
	st := open(t, dir)
	defer st.Close()
	var maps []uintptr
	for i := range 5 {
		if err := st.Edit(1, set(fmt.Sprintf("/ vrf main ike vpn vpn%05d remote-address 192.0.2.%d", i, i+1))); err != nil {
			t.Fatal(err)
		}
		if err := st.Commit(CommitOptions{Session: 1}); err != nil {
			t.Fatal(err)
		}
		st.mu.RLock()
		maps = append(maps, vpnMap(st.running))
		st.mu.RUnlock()
	}
	// maps[0] was born of the map Open loaded, which a reader may hold
	// (Open's version is handed out to nobody, but was not made by a
	// commit): copied. From then on, two maps take turns.
	if maps[2] != maps[0] || maps[3] != maps[1] || maps[4] != maps[2] || maps[0] == maps[1] {
		t.Errorf("the VPN maps of successive versions are not recycled: %x", maps)
	}
	held := st.Snapshot(Running)
	want := Clone(held)
	for i := range 4 {
		if err := st.Edit(1, set(fmt.Sprintf("/ vrf main ike vpn new%d remote-address 192.0.2.%d", i, i+1))); err != nil {
			t.Fatal(err)
		}
		if err := st.Commit(CommitOptions{Session: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if d := Diff(tSchema, want, held); len(d) != 0 || !reflect.DeepEqual(want, held) {
		t.Fatalf("a reader's version changed under it: %v", d)
	}
}

// TestVersionsStayIntact is a randomized test of the sharing and the
// recycling: edits, commits, discards and readers (of running and of the
// candidate) in random order; every version a reader got must stay what
// it was, and running must always be what the commits made it.
func TestVersionsStayIntact(t *testing.T) {
	st := open(t, t.TempDir())
	defer st.Close()
	rng := rand.New(rand.NewPCG(5, 0))
	type held struct {
		d, want *generated.Device
	}
	var readers []held
	model := Clone(st.Snapshot(Running)) // running as the commits make it
	cand := Clone(model)
	for step := range 400 {
		switch r := rng.IntN(10); {
		case r < 5:
			var line string
			if rng.IntN(3) == 0 {
				v := rng.IntN(6)
				line = fmt.Sprintf("/ vrf main ike vpn v%d security-policy s%d_%d remote-ts subnet 10.%d.0.0/16", v, v, rng.IntN(3), rng.IntN(250))
			} else {
				line = fmt.Sprintf("/ vrf main ike vpn v%d remote-address 192.0.2.%d", rng.IntN(12), rng.IntN(250)+1)
			}
			if err := st.Edit(1, set(line)); err != nil {
				t.Fatal(err)
			}
			if err := setTree(cand, line); err != nil {
				t.Fatal(err)
			}
		case r < 7:
			if err := st.Commit(CommitOptions{Session: 1}); err != nil {
				t.Fatal(err)
			}
			model = Clone(cand)
		case r == 7:
			if err := st.Discard(1); err != nil {
				t.Fatal(err)
			}
			cand = Clone(model)
		case r == 8:
			d := st.Snapshot(Running)
			readers = append(readers, held{d, Clone(d)})
		default:
			d := st.Snapshot(Candidate)
			readers = append(readers, held{d, Clone(d)})
		}
		for i, h := range readers {
			if !reflect.DeepEqual(h.d, h.want) {
				t.Fatalf("step %d: reader %d's version changed: %v", step, i, Diff(tSchema, h.want, h.d))
			}
		}
		if d := Diff(tSchema, model, st.Snapshot(Running)); len(d) != 0 {
			t.Fatalf("step %d: running differs from the commits: %v", step, d)
		}
		if d := Diff(tSchema, cand, st.Snapshot(Candidate)); len(d) != 0 {
			t.Fatalf("step %d: the candidate differs from the edits: %v", step, d)
		}
		if rng.IntN(20) == 0 {
			readers = nil
		}
	}
}

// TestReadersDuringCommits runs readers that walk whole versions of
// running while commits go on (under -race: no write into a version a
// reader walks).
func TestReadersDuringCommits(t *testing.T) {
	dir, d := t.TempDir(), big(t, 200)
	if err := writeAtomic(dir+"/"+runningFile, encodeConfig(tSchema, d, 0), nil); err != nil {
		t.Fatal(err)
	}
	st := open(t, dir)
	defer st.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				v := st.Snapshot(Running)
				n := 0
				for _, vpn := range v.Vrf["main"].Ike.Vpn {
					n += len(vpn.SecurityPolicy) + len(vpn.GetRemoteAddress())
				}
				_ = n
			}
		})
	}
	for i := range 100 {
		if err := st.Edit(1, set(fmt.Sprintf("/ vrf main ike vpn vpn%05d remote-address 192.0.2.%d", i%200, i%250+1))); err != nil {
			t.Fatal(err)
		}
		if err := st.Commit(CommitOptions{Session: 1}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

// TestCommitAllocatesByChange checks, by the bytes allocated (work, not
// time), that an edit and commit adding one VPN costs the same in a
// configuration of 1k VPNs and of 10k: no copy of a list, no map the
// size of the configuration.
func TestCommitAllocatesByChange(t *testing.T) {
	perCommit := func(n int) uint64 {
		dir, d := t.TempDir(), big(t, n)
		if err := writeAtomic(dir+"/"+runningFile, encodeConfig(tSchema, d, 0), nil); err != nil {
			t.Fatal(err)
		}
		st := open(t, dir)
		defer st.Close()
		commit := func(i int) {
			if err := st.Edit(1, set(fmt.Sprintf("/ vrf main ike vpn new%05d remote-address 192.0.2.1", i))); err != nil {
				t.Fatal(err)
			}
			if err := st.Commit(CommitOptions{Session: 1}); err != nil {
				t.Fatal(err)
			}
		}
		commit(0) // the first copies the map Open loaded
		commit(1)
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		const commits = 20
		for i := range commits {
			commit(i + 2)
		}
		runtime.ReadMemStats(&m1)
		return (m1.TotalAlloc - m0.TotalAlloc) / commits
	}
	small, large := perCommit(1000), perCommit(10000)
	if large > 2*small {
		t.Errorf("a one-VPN commit allocates %d B in 1k VPNs, %d B in 10k", small, large)
	}
}
