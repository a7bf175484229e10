package loglimit

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// syncBuffer is a bytes.Buffer for the writes of several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the lines written since the last call.
func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	str := strings.TrimSpace(s.b.String())
	s.b.Reset()
	if str == "" {
		return nil
	}
	return strings.Split(str, "\n")
}

// TestLimiter: 10,000 identical warnings in 5 s (a spoofed flood, one per
// packet) become the first DefaultBurst lines and, at the end of the
// interval, one summary line with the count of the others; another
// message is limited on its own; after the interval the message passes
// again. Records of a disabled level are not counted.
func TestLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out syncBuffer
		log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo})).With("subsystem", "ike")
		lim := NewLimiter(0, 0)
		var wg sync.WaitGroup
		for g := range 4 { // several workers at once
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 2500 {
					lim.Log(context.Background(), log, slog.LevelWarn, "send failed", "err", "network is unreachable", "g", g)
					lim.Log(nil, log, slog.LevelDebug, "asking for a cookie") // not logged, not counted
					if i%500 == 0 {
						time.Sleep(time.Second) // 5 s in all
					}
				}
			}()
		}
		wg.Wait()
		lim.Log(nil, log, slog.LevelInfo, "other message")
		got := out.lines()
		if len(got) != DefaultBurst+1 {
			t.Fatalf("%d lines during the flood, want %d:\n%s", len(got), DefaultBurst+1, strings.Join(got, "\n"))
		}
		for _, l := range got[:DefaultBurst] {
			if !strings.Contains(l, `msg="send failed"`) || !strings.Contains(l, "subsystem=ike") {
				t.Fatalf("line %q", l)
			}
		}
		if lim.Suppressed("asking for a cookie") != 0 {
			t.Fatal("a disabled level was counted")
		}
		time.Sleep(DefaultInterval)
		synctest.Wait()
		got = out.lines()
		want := `level=WARN msg="send failed ... 9995 more suppressed" subsystem=ike suppressed=9995 interval=10s`
		if len(got) != 1 || !strings.HasSuffix(got[0], want) {
			t.Fatalf("after the interval:\n%s\nwant a line ending in %s", strings.Join(got, "\n"), want)
		}
		lim.Log(nil, log, slog.LevelWarn, "send failed", "err", "again")
		if got := out.lines(); len(got) != 1 || !strings.Contains(got[0], "err=again") {
			t.Fatalf("the next interval: %q", got)
		}
		// Nothing more is written once the flood is over.
		time.Sleep(3 * DefaultInterval)
		synctest.Wait()
		if got := out.lines(); len(got) != 0 {
			t.Fatalf("after the flood: %q", got)
		}
	})
}

// TestLimiterSummaryBeforeNext: when the next record of a message comes at
// the very end of the interval, before the timer, the summary is written
// first, once.
func TestLimiterSummaryBeforeNext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out syncBuffer
		log := slog.New(slog.NewTextHandler(&out, nil))
		lim := NewLimiter(time.Second, 1)
		lim.Log(nil, log, slog.LevelInfo, "m", "i", 0)
		lim.Log(nil, log, slog.LevelInfo, "m", "i", 1)
		time.Sleep(time.Second) // the timer and the record are due together
		lim.Log(nil, log, slog.LevelInfo, "m", "i", 2)
		synctest.Wait()
		got := strings.Join(out.lines(), "\n")
		if strings.Count(got, "1 more suppressed") != 1 || !strings.Contains(got, "i=0") || strings.Contains(got, "i=1") || !strings.Contains(got, "i=2") {
			t.Fatalf("got:\n%s", got)
		}
	})
}
