package logging

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func lines(b *bytes.Buffer) []string {
	s := strings.TrimSpace(b.String())
	b.Reset()
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestRouting: each facility takes what its per-subsystem levels allow,
// the record's own subsystem wins over the logger's, keys (level 4) only
// pass a subsystem at level 4, and Set applies at once to derived loggers.
func TestRouting(t *testing.T) {
	var d, a bytes.Buffer
	h := New(Outputs{Daemon: TextHandler(&d), Authpriv: TextHandler(&a)}, DefaultConfig())
	ike := slog.New(h).With("subsystem", "ike")

	ike.Info("IKE SA established")             // level 0: daemon only
	ike.Debug("sending request")               // level 2: nobody
	ike.Log(nil, Level4, "keys", "sk", "0011") // level 4: nobody
	if got := lines(&d); len(got) != 1 || !strings.Contains(got[0], "level=LOG0") || !strings.Contains(got[0], "IKE SA established") {
		t.Errorf("daemon got %q", got)
	}
	if got := lines(&a); got != nil {
		t.Errorf("authpriv (disabled) got %q", got)
	}

	cfg := DefaultConfig()
	cfg.Daemon.Subsystems = map[string]slog.Level{"ike": Level2}
	cfg.Authpriv.Subsystems = map[string]slog.Level{"child": Level4}
	h.Set(cfg)
	ike.Debug("sending request")
	ike.Info("child SA installed", "subsystem", "child")
	ike.Log(nil, Level4, "child SA keys", "subsystem", "child", "encr", "00aa")
	ike.Log(nil, Level4, "IKE SA keys", "sk_ei", "0011")
	gotD, gotA := lines(&d), lines(&a)
	if len(gotD) != 2 || !strings.Contains(gotD[0], "sending request") || !strings.Contains(gotD[1], "child SA installed") {
		t.Errorf("daemon got %q", gotD)
	}
	if len(gotA) != 2 || !strings.Contains(gotA[1], "child SA keys") || !strings.Contains(gotA[1], "level=LOG4") {
		t.Errorf("authpriv got %q", gotA)
	}
	for _, l := range append(gotD, gotA...) {
		if strings.Contains(l, "sk_ei") {
			t.Errorf("IKE keys logged with ike at level 2: %s", l)
		}
	}
}

// TestStderr: the foreground log takes what its own level allows,
// independently of the facilities.
func TestStderr(t *testing.T) {
	var e, d bytes.Buffer
	h := New(Outputs{Daemon: TextHandler(&d), Stderr: TextHandler(&e), StderrLevel: Level2}, DefaultConfig())
	l := slog.New(h).With("subsystem", "ike")
	l.Debug("sending request")
	l.Log(nil, Level4, "keys")
	if got := lines(&e); len(got) != 1 || !strings.Contains(got[0], "sending request") {
		t.Errorf("stderr got %q", got)
	}
	if got := lines(&d); got != nil {
		t.Errorf("daemon facility got %q", got)
	}
}

// TestEnabledOnlyConnected: a facility without an output (secgwd
// -no-syslog) enables nothing, so that records only it would take are
// not built; stderr's level still does.
func TestEnabledOnlyConnected(t *testing.T) {
	var e bytes.Buffer
	h := New(Outputs{Stderr: TextHandler(&e), StderrLevel: slog.LevelWarn}, DefaultConfig())
	log := slog.New(h).With("subsystem", "ike")
	if log.Enabled(context.Background(), slog.LevelInfo) {
		t.Error("info enabled with syslog not connected and stderr at warn")
	}
	if !log.Enabled(context.Background(), slog.LevelWarn) {
		t.Error("warn not enabled with stderr at warn")
	}
	var d bytes.Buffer
	h = New(Outputs{Daemon: TextHandler(&d), Stderr: TextHandler(&e), StderrLevel: slog.LevelWarn}, DefaultConfig())
	if !slog.New(h).With("subsystem", "ike").Enabled(context.Background(), slog.LevelInfo) {
		t.Error("info not enabled with the daemon facility at level 0")
	}
}
