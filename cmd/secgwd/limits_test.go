package main

import (
	"flag"
	"testing"
	"time"

	"secgw/internal/daemon"
	"secgw/internal/netconf/transport"
)

// TestLimitFlags checks that the limit flags reach daemon.Config and that
// values that would refuse everything are rejected.
func TestLimitFlags(t *testing.T) {
	fs := flag.NewFlagSet("secgwd", flag.ContinueOnError)
	lim := netconfFlags(fs)
	if err := fs.Parse([]string{"-max-sessions", "-1", "-max-sessions-per-user", "4", "-idle-timeout", "5m",
		"-max-buffered", "1048576", "-max-unauth-per-source", "3", "-auth-free-failures", "2", "-auth-concurrency", "1"}); err != nil {
		t.Fatal(err)
	}
	var cfg daemon.Config
	if err := lim.apply(&cfg); err != nil {
		t.Fatal(err)
	}
	want := transport.Limits{MaxSessionsPerUser: 4, MaxBuffered: 1 << 20, MaxDepth: transport.DefaultMaxDepth,
		MaxElements: transport.DefaultMaxElements, MaxUnauthenticated: transport.DefaultMaxUnauthenticated,
		MaxUnauthenticatedPerSource: 3, BusyAuthTimeout: transport.DefaultBusyAuthTimeout, AuthFreeFailures: 2,
		AuthFailureDelay: transport.DefaultAuthFailureDelay, AuthMaxDelay: transport.DefaultAuthMaxDelay,
		MaxConcurrentAuth: 1, AuthQueueTimeout: transport.DefaultAuthQueueTimeout}
	if cfg.NetconfLimits != want || cfg.MaxSessions != -1 || cfg.IdleTimeout != 5*time.Minute ||
		cfg.MaxMessageSize != transport.DefaultMaxMessageSize {
		t.Fatalf("config %+v\nwant limits %+v", cfg, want)
	}
	for _, args := range [][]string{
		{"-max-sessions", "0"},
		{"-max-buffered", "0"},
		{"-max-xml-depth", "0"},
		{"-auth-concurrency", "0"},
		{"-busy-auth-timeout", "-1s"},
		{"-snapshot-bytes", "0"},
	} {
		if code := run(append([]string{"-dir", t.TempDir()}, args...)); code != 2 {
			t.Errorf("run %q = %d, want 2", args, code)
		}
	}
}
