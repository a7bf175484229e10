package soak

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"secgw/test/charontest"
	"secgw/test/secgwdtest"
)

var (
	flagSeed     = flag.Int64("soak.seed", 1, "seed of the random walk (0: from the clock; the default is fixed so that make test is repeatable, make soak takes the clock); a failure prints its seed")
	flagSteps    = flag.Int("soak.steps", 400, "steps of the walk (the short form's default); 0 with -soak.duration: until the duration")
	flagDuration = flag.Duration("soak.duration", 0, "run the walk for this long (the long form), instead of -soak.steps when set")
)

// Binaries built by TestMain.
var secgwdBin, secgwBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Geteuid() == 0 {
		sweepStale()
	}
	tmp, err := os.MkdirTemp("", "secgw-soak-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if err := secgwdtest.Build(tmp, "secgwd", "secgw"); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	secgwdBin, secgwBin = filepath.Join(tmp, "secgwd"), filepath.Join(tmp, "secgw")
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// requirePrerequisites fails the test, naming what is missing
// (charontest.RequirePrerequisites).
func requirePrerequisites(t *testing.T) {
	t.Helper()
	charontest.RequirePrerequisites(t, "soak", charontest.Ping)
}

// Bounds of the invariants.
const (
	// rpcBound: every NETCONF request is answered within it.
	rpcBound = 10 * time.Second
	// graceTime: an SA of a deleted VPN or policy may live this long.
	graceTime = 10 * time.Second
	// settleTime: what must eventually hold (start VPNs up, views agree,
	// traffic) holds within it.
	settleTime = 15 * time.Second
)
