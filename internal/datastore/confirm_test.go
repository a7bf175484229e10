package datastore

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"secgw/generated"
	"secgw/internal/schema"
)

// openWith opens dir with a snapshot every `every` commits and a history
// of `history` commits.
func openWith(t testing.TB, dir string, every, history int) *Store {
	t.Helper()
	open(t, t.TempDir()) // loads the schema
	st, err := Open(Options{Dir: dir, Schema: tSchema, Validator: tValidator, SnapshotEvery: every, History: history})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// crash abandons st as a SIGKILL would. Close writes nothing (it stops the
// timer and closes the journal file), so the directory is left exactly as
// the last acknowledged operation left it.
func crash(st *Store) { _ = st.Close() }

func threads(d *generated.Device) uint32 {
	return d.Vrf["main"].GetIke().GetGlobalOptions().GetThreads()
}

// setThreads returns an edit of threads, plus a VPN named after n so that
// reverts undo creations as well as updates.
func setThreads(n int) func(schema.Node) error {
	return set(fmt.Sprintf("/ vrf main ike global-options threads %d", n),
		fmt.Sprintf("/ vrf main ike vpn v%d remote-address 192.0.2.%d", n, n))
}

// deleteVPN returns an edit removing VPN name.
func deleteVPN(name string) func(schema.Node) error {
	return func(root schema.Node) error {
		ike, ok, err := tSchema.ResolveFrom(root, schema.DataPath{{Name: "vrf", KeyName: "name", Key: "main"}, {Name: "ike"}}, false)
		if err != nil || !ok {
			return fmt.Errorf("no ike: %v", err)
		}
		_, err = ike.DeleteEntry(tSchema, ike.B.Field("vpn"), name)
		return err
	}
}

// TestConfirmedCommitAtRestart checks RFC 6241 §8.4.1's "If the device
// reboots for any reason before the confirm timeout expires, the server
// MUST restore the configuration to its state before the confirmed commit
// was issued" through a restart after each way a confirmed commit can be
// left: running after the restart is the configuration before the
// confirmed commit when it was pending (persistent or not, across
// snapshots, with a failed follow-up in between), and what was committed
// otherwise; the revert is a commit of its own in the history, done once.
func TestConfirmedCommitAtRestart(t *testing.T) {
	hour := time.Hour
	cases := []struct {
		name     string
		steps    func(t *testing.T, st *Store, must func(error))
		want     uint32
		reverted bool // a revert commit is made at the restart
	}{
		{"pending", func(t *testing.T, st *Store, must func(error)) {
			must(st.Edit(1, setThreads(3)))
			must(st.Commit(CommitOptions{Session: 1, Confirmed: true, Timeout: hour}))
		}, 2, true},
		{"pending with persist", func(t *testing.T, st *Store, must func(error)) {
			must(st.Edit(1, setThreads(3)))
			must(st.Commit(CommitOptions{Session: 1, Confirmed: true, Timeout: hour, Persist: "tok"}))
			st.SessionEnded(1)
		}, 2, true},
		{"confirmed without changes", func(t *testing.T, st *Store, must func(error)) {
			must(st.Edit(1, setThreads(3)))
			must(st.Commit(CommitOptions{Session: 1, Confirmed: true, Timeout: hour}))
			must(st.Commit(CommitOptions{Session: 1}))
		}, 3, false},
		{"confirmed with changes", func(t *testing.T, st *Store, must func(error)) {
			must(st.Edit(1, setThreads(3)))
			must(st.Commit(CommitOptions{Session: 1, Confirmed: true, Timeout: hour}))
			must(st.Edit(1, setThreads(4)))
			must(st.Commit(CommitOptions{Session: 1}))
		}, 4, false},
		{"follow-ups across snapshots", func(t *testing.T, st *Store, must func(error)) {
			for n := 3; n <= 7; n++ {
				must(st.Edit(1, setThreads(n)))
				if n == 5 {
					must(st.Edit(1, deleteVPN("v2")))
				}
				must(st.Commit(CommitOptions{Session: 1, Confirmed: true, Timeout: hour}))
			}
			b, err := os.ReadFile(filepath.Join(st.opt.Dir, runningFile))
			if err != nil || !strings.Contains(string(b), `"confirm":{"undo":[[`) {
				t.Fatalf("the last snapshot does not carry the pending confirmed commit (%v)", err)
			}
		}, 2, true},
		{"cancelled", func(t *testing.T, st *Store, must func(error)) {
			must(st.Edit(1, setThreads(3)))
			must(st.Commit(CommitOptions{Session: 1, Confirmed: true, Timeout: hour}))
			must(st.CancelCommit(1, ""))
		}, 2, false},
		{"pending without changes", func(t *testing.T, st *Store, must func(error)) {
			must(st.Commit(CommitOptions{Session: 1, Confirmed: true, Timeout: hour}))
		}, 2, false},
		{"failed follow-up", func(t *testing.T, st *Store, must func(error)) {
			rec := &recorder{name: "ike", log: new([]string)}
			st.Subscribe(rec)
			must(st.Edit(1, setThreads(3)))
			must(st.Commit(CommitOptions{Session: 1, Confirmed: true, Timeout: hour}))
			rec.failApp = true
			must(st.Edit(1, setThreads(4)))
			if err := st.Commit(CommitOptions{Session: 1, Confirmed: true, Timeout: hour}); err == nil {
				t.Fatal("the follow-up commit did not fail")
			}
			must(st.Discard(1))
		}, 2, true},
		{"failed confirming commit", func(t *testing.T, st *Store, must func(error)) {
			// The confirming commit fails to apply: the confirmed
			// commit is still pending, with all it has to undo.
			rec := &recorder{name: "ike", log: new([]string)}
			st.Subscribe(rec)
			must(st.Edit(1, setThreads(3)))
			must(st.Commit(CommitOptions{Session: 1, Confirmed: true, Timeout: hour}))
			rec.failApp = true
			must(st.Edit(1, setThreads(4)))
			if err := st.Commit(CommitOptions{Session: 1}); err == nil {
				t.Fatal("the confirming commit did not fail")
			}
			if !st.ConfirmPending() {
				t.Fatal("a failed confirming commit confirmed")
			}
			must(st.Discard(1))
		}, 2, true},
		{"revert refused", func(t *testing.T, st *Store, must func(error)) {
			// A subscriber refuses the revert: the confirmed commit is
			// dropped, in memory and in the journal alike, and its
			// configuration stays, as if confirmed.
			rec := &recorder{name: "ike", log: new([]string)}
			st.Subscribe(rec)
			must(st.Edit(1, setThreads(3)))
			must(st.Commit(CommitOptions{Session: 1, Confirmed: true, Timeout: hour}))
			rec.failPrep = true
			if err := st.CancelCommit(1, ""); err == nil {
				t.Fatal("cancel-commit succeeded against a refusing subscriber")
			}
			if st.ConfirmPending() || st.Dirty() {
				t.Fatalf("after a failed revert: pending %v, candidate dirty %v", st.ConfirmPending(), st.Dirty())
			}
		}, 3, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			st := openWith(t, dir, 2, 50)
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(st.Edit(1, setThreads(2)))
			must(st.Commit(CommitOptions{Session: 1}))
			want := st.Running()
			c.steps(t, st, must)
			if c.want != 2 {
				want = st.Running()
			}
			before := len(st.History())
			crash(st)

			st = openWith(t, dir, 2, 50)
			if got := st.Running(); !sameConfig(got, want) {
				t.Fatalf("after the restart, running differs from what it must be (threads %d): %v",
					threads(got), Diff(tSchema, want, got))
			}
			if threads(want) != c.want {
				t.Fatalf("test bug: want threads %d, expected %d", threads(want), c.want)
			}
			if st.ConfirmPending() {
				t.Error("a confirmed commit is pending after the restart")
			}
			h := st.History()
			if c.reverted {
				last := h[len(h)-1]
				if len(h) != before+1 || last.Comment != "rollback of a confirmed commit: restart before it was confirmed" || last.User != "" {
					t.Errorf("history after the restart ends with %+v (%d commits, %d before), want the server's revert", last, len(h), before)
				}
			} else if len(h) != before {
				t.Errorf("the restart made %d commits, want none", len(h)-before)
			}
			crash(st)
			// Once reverted, always reverted: the revert was journaled.
			st = openWith(t, dir, 2, 50)
			if got := st.Running(); !sameConfig(got, want) || len(st.History()) != len(h) {
				t.Fatalf("a second restart changed running (threads %d) or the history (%d commits, want %d)",
					threads(got), len(st.History()), len(h))
			}
			// And the store goes on: a new confirmed commit, confirmed.
			must(st.Edit(1, setThreads(9)))
			must(st.Commit(CommitOptions{Session: 1, Confirmed: true, Timeout: hour}))
			must(st.Commit(CommitOptions{Session: 1}))
			crash(st)
			if got := threads(openWith(t, dir, 2, 50).Running()); got != 9 {
				t.Fatalf("after a confirmed and confirmed commit and a restart, threads %d, want 9", got)
			}
		})
	}
}

// TestOpenRefusesWhatItCannotRevert: a pending confirmed commit whose
// undo does not apply (a damaged journal) makes Open fail rather than
// start from the unconfirmed configuration; so does a journal record of
// an unknown kind (a newer version's).
func TestOpenRefusesWhatItCannotRevert(t *testing.T) {
	bad := []commitRecord{
		{ID: 1, Pending: true, Inverse: []op{{Op: Update, Path: []schema.Elem{{Name: "vrf", KeyName: "name", Key: "nowhere"}, {Name: "ike"}}, Data: json.RawMessage(`{}`)}}},
		{ID: 1, Kind: "confirm-begin"},
	}
	for i, rec := range bad {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "history"), 0o700); err != nil {
			t.Fatal(err)
		}
		w, _, err := openWAL(filepath.Join(dir, walFile), nil)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := json.Marshal(rec)
		if err := w.append(p); err != nil {
			t.Fatal(err)
		}
		w.close()
		open(t, t.TempDir())
		if _, err := Open(Options{Dir: dir, Schema: tSchema, Validator: tValidator}); err == nil {
			t.Errorf("record %d: Open succeeded", i)
		} else {
			t.Logf("record %d: %v", i, err)
		}
	}
}

// TestStaleTempsRemoved: the temporary file a kill inside writeAtomic
// leaves is deleted at the next start, and never read.
func TestStaleTempsRemoved(t *testing.T) {
	dir := t.TempDir()
	st := openWith(t, dir, 1, 50)
	if err := st.Edit(1, setThreads(2)); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(CommitOptions{Session: 1}); err != nil {
		t.Fatal(err)
	}
	crash(st)
	stale := []string{filepath.Join(dir, "."+runningFile+tmpInfix+"123"), filepath.Join(dir, "history", ".00000002.json"+tmpInfix+"9")}
	for _, f := range stale {
		if err := os.WriteFile(f, []byte("{half a fi"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got := threads(openWith(t, dir, 1, 50).Running()); got != 2 {
		t.Fatalf("threads %d", got)
	}
	for _, f := range stale {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s still there (%v)", f, err)
		}
	}
}
