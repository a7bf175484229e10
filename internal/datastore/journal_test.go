package datastore

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"secgw/generated"
	"secgw/internal/schema"
)

// TestReplayAndSnapshot commits through several snapshots and reopens:
// running must be rebuilt exactly, from the snapshot and the journal.
func TestReplayAndSnapshot(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	st, err := Open(Options{Dir: dir, Schema: tSchema, Validator: tValidator, SnapshotEvery: 4})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 10; i++ {
		lines := []string{fmt.Sprintf("/ vrf main ike vpn v%d remote-address 192.0.2.%d", i, i)}
		if i%3 == 0 {
			lines = append(lines, fmt.Sprintf("/ vrf main ike global-options threads %d", i))
		}
		if err := st.Edit(1, set(lines...)); err != nil {
			t.Fatal(err)
		}
		if i == 7 {
			if err := st.Edit(1, func(root schema.Node) error {
				ike, _, _ := tSchema.ResolveFrom(root, schema.DataPath{{Name: "vrf", KeyName: "name", Key: "main"}, {Name: "ike"}}, false)
				_, err := ike.DeleteEntry(tSchema, ike.B.Field("vpn"), "v2")
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Commit(CommitOptions{Session: 1}); err != nil {
			t.Fatal(err)
		}
	}
	want := st.Running()
	st.Close()
	got := open(t, dir).Running()
	if !sameConfig(want, got) {
		t.Fatalf("reopened running differs: %v", Diff(tSchema, want, got))
	}
	if _, ok := got.Vrf["main"].Ike.Vpn["v2"]; ok {
		t.Error("a deleted VPN came back")
	}
	// A torn record at the end of the journal (a crash mid-write) is cut
	// off; the commits before it stay.
	f, err := os.OpenFile(filepath.Join(dir, walFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 1, 0, 1, 2, 3, 4, '{', '"'})
	f.Close()
	again := open(t, dir)
	if !sameConfig(want, again.Running()) {
		t.Fatal("a torn journal tail changed running")
	}
	// And the store keeps working after cutting it.
	if err := again.Edit(1, set("/ vrf main ike global-options threads 2")); err != nil {
		t.Fatal(err)
	}
	if err := again.Commit(CommitOptions{Session: 1}); err != nil {
		t.Fatal(err)
	}
	again.Close()
	if got := open(t, dir).Running().Vrf["main"].Ike.GlobalOptions.GetThreads(); got != 2 {
		t.Fatalf("threads = %d after the repaired journal", got)
	}
}

func TestFailedEditIsUndone(t *testing.T) {
	st := open(t, t.TempDir())
	if err := st.Edit(1, set("/ vrf main ike global-options threads 4")); err != nil {
		t.Fatal(err)
	}
	before := st.Candidate()
	err := st.Edit(1, func(root schema.Node) error {
		if err := set("/ vrf main ike vpn x remote-address 192.0.2.1", "/ vrf main ike global-options threads 8")(root); err != nil {
			return err
		}
		return errors.New("later step failed")
	})
	if err == nil {
		t.Fatal("no error")
	}
	if !sameConfig(before, st.Candidate()) {
		t.Fatal("a failed edit left changes in the candidate")
	}
	if err := st.Discard(1); err != nil {
		t.Fatal(err)
	}
	if !sameConfig(st.Running(), st.Candidate()) || st.Dirty() {
		t.Fatal("discard-changes left changes")
	}
}

// TestDiffTouchedMatchesDiff checks, over random edit sequences, that the
// journal-driven diff finds exactly what a full diff finds.
func TestDiffTouchedMatchesDiff(t *testing.T) {
	st := open(t, t.TempDir())
	rng := rand.New(rand.NewSource(1))
	words := []func() string{
		func() string {
			return fmt.Sprintf("/ vrf main ike vpn v%d remote-address 192.0.2.%d", rng.Intn(8), rng.Intn(250)+1)
		},
		func() string {
			v := rng.Intn(8)
			return fmt.Sprintf("/ vrf main ike vpn v%d security-policy s%d_%d local-ts subnet 10.%d.0.0/16", v, v, rng.Intn(20), rng.Intn(250))
		},
		func() string { return fmt.Sprintf("/ vrf main ike global-options threads %d", rng.Intn(30)+1) },
		func() string {
			return fmt.Sprintf("/ vrf main ike pool p%d address 10.%d.0.0/24", rng.Intn(3), rng.Intn(250))
		},
		func() string { return fmt.Sprintf("/ vrf v%d description d%d", rng.Intn(3), rng.Intn(9)) },
	}
	for round := 0; round < 200; round++ {
		var lines []string
		for i := 0; i < 1+rng.Intn(4); i++ {
			lines = append(lines, words[rng.Intn(len(words))]())
		}
		if err := st.Edit(1, set(lines...)); err != nil {
			t.Fatal(err)
		}
		if rng.Intn(4) == 0 {
			vpn := fmt.Sprintf("v%d", rng.Intn(8))
			_ = st.Edit(1, func(root schema.Node) error {
				ike, ok, _ := tSchema.ResolveFrom(root, schema.DataPath{{Name: "vrf", KeyName: "name", Key: "main"}, {Name: "ike"}}, false)
				if ok {
					_, _ = ike.DeleteEntry(tSchema, ike.B.Field("vpn"), vpn)
				}
				return nil
			})
		}
		full := Diff(tSchema, st.running, st.candidate)
		touched := DiffTouched(tSchema, st.running, st.candidate, st.journal.Touched())
		if fmt.Sprint(changeSet(full)) != fmt.Sprint(changeSet(touched)) {
			t.Fatalf("round %d:\nfull    %v\ntouched %v", round, changeSet(full), changeSet(touched))
		}
		// And with the keys the journal wrote in lists, as commit does.
		if j := diffJournal(tSchema, st.running, st.candidate, st.journal); fmt.Sprint(changeSet(full)) != fmt.Sprint(changeSet(j)) {
			t.Fatalf("round %d:\nfull    %v\njournal %v", round, changeSet(full), changeSet(j))
		}
		if rng.Intn(3) == 0 {
			if err := st.Commit(CommitOptions{Session: 1}); err != nil {
				t.Fatal(err)
			}
			if !sameConfig(st.running, st.candidate) {
				t.Fatalf("round %d: running differs from the committed candidate: %v (lines %q)", round, Diff(tSchema, st.running, st.candidate), lines)
			}
		}
	}
}

// changeSet reduces changes to a comparable set. The full diff reports a
// node's own leaves and its new children at their own paths too, so both
// are normalized to the same granularity (op and path).
func changeSet(cs []Change) map[string]bool {
	out := map[string]bool{}
	for _, c := range cs {
		out[c.Op.String()+" "+c.Path.String()] = true
	}
	return out
}

// sameConfig compares configurations, an empty list the same as none.
func sameConfig(a, b *generated.Device) bool {
	return equal(reflect.ValueOf(a), reflect.ValueOf(b))
}
