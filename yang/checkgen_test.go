package yang

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// checkGenerated runs make check-generated with variables set.
func checkGenerated(t *testing.T, vars ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("make", append([]string{"-s", "check-generated"}, vars...)...)
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestCheckGenerated: make check-generated passes on generated/ as
// committed, and fails on a stale copy (one changed line) and when ygot's
// generator fails (here: without -ignore_unsupported, on the sa-event
// notification), so that make test cannot pass with a stale or
// ungeneratable generated/.
func TestCheckGenerated(t *testing.T) {
	if out, err := checkGenerated(t); err != nil {
		t.Fatalf("check on generated/ as committed: %v\n%s", err, out)
	}
	b, err := os.ReadFile("../generated/secgw.go")
	if err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(t.TempDir(), "secgw.go")
	if err := os.WriteFile(stale, []byte(strings.Replace(string(b), "type Device struct {", "type Device struct {\n\tStale bool", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := checkGenerated(t, "GENFILE="+stale); err == nil || !strings.Contains(out, "is stale") {
		t.Fatalf("check on a stale copy: %v\n%s", err, out)
	}
	if out, err := checkGenerated(t, "GENIGNORE="); err == nil || !strings.Contains(out, "generator failed") {
		t.Fatalf("check with a failing generator: %v\n%s", err, out)
	}
}
