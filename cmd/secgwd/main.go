// Command secgwd is the secgw daemon: it parses its flags and runs
// internal/daemon, which owns every subsystem.
//
//	secgwd [-dir /var/lib/secgw] [-listen 127.0.0.1:830] [-log-level info] [-snapshot-every N]
//
// On first start it creates the users file with an admin account and prints
// the generated password once on standard error. SIGTERM and SIGINT shut it
// down cleanly.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"secgw/internal/daemon"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("secgwd", flag.ContinueOnError)
	dir := fs.String("dir", daemon.DefaultDir, "data directory (created with mode 0700 on first start)")
	listen := fs.String("listen", daemon.DefaultListen, "NETCONF over SSH address (host:port; port 0 picks one)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error, or 0-4 as in the reference guide (4 is the most verbose)")
	snapshotEvery := fs.Int("snapshot-every", 0, "commits journaled between full writes of the running configuration (0: the datastore's default)")
	if err := fs.Parse(args); err != nil {
		return 2
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
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	if *snapshotEvery < 0 {
		fmt.Fprintln(os.Stderr, "secgwd: -snapshot-every must not be negative")
		return 2
	}
	d, err := daemon.New(daemon.Config{Dir: *dir, Listen: *listen, Logger: logger, SnapshotEvery: *snapshotEvery})
	if err != nil {
		fmt.Fprintln(os.Stderr, "secgwd:", err)
		return 1
	}
	if pw := d.CreatedPassword(); pw != "" {
		fmt.Fprintf(os.Stderr, "secgwd: created user admin with password %s (stored hashed in %s)\n", pw, d.UsersFile())
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := d.Run(ctx); err != nil {
		logger.Error("secgwd failed", "subsystem", "daemon", "err", err)
		return 1
	}
	return 0
}

// parseLevel accepts slog's level names (debug, info, warn, error, with an
// optional +N/-N) and the reference guide's 0-4, where 0 logs only errors
// and 4 everything.
func parseLevel(s string) (slog.Level, error) {
	if n, err := strconv.Atoi(s); err == nil {
		switch {
		case n <= 0:
			return slog.LevelError, nil
		case n == 1:
			return slog.LevelWarn, nil
		case n == 2:
			return slog.LevelInfo, nil
		default:
			return slog.LevelDebug, nil
		}
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("bad -log-level %q: want debug, info, warn, error or 0-4", s)
	}
	return l, nil
}
