package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// minNcclientChecks is fewer than the suite's checks per framing (about
// 450): a suite that stops early fails even without a FAIL line.
const minNcclientChecks = 400

// TestNcclient runs testdata/ncclient_suite.py (with nclib.py, nc_edits.py
// and nc_reads.py): every base operation and every kind of bad
// request through Debian's ncclient, against a fresh secgwd under each
// framing: base:1.1 (chunked, what ncclient negotiates by default) and
// base:1.0 (end-of-message, with a client that advertises only base:1.0).
// Each FAIL line of the suite is a test error; the daemon's log must show
// that every session used the framing asked for.
func TestNcclient(t *testing.T) {
	t.Parallel()
	needNcclient(t)
	for _, framing := range []string{"1.1", "1.0"} {
		t.Run("base"+framing, func(t *testing.T) {
			t.Parallel()
			d := startDaemon(t, newDataDir(t))
			out := runChecks(t, "ncclient_suite.py",
				"--host", d.Host, "--port", d.Port, "--password="+adminPassword,
				"--reader-user", readerUser, "--reader-password="+readerPassword,
				"--framing", framing, "--yang-dir", filepath.Join(repoRoot(), "yang"))
			if n := strings.Count(out, "\nPASS "); n < minNcclientChecks {
				t.Errorf("only %d checks passed, want at least %d; the suite stopped early?", n, minNcclientChecks)
			}
			framings := d.SessionFramings()
			// The admin, lock, kill, close, confirmed-commit, notification,
			// reader and raw sessions.
			if len(framings) < 13 {
				t.Errorf("secgwd logged %d sessions, want at least 13", len(framings))
			}
			for i, base11 := range framings {
				if base11 != (framing == "1.1") {
					t.Errorf("session %d: secgwd logged base11=%v under base:%s", i+1, base11, framing)
				}
			}
			if t.Failed() {
				t.Logf("secgwd log:\n%s", d.Logs())
			}
		})
	}
}

// runChecks runs a python check script of testdata with Debian's
// python3 and reports each of its FAIL lines as a test error; it returns
// the script's output.
func runChecks(t *testing.T, script string, args ...string) string {
	t.Helper()
	cmd := exec.Command(python3, append([]string{filepath.Join("testdata", script)}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	b, err := cmd.CombinedOutput()
	out := string(b)
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "FAIL ") {
			t.Error(strings.TrimPrefix(l, "FAIL "))
		}
	}
	if err != nil && !t.Failed() {
		t.Errorf("%s: %v", script, err)
	}
	if t.Failed() {
		t.Logf("%s output:\n%s", script, out)
	}
	return out
}
