package logging

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"sync"
)

// Syslog returns the handlers of the daemon and authpriv facilities, tag
// secgwd, each record sent with the syslog severity of its level
// (Severity). Without a syslog daemon it returns nil handlers and the
// error.
func Syslog() (daemon, authpriv slog.Handler, err error) {
	return SyslogDial("", "")
}

// SyslogDial is Syslog over the given network and address (log/syslog's
// Dial; "", "" is the local syslog daemon), so that a test can read what
// a syslog daemon receives.
func SyslogDial(network, addr string) (daemon, authpriv slog.Handler, err error) {
	open := func(f syslog.Priority) (slog.Handler, error) {
		w, err := syslog.Dial(network, addr, syslog.LOG_NOTICE|f, "secgwd")
		if err != nil {
			return nil, err
		}
		return newSyslogHandler(w), nil
	}
	if daemon, err = open(syslog.LOG_DAEMON); err != nil {
		return nil, nil, fmt.Errorf("logging: syslog: %w", err)
	}
	if authpriv, err = open(syslog.LOG_AUTHPRIV); err != nil {
		return nil, nil, fmt.Errorf("logging: syslog: %w", err)
	}
	return daemon, authpriv, nil
}

// Severity is the syslog severity (RFC 5424 §6.2.1) of a record's level:
// errors err, warnings warning, level 0 (SA up and down, refusals) notice,
// level 1 info, levels 2 to 4 debug. A syslog daemon's filters then see
// how grave a line is, rather than notice for every line.
func Severity(l slog.Level) syslog.Priority {
	switch {
	case l >= slog.LevelError:
		return syslog.LOG_ERR
	case l >= slog.LevelWarn:
		return syslog.LOG_WARNING
	case l >= Level0:
		return syslog.LOG_NOTICE
	case l >= Level1:
		return syslog.LOG_INFO
	}
	return syslog.LOG_DEBUG
}

// syslogHandler formats a record as TextHandler does and writes it with
// the severity of its level. Handlers derived by WithAttrs/WithGroup
// share the writer and the buffer, under mu.
type syslogHandler struct {
	w   *syslog.Writer
	mu  *sync.Mutex
	buf *bytes.Buffer
	h   slog.Handler // the text handler over buf, with attrs and groups
}

func newSyslogHandler(w *syslog.Writer) *syslogHandler {
	buf := &bytes.Buffer{}
	return &syslogHandler{w: w, mu: &sync.Mutex{}, buf: buf, h: TextHandler(buf)}
}

func (s *syslogHandler) Enabled(context.Context, slog.Level) bool { return true }

func (s *syslogHandler) Handle(ctx context.Context, r slog.Record) error {
	s.mu.Lock()
	s.buf.Reset()
	err := s.h.Handle(ctx, r)
	line := s.buf.String()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	switch Severity(r.Level) {
	case syslog.LOG_ERR:
		return s.w.Err(line)
	case syslog.LOG_WARNING:
		return s.w.Warning(line)
	case syslog.LOG_NOTICE:
		return s.w.Notice(line)
	case syslog.LOG_INFO:
		return s.w.Info(line)
	}
	return s.w.Debug(line)
}

func (s *syslogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *s
	n.h = s.h.WithAttrs(as)
	return &n
}

func (s *syslogHandler) WithGroup(name string) slog.Handler {
	n := *s
	n.h = s.h.WithGroup(name)
	return &n
}

// TextHandler writes records as text lines, every level (the Handler
// above it filters).
func TextHandler(w io.Writer) slog.Handler {
	return slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.Level(-100), ReplaceAttr: levelName})
}

// levelName prints the vsr level (LOG0..LOG4) instead of slog's names;
// warnings and errors, which are level 0 records too, say so
// (LOG0-WARNING, LOG0-ERROR) rather than pass for ordinary level 0 lines.
func levelName(groups []string, a slog.Attr) slog.Attr {
	if a.Key != slog.LevelKey || len(groups) > 0 {
		return a
	}
	l := a.Value.Any().(slog.Level)
	switch {
	case l >= slog.LevelError:
		return slog.String(slog.LevelKey, "LOG0-ERROR")
	case l >= slog.LevelWarn:
		return slog.String(slog.LevelKey, "LOG0-WARNING")
	}
	n := 0
	for i, x := range []slog.Level{Level0, Level1, Level2, Level3, Level4} {
		n = i
		if l >= x {
			break
		}
	}
	return slog.String(slog.LevelKey, fmt.Sprintf("LOG%d", n))
}
