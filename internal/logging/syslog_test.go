package logging

import (
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSyslogSeverity reads what a syslog daemon receives: each record's
// priority (facility daemon = 3, RFC 5424 §6.2.1) carries the severity of
// its level, not notice for every line, and the text names the level.
func TestSyslogSeverity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	daemon, authpriv, err := SyslogDial("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	h := New(Outputs{Daemon: daemon, Authpriv: authpriv},
		Config{Daemon: Facility{Default: Level4}, Authpriv: Facility{Default: Disabled}})
	log := slog.New(h).With("subsystem", "ike")
	for _, c := range []struct {
		level slog.Level
		pri   string
		name  string
	}{
		{slog.LevelError, "<27>", "level=LOG0-ERROR"},
		{slog.LevelWarn, "<28>", "level=LOG0-WARNING"},
		{Level0, "<29>", "level=LOG0"},
		{Level1, "<30>", "level=LOG1"},
		{Level2, "<31>", "level=LOG2"},
		{Level4, "<31>", "level=LOG4"},
	} {
		log.Log(t.Context(), c.level, "a record")
		buf := make([]byte, 4096)
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("level %v: nothing received: %v", c.level, err)
		}
		got := string(buf[:n])
		if !strings.HasPrefix(got, c.pri) || !strings.Contains(got, c.name+" ") || !strings.Contains(got, "subsystem=ike") {
			t.Errorf("level %v: syslog received %q, want priority %s and %s", c.level, got, c.pri, c.name)
		}
	}
}
