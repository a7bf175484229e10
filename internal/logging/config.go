package logging

import (
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"reflect"
	"strings"

	"secgw/generated"
	"secgw/internal/datastore"
)

// FromModel reads vrf main's ike logging container; unset leaves take the
// model's defaults (daemon default 0, authpriv default disable).
func FromModel(l *generated.SecgwVrf_Vrf_Ike_Logging) Config {
	c := DefaultConfig()
	if l == nil {
		return c
	}
	if l.Daemon != nil {
		readFacility(&c.Daemon, reflect.ValueOf(l.Daemon).Elem())
	}
	if l.Authpriv != nil {
		readFacility(&c.Authpriv, reflect.ValueOf(l.Authpriv).Elem())
	}
	return c
}

// readFacility reads the log-subsystems grouping: each leaf is a union of
// uint8 0..4 and the enum disable.
func readFacility(f *Facility, v reflect.Value) {
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("path"), "/")
		fv := v.Field(i)
		if fv.IsNil() {
			continue
		}
		lvl := Disabled
		if u, ok := fv.Interface().(generated.UnionUint8); ok {
			lvl = FromLevel(int(u))
		}
		if name == "default" {
			f.Default = lvl
			continue
		}
		if f.Subsystems == nil {
			f.Subsystems = map[string]slog.Level{}
		}
		f.Subsystems[name] = lvl
	}
}

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

// Subscriber applies commits of the logging container live.
type Subscriber struct {
	H   *Handler
	old map[uint64]Config
}

// Name implements datastore.Subscriber.
func (s *Subscriber) Name() string { return "logging" }

// Prepare implements datastore.Subscriber.
func (s *Subscriber) Prepare(tx *datastore.Tx) error { return nil }

// Apply implements datastore.Subscriber.
func (s *Subscriber) Apply(tx *datastore.Tx) error {
	if s.old == nil {
		s.old = map[uint64]Config{}
	}
	clear(s.old)
	s.old[tx.ID] = s.H.Config()
	s.H.Set(FromModel(loggingOf(tx.New)))
	return nil
}

// Abort implements datastore.Subscriber.
func (s *Subscriber) Abort(tx *datastore.Tx) {
	if c, ok := s.old[tx.ID]; ok {
		s.H.Set(c)
	}
}

func loggingOf(d *generated.Device) *generated.SecgwVrf_Vrf_Ike_Logging {
	if d == nil || d.Vrf["main"] == nil || d.Vrf["main"].Ike == nil {
		return nil
	}
	return d.Vrf["main"].Ike.Logging
}
