package logging

import (
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
)

// Syslog returns the handlers of the daemon and authpriv facilities,
// severity notice, tag secgwd. Without a syslog daemon it returns nil
// handlers and the error.
func Syslog() (daemon, authpriv slog.Handler, err error) {
	open := func(f syslog.Priority) (slog.Handler, error) {
		w, err := syslog.New(syslog.LOG_NOTICE|f, "secgwd")
		if err != nil {
			return nil, err
		}
		return TextHandler(w), nil
	}
	if daemon, err = open(syslog.LOG_DAEMON); err != nil {
		return nil, nil, fmt.Errorf("logging: syslog: %w", err)
	}
	if authpriv, err = open(syslog.LOG_AUTHPRIV); err != nil {
		return nil, nil, fmt.Errorf("logging: syslog: %w", err)
	}
	return daemon, authpriv, nil
}

// TextHandler writes records as text lines, every level (the Handler
// above it filters).
func TextHandler(w io.Writer) slog.Handler {
	return slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.Level(-100), ReplaceAttr: levelName})
}

// levelName prints the vsr level (LOG0..LOG4) instead of slog's names.
func levelName(groups []string, a slog.Attr) slog.Attr {
	if a.Key != slog.LevelKey || len(groups) > 0 {
		return a
	}
	l := a.Value.Any().(slog.Level)
	n := 0
	for i, x := range []slog.Level{Level0, Level1, Level2, Level3, Level4} {
		if l >= x {
			n = i
			break
		}
		n = i
	}
	return slog.String(slog.LevelKey, fmt.Sprintf("LOG%d", n))
}
