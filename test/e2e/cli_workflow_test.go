package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"secgw/internal/poll"
)

// The safe change workflow of the secgw CLI, with two
// operators at once: the real secgw against a real secgwd, over NETCONF
// only.

// runningThreads is what 'show config nodefault' prints of threads in
// running, read by alice with a one-shot secgw.
func runningThreads(t *testing.T, d *daemon) string {
	t.Helper()
	r := runCLI(t, d, aliceUser, alicePassword, "", "show", "config", "nodefault", "/", "vrf", "main", "ike", "global-options", "threads")
	if r.code != 0 {
		t.Fatalf("show config: %s", r)
	}
	return r.out
}

// eventually retries check for up to 10 s, until it returns "".
func eventually(t *testing.T, check func() string) {
	t.Helper()
	var msg string
	if !poll.Until(10*time.Second, func() bool { msg = check(); return msg == "" }) {
		t.Fatal(msg)
	}
}

// TestCliLockTwoOperators: configuration mode takes the candidate's and
// running's locks, so that a second operator cannot enter it, is told
// which session and user holds it, and cannot commit the first one's
// half-made edits (neither from secgw nor with a raw NETCONF <commit>);
// 'exit' with changes is refused, 'exit discard' releases the locks, and
// so do Ctrl-D and a killed secgw (secgwd ends the session), each
// discarding the uncommitted edits. 'discard' drops what a NETCONF
// client left in the candidate without a lock, never an operator's.
func TestCliLockTwoOperators(t *testing.T) {
	t.Parallel()
	d := startCLIDaemon(t)
	admin := startOperator(t, d, adminUser, adminPassword)
	admin.run("edit running")
	if p := admin.prompt(); p != "secgw running config# " {
		t.Fatalf("prompt %q", p)
	}
	admin.run("/ vrf main ike global-options threads 9")

	// alice's script stops at 'edit running', named, and commits nothing.
	r := runCLI(t, d, aliceUser, alicePassword, "edit running\n/ vrf main ike global-options threads 10\ncommit\n")
	taken := regexp.MustCompile(`^line 1: Error: configuration mode is taken: NETCONF session \d+ \(user admin\) holds the lock of the candidate datastore`)
	if r.code != 1 || !taken.MatchString(r.errOut) || !strings.Contains(r.errOut, "secgw: stopped at line 1") {
		t.Fatalf("second operator's edit running: %s", r)
	}
	// She sees admin's uncommitted edit for what it is.
	r = runCLI(t, d, aliceUser, alicePassword, "", "show", "config", "diff")
	// Running has no ike container yet: it comes whole.
	want := "  vrf main\n+     ike\n+         global-options\n+             threads 9\n+             ..\n+         ..\n      ..\n"
	if r.code != 0 || r.out != want {
		t.Fatalf("show config diff by the second operator: %s\nwant:\n%s", r, want)
	}
	// A NETCONF client cannot commit it either: running is locked.
	s := mustDial(t, d.Addr, aliceUser, alicePassword)
	if _, err := rpc(s, `<commit/>`); err == nil || !strings.Contains(err.Error(), "locked by session") || !strings.Contains(err.Error(), "(user admin)") {
		t.Fatalf("a raw commit while admin is in configuration mode: %v", err)
	}
	if got := runningThreads(t, d); got != "" {
		t.Fatalf("admin's half-made edit reached running: %q", got)
	}

	if out := admin.run("exit"); !strings.Contains(out, "Error: there are uncommitted changes") {
		t.Errorf("exit with changes: %q", out)
	}
	admin.run("exit discard")
	if p := admin.prompt(); p != "secgw> " {
		t.Fatalf("prompt after exit discard: %q", p)
	}
	r = runCLI(t, d, aliceUser, alicePassword, "edit running\n/ vrf main ike global-options threads 10\ncommit\n")
	if r.code != 0 || r.errOut != "" {
		t.Fatalf("second operator after the first one left: %s", r)
	}
	if got := runningThreads(t, d); got != "threads 10\n" {
		t.Fatalf("running after alice's commit: %q", got)
	}

	// Ctrl-D leaves the shell: the edits are discarded, the locks go.
	b := startOperator(t, d, adminUser, adminPassword)
	b.run("edit running")
	b.run("/ vrf main ike global-options threads 11")
	if out := b.ctrlD(); !strings.Contains(out, "the uncommitted changes were discarded") {
		t.Errorf("Ctrl-D: %q", out)
	}
	r = runCLI(t, d, aliceUser, alicePassword, "edit running\nshow config diff\nexit\n")
	if r.code != 0 || r.out != "No uncommitted changes.\n" {
		t.Fatalf("after Ctrl-D in configuration mode: %s", r)
	}

	// A secgw that dies: secgwd releases the locks as the session ends.
	c := startOperator(t, d, adminUser, adminPassword)
	c.run("edit running")
	c.run("/ vrf main ike global-options threads 12")
	c.kill()
	eventually(t, func() string {
		r := runCLI(t, d, aliceUser, alicePassword, "edit running\nshow config diff\nexit\n")
		if r.code != 0 || r.out != "No uncommitted changes.\n" {
			return "after a killed secgw in configuration mode: " + r.String()
		}
		return ""
	})
	if got := runningThreads(t, d); got != "threads 10\n" {
		t.Fatalf("running: %q", got)
	}

	// A NETCONF client that edits without the lock keeps everyone out of
	// configuration mode (RFC 6241 §7.5); 'discard' drops its changes,
	// but never those of an operator in configuration mode.
	mustRPC(t, s, `<edit-config><target><candidate/></target>`+ikeConfig(`<global-options><threads>13</threads></global-options>`)+`</edit-config>`)
	r = runCLI(t, d, adminUser, adminPassword, "edit running\n")
	if r.code != 1 || !strings.HasPrefix(r.errOut, "line 1: Error: configuration mode is not available: the candidate holds uncommitted changes of session ") ||
		!strings.Contains(r.errOut, "'discard' drops them") {
		t.Fatalf("edit running on a candidate changed without a lock: %s", r)
	}
	if r = runCLI(t, d, adminUser, adminPassword, "", "discard"); r.code != 0 || r.out != "The candidate holds no uncommitted changes now.\n" {
		t.Fatalf("discard: %s", r)
	}
	e := startOperator(t, d, adminUser, adminPassword)
	e.run("edit running")
	e.run("/ vrf main ike global-options threads 14")
	r = runCLI(t, d, aliceUser, alicePassword, "", "discard")
	if r.code != 1 || !strings.Contains(r.errOut, "configuration mode is taken: NETCONF session ") || !strings.Contains(r.errOut, "not yours to drop") {
		t.Fatalf("discard while an operator is in configuration mode: %s", r)
	}
	if out := e.run("show config diff"); !strings.Contains(out, "+             threads 14\n") {
		t.Errorf("the operator's change after another one's discard: %q", out)
	}
}

// TestCliDiffCheckComment: 'show config diff' and 'compare' print the
// uncommitted changes in the CLI's syntax, marked + and -; 'commit check'
// validates without committing and names a problem by its CLI path;
// 'commit comment' lands in 'show commits'.
func TestCliDiffCheckComment(t *testing.T) {
	t.Parallel()
	d := startCLIDaemon(t)
	admin := startOperator(t, d, adminUser, adminPassword)
	admin.run("edit running")
	// Lines longer than the terminal wraps them print nothing either.
	if out := admin.run("/ vrf main ike vpn hq local-address 192.0.2.1 remote-address 198.51.100.1"); out != "" {
		t.Fatalf("a configuration line printed %q", out)
	}
	admin.run("/ vrf main ike vpn hq security-policy trunk local-ts subnet 10.0.0.0/24")
	if out := admin.run(`commit comment "first hq"`); out != "" {
		t.Fatalf("commit: %q", out)
	}
	if out := admin.run("show config diff"); out != "No uncommitted changes.\n" {
		t.Errorf("diff after commit: %q", out)
	}
	admin.run("/ vrf main ike vpn hq remote-address 198.51.100.2")
	admin.run("del / vrf main ike vpn hq security-policy trunk")
	admin.run("/ vrf main ike global-options threads 4")
	want := `  vrf main
      ike
+         global-options
+             threads 4
+             ..
          vpn hq
-             remote-address 198.51.100.1
+             remote-address 198.51.100.2
-             security-policy trunk
-                 local-ts subnet 10.0.0.0/24
-                 ..
              ..
          ..
      ..
`
	if out := admin.run("show config diff"); out != want {
		t.Errorf("show config diff:\n%s\nwant:\n%s", out, want)
	}
	if out := admin.run("compare"); out != want {
		t.Errorf("compare:\n%s\nwant:\n%s", out, want)
	}
	if out := admin.run("commit check"); out != "The candidate configuration is valid.\n" {
		t.Errorf("commit check: %q", out)
	}
	r := runCLI(t, d, aliceUser, alicePassword, "", "show", "config", "/", "vrf", "main", "ike", "vpn", "hq", "remote-address")
	if r.out != "remote-address 198.51.100.1\n" {
		t.Fatalf("commit check changed running: %s", r)
	}
	// A dangling reference: commit check names it by its CLI path.
	admin.run("/ vrf main ike vpn hq ike-policy template nope")
	out := admin.run("commit check")
	if !strings.HasPrefix(out, "Error: / vrf main ike vpn hq ike-policy template: ") || !strings.Contains(out, "nope") ||
		strings.Contains(out, "[name=") {
		t.Errorf("commit check of a dangling template: %q", out)
	}
	if p := admin.prompt(); p != "secgw running config#! " {
		t.Errorf("prompt after a failed check: %q", p)
	}
	if out := admin.run(`commit comment "never"`); !strings.HasPrefix(out, "Error: / vrf main ike vpn hq ike-policy template: ") {
		t.Errorf("commit of a dangling template: %q", out)
	}
	admin.run("del / vrf main ike vpn hq ike-policy template")
	if out := admin.run(`commit comment "move hq to .2"`); out != "" {
		t.Fatalf("commit: %q", out)
	}
	r = runCLI(t, d, aliceUser, alicePassword, "", "show", "commits")
	lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
	row := regexp.MustCompile(`^(\d+)\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+admin\s+(\d+)\s+(.*)$`)
	if r.code != 0 || len(lines) < 3 || !regexp.MustCompile(`^ID\s+Time\s+User\s+Changes\s+Comment$`).MatchString(lines[0]) {
		t.Fatalf("show commits: %s", r)
	}
	newest, older := row.FindStringSubmatch(lines[1]), row.FindStringSubmatch(lines[2])
	if newest == nil || older == nil || newest[3] != "move hq to .2" || older[3] != "first hq" || newest[2] == "0" {
		t.Errorf("show commits, newest first:\n%s", r.out)
	}
}

// TestCliCommitConfirmed: 'commit confirmed N' makes running at once and
// secgwd rolls it back after N seconds unless 'commit' confirms it; the
// operator is told of the rollback; a session that ends first rolls it
// back too.
func TestCliCommitConfirmed(t *testing.T) {
	t.Parallel()
	d := startCLIDaemon(t)
	admin := startOperator(t, d, adminUser, adminPassword)
	admin.run("edit running")
	admin.run("/ vrf main ike global-options threads 6")
	out := admin.run(`commit confirmed 4 comment "try 6"`)
	if !strings.HasPrefix(out, "Committed. secgwd rolls it back in 4s unless confirmed by 'commit'") {
		t.Fatalf("commit confirmed: %q", out)
	}
	if got := runningThreads(t, d); got != "threads 6\n" {
		t.Fatalf("running during the confirmed commit: %q", got)
	}
	if out := admin.run("exit"); !strings.Contains(out, "Error: a confirmed commit is pending") {
		t.Errorf("exit during a confirmed commit: %q", out)
	}
	// Not confirmed: rolled back.
	time.Sleep(4 * time.Second)
	eventually(t, func() string {
		if got := runningThreads(t, d); got != "" {
			return "running after the confirm timeout: " + got
		}
		return ""
	})
	out = admin.run("show config diff")
	if !strings.HasPrefix(out, "The confirmed commit was not confirmed in time: secgwd rolled it back (commit ") ||
		!strings.HasSuffix(out, "No uncommitted changes.\n") {
		t.Errorf("after the rollback: %q", out)
	}
	r := runCLI(t, d, aliceUser, alicePassword, "", "show", "commits")
	if !regexp.MustCompile(`(?m)^\d+\s+\S+\s+\(secgwd\)\s+\d+\s+rollback of a confirmed commit: confirm timeout$`).MatchString(r.out) ||
		!regexp.MustCompile(`(?m)^\d+\s+\S+\s+admin\s+\d+\s+try 6$`).MatchString(r.out) {
		t.Errorf("show commits after the rollback:\n%s", r.out)
	}

	// Confirmed in time: it stays.
	admin.run("/ vrf main ike global-options threads 7")
	admin.run("commit confirmed 4")
	if out := admin.run("commit"); out != "The confirmed commit is confirmed.\n" {
		t.Errorf("confirming commit: %q", out)
	}
	time.Sleep(5 * time.Second)
	if got := runningThreads(t, d); got != "threads 7\n" {
		t.Fatalf("running after a confirmed commit was confirmed: %q", got)
	}

	// The session ends before the confirmation: rolled back at once.
	admin.run("/ vrf main ike global-options threads 8")
	admin.run("commit confirmed 600")
	if got := runningThreads(t, d); got != "threads 8\n" {
		t.Fatalf("running during the confirmed commit: %q", got)
	}
	if out := admin.ctrlD(); !strings.Contains(out, "the confirmed commit was not confirmed: secgwd rolls it back as the session ends") {
		t.Errorf("Ctrl-D during a confirmed commit: %q", out)
	}
	eventually(t, func() string {
		if got := runningThreads(t, d); got != "threads 7\n" {
			return "running after the session ended: " + got
		}
		return ""
	})
}

// TestCliRollback: 'rollback ID' loads an older commit into the
// candidate and prints what a commit would change; 'commit' makes it
// running.
func TestCliRollback(t *testing.T) {
	t.Parallel()
	d := startCLIDaemon(t)
	admin := startOperator(t, d, adminUser, adminPassword)
	admin.run("edit running")
	admin.run("/ vrf main ike global-options threads 3")
	admin.run("commit comment one")
	admin.run("/ vrf main ike global-options threads 4")
	admin.run("/ vrf main ike vpn hq remote-address 198.51.100.1")
	admin.run("commit comment two")
	m := regexp.MustCompile(`(?m)^(\d+)\s+\S+\s+admin\s+\d+\s+one$`).FindStringSubmatch(admin.run("show commits"))
	if m == nil {
		t.Fatalf("show commits has no commit 'one':\n%s", admin.run("show commits"))
	}
	out := admin.run("rollback " + m[1])
	want := "Loaded commit " + m[1] + " into the candidate; 'commit' makes it running. The changes:\n" +
		`  vrf main
      ike
          global-options
-             threads 4
+             threads 3
              ..
-         vpn hq
-             remote-address 198.51.100.1
-             ..
          ..
      ..
`
	if out != want {
		t.Errorf("rollback:\n%s\nwant:\n%s", out, want)
	}
	if got := runningThreads(t, d); got != "threads 4\n" {
		t.Fatalf("rollback changed running: %q", got)
	}
	admin.run(`commit comment "back to one"`)
	r := runCLI(t, d, aliceUser, alicePassword, "", "show", "config", "nodefault", "/", "vrf", "main", "ike")
	if r.out != "ike\n    global-options\n        threads 3\n        ..\n    ..\n" {
		t.Errorf("running after rollback and commit: %s", r)
	}
	last := regexp.MustCompile(`(?m)^(\d+)\s+\S+\s+admin\s+\d+\s+back to one$`).FindStringSubmatch(admin.run("show commits"))
	if last == nil {
		t.Fatal("show commits lacks the rollback's commit")
	}
	if out := admin.run("rollback " + last[1]); out != "Loaded commit "+last[1]+": running already is that configuration, nothing to commit.\n" {
		t.Errorf("rollback to running: %q", out)
	}
	if out := admin.run("rollback 999"); !strings.HasPrefix(out, "Error: commit 999 does not exist") {
		t.Errorf("rollback to a commit that does not exist: %q", out)
	}
	// Without configuration mode (and its lock) there is no rollback.
	admin.run("exit")
	if out := admin.run("cmd config rollback commit-id " + m[1]); !strings.Contains(out, "enter configuration mode first") {
		t.Errorf("rollback in operational mode: %q", out)
	}
}
