package daemon

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// Memory limits of the Go runtime (Config.MemoryLimit).
//
// With the default GOGC of 100 the runtime lets the heap grow to twice
// what is live before it collects, and returns freed pages to the system
// slowly: at 100k configured VPNs that reserve, and the garbage of the
// start (the stored configuration decoded, validated and resolved), were
// half of secgwd's resident memory. A soft limit (debug.SetMemoryLimit)
// makes the runtime collect earlier and return pages down to the limit.
const (
	// MemoryLimitAuto (the default) follows the live heap: once started,
	// and then every memoryLimitEvery, the limit is the live heap plus
	// half of it, at least memoryLimitHeadroom more. It rises as SAs
	// accumulate (the runtime collects more often until the next step
	// raises it; its GC CPU cap bounds what that costs) and falls when
	// they go. Half, not less: each collection marks the whole live heap
	// (330 MB at 100k VPNs), and less room makes the garbage of commits
	// collect it more often.
	MemoryLimitAuto = 0
	// MemoryLimitOff leaves the runtime's default (GOMEMLIMIT, or none).
	MemoryLimitOff = -1
)

const (
	// memoryLimitHeadroom is the least the limit allows over the live
	// heap: room for a commit's or a burst of setups' garbage.
	memoryLimitHeadroom = 64 << 20
	// memoryLimitEvery is how often the automatic limit follows the heap.
	memoryLimitEvery = time.Second
	// startGCPercent is GOGC while secgwd starts with the automatic
	// limit: the start (decoding, validating and resolving the stored
	// configuration) allocates a few times what stays live, and with the
	// default of 100 it spent a fifth of its time collecting at 100k
	// VPNs. The peak it allows is returned to the system once started.
	// Measured at 100k (fake dataplane): 200 starts in 4.1 s with a peak
	// of 730 MB, 400 in 3.8 s with 1,060 MB, 100 in 3.9 s with 600 MB
	// but then keeps them.
	startGCPercent = 200
)

// starting counts the daemons of the process that are starting (tests
// start several at once): the first sets startGCPercent, the last puts
// back what was before it.
var starting struct {
	sync.Mutex
	n    int
	prev int
	// burstEnd is when the last burst ended (burstMemory).
	burstEnd time.Time
}

// startMemory prepares the runtime for the start under limit
// (Config.MemoryLimit) and returns what ends it, once started. A fixed
// limit holds from the start on.
func startMemory(limit int64) (started func()) {
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	if limit != MemoryLimitAuto {
		return func() {}
	}
	starting.Lock()
	if starting.n == 0 {
		starting.prev = debug.SetGCPercent(startGCPercent)
	}
	starting.n++
	starting.Unlock()
	return func() {
		starting.Lock()
		defer starting.Unlock()
		if starting.n--; starting.n == 0 {
			debug.SetGCPercent(starting.prev)
		}
		// Collect the start's garbage and return it to the system
		// before serving: resident memory starts from what the
		// configuration holds.
		debug.FreeOSMemory()
	}
}

// burstMemory prepares the runtime, under the automatic limit, for a
// burst of allocation that ends within the second: an HA role change
// builds or drops every SA of the dataplane at once (10k child SAs: about
// 130 MB in the userspace dataplane's tables, BenchmarkInstall10k). Under
// a limit of the live heap plus half, the takeover's allocation ran into
// it and the runtime collected again and again while the peers waited;
// the burst gets startGCPercent and no limit, as the start does, and the
// limit follows the live heap again once it ends. A fixed limit, or none,
// is the operator's and stays. It returns what ends the burst.
func burstMemory(limit int64) (done func()) {
	if limit != MemoryLimitAuto {
		return func() {}
	}
	starting.Lock()
	if starting.n == 0 {
		starting.prev = debug.SetGCPercent(startGCPercent)
	}
	starting.n++
	debug.SetMemoryLimit(math.MaxInt64)
	starting.Unlock()
	return func() {
		starting.Lock()
		defer starting.Unlock()
		if starting.n--; starting.n == 0 {
			debug.SetGCPercent(starting.prev)
			// The live heap of the last collection is the one before
			// the burst: a limit from it would sit below what the burst
			// left live and the runtime collect without end (a second
			// of a takeover's CPU at 10k went to it). The heap as it is
			// bounds it from above until a collection and the settle
			// time have passed.
			debug.SetMemoryLimit(autoMemoryLimit(max(liveHeap(), heapObjects())))
			starting.burstEnd = time.Now()
		}
	}
}

// burstSettle is how long after a burst the automatic limit stays as the
// burst's end set it, so that a collection has measured the new live
// heap first.
const burstSettle = 5 * time.Second

// bursting reports whether a start or a burst (burstMemory) is under way,
// or ended less than burstSettle ago: the automatic limit waits.
func bursting() bool {
	starting.Lock()
	defer starting.Unlock()
	return starting.n > 0 || time.Since(starting.burstEnd) < burstSettle
}

// heapObjects returns the bytes of the heap's objects, live or not.
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// autoMemoryLimit is the automatic limit for a live heap of live bytes.
func autoMemoryLimit(live uint64) int64 {
	room := max(live/2, memoryLimitHeadroom)
	if live > math.MaxInt64-room {
		return math.MaxInt64
	}
	return int64(live + room)
}

// liveHeap returns the heap bytes marked live by the last collection.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// limitMemory applies limit (Config.MemoryLimit) until ctx ends, once
// started: the automatic one at once (startMemory returned the start's
// garbage), then every memoryLimitEvery. A fixed limit is startMemory's.
func limitMemory(ctx context.Context, limit int64) {
	switch {
	case limit != MemoryLimitAuto:
		return
	}
	debug.SetMemoryLimit(autoMemoryLimit(liveHeap()))
	t := time.NewTicker(memoryLimitEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !bursting() {
				debug.SetMemoryLimit(autoMemoryLimit(liveHeap()))
			}
		}
	}
}
