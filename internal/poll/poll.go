// Package poll waits, in tests, for a condition that another goroutine or
// process makes true: the one polling loop every test package uses. It
// imports nothing of secgw, so that any package's tests may import it.
package poll

import (
	"testing"
	"time"
)

// Pauses between two checks: short at first, for conditions that
// another goroutine makes true within microseconds, then longer, for
// those that wait for a daemon, the network or a protocol timer.
const (
	firstPause = time.Millisecond
	maxPause   = 50 * time.Millisecond
)

// Until checks cond until it holds or d has passed, and reports whether
// it held. cond runs at least once, and once more after d has passed.
func Until(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	pause := firstPause
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, maxPause)
	}
	return true
}

// Require is Until, failing the test ("timed out waiting for what")
// when cond has not held within d.
func Require(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Until(d, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}
