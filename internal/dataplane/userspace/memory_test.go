package userspace

import (
	"context"
	"runtime"
	"testing"

	"secgw/internal/dataplane"
)

// TestBytesHeldPerChild: what the tables hold for an idle child SA (two
// SAs with their crypto state not yet expanded, three policies, their
// index entries and trie nodes), measured on 10,000 of them: the largest
// share of a held SA in secgwd's heap profiles. Measured 1,832 octets;
// 1,945 with trie slots of 16 octets (a pair of typed pointers), 2,009
// with the ESP suites in the 192-octet size class as well.
func TestBytesHeldPerChild(t *testing.T) {
	const n = 10000
	d := newScaleDP(t)
	var all []dataplane.Op
	for i := range n {
		all = append(all, scaleChild(i)...)
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	if err := d.Apply(context.Background(), all); err != nil {
		t.Fatal(err)
	}
	all = nil
	per := float64(heap()-before) / n
	runtime.KeepAlive(d)
	t.Logf("%.0f octets a child SA", per)
	if per > 1880 {
		t.Errorf("the tables hold %.0f octets a child SA, want at most 1,880", per)
	}
}

// TestInstallGarbage: installing a child SA into 10,000 allocates what it
// keeps plus the trie paths it copies, the garbage of every install and
// delete (a rekey is both, and a concentrator's rekeys come in waves).
// Measured 10,576 octets; 15,312 with trie slots of 16 octets.
func TestInstallGarbage(t *testing.T) {
	d := newScaleDP(t)
	fillScale(t, d, 10000)
	best := ^uint64(0)
	for k := range 5 {
		batch := scaleChild(10000 + k)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := d.Apply(context.Background(), batch)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		best = min(best, after.TotalAlloc-before.TotalAlloc)
	}
	t.Logf("%d octets allocated by an install", best)
	if best > 12000 {
		t.Errorf("an install into 10,000 child SAs allocates %d octets, want at most 12,000", best)
	}
}
