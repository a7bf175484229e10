package poll

import (
	"testing"
	"time"
)

// TestUntil: a condition that becomes true is seen; one that never does
// is given up after the duration, having been checked after it.
func TestUntil(t *testing.T) {
	n := 0
	if !Until(time.Second, func() bool { n++; return n == 5 }) {
		t.Errorf("Until gave up on a condition true at the 5th check")
	}
	start, checks := time.Now(), 0
	if Until(20*time.Millisecond, func() bool { checks++; return false }) {
		t.Errorf("Until reported a false condition as held")
	}
	if took := time.Since(start); took < 20*time.Millisecond || checks < 2 {
		t.Errorf("gave up after %v and %d checks, want >= 20ms and >= 2", took, checks)
	}
}

// fakeT records Fatalf.
type fakeT struct {
	testing.TB
	fatal string
}

func (f *fakeT) Helper()                        {}
func (f *fakeT) Fatalf(format string, a ...any) { f.fatal = format }

// TestRequire: Require fails the test only when the condition never held.
func TestRequire(t *testing.T) {
	var f fakeT
	Require(&f, time.Second, "x", func() bool { return true })
	if f.fatal != "" {
		t.Errorf("Require failed on a true condition")
	}
	Require(&f, time.Millisecond, "x", func() bool { return false })
	if f.fatal == "" {
		t.Errorf("Require did not fail on a false condition")
	}
}
