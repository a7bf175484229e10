// Package loglimit rate-limits repetitive log records (see Limiter). It
// depends on log/slog only, so that the packet paths (the IKE engine, the
// userspace dataplane) can use it without the logging configuration.
package loglimit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Rate limiting of repetitive records. Some records are written once per
// received datagram (a send to a spoofed address that has no route back,
// an ESP packet for an unknown SPI): under a flood, one line per packet
// would bury everything else in the log and cost more than the packet
// itself. A Limiter lets the first Burst records of a message through in
// each Interval and counts the others; when the interval that suppressed
// some ends, one summary record says how many:
//
//	msg="send failed" err="...: network is unreachable"
//	... (Burst lines)
//	msg="send failed ... 9995 more suppressed" suppressed=9995 interval=10s
//
// The summary is written by a timer at the end of the interval (or by the
// next record of the message, whichever comes first), so that a flood
// that stops is still accounted for.

// Default rate limit: 5 records of a message per 10 s.
const (
	DefaultInterval = 10 * time.Second
	DefaultBurst    = 5
)

// Limiter rate-limits records by message. It is safe for concurrent use.
// Messages must come from a small fixed set (the call sites' constant
// strings, never a formatted string): the Limiter keeps a few words per
// message for its life.
type Limiter struct {
	interval time.Duration
	burst    int

	mu   sync.Mutex
	msgs map[string]*limitState
}

// limitState is the current interval of one message.
type limitState struct {
	start      time.Time
	n          int // records let through in the interval
	suppressed int
	armed      bool // a timer writes the summary at the end of the interval
	// last is where the summary goes: the logger and level of the last
	// suppressed record.
	last  *slog.Logger
	level slog.Level
}

// NewLimiter returns a Limiter that lets burst records of each message
// through per interval; zero values take the defaults.
func NewLimiter(interval time.Duration, burst int) *Limiter {
	if interval <= 0 {
		interval = DefaultInterval
	}
	if burst <= 0 {
		burst = DefaultBurst
	}
	return &Limiter{interval: interval, burst: burst, msgs: map[string]*limitState{}}
}

// Log writes the record (msg, args) at level on l unless Burst records of
// msg were already written in the current interval; a suppressed record
// is counted for the summary. Nothing is counted for a level l does not
// log. A nil Limiter logs everything.
func (lim *Limiter) Log(ctx context.Context, l *slog.Logger, level slog.Level, msg string, args ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	if !l.Enabled(ctx, level) {
		return
	}
	if lim == nil {
		l.Log(ctx, level, msg, args...)
		return
	}
	now := time.Now()
	lim.mu.Lock()
	s := lim.msgs[msg]
	if s == nil {
		s = &limitState{start: now}
		lim.msgs[msg] = s
	}
	var summary func()
	if now.Sub(s.start) >= lim.interval {
		// A new interval; the summary of the last one first, if its
		// timer has not written it yet.
		summary = lim.takeSummary(msg, s)
		s.start, s.n = now, 0
	}
	pass := s.n < lim.burst
	if pass {
		s.n++
	} else {
		s.suppressed++
		s.last, s.level = l, level
		if !s.armed {
			s.armed = true
			start := s.start
			time.AfterFunc(start.Add(lim.interval).Sub(now), func() { lim.flush(msg, start) })
		}
	}
	lim.mu.Unlock()
	if summary != nil {
		summary()
	}
	if pass {
		l.Log(ctx, level, msg, args...)
	}
}

// flush writes the summary of the interval of msg that began at start,
// if it is still the current one and suppressed records; the timer of
// that interval calls it.
func (lim *Limiter) flush(msg string, start time.Time) {
	lim.mu.Lock()
	s := lim.msgs[msg]
	var summary func()
	if s != nil && s.start.Equal(start) {
		summary = lim.takeSummary(msg, s)
	}
	lim.mu.Unlock()
	if summary != nil {
		summary()
	}
}

// takeSummary resets the suppressed count of s and returns the function
// that writes its summary, or nil when nothing was suppressed; lim.mu is
// held, the function is called without it.
func (lim *Limiter) takeSummary(msg string, s *limitState) func() {
	s.armed = false
	n, l, level := s.suppressed, s.last, s.level
	s.suppressed, s.last = 0, nil
	if n == 0 {
		return nil
	}
	interval := lim.interval
	return func() {
		l.Log(context.Background(), level, fmt.Sprintf("%s ... %d more suppressed", msg, n),
			"suppressed", n, "interval", interval)
	}
}

// Suppressed returns how many records of msg wait for their summary.
func (lim *Limiter) Suppressed(msg string) int {
	lim.mu.Lock()
	defer lim.mu.Unlock()
	if s := lim.msgs[msg]; s != nil {
		return s.suppressed
	}
	return 0
}
