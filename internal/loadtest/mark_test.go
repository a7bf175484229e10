package loadtest

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the progress goroutine and the
// test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLoopbackMark holds 8 SAs with no periodic liveness check, then
// marks a failover: every SA gets a liveness check at once, the engine
// answers each, and the hold's progress lines count them all as
// answered since the mark.
func TestLoopbackMark(t *testing.T) {
	_, remote := startLoopback(t, nil)
	o := loopbackOptions(remote, 8)
	o.Hold = time.Minute
	var progress syncBuffer
	o.Progress, o.ProgressEvery = &progress, 20*time.Millisecond
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reps := make(chan *Report, 1)
	go func() { reps <- g.Run(ctx) }()
	waitFor(t, "the hold", func() bool { return strings.Contains(progress.String(), "hold: 8 SAs up") })
	if a, up := g.answeredSinceMark(); a != 0 || up != 8 {
		t.Fatalf("before the mark: %d answered of %d up", a, up)
	}
	g.Mark()
	waitFor(t, "8 SAs answered since the mark", func() bool {
		return strings.Contains(progress.String(), "up=8 answered-since-mark=8 dead=0 mark=true")
	})
	cancel()
	if s := (<-reps).Soak; s == nil || s.ProbesSent != 8 || s.ProbesAnswered != 8 || s.ProbesDead != 0 {
		t.Errorf("soak: %+v", s)
	}
}
