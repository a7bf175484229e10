package gateway

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"secgw/internal/poll"
	"secgw/test/charontest"
	"secgw/test/gwtest"
)

// Binaries built by TestMain.
var secgwdBin, secgwBin string

func TestMain(m *testing.M) {
	if os.Geteuid() == 0 {
		sweepStale()
	}
	// The tests mostly wait on daemons and the network, not on a CPU:
	// run more at once than GOMAXPROCS unless -test.parallel says so.
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		flag.Set("test.parallel", strconv.Itoa(max(runtime.GOMAXPROCS(0), testParallel)))
	}
	tmp, err := os.MkdirTemp("", "secgw-gateway-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
	secgwdBin, secgwBin = filepath.Join(tmp, "secgwd"), filepath.Join(tmp, "secgw")
	build := exec.Command("go", "build", "-o", tmp+"/", "./cmd/secgwd", "./cmd/secgw")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "gateway: building secgwd and secgw: %v\n%s", err, out)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// testParallel is the default number of tests run at once.
const testParallel = 6

// repoRoot is the module root, two levels above this file.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// requirePrerequisites fails the test, naming what is missing
// (charontest.RequirePrerequisites).
func requirePrerequisites(t *testing.T) {
	t.Helper()
	charontest.RequirePrerequisites(t, "gateway", charontest.Ping)
}

// cmdTimeout bounds every command the tests run.
const cmdTimeout = gwtest.CmdTimeout

// run runs a command and fails the test on error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := runErr(name, args...)
	if err != nil {
		t.Fatalf("gateway: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// runErr runs a command with a bounded time and returns its combined
// output.
func runErr(name string, args ...string) (string, error) {
	return gwtest.Run(name, args...)
}

// tail returns the last n lines of s.
func tail(s string, n int) string { return gwtest.Tail(s, n) }

// eventually polls cond for up to d and reports whether it held.
func eventually(d time.Duration, cond func() bool) bool { return poll.Until(d, cond) }
