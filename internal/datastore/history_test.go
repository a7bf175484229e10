package datastore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openOpts opens dir with the test schema and the given options.
func openOpts(t *testing.T, dir string, opt Options) *Store {
	t.Helper()
	open(t, t.TempDir()).Close() // loads tSchema and tValidator
	opt.Dir, opt.Schema, opt.Validator = dir, tSchema, tValidator
	st, err := Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// commitVPNs makes n commits, commit i adding VPN vi.
func commitVPNs(t *testing.T, st *Store, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if err := st.Edit(1, set(fmt.Sprintf("/ vrf main ike vpn v%d remote-address 192.0.2.%d", i, i%250+1))); err != nil {
			t.Fatal(err)
		}
		if err := st.Commit(CommitOptions{Session: 1}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSnapshotBySize checks that the journal is compacted once it holds
// SnapshotBytes, however few commits are in it (82 MB
// after 8 commits of 10k VPNs with the count alone).
func TestSnapshotBySize(t *testing.T) {
	dir := t.TempDir()
	const limit = 4 << 10
	st := openOpts(t, dir, Options{SnapshotBytes: limit})
	for i := 1; i <= 40; i++ {
		commitVPNs(t, st, i, i)
		if st.wal.size >= limit {
			t.Fatalf("after commit %d the journal holds %d bytes, over SnapshotBytes %d", i, st.wal.size, limit)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, walFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() >= limit {
		t.Fatalf("journal file is %d bytes, want < %d", fi.Size(), limit)
	}
	if _, err := os.Stat(filepath.Join(dir, runningFile)); err != nil {
		t.Fatalf("no snapshot was written: %v", err)
	}
	want := st.Running()
	st.Close()
	if got := open(t, dir).Running(); !sameConfig(want, got) {
		t.Fatalf("reopened running differs: %v", Diff(tSchema, want, got))
	}
}

// TestSnapshotBytesDefault checks the default and that a negative value
// leaves the count alone in charge.
func TestSnapshotBytesDefault(t *testing.T) {
	st := openOpts(t, t.TempDir(), Options{})
	if st.opt.SnapshotBytes != DefaultSnapshotBytes {
		t.Errorf("SnapshotBytes defaults to %d, want %d", st.opt.SnapshotBytes, DefaultSnapshotBytes)
	}
	st.Close()
	dir := t.TempDir()
	st = openOpts(t, dir, Options{SnapshotBytes: -1, SnapshotEvery: 5})
	commitVPNs(t, st, 1, 4)
	if st.wal.size == 0 {
		t.Error("journal compacted before SnapshotEvery commits with SnapshotBytes < 0")
	}
	st.Close()
}

// TestHistoryRestoredFromJournal kills the history file of the last
// commit, as a kill -9 between the journal write and the history write
// does: the next start restores it from the journal and rollback works.
func TestHistoryRestoredFromJournal(t *testing.T) {
	dir := t.TempDir()
	st := openOpts(t, dir, Options{})
	commitVPNs(t, st, 1, 4)
	st.Close()
	if err := os.Remove(filepath.Join(dir, "history", "00000004.json")); err != nil {
		t.Fatal(err)
	}
	st = openOpts(t, dir, Options{})
	defer st.Close()
	if err := st.Rollback(1, 2); err != nil {
		t.Fatalf("rollback to 2 after losing the history file of 4: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "history", "00000004.json")); err != nil {
		t.Errorf("history file of commit 4 not restored: %v", err)
	}
}

// TestRollbackGapSaysWhatIsMissing loses a history file after the
// journal holding the commit was compacted: rollback across it must name
// the missing commit, not call the target too old.
func TestRollbackGapSaysWhatIsMissing(t *testing.T) {
	dir := t.TempDir()
	st := openOpts(t, dir, Options{SnapshotEvery: 1})
	commitVPNs(t, st, 1, 6)
	st.Close()
	for _, id := range []string{"00000003", "00000004"} {
		if err := os.Remove(filepath.Join(dir, "history", id+".json")); err != nil {
			t.Fatal(err)
		}
	}
	st = openOpts(t, dir, Options{SnapshotEvery: 1})
	defer st.Close()
	err := st.Rollback(1, 1)
	if err == nil {
		t.Fatal("rollback across lost commits succeeded")
	}
	msg := err.Error()
	for _, want := range []string{"lacks commit 3-4", "holds commits 1-2, 5-6"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "too old") {
		t.Errorf("error %q calls commit 1 too old", msg)
	}
	if err := st.Rollback(1, 4); err != nil {
		t.Errorf("rollback to 4, after the gap: %v", err)
	}
}

// TestRollbackTooOld keeps the old message where it is true.
func TestRollbackTooOld(t *testing.T) {
	st := openOpts(t, t.TempDir(), Options{History: 3})
	defer st.Close()
	commitVPNs(t, st, 1, 6)
	err := st.Rollback(1, 1)
	if err == nil || !strings.Contains(err.Error(), "too old") || !strings.Contains(err.Error(), "commits 4-6") {
		t.Fatalf("rollback to 1 with a history of 3: %v", err)
	}
}
