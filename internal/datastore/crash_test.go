package datastore

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestCrashLoop is the child of TestKillAtAnyInstant: it commits forever,
// threads 1, 2, 3, ... until killed.
func TestCrashLoop(t *testing.T) {
	dir := os.Getenv("SECGW_CRASH_DIR")
	if dir == "" {
		return // only meaningful as the child of TestKillAtAnyInstant
	}
	st := open(t, dir)
	for i := 1; ; i++ {
		n := uint32(i%1000 + 1)
		if err := st.Edit(1, set(fmt.Sprintf("/ vrf main ike global-options threads %d", n))); err != nil {
			t.Fatal(err)
		}
		if err := st.Commit(CommitOptions{Session: 1}); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(os.Stdout, "committed", n)
	}
}

// TestKillAtAnyInstant kills a process that commits in a loop with SIGKILL
// at varied instants; every time, the store must open, valid, holding one of
// the configurations the process committed.
func TestKillAtAnyInstant(t *testing.T) {
	if os.Getenv("SECGW_CRASH_DIR") != "" {
		return
	}
	for round := 0; round < 8; round++ {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLoop$", "-test.count=1")
		cmd.Env = append(os.Environ(), "SECGW_CRASH_DIR="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait for the first commit, then kill at a varied instant.
		buf := make([]byte, 64)
		if _, err := out.Read(buf); err != nil {
			t.Fatalf("child: %v", err)
		}
		time.Sleep(time.Duration(round*7) * time.Millisecond)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		st := open(t, dir) // fails the test if running.json is damaged
		threads := st.Running().Vrf["main"].GetIke().GetGlobalOptions().GetThreads()
		if threads < 1 || threads > 1000 {
			t.Fatalf("round %d: threads = %d, not a committed value", round, threads)
		}
		t.Logf("round %d: reopened with threads %d", round, threads)
	}
}
