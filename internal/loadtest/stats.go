package loadtest

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest value such that at least p percent of
// the values are less than or equal to it. It returns 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Recorder collects the outcome of each tunnel; it is safe for concurrent
// use.
type Recorder struct {
	mu        sync.Mutex
	latencies []time.Duration
	failures  map[string]int
}

// NewRecorder returns a Recorder with room for n latencies.
func NewRecorder(n int) *Recorder {
	return &Recorder{latencies: make([]time.Duration, 0, n), failures: map[string]int{}}
}

// Success records one established tunnel and its setup latency.
func (r *Recorder) Success(latency time.Duration) {
	r.mu.Lock()
	r.latencies = append(r.latencies, latency)
	r.mu.Unlock()
}

// Failure records one failed tunnel under reason.
func (r *Recorder) Failure(reason string) {
	r.mu.Lock()
	r.failures[reason]++
	r.mu.Unlock()
}

// Counts returns the numbers of successes and failures so far.
func (r *Recorder) Counts() (ok, failed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.failures {
		failed += n
	}
	return len(r.latencies), failed
}

// Latency summarizes the setup latencies of the established tunnels.
type Latency struct {
	P50, P90, P99, Max time.Duration
}

// Report is the result of a generator run.
type Report struct {
	// Target describes the run (responder, sources, limits) for the header.
	Target      string
	Attempted   int
	Established int
	// Failures counts failed tunnels by reason, e.g. "IKE_AUTH:
	// AUTHENTICATION_FAILED" or "IKE_SA_INIT: timeout".
	Failures map[string]int
	// Elapsed is from the first start to the last outcome.
	Elapsed time.Duration
	Latency Latency
	// CPU is the generator's own user+system CPU time over the run.
	CPU time.Duration
	// SendErrors counts datagrams the kernel refused to send (each one
	// retransmitted later like a lost one).
	SendErrors int64
	// Soak and Flood are set when those phases ran.
	Soak  *SoakStats
	Flood *FloodStats
}

// Report builds the Report of a run that took elapsed.
func (r *Recorder) Report(attempted int, elapsed time.Duration) *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	sorted := slices.Clone(r.latencies)
	slices.Sort(sorted)
	rep := &Report{Attempted: attempted, Established: len(sorted), Elapsed: elapsed, Failures: map[string]int{}}
	for k, v := range r.failures {
		rep.Failures[k] = v
	}
	if len(sorted) > 0 {
		rep.Latency = Latency{P50: Percentile(sorted, 50), P90: Percentile(sorted, 90),
			P99: Percentile(sorted, 99), Max: sorted[len(sorted)-1]}
	}
	return rep
}

// Failed returns the number of failed tunnels.
func (r *Report) Failed() int {
	n := 0
	for _, v := range r.Failures {
		n += v
	}
	return n
}

// Rate returns the established tunnels per second.
func (r *Report) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Established) / r.Elapsed.Seconds()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

// Format writes the report for people, then one RESULT line of key=value
// pairs for scripts (test/bench-ike.sh reads it).
func (r *Report) Format(w io.Writer) {
	var b strings.Builder
	if r.Target != "" {
		fmt.Fprintf(&b, "%s\n", r.Target)
	}
	fmt.Fprintf(&b, "established %d of %d, failed %d, in %.2f s: %.1f setups/s\n",
		r.Established, r.Attempted, r.Failed(), r.Elapsed.Seconds(), r.Rate())
	if r.Established > 0 {
		fmt.Fprintf(&b, "setup latency ms: p50 %s  p90 %s  p99 %s  max %s\n",
			ms(r.Latency.P50), ms(r.Latency.P90), ms(r.Latency.P99), ms(r.Latency.Max))
	}
	if len(r.Failures) > 0 {
		b.WriteString("failures:\n")
		reasons := make([]string, 0, len(r.Failures))
		for k := range r.Failures {
			reasons = append(reasons, k)
		}
		// Most frequent first, then by name.
		sort.Slice(reasons, func(i, j int) bool {
			a, c := r.Failures[reasons[i]], r.Failures[reasons[j]]
			return a > c || (a == c && reasons[i] < reasons[j])
		})
		for _, k := range reasons {
			fmt.Fprintf(&b, "  %6d  %s\n", r.Failures[k], k)
		}
	}
	perTunnel := time.Duration(0)
	if r.Attempted > 0 {
		perTunnel = r.CPU / time.Duration(r.Attempted)
	}
	fmt.Fprintf(&b, "generator cpu: %.2f s (%d µs per tunnel)\n", r.CPU.Seconds(), perTunnel.Microseconds())
	if r.SendErrors > 0 {
		fmt.Fprintf(&b, "send errors: %d\n", r.SendErrors)
	}
	if r.Soak != nil {
		r.Soak.format(&b)
	}
	if r.Flood != nil {
		r.Flood.format(&b)
	}
	fmt.Fprintf(&b, "RESULT attempted=%d established=%d failed=%d elapsed_s=%.3f rate=%.1f p50_ms=%s p90_ms=%s p99_ms=%s gen_cpu_s=%.2f\n",
		r.Attempted, r.Established, r.Failed(), r.Elapsed.Seconds(), r.Rate(),
		ms(r.Latency.P50), ms(r.Latency.P90), ms(r.Latency.P99), r.CPU.Seconds())
	io.WriteString(w, b.String())
}
