package vpnmon

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// recorder is the Prober and Hooks of the tests: it writes what the
// monitor does as lines, and answers the echoes it is told to.
type recorder struct {
	log     []string
	answer  bool
	m       *Monitor
	inbound time.Time
}

func (r *recorder) Echo(src, dst netip.Addr, dev string, id, seq uint16) error {
	if dev != "" {
		r.log = append(r.log, fmt.Sprintf("echo %s>%s dev %s id %d seq %d", src, dst, dev, id, seq))
	} else {
		r.log = append(r.log, fmt.Sprintf("echo %s>%s id %d seq %d", src, dst, id, seq))
	}
	if r.answer {
		defer r.m.Reply(id, seq)
	}
	return nil
}

func newRecorder() (*recorder, *Monitor) {
	r := &recorder{}
	r.m = New(r, Hooks{
		LastInbound: func(Key) time.Time { return r.inbound },
		Down:        func(k Key, s Status) { r.log = append(r.log, fmt.Sprintf("down %d after %d", k, s.Failures)) },
		Up:          func(k Key) { r.log = append(r.log, fmt.Sprintf("up %d", k)) },
	})
	return r, r.m
}

var (
	src = netip.MustParseAddr("10.1.0.1")
	dst = netip.MustParseAddr("10.2.0.1")
	t0  = time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
)

// TestMonitorStates is the state machine on a fake clock: an echo every
// interval; answered, the child SA is up; threshold unanswered in a row
// take it down once (the action's hook), and a later answer brings it
// up again. Ticks inside an interval do nothing.
func TestMonitorStates(t *testing.T) {
	r, m := newRecorder()
	m.Set(7, Config{Src: src, Dst: dst, Interval: 10 * time.Second, Threshold: 3}, t0)
	if s, _ := m.Status(7); s.State != Verifying {
		t.Fatalf("state %v before any echo, want verifying", s.State)
	}
	r.answer = true
	m.Tick(t0)                      // echo 1, answered: up
	m.Tick(t0.Add(5 * time.Second)) // inside the interval: nothing
	r.answer = false                // the path breaks
	for i := 1; i <= 4; i++ {       // echoes 2..5 unanswered
		m.Tick(t0.Add(time.Duration(i) * 10 * time.Second))
	}
	r.answer = true
	m.Tick(t0.Add(50 * time.Second)) // echo 6 answered: up again
	// The fourth unanswered echo (seq 5) is sent after the down: the
	// monitor keeps probing a child SA marked down.
	want := []string{
		"echo 10.1.0.1>10.2.0.1 id 1 seq 1", "up 7",
		"echo 10.1.0.1>10.2.0.1 id 1 seq 2",
		"echo 10.1.0.1>10.2.0.1 id 1 seq 3",
		"echo 10.1.0.1>10.2.0.1 id 1 seq 4",
		"down 7 after 3", "echo 10.1.0.1>10.2.0.1 id 1 seq 5",
		"echo 10.1.0.1>10.2.0.1 id 1 seq 6", "up 7",
	}
	if got := strings.Join(r.log, "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if s, _ := m.Status(7); s.State != Up || s.Sent != 6 || s.Answered != 2 || s.Failures != 0 {
		t.Fatalf("status %+v", s)
	}
}

// TestMonitorOptimized: with optimized, an interval in which the child
// SA received traffic sends no echo; an idle one does.
func TestMonitorOptimized(t *testing.T) {
	r, m := newRecorder()
	m.Set(1, Config{Src: src, Dst: dst, Interval: 10 * time.Second, Threshold: 2, Optimized: true}, t0)
	r.answer = true
	m.Tick(t0) // first echo: nothing proved the path yet
	r.inbound = t0.Add(3 * time.Second)
	m.Tick(t0.Add(10 * time.Second)) // traffic came in: no echo
	m.Tick(t0.Add(20 * time.Second)) // idle since: echo
	want := "echo 10.1.0.1>10.2.0.1 id 1 seq 1\nup 1\necho 10.1.0.1>10.2.0.1 id 1 seq 2"
	if got := strings.Join(r.log, "\n"); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestMonitorRepliesMatched: a reply with another identifier, an old
// sequence number or after Remove changes nothing; two child SAs get
// distinct identifiers.
func TestMonitorRepliesMatched(t *testing.T) {
	r, m := newRecorder()
	m.Set(1, Config{Src: src, Dst: dst, Interval: time.Second, Threshold: 1}, t0)
	m.Set(2, Config{Src: src, Dst: dst, Interval: time.Second, Threshold: 1}, t0)
	m.Tick(t0)
	m.Reply(3, 1) // nobody's identifier
	m.Reply(1, 9) // not the outstanding sequence number
	if s, _ := m.Status(1); s.State != Verifying {
		t.Fatalf("state %v after foreign replies", s.State)
	}
	m.Reply(2, 1)
	if s, _ := m.Status(2); s.State != Up {
		t.Fatalf("child SA 2: %v", s.State)
	}
	m.Remove(1)
	m.Reply(1, 1)
	if _, ok := m.Status(1); ok || len(m.Keys()) != 1 {
		t.Fatalf("removed child SA still monitored: %v", m.Keys())
	}
	m.Tick(t0.Add(time.Second)) // child SA 2's echo 1 was answered: no failure
	if got := strings.Join(r.log, "\n"); !strings.HasSuffix(got, "echo 10.1.0.1>10.2.0.1 id 2 seq 2") || strings.Contains(got, "down") {
		t.Fatalf("log:\n%s", got)
	}
}

// TestMonitorVerifyIgnoresTraffic: with Verify (verify-path) and
// optimized, inbound traffic does not verify the path: only an answered
// echo does, and the echoes leave by Dev. Once up, optimized counts
// traffic as usual.
func TestMonitorVerifyIgnoresTraffic(t *testing.T) {
	r, m := newRecorder()
	m.Set(1, Config{Src: src, Dst: dst, Dev: "tun9", Interval: 10 * time.Second, Threshold: 5, Optimized: true, Verify: true}, t0)
	m.Tick(t0) // echo 1, unanswered
	r.inbound = t0.Add(3 * time.Second)
	m.Tick(t0.Add(10 * time.Second)) // traffic came in, but unverified: echo 2
	if s, _ := m.Status(1); s.State != Verifying || s.Failures != 1 {
		t.Fatalf("status %+v after traffic while verifying, want verifying with 1 failure", s)
	}
	r.answer = true
	m.Tick(t0.Add(20 * time.Second)) // echo 3 answered: up
	r.inbound = t0.Add(25 * time.Second)
	m.Tick(t0.Add(30 * time.Second)) // up, traffic came in: no echo
	want := "echo 10.1.0.1>10.2.0.1 dev tun9 id 1 seq 1\necho 10.1.0.1>10.2.0.1 dev tun9 id 1 seq 2\n" +
		"echo 10.1.0.1>10.2.0.1 dev tun9 id 1 seq 3\nup 1"
	if got := strings.Join(r.log, "\n"); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}
