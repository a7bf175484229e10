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

// TestCheckGeneratedStringer: make check-generated fails when a stringer
// file is stale, e.g. edited by hand. Its stringer half runs on a module
// of one enum in a temporary directory (STRINGROOT): passes on the file
// stringer writes, fails once a name in it is changed by hand.
func TestCheckGeneratedStringer(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"go.mod": "module colors\n\ngo 1.26\n",
		"color.go": "package colors\n\n// Color is a test enum.\ntype Color uint8\n\n" +
			"//go:generate go tool stringer -type=Color -linecomment\n\n" +
			"const (\n\tRed   Color = iota // red\n\tGreen              // green\n)\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stringer, err := exec.Command("go", "tool", "-n", "stringer").Output()
	if err != nil {
		t.Fatal(err)
	}
	gen := exec.Command(strings.TrimSpace(string(stringer)), "-type=Color", "-linecomment")
	gen.Dir = dir
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("stringer: %v\n%s", err, out)
	}
	if out, err := checkGenerated(t, "STRINGROOT="+dir); err != nil || !strings.Contains(out, "1 stringer files are up to date") {
		t.Fatalf("check on the file stringer wrote: %v\n%s", err, out)
	}
	file := filepath.Join(dir, "color_string.go")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), "redgreen", "rougegreen", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := checkGenerated(t, "STRINGROOT="+dir); err == nil || !strings.Contains(out, "color_string.go is stale") {
		t.Fatalf("check on a stringer file edited by hand: %v\n%s", err, out)
	}
}
