package datastore

import (
	"errors"
	"strings"
	"testing"

	"secgw/internal/rpcerr"
	"secgw/internal/validate"
)

// TestLockRunningDuringConfirmedCommit checks RFC 6241 §7.5: a lock MUST
// NOT be granted when "the target configuration is <running>, and another
// NETCONF session has an ongoing confirmed commit". The session of the
// confirmed commit may lock running; the candidate stays lockable; once
// confirmed, anyone may lock running. A persistent confirmed commit
// belongs to no session: the lock-denied names session 0.
func TestLockRunningDuringConfirmedCommit(t *testing.T) {
	st := open(t, t.TempDir())
	if err := st.Edit(1, setThreads(4)); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(CommitOptions{Session: 1, Confirmed: true}); err != nil {
		t.Fatal(err)
	}
	wantDenied := func(what string, err error, holder string) {
		t.Helper()
		var de *rpcerr.Error
		if !errors.As(err, &de) || de.Tag != "lock-denied" || de.Info["session-id"] != holder ||
			!strings.Contains(de.Message, "confirmed commit") {
			t.Fatalf("%s: %v, want lock-denied naming session %s and the confirmed commit", what, err, holder)
		}
	}
	wantDenied("session 2 locks running during session 1's confirmed commit", st.Lock(Running, 2), "1")
	if err := st.Lock(Candidate, 2); err != nil {
		t.Fatalf("the candidate is clean, its lock is free: %v", err)
	}
	if err := st.Unlock(Candidate, 2); err != nil {
		t.Fatal(err)
	}
	if err := st.Lock(Running, 1); err != nil {
		t.Fatalf("the session of the confirmed commit locks running: %v", err)
	}
	if err := st.Unlock(Running, 1); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(CommitOptions{Session: 1}); err != nil {
		t.Fatal(err)
	}
	if err := st.Lock(Running, 2); err != nil {
		t.Fatalf("after the confirmation: %v", err)
	}
	if err := st.Unlock(Running, 2); err != nil {
		t.Fatal(err)
	}

	if err := st.Edit(1, setThreads(5)); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(CommitOptions{Session: 1, Confirmed: true, Persist: "p1"}); err != nil {
		t.Fatal(err)
	}
	wantDenied("during a persistent confirmed commit", st.Lock(Running, 3), "0")
	if err := st.CancelCommit(3, "p1"); err != nil {
		t.Fatal(err)
	}
	if err := st.Lock(Running, 3); err != nil {
		t.Fatalf("after cancel-commit: %v", err)
	}
}

// TestEditAndCheckDefers checks EditAndCheck: the errors refuse keeps
// refuse the edit and undo it; the others stay in the candidate for
// Validate and Commit, which refuse them.
func TestEditAndCheckDefers(t *testing.T) {
	st := open(t, t.TempDir())
	typeOnly := func(e *validate.Error) bool { return e.Kind == validate.KindType }
	err := st.EditAndCheck(1, set("/ vrf main ike vpn hq ike-policy template t1"), typeOnly)
	if err != nil {
		t.Fatalf("a vpn naming a template not there yet: %v", err)
	}
	if err := st.Validate(); err == nil || !strings.Contains(err.Error(), `no ike-policy-template with name "t1" exists`) {
		t.Fatalf("validate: %v", err)
	}
	if err := st.Commit(CommitOptions{Session: 1}); err == nil {
		t.Fatal("commit of a vpn naming a missing template succeeded")
	}
	err = st.EditAndCheck(1, set("/ vrf main ike global-options retransmit-tries 101"), typeOnly)
	var ve validate.Errors
	if !errors.As(err, &ve) || len(ve) != 1 || ve[0].Kind != validate.KindType {
		t.Fatalf("a value out of range: %v", err)
	}
	if retries(st.Candidate()) == 101 {
		t.Fatal("the refused edit stayed in the candidate")
	}
	if err := st.EditAndCheck(1, set("/ vrf main ike ike-policy-template t1"), typeOnly); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(CommitOptions{Session: 1}); err != nil {
		t.Fatalf("commit once the template is there: %v", err)
	}
	// EditAndValidate, without a filter, refuses every error at once.
	if err := st.EditAndValidate(1, set("/ vrf main ike vpn b2 ike-policy template nope")); err == nil {
		t.Fatal("EditAndValidate accepted a dangling reference")
	}
}
