package main

import (
	"log/slog"
	"testing"
)

// TestParseLevel maps the reference guide's levels 0-4 and slog's names.
func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{
		"0": slog.LevelError, "1": slog.LevelWarn, "2": slog.LevelInfo, "3": slog.LevelDebug, "4": slog.LevelDebug,
		"debug": slog.LevelDebug, "INFO": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError, "info+2": slog.LevelInfo + 2,
	} {
		got, err := parseLevel(in)
		if err != nil || got != want {
			t.Errorf("parseLevel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseLevel("loud"); err == nil {
		t.Error("parseLevel accepts loud")
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
	} {
		if code := run(append([]string{"-dir", t.TempDir()}, args...)); code != 2 {
			t.Errorf("run %q = %d, want 2", args, code)
		}
	}
}
