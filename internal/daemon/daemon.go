// Package daemon is secgwd: one struct that owns every subsystem and wires
// them together. cmd/secgwd only parses flags and calls it, so that tests
// can run a whole daemon in-process on a temporary directory.
//
// The daemon owns the YANG schema, the validator, the datastores, the
// NETCONF server, the IKE subsystem (internal/ikesvc) and the dataplane
// with its programmer; the IKE subsystem and the logging configuration
// subscribe to the datastore, so that commits take effect live.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"secgw/generated"
	"secgw/internal/dataplane"
	"secgw/internal/dataplane/childsa"
	"secgw/internal/dataplane/userspace"
	"secgw/internal/datastore"
	"secgw/internal/ikesvc"
	"secgw/internal/logging"
	"secgw/internal/netconf"
	"secgw/internal/netconf/transport"
	"secgw/internal/pool"
	"secgw/internal/schema"
	"secgw/internal/support"
	"secgw/internal/validate"
)

// Defaults of Config.
const (
	// DefaultDir is where the daemon keeps its state.
	DefaultDir = "/var/lib/secgw"
	// DefaultListen is the NETCONF address: the IANA port (RFC 6242 §3),
	// on loopback only until an operator chooses otherwise.
	DefaultListen = "127.0.0.1:830"
	// DefaultMaxSessions bounds the NETCONF sessions of all users.
	DefaultMaxSessions = 64
	// DefaultIdleTimeout ends a NETCONF session after that long without
	// a message in either direction (a partial message does not count).
	DefaultIdleTimeout = 30 * time.Minute
)

// Files and directories of the data directory.
const (
	// UsersFile holds the NETCONF accounts (bcrypt hashes, never clear
	// passwords); see netconf.Users for its format.
	UsersFile = "users.json"
	// ConfigDir holds the datastore: running.json, its journal and the
	// commit history.
	ConfigDir = "config"
)

// Config configures a Daemon. The zero value is usable: every empty field
// takes its default.
type Config struct {
	// Dir is the data directory, created with mode 0700 if missing.
	Dir string
	// Listen is the NETCONF-over-SSH address; port 0 picks a free port
	// (see Daemon.Addr).
	Listen string
	// Logger receives the logs of every subsystem, each with its
	// subsystem attribute; nil discards them.
	Logger *slog.Logger
	// SnapshotEvery is the number of commits the datastore journals
	// before it writes running in full and empties its journal; 0 takes
	// the datastore's default. Small values cost a full write every few
	// commits (test/e2e's crash test uses them to kill secgwd around
	// snapshots).
	SnapshotEvery int
	// SnapshotBytes is the journal size after which the datastore writes
	// running in full and empties its journal; 0 takes the datastore's
	// default (datastore.DefaultSnapshotBytes), negative disables it.
	SnapshotBytes int64
	// MaxSessions bounds the NETCONF sessions (DefaultMaxSessions if 0,
	// none if negative); IdleTimeout ends idle ones (DefaultIdleTimeout
	// if 0, never if negative); MaxMessageSize bounds one incoming
	// message (transport.DefaultMaxMessageSize if 0).
	MaxSessions    int
	IdleTimeout    time.Duration
	MaxMessageSize int
	// NetconfLimits bound memory per message and in total, sessions per
	// user, unauthenticated connections and password checks; zero fields
	// take the transport's defaults.
	NetconfLimits transport.Limits
	// Dataplane is auto (the default), kernel, userspace or fake.
	Dataplane string
	// IKEPort and NATTPort move the IKE sockets off 500 and 4500 (tests;
	// see udpconn for the translation).
	IKEPort, NATTPort uint16
	// LogHandler, if set, is the handler under Logger that routes logs by
	// the logging configuration; the daemon applies commits of it live.
	LogHandler *logging.Handler
	// TUN names the userspace dataplane's TUN device; "" is DefaultTUN.
	TUN string
	// ESPWorkers is the number of goroutines of the userspace dataplane
	// that open inbound ESP, by SPI (userspace.Options.InboundWorkers).
	// InlineESP (0, the default) has none: the socket readers open it;
	// so does 1, as one worker would only add a hand-over.
	ESPWorkers int
	// LogKeys lets IKE log key material, in hex, at level 4 (secgwd
	// -log-keys); without it no level logs keys.
	LogKeys bool
	// InitialPassword is the admin password of a first start (no users
	// file yet); empty generates a random one (CreatedPassword).
	InitialPassword string
	// XPathMaxSteps and XPathTimeout bound the evaluation of one NETCONF
	// xpath filter (netconf.Config); 0 takes the netconf defaults, a
	// negative value removes the bound.
	XPathMaxSteps int64
	XPathTimeout  time.Duration
	// NetnsDir is where the named network namespaces of the vrfs other
	// than main are bound; "" is NetnsDir (/run/netns, ip netns's).
	NetnsDir string
	// MemoryLimit is the Go runtime's soft memory limit in bytes, or
	// MemoryLimitAuto (0, the default: it follows the live heap, see
	// memlimit.go) or MemoryLimitOff (the runtime's default, GOMEMLIMIT).
	MemoryLimit int64
}

// Daemon owns the subsystems of secgwd. Build it with New, run it with Run;
// a Daemon runs once.
type Daemon struct {
	cfg Config
	log *slog.Logger

	schema    *schema.Schema
	validator *validate.Validator
	store     *datastore.Store
	users     *netconf.Users
	netconf   *netconf.Server
	ln        net.Listener

	dataplane  dataplane.Dataplane
	programmer *childsa.Programmer
	ike        *ikesvc.Service
	vrfs       *vrfs         // the IKE instances of the vrfs other than main
	pools      *pool.Manager // the leases of the virtual IP pools (vip.go)
	vips       *vipHost
	// userspace is set with the userspace dataplane, routes with it and
	// with the kernel one.
	userspace *userspace.Dataplane
	routes    *routing
	// mobility moves the MOBIKE IKE SAs we initiated when the host's
	// addresses or routes change (mobike.go).
	mobility *mobility
	// stopBadSPI stops the kernel dataplane's unknown-SPI watch
	// (badspi.go); nil with another dataplane.
	stopBadSPI func()
	// kernel is set with the kernel dataplane.
	kernel bool
	// spdHash applies sp-hash-ipv4/ipv6 with the kernel dataplane.
	spdHash *spdHash
	// ha is IKE HA (ha.go).
	ha *haSub

	// metrics is the Prometheus endpoint (metrics.go).
	metrics *metricsEndpoint

	// createdPassword is the admin password generated on first start, or
	// empty when the users file already existed.
	createdPassword string
}

// New loads the schema, opens the datastores from the data directory,
// loads (or, on first start, creates) the users file and binds the NETCONF
// listener, so that Addr is valid as soon as New returns. Nothing is
// served until Run.
func New(cfg Config) (*Daemon, error) {
	if cfg.Dir == "" {
		cfg.Dir = DefaultDir
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d := &Daemon{cfg: cfg, log: cfg.Logger.With("subsystem", "daemon")}
	defer startMemory(cfg.MemoryLimit)()
	if err := makeDataDir(cfg.Dir); err != nil {
		return nil, err
	}
	if err := checkSecretFiles(cfg.Dir); err != nil {
		return nil, err
	}
	var err error
	if d.schema, err = schema.Load(); err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	if d.validator, err = validate.New(d.schema); err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	// Honour or refuse: a commit that sets what the runtime does not act
	// on is refused (internal/support).
	checker := support.NewChecker(d.schema)
	d.store, err = datastore.Open(datastore.Options{
		Dir:           filepath.Join(cfg.Dir, ConfigDir),
		Schema:        d.schema,
		Validator:     d.validator,
		SnapshotEvery: cfg.SnapshotEvery,
		SnapshotBytes: cfg.SnapshotBytes,
		Check:         checker.Check,
		RulesID:       rulesID(),
	})
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	// The nodes of running this release refuses are looked for on the
	// other CPU while the subsystems start (a walk of the whole
	// configuration: 0.6 s at 100k VPNs); both only read running's
	// snapshot, which nothing writes into. Reported before New returns.
	present := make(chan error, 1)
	go func(running *generated.Device) { present <- checker.Present(running) }(d.store.Snapshot(datastore.Running))
	defer func() {
		if err := <-present; err != nil {
			// Committed by a release that accepted them: they stay,
			// unused, until changed; say so.
			d.log.Error("running configuration holds nodes this release does not act on (they are ignored; a commit that changes them is refused)", "nodes", err.Error())
		}
	}()
	if msg := d.store.Migrated(); msg != "" {
		// An upgrade from a release with /aaa/nacm: said once, at start.
		d.log.Warn("stored configuration upgraded", "what", msg)
	}
	if msg := d.store.Recovered(); msg != "" {
		// Started, but not with what was committed last: an operator
		// must look (show the commit history, fix, commit).
		d.log.Error("STORED CONFIGURATION NOT VALID, started from an earlier one", "what", msg)
	}
	// A device loads its startup configuration when it boots (RFC 6241
	// §8.7.1), before any subsystem sees running. One that no longer
	// validates is reported, and running stays as journaled.
	if changed, err := d.store.BootFromStartup(); err != nil {
		d.log.Error("STARTUP CONFIGURATION NOT LOADED, running as last committed", "err", err)
	} else if changed {
		d.log.Info("running loaded from the startup configuration")
	}
	if err := d.startIKE(); err != nil {
		_ = d.store.Close()
		return nil, err
	}
	if err := d.startNetconf(); err != nil {
		d.stopIKE()
		_ = d.store.Close()
		return nil, err
	}
	d.startMetrics()
	return d, nil
}

// startNetconf loads (or creates) the users file, builds the NETCONF
// server over the store and binds its listener.
func (d *Daemon) startNetconf() error {
	var err error
	if aaa := d.store.Snapshot(datastore.Running).GetAaa(); aaa != nil && len(aaa.User) > 0 {
		// The configuration holds the accounts: no admin is created
		// (its password would be shown for an account that cannot log
		// in); a users file present is read for set-password and
		// migrate-users only.
		d.users, err = netconf.LoadUsersIfPresent(d.UsersFile())
	} else {
		d.users, d.createdPassword, err = netconf.LoadUsers(d.UsersFile(), d.cfg.InitialPassword)
	}
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	d.netconf, err = netconf.New(netconf.Config{
		Addr:      d.cfg.Listen,
		Dir:       d.cfg.Dir,
		Store:     d.store,
		Schema:    d.schema,
		Validator: d.validator,
		Users:     d.users,
		UsersFile: d.UsersFile(),
		RPCs:      ikeRPCs(vrfRPCs{d}, d.ike, d.ha),
		State:     d.state,
		Logger:    d.cfg.Logger.With("subsystem", "config"),

		XPathMaxSteps:  d.cfg.XPathMaxSteps,
		XPathTimeout:   d.cfg.XPathTimeout,
		MaxSessions:    limitOr(d.cfg.MaxSessions, DefaultMaxSessions),
		IdleTimeout:    limitOr(d.cfg.IdleTimeout, DefaultIdleTimeout),
		MaxMessageSize: d.cfg.MaxMessageSize,
		Limits:         d.cfg.NetconfLimits,
	})
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	d.ha.bindNetconf(d.netconf)
	if d.ln, err = net.Listen("tcp", d.cfg.Listen); err != nil {
		_ = d.netconf.Close()
		return fmt.Errorf("daemon: netconf: %w", err)
	}
	return nil
}

// limitOr is v, or def when v is 0, or 0 (the transport's "none") when v
// is negative.
func limitOr[T int | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// NetconfStats returns the counters of the NETCONF server's limits.
func (d *Daemon) NetconfStats() transport.Stats { return d.netconf.Stats() }

// makeDataDir creates dir with mode 0700, or checks that an existing one
// is a directory. It does not change the mode of an existing directory:
// that is the operator's choice.
func makeDataDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("daemon: %w", err)
		}
		// MkdirAll applies the umask; the data directory holds the host
		// key and the users file, so it is the owner's only.
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("daemon: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("daemon: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("daemon: %s is not a directory", dir)
	}
	return nil
}

// Addr returns the address the NETCONF server listens on, with the port
// the system chose when Config.Listen had port 0.
func (d *Daemon) Addr() net.Addr { return d.ln.Addr() }

// CreatedPassword returns the admin password generated when this start
// created the users file, or "" when the file already existed. It is
// stored only as a bcrypt hash: this is the one chance to show it.
func (d *Daemon) CreatedPassword() string { return d.createdPassword }

// UsersFile returns the path of the users file.
func (d *Daemon) UsersFile() string { return filepath.Join(d.cfg.Dir, UsersFile) }

// Store returns the datastores, for in-process callers (tests, and the
// subsystems wired here).
func (d *Daemon) Store() *datastore.Store { return d.store }

// Run serves until ctx is cancelled, then shuts down: it stops accepting
// connections, ends every session (which releases their locks and
// reverts their unconfirmed commits, as a session end requires) and
// closes the datastore. It returns nil after a shutdown asked through
// ctx, or the error that stopped the server.
func (d *Daemon) Run(ctx context.Context) error {
	d.log.Info("secgwd running", "listen", d.Addr().String(), "dir", d.cfg.Dir)
	served := make(chan error, 1)
	go func() { served <- d.netconf.Serve(d.ln) }()
	memCtx, memStop := context.WithCancel(ctx)
	defer memStop()
	go limitMemory(memCtx, d.cfg.MemoryLimit)
	var err error
	select {
	case <-ctx.Done():
		d.log.Info("secgwd shutting down", "reason", context.Cause(ctx).Error())
		err = d.netconf.Close()
		<-served
	case serr := <-served:
		_ = d.netconf.Close()
		err = fmt.Errorf("netconf server stopped: %w", serr)
	}
	d.metrics.close()
	d.stopIKE()
	if cerr := d.store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	d.log.Info("secgwd stopped")
	return nil
}

// stopIKE stops the IKE engine and closes the dataplane (the SAs it
// programmed stay in a kernel dataplane until the next start reconciles
// them).
func (d *Daemon) stopIKE() {
	if d.vrfs != nil {
		d.vrfs.close()
	}
	if d.mobility != nil {
		d.mobility.close()
	}
	if d.ha != nil {
		d.ha.close()
	}
	if d.stopBadSPI != nil {
		d.stopBadSPI()
	}
	if d.ike != nil {
		_ = d.ike.Close()
	}
	if d.vips != nil {
		d.vips.closeVIPs()
	}
	if d.pools != nil {
		if err := d.pools.Close(); err != nil {
			d.log.Warn("closing the lease file", "err", err)
		}
	}
	if d.dataplane != nil {
		_ = d.dataplane.Close()
	}
	if d.routes != nil {
		d.routes.close()
	}
}
