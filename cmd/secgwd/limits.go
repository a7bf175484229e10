package main

import (
	"flag"
	"fmt"
	"time"

	"secgw/internal/daemon"
	"secgw/internal/netconf/transport"
)

// netconfLimits holds the flags of the NETCONF server's limits
// (SECURITY.md lists them). Their defaults are the daemon's and the
// transport's; a negative value lifts a limit where that makes sense.
type netconfLimits struct {
	maxSessions, perUser    *int
	idle                    *time.Duration
	maxMessage              *int
	maxBuffered             *int64
	depth, elements         *int
	unauth, unauthPerSource *int
	busyAuth                *time.Duration
	freeFailures            *int
	failureDelay, maxDelay  *time.Duration
	authConcurrency         *int
	authQueue               *time.Duration
}

func netconfFlags(fs *flag.FlagSet) *netconfLimits {
	return &netconfLimits{
		maxSessions: fs.Int("max-sessions", daemon.DefaultMaxSessions, "NETCONF sessions of all users at once (negative: no limit)"),
		perUser:     fs.Int("max-sessions-per-user", transport.DefaultMaxSessionsPerUser, "NETCONF sessions of one user at once (negative: no limit)"),
		idle:        fs.Duration("idle-timeout", daemon.DefaultIdleTimeout, "end a NETCONF session after this long without a whole message either way (negative: never)"),
		maxMessage:  fs.Int("max-message-size", transport.DefaultMaxMessageSize, "largest incoming NETCONF message in bytes; a larger one gets an rpc-error and ends the session"),
		maxBuffered: fs.Int64("max-buffered", transport.DefaultMaxBuffered, "bytes all NETCONF sessions together may hold in messages being received or handled; over it, resource-denied and the session ends (negative: no limit)"),
		depth:       fs.Int("max-xml-depth", transport.DefaultMaxDepth, "deepest element nesting of a NETCONF message; deeper gets too-big"),
		elements:    fs.Int("max-xml-elements", transport.DefaultMaxElements, "most elements in a NETCONF message; more gets too-big"),
		unauth:      fs.Int("max-unauth", transport.DefaultMaxUnauthenticated, "connections in SSH handshake or authentication at once; a new one closes the oldest"),
		unauthPerSource: fs.Int("max-unauth-per-source", transport.DefaultMaxUnauthenticatedPerSource,
			"unauthenticated connections from one address (IPv6: one /64); more are closed at once (negative: no limit)"),
		busyAuth:        fs.Duration("busy-auth-timeout", transport.DefaultBusyAuthTimeout, "handshake and authentication timeout once half of -max-unauth are in use (30 s otherwise)"),
		freeFailures:    fs.Int("auth-free-failures", transport.DefaultAuthFreeFailures, "failed password logins per source (or user) before attempts are delayed"),
		failureDelay:    fs.Duration("auth-failure-delay", transport.DefaultAuthFailureDelay, "first delay after the free failures: attempts are refused unchecked meanwhile; doubles per failure"),
		maxDelay:        fs.Duration("auth-max-delay", transport.DefaultAuthMaxDelay, "longest delay after failed password logins"),
		authConcurrency: fs.Int("auth-concurrency", transport.DefaultMaxConcurrentAuth(), "password checks (bcrypt) running at once; one is kept for sources without failures"),
		authQueue:       fs.Duration("auth-queue-timeout", transport.DefaultAuthQueueTimeout, "a password check waiting longer than this for its turn is refused"),
	}
}

// apply checks the values and puts them into cfg.
func (l *netconfLimits) apply(cfg *daemon.Config) error {
	switch {
	case *l.maxMessage <= 0:
		return fmt.Errorf("-max-message-size must be positive")
	case *l.depth <= 0, *l.elements <= 0:
		return fmt.Errorf("-max-xml-depth and -max-xml-elements must be positive")
	case *l.unauth <= 0:
		return fmt.Errorf("-max-unauth must be positive")
	case *l.busyAuth <= 0, *l.failureDelay <= 0, *l.maxDelay <= 0, *l.authQueue <= 0:
		return fmt.Errorf("-busy-auth-timeout, -auth-failure-delay, -auth-max-delay and -auth-queue-timeout must be positive")
	case *l.freeFailures <= 0 || *l.authConcurrency <= 0:
		return fmt.Errorf("-auth-free-failures and -auth-concurrency must be positive")
	case *l.maxSessions == 0 || *l.perUser == 0 || *l.maxBuffered == 0 || *l.unauthPerSource == 0 || *l.idle == 0:
		return fmt.Errorf("a limit of 0 would refuse everything: give a negative value to lift it")
	}
	cfg.MaxSessions = *l.maxSessions
	cfg.IdleTimeout = *l.idle
	cfg.MaxMessageSize = *l.maxMessage
	cfg.NetconfLimits = transport.Limits{
		MaxSessionsPerUser:          *l.perUser,
		MaxBuffered:                 *l.maxBuffered,
		MaxDepth:                    *l.depth,
		MaxElements:                 *l.elements,
		MaxUnauthenticated:          *l.unauth,
		MaxUnauthenticatedPerSource: *l.unauthPerSource,
		BusyAuthTimeout:             *l.busyAuth,
		AuthFreeFailures:            *l.freeFailures,
		AuthFailureDelay:            *l.failureDelay,
		AuthMaxDelay:                *l.maxDelay,
		MaxConcurrentAuth:           *l.authConcurrency,
		AuthQueueTimeout:            *l.authQueue,
	}
	return nil
}
