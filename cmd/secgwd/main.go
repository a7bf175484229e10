// Command secgwd is the secgw daemon: it parses its flags and runs
// internal/daemon, which owns every subsystem.
//
//	secgwd [-dir /var/lib/secgw] [-listen 127.0.0.1:830] [-dataplane auto|kernel|userspace|fake]
//	       [-log-level info|0-4] [-log-keys] [-no-syslog] [-snapshot-every N] [-snapshot-bytes N]
//	       [-xpath-max-steps N] [-xpath-timeout D] [-pprof 127.0.0.1:6060] [-cpuprofile FILE]
//	       [-memory-limit auto|off|SIZE]
//	       [limits of NETCONF: -max-sessions, -max-sessions-per-user, -idle-timeout,
//	        -max-message-size, -max-buffered, -max-xml-depth, -max-xml-elements,
//	        -max-unauth, -max-unauth-per-source, -busy-auth-timeout,
//	        -auth-free-failures, -auth-failure-delay, -auth-max-delay, -auth-concurrency]
//
// The stderr log shows what -log-level allows; syslog (facilities daemon
// and authpriv) follows the logging configuration of vrf main ike. Key
// material is logged (in hex, at level 4) only with -log-keys: the model's
// logging container has no with-keys switch, and level 4 alone must not
// write keys to syslog.
//
// On first start it creates the users file with an admin account. Its
// password is the first line of the file SECGW_INITIAL_PASSWORD_FILE names
// when set (for systemd: LoadCredential=admin-password:/etc/secgw/admin-password
// and Environment=SECGW_INITIAL_PASSWORD_FILE=%d/admin-password), else a
// generated one, printed once on standard error, unless standard error is
// the journal (JOURNAL_STREAM): then it goes to DIR/initial-password (mode
// 0600) and the log names only that file. SIGTERM and SIGINT shut it down
// cleanly. SIGHUP re-reads the users file (the sessions of removed users,
// or of users whose role changed, end) and the metrics endpoint's TLS
// files, logs what it did, and keeps running whatever fails.
// -version prints the build and exits.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"secgw/internal/daemon"
	"secgw/internal/datastore"
	"secgw/internal/logging"
	"secgw/internal/netconf"
	"secgw/internal/version"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("secgwd", flag.ContinueOnError)
	dir := fs.String("dir", daemon.DefaultDir, "data directory (created with mode 0700 on first start)")
	listen := fs.String("listen", daemon.DefaultListen, "NETCONF over SSH address (host:port; port 0 picks one)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error, or 0-4 as in the reference guide (4 is the most verbose)")
	dp := fs.String("dataplane", daemon.DataplaneAuto, "dataplane: auto (kernel XFRM when the kernel has ESP, else userspace), kernel, userspace, or fake (no traffic protected)")
	ikePort := fs.Uint("ike-port", 0, "UDP port of IKE instead of 500 (NAT-T uses the next one instead of 4500); for tests, where peers must use the same")
	noSyslog := fs.Bool("no-syslog", false, "do not send logs to syslog (only to stderr)")
	logKeys := fs.Bool("log-keys", false, "log IKE and child SA keys, in hex, at level 4 (off: no level logs keys)")
	espWorkers := fs.Int("esp-workers", 0, "goroutines that decrypt inbound ESP in the userspace dataplane, by SPI (0, the default, or 1: none, the socket readers decrypt; measure before raising it)")
	snapshotEvery := fs.Int("snapshot-every", 0, "commits journaled between full writes of the running configuration (0: the datastore's default)")
	xpathSteps := fs.Int64("xpath-max-steps", netconf.DefaultXPathMaxSteps, "work allowed to one NETCONF xpath filter, in steps (nodes visited, compared or evaluated); a filter needing more is refused with resource-denied; -1: no bound")
	xpathTimeout := fs.Duration("xpath-timeout", netconf.DefaultXPathTimeout, "time allowed to one NETCONF xpath filter; a filter needing more is refused with resource-denied; -1s: no bound")
	snapshotBytes := fs.Int64("snapshot-bytes", datastore.DefaultSnapshotBytes, "journal size in bytes after which the running configuration is written in full (bounds the restart time; negative: by count only)")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this loopback host:port (none by default)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file, at a clean exit")
	memLimit := fs.String("memory-limit", "auto", "soft memory limit of the Go runtime: auto (follows the live heap: live plus half, at least 64 MiB more), off (the runtime's default, or GOMEMLIMIT), or a size in bytes with an optional KiB, MiB or GiB suffix")
	showVersion := fs.Bool("version", false, "print the version and exit")
	lim := netconfFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Println(version.String("secgwd"))
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "secgwd: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	lvl, err := parseLevel(*level)
	if err != nil {
		fmt.Fprintln(os.Stderr, "secgwd:", err)
		return 2
	}
	out := logging.Outputs{Stderr: logging.TextHandler(os.Stderr), StderrLevel: lvl}
	if !*noSyslog {
		var serr error
		if out.Daemon, out.Authpriv, serr = logging.Syslog(); serr != nil {
			fmt.Fprintln(os.Stderr, "secgwd: no syslog, logging to stderr only:", serr)
		}
	}
	lh := logging.New(out, logging.DefaultConfig())
	logger := slog.New(lh)
	switch *dp {
	case daemon.DataplaneAuto, daemon.DataplaneKernel, daemon.DataplaneUserspace, daemon.DataplaneFake:
	default:
		fmt.Fprintf(os.Stderr, "secgwd: bad -dataplane %q: want auto, kernel, userspace or fake\n", *dp)
		return 2
	}
	if *ikePort > 65534 {
		fmt.Fprintln(os.Stderr, "secgwd: -ike-port must be below 65535")
		return 2
	}
	if *espWorkers < 0 || *espWorkers > 64 {
		fmt.Fprintln(os.Stderr, "secgwd: -esp-workers must be 0 to 64")
		return 2
	}
	if *xpathSteps == 0 || *xpathTimeout == 0 {
		fmt.Fprintln(os.Stderr, "secgwd: -xpath-max-steps and -xpath-timeout must not be 0 (a negative value removes the bound)")
		return 2
	}
	if *snapshotEvery < 0 {
		fmt.Fprintln(os.Stderr, "secgwd: -snapshot-every must not be negative")
		return 2
	}
	if *snapshotBytes == 0 {
		fmt.Fprintln(os.Stderr, "secgwd: -snapshot-bytes must not be 0 (negative disables it)")
		return 2
	}
	memoryLimit, err := parseMemoryLimit(*memLimit)
	if err != nil {
		fmt.Fprintln(os.Stderr, "secgwd:", err)
		return 2
	}
	cfg := daemon.Config{Dir: *dir, Listen: *listen, Logger: logger, LogHandler: lh,
		SnapshotEvery: *snapshotEvery, SnapshotBytes: *snapshotBytes, Dataplane: *dp, ESPWorkers: *espWorkers,
		LogKeys: *logKeys, XPathMaxSteps: *xpathSteps, XPathTimeout: *xpathTimeout, MemoryLimit: memoryLimit}
	if err := lim.apply(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "secgwd:", err)
		return 2
	}
	if *ikePort != 0 {
		cfg.IKEPort, cfg.NATTPort = uint16(*ikePort), uint16(*ikePort+1)
	}
	if *pprofAddr != "" {
		addr, err := startPprof(*pprofAddr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "secgwd:", err)
			return 2
		}
		logger.Info("pprof serving", "subsystem", "daemon", "listen", addr)
	}
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "secgwd:", err)
			return 1
		}
		defer stopProfile()
	}
	// SIGHUP reloads; without a handler it would end the process, even
	// while starting.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if cfg.InitialPassword, err = readInitialPassword(os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "secgwd:", err)
		return 2
	}
	d, err := daemon.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "secgwd:", err)
		return 1
	}
	if err := showInitialPassword(d.CreatedPassword(), d.UsersFile(), *dir, cfg.InitialPassword != "", os.Stderr, os.Getenv, logger); err != nil {
		logger.Error("initial password not shown", "subsystem", "daemon", "err", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		for {
			select {
			case <-hup:
				_ = d.Reload() // logs what failed
			case <-ctx.Done():
				return
			}
		}
	}()
	if err := d.Run(ctx); err != nil {
		logger.Error("secgwd failed", "subsystem", "daemon", "err", err)
		return 1
	}
	return 0
}

// parseLevel accepts slog's level names (debug, info, warn, error, with an
// optional +N/-N) and the reference guide's levels 0-4 (logging.Level0 to
// Level4; 4 includes key material).
func parseLevel(s string) (slog.Level, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 4 {
			return 0, fmt.Errorf("bad -log-level %q: levels are 0-4", s)
		}
		return logging.FromLevel(n), nil
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("bad -log-level %q: want debug, info, warn, error or 0-4", s)
	}
	return l, nil
}

// parseMemoryLimit reads -memory-limit: auto, off, or bytes with an
// optional KiB, MiB or GiB suffix.
func parseMemoryLimit(s string) (int64, error) {
	switch s {
	case "auto":
		return daemon.MemoryLimitAuto, nil
	case "off":
		return daemon.MemoryLimitOff, nil
	}
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("bad -memory-limit %q: want auto, off or a positive size (bytes, KiB, MiB, GiB)", s)
	}
	return n * mult, nil
}
