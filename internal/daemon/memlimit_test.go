package daemon

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestAutoMemoryLimit: the live heap plus half of it, at least the
// headroom more, saturating.
func TestAutoMemoryLimit(t *testing.T) {
	for live, want := range map[uint64]int64{
		0:              memoryLimitHeadroom,
		100 << 20:      100<<20 + memoryLimitHeadroom,
		400 << 20:      600 << 20,
		math.MaxUint64: math.MaxInt64,
	} {
		if got := autoMemoryLimit(live); got != want {
			t.Errorf("autoMemoryLimit(%d) = %d, want %d", live, got, want)
		}
	}
}

// TestStartMemory: GOGC is startGCPercent while any daemon starts, and
// what it was once the last has started.
func TestStartMemory(t *testing.T) {
	before := debug.SetGCPercent(77)
	defer debug.SetGCPercent(before)
	endA := startMemory(MemoryLimitAuto)
	endB := startMemory(MemoryLimitAuto)
	endOff := startMemory(MemoryLimitOff)
	endA()
	if got := debug.SetGCPercent(-1); got != startGCPercent {
		t.Errorf("GOGC while one still starts = %d, want %d", got, startGCPercent)
	}
	debug.SetGCPercent(startGCPercent)
	endB()
	endOff()
	if got := debug.SetGCPercent(77); got != 77 {
		t.Errorf("GOGC once started = %d, want 77", got)
	}
}
