package strongswan

import (
	"flag"
	"os"
	"runtime"
	"strconv"
	"testing"

	"secgw/test/charontest"
	"secgw/test/gwtest"
)

// charonLogLevels has charon log the IKE and child keys (ike=4, chd=4):
// the captures are decrypted with them.
const charonLogLevels = "ike = 4\nchd = 4"

// startCharon starts charon in namespace ns and waits until its vici
// socket answers (charontest.Start). t.Cleanup stops it and, if the test
// failed, logs the tail of charon's log.
func startCharon(t *testing.T, ns string) *charontest.Charon {
	t.Helper()
	return startCharonWith(t, ns, "")
}

// startCharonWith is startCharon with extra settings in the charon
// section of strongswan.conf.
func startCharonWith(t *testing.T, ns, extra string) *charontest.Charon {
	t.Helper()
	return charontest.Start(t, ns, charontest.Options{Extra: extra, LogLevels: charonLogLevels})
}

// tail returns the last n lines of s.
func tail(s string, n int) string { return gwtest.Tail(s, n) }

// TestMain removes what dead earlier runs left behind before running the
// tests.
func TestMain(m *testing.M) {
	if os.Geteuid() == 0 {
		sweepStale()
	}
	// The tests mostly wait for charon and for protocol timers, not for
	// a CPU: unless -test.parallel says otherwise, run more of them at
	// once than GOMAXPROCS (the default), which keeps the package under
	// a minute on two cores.
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		flag.Set("test.parallel", strconv.Itoa(max(runtime.GOMAXPROCS(0), testParallel)))
	}
	os.Exit(m.Run())
}

// testParallel is the default number of tests run at once.
const testParallel = 6

// requirePrerequisites fails the test, naming the package, when something
// the interop tests need is missing (charontest.RequirePrerequisites).
func requirePrerequisites(t *testing.T) {
	t.Helper()
	charontest.RequirePrerequisites(t, "strongswan")
}
