package golden

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeT records what Check reports.
type fakeT struct {
	testing.TB
	errs []string
}

func (f *fakeT) Helper()                        {}
func (f *fakeT) Errorf(format string, a ...any) { f.errs = append(f.errs, format) }
func (f *fakeT) Fatalf(format string, a ...any) { f.errs = append(f.errs, "fatal") }

// TestCheck: equal output passes, a difference names its first line, a
// missing file fails.
func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.golden")
	if err := os.WriteFile(path, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &fakeT{TB: t}
	Check(f, path, []byte("a\nb\nc\n"))
	if len(f.errs) != 0 {
		t.Errorf("equal output reported: %v", f.errs)
	}
	Check(f, path, []byte("a\nB\nc\n"))
	if len(f.errs) != 1 {
		t.Errorf("a difference was not reported")
	}
	if d := lineDiff("a\nb\nc\n", "a\nB\nc\n"); !strings.Contains(d, "line 2") {
		t.Errorf("lineDiff: %q", d)
	}
	Check(f, path+".missing", nil)
	if len(f.errs) != 2 || f.errs[1] != "fatal" {
		t.Errorf("a missing file: %v", f.errs)
	}
}
