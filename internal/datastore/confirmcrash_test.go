package datastore

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"secgw/generated"
)

// crashStep is one operation of the kill-at-every-write scenario.
type crashStep struct {
	name string
	do   func(st *Store, refuse *recorder) error
	// mayApply marks the step whose commit a subscriber fails to apply:
	// a kill before the commit is taken back may leave it done.
	mayApply bool
}

// commitStep edits (if edits are given) and commits with opt; confirmed
// commits wait an hour, which no run lasts.
func commitStep(opt CommitOptions, edits ...func(st *Store) error) func(st *Store, _ *recorder) error {
	return func(st *Store, _ *recorder) error {
		for _, e := range edits {
			if err := e(st); err != nil {
				return err
			}
		}
		if opt.Confirmed {
			opt.Timeout = time.Hour
		}
		return st.Commit(opt)
	}
}

func editThreads(n int) func(st *Store) error {
	return func(st *Store) error { return st.Edit(1, setThreads(n)) }
}

func editDelete(vpn string) func(st *Store) error {
	return func(st *Store) error { return st.Edit(1, deleteVPN(vpn)) }
}

// failedCommit is a confirming commit of threads 12 that the subscriber
// refuses to apply, unless the model runs it without that failure.
func failedCommit(st *Store, sub *recorder) error {
	if err := st.Edit(1, setThreads(12)); err != nil {
		return err
	}
	err := st.Commit(CommitOptions{Session: 1})
	if !sub.failApp {
		return err
	}
	if err == nil {
		return errors.New("the commit was applied")
	}
	return st.Discard(1)
}

// crashScenario walks through every transition of the confirmed-commit
// state: begin, follow-up with and without changes, confirmation with and
// without changes, with a persist-id, cancel, the end of the session
// (non-persistent reverted, persistent kept), the timeout, a confirming
// commit that fails; and ends with a confirmed commit pending. Confirmed
// commits create, update and delete nodes, so that reverts do all three.
var crashScenario = []crashStep{
	{"commit threads 1", commitStep(CommitOptions{Session: 1}, editThreads(1)), false},
	{"confirmed commit threads 2", commitStep(CommitOptions{Session: 1, Confirmed: true}, editThreads(2)), false},
	{"confirming commit without changes", commitStep(CommitOptions{Session: 1}), false},
	{"confirmed commit threads 3", commitStep(CommitOptions{Session: 1, Confirmed: true}, editThreads(3)), false},
	{"follow-up confirmed commit threads 4, vpn v1 deleted", commitStep(CommitOptions{Session: 1, Confirmed: true}, editThreads(4), editDelete("v1")), false},
	{"cancel-commit", func(st *Store, _ *recorder) error { return st.CancelCommit(1, "") }, false},
	{"persistent confirmed commit threads 5", commitStep(CommitOptions{Session: 1, Confirmed: true, Persist: "p"}, editThreads(5)), false},
	{"confirming commit threads 6 with the persist-id", commitStep(CommitOptions{Session: 2, PersistID: "p"}, editThreads(6)), false},
	{"confirmed commit threads 7", commitStep(CommitOptions{Session: 1, Confirmed: true}, editThreads(7)), false},
	{"follow-up confirmed commit without changes", commitStep(CommitOptions{Session: 1, Confirmed: true}), false},
	{"confirming commit threads 8", commitStep(CommitOptions{Session: 1}, editThreads(8)), false},
	{"confirmed commit threads 9, vpn v2 deleted", commitStep(CommitOptions{Session: 1, Confirmed: true}, editThreads(9), editDelete("v2")), false},
	{"session 1 ends", func(st *Store, _ *recorder) error { st.SessionEnded(1); return nil }, false},
	{"persistent confirmed commit threads 10", commitStep(CommitOptions{Session: 1, Confirmed: true, Persist: "q"}, editThreads(10)), false},
	{"session 1 ends, the persistent one stays", func(st *Store, _ *recorder) error { st.SessionEnded(1); return nil }, false},
	{"confirm timeout", func(st *Store, _ *recorder) error { st.expire(st.confirm); return nil }, false},
	{"confirmed commit without changes", commitStep(CommitOptions{Session: 1, Confirmed: true}), false},
	{"follow-up confirmed commit threads 11", commitStep(CommitOptions{Session: 1, Confirmed: true}, editThreads(11)), false},
	{"confirming commit threads 12, which fails to apply", failedCommit, true},
	{"follow-up confirmed commit threads 13", commitStep(CommitOptions{Session: 1, Confirmed: true}, editThreads(13)), false},
}

// The scenario's store: a snapshot every two commits and a history of
// three, so that kills land in snapshots and history removals too.
const (
	crashSnapshotEvery = 2
	crashHistory       = 3
)

func openCrash(t testing.TB, dir string, at crashPoint) (*Store, error) {
	open(t, t.TempDir()) // loads the schema
	return Open(Options{Dir: dir, Schema: tSchema, Validator: tValidator,
		SnapshotEvery: crashSnapshotEvery, History: crashHistory, crashPoint: at})
}

// runScenario runs the scenario on st, with a subscriber that fails to
// apply the mayApply step if applyFails, calling done after each step.
func runScenario(st *Store, applyFails bool, done func(step int)) error {
	sub := &recorder{name: "subsystem", log: new([]string)}
	st.Subscribe(sub)
	for i, s := range crashScenario {
		sub.failApp = applyFails && s.mayApply
		if err := s.do(st, sub); err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, s.name, err)
		}
		sub.failApp = false
		*sub.log = nil
		done(i + 1)
	}
	return nil
}

// Environment of the child process of TestKillAtEveryWrite.
const (
	envCrashDir   = "SECGW_CONFIRM_CRASH_DIR"
	envCrashAt    = "SECGW_CONFIRM_CRASH_AT"    // the write before which the child dies
	envCrashTorn  = "SECGW_CONFIRM_CRASH_TORN"  // "1": die halfway through a journal record instead
	envCrashPhase = "SECGW_CONFIRM_CRASH_PHASE" // "run": Open and the scenario; "open": Open only
)

// TestConfirmCrashChild is the child of TestKillAtEveryWrite: it runs the
// scenario (or only Open) on the directory it is given and SIGKILLs
// itself at the write it is told. It prints "step i" once step i is done.
func TestConfirmCrashChild(t *testing.T) {
	dir := os.Getenv(envCrashDir)
	if dir == "" {
		return // only meaningful as the child of TestKillAtEveryWrite
	}
	at, err := strconv.Atoi(os.Getenv(envCrashAt))
	if err != nil {
		t.Fatal(err)
	}
	torn := os.Getenv(envCrashTorn) == "1"
	journal := filepath.Join(dir, walFile)
	var n int
	var sizeBefore int64
	hook := func(point string) {
		n++
		if point == "journal-append" {
			if fi, err := os.Stat(journal); err == nil {
				sizeBefore = fi.Size()
			}
		}
		if n != at {
			return
		}
		if torn {
			// The record is written but not all of it reached the disk:
			// keep half of it.
			fi, err := os.Stat(journal)
			if point != "journal-appended" || err != nil {
				fmt.Printf("bad torn point %q (%v)\n", point, err)
				os.Exit(3)
			}
			if err := os.Truncate(journal, sizeBefore+(fi.Size()-sizeBefore)/2); err != nil {
				fmt.Println(err)
				os.Exit(3)
			}
		}
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
	st, err := openCrash(t, dir, hook)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv(envCrashPhase) == "open" {
		fmt.Println("opened")
		return
	}
	if err := runScenario(st, true, func(step int) { fmt.Printf("step %d\n", step) }); err != nil {
		t.Fatal(err)
	}
	fmt.Println("survived")
}

// crashModel is what the scenario does, run without kills: the writes it
// makes, in order, and after each step the configuration a restart must
// find (views[i], views[0] being the empty start) — running, or, while a
// confirmed commit is pending, running before it began. alt holds the
// views of a run where the mayApply step's commit is applied.
type crashModel struct {
	points  []string
	stepOf  []int // stepOf[k]: the step under way at write k
	views   []*generated.Device
	pending []bool
	alt     []*generated.Device
	dir     string // where the run without kills left its files
}

func modelScenario(t *testing.T) *crashModel {
	m := &crashModel{dir: t.TempDir()}
	m.views, m.pending = modelRun(t, m.dir, true, func(step int, p string) {
		m.points = append(m.points, p)
		m.stepOf = append(m.stepOf, step)
	})
	m.alt, _ = modelRun(t, t.TempDir(), false, func(int, string) {})
	return m
}

// modelRun runs the scenario in this process on dir and returns the views
// and whether a confirmed commit is pending, after each step; write is
// called at each write with the step under way.
func modelRun(t *testing.T, dir string, applyFails bool, write func(step int, point string)) ([]*generated.Device, []bool) {
	step := 1
	st, err := openCrash(t, dir, func(p string) { write(step, p) })
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	base := st.Running()
	views, pending := []*generated.Device{base}, []bool{false}
	before := base
	err = runScenario(st, applyFails, func(i int) {
		p := st.ConfirmPending()
		if p && !pending[i-1] {
			base = before
		}
		view := st.Running()
		if p {
			view = base
		}
		views, pending = append(views, view), append(pending, p)
		before = st.Running()
		step = i + 1
	})
	if err != nil {
		t.Fatal(err)
	}
	return views, pending
}

// runChild runs TestConfirmCrashChild and returns the last step it
// finished; it fails the test unless the child died of SIGKILL.
func runChild(t *testing.T, dir, phase string, at int, torn bool) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestConfirmCrashChild$", "-test.count=1")
	tornEnv := "0"
	if torn {
		tornEnv = "1"
	}
	cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashAt+"="+strconv.Itoa(at), envCrashTorn+"="+tornEnv, envCrashPhase+"="+phase)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child (%s, killed at write %d, torn %v) did not die of SIGKILL (%v):\n%s", phase, at, torn, err, out.String())
	}
	done := 0
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "step "); ok {
			done, _ = strconv.Atoi(s)
		}
	}
	return done
}

// checkRecovered opens dir as a restart does and checks that running is
// what a restart must find after step done, or after the next step, which
// was under way; that no confirmed commit is pending; and that a second
// restart finds the same (the recovery is durable).
func checkRecovered(t *testing.T, m *crashModel, dir string, done int, what string) {
	t.Helper()
	st, err := openCrash(t, dir, nil)
	if err != nil {
		t.Fatalf("%s: restart: %v", what, err)
	}
	got := st.Running()
	ok := sameConfig(got, m.views[done])
	if !ok && done+1 < len(m.views) {
		ok = sameConfig(got, m.views[done+1]) || crashScenario[done].mayApply && sameConfig(got, m.alt[done+1])
	}
	if !ok {
		t.Fatalf("%s: after step %d, running has threads %d, want threads %d, that of step %d, or of the step under way: %v",
			what, done, threads(got), threads(m.views[done]), done, Diff(tSchema, m.views[done], got))
	}
	if st.ConfirmPending() {
		t.Fatalf("%s: a confirmed commit is pending after the restart", what)
	}
	crash(st)
	st, err = openCrash(t, dir, nil)
	if err != nil {
		t.Fatalf("%s: second restart: %v", what, err)
	}
	if again := st.Running(); !sameConfig(again, got) {
		t.Fatalf("%s: the second restart found threads %d, the first %d", what, threads(again), threads(got))
	}
	crash(st)
}

// killKinds tells, for the writes named points, which leave a directory no
// other kill leaves: a kill before a write leaves what the writes before
// it made. A kill before "create-temp X" leaves the same files as a kill
// before the "rename X" that follows, but for a temporary file that Open
// deletes; a kill at "journal-appended" (the record written, not yet
// fsynced) the same as one before the next write, since SIGKILL loses
// nothing the kernel has. Both are left out as hard kills; at
// "journal-appended" the torn kill is made instead, with half of the
// record on disk.
func killKinds(points []string) (hard, torn []int) {
	for i, p := range points {
		switch {
		case p == "journal-appended":
			torn = append(torn, i+1)
		case !strings.HasPrefix(p, "create-temp "):
			hard = append(hard, i+1)
		}
	}
	return hard, torn
}

// TestKillAtEveryWrite runs the confirmed-commit scenario in a child
// process and SIGKILLs it just before its k-th write to the data
// directory, for every k that leaves a different directory (killKinds);
// for every write that appends a journal record, once more with half of
// that record on disk (a torn write). Each time, a
// restart must find the configuration of the last finished step or of the
// step under way, with any pending confirmed commit reverted (RFC 6241
// §8.4.1). For a sample of kills that leave a confirmed commit pending, the
// restart itself, which reverts it, is killed before each of its writes,
// and the restart after that must still find the same.
func TestKillAtEveryWrite(t *testing.T) {
	if os.Getenv(envCrashDir) != "" {
		return
	}
	m := modelScenario(t)
	t.Logf("the scenario makes %d writes in %d steps", len(m.points), len(crashScenario))
	var sample []int // kills that leave a confirmed commit pending for sure
	for k := 1; k <= len(m.points); k++ {
		if s := m.stepOf[k-1]; m.pending[s-1] && m.pending[s] {
			sample = append(sample, k)
		}
	}
	if len(sample) < 3 {
		t.Fatalf("only %d kills leave a confirmed commit pending", len(sample))
	}
	recover := map[int]bool{}
	for i := 0; i < 3; i++ {
		recover[sample[i*(len(sample)-1)/2]] = true
	}
	if !m.pending[len(crashScenario)] {
		t.Fatal("the scenario does not end with a confirmed commit pending")
	}
	// No kill: the restart after the last step.
	checkRecovered(t, m, m.dir, len(crashScenario), "no kill")
	hard, torn := killKinds(m.points)
	t.Logf("%d kills, %d of them torn", len(hard)+len(torn), len(torn))
	for _, kind := range []struct {
		ks   []int
		torn bool
	}{{hard, false}, {torn, true}} {
		for _, k := range kind.ks {
			t.Run(fmt.Sprintf("%03d %s torn=%v", k, m.points[k-1], kind.torn), func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				done := runChild(t, dir, "run", k, kind.torn)
				if want := m.stepOf[k-1] - 1; done != want {
					t.Fatalf("the child died after step %d, want %d: the scenario's writes are not deterministic", done, want)
				}
				if recover[k] && !kind.torn {
					killRecovery(t, m, dir, done)
				}
				checkRecovered(t, m, dir, done, "kill")
			})
		}
	}
}

// killRecovery kills a restart of dir before each of its writes in turn
// (those killKinds keeps), each time on a copy of dir, and checks the
// restart after that.
func killRecovery(t *testing.T, m *crashModel, dir string, done int) {
	t.Helper()
	var points []string
	probe := t.TempDir()
	copyDir(t, dir, probe)
	st, err := openCrash(t, probe, func(p string) { points = append(points, p) })
	if err != nil {
		t.Fatal(err)
	}
	crash(st)
	hard, _ := killKinds(points)
	if len(hard) < 2 {
		t.Fatalf("the restart made the writes %q: it reverted nothing", points)
	}
	for _, j := range hard {
		cp := t.TempDir()
		copyDir(t, dir, cp)
		runChild(t, cp, "open", j, false)
		checkRecovered(t, m, cp, done, fmt.Sprintf("restart killed before its write %d (%s)", j, points[j-1]))
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}
