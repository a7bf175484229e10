package ikesvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"secgw/generated"
	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/resolve"
	"secgw/internal/radius"
)

// aaa is the engine's AAA backend (engine.AAA): the RADIUS client of
// the ike radius container. EAP requests run on their own goroutines
// (the engine resumes the IKE SA when done is called); accounting records
// go through one queue, in order, so that a Stop never overtakes its
// Start.
type aaa struct {
	log    *slog.Logger
	client *radius.Client
	// counters reads a child SA's traffic (Options.Counters).
	counters func(engine.ChildSA) (in, out Counters)
	ctx      context.Context

	mu      sync.Mutex
	cfg     config.RADIUS
	pending map[uint64]config.RADIUS
	// undo is what apply replaced, for an abort after apply (another
	// subscriber refused the commit).
	undo map[uint64]config.RADIUS
	acct chan radius.Record
}

// acctQueue bounds the accounting records waiting for the servers: past
// it, records are dropped and logged rather than held without bound.
const acctQueue = 4096

func newAAA(ctx context.Context, log *slog.Logger, counters func(engine.ChildSA) (in, out Counters)) *aaa {
	a := &aaa{log: log, client: radius.New(radius.Config{}, log), counters: counters, ctx: ctx,
		pending: map[uint64]config.RADIUS{}, undo: map[uint64]config.RADIUS{}, acct: make(chan radius.Record, acctQueue)}
	go a.accounting()
	return a
}

// prepare resolves the radius container of a commit. A VPN with
// remote-auth-method eap-radius or pre-shared-key-radius and no server is accepted (the servers
// may come in a later commit) and warned about: its peers are refused,
// each with a log line saying that no server is configured.
func (a *aaa) prepare(tx uint64, ike *generated.SecgwVrf_Vrf_Ike, fresh []*config.VPN) error {
	r, err := resolve.RADIUS(ike)
	if err != nil {
		return fmt.Errorf("ike: %w", err)
	}
	if len(r.Servers) == 0 {
		// The VPNs this commit resolved: a commit costs what it changes.
		for _, v := range fresh {
			if v.RemoteAAA != config.AAANone {
				a.log.Warn("remote-auth-method eap-radius or pre-shared-key-radius without a RADIUS server (ike radius server): its peers will be refused", "vpn", v.Name)
				break
			}
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending[tx] = r
	return nil
}

// apply makes the prepared radius configuration of tx current; abort
// forgets it.
func (a *aaa) apply(tx uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.pending[tx]
	delete(a.pending, tx)
	if !ok {
		return
	}
	old := a.cfg
	clear(a.undo) // one commit at a time: older ones are settled
	a.undo[tx] = old
	a.cfg = r
	a.client.SetConfig(clientConfig(r))
	if len(old.Servers) != len(r.Servers) {
		a.log.Info("radius servers configured", "servers", len(r.Servers), "accounting", r.Accounting)
	}
}

func (a *aaa) abort(tx uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.pending, tx)
	if old, ok := a.undo[tx]; ok {
		delete(a.undo, tx)
		a.cfg = old
		a.client.SetConfig(clientConfig(old))
	}
}

func clientConfig(r config.RADIUS) radius.Config {
	c := radius.Config{NASIdentifier: r.NASIdentifier}
	for _, s := range r.Servers {
		c.Servers = append(c.Servers, radius.Server{Addr: s.Addr, AuthPort: s.AuthPort, AcctPort: s.AcctPort,
			Secret: s.Secret, Timeout: s.Timeout, Retries: s.Retries})
	}
	return c
}

// EAP implements engine.AAA: the request goes to the servers on its own
// goroutine.
func (a *aaa) EAP(r engine.AAARequest, done func(engine.AAAReply)) {
	go func() {
		rep, err := a.client.EAP(a.ctx, radius.EAPRequest{UserName: r.UserName, EAP: r.EAP, State: r.State,
			Calling: r.Peer, Called: r.Local})
		if err != nil {
			done(engine.AAAReply{Err: err})
			return
		}
		out := engine.AAAReply{EAP: rep.EAP, State: rep.State, MSK: rep.MSK,
			Attrs: engine.AAAAttrs{FramedIP: rep.Attributes.FramedIP, FramedIPv6: rep.Attributes.FramedIPv6,
				DNS: rep.Attributes.DNS, Class: rep.Attributes.Class}}
		switch rep.Outcome {
		case radius.Challenge:
			out.Outcome = engine.AAAChallenge
		case radius.Accept:
			out.Outcome = engine.AAAAccept
		default:
			out.Outcome = engine.AAAReject
			if rep.Message != "" {
				a.log.Info("radius: Access-Reject", "user", r.UserName, "reply-message", rep.Message)
			}
		}
		done(out)
	}()
}

// PSK implements engine.AAA: the key of the peer identity r.UserName
// (pre-shared-key-radius) is asked from the servers on its own
// goroutine, with radius.PSKPassword as User-Password. An Access-Reject
// is AAAReject; an Access-Accept without Tunnel-Password an AAAAccept
// without PSK (the engine refuses the peer, saying so).
func (a *aaa) PSK(r engine.AAARequest, done func(engine.AAAReply)) {
	go func() {
		psk, attrs, err := a.client.PSK(a.ctx, r.UserName, radius.PSKPassword, r.Peer, r.Local)
		switch {
		case errors.Is(err, radius.ErrRejected):
			a.log.Info("radius: Access-Reject for a pre-shared-key-radius identity", "user", r.UserName, "err", err)
			done(engine.AAAReply{Outcome: engine.AAAReject})
		case errors.Is(err, radius.ErrNoPSK):
			a.log.Warn("radius: Access-Accept for a pre-shared-key-radius identity without its key", "user", r.UserName, "err", err)
			done(engine.AAAReply{Outcome: engine.AAAAccept})
		case err != nil:
			done(engine.AAAReply{Err: err})
		default:
			done(engine.AAAReply{Outcome: engine.AAAAccept, PSK: psk,
				Attrs: engine.AAAAttrs{FramedIP: attrs.FramedIP, FramedIPv6: attrs.FramedIPv6, DNS: attrs.DNS, Class: attrs.Class}})
		}
	}()
}

// Account implements engine.AAA: under the SA's worker lock, it reads
// the counters of a Stop's child SAs (still installed) and queues the
// record, without waiting: a full queue drops it (logged).
func (a *aaa) Account(r engine.AcctRecord) {
	a.mu.Lock()
	on := a.cfg.Accounting
	a.mu.Unlock()
	if !on {
		return
	}
	select {
	case a.acct <- a.record(r):
	default:
		a.log.Warn("radius: accounting queue full: record dropped", "user", r.UserName, "session", r.SessionID)
	}
}

// record is the RADIUS form of an accounting record, with the counters
// of its child SAs read now.
func (a *aaa) record(r engine.AcctRecord) radius.Record {
	rec := radius.Record{SessionID: r.SessionID, UserName: r.UserName, FramedIP: r.Attrs.FramedIP,
		FramedIPv6: r.Attrs.FramedIPv6, Calling: r.Peer, Called: r.Local, Class: r.Attrs.Class, Duration: r.Duration}
	switch r.Status {
	case engine.AcctStart:
		rec.Status = radius.AcctStart
	case engine.AcctStop:
		rec.Status = radius.AcctStop
		rec.Cause = radius.CauseUserRequest
		if r.Reason != "" {
			rec.Cause = radius.CauseLostService
		}
	default:
		rec.Status = radius.AcctInterim
	}
	if a.counters != nil {
		for _, c := range r.Children {
			in, out := a.counters(c)
			rec.InOctets += in.Bytes
			rec.InPackets += in.Packets
			rec.OutOctets += out.Bytes
			rec.OutPackets += out.Packets
		}
	}
	return rec
}

// interim sends Interim-Update records (RFC 2869 §5.1) of every
// accounting session every radius interim-interval, from the sessions
// sessions returns (Engine.AcctInterim), as tick fires (every second:
// the interval is checked at each). It waits for room in the queue
// rather than drop: no worker waits on it.
func (a *aaa) interim(sessions func() []engine.AcctRecord, tick <-chan time.Time) {
	var last time.Time
	for {
		select {
		case <-a.ctx.Done():
			return
		case now := <-tick:
			a.mu.Lock()
			every, on := a.cfg.InterimInterval, a.cfg.Accounting
			a.mu.Unlock()
			if !on || every <= 0 {
				last = time.Time{}
				continue
			}
			if last.IsZero() {
				last = now
				continue
			}
			if now.Sub(last) < every {
				continue
			}
			last = now
			for _, r := range sessions() {
				select {
				case a.acct <- a.record(r):
				case <-a.ctx.Done():
					return
				}
			}
		}
	}
}

// accounting sends the queued records, one at a time, in order.
func (a *aaa) accounting() {
	for {
		select {
		case <-a.ctx.Done():
			return
		case rec := <-a.acct:
			if err := a.client.Account(a.ctx, rec); err != nil {
				a.log.Warn("radius: accounting record not delivered", "status", rec.Status, "user", rec.UserName,
					"session", rec.SessionID, "err", err)
			}
		}
	}
}
