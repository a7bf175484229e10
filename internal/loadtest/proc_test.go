package loadtest

import (
	"testing"
	"time"
)

// A /proc/<pid>/stat line whose command name holds a space and a ')'.
const sampleStat = "4242 (char on) x) S 1 4242 4242 0 -1 4194560 9516 0 0 0 1234 567 0 0 20 0 17 0 1000 123456789 2500 18446744073709551615\n"

const sampleStatus = "Name:\tcharon\nVmPeak:\t  300000 kB\nVmRSS:\t   10000 kB\nThreads:\t17\n"

// TestParseProcStats: utime 1234 and stime 567 ticks of 10 ms, VmRSS in kB.
func TestParseProcStats(t *testing.T) {
	ps, err := parseProcStats([]byte(sampleStat), []byte(sampleStatus))
	if err != nil {
		t.Fatal(err)
	}
	if ps.CPU != 18010*time.Millisecond || ps.RSS != 10000*1024 {
		t.Fatalf("got %+v", ps)
	}
	for _, bad := range []struct{ stat, status string }{
		{"4242 charon S 1", sampleStatus},
		{"4242 (charon) S 1 2 3", sampleStatus},
		{sampleStat, "Name:\tcharon\n"},
		{"4242 (c) S 1 4242 4242 0 -1 4194560 9516 0 0 0 x 567 0", sampleStatus},
	} {
		if _, err := parseProcStats([]byte(bad.stat), []byte(bad.status)); err == nil {
			t.Errorf("no error for %q / %q", bad.stat, bad.status)
		}
	}
}

// TestReadProcStatsSelf reads this process: it has memory and, after some
// work, CPU time.
func TestReadProcStatsSelf(t *testing.T) {
	x := 0
	for i := range 10_000_000 {
		x += i
	}
	_ = x
	ps, err := ReadProcStats(0)
	if err != nil {
		t.Fatal(err)
	}
	if ps.RSS <= 0 || ps.CPU < 0 || selfCPU() <= 0 {
		t.Fatalf("self: %+v, getrusage %v", ps, selfCPU())
	}
}
