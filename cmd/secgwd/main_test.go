package main

import (
	"log/slog"
	"testing"

	"secgw/internal/daemon"
	"secgw/internal/logging"
)

// TestParseLevel maps the reference guide's levels 0-4 and slog's names.
func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{
		"0": logging.Level0, "1": logging.Level1, "2": logging.Level2, "3": logging.Level3, "4": logging.Level4,
		"debug": slog.LevelDebug, "INFO": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError, "info+2": slog.LevelInfo + 2,
	} {
		got, err := parseLevel(in)
		if err != nil || got != want {
			t.Errorf("parseLevel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"loud", "5", "-1"} {
		if _, err := parseLevel(bad); err == nil {
			t.Errorf("parseLevel accepts %s", bad)
		}
	}
}

// TestRunRejectsBadFlags checks the exit status 2 of a bad command line,
// before anything starts.
func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-log-level", "loud"},
		{"-snapshot-every", "-1"},
		{"-no-such-flag"},
		{"extra-argument"},
		{"-dataplane", "magic"},
		{"-memory-limit", "lots"},
	} {
		if code := run(append([]string{"-dir", t.TempDir()}, args...)); code != 2 {
			t.Errorf("run %q = %d, want 2", args, code)
		}
	}
}

// TestParseMemoryLimit reads auto, off and sizes, and refuses the rest.
func TestParseMemoryLimit(t *testing.T) {
	for in, want := range map[string]int64{
		"auto": daemon.MemoryLimitAuto, "off": daemon.MemoryLimitOff,
		"1000": 1000, "300MiB": 300 << 20, "2GiB": 2 << 30, "64KiB": 64 << 10,
	} {
		if got, err := parseMemoryLimit(in); err != nil || got != want {
			t.Errorf("parseMemoryLimit(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "-1", "1MB", "MiB", "9999999999GiB"} {
		if _, err := parseMemoryLimit(bad); err == nil {
			t.Errorf("parseMemoryLimit(%q) accepted", bad)
		}
	}
}
