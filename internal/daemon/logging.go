package daemon

import (
	"log/slog"
	"reflect"
	"strings"

	"secgw/generated"
	"secgw/internal/datastore"
	"secgw/internal/ikesvc"
	"secgw/internal/logging"
)

// logSubscriber applies commits of the logging container to the log
// handler live: Apply sets the committed configuration, Abort restores
// the one it replaced.
type logSubscriber struct {
	h   *logging.Handler
	old map[uint64]logging.Config
}

// Name implements datastore.Subscriber.
func (s *logSubscriber) Name() string { return "logging" }

// Prepare implements datastore.Subscriber.
func (s *logSubscriber) Prepare(tx *datastore.Tx) error { return nil }

// Apply implements datastore.Subscriber.
func (s *logSubscriber) Apply(tx *datastore.Tx) error {
	if s.old == nil {
		s.old = map[uint64]logging.Config{}
	}
	clear(s.old)
	s.old[tx.ID] = s.h.Config()
	s.h.Set(logConfig(loggingOf(tx.New)))
	return nil
}

// Abort implements datastore.Subscriber.
func (s *logSubscriber) Abort(tx *datastore.Tx) {
	if c, ok := s.old[tx.ID]; ok {
		s.h.Set(c)
	}
}

// loggingOf is the logging container of vrf main's ike, nil if unset.
func loggingOf(dev *generated.Device) *generated.SecgwVrf_Vrf_Ike_Logging {
	if dev == nil || dev.Vrf[ikesvc.VRF] == nil || dev.Vrf[ikesvc.VRF].Ike == nil {
		return nil
	}
	return dev.Vrf[ikesvc.VRF].Ike.Logging
}

// logConfig reads vrf main's ike logging container; unset leaves take the
// model's defaults (daemon default 0, authpriv default disable).
func logConfig(l *generated.SecgwVrf_Vrf_Ike_Logging) logging.Config {
	c := logging.DefaultConfig()
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
func readFacility(f *logging.Facility, v reflect.Value) {
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("path"), "/")
		fv := v.Field(i)
		if fv.IsNil() {
			continue
		}
		lvl := logging.Disabled
		if u, ok := fv.Interface().(generated.UnionUint8); ok {
			lvl = logging.FromLevel(int(u))
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
