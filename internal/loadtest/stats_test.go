package loadtest

import (
	"strings"
	"testing"
	"time"

	"secgw/internal/ike/engine"
)

// TestPercentile checks the nearest-rank definition on known data.
func TestPercentile(t *testing.T) {
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, time.Duration(i))
	}
	for _, tc := range []struct {
		data []time.Duration
		p    float64
		want time.Duration
	}{
		{hundred, 50, 50},
		{hundred, 90, 90},
		{hundred, 99, 99},
		{hundred, 99.5, 100},
		{hundred, 100, 100},
		{hundred, 0.1, 1},
		{[]time.Duration{7}, 50, 7},
		{[]time.Duration{7}, 99, 7},
		{[]time.Duration{1, 2, 3, 4}, 50, 2},
		{[]time.Duration{1, 2, 3, 4}, 51, 3},
		{nil, 50, 0},
	} {
		if got := Percentile(tc.data, tc.p); got != tc.want {
			t.Errorf("p%v of %d values = %v, want %v", tc.p, len(tc.data), got, tc.want)
		}
	}
}

// TestRecorderReport: successes arrive out of order; the report sorts
// them, counts failures by reason and computes the rate.
func TestRecorderReport(t *testing.T) {
	r := NewRecorder(4)
	for _, ms := range []int{30, 10, 40, 20} {
		r.Success(time.Duration(ms) * time.Millisecond)
	}
	r.Failure("IKE_SA_INIT: timeout")
	r.Failure("IKE_SA_INIT: timeout")
	r.Failure("IKE_AUTH: AUTHENTICATION_FAILED")
	if ok, failed := r.Counts(); ok != 4 || failed != 3 {
		t.Fatalf("counts %d, %d", ok, failed)
	}
	rep := r.Report(7, 2*time.Second)
	if rep.Established != 4 || rep.Failed() != 3 || rep.Rate() != 2 {
		t.Fatalf("report: %+v rate %v", rep, rep.Rate())
	}
	want := Latency{P50: 20 * time.Millisecond, P90: 40 * time.Millisecond, P99: 40 * time.Millisecond, Max: 40 * time.Millisecond}
	if rep.Latency != want {
		t.Fatalf("latency %+v, want %+v", rep.Latency, want)
	}
}

// TestReportFormat compares the whole text, failures most frequent first.
func TestReportFormat(t *testing.T) {
	rep := &Report{
		Target: "secgw-loadtest: 10 tunnels", Attempted: 10, Established: 7, Elapsed: 2 * time.Second,
		Failures: map[string]int{"IKE_AUTH: AUTHENTICATION_FAILED": 1, "IKE_SA_INIT: timeout": 2},
		Latency:  Latency{P50: 1500 * time.Microsecond, P90: 3 * time.Millisecond, P99: 12 * time.Millisecond, Max: 20 * time.Millisecond},
		CPU:      50 * time.Millisecond,
		Soak:     &SoakStats{Held: 7, Duration: 60 * time.Second, Liveness: 14},
		Flood:    &FloodStats{Sent: 100, Answered: 10, Cookies: 88, Notifies: map[string]int64{"NO_PROPOSAL_CHOSEN": 2}, Elapsed: time.Second},
	}
	var b strings.Builder
	rep.Format(&b)
	want := `secgw-loadtest: 10 tunnels
established 7 of 10, failed 3, in 2.00 s: 3.5 setups/s
setup latency ms: p50 1.5  p90 3.0  p99 12.0  max 20.0
failures:
       2  IKE_SA_INIT: timeout
       1  IKE_AUTH: AUTHENTICATION_FAILED
generator cpu: 0.05 s (5000 µs per tunnel)
soak: held 7 SAs for 60 s; answered liveness 14, IKE deletes 0, child deletes 0, CREATE_CHILD_SA refused 0, cached 0, bad 0
flood: sent 100 half-open IKE_SA_INIT in 1.0 s (100/s); answered 10, cookies 88, NO_PROPOSAL_CHOSEN 2
RESULT attempted=10 established=7 failed=3 elapsed_s=2.000 rate=3.5 p50_ms=1.5 p90_ms=3.0 p99_ms=12.0 gen_cpu_s=0.05
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestResponderStatsFormat checks the RESPONDER line the benchmark reads.
func TestResponderStatsFormat(t *testing.T) {
	s := ResponderStats{IKEUp: 10, IKEDown: 2, ChildUp: 10, Installs: 10,
		Proc: ProcStats{CPU: 1500 * time.Millisecond, RSS: 2048 * 1024}, HeapInuse: 1024 * 1024, HeapSys: 4096 * 1024,
		Goroutines: 5, Failures: map[string]int64{"AUTHENTICATION_FAILED": 3},
		DoS: engine.DoSStats{HalfOpen: 7, Cookies: 100, Blocked: 1, HalfOpenLimit: 2, SALimit: 3, JobLoad: 4, QueueFull: 9}}
	var b strings.Builder
	s.Format(&b)
	want := "RESPONDER established=8 ike_up=10 ike_down=2 ike_failed=0 child_up=10 installs=10 liveness=0 cpu_s=1.50 rss_kb=2048 heap_inuse_kb=1024 heap_sys_kb=4096 goroutines=5 half_open=7 cookies=100 refused=10 queue_full=9\n" +
		"  failed 3: AUTHENTICATION_FAILED\n"
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
