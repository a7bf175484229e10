package daemon

import (
	"math"
	"testing"
)

// TestAutoMemoryLimit: the live heap plus a quarter, at least the
// headroom more, saturating.
func TestAutoMemoryLimit(t *testing.T) {
	for live, want := range map[uint64]int64{
		0:              memoryLimitHeadroom,
		100 << 20:      100<<20 + memoryLimitHeadroom,
		400 << 20:      500 << 20,
		math.MaxUint64: math.MaxInt64,
	} {
		if got := autoMemoryLimit(live); got != want {
			t.Errorf("autoMemoryLimit(%d) = %d, want %d", live, got, want)
		}
	}
}
