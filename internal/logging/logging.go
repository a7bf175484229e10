// Package logging is secgw's log routing as the vsr guide defines it
// ("logging FACILITY SUBSYSTEM LEVEL"): every message carries a subsystem
// (asn1, child, config, daemon, encoding, ike, ipsec, job, kernel, manager,
// network) and a level from 0 (audit: SA up/down) to 4 (also key
// material); each syslog facility (daemon, authpriv) has a maximum level
// per subsystem, a default for the others, or disable. Syslog messages are
// sent with severity notice. When the daemon runs in the foreground its
// log also goes to stderr, at the level given on its command line.
//
// The levels map onto log/slog levels: Level0 ... Level4 below. Code logs
// with slog and a "subsystem" attribute (on the logger or the record); the
// Handler routes each record by that attribute. The configuration is a
// plain Config value that Handler.Set replaces at any time, at once for
// every logger derived from the Handler: the daemon reads the logging
// container of the YANG configuration and sets it on each commit. This
// package knows nothing of the datastore or the generated structs.
package logging

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// The vsr log levels as slog levels. Level4 is engine.LevelKeys: messages
// with keys are never emitted unless the subsystem is at level 4, and the
// engine only emits them with secgwd -log-keys (engine.Options.LogKeys).
// slog.LevelInfo and above (SA up/down, warnings, errors) are level 0.
const (
	Level0 = slog.LevelInfo      // very basic auditing (SA up/down)
	Level1 = slog.LevelInfo - 2  // generic control flow with errors
	Level2 = slog.LevelDebug     // more detailed control flow
	Level3 = slog.LevelDebug - 2 // raw data dumps in hex
	Level4 = slog.LevelDebug - 4 // sensitive material, e.g. keys
)

// Disabled is the level of a disabled subsystem: no record reaches it.
const Disabled = slog.Level(1 << 20)

// Subsystems are the log subsystems of the vsr guide.
var Subsystems = []string{"asn1", "child", "config", "daemon", "encoding", "ike", "ipsec", "job", "kernel", "manager", "network"}

// Facility is one syslog facility's configuration: the minimum slog level
// per subsystem, Default for the others.
type Facility struct {
	Default    slog.Level
	Subsystems map[string]slog.Level
}

// level returns the minimum level a record of subsystem sub needs.
func (f *Facility) level(sub string) slog.Level {
	if l, ok := f.Subsystems[sub]; ok {
		return l
	}
	return f.Default
}

// Config is the whole logging configuration.
type Config struct {
	Daemon, Authpriv Facility
}

// DefaultConfig is the model's default: daemon at level 0, authpriv
// disabled.
func DefaultConfig() Config {
	return Config{Daemon: Facility{Default: Level0}, Authpriv: Facility{Default: Disabled}}
}

// FromLevel converts a vsr level 0-4 to its slog level; a negative value
// means disable.
func FromLevel(n int) slog.Level {
	switch {
	case n < 0:
		return Disabled
	case n > 4:
		n = 4
	}
	return [...]slog.Level{Level0, Level1, Level2, Level3, Level4}[n]
}

// Outputs are where records go. Daemon and Authpriv are the syslog
// facilities (nil: not connected). Stderr, if set, receives every record
// of StderrLevel or above, whatever the configuration: it is the
// foreground log of `secgwd -log-level N`.
type Outputs struct {
	Daemon, Authpriv, Stderr slog.Handler
	StderrLevel              slog.Level
}

// Handler is the slog.Handler that routes records. Handlers derived by
// WithAttrs/WithGroup share the configuration.
type Handler struct {
	cfg *atomic.Pointer[compiled]
	out Outputs
	// sub is the subsystem set by WithAttrs, if any.
	sub string
	// derived are the outputs with the attrs and groups applied.
	derived Outputs
}

// compiled is a Config with the lowest level any output takes, so that
// Enabled can answer without looking at attributes.
type compiled struct {
	Config
	min slog.Level
}

// New returns a Handler with cfg.
func New(out Outputs, cfg Config) *Handler {
	h := &Handler{cfg: &atomic.Pointer[compiled]{}, out: out, derived: out}
	h.Set(cfg)
	return h
}

// Set replaces the configuration; it applies to every derived handler at
// once. A facility that is not connected (its output nil, as with
// secgwd -no-syslog) enables nothing: a record only it would take is
// not built at all (the per-SA records of level 0 and more on the setup
// path).
func (h *Handler) Set(cfg Config) {
	c := &compiled{Config: cfg, min: Disabled}
	if h.out.Stderr != nil {
		c.min = h.out.StderrLevel
	}
	for _, f := range []struct {
		out slog.Handler
		f   *Facility
	}{{h.out.Daemon, &c.Daemon}, {h.out.Authpriv, &c.Authpriv}} {
		if f.out == nil {
			continue
		}
		c.min = min(c.min, f.f.Default)
		for _, l := range f.f.Subsystems {
			c.min = min(c.min, l)
		}
	}
	h.cfg.Store(c)
}

// Config returns the configuration in use.
func (h *Handler) Config() Config { return h.cfg.Load().Config }

// Enabled implements slog.Handler:
// The lowest level of the outputs (stderr, and each connected facility
// over all its subsystems) answers for every subsystem: Handle routes
// the record by its subsystem.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.cfg.Load().min
}

// Handle implements slog.Handler: the record goes to each facility whose
// level for its subsystem it reaches. The subsystem is the record's own
// "subsystem" attribute if it has one, else the logger's, else "daemon".
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	sub := h.sub
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "subsystem" {
			sub = a.Value.String()
		}
		return true
	})
	if sub == "" {
		sub = "daemon"
	}
	c := h.cfg.Load()
	var err error
	if r.Level >= c.Daemon.level(sub) && h.derived.Daemon != nil {
		err = h.derived.Daemon.Handle(ctx, r.Clone())
	}
	if r.Level >= h.out.StderrLevel && h.derived.Stderr != nil {
		if e := h.derived.Stderr.Handle(ctx, r.Clone()); e != nil && err == nil {
			err = e
		}
	}
	if r.Level >= c.Authpriv.level(sub) && h.derived.Authpriv != nil {
		if e := h.derived.Authpriv.Handle(ctx, r.Clone()); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	for _, a := range as {
		if a.Key == "subsystem" {
			n.sub = a.Value.String()
		}
	}
	n.derived = mapOutputs(h.derived, func(o slog.Handler) slog.Handler { return o.WithAttrs(as) })
	return &n
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	n := *h
	n.derived = mapOutputs(h.derived, func(o slog.Handler) slog.Handler { return o.WithGroup(name) })
	return &n
}

func mapOutputs(o Outputs, f func(slog.Handler) slog.Handler) Outputs {
	m := func(h slog.Handler) slog.Handler {
		if h == nil {
			return nil
		}
		return f(h)
	}
	return Outputs{Daemon: m(o.Daemon), Authpriv: m(o.Authpriv), Stderr: m(o.Stderr), StderrLevel: o.StderrLevel}
}
