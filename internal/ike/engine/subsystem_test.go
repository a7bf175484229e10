package engine_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"secgw/internal/ike/engine"
)

// subsystemCounter is an slog.Handler that counts, for each record, the
// subsystem attributes it carries: the logger's (WithAttrs) and the
// record's own.
type subsystemCounter struct {
	t *testing.T
	// inherited is the number of subsystem attributes of the logger, sub
	// the last one's value.
	inherited int
	sub       string
	mu        *sync.Mutex
	seen      map[string]int // records by subsystem
}

func (h *subsystemCounter) Enabled(context.Context, slog.Level) bool { return true }

func (h *subsystemCounter) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	for _, a := range as {
		if a.Key == "subsystem" {
			n.inherited++
			n.sub = a.Value.String()
		}
	}
	return &n
}

func (h *subsystemCounter) WithGroup(string) slog.Handler { return h }

func (h *subsystemCounter) Handle(_ context.Context, r slog.Record) error {
	n, sub := h.inherited, h.sub
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "subsystem" {
			n++
			sub = a.Value.String()
		}
		return true
	})
	if n != 1 {
		h.t.Errorf("record %q carries the subsystem attribute %d times", r.Message, n)
	}
	h.mu.Lock()
	h.seen[sub]++
	h.mu.Unlock()
	return nil
}

// TestSubsystemOnce: every record the engine logs, of the IKE SA (ike)
// and of its child SAs (child), keys included, carries its subsystem
// attribute exactly once.
func TestSubsystemOnce(t *testing.T) {
	h := &subsystemCounter{t: t, mu: new(sync.Mutex), seen: map[string]int{}}
	opt := func(o *engine.Options) {
		o.Logger = slog.New(h)
		o.LogKeys = true
	}
	a, b := pairOpts(t, nil, nil, opt, opt)
	establish(t, a, b)
	checkChildPair(t, a, b)
	a.e.RekeyChild(onlyChildUID(t, a))
	deliver(t, a, b) // CREATE_CHILD_SA request: SK{N(REKEY_SA), SA, Ni, TSi, TSr}
	deliver(t, b, a) // CREATE_CHILD_SA response: SK{SA, Nr, TSi, TSr}
	deliver(t, a, b) // INFORMATIONAL request: SK{D(ESP)}, the old child SA
	deliver(t, b, a) // INFORMATIONAL response: SK{D(ESP)}
	checkChildPair(t, a, b)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen["ike"] == 0 || h.seen["child"] == 0 {
		t.Errorf("records by subsystem %v: want ike and child", h.seen)
	}
}
