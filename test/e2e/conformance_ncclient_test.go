package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestConformanceNcclient runs testdata/nc_conformance.py: the NETCONF
// conformance gaps that an outside client found, checked
// with Debian's ncclient against a fresh secgwd under each framing (the
// rpc-error of a malformed message differs: malformed-message is base:1.1
// only, RFC 6241 Appendix A).
func TestConformanceNcclient(t *testing.T) {
	t.Parallel()
	needNcclient(t)
	for _, framing := range []string{"1.1", "1.0"} {
		t.Run("base"+framing, func(t *testing.T) {
			t.Parallel()
			d := startDaemon(t, newDataDir(t))
			out := runChecks(t, "nc_conformance.py",
				"--host", d.Host, "--port", d.Port, "--password="+adminPassword,
				"--reader-password="+readerPassword, "--framing", framing,
				"--yang-dir", filepath.Join(repoRoot(), "yang"))
			// Every section ran to its end: a section that aborts prints
			// a FAIL line, and so does each failed check.
			if n := strings.Count(out, "\nPASS "); n < 40 {
				t.Errorf("only %d checks passed; the script stopped early?", n)
			}
			if t.Failed() {
				t.Logf("secgwd log:\n%s", d.Logs())
			}
		})
	}
}
