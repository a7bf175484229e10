package engine

import (
	"context"
	"encoding/hex"
	"log/slog"
)

// saLogger is the logger of one IKE SA: one of the engine's loggers (ike
// or child, Engine.log or Engine.childLog) with the SA's vpn, SPIs and
// peer added. It is built when a message is logged, not kept per SA (a
// *slog.Logger with its attributes costs ~300 octets, for each of 100k
// SAs), and costs nothing for a level that is disabled.
type saLogger struct {
	sa  *ikeSA
	log *slog.Logger
}

// Debug, Info and Warn log at their level with the SA's attributes.
func (l saLogger) Debug(msg string, args ...any) {
	l.Log(context.Background(), slog.LevelDebug, msg, args...)
}

// Info logs at level info.
func (l saLogger) Info(msg string, args ...any) {
	l.Log(context.Background(), slog.LevelInfo, msg, args...)
}

// Warn logs at level warn.
func (l saLogger) Warn(msg string, args ...any) {
	l.Log(context.Background(), slog.LevelWarn, msg, args...)
}

// Log logs at any level (LevelKeys for key material).
func (l saLogger) Log(ctx context.Context, level slog.Level, msg string, args ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	if !l.log.Enabled(ctx, level) {
		return
	}
	l.log.Log(ctx, level, msg, l.attrs(args)...)
}

// Limited logs at level, rate-limited by message (Engine.limit): for the
// records a flood repeats once per datagram.
func (l saLogger) Limited(level slog.Level, msg string, args ...any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.sa.w.e.limit.Log(nil, l.log, level, msg, l.attrs(args)...)
}

// attrs returns the SA's attributes followed by args.
func (l saLogger) attrs(args []any) []any {
	sa := l.sa
	name := ""
	if sa.vpn != nil {
		name = sa.vpn.Name
	}
	attrs := make([]any, 0, 8+len(args))
	attrs = append(attrs, "vpn", name, "spii", spiString(sa.spii), "remote", sa.remote)
	if sa.spir != 0 {
		attrs = append(attrs, "spir", spiString(sa.spir))
	}
	return append(attrs, args...)
}

// debug logs at debug level on the engine's logger, building the
// attributes only when the level is enabled.
func (e *Engine) debug(msg string, args ...any) {
	if e.log.Enabled(context.Background(), slog.LevelDebug) {
		e.log.Debug(msg, args...)
	}
}

// debugLimited is debug rate-limited by message (Engine.limit), for the
// records of the paths a flood of datagrams takes.
func (e *Engine) debugLimited(msg string, args ...any) {
	if e.log.Enabled(context.Background(), slog.LevelDebug) {
		e.limit.Log(nil, e.log, slog.LevelDebug, msg, args...)
	}
}

// Keys logs key material (the values of args that are []byte, in hex)
// at LevelKeys, and only when Options.LogKeys is set: level 4 of the
// logging configuration alone logs no key (the model has no with-keys
// switch for logs; secgwd -log-keys is it).
func (l saLogger) Keys(msg string, args ...any) {
	if !l.log.Enabled(context.Background(), LevelKeys) {
		return
	}
	if _, withKeys := l.sa.saDebug(); !l.sa.w.e.o.LogKeys && !withKeys {
		// debug ike ... with-keys opens the key records of the SAs
		// it selects (debug.go), as -log-keys does for all.
		return
	}
	out := make([]any, len(args))
	for i, a := range args {
		if b, ok := a.([]byte); ok {
			a = hex.EncodeToString(b)
		}
		out[i] = a
	}
	l.Log(nil, LevelKeys, msg, out...)
}
