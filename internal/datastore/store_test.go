package datastore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"secgw/generated"
	"secgw/internal/cliedit"
	"secgw/internal/rpcerr"
	"secgw/internal/schema"
	"secgw/internal/validate"
)

var (
	tSchema    *schema.Schema
	tValidator *validate.Validator
)

func open(t testing.TB, dir string) *Store {
	t.Helper()
	if tSchema == nil {
		s, err := schema.Load()
		if err != nil {
			t.Fatal(err)
		}
		v, err := validate.New(s)
		if err != nil {
			t.Fatal(err)
		}
		tSchema, tValidator = s, v
	}
	st, err := Open(Options{Dir: dir, Schema: tSchema, Validator: tValidator})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// set returns an edit function applying configuration-mode lines.
func set(lines ...string) func(schema.Node) error {
	return func(root schema.Node) error {
		ed := &cliedit.Editor{S: tSchema}
		for _, l := range lines {
			if _, err := ed.SetNode(root, nil, cliedit.Fields(l)); err != nil {
				return err
			}
		}
		return nil
	}
}

// setTree applies configuration-mode lines to a plain tree.
func setTree(d *generated.Device, lines ...string) error {
	return set(lines...)(tSchema.RootNode(d))
}

// recorder is a subscriber that logs its calls and can fail on demand.
type recorder struct {
	name              string
	log               *[]string
	failPrep, failApp bool
}

func (r *recorder) Name() string { return r.name }
func (r *recorder) Prepare(tx *Tx) error {
	*r.log = append(*r.log, r.name+" prepare "+changes(tx))
	if r.failPrep {
		return errors.New("no room for this tunnel")
	}
	return nil
}
func (r *recorder) Apply(tx *Tx) error {
	*r.log = append(*r.log, r.name+" apply")
	if r.failApp {
		return errors.New("kernel said no")
	}
	return nil
}
func (r *recorder) Abort(tx *Tx) { *r.log = append(*r.log, r.name+" abort") }

func changes(tx *Tx) string {
	var s []string
	for _, c := range tx.Changes {
		s = append(s, c.Op.String()+" "+c.Path.String())
	}
	return strings.Join(s, ", ")
}

func retries(d *generated.Device) uint8 {
	return d.Vrf["main"].GetIke().GetGlobalOptions().GetRetransmitTries()
}

func TestCommitPersistsAndReloads(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir)
	var log []string
	st.Subscribe(&recorder{name: "ike", log: &log})
	if err := st.Edit(1, set("/ vrf main ike global-options retransmit-tries 3")); err != nil {
		t.Fatal(err)
	}
	if retries(st.Running()) == 3 {
		t.Fatal("an edit reached running without a commit")
	}
	if err := st.Commit(CommitOptions{Session: 1, User: "admin", Comment: "fewer tries"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"ike prepare create /vrf[name='main']/ike", "ike apply"}
	if strings.Join(log, "|") != strings.Join(want, "|") {
		t.Errorf("subscriber saw %q, want %q", log, want)
	}
	if got := retries(open(t, dir).Running()); got != 3 {
		t.Fatalf("after reopening, retransmit-tries = %d", got)
	}
	h := st.History()
	if len(h) != 1 || h[0].User != "admin" || h[0].Comment != "fewer tries" {
		t.Errorf("history %+v", h)
	}
}

func TestBadCommitLeavesRunning(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir)
	var log []string
	st.Subscribe(&recorder{name: "ike", log: &log})
	before, _ := os.ReadFile(filepath.Join(dir, runningFile))
	if err := st.Edit(1, set("/ vrf main ike vpn hq ike-policy template nope")); err != nil {
		t.Fatal(err)
	}
	err := st.Commit(CommitOptions{Session: 1})
	if err == nil || !strings.Contains(err.Error(), `no ike-policy-template with name "nope" exists`) {
		t.Fatalf("commit: %v", err)
	}
	if len(log) != 0 {
		t.Errorf("an invalid configuration reached a subscriber: %q", log)
	}
	if st.Running().Vrf["main"].Ike != nil {
		t.Error("running changed")
	}
	after, _ := os.ReadFile(filepath.Join(dir, runningFile))
	if string(before) != string(after) {
		t.Error("the persisted configuration changed")
	}
	if !st.Dirty() {
		t.Error("the candidate lost the operator's edits")
	}
}

func TestSubscriberRefusalAbortsInReverse(t *testing.T) {
	for _, c := range []struct {
		name     string
		failPrep bool
		want     string
	}{
		{"prepare", true, "a prepare create /vrf[name='main']/ike|b prepare create /vrf[name='main']/ike|a abort"},
		{"apply", false, "a prepare create /vrf[name='main']/ike|b prepare create /vrf[name='main']/ike|a apply|b apply|b abort|a abort"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			st := open(t, dir)
			var log []string
			st.Subscribe(&recorder{name: "a", log: &log})
			st.Subscribe(&recorder{name: "b", log: &log, failPrep: c.failPrep, failApp: !c.failPrep})
			if err := st.Edit(1, set("/ vrf main ike global-options threads 4")); err != nil {
				t.Fatal(err)
			}
			err := st.Commit(CommitOptions{Session: 1})
			if err == nil || !strings.HasPrefix(err.Error(), "datastore: b ") {
				t.Fatalf("commit: %v", err)
			}
			if got := strings.Join(log, "|"); got != c.want {
				t.Errorf("calls\n got %s\nwant %s", got, c.want)
			}
			if st.Running().Vrf["main"].Ike != nil || open(t, dir).Running().Vrf["main"].Ike != nil {
				t.Error("running changed")
			}
		})
	}
}

func TestConfirmedCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := open(t, t.TempDir())
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		// Not confirmed in time: reverted.
		must(st.Edit(1, set("/ vrf main ike global-options retransmit-tries 3")))
		must(st.Commit(CommitOptions{Session: 1, Confirmed: true, Timeout: 60 * time.Second}))
		if retries(st.Running()) != 3 {
			t.Fatal("confirmed commit not applied")
		}
		time.Sleep(61 * time.Second)
		synctest.Wait()
		if retries(st.Running()) != 5 {
			t.Fatalf("not reverted after the timeout: %d", retries(st.Running()))
		}
		// Confirmed in time: kept.
		must(st.Edit(1, set("/ vrf main ike global-options retransmit-tries 2")))
		must(st.Commit(CommitOptions{Session: 1, Confirmed: true, Timeout: 60 * time.Second}))
		must(st.Commit(CommitOptions{Session: 1}))
		time.Sleep(120 * time.Second)
		synctest.Wait()
		if retries(st.Running()) != 2 {
			t.Fatal("confirmed commit reverted after confirmation")
		}
		// The session ends: a non-persistent confirmed commit reverts.
		must(st.Edit(1, set("/ vrf main ike global-options retransmit-tries 7")))
		must(st.Commit(CommitOptions{Session: 1, Confirmed: true}))
		st.SessionEnded(1)
		if retries(st.Running()) != 2 {
			t.Fatal("not reverted when its session ended")
		}
		// A persistent one survives its session and needs its persist-id.
		must(st.Edit(2, set("/ vrf main ike global-options retransmit-tries 8")))
		must(st.Commit(CommitOptions{Session: 2, Confirmed: true, Persist: "p1"}))
		st.SessionEnded(2)
		if retries(st.Running()) != 8 {
			t.Fatal("persistent confirmed commit reverted with its session")
		}
		if err := st.Commit(CommitOptions{Session: 3}); err == nil {
			t.Fatal("confirmed without the persist-id")
		}
		must(st.Commit(CommitOptions{Session: 3, PersistID: "p1"}))
		// cancel-commit reverts at once.
		must(st.Edit(3, set("/ vrf main ike global-options retransmit-tries 9")))
		must(st.Commit(CommitOptions{Session: 3, Confirmed: true}))
		must(st.CancelCommit(3, ""))
		if retries(st.Running()) != 8 {
			t.Fatalf("cancel-commit: %d", retries(st.Running()))
		}
	})
}

func TestLocks(t *testing.T) {
	st := open(t, t.TempDir())
	if err := st.Lock(Candidate, 1); err != nil {
		t.Fatal(err)
	}
	var de *rpcerr.Error
	if err := st.Lock(Candidate, 2); !errors.As(err, &de) || de.Tag != "lock-denied" || de.Info["session-id"] != "1" {
		t.Fatalf("second lock: %v", err)
	}
	if err := st.Edit(2, set("/ vrf main ike global-options threads 4")); !errors.As(err, &de) || de.Tag != "in-use" {
		t.Fatalf("edit under another's lock: %v", err)
	}
	if err := st.Edit(1, set("/ vrf main ike global-options threads 4")); err != nil {
		t.Fatal(err)
	}
	// RFC 6241 §8.3.5.2: the end of the session releases its lock and
	// discards the changes made under it.
	st.SessionEnded(1)
	if st.Dirty() || st.Candidate().Vrf["main"].GetIke().GetGlobalOptions().GetThreads() == 4 {
		t.Fatal("the changes of a session that ended holding the candidate's lock stayed")
	}
	if err := st.Lock(Candidate, 2); err != nil {
		t.Fatalf("lock after the holder ended: %v", err)
	}
	if err := st.Unlock(Candidate, 2); err != nil {
		t.Fatal(err)
	}
	// Changes made without a lock stay when their session ends (the
	// candidate is shared, §8.3.1), and still refuse another's lock
	// (§7.5).
	if err := st.Edit(3, set("/ vrf main ike global-options threads 5")); err != nil {
		t.Fatal(err)
	}
	st.SessionEnded(3)
	if !st.Dirty() {
		t.Fatal("the end of a session that held no lock discarded its changes")
	}
	if err := st.Lock(Candidate, 2); !errors.As(err, &de) || de.Tag != "lock-denied" {
		t.Fatalf("lock on a candidate holding another session's changes: %v", err)
	}
	if err := st.Discard(2); err != nil {
		t.Fatal(err)
	}
	if err := st.Lock(Candidate, 2); err != nil {
		t.Fatal(err)
	}
}

// TestUnlockDiscards: an explicit unlock of the candidate drops the
// changes made under the lock too (RFC 6241 §8.3.5.2), a lock on running
// does not touch the candidate, and committed changes are not affected.
func TestUnlockDiscards(t *testing.T) {
	st := open(t, t.TempDir())
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.Lock(Candidate, 1))
	must(st.Edit(1, set("/ vrf main ike global-options threads 4")))
	must(st.Commit(CommitOptions{Session: 1}))
	must(st.Edit(1, set("/ vrf main ike global-options threads 6")))
	must(st.Unlock(Candidate, 1))
	if st.Dirty() {
		t.Fatal("unlock left the changes made under the lock")
	}
	if got := st.Running().Vrf["main"].Ike.GlobalOptions.GetThreads(); got != 4 {
		t.Fatalf("running threads %d after unlock, want the committed 4", got)
	}
	must(st.Lock(Running, 1))
	must(st.Edit(1, set("/ vrf main ike global-options threads 7")))
	must(st.Unlock(Running, 1))
	if !st.Dirty() {
		t.Fatal("unlocking running discarded the candidate")
	}
}

func TestHistoryAndRollback(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir)
	for i := 1; i <= 55; i++ {
		if err := st.Edit(1, set(fmt.Sprintf("/ vrf main ike global-options threads %d", i))); err != nil {
			t.Fatal(err)
		}
		if err := st.Commit(CommitOptions{Session: 1}); err != nil {
			t.Fatal(err)
		}
	}
	h := open(t, dir).History()
	if len(h) != 50 || h[0].ID != 6 || h[49].ID != 55 {
		t.Fatalf("history holds %d commits, %d..%d", len(h), h[0].ID, h[len(h)-1].ID)
	}
	if err := st.Rollback(1, 10); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(CommitOptions{Session: 1}); err != nil {
		t.Fatal(err)
	}
	if got := st.Running().Vrf["main"].Ike.GlobalOptions.GetThreads(); got != 10 {
		t.Fatalf("after rollback to commit 10, threads = %d", got)
	}
	if err := st.Rollback(1, 3); err == nil {
		t.Fatal("rolled back past the history")
	}
}
